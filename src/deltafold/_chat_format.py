"""The chat-completions wire format as the core sees it: :data:`CHAT`.

Its model is ``_models``, its fold rules ``_accumulator`` (with ``_choice`` and
``_result``), its unfold ``_split``; this module only hands them to the core and
flattens a ``ChatCompletion`` into the :class:`~deltafold._format.Summary` that
telemetry, bulk and the CLI read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._accumulator import Accumulator
from ._convert import converter, from_dict
from ._format import Summary, WireFormat
from ._models import ChatCompletion, ChatCompletionChunk

__all__ = ["CHAT", "summarize_chat"]


def _chunk_structure() -> Callable[[dict[str, Any]], ChatCompletionChunk]:
    """``from_dict(ChatCompletionChunk, ...)`` without its checks of the class (per chunk)."""
    hook = converter.get_structure_hook(ChatCompletionChunk)

    def structure(chunk: dict[str, Any]) -> ChatCompletionChunk:
        try:
            typed: ChatCompletionChunk = hook(chunk, ChatCompletionChunk)
        except Exception:  # from_dict says what was wrong
            typed = from_dict(ChatCompletionChunk, chunk)
        return typed

    return structure


def summarize_chat(completion: ChatCompletion) -> Summary:
    """The first choice's answer and the usage, flat; every choice's output messages."""
    usage = completion.usage
    first = completion.choices[0] if completion.choices else None
    message = first.message if first is not None else None
    details = usage.completion_tokens_details if usage is not None else None
    prompt = usage.prompt_tokens_details if usage is not None else None
    return Summary(
        id=completion.id,
        model=completion.model,
        created=completion.created,
        provider=completion.provider,
        n_choices=len(completion.choices),
        role=message.role if message is not None else None,
        content=message.content if message is not None else None,
        refusal=message.refusal if message is not None else None,
        reasoning=message.reasoning if message is not None else None,
        finish_reason=first.finish_reason if first is not None else None,
        finish_reasons=[c.finish_reason for c in completion.choices if c.finish_reason],
        tool_calls=None if message is None else [
            {"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
            for call in message.tool_calls or ()
        ],
        input_tokens=usage.prompt_tokens if usage is not None else None,
        output_tokens=usage.completion_tokens if usage is not None else None,
        total_tokens=usage.total_tokens if usage is not None else None,
        reasoning_tokens=details.reasoning_tokens if details is not None else None,
        cached_tokens=prompt.cached_tokens if prompt is not None else None,
        cost=usage.cost if usage is not None else None,
        output_messages=[_output_message(choice) for choice in completion.choices],
    )


def _output_message(choice: Any) -> dict[str, Any]:
    """One choice in the GenAI conventions' output-message shape."""
    message = choice.message
    parts: list[dict[str, Any]] = []
    if message.reasoning:
        parts.append({"type": "reasoning", "content": message.reasoning})
    if message.content:
        parts.append({"type": "text", "content": message.content})
    for call in message.tool_calls or ():
        parts.append({
            "type": "tool_call", "id": call.id, "name": call.function.name,
            "arguments": call.function.arguments,
        })
    return {
        "role": message.role or "assistant", "parts": parts,
        "finish_reason": choice.finish_reason or "",
    }


CHAT: WireFormat[ChatCompletion, ChatCompletionChunk] = WireFormat(
    "chat",
    fold=Accumulator,
    result=ChatCompletion,
    structure=_chunk_structure,
    path="/chat/completions",
    summarize=summarize_chat,
)
"""Chat completions (OpenAI, OpenRouter and every OpenAI-compatible server)."""
