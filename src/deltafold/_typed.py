"""Typed results: tool arguments and structured output structured into the caller's classes.

``FunctionCall.parse_arguments`` and ``Message.parse_content`` decode the
finished text and structure it with cattrs, the library the wire models use,
but with a converter of its own: the wire converter is lenient about the
provider's envelope, while a user's schema must be checked. Scalars are strict
JSON (a string is not an int, ``"false"`` is not a bool; a number with no
fraction is an int), and detailed validation gives the JSON path of every
failure. ``partial_view`` builds a class from a value still being streamed.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any, Literal, NamedTuple, NoReturn, TypeVar, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.cols import homogenous_tuple_structure_factory, is_sequence, list_structure_factory
from cattrs.errors import BaseValidationError, CattrsError, StructureHandlerNotFoundError
from cattrs.v import format_exception

from . import _models as m
from ._exceptions import JSONParseError, StructuredOutputError
from ._jsontext import rounds_ints
from ._limits import Limits
from ._partial_json import PartialJSON

__all__ = ["decode", "default_converter", "partial_view", "structure"]

T = TypeVar("T")

_MAX_DEPTH = Limits().max_json_depth
"""The nesting PartialJSON allows by default; parsed text is held to the same."""

_JSON_KIND = {
    str: "string", bool: "boolean", int: "number", float: "number",
    dict: "object", list: "array", type(None): "null",
}  # fmt: skip
_SHOWN_ERRORS = 5
"""How many path messages the error's text shows (``.errors`` keeps them all)."""
_STRUCTURE_ERRORS = (BaseValidationError, CattrsError, ValueError, TypeError, KeyError)
"""What a converter raises for a value that does not fit (a user's hooks included)."""


class _WrongType(TypeError):
    """A JSON scalar of the wrong kind; its text is the whole path message."""


def _wrong(value: Any, expected: str) -> NoReturn:
    raise _WrongType(f"expected {expected}, got a JSON {_JSON_KIND.get(type(value), 'value')}")


def _strict_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    _wrong(value, "str")


def _strict_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return bool(value)
    _wrong(value, "bool")


