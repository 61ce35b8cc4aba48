"""The rule for fields the model does not know, and for ``usage``.

Unknown fields are folded so that nothing is lost and nothing is doubled:
an equal repeat is kept once, strings concatenate, lists extend, objects
merge key by key under the same rule, and any other value is replaced by
the later one (a later null never erases). Accumulators stand in for the
growing values so the fold stays linear and never mutates the caller's chunks;
``materialize`` turns them back into plain JSON values.
"""

from __future__ import annotations

from typing import Any

__all__ = ["materialize", "merge_latest", "merge_unknown"]


class _Text:
    """A string being concatenated: fragments joined once, when read."""

    __slots__ = ("length", "parts")

    def __init__(self, first: str, second: str) -> None:
        self.parts = [first, second]
        self.length = len(first) + len(second)

    def value(self) -> str:
        if len(self.parts) > 1:
            self.parts = ["".join(self.parts)]
        return self.parts[0]

    def add(self, text: str) -> None:
        if len(text) == self.length and text == self.value():
            return
        self.parts.append(text)
        self.length += len(text)


class _List:
    """A list being extended; owned here, so the caller's list is never touched."""

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def add(self, more: list[Any]) -> None:
        if len(more) == len(self.items) and more == self.items:
            return
        self.items.extend(more)


class _Object:
    """An object whose keys merge one by one under the unknown-field rule."""

    __slots__ = ("fields",)

    def __init__(self, first: dict[str, Any]) -> None:
        self.fields: dict[str, Any] = dict(first)

    def add(self, more: dict[str, Any]) -> None:
        fields = self.fields
        for key, value in more.items():
            merge_unknown(fields, key, value)


def merge_unknown(target: dict[str, Any], key: str, value: Any) -> None:
    """Fold ``value`` into ``target[key]`` under the unknown-field rule."""
    current = target.get(key, _MISSING)
    if current is _MISSING:
        target[key] = value
        return
    if value is None:
        return
    kind = current.__class__
    if kind is _Text:
        if value.__class__ is str:
            current.add(value)
            return
    elif kind is _List:
        if value.__class__ is list:
            current.add(value)
            return
    elif kind is _Object:
        if value.__class__ is dict:
            current.add(value)
            return
    elif kind is str:
        if value.__class__ is str:
            if value != current:
                target[key] = _Text(current, value)
            return
    elif kind is list:
        if value.__class__ is list:
            if len(value) != len(current) or value != current:
                target[key] = _List(current + value)
            return
    elif kind is dict and value.__class__ is dict:
        if value != current:
            merged = _Object(current)
            merged.add(value)
            target[key] = merged
        return
    target[key] = value


def materialize(value: Any) -> Any:
    """A plain JSON value for an accumulated one (fresh containers, safe to keep)."""
    kind = value.__class__
    if kind is _Text:
        return value.value()
    if kind is _List:
        return list(value.items)
    if kind is _Object:
        return {key: materialize(item) for key, item in value.fields.items()}
    return value


def materialize_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``materialize`` applied to every value of an unknown-fields dict."""
    return {key: materialize(value) for key, value in fields.items()}


def merge_latest(target: dict[str, Any], update: dict[str, Any]) -> None:
    """Merge ``update`` into ``target``: later non-null values win, objects merge recursively.

    The rule for ``usage``: cumulative or partial reports both end at the
    latest known value of every field; nothing is summed, nothing erased.
    """
    for key, value in update.items():
        if value is None:
            continue
        if value.__class__ is dict:
            inner = target.get(key)
            if inner.__class__ is not dict:
                inner = {}
                target[key] = inner
            merge_latest(inner, value)
        else:
            target[key] = value


class _Missing:
    __slots__ = ()


_MISSING: Any = _Missing()
