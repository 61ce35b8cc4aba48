"""Building the typed result: the fold's state becomes a ``ChatCompletion``.

Runs at ``snapshot()`` and ``result()`` only, never per chunk: strings are
joined here, unknown fields materialized, and the metadata classes built
through the lenient converter (or directly, for logprobs of the usual shape).
"""

from __future__ import annotations

from typing import Any

from . import _models as m
from ._choice import ChoiceState
from ._convert import converter
from ._jsonvalue import bounded
from ._merge import Rope, materialize, materialize_fields

__all__ = ["build_completion", "build_usage"]

USAGE_CARRIERS = ("x_groq",)
"""Top-level objects whose ``usage`` stands in for a missing top-level one (Groq's older
streams); lifted when the completion is built, the original stays in ``extra``."""


def build_completion(
    top: dict[str, Any],
    choices: dict[int, ChoiceState],
    usage: dict[str, Any] | None,
    extra: dict[str, Any],
) -> m.ChatCompletion:
    """The completion as folded so far, from the accumulator's state (see ``snapshot``)."""
    fields = usage if usage is not None else _carried_usage(extra)
    return m.ChatCompletion(
        id=top.get("id", ""),
        choices=[build_choice(choices[i]) for i in sorted(choices)],
        created=top.get("created", 0),
        model=top.get("model", ""),
        system_fingerprint=top.get("system_fingerprint"),
        service_tier=top.get("service_tier"),
        provider=top.get("provider"),
        usage=None if fields is None else build_usage(fields),
        extra=materialize_fields(extra),
    )


def build_usage(fields: dict[str, Any]) -> m.Usage:
    """The typed usage of the merged ``usage`` fields."""
    usage: m.Usage = _lenient(m.Usage, fields)
    return usage


def _carried_usage(extra: dict[str, Any]) -> dict[str, Any] | None:
    """The ``usage`` inside a carrier of :data:`USAGE_CARRIERS`, when no top-level one came."""
    for name in USAGE_CARRIERS:
        carrier = materialize(extra.get(name))
        usage = carrier.get("usage") if carrier.__class__ is dict else None
        if usage.__class__ is dict:
            result: dict[str, Any] = usage
            return result
    return None

def _lenient(cls: type[Any], data: Any) -> Any:
    """Structure ``data`` as ``cls`` (one of ``_convert.LENIENT``: a field of the wrong type
    is kept in ``extra``); anything but an object is kept whole as ``extra["value"]``."""
    if data.__class__ is not dict:
        return cls(extra={"value": bounded(data)})
    return converter.structure(data, cls)


def _text(rope: Rope | None) -> str | None:
    return None if rope is None else rope.value()


def build_choice(state: ChoiceState) -> m.Choice:
    message = m.Message(
        role=state.role or "assistant",
        content=_text(state.content),
        refusal=_text(state.refusal),
        reasoning=_text(state.reasoning),
        reasoning_details=[_lenient(m.ReasoningDetail, d.build()) for d in state.details],
        tool_calls=[
            m.ToolCall(
                id=call.id,
                type=call.type or "function",
                function=call.build_function(),
                extra=materialize_fields(call.extra),
            )
            for call in state.calls
        ],
        function_call=(
            None if state.function_call is None else state.function_call.build_function()
        ),
        annotations=[_lenient(m.Annotation, a) for a in state.annotations],
        images=[_lenient(m.Image, i) for i in state.images],
        audio=_build_audio(state),
        extra=materialize_fields(state.message_extra),
    )
    if state.content_json is not None:
        message.parsed = state.content_json.parsed()
        message.parse_error = state.content_json.error
    logprobs = None
    if state.logprobs_content is not None or state.logprobs_refusal is not None:
        pending = _PendingLogprobs(
            state.logprobs_content, state.logprobs_refusal, materialize_fields(state.logprobs_extra)
        )
        logprobs = m.Logprobs._later(pending.build)
    elif state.logprobs_extra:
        logprobs = _lenient(m.Logprobs, materialize_fields(state.logprobs_extra))
    return m.Choice(
        index=state.index,
        message=message,
        finish_reason=state.finish_reason,
        native_finish_reason=state.native_finish_reason,
        logprobs=logprobs,
        extra=materialize_fields(state.extra),
    )

