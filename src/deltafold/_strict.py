"""The strict converter for users' classes: each JSON value becomes the declared type, or an error.

cattrs' own converter is lenient: ``str(5)``, ``int(True)``, an enum or a
``Literal`` matched by ``==`` (so ``true`` is ``1`` and ``1.0`` is ``1``),
any iterable for a list, a list for a class. ``parse_arguments``,
``parse_content`` and ``partial_view`` check what a model wrote, so this
converter reads JSON by one table (docs/structured.md, "The strictness
rules"): a JSON string is a ``str``, an integer an ``int``, an enum member or
a literal is matched by its value and that value's JSON type, a union takes
the first of its types that accepts the value, an array is a list, tuple or
set, an object is a class, ``TypedDict`` or ``dict``. A type that JSON does
not have (``datetime``, ``Decimal``, ``UUID``, ``Path``, ``bytes``) needs the
caller's ``converter=``, and the error says how to give one.

The scalar hooks are exact: cattrs dispatches a subclass of ``int`` or
``str`` (an ``IntEnum``, a ``StrEnum``, ``class Mode(str, Enum)``) to the
hook of its base first, so those hooks send any other class on to its own.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import pathlib
import types
import typing
from collections import abc, deque
from collections.abc import Callable
from typing import Any, Literal, NoReturn, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import (
    is_any_set,
    is_mapping,
    is_namedtuple,
    is_sequence,
    list_structure_factory,
    mapping_structure_factory,
)
from cattrs.errors import BaseValidationError, IterableValidationError, IterableValidationNote

__all__ = ["NeedsConverter", "WrongValue", "needs_converter_in", "typed_converter"]

Hook = Callable[[Any, Any], Any]

_JSON_KIND = {
    str: "string", bool: "boolean", int: "number", float: "number",
    dict: "object", list: "array", type(None): "null",
}  # fmt: skip
_SHOWN_CHARS = 40
"""How much of a refused value an error quotes."""


class WrongValue(TypeError):
    """A JSON value that the declared type does not take; its text is the whole path message."""


class NeedsConverter(TypeError):
    """A declared type that JSON has no value for; the caller must give a ``converter=``."""


def _kind(value: Any) -> str:
    return _JSON_KIND.get(type(value), "value")


def _shown(value: Any) -> str:
    """A refused value as the model wrote it: the JSON text of a scalar, the kind of a container."""
    if type(value) is dict or type(value) is list:
        return f"a JSON {_kind(value)}"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def _wrong(value: Any, expected: str) -> NoReturn:
    raise WrongValue(f"expected {expected}, got a JSON {_kind(value)}")


# --- scalars ------------------------------------------------------------------------------


def _strict_str(value: Any, cl: Any) -> Any:
    if cl is str:
        if value.__class__ is str:
            return value
        _wrong(value, "str")
    return _subclass_hook(cl)(value, cl)


def _strict_int(value: Any, cl: Any) -> Any:
    if cl is int:
        if value.__class__ is int:
            return value
        if value.__class__ is float and value.is_integer():
            return int(value)
        _wrong(value, "int")
    return _subclass_hook(cl)(value, cl)


def _strict_float(value: Any, cl: Any) -> Any:
    if cl is float:
        if value.__class__ is float:
            return value
        if value.__class__ is int:
            try:
                return float(value)
            except OverflowError:
                raise WrongValue("expected float, got a number out of its range") from None
        _wrong(value, "float")
    return _subclass_hook(cl)(value, cl)


def _strict_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return bool(value)
    _wrong(value, "bool")


def _strict_none(value: Any, _: Any) -> None:
    if value is not None:
        _wrong(value, "null")


_BASES: dict[type, Hook] = {str: _strict_str, int: _strict_int, float: _strict_float}


@functools.lru_cache(maxsize=512)
def _subclass_hook(cl: Any) -> Hook:
    """The hook of a strict subclass of ``str``, ``int`` or ``float``: an enum, or the base's rule
    then the class called with the base value."""
    if isinstance(cl, type) and issubclass(cl, enum.Enum):
        return enum_hook(cl)
    base = next(base for base in cl.__mro__ if base in _BASES)
    base_hook = _BASES[base]
    return lambda value, _: cl(base_hook(value, base))


# --- enums and literals: matched by value and by the value's JSON type ---------------------


def _key(value: Any) -> tuple[type, Any] | None:
    """The table key of an allowed value: its JSON type and itself; None for a value JSON
    cannot write."""
    for kind in (bool, int, float, str):  # bool before int: True is an int too
        if isinstance(value, kind):
            return (kind, kind(value))
    return (type(None), None) if value is None else None


_MISSING: Any = object()


def _values_hook(pairs: list[tuple[Any, Any]], owner: str) -> Hook:
    """The hook of the JSON values an enum or a ``Literal`` allows, each with what it gives.

    A value of the allowed value's own JSON type only: ``1`` takes the JSON
    integer ``1``, not ``true`` nor ``1.0``; ``1.5`` (a float) takes any
    number equal to it; ``True`` takes ``true`` only.
    """
    table: dict[tuple[type, Any], Any] = {}
    shown = []
    for allowed, result in pairs:
        key = _key(allowed)
        if key is not None and key not in table:
            table[key] = result
            shown.append(json.dumps(key[1], ensure_ascii=False))
    suffix = f" ({owner})" if owner else ""
    if not shown:
        expected = f"a value of {owner}, which has none JSON can write"
    elif len(shown) == 1:
        expected = f"{shown[0]}{suffix}"
    else:
        expected = f"one of {', '.join(shown)}{suffix}"

    def structure_value(value: Any, _: Any) -> Any:
        try:
            got = table.get((value.__class__, value), _MISSING)
            if got is _MISSING and value.__class__ is int:  # an integer for a float value
                got = table.get((float, value), _MISSING)
        except TypeError:  # an object or an array: unhashable, and never allowed
            got = _MISSING
        if got is _MISSING:
            raise WrongValue(f"expected {expected}, got {_shown(value)}")
        return got

    return structure_value


def _flag_hook(tp: type[enum.Flag]) -> Hook:
    """A ``Flag`` / ``IntFlag`` is a JSON integer made only of its members' bits (0 is none)."""
    members = list(tp.__members__.values())
    mask = 0
    for member in members:
        mask |= member.value
    bits = ", ".join(f"{member.value} ({member.name})" for member in members)

    def structure_flag(value: Any, _: Any) -> Any:
        if value.__class__ is int and value >= 0 and not value & ~mask:
            return tp(value)
        raise WrongValue(
            f"expected a JSON integer made of the bits of {tp.__name__}: {bits}; "
            f"got {_shown(value)}"
        )

    return structure_flag


