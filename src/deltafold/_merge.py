"""The rule for fields the model does not know, and for ``usage``.

Unknown fields are folded so that nothing is lost and nothing is doubled:
an equal repeat is kept once, strings concatenate, lists extend, objects
merge key by key under the same rule, and any other value is replaced by
the later one (a later null never erases). Accumulators stand in for the
growing values so the fold stays linear and never mutates the caller's chunks;
``materialize`` turns them back into plain JSON values.

Hardening: a concatenated string is bounded by ``max_field_chars`` (checked
before it grows, on the length it already keeps), and objects merge key by
key only down to :data:`MERGE_DEPTH` levels; deeper, the later value replaces
the earlier one, so neither merging nor ``materialize`` can recurse without
bound, whatever the input. ``bounded`` makes a value kept verbatim writable
as JSON: anything nested deeper than :data:`MAX_DEPTH` levels (orjson writes
at most 254) becomes :data:`TOO_DEEP`.

Text is joined here, so here a surrogate pair split between two fragments (a
UTF-16 gateway cutting an emoji's ``\\ud83d`` from its ``\\ude00``) becomes one
character again: each block is paired as it is joined, and so is the seam
between two blocks, so a join never scans the text already joined.
"""

from __future__ import annotations

import sys
from typing import Any

from ._jsontext import paired
from ._jsonvalue import MERGE_DEPTH, bounded
from ._limits import limit_error
from ._sentinel import Sentinel

__all__ = [
    "BLOCK_CHARS",
    "Rope",
    "compact",
    "materialize",
    "materialize_fields",
    "merge_latest",
    "merge_unknown",
]

BLOCK_CHARS = 4096
"""Fragments of a growing string are joined into a block about every this many characters.

A fragment costs ~57 bytes of object overhead besides its text, so a stream of
one-character tokens would hold 50x its text in fragments; blocks keep that
overhead under ~1% while copying each character only once more than a plain
join at the end would.
"""

_NO_LIMIT = sys.maxsize


def compact(parts: list[str], blocks: int) -> int:
    """Join the fragments after the first ``blocks`` items (blocks already) into one block.

    Returns the new number of blocks. ``blocks`` is only a hint: a stale one
    (after a read joined everything) costs a larger join, never data. The new
    block's split surrogate pairs are joined, and so is one split at its seam
    with the block before (only a non-ASCII block is looked at).
    """
    if blocks >= len(parts):
        blocks = len(parts) - 1 if parts else 0
    if len(parts) - blocks > 1:
        parts[blocks:] = ["".join(parts[blocks:])]
    block = parts[blocks] if parts else ""
    if not block.isascii():
        parts[blocks] = block = paired(block)
        if blocks and "\udc00" <= block[0] <= "\udfff":
            before = parts[blocks - 1]
            if before and "\ud800" <= before[-1] <= "\udbff":
                parts[blocks - 1] = before[:-1]
                parts[blocks] = paired(before[-1] + block[:1]) + block[1:]
    return len(parts)


class Rope:
    """A string growing by fragments, bounded by ``limit`` chars, joined when read.

    ``mark`` is the length at which the next check runs: the limit and the
    compaction into blocks share one integer compare per fragment.
    """

    __slots__ = ("blocks", "key", "length", "limit", "mark", "parts")

    def __init__(self, first: str, key: str, limit: int = _NO_LIMIT) -> None:
        if len(first) > limit:
            _too_long(key, len(first), limit)
        self.parts = [first]
        self.length = len(first)
        self.blocks = 0
        self.key = key
        self.limit = limit
        self.mark = min(BLOCK_CHARS, limit + 1)

    def value(self) -> str:
        parts = self.parts
        if len(parts) > 1 or not self.blocks:
            compact(parts, self.blocks)
            self.parts = parts = ["".join(parts)] if len(parts) > 1 else parts
            self.blocks = 1
            self.length = len(parts[0])  # a pair joined into one character counts once from now
        return parts[0]

    def add(self, text: str) -> None:
        length = self.length + len(text)
        if length >= self.mark:
            if length > self.limit:
                _too_long(self.key, length, self.limit)
            self.blocks = compact(self.parts, self.blocks)
            self.mark = min(length + BLOCK_CHARS, self.limit + 1)
        self.parts.append(text)
        self.length = length

    def replace(self, text: str) -> None:
        """Start over with ``text`` (a provider re-sent the whole value)."""
        if len(text) > self.limit:
            _too_long(self.key, len(text), self.limit)
        self.parts = [text]
        self.length = len(text)
        self.blocks = 0
        self.mark = min(len(text) + BLOCK_CHARS, self.limit + 1)


