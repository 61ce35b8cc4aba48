"""How a chat answer ends, in neutral words and back: its ``finish_reason`` and its usage.

The one place a conversion maps them. A finish reason chat does not know (a provider's
own word) reads as the neutral one it means, or ``"stop"``. Of the token counts,
``prompt_tokens_details.cached_tokens`` is the cache read, ``cache_write_tokens`` the
cache write, ``completion_tokens_details.reasoning_tokens`` the reasoning; what has no
neutral field is carried as ``{"format": "chat", ...}`` and put back where it was when
the usage returns to chat.
"""

from __future__ import annotations

from typing import Any

from ._ops import FinishReason, Usage

__all__ = ["chat_finish_reason", "chat_usage", "finish_reason_of", "neutral_usage"]

FORMAT = "chat"
_FINISH: dict[str, FinishReason] = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls",
    "function_call": "tool_calls", "content_filter": "content_filter", "error": "error",
    # Providers' own words that reach chat unmapped.
    "end_turn": "stop", "stop_sequence": "stop", "eos": "stop", "max_tokens": "length",
    "tool_use": "tool_calls", "refusal": "refusal",
}
_CHAT_FINISH = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls",
    "content_filter": "content_filter", "refusal": "content_filter", "pause": "stop",
    "error": "error",
}
"""The neutral reasons in chat's words."""


def finish_reason_of(raw: str | None) -> FinishReason | None:
    """The neutral finish reason of chat's ``finish_reason`` (an unknown one: ``"stop"``)."""
    if raw is None:
        return None
    return _FINISH.get(raw) or _FINISH.get(raw.lower(), "stop")


def chat_finish_reason(reason: FinishReason) -> str:
    """Chat's ``finish_reason`` for a neutral one."""
    return _CHAT_FINISH[reason]


def neutral_usage(fields: dict[str, Any] | None, carried: Any = None) -> Usage | None:
    """Chat's usage object as the neutral ``Usage``; what it has no field for in ``carry``."""
    if fields is None:
        return None
    rest = dict(fields)
    prompt = _counts(rest.pop("prompt_tokens_details", None))
    completion = _counts(rest.pop("completion_tokens_details", None))
    cache_read = prompt.pop("cached_tokens", None)
    cache_write = prompt.pop("cache_write_tokens", None)
    reasoning = completion.pop("reasoning_tokens", None)
    usage = Usage(
        input_tokens=_int(rest.pop("prompt_tokens", None)),
        output_tokens=_int(rest.pop("completion_tokens", None)),
        total_tokens=_int(rest.pop("total_tokens", None)),
        cache_read=_int(cache_read), cache_write=_int(cache_write),
        reasoning_tokens=_int(reasoning),
        carry={},
    )
    if prompt:
        rest["prompt_tokens_details"] = prompt
    if completion:
        rest["completion_tokens_details"] = completion
    if carried.__class__ is dict and carried:
        return _with_carry(usage, carried)
    if rest:
        return _with_carry(usage, {"format": FORMAT, **rest})
    return usage


def _with_carry(usage: Usage, carry: dict[str, Any]) -> Usage:
    return Usage(
        usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.cache_read,
        usage.cache_write, usage.reasoning_tokens, carry,
    )


def _counts(value: Any) -> dict[str, Any]:
    return dict(value) if value.__class__ is dict else {}


def _int(value: Any) -> int | None:
    return value if value.__class__ is int else None


def chat_usage(usage: Usage) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The neutral usage as chat's usage object, and the carry chat cannot hold (if any)."""
    out: dict[str, Any] = {}
    carry = usage.carry
    own = carry.get("format") == FORMAT
    if usage.input_tokens is not None:
        out["prompt_tokens"] = usage.input_tokens
    if usage.output_tokens is not None:
        out["completion_tokens"] = usage.output_tokens
    total = usage.total_tokens
    if total is None and usage.input_tokens is not None and usage.output_tokens is not None:
        total = usage.input_tokens + usage.output_tokens
    if total is not None:
        out["total_tokens"] = total
    prompt: dict[str, Any] = {}
    if usage.cache_read is not None:
        prompt["cached_tokens"] = usage.cache_read
    if usage.cache_write is not None:
        prompt["cache_write_tokens"] = usage.cache_write
    completion: dict[str, Any] = {}
    if usage.reasoning_tokens is not None:
        completion["reasoning_tokens"] = usage.reasoning_tokens
    if own:
        for key, value in carry.items():
            if key == "prompt_tokens_details" and value.__class__ is dict:
                prompt = {**value, **prompt}
            elif key == "completion_tokens_details" and value.__class__ is dict:
                completion = {**value, **completion}
            elif key != "format":
                out[key] = value
    if prompt:
        out["prompt_tokens_details"] = prompt
    if completion:
        out["completion_tokens_details"] = completion
    return out, (carry if carry and not own else None)