@functools.lru_cache(maxsize=512)
def enum_hook(tp: type[enum.Enum]) -> Hook:
    """The hook of an enum of any base: its members by value; a Flag by its bits."""
    if issubclass(tp, enum.Flag):
        return _flag_hook(tp)
    return _values_hook([(member.value, member) for member in tp], tp.__name__)


def _literal_hook(tp: Any) -> Hook:
    args = get_args(tp)
    return _values_hook([(a.value if isinstance(a, enum.Enum) else a, a) for a in args], "")


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _is_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


# --- unions ------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and not get_args(tp):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def _is_union(tp: Any) -> bool:
    """A union of two or more types besides None (cattrs' own hook serves ``X | None``)."""
    if get_origin(tp) is not Union and not isinstance(tp, types.UnionType):
        return False
    return len([arg for arg in get_args(tp) if arg is not type(None)]) > 1


def _keys_used(tp: Any, value: dict[str, Any]) -> int:
    """How many keys of a JSON object a class reads (a mapping reads them all)."""
    origin = get_origin(tp) or tp
    if _is_class_with_fields(tp):
        fields = attrs.fields(origin) if attrs.has(origin) else dataclasses.fields(origin)
        return sum(1 for field in fields if field.name in value)
    if typing.is_typeddict(origin):
        return sum(1 for key in typing.get_type_hints(origin) if key in value)
    return len(value)


def _union_hook(tp: Any, converter: cattrs.BaseConverter) -> Hook:
    """The first member that accepts the value, in the order written; a JSON integer goes to
    ``int`` and a JSON float to ``float`` first when the union has them, and of the members
    that accept a JSON object, the one that reads most of its keys. When every member
    refuses, the error of the one member that took the value's shape keeps its inner paths."""
    args = get_args(tp)
    nullable = type(None) in args
    members = [(arg, converter.get_structure_hook(arg)) for arg in args if arg is not type(None)]
    exact = {arg: hook for arg, hook in members if arg is int or arg is float}
    name = " | ".join(_type_name(arg) for arg in args)

    def structure_union(value: Any, _: Any) -> Any:
        if value is None and nullable:
            return None
        hook = exact.get(value.__class__)
        if hook is not None:
            return hook(value, value.__class__)
        inner: list[Exception] = []
        best: tuple[int, Any] | None = None
        for arg, hook in members:
            try:
                got = hook(value, arg)
            except NeedsConverter:
                raise
            except WrongValue:
                continue
            except (BaseValidationError, ValueError, TypeError, KeyError) as exc:
                inner.append(exc)
                continue
            if value.__class__ is not dict:
                return got
            used = _keys_used(arg, value)
            if best is None or used > best[0]:
                best = (used, got)
        if best is not None:
            return best[1]
        if len(inner) == 1:
            raise inner[0]
        raise WrongValue(f"expected {name}, got {_shown(value)}")

    return structure_union


