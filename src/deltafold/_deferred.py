"""Models whose fields are built on first read: the leaf rule behind a folded ``Logprobs``.

A leaf module: it knows nothing of the models or the converter; the layer that
builds a deferred model hands it the function that builds the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from attrs import fields

__all__ = ["Deferred"]


class Deferred:
    """A model whose fields may be built on first read (a folded completion's ``Logprobs``).

    ``_later(build)`` makes one with every field unset: the first read of an unset field
    (the field itself, ``==``, ``repr``, ``to_dict``, pickling and copying all read them)
    calls ``build``, which returns the model built eagerly, and takes from it every field
    still unset (one the caller assigned first keeps its value). Afterwards the fields are
    plain slots again. Why: typing every token of a stream's logprobs costs more than the
    fold itself, and most callers never read them.
    """

    __slots__ = ("_build",)

    if TYPE_CHECKING:
        _build: Callable[[], Any] | None

    @classmethod
    def _later(cls, build: Callable[[], Self]) -> Self:
        obj = object.__new__(cls)
        obj._build = build
        return obj

    if not TYPE_CHECKING:  # type checkers keep the exact attributes of each model

        def __getattr__(self, name: str) -> Any:
            """Reached only for an unset slot: build the fields if they are still to come."""
            try:
                build = object.__getattribute__(self, "_build")
            except AttributeError:
                build = None
            names = () if build is None else [a.name for a in fields(self.__class__)]
            if name not in names:
                message = f"{self.__class__.__name__!r} object has no attribute {name!r}"
                raise AttributeError(message, name=name, obj=self)
            built = build()
            for each in names:
                try:
                    object.__getattribute__(self, each)
                except AttributeError:
                    object.__setattr__(self, each, object.__getattribute__(built, each))
            self._build = None
            return object.__getattribute__(self, name)
