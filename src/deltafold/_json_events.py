"""What :class:`PartialJSON` reports: the paths into a value and the four events.

Kept apart from the parser so the fold's events (``JSONDelta``) can name these
types without importing the state machine.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, TypeAlias

__all__ = [
    "JSONEvent",
    "JSONPath",
    "ScalarSet",
    "StringAppended",
    "ValueClosed",
    "ValueKind",
    "ValueStarted",
    "path_text",
]

JSONPath: TypeAlias = tuple[str | int, ...]
"""Where a value sits: object keys and array indexes from the top; ``()`` is the top."""

ValueKind: TypeAlias = Literal["object", "array", "string", "number", "literal"]
"""What a value is, known from its first character (``NaN``, ``Infinity`` and
``-Infinity``, which ``json.loads`` reads as floats, are numbers)."""


# Events are NamedTuples: creating one costs half of an attrs frozen slots class,
# and a fragment makes one to three of them. Equality also checks the class
# (see _same_event) so that two kinds of event with equal fields are not equal.


class ValueStarted(NamedTuple):
    """A value began at ``path``; ``kind`` says what it is.

    Containers appear in ``value`` from here on (empty); a string appears
    (empty) too; a number or literal only once it is one.
    """

    path: JSONPath
    kind: ValueKind


class StringAppended(NamedTuple):
    """Decoded text was added to the string at ``path`` (escapes already resolved)."""

    path: JSONPath
    text: str


class ScalarSet(NamedTuple):
    """The number or literal at ``path`` is complete; this ends it (no ``ValueClosed``)."""

    path: JSONPath
    value: Any


class ValueClosed(NamedTuple):
    """The string, object or array at ``path`` is complete; ``value`` is the whole of it.

    For a container this is the live container itself, now final.
    """

    path: JSONPath
    value: Any


JSONEvent: TypeAlias = ValueStarted | StringAppended | ScalarSet | ValueClosed
"""One thing that happened in a fragment. Each value gets one ``ValueStarted``
and one end: ``ScalarSet`` (numbers, literals) or ``ValueClosed`` (strings,
objects, arrays); a string gets ``StringAppended`` in between, at most one per
``feed``."""


def _same_event(self: tuple[Any, ...], other: object) -> bool:
    return type(self) is type(other) and tuple.__eq__(self, other)


def _other_event(self: tuple[Any, ...], other: object) -> bool:
    return not _same_event(self, other)


def _event_hash(self: tuple[Any, ...]) -> int:
    return hash((type(self).__name__, tuple.__hash__(self)))


for _cls in (ValueStarted, StringAppended, ScalarSet, ValueClosed):
    _cls.__eq__ = _same_event  # type: ignore[method-assign]
    _cls.__ne__ = _other_event  # type: ignore[assignment,method-assign]
    _cls.__hash__ = _event_hash  # type: ignore[method-assign]


def path_text(path: JSONPath) -> str:
    """``$``, ``$.a[0].b``: the path in an error message."""
    out = ["$"]
    for part in path:
        out.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(out)