def _build_audio(state: ChoiceState) -> m.Audio | None:
    if state.audio is None:
        return None
    fields = materialize_fields(state.audio)
    for key, rope in state.audio_texts.items():
        fields[key] = rope.value()
    result: m.Audio = _lenient(m.Audio, fields)
    return result

class _PendingLogprobs:
    """A choice's logprobs as the fold kept them, typed when first read (``Logprobs._later``).

    The fold only ever appends to its token lists, so their first ``len`` items at
    ``result()`` are the completion's tokens, however much the fold adds later (a
    ``snapshot`` stays what it was). The unknown fields are materialized at ``result()``:
    the fold may still merge into them.
    """

    __slots__ = ("content", "content_end", "extra", "refusal", "refusal_end")

    def __init__(
        self, content: list[Any] | None, refusal: list[Any] | None, extra: dict[str, Any]
    ) -> None:
        self.content = content
        self.content_end = 0 if content is None else len(content)
        self.refusal = refusal
        self.refusal_end = 0 if refusal is None else len(refusal)
        self.extra = extra

    def build(self) -> m.Logprobs:
        """The typed ``Logprobs``: directly for the usual shape, else the lenient converter."""
        content = None if self.content is None else self.content[: self.content_end]
        refusal = None if self.refusal is None else self.refusal[: self.refusal_end]
        logprobs = None if self.extra else _usual_logprobs(content, refusal)
        if logprobs is None:
            logprobs = _lenient(m.Logprobs, {**self.extra, "content": content, "refusal": refusal})
        return logprobs


_TOKEN_KEYS = frozenset({"token", "logprob", "bytes", "top_logprobs"})
_TOP_KEYS = frozenset({"token", "logprob", "bytes"})


def _usual_logprobs(content: list[Any] | None, refusal: list[Any] | None) -> m.Logprobs | None:
    """The ``Logprobs`` the lenient converter builds, built directly when every item has the
    usual shape; None when any has another (the converter then builds it all, with its
    own rule for each oddity).

    The usual shape: exactly ``token`` (a string), ``logprob`` (a finite float), ``bytes``
    (null or a list of ints from 0 to 255) and ``top_logprobs`` (a list of objects with
    exactly the first three). On a stream with logprobs the converter's per-field hooks
    are most of the result's cost; this builds the same objects (fresh lists included).
    """
    built_content = None if content is None else _token_logprobs(content)
    if built_content is None and content is not None:
        return None
    built_refusal = None if refusal is None else _token_logprobs(refusal)
    if built_refusal is None and refusal is not None:
        return None
    return m.Logprobs(content=built_content, refusal=built_refusal)


def _token_logprobs(items: list[Any]) -> list[m.TokenLogprob] | None:
    token_cls = m.TokenLogprob
    top_cls = m.TopLogprob
    out = []
    for item in items:
        fields = _entry(item, _TOKEN_KEYS)
        if fields is None:
            return None
        tops = item["top_logprobs"]
        if tops.__class__ is not list:
            return None
        top_objects = []
        for top in tops:
            top_fields = _entry(top, _TOP_KEYS)
            if top_fields is None:
                return None
            top_objects.append(top_cls(*top_fields))
        out.append(token_cls(*fields, top_objects))
    return out


def _entry(item: Any, keys: frozenset[str]) -> tuple[str, float, list[int] | None] | None:
    """``token``, ``logprob`` and ``bytes`` of an entry holding exactly ``keys``, each of the
    usual type; None for any other entry (the converter's rules then apply)."""
    if item.__class__ is not dict or len(item) != len(keys) or not keys.issuperset(item):
        return None
    token = item["token"]
    logprob = item["logprob"]
    raw = item["bytes"]
    # ``x - x`` is 0.0 (false) for a finite float, nan (true) for inf and nan.
    if token.__class__ is not str or logprob.__class__ is not float or logprob - logprob:
        return None
    if raw is not None:
        raw = _byte_list(raw)
        if raw is None:
            return None
    return token, logprob, raw


def _byte_list(value: Any) -> list[int] | None:
    """A copy of ``value`` if it is a list of ints from 0 to 255 (not bools), else None."""
    if value.__class__ is not list:
        return None
    for byte in value:
        if byte.__class__ is not int or byte >> 8:
            return None
    return value[:]
