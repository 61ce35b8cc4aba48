"""What a kept JSON value may hold: the rule shared by the converter, the merge rules and the fold.

deltafold keeps values it does not model verbatim, exactly as ``json.loads``
reads them (integers of any size, NaN and the infinities included; ``_jsontext``
writes them back). Nesting must stay under orjson's 254 levels: ``bounded`` cuts
anything deeper than :data:`MAX_DEPTH` (the completion around a value adds fewer
than 10). A typed integer field holds what orjson reads (:data:`INT_MIN` to
:data:`INT_END`); a larger value stays verbatim in ``extra``. Objects merge key by
key only down to :data:`MERGE_DEPTH` levels, so no merge recurses without bound either.

A leaf module: it imports nothing from deltafold, so every layer may use it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["INT_END", "INT_MIN", "MAX_DEPTH", "MERGE_DEPTH", "TOO_DEEP", "bounded", "kind_of"]

INT_MIN = -(2**63)
INT_END = 2**64
"""A typed integer field holds ``INT_MIN <= i < INT_END``, what orjson reads and writes."""
MERGE_DEPTH = 32
"""How many levels of objects merge key by key; below that the later value wins."""
MAX_DEPTH = 200
"""Levels of nesting a kept value may have; the completion around it adds fewer than 10."""
TOO_DEEP = "[deltafold: nested deeper than 200 levels]"
"""What stands in for the part of a value nested deeper than :data:`MAX_DEPTH`."""


def kind_of(value: Any) -> str:
    """The JSON-ish name of a value's type for messages (``null`` for None)."""
    return "null" if value is None else type(value).__name__


def bounded(value: Any) -> Any:
    """``value`` itself when nested at most MAX_DEPTH levels, else a copy cut there.

    One walk over the containers; a copy is made only for a value that needs it.
    """
    value_kind = value.__class__
    if value_kind is not dict and value_kind is not list:
        return value
    stack = [(value, 1)]
    pop = stack.pop
    push = stack.append
    while stack:
        item, depth = pop()
        for inner in item.values() if item.__class__ is dict else item:
            inner_kind = inner.__class__
            if inner_kind is dict or inner_kind is list:
                if depth >= MAX_DEPTH:
                    return _cut(value, MAX_DEPTH)
                push((inner, depth + 1))
    return value


def _cut(value: Any, room: int) -> Any:
    value_kind = value.__class__
    if value_kind is dict:
        if not room:
            return TOO_DEEP
        return {key: _cut(item, room - 1) for key, item in value.items()}
    if value_kind is list:
        if not room:
            return TOO_DEEP
        return [_cut(item, room - 1) for item in value]
    return value
