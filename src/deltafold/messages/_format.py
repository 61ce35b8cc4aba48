"""The Anthropic Messages wire format as the core sees it: :data:`MESSAGES`.

Its model is ``_models``/``_blocks``, its fold ``_fold``, its unfold ``_unfold``;
this module hands them to the core, names the typed item a stream yields
(:class:`StreamEvent`) and flattens a ``Message`` into the shared ``Summary``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen

from .._format import Summary, WireFormat
from ._blocks import RedactedThinkingBlock, TextBlock, ThinkingBlock, ToolUseBlock, _InputBlock
from ._fold import Accumulator
from ._models import Message
from ._usage import openai_tokens

__all__ = ["MESSAGES", "StreamEvent", "summarize_message"]


@frozen
class StreamEvent:
    """One Messages stream event as ``async for`` over a stream yields it: its type, its data.

    The data is the decoded event as it arrived (``index``, ``delta``, ``message``...).
    """

    type: str
    """``message_start``, ``content_block_delta``, ``message_delta``, ``ping``..."""
    data: dict[str, Any]
    """The whole event, as decoded."""

    @property
    def index(self) -> int | None:
        """The block index of a ``content_block_*`` event, else None."""
        index = self.data.get("index")
        return index if index.__class__ is int else None

    @property
    def delta(self) -> dict[str, Any] | None:
        """The ``delta`` of a ``content_block_delta`` or ``message_delta``, else None."""
        delta = self.data.get("delta")
        return delta if delta.__class__ is dict else None


def _event_structure() -> Callable[[dict[str, Any]], StreamEvent]:
    def structure(event: dict[str, Any]) -> StreamEvent:
        kind = event.get("type")
        return StreamEvent(kind if kind.__class__ is str else "", event)

    return structure


def summarize_message(message: Message) -> Summary:
    """The message flat: its text, thinking, tool calls and tokens in the OpenAI convention.

    ``input_tokens`` counts the cache reads and writes too (Anthropic's own
    ``input_tokens`` leaves them out); ``cached_tokens`` is the cache reads; the
    finish reason is the ``stop_reason``.
    """
    usage = message.usage.to_dict() if message.usage is not None else None
    prompt, output, total, cached = openai_tokens(usage)
    thinking = "".join(b.thinking for b in message.content if isinstance(b, ThinkingBlock))
    calls = [
        {"id": b.id, "name": b.name, "arguments": b.input} for b in message.content
        if isinstance(b, ToolUseBlock)
    ]
    return Summary(
        id=message.id or None,
        model=message.model or None,
        provider="anthropic",
        role=message.role,
        content=message.text,
        reasoning=thinking or None,
        finish_reason=message.stop_reason,
        finish_reasons=[message.stop_reason] if message.stop_reason else [],
        tool_calls=calls,
        input_tokens=prompt,
        output_tokens=output,
        total_tokens=total,
        cached_tokens=cached,
        output_messages=[_output_message(message)],
    )


def _output_message(message: Message) -> dict[str, Any]:
    """The message in the GenAI conventions' output-message shape."""
    parts: list[dict[str, Any]] = []
    for block in message.content:
        if isinstance(block, ThinkingBlock):
            parts.append({"type": "reasoning", "content": block.thinking})
        elif isinstance(block, RedactedThinkingBlock):
            parts.append({"type": "reasoning", "content": ""})
        elif isinstance(block, TextBlock):
            parts.append({"type": "text", "content": block.text})
        elif isinstance(block, _InputBlock):
            parts.append({
                "type": "tool_call", "id": block.id, "name": block.name, "arguments": block.input,
            })
    return {
        "role": message.role or "assistant", "parts": parts,
        "finish_reason": message.stop_reason or "",
    }


MESSAGES: WireFormat[Message, StreamEvent] = WireFormat(
    "messages",
    fold=Accumulator,
    result=Message,
    structure=_event_structure,
    path="/messages",
    summarize=summarize_message,
)
"""Anthropic's Messages API (Anthropic, OpenRouter's ``/api/v1/messages``, Vertex, Bedrock)."""
