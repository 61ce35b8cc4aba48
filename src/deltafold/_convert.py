"""One cattrs converter for every model: wire names in and out, unknown fields kept.

Structuring moves the keys a class does not declare into its ``extra``;
unstructuring writes them back beside the known ones and leaves out optional
fields that are empty, except the few the API always sends (``message.role``,
``message.content``, ``message.refusal``, ``choice.finish_reason``, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import _models as m
from ._exceptions import ChunkDecodeError

__all__ = ["converter", "from_dict", "to_dict"]

_T = TypeVar("_T")

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


def _default_value(default: Any) -> Any:
    factory = getattr(default, "factory", None)
    return factory() if callable(factory) else default


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()

    def passthrough(value: Any, _: Any) -> Any:
        return value

    # Mistral sends content as a list of typed parts; keep whichever form arrived.
    conv.register_structure_hook(str | list[Any] | None, passthrough)
    conv.register_structure_hook(Any, passthrough)

    def structure_factory(cls: type[Any]) -> Callable[[Any, Any], Any]:
        known = frozenset(a.name for a in attrs.fields(cls) if a.name != "extra")
        base = make_dict_structure_fn(cls, conv, extra=override(omit=True))

        def structure(data: Any, _: Any) -> Any:
            if not isinstance(data, dict):
                raise TypeError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
            extra = {k: v for k, v in data.items() if k not in known}
            obj = base({k: v for k, v in data.items() if k in known and v is not None}, cls)
            if extra:
                obj.extra = extra
            return obj

        return structure

    def unstructure_factory(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
        always = _ALWAYS.get(cls, frozenset())
        defaults = {
            a.name: _default_value(a.default)
            for a in attrs.fields(cls)
            if a.name != "extra" and a.default is not attrs.NOTHING
        }
        overrides: dict[str, Any] = {name: override(omit_if_default=False) for name in always}
        base = make_dict_unstructure_fn(
            cls, conv, _cattrs_omit_if_default=True, extra=override(omit=True), **overrides
        )

        def unstructure(obj: Any) -> dict[str, Any]:
            out: dict[str, Any] = base(obj)
            if obj.extra:
                for key, value in obj.extra.items():
                    # A known key in extra holds a value of the wrong type (kept by the fold);
                    # it replaces the default the field fell back to.
                    if key not in out or (key in defaults and getattr(obj, key) == defaults[key]):
                        out[key] = value
            return out

        return unstructure

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


converter = _make_converter()


def to_dict(obj: Any) -> dict[str, Any]:
    """The wire form of any deltafold model (snake_case keys as the API sends them)."""
    result: dict[str, Any] = converter.unstructure(obj)
    return result


def from_dict(cls: type[_T], data: Any) -> _T:
    """Build ``cls`` from its wire form; fields it does not declare land in ``extra``.

    Raises :class:`ChunkDecodeError` naming the field when a value has the wrong type.
    """
    try:
        return converter.structure(data, cls)
    except Exception as exc:  # cattrs raises several kinds; one typed error out
        messages = cattrs.transform_error(exc, path=cls.__name__)
        raise ChunkDecodeError(
            f"cannot build {cls.__name__}: {'; '.join(messages)}",
            raw=repr(data)[:2000],
        ) from exc
