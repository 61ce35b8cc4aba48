"""How the Responses models meet the one converter: items by type, fields kept exactly.

The hooks are registered on deltafold's converter (``deltafold.to_dict`` and
``from_dict`` serve every format), for the Responses classes only. Three rules
differ from the chat models', each for a reason of this wire format:

- an output item or content part is built as the class its ``type`` names
  (``ITEM_TYPES``, ``PART_TYPES``); an unknown type is the base class, holding its
  fields in ``extra``, so a new item type folds and round-trips unchanged;
- every class is lenient: a known field of the wrong type is kept verbatim in
  ``extra`` under its own name (``to_dict`` writes it back there), so a response
  the fold built from any stream can always be typed;
- the known fields that arrived empty or null are remembered (``wire_empty``) and
  written back, so ``to_dict(from_dict(r)) == r`` for a response as the API sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .._convert import clash_key, converter, wire_names
from .._models import NOT_WIRE
from ._items import ITEM_TYPES, Item
from ._parts import PART_TYPES, Part, ResponsesModel

__all__ = ["install"]

_OMIT = override(omit=True)
_Hook = Callable[[Any, Any], Any]


def _defaults(cls: type[Any]) -> dict[str, Any]:
    out = {}
    for a in attrs.fields(cls):
        if a.name in wire_names(cls):
            factory = getattr(a.default, "factory", None)
            out[a.name] = factory() if callable(factory) else a.default
    return out


def _off_wire(cls: type[Any]) -> dict[str, Any]:
    names = {a.name for a in attrs.fields(cls) if a.metadata.get(NOT_WIRE)}
    return {name: _OMIT for name in names | {"extra"}}


def _copy_empty(value: Any) -> Any:
    """An empty value to remember: a fresh one for a list or dict (never the caller's)."""
    return value.__class__() if value.__class__ in (list, dict) else value


def _structure_fn(cls: type[Any]) -> _Hook:
    """The hook building ``cls`` itself (not dispatching on ``type``)."""
    known = wire_names(cls)
    defaults = _defaults(cls)
    base = make_dict_structure_fn(cls, converter, **_off_wire(cls))

    def build(data: dict[str, Any]) -> Any:
        present = {k: v for k, v in data.items() if k in known}
        obj = base({k: v for k, v in present.items() if v is not None}, cls)
        unknown = {k: v for k, v in data.items() if k not in known}
        if unknown:
            obj.extra = unknown
        empty = {k: _copy_empty(v) for k, v in present.items() if getattr(obj, k) == defaults[k]}
        if empty:
            obj.wire_empty = empty
        return obj

    def structure(data: Any, _: Any) -> Any:
        if data.__class__ is not dict:
            if isinstance(data, list) and not data:
                data = {}
            elif not isinstance(data, dict):
                raise TypeError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
        try:
            return build(data)
        except Exception:
            pass
        # Odd input only: every field that fits, the others verbatim in extra.
        good: dict[str, Any] = {}
        bad: dict[str, Any] = {}
        for key, value in data.items():
            if key in known and value is not None:
                try:
                    build({key: value})
                except Exception:
                    bad[key] = value
                    continue
            good[key] = value
        obj = build(good)
        obj.extra = {**obj.extra, **bad}
        return obj

    return structure


def _dispatch(base: type[Any], table: dict[str, type[Any]]) -> _Hook:
    """The hook for ``Item`` or ``Part``: the class the ``type`` names, else the base."""
    hooks: dict[type[Any], _Hook] = {}

    def structure(data: Any, _: Any) -> Any:
        kind = data.get("type") if data.__class__ is dict else None
        cls = table.get(kind, base) if kind.__class__ is str else base
        hook = hooks.get(cls)
        if hook is None:
            hook = hooks[cls] = _structure_fn(cls)
        return hook(data, cls)

    return structure


def _unstructure_fn(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """The hook writing ``cls`` itself: empty fields as they arrived, ``extra`` put back."""
    fields = wire_names(cls)
    defaults = _defaults(cls)
    overrides: dict[str, Any] = {name: override(omit_if_default=False) for name in cls.ALWAYS}
    overrides.update(_off_wire(cls))
    base = make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True, **overrides)

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = base(obj)
        for key, value in obj.wire_empty.items():
            if getattr(obj, key) == defaults[key]:
                out[key] = _copy_empty(value)
        extra = obj.extra
        if extra:
            for key, value in extra.items():
                if key not in fields or (key not in out and getattr(obj, key) == defaults[key]):
                    out[key] = value
                else:
                    out[clash_key(key, out, extra)] = value
        return out

    return unstructure


def _runtime_class(hooks: dict[type[Any], Callable[[Any], dict[str, Any]]]) -> Callable[[Any], Any]:
    """An ``Item``/``Part`` field's hook: written as the class the object really is."""

    def unstructure(obj: Any) -> Any:
        cls = obj.__class__
        hook = hooks.get(cls)
        if hook is None:
            hook = hooks[cls] = _unstructure_fn(cls)
        return hook(obj)

    return unstructure


def _is_responses_model(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and issubclass(cls, ResponsesModel)


def _structure_factory(cls: type[Any]) -> _Hook:
    if cls is Item:
        return _dispatch(Item, ITEM_TYPES)
    if cls is Part:
        return _dispatch(Part, PART_TYPES)
    return _structure_fn(cls)


_UNSTRUCTURE: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}


def _unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
    if cls is Item or cls is Part:
        return _runtime_class(_UNSTRUCTURE)
    return _unstructure_fn(cls)


def install() -> None:
    """Register the hooks (once, when ``deltafold.responses`` is imported); later wins in cattrs."""
    converter.register_structure_hook_factory(_is_responses_model, _structure_factory)
    converter.register_unstructure_hook_factory(_is_responses_model, _unstructure_factory)


install()
