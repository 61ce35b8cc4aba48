"""The one sentinel type: a named marker that is never a value the input could hold.

``NEED_INPUT``/``END`` (the stream core's pull protocol), ``DONE`` (``[DONE]``
decoded) and the merge rules' "no value yet" are all instances, so they share
one small class (slots, the repr is the name) instead of three look-alikes.
"""

from __future__ import annotations

__all__ = ["Sentinel"]


class Sentinel:
    """A unique marker compared with ``is``; its repr is its name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name
