"""One cattrs converter for every model: wire names in and out, unknown fields kept.

Structuring moves the keys a class does not declare into its ``extra``;
unstructuring writes them back beside the known ones and leaves out optional
fields that are empty, except the few the API always sends (``message.role``,
``message.content``, ``message.refusal``, ``choice.finish_reason``, ...). An
unknown field named like a known one is never dropped: it is written under
``"extra." + name`` (see :data:`CLASH_PREFIX`), at every level.

Scalars are coerced only where the meaning is clear (``"12"`` for an int,
``"0.5"`` for a float, ``"true"`` for a bool); cattrs' own ``str(x)`` /
``int(x)`` / ``bool(x)`` would turn ``{"a": 1}`` into ``"{'a': 1}"``, ``1.5``
into ``1`` and ``"false"`` into ``True``. The metadata classes in
:data:`LENIENT` (usage, logprobs, annotations, images, audio, reasoning
details) keep a field of the wrong type verbatim in ``extra`` under its own
key instead of failing, and ``to_dict`` writes it back there, so a completion
the fold built always survives ``from_dict(to_dict(c))``.

The rules live here; a dict whose values already have their fields' types is
built by a function generated once per model from its fields
(``_fast_structure``), which gives the same object faster and hands anything
else to this path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import _models as m
from ._decode import argument_error, type_name
from ._exceptions import ChunkDecodeError, JSONParseError
from ._fast_structure import BAIL, FastFn, make_fast
from ._jsonvalue import INT_END, INT_MIN, bounded, kind_of

__all__ = ["converter", "from_dict", "to_dict", "wire_names"]

ModelT = TypeVar("ModelT")
"""The model class ``from_dict`` builds."""

#: Fields written even when empty, per class: the shape clients expect.
_ALWAYS: dict[type, frozenset[str]] = {
    m.ChatCompletion: frozenset({"id", "choices", "created", "model", "object"}),
    m.Choice: frozenset({"index", "message", "finish_reason"}),
    m.Message: frozenset({"role", "content", "refusal"}),
    m.ToolCall: frozenset({"id", "type", "function"}),
    m.FunctionCall: frozenset({"name", "arguments"}),
    m.Logprobs: frozenset({"content", "refusal"}),
    m.TokenLogprob: frozenset({"token", "logprob", "bytes", "top_logprobs"}),
    m.TopLogprob: frozenset({"token", "logprob", "bytes"}),
    m.ReasoningDetail: frozenset({"type"}),
    m.Annotation: frozenset({"type"}),
    m.UrlCitation: frozenset({"url"}),
    m.ImageUrl: frozenset({"url"}),
    m.Image: frozenset({"type"}),
    m.ChatCompletionChunk: frozenset({"id", "choices", "created", "model", "object"}),
    m.ChunkChoice: frozenset({"index", "delta", "finish_reason"}),
}


#: Classes whose fields of the wrong type are kept in ``extra`` rather than rejected.
LENIENT: frozenset[type] = frozenset(
    {
        m.Usage,
        m.PromptTokensDetails,
        m.CompletionTokensDetails,
        m.CostDetails,
        m.Logprobs,
        m.TokenLogprob,
        m.TopLogprob,
        m.ReasoningDetail,
        m.Annotation,
        m.UrlCitation,
        m.Image,
        m.ImageUrl,
        m.Audio,
        # The streamed chunk is a view of what the fold accepted: it must not fail where the
        # fold did not (an odd field stays in extra; the fold has the rules).
        m.ChatCompletionChunk,
        m.ChunkChoice,
        m.Delta,
        m.ToolCallDelta,
        m.FunctionCallDelta,
    }
)

def _structure_str(value: Any, _: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {kind_of(value)}")


def _structure_int(value: Any, _: Any) -> int:
    if value.__class__ is int:
        result: int = value
    elif isinstance(value, bool):
        raise TypeError("expected an integer, got bool")
    elif (
        isinstance(value, int)
        or (isinstance(value, float) and value.is_integer())
        or (isinstance(value, str) and len(value) < 64 and value.strip().lstrip("+-").isdigit())
    ):
        result = int(value)
    else:
        raise TypeError(f"expected an integer, got {kind_of(value)}")
    if not INT_MIN <= result < INT_END:
        raise ValueError(f"integer {result} out of range")
    return result


def _structure_float(value: Any, _: Any) -> float:
    """Any float (NaN and the infinities, as ``json.loads`` reads them, too).

    An integer only when the float is exactly it; a number written as text only when finite.
    """
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            result = float(value)
        except OverflowError:
            result = float("nan")  # not equal to the integer: refused just below
        if result != value:
            raise ValueError(f"an integer of {value.bit_length()} bits is not exactly a float")
        return result
    if isinstance(value, str) and len(value) < 64:
        try:
            result = float(value)
        except ValueError:
            raise TypeError(f"expected a number, got {value!r}") from None
        if result - result != 0.0:
            raise ValueError("expected a finite number")
        return result
    raise TypeError(f"expected a number, got {kind_of(value)}")


def _structure_bool(value: Any, _: Any) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise TypeError(f"expected a boolean, got {kind_of(value)}")


CLASH_PREFIX = "extra."
"""The rule for an unknown field named like a known one (``choice.extra["message"]`` beside
``choice.message``): ``to_dict`` writes it under ``"extra." + name``, prefixed again while
that name is taken, so the field keeps its key and nothing is dropped."""


def clash_key(key: str, out: dict[str, Any], extra: dict[str, Any]) -> str:
    """The key under which ``extra[key]``, clashing with a field, is written into ``out``."""
    name = CLASH_PREFIX + key
    while name in out or name in extra:
        name = CLASH_PREFIX + name
    return name


def wire_names(cls: type[Any]) -> frozenset[str]:
    """The wire names of a model's fields: its attrs fields but ``extra`` (no field is renamed).

    The converter's known fields, and the fold's and the split's known-field sets.
    """
    return frozenset(
        a.name for a in attrs.fields(cls) if a.name != "extra" and not a.metadata.get(m.NOT_WIRE)
    )


def _not_wire(cls: type[Any]) -> dict[str, Any]:
    """cattrs overrides leaving out the fields that are not on the wire (``m.NOT_WIRE``)."""
    return {a.name: override(omit=True) for a in attrs.fields(cls) if a.metadata.get(m.NOT_WIRE)}


def _default_value(default: Any) -> Any:
    factory = getattr(default, "factory", None)
    return factory() if callable(factory) else default


def _passthrough(value: Any, _: Any) -> Any:
    return value


def _is_model_list(cls: Any) -> bool:
    args = get_args(cls)
    return get_origin(cls) is list and len(args) == 1 and attrs.has(args[0])


def _list_hook(conv: cattrs.Converter, cls: Any) -> Callable[[Any, Any], list[Any]]:
    """The structure hook for a list of models."""
    inner = get_args(cls)[0]
    hook = conv.get_structure_hook(inner)

    def structure_list(value: Any, _: Any) -> list[Any]:
        # As in the fold: one object where a list belongs is a list of one, {} is none.
        if value.__class__ is dict:
            value = [value] if value else []
        elif not isinstance(value, list):
            raise TypeError(f"expected a list of {inner.__name__}, got {type(value).__name__}")
        return [hook(item, inner) for item in value]

    return structure_list


def _structure_hook(
    conv: cattrs.Converter, cls: type[Any], fast: dict[type, FastFn] | None
) -> Callable[[Any, Any], Any]:
    """The structure hook for a model: unknown keys to ``extra``; lenient for LENIENT classes.

    With ``fast`` (the generated functions, built once per class), a dict of the common
    shape is taken by the generated function and this converter path is the fallback.
    """
    known = wire_names(cls)
    base = make_dict_structure_fn(cls, conv, extra=override(omit=True), **_not_wire(cls))

    def structure(data: Any, _: Any) -> Any:
        if data.__class__ is list and not data:
            data = {}  # as in the fold: an empty list where an object belongs is nothing
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
        extra = {k: v for k, v in data.items() if k not in known}
        obj = base({k: v for k, v in data.items() if k in known and v is not None}, cls)
        if extra:
            obj.extra = extra
        return obj

    def lenient(data: Any, _: Any) -> Any:
        try:
            obj = structure(data, cls)
        except Exception:
            if not isinstance(data, dict):
                raise
        else:
            if obj.extra:
                obj.extra = {key: bounded(value) for key, value in obj.extra.items()}
            return obj
        # Slow path, only for odd input: every field that fits, the rest verbatim in extra.
        good: dict[str, Any] = {}
        bad: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known or value is None:
                good[key] = value
                continue
            try:
                structure({key: value}, cls)
            except Exception:
                bad[key] = value
            else:
                good[key] = value
        obj = structure(good, cls)
        obj.extra = {key: bounded(value) for key, value in {**obj.extra, **bad}.items()}
        return obj

    full = lenient if cls in LENIENT else structure
    if fast is None:
        return full
    kinds: dict[Any, str] = {
        _structure_str: "str",
        _structure_int: "int",
        _structure_float: "float",
        _structure_bool: "bool",
        _passthrough: "pass",
    }
    generated = make_fast(cls, conv.get_structure_hook, kinds, LENIENT, wire_names, fast)
    return _fast_first(generated, full)


def _fast_first(fast: FastFn, full: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A model's hook: the generated function for a dict of the common shape, else ``full``."""

    def hook(data: Any, cls: Any) -> Any:
        if data.__class__ is dict:
            try:
                obj = fast(data)
            except Exception:  # an odd value a field's own hook refused: the full path says why
                obj = BAIL
            if obj is not BAIL:
                return obj
        return full(data, cls)

    return hook