class _Text(Rope):
    """An unknown string being concatenated; an equal repeat is kept once."""

    __slots__ = ()

    def add(self, text: str) -> None:
        if len(text) == self.length and text == self.value():
            return
        Rope.add(self, text)


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

    def add(self, more: dict[str, Any], limit: int, depth: int) -> None:
        fields = self.fields
        for key, value in more.items():
            merge_unknown(fields, key, value, limit, depth)


def _too_long(key: str, length: int, limit: int) -> None:
    raise limit_error("max_field_chars", length, limit, repr(key))


def merge_unknown(
    target: dict[str, Any], key: str, value: Any, limit: int = _NO_LIMIT, depth: int = 0
) -> None:
    """Fold ``value`` into ``target[key]`` under the unknown-field rule.

    ``limit`` bounds the length of a concatenated string (max_field_chars);
    ``depth`` is how deep inside merged objects ``target`` is.
    """
    current = target.get(key, _MISSING)
    if current is _MISSING:
        if value.__class__ is str and len(value) > limit:
            _too_long(key, len(value), limit)
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
            current.add(value, limit, depth + 1)
            return
    elif kind is str:
        if value.__class__ is str:
            if value != current:
                text = _Text(current, key, limit)
                text.add(value)
                target[key] = text
            return
    elif kind is list:
        if value.__class__ is list:
            if len(value) != len(current) or value != current:
                target[key] = _List(current + value)
            return
    elif kind is dict and value.__class__ is dict and depth < MERGE_DEPTH:
        if value != current:
            merged = _Object(current)
            merged.add(value, limit, depth + 1)
            target[key] = merged
        return
    if value.__class__ is str and len(value) > limit:
        _too_long(key, len(value), limit)
    target[key] = value


def materialize(value: Any) -> Any:
    """A plain JSON value for an accumulated one (fresh containers, safe to keep)."""
    kind = value.__class__
    if kind is _Text:
        return value.value()
    if kind is _List:
        return bounded(list(value.items))
    if kind is _Object:
        return {key: materialize(item) for key, item in value.fields.items()}
    if kind is dict or kind is list:
        return bounded(value)
    return value


def materialize_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``materialize`` applied to every value of an unknown-fields dict."""
    if not fields:
        return {}
    return {key: materialize(value) for key, value in fields.items()}


def merge_latest(target: dict[str, Any], update: dict[str, Any], depth: int = 0) -> None:
    """Merge ``update`` into ``target``: later non-null values win, objects merge recursively.

    The rule for ``usage``: cumulative or partial reports both end at the
    latest known value of every field; nothing is summed, nothing erased (a null
    is kept only for a field not seen before).
    Below :data:`MERGE_DEPTH` levels an object simply replaces the earlier value.
    """
    for key, value in update.items():
        if value is None:
            # Kept only as a field the provider sent (a non-streaming body's nulls round-trip).
            if key not in target:
                target[key] = None
            continue
        if value.__class__ is dict and depth < MERGE_DEPTH:
            inner = target.get(key)
            if inner.__class__ is not dict:
                inner = {}
                target[key] = inner
            merge_latest(inner, value, depth + 1)
        else:
            target[key] = value


_MISSING: Any = Sentinel("MISSING")