# --- containers: an object is a dict, an array is a list -----------------------------------


def _object_guard(inner: Hook) -> Hook:
    def structure_object(value: Any, cl: Any) -> Any:
        if value.__class__ is not dict:
            _wrong(value, "a JSON object")
        return inner(value, cl)

    return structure_object


def _is_class_with_fields(tp: Any) -> bool:
    origin = get_origin(tp) or tp
    return isinstance(origin, type) and (attrs.has(origin) or dataclasses.is_dataclass(origin))


def _is_object_class(tp: Any) -> bool:
    return _is_class_with_fields(tp) or typing.is_typeddict(get_origin(tp) or tp)


def _class_hook(tp: Any, base: cattrs.BaseConverter) -> Hook:
    converter = typing.cast(cattrs.Converter, base)  # typed_converter builds a Converter
    if typing.is_typeddict(get_origin(tp) or tp):
        return _object_guard(converter.gen_structure_typeddict(tp))
    return _object_guard(converter.gen_structure_attrs_fromdict(tp))


def _mapping_hook(tp: Any, converter: cattrs.BaseConverter) -> Hook:
    """A ``dict`` is a JSON object, whose keys are strings: a key type JSON keys cannot be
    (``int``, ``float``, ``bool``) needs a converter, unless the object is empty."""
    origin = get_origin(tp) or tp
    structure_to = dict if origin in (typing.Mapping, typing.MutableMapping) else origin
    if isinstance(structure_to, type) and issubclass(structure_to, abc.Mapping) and (
        structure_to.__module__ == "collections.abc"
    ):
        structure_to = dict
    # (cattrs' gen_structure_mapping would also pin its hook over this one)
    inner = mapping_structure_factory(tp, converter, structure_to, detailed_validation=True)
    args = get_args(tp)
    if args and args[0] in (int, float, bool):
        key = args[0].__name__

        def refuse_keys(value: Any, cl: Any) -> Any:
            if value.__class__ is dict and value:
                raise NeedsConverter(
                    f"{_type_name(tp)}: JSON object keys are strings, not {key}; "
                    f"{_how_to(_type_name(tp), f'{{{key}(k): v for k, v in value.items()}}')}"
                )
            return inner(value, cl)

        return _object_guard(refuse_keys)
    return _object_guard(inner)


def _array_guard(inner: Hook, finish: Callable[[Any], Any] | None = None) -> Hook:
    def structure_array(value: Any, cl: Any) -> Any:
        if value.__class__ is not list:
            _wrong(value, "a JSON array")
        got = inner(value, cl)
        return got if finish is None else finish(got)

    return structure_array


def _is_fixed_tuple(tp: Any) -> bool:
    args = get_args(tp)
    return get_origin(tp) is tuple and (not args or args[-1] is not Ellipsis)


def _positional_hook(
    args: list[Any], least: int, converter: cattrs.BaseConverter, finish: Callable[..., Any]
) -> Hook:
    """A JSON array of ``least`` to ``len(args)`` items, each of its own type."""
    hooks = [(arg, converter.get_structure_hook(arg)) for arg in args]
    count = f"{len(hooks)}" if least == len(hooks) else f"{least} to {len(hooks)}"

    def structure_items(value: Any, cl: Any) -> Any:
        if not least <= len(value) <= len(hooks):
            raise WrongValue(f"expected a JSON array of {count} items, got {len(value)}")
        items, errors = [], []
        for i, ((arg, hook), item) in enumerate(zip(hooks, value, strict=True)):
            try:
                items.append(hook(item, arg))
            except Exception as exc:  # collected with its index, as cattrs does
                note = IterableValidationNote(f"Structuring {cl!r} @ index {i}", i, arg)
                exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {cl!r}", errors, cl)
        return finish(*items)

    return _array_guard(structure_items)