def _strict_int(value: Any, _: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    _wrong(value, "int")


def _strict_float(value: Any, _: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            raise _WrongType("expected float, got a number out of its range") from None
    _wrong(value, "float")


def _strict_array(tp: Any, converter: cattrs.BaseConverter) -> Any:
    """A list or homogeneous tuple accepts only a JSON array (cattrs alone takes any iterable,
    so a string would become a list of its characters)."""
    tuple_like = tp is tuple or get_origin(tp) is tuple
    make = homogenous_tuple_structure_factory if tuple_like else list_structure_factory
    inner = make(tp, converter)

    def structure_array(value: Any, cl: Any) -> Any:
        if type(value) is not list:
            _wrong(value, "a JSON array")
        return inner(value, cl)

    return structure_array


@functools.cache
def default_converter() -> cattrs.Converter:
    """The converter for users' classes, built once: strict JSON scalars, detailed validation."""
    converter = cattrs.Converter(detailed_validation=True)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook_factory(is_sequence, _strict_array)
    return converter


def _describe(exc: BaseException, tp: Any) -> str:
    """One failure in words, for ``cattrs.transform_error`` (which adds `` @ $.path``)."""
    if isinstance(exc, _WrongType):
        return str(exc)
    if get_origin(tp) is Literal:
        return f"expected one of {', '.join(map(repr, get_args(tp)))}"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return f"expected one of {', '.join(repr(member.value) for member in tp)} ({tp.__name__})"
    return format_exception(exc, tp)


def _deeper_than(value: Any, depth: int) -> bool:
    """Whether ``value`` nests more than ``depth`` objects and arrays; one walk over containers."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if type(item) is dict or type(item) is list:
            if level > depth:
                return True
            stack.extend(
                (inner, level + 1) for inner in (item.values() if type(item) is dict else item)
            )
    return False


def decode(text: str) -> Any:
    """``json.loads(text)`` under PartialJSON's rules, at orjson's speed when it can.

    orjson (C) reads the common case. NaN, Infinity, ints past 64 bits (orjson reads
    them as floats: ``rounds_ints``), lone surrogates and invalid text go to
    PartialJSON, which reads them as
    ``json.loads`` does or gives the error its position; so does a value
    nested deeper than ``Limits.max_json_depth`` (orjson allows more), which
    PartialJSON refuses with the usual LimitExceededError.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        brackets = text.count("[") + text.count("{")
        if (
            _MAX_DEPTH is None or brackets <= _MAX_DEPTH or not _deeper_than(value, _MAX_DEPTH)
        ) and not rounds_ints(text):
            return value
    parser = PartialJSON()
    parser.feed(text)
    return parser.close()


def _name(cls: Any) -> str:
    return getattr(cls, "__name__", None) or repr(cls)


def structure(model: m.FunctionCall | m.Message, cls: Any, converter: Any) -> Any:
    """A function call's arguments or a message's content, decoded and structured into ``cls``."""
    if converter is not None and not isinstance(converter, cattrs.BaseConverter):
        raise TypeError(f"converter must be a cattrs Converter, not {type(converter).__name__}")
    if isinstance(model, m.FunctionCall):
        text: str | None = model.arguments
        what = f"the arguments of {model.name or 'the function call'}"
    else:
        text, what = model.content, "the message content"
    if text is None:
        raise JSONParseError(
            f"{what} is None: there is no JSON text to parse at position 0",
            position=0,
            expected="a JSON value",
        )
    try:
        value = decode(text)
    except JSONParseError as exc:
        raise JSONParseError(
            f"{what}: {exc.message}", position=exc.position, path=exc.path, expected=exc.expected
        ) from exc
    try:
        return (converter or default_converter()).structure(value, cls)
    except StructureHandlerNotFoundError as exc:
        raise TypeError(f"cannot structure into {_name(cls)}: {exc}") from exc
    except _STRUCTURE_ERRORS as exc:
        errors = cattrs.transform_error(exc, format_exception=_describe)
        shown = "; ".join(errors[:_SHOWN_ERRORS])
        more = len(errors) - _SHOWN_ERRORS
        message = f"{_name(cls)} does not accept {what}: {shown}" + (
            f" (and {more} more)" if more > 0 else ""
        )
        raise StructuredOutputError(message, errors=errors, raw=text) from exc


m.WIRE.structure = structure  # the models' parse_arguments / parse_content call it


# --- the typed partial view ---------------------------------------------------------


class _Field(NamedTuple):
    key: str  # the key in the JSON object (cattrs' default: the attribute's name)
    init: str  # the __init__ argument
    tp: Any
    has_default: bool


_FAIL: Any = object()


@functools.lru_cache(maxsize=512)
def _plan(cls: Any) -> tuple[_Field, ...] | None:
    """The fields of an attrs class or dataclass (types resolved), or None for anything else."""
    if not isinstance(cls, type):
        return None
    if attrs.has(cls):
        attrs.resolve_types(cls)
        return tuple(
            _Field(a.name, a.alias or a.name, a.type, a.default is not attrs.NOTHING)
            for a in attrs.fields(cls)
            if a.init
        )
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        return tuple(
            _Field(
                f.name,
                f.name,
                hints.get(f.name, Any),
                f.default is not dataclasses.MISSING
                or f.default_factory is not dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
            if f.init
        )
    return None


def _build(cls: Any, plan: tuple[_Field, ...], value: Any, converter: cattrs.BaseConverter) -> Any:
    if type(value) is not dict:
        return _FAIL
    kwargs: dict[str, Any] = {}
    for f in plan:
        if f.key in value:
            got = _fit(f.tp, value[f.key], converter)
            if got is not _FAIL:
                kwargs[f.init] = got
                continue
        if not f.has_default:
            return _FAIL
    try:
        return cls(**kwargs)
    except (ValueError, TypeError):  # a validator of the class refused a partial value
        return _FAIL


def _fit(tp: Any, value: Any, converter: cattrs.BaseConverter) -> Any:
    """``value`` as ``tp``, into classes, lists and Optional by hand; _FAIL if it does not fit."""
    try:
        plan = _plan(tp)
    except TypeError:  # an unhashable annotation
        plan = None
    if plan is not None:
        return _build(tp, plan, value, converter)
    origin = get_origin(tp)
    if origin is list and type(value) is list:
        args = get_args(tp)
        items = []
        for i, item in enumerate(value):
            got = _fit(args[0] if args else Any, item, converter)
            if got is _FAIL:
                if i == len(value) - 1:
                    break  # the last item is the one still being written
                return _FAIL
            items.append(got)
        return items
    if origin is typing.Union or origin is types.UnionType:
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        others = [arg for arg in args if arg is not type(None)]
        if len(others) == 1:
            return _fit(others[0], value, converter)
    try:
        return converter.structure(value, tp)
    except _STRUCTURE_ERRORS:
        return _FAIL


def partial_view(
    cls: type[T], value: Any, *, converter: cattrs.BaseConverter | None = None
) -> T | None:
    """``cls`` built from a partial JSON value (``PartialJSON.value``), or None when it cannot be.

    ``cls`` is an attrs class or a dataclass. A missing field takes its
    default; a field whose partial value does not fit yet (half of an enum's
    string, a nested object still missing a required field) takes its default
    too; a nested class is built the same way, and a list drops its last item
    when that item does not fit yet. None when a field without a default is
    missing or does not fit, or when ``value`` is not an object. Keys are the
    attribute names, as cattrs' default. It walks the whole value: see
    docs/structured.md for the cost.
    """
    plan = _plan(typing.cast(Any, cls))
    if plan is None:
        raise TypeError(f"partial_view needs an attrs class or a dataclass, not {cls!r}")
    if converter is not None and not isinstance(converter, cattrs.BaseConverter):
        raise TypeError(f"converter must be a cattrs Converter, not {type(converter).__name__}")
    built = _build(cls, plan, value, converter or default_converter())
    return None if built is _FAIL else typing.cast("T", built)
