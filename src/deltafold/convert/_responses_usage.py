"""The Responses usage object and the neutral ``Usage``, both ways: the one place a
conversion maps its token counts. Both follow OpenAI's convention (the input includes
the cache); ``input_tokens_details.cached_tokens`` is the cache read,
``cache_write_tokens`` the cache write, ``output_tokens_details.reasoning_tokens`` the
reasoning. A Responses source's other fields are carried as ``{"format": "responses",
...}`` and put back as they came.
"""

from __future__ import annotations

from typing import Any

from ._ops import Usage

__all__ = ["neutral_usage", "responses_usage"]

FORMAT = "responses"


def neutral_usage(usage: Any) -> Usage | None:
    """A Responses usage dict as neutral usage (the same convention: input includes cache)."""
    if usage.__class__ is not dict:
        return None
    known = ("input_tokens", "output_tokens", "total_tokens", "input_tokens_details",
             "output_tokens_details")
    into = usage.get("input_tokens_details")
    out = usage.get("output_tokens_details")
    into = into if into.__class__ is dict else {}
    out = out if out.__class__ is dict else {}
    carry: dict[str, Any] = {k: v for k, v in usage.items() if k not in known}
    more_in = {k: v for k, v in into.items() if k not in ("cached_tokens", "cache_write_tokens")}
    more_out = {k: v for k, v in out.items() if k != "reasoning_tokens"}
    if more_in:
        carry["input_tokens_details"] = more_in
    if more_out:
        carry["output_tokens_details"] = more_out
    return Usage(
        input_tokens=_int(usage.get("input_tokens")),
        output_tokens=_int(usage.get("output_tokens")),
        total_tokens=_int(usage.get("total_tokens")),
        cache_read=_int(into.get("cached_tokens")),
        cache_write=_int(into.get("cache_write_tokens")),
        reasoning_tokens=_int(out.get("reasoning_tokens")),
        carry={"format": FORMAT, **carry},
    )


def _int(value: Any) -> int | None:
    return value if value.__class__ is int else None


def responses_usage(usage: Usage) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The usage object, and another format's carry it cannot hold (if any): a Responses
    source's details as they came; else every detail the SDK requires (0 where the
    source had no count)."""
    into, output = usage.input_tokens, usage.output_tokens
    total = usage.total_tokens
    if total is None and into is not None and output is not None:
        total = into + output
    carry = usage.carry
    own = carry.get("format") == FORMAT
    fill = None if own else 0
    wire: dict[str, Any] = {"input_tokens": into or 0}
    details = dict(carry.get("input_tokens_details") or {}) if own else {}
    _put(details, "cached_tokens", usage.cache_read, fill)
    _put(details, "cache_write_tokens", usage.cache_write, fill)
    if details or not own:
        wire["input_tokens_details"] = details
    wire["output_tokens"] = output or 0
    details = dict(carry.get("output_tokens_details") or {}) if own else {}
    _put(details, "reasoning_tokens", usage.reasoning_tokens, fill)
    if details or not own:
        wire["output_tokens_details"] = details
    wire["total_tokens"] = total or 0
    if own:
        wire.update({k: v for k, v in carry.items()
                     if k not in ("format", "input_tokens_details", "output_tokens_details")})
    return wire, (carry if carry and not own else None)


def _put(details: dict[str, Any], key: str, value: int | None, fill: int | None) -> None:
    if value is not None:
        details[key] = value
    elif fill is not None:
        details[key] = fill
