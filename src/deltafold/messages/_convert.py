"""How the Messages models meet the one converter: blocks by type, fields kept exactly.

The hooks are registered on deltafold's converter (``deltafold.to_dict`` and
``from_dict`` serve every format), for the Messages classes only. Three rules
differ from the chat models', each for a reason of this wire format:

- a content block is built as the class its ``type`` names (``BLOCK_TYPES``); an
  unknown type is a plain ``Block`` holding its fields in ``extra``;
- every class is lenient: a known field of the wrong type is kept verbatim in
  ``extra`` under its own name (``to_dict`` writes it back there), so a message the
  fold built from any stream can always be typed;
- the known fields that arrived empty or null are remembered (``wire_empty``) and
  written back, so ``to_dict(from_dict(m)) == m`` for a message as the API sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .._convert import clash_key, converter, wire_names
from .._models import NOT_WIRE
from ._blocks import BLOCK_TYPES, Block, MessagesModel

__all__ = ["install"]

_OMIT = override(omit=True)
_Hook = Callable[[Any, Any], Any]


def _defaults(cls: type[Any]) -> dict[str, Any]:
    names = wire_names(cls)
    out = {}
    for a in attrs.fields(cls):
        if a.name in names:
            factory = getattr(a.default, "factory", None)
            out[a.name] = factory() if callable(factory) else a.default
    return out


def _off_wire(cls: type[Any]) -> dict[str, Any]:
    names = {a.name for a in attrs.fields(cls) if a.metadata.get(NOT_WIRE)}
    return {name: _OMIT for name in names | {"extra"}}


def _fresh(value: Any) -> Any:
    """An empty value to remember: a new list or dict, never the caller's."""
    return value.__class__() if value.__class__ in (list, dict) else value


def _structure_fn(cls: type[Any]) -> _Hook:
    """The hook building ``cls`` itself (no dispatch on ``type``)."""
    known = wire_names(cls)
    defaults = _defaults(cls)
    base = make_dict_structure_fn(cls, converter, **_off_wire(cls))

    def build(data: dict[str, Any]) -> Any:
        obj = base({k: v for k, v in data.items() if k in known and v is not None}, cls)
        unknown = {k: v for k, v in data.items() if k not in known}
        if unknown:
            obj.extra = unknown
        empty = {
            k: _fresh(v) for k, v in data.items() if k in known and getattr(obj, k) == defaults[k]
        }
        if empty:
            obj.wire_empty = empty
        return obj

    def structure(data: Any, _: Any) -> Any:
        if data.__class__ is not dict:
            if not isinstance(data, dict):
                raise TypeError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
            data = dict(data)
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


def _dispatch() -> _Hook:
    """The hook for ``Block``: the class the ``type`` names, else ``Block`` itself."""
    hooks: dict[type[Any], _Hook] = {}

    def structure(data: Any, _: Any) -> Any:
        kind = data.get("type") if data.__class__ is dict else None
        cls = BLOCK_TYPES.get(kind, Block) if kind.__class__ is str else Block
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
                out[key] = _fresh(value)
        extra = obj.extra
        if extra:
            for key, value in extra.items():
                if key not in fields or (key not in out and getattr(obj, key) == defaults[key]):
                    out[key] = value
                else:
                    out[clash_key(key, out, extra)] = value
        return out

    return unstructure


_UNSTRUCTURE: dict[type[Any], Callable[[Any], dict[str, Any]]] = {}


def _as_runtime_class(obj: Any) -> dict[str, Any]:
    """A ``Block`` field's hook: written as the class the object really is."""
    cls = obj.__class__
    hook = _UNSTRUCTURE.get(cls)
    if hook is None:
        hook = _UNSTRUCTURE[cls] = _unstructure_fn(cls)
    return hook(obj)


def _is_messages_model(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and issubclass(cls, MessagesModel)


def _structure_factory(cls: type[Any]) -> _Hook:
    return _dispatch() if cls is Block else _structure_fn(cls)


def _unstructure_factory(cls: type[Any]) -> Callable[[Any], Any]:
    return _as_runtime_class if cls is Block else _unstructure_fn(cls)


def install() -> None:
    """Register the hooks (once, when ``deltafold.messages`` is imported); later wins in cattrs."""
    converter.register_structure_hook_factory(_is_messages_model, _structure_factory)
    converter.register_unstructure_hook_factory(_is_messages_model, _unstructure_factory)


install()
