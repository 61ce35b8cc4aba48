"""How the models of a lossless wire format meet the one converter: by type, kept exactly.

The Responses and Messages models register here (``deltafold.to_dict`` and
``from_dict`` serve every format). Three rules differ from the chat models', each
for a reason of those wire formats:

- a field typed as a base class (an output item, a content part, a content block)
  is built as the class its ``type`` names; an unknown type is the base class,
  holding its fields in ``extra``, so a new type folds and round-trips unchanged;
- every class is lenient: a known field of the wrong type is kept verbatim in
  ``extra`` under its own name (``to_dict`` writes it back there), so a result the
  fold built from any stream can always be typed;
- the known fields that arrived empty or null are remembered (``wire_empty``) and
  written back, so ``to_dict(from_dict(x)) == x`` for an object as the API sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._convert import clash_key, converter, wire_names
from ._models import NOT_WIRE

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
            elif isinstance(data, Mapping):
                data = dict(data)
            else:
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
    """The hook for a base class (an item, a part, a block): the class its ``type`` names,
    else the base itself."""
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
    """A base class field's hook: written as the class the object really is."""

    def unstructure(obj: Any) -> Any:
        cls = obj.__class__
        hook = hooks.get(cls)
        if hook is None:
            hook = hooks[cls] = _unstructure_fn(cls)
        return hook(obj)

    return unstructure


def install(model: type[Any], by_type: dict[type[Any], dict[str, type[Any]]]) -> None:
    """Register the hooks of every attrs subclass of ``model`` (once, on import).

    ``by_type`` maps each base class that is dispatched on ``type`` to its table of
    classes (``{Item: ITEM_TYPES, Part: PART_TYPES}``). Later registrations win in
    cattrs, and each format's predicate matches only its own classes.
    """
    written: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}

    def ours(cls: Any) -> bool:
        return isinstance(cls, type) and attrs.has(cls) and issubclass(cls, model)

    def structure_factory(cls: type[Any]) -> _Hook:
        table = by_type.get(cls)
        return _structure_fn(cls) if table is None else _dispatch(cls, table)

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
        return _runtime_class(written) if cls in by_type else _unstructure_fn(cls)

    converter.register_structure_hook_factory(ours, structure_factory)
    converter.register_unstructure_hook_factory(ours, unstructure_factory)
