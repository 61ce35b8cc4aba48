"""Typed results: tool arguments and structured output structured into the caller's classes.

``FunctionCall.parse_arguments`` and ``Message.parse_content`` decode the
finished text and structure it with cattrs, the library the wire models use,
but with a converter of its own (``_strict``): the wire converter is lenient
about the provider's envelope, while a user's schema must be checked, and
detailed validation gives the JSON path of every failure. Empty arguments
are the empty object. ``partial_view`` builds a class from a value still
being streamed, by the same rules.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any, Literal, NamedTuple, TypeVar, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.errors import BaseValidationError, CattrsError, StructureHandlerNotFoundError
from cattrs.v import format_exception

from . import _models as m
from ._exceptions import JSONParseError, StructuredOutputError
from ._jsontext import rounds_ints
from ._limits import Limits
from ._partial_json import PartialJSON
from ._strict import NeedsConverter, WrongValue, needs_converter_in, typed_converter

__all__ = [
    "decode", "default_converter", "partial_view", "structure", "structure_text",
    "structure_value", "typed_converter",
]

T = TypeVar("T")

_MAX_DEPTH = Limits().max_json_depth
"""The nesting PartialJSON allows by default; parsed text is held to the same."""

_SHOWN_ERRORS = 5
"""How many path messages the error's text shows (``.errors`` keeps them all)."""
_STRUCTURE_ERRORS = (BaseValidationError, CattrsError, ValueError, TypeError, KeyError)
"""What a converter raises for a value that does not fit (a user's hooks included)."""


@functools.cache
def default_converter() -> cattrs.Converter:
    """The converter for users' classes, built once (``typed_converter`` builds a new one)."""
    return typed_converter()


def _describe(exc: BaseException, tp: Any) -> str:
    """One failure in words, for ``cattrs.transform_error`` (which adds `` @ $.path``)."""
    if isinstance(exc, (WrongValue, NeedsConverter)):
        return str(exc)
    if isinstance(exc, KeyError):  # a required field is missing, whatever its type
        return format_exception(exc, tp)
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
    if isinstance(model, m.FunctionCall):
        what = f"the arguments of {model.name or 'the function call'}"
        return structure_text(model.arguments, what, cls, converter, True)
    return structure_text(model.content, "the message content", cls, converter, False)


def structure_text(
    text: str | None, what: str, cls: Any, converter: Any, empty_is_object: bool
) -> Any:
    """JSON text of any format (``what`` it is, for the errors) structured into ``cls``.

    ``empty_is_object``: tool arguments, where ``""`` (a tool without parameters) is ``{}``.
    """
    if converter is not None and not isinstance(converter, cattrs.BaseConverter):
        raise TypeError(f"converter must be a cattrs Converter, not {type(converter).__name__}")
    if text is None:
        raise JSONParseError(
            f"{what} is None: there is no JSON text to parse at position 0",
            position=0,
            expected="a JSON value",
        )
    if empty_is_object and not text.strip():
        # A tool without parameters is often called with "": that is the empty object.
        value: Any = {}
        what += ", empty and read as {}"
    else:
        try:
            value = decode(text)
        except JSONParseError as exc:
            raise JSONParseError(
                f"{what}: {exc.message}", position=exc.position, path=exc.path,
                expected=exc.expected,
            ) from exc
    return structure_value(value, cls, converter, what=what, raw=text)


def structure_value(value: Any, cls: Any, converter: Any, *, what: str, raw: str) -> Any:
    """A decoded JSON value structured strictly into ``cls`` (``what`` names it in errors).

    The one rule behind every format's ``parse_arguments`` / ``parse_content`` and a
    Messages tool block's ``parse_input``; ``raw`` is the JSON text the error keeps.
    """
    if converter is not None and not isinstance(converter, cattrs.BaseConverter):
        raise TypeError(f"converter must be a cattrs Converter, not {type(converter).__name__}")
    text = raw
    try:
        return (converter or default_converter()).structure(value, cls)
    except StructureHandlerNotFoundError as exc:
        raise TypeError(f"cannot structure into {_name(cls)}: {exc}") from exc
    except _STRUCTURE_ERRORS as exc:
        errors = cattrs.transform_error(exc, format_exception=_describe)
        needs = needs_converter_in(exc)
        if needs is not None:
            line = next((line for line in errors if line.startswith(f"{needs} @ ")), " @ $")
            where = line.rsplit(" @ ", 1)[1]
            raise TypeError(f"cannot structure into {_name(cls)} at {where}: {needs}") from exc
        shown = "; ".join(errors[:_SHOWN_ERRORS])
        more = len(errors) - _SHOWN_ERRORS
        message = f"{_name(cls)} does not accept {what}: {shown}" + (
            f" (and {more} more)" if more > 0 else ""
        )
        raise StructuredOutputError(message, errors=errors, raw=text) from exc


m.WIRE.structure = structure  # the models' parse_arguments / parse_content call it
m.WIRE.structure_text = structure_text  # every other format's models call this one


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
    except _STRUCTURE_ERRORS as exc:
        needs = needs_converter_in(exc)
        if needs is not None:  # the class, not the value, is at fault: say so now
            raise TypeError(f"cannot structure into {_name(tp)}: {needs}") from exc
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
