"""Counts in words: ``1 chunk``, ``2 chunks``, ``0 chunks``, the one rule for every message.

Error messages, the CLI's summary lines and ``Timing.summary()`` all count
things; they go through :func:`plural` so none of them says "1 streams".
"""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``count`` and ``noun``, with an ``s`` unless ``count`` is 1 (``1 file``, ``3 files``);
    ``nouns`` for an irregular plural (``plural(2, "retry", "retries")``)."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"