def _unstructure_hook(conv: cattrs.Converter, cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """The unstructure hook for a model: empty optionals left out, ``extra`` written back."""
    always = _ALWAYS.get(cls, frozenset())
    defaults = {
        a.name: _default_value(a.default)
        for a in attrs.fields(cls)
        if a.name in wire_names(cls) and a.default is not attrs.NOTHING
    }
    fields = wire_names(cls)
    # Only a LENIENT class lets an extra key stand in for a field left at its default:
    # there it holds the value of the wrong type that the field could not take.
    stand_in = frozenset(defaults) if cls in LENIENT else frozenset()
    overrides: dict[str, Any] = {name: override(omit_if_default=False) for name in always}
    overrides.update(_not_wire(cls))
    base = make_dict_unstructure_fn(
        cls, conv, _cattrs_omit_if_default=True, extra=override(omit=True), **overrides
    )

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = base(obj)
        extra = obj.extra
        if extra:
            clashes = []
            for key, value in extra.items():
                if key not in fields or (key in stand_in and getattr(obj, key) == defaults[key]):
                    out[key] = value
                else:
                    clashes.append(key)
            for key in clashes:
                out[clash_key(key, out, extra)] = extra[key]
        return out

    return unstructure


# The models name JSONParseError (``parse_error``) only for type checkers: _models is a leaf.
# Installed here, as WIRE is, so the annotations resolve (cattrs, typing.get_type_hints).
setattr(m, "JSONParseError", JSONParseError)  # noqa: B010 (a name _models lacks at run time)


def _make_converter(*, fast: bool = True) -> cattrs.Converter:
    """The converter; ``fast=False`` leaves out the generated functions (the reference path)."""
    conv = cattrs.Converter()
    cache: dict[type, FastFn] | None = {} if fast else None
    # Mistral sends content as a list of typed parts; keep whichever form arrived.
    conv.register_structure_hook(str | list[Any] | None, _passthrough)
    conv.register_structure_hook(Any, _passthrough)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook_factory(_is_model_list, lambda cls: _list_hook(conv, cls))
    conv.register_structure_hook_factory(attrs.has, lambda cls: _structure_hook(conv, cls, cache))
    conv.register_unstructure_hook_factory(attrs.has, lambda cls: _unstructure_hook(conv, cls))
    return conv


converter = _make_converter()

#: ``converter``'s hook per model class, as ``from_dict`` looks them up (no dispatch).
_HOOKS: dict[type, Callable[[Any, Any], Any]] = {}


_MODELS = "a deltafold model (ChatCompletion, ChatCompletionChunk, Usage, ...)"


def to_dict(obj: Any) -> dict[str, Any]:
    """The wire form of any deltafold model (snake_case keys as the API sends them).

    Anything else raises ``TypeError`` (cattrs would hand it back unchanged).
    """
    if not attrs.has(obj.__class__):
        raise argument_error("to_dict", obj, _MODELS)
    result: dict[str, Any] = converter.unstructure(obj)
    return result


def from_dict(cls: type[ModelT], data: Any) -> ModelT:
    """Build ``cls`` from its wire form; fields it does not declare land in ``extra``.

    Raises :class:`ChunkDecodeError` naming the field when a value has the wrong type,
    and ``TypeError`` when ``cls`` is not a class (the arguments swapped, most often).
    """
    if not isinstance(cls, type) and get_origin(cls) is None:
        swapped = ": the arguments are swapped" if isinstance(data, type) else ""
        raise argument_error(
            "from_dict",
            cls,
            "the class first, then the data: from_dict(cls, data), e.g. "
            "from_dict(ChatCompletion, data)",
            what=f"got {type_name(cls)} as cls{swapped}",
        )
    try:
        hook = _HOOKS.get(cls)
        if hook is None:
            if not attrs.has(cls):
                return converter.structure(data, cls)
            hook = _HOOKS[cls] = converter.get_structure_hook(cls)
        return hook(data, cls)  # type: ignore[no-any-return]
    except Exception as exc:  # cattrs raises several kinds; one typed error out
        messages = cattrs.transform_error(exc, path=cls.__name__)
        raise ChunkDecodeError(
            f"cannot build {cls.__name__}: {'; '.join(messages)}",
            raw=repr(data)[:2000],
        ) from exc


# The models' to_dict / from_dict methods call these (see ``_models.WIRE``).
m.WIRE.to_dict = to_dict
m.WIRE.from_dict = from_dict