def _fixed_tuple_hook(tp: Any, converter: cattrs.BaseConverter) -> Hook:
    """``tuple[int, str]``: a JSON array of exactly that many items, each of its own type."""
    args = [arg for arg in get_args(tp) if arg != ()]  # tuple[()] as Python 3.10 spells it
    return _positional_hook(args, len(args), converter, lambda *items: items)


def _namedtuple_hook(tp: Any, converter: cattrs.BaseConverter) -> Hook:
    """A ``NamedTuple``: a JSON array of its fields in order (those with defaults may be left
    out at the end)."""
    hints = typing.get_type_hints(tp)
    args = [hints.get(name, Any) for name in tp._fields]
    least = len(tp._fields) - len(tp._field_defaults)
    return _positional_hook(args, least, converter, tp)


def _sequence_hook(tp: Any, converter: cattrs.BaseConverter) -> Hook:
    """A list, a homogeneous tuple, a deque, a set or a frozenset: a JSON array, item by item."""
    origin = get_origin(tp) or tp
    args = get_args(tp)
    if is_any_set(tp):
        finish: Callable[[Any], Any] = frozenset if origin is frozenset else set
    elif origin is deque:
        finish = deque
    elif origin is tuple:
        finish = tuple
    else:
        return _array_guard(list_structure_factory(tp, converter))
    whole: Any = types.GenericAlias(list, args[:1]) if args else list
    items = list_structure_factory(whole, converter)
    return _array_guard(items, finish)


def _is_array(tp: Any) -> bool:
    origin = get_origin(tp) or tp
    return is_sequence(tp) or is_any_set(tp) or origin is deque


# --- types JSON does not have ---------------------------------------------------------------


def _how_to(name: str, build: str) -> str:
    return (
        "pass a converter= that reads it: converter = deltafold.typed_converter(); "
        f"converter.register_structure_hook({name}, lambda value, _: {build})"
    )


def _example(tp: Any) -> str:
    name = _type_name(tp)
    if hasattr(tp, "fromisoformat"):
        return f"{name}.fromisoformat(value)"
    if isinstance(tp, type) and issubclass(tp, (bytes, bytearray)):
        return "base64.b64decode(value)"
    return f"{name}(value)"


def needs_converter_factory(tp: Any) -> Hook:
    """The hook for a type deltafold's converter does not read: it says what to pass."""
    message = (
        f"{_type_name(tp)} is not a JSON type; {_how_to(_type_name(tp), _example(tp))}"
    )

    def refuse(value: Any, _: Any) -> NoReturn:
        raise NeedsConverter(message)

    return refuse


def needs_converter_in(exc: BaseException) -> NeedsConverter | None:
    """The NeedsConverter inside a (grouped) structuring error, if there is one."""
    if isinstance(exc, NeedsConverter):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = needs_converter_in(inner)
        if found is not None:
            return found
    return None


# --- the converter ---------------------------------------------------------------------------


def typed_converter() -> cattrs.Converter:
    """A new cattrs converter with deltafold's strict JSON rules, to add your own hooks to.

    ``parse_arguments``, ``parse_content`` and ``partial_view`` use one of
    these unless given ``converter=``. Build your own from it when your class
    holds a type JSON does not have (``datetime``, ``Decimal``, ``UUID``):
    ``converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))``.
    """
    converter = cattrs.Converter(
        detailed_validation=True, structure_fallback_factory=needs_converter_factory
    )
    # cattrs tries these by class (a subclass too) before any predicate below.
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook(bool, _strict_bool)
    refuse = needs_converter_factory
    for tp in (bytes, bytearray, pathlib.PurePath, pathlib.Path):
        converter.register_structure_hook(tp, refuse(tp))
    # Predicates: the one registered last is tried first.
    converter.register_structure_hook_func(lambda tp: tp is type(None), _strict_none)
    converter.register_structure_hook_factory(_is_enum, enum_hook)
    converter.register_structure_hook_factory(_is_literal, _literal_hook)
    converter.register_structure_hook_factory(_is_array, _sequence_hook)
    converter.register_structure_hook_factory(_is_fixed_tuple, _fixed_tuple_hook)
    converter.register_structure_hook_factory(is_namedtuple, _namedtuple_hook)
    converter.register_structure_hook_factory(is_mapping, _mapping_hook)
    converter.register_structure_hook_factory(_is_object_class, _class_hook)
    converter.register_structure_hook_factory(_is_union, _union_hook)
    return converter
