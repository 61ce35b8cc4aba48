"""The Responses API wire format as the core sees it: :data:`RESPONSES`.

Its model is ``_models`` / ``_items`` / ``_parts``, its fold rules ``_fold`` /
``_rules`` / ``_state``, its unfold ``_unfold``; this module hands them to the
core (the drivers, ``Client``, telemetry, bulk and the CLI are chat's own) and
flattens a :class:`Response` into the :class:`~deltafold._format.Summary` they read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._format import Summary, WireFormat
from ._fold import Accumulator
from ._items import FunctionCall, Message, Reasoning
from ._models import Response

__all__ = ["RESPONSES", "summarize_response"]


def _event_structure() -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A Responses stream yields its events as the decoded dicts they are.

    About sixty event types, each a few fields around one delta: a class per type
    would cost a structuring per event for no field the dict does not already name.
    """

    def structure(event: dict[str, Any]) -> dict[str, Any]:
        return event

    return structure


def summarize_response(response: Response) -> Summary:
    """The output text, refusal, reasoning summary and function calls, flat; the usage."""
    refusal: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for item in response.output:
        if isinstance(item, Message):
            for part in item.content:
                kind = getattr(part, "type", "")
                if kind == "refusal":
                    refusal.append(getattr(part, "refusal", "") or "")
                elif kind == "output_text":
                    parts.append({"type": "text", "content": getattr(part, "text", "")})
        elif isinstance(item, FunctionCall):
            calls.append({"id": item.call_id, "name": item.name, "arguments": item.arguments})
            parts.append({"type": "tool_call", **calls[-1]})
        elif isinstance(item, Reasoning):
            texts = [s.text for s in item.summary if getattr(s, "text", None)]
            reasoning.extend(texts)
            parts.extend({"type": "reasoning", "content": text} for text in texts)
    usage = response.usage
    reason = _finish_reason(response)
    return Summary(
        id=response.id or None,
        model=response.model or None,
        created=response.created_at,
        role="assistant",
        content=response.output_text or None,
        refusal="".join(refusal) or None,
        reasoning="\n\n".join(reasoning) or None,
        finish_reason=reason,
        finish_reasons=[reason] if reason else [],
        tool_calls=calls,
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        total_tokens=usage.total_tokens if usage else None,
        reasoning_tokens=(
            usage.output_tokens_details.reasoning_tokens
            if usage and usage.output_tokens_details else None
        ),
        cached_tokens=(
            usage.input_tokens_details.cached_tokens
            if usage and usage.input_tokens_details else None
        ),
        output_messages=[{"role": "assistant", "parts": parts, "finish_reason": reason or ""}],
    )


def _finish_reason(response: Response) -> str | None:
    """The status, or for an incomplete response the reason it stopped."""
    details = response.incomplete_details
    if response.status == "incomplete" and details is not None and details.reason:
        return details.reason
    return response.status


RESPONSES: WireFormat[Response, dict[str, Any]] = WireFormat(
    "responses",
    fold=Accumulator,
    result=Response,
    structure=_event_structure,
    path="/responses",
    summarize=summarize_response,
    ends_at_done=False,
)
"""The OpenAI Responses API (OpenAI, Azure, OpenRouter's beta, and compatible servers)."""
