"""What a conversion must keep, read off each format's folded result in the same words.

A conversion is checked by folding its output with the target format's own
``assemble`` and reading the answer back here: the text, the refusal, the tool
calls (id, name, parsed arguments, in order), the reasoning (text, and the
signatures that let it go back to its model), the usage totals, how it finished,
and the error that ended it. Each reader below is written from the format's wire
documentation, not from the converter, so a converter that drops or invents a
field disagrees with it. ``expected_in`` says what a target format can hold of a
source's view (chat has no ``pause`` finish, Responses no cache-write count...),
the mapping table of ``docs/convert.md`` in code.

Also here: the results the tests generate for each format, so every check runs on
a clone without the recorded corpora.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import deltafold
import deltafold.messages as m
import deltafold.responses as r
from deltafold import StreamError
from deltafold._formats import ASSEMBLE

FORMATS = ("chat", "responses", "messages")

_CHAT_FINISH = {
    "stop": "stop", "length": "length", "tool_calls": "tool_calls",
    "function_call": "tool_calls", "content_filter": "content_filter", "error": "error",
}
_MESSAGES_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "refusal": "refusal", "pause_turn": "pause",
}
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


@dataclass(frozen=True)
class Usage:
    """Token counts, OpenAI's way: ``input`` includes the cache reads and writes."""

    input: int | None
    output: int | None
    total: int | None
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclass(frozen=True)
class View:
    """One answer, in no format's words."""

    id: str | None
    model: str | None
    text: str
    refusal: str
    calls: tuple[tuple[str | None, str, Any], ...]
    reasoning: str
    signatures: tuple[str, ...]
    usage: Usage | None
    finish: str | None
    error: str | None = None
    error_code: str | None = None
    """The error's code or type, as text (a target may write another kind of code)."""
    stop_sequence: str | None = None
    others: tuple[str, ...] = field(default=())
    """The types of the blocks or items no neutral step names (server tools, searches)."""


def arguments(text: str | None) -> Any:
    """Tool arguments as a value: parsed JSON, ``{}`` for none, the text when it is not JSON."""
    if text is None or not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return ("unparsed", text)


# --- chat -------------------------------------------------------------------------


def chat_view(completion: deltafold.ChatCompletion, choice: int = 0) -> View:
    picked = [c for c in completion.choices if c.index == choice]
    assert picked, f"the completion has no choice {choice}: {completion.choices}"
    chosen = picked[0]
    message = chosen.message
    details = message.reasoning_details
    reasoning = message.reasoning
    if reasoning is None:
        reasoning = "".join(d.text or d.summary or "" for d in details)
    signatures = []
    for detail in details:
        if detail.signature:
            signatures.append(detail.signature)
        elif detail.type == "reasoning.encrypted" and detail.data:
            signatures.append(detail.data)
    calls = tuple(
        (call.id or None, call.function.name, arguments(call.function.arguments))
        for call in message.tool_calls
    )
    return View(
        id=completion.id or None,
        model=completion.model or None,
        text=message.content or "",
        refusal=message.refusal or "",
        calls=calls,
        reasoning=reasoning,
        signatures=tuple(signatures),
        usage=_chat_usage(completion.usage),
        finish=_mapped(_CHAT_FINISH, chosen.finish_reason),
        error=_error_message(completion.extra.get("error")),
    )


def _chat_usage(usage: deltafold.Usage | None) -> Usage | None:
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return Usage(
        input=usage.prompt_tokens,
        output=usage.completion_tokens,
        total=usage.total_tokens,
        cache_read=(prompt and prompt.cached_tokens) or 0,
        cache_write=(prompt and prompt.cache_write_tokens) or 0,
        reasoning=(completion and completion.reasoning_tokens) or 0,
    )


# --- responses --------------------------------------------------------------------


def responses_view(response: r.Response) -> View:
    text, refusal, reasoning = [], [], []
    calls: list[tuple[str | None, str, Any]] = []
    signatures, others = [], []
    for item in response.output:
        if isinstance(item, r.Message):
            for part in item.content:
                if isinstance(part, r.OutputText):
                    text.append(part.text)
                elif isinstance(part, r.Refusal):
                    refusal.append(part.refusal)
        elif isinstance(item, r.FunctionCall):
            calls.append((item.call_id or None, item.name, arguments(item.arguments)))
        elif isinstance(item, r.CustomToolCall):
            calls.append((item.call_id or None, item.name, item.input))
        elif isinstance(item, r.Reasoning):
            reasoning += [part.text for part in item.summary]
            reasoning += [getattr(part, "text", "") for part in item.content or ()]
            if item.encrypted_content:
                signatures.append(item.encrypted_content)
        else:
            others.append(item.type)
    return View(
        id=response.id or None,
        model=response.model or None,
        text="".join(text),
        refusal="".join(refusal),
        calls=tuple(calls),
        reasoning="".join(reasoning),
        signatures=tuple(signatures),
        usage=_responses_usage(response.usage),
        finish=_responses_finish(response, bool(calls)),
        error=response.error.message if response.error is not None else None,
        others=tuple(others),
    )


def _responses_finish(response: r.Response, called: bool) -> str | None:
    if response.status == "completed":
        return "tool_calls" if called else "stop"
    if response.status == "incomplete":
        details = response.incomplete_details
        reason = details.reason if details is not None else None
        return _INCOMPLETE.get(str(reason), f"raw:{reason}")
    if response.status == "failed":
        return "error"
    return None if response.status in (None, "in_progress", "queued") else f"raw:{response.status}"


def _responses_usage(usage: r.ResponseUsage | None) -> Usage | None:
    if usage is None:
        return None
    details = usage.input_tokens_details
    output = usage.output_tokens_details
    return Usage(
        input=usage.input_tokens,
        output=usage.output_tokens,
        total=usage.total_tokens,
        cache_read=(details and details.cached_tokens) or 0,
        cache_write=int((details and details.extra.get("cache_write_tokens")) or 0),
        reasoning=(output and output.reasoning_tokens) or 0,
    )


# --- messages ---------------------------------------------------------------------


def messages_view(message: m.Message) -> View:
    text, reasoning, signatures, others = [], [], [], []
    calls: list[tuple[str | None, str, Any]] = []
    for block in message.content:
        if isinstance(block, m.TextBlock):
            text.append(block.text)
        elif isinstance(block, m.ThinkingBlock):
            reasoning.append(block.thinking)
            if block.signature:
                signatures.append(block.signature)
        elif isinstance(block, m.RedactedThinkingBlock):
            signatures.append(block.data)
        elif isinstance(block, m.ToolUseBlock):
            value = block.input
            if block.parse_error is not None and block.input_json is not None:
                value = ("unparsed", block.input_json)
            calls.append((block.id or None, block.name, value))
        else:
            others.append(block.type)
    return View(
        id=message.id or None,
        model=message.model or None,
        text="".join(text),
        refusal="",
        calls=tuple(calls),
        reasoning="".join(reasoning),
        signatures=tuple(signatures),
        usage=_messages_usage(message.usage),
        finish=_mapped(_MESSAGES_FINISH, message.stop_reason),
        error=_error_message(message.extra.get("error")),
        stop_sequence=message.stop_sequence,
        others=tuple(others),
    )


def _messages_usage(usage: m.Usage | None) -> Usage | None:
    if usage is None:
        return None
    read = usage.cache_read_input_tokens or 0
    write = usage.cache_creation_input_tokens or 0
    total_in = None if usage.input_tokens is None else usage.input_tokens + read + write
    output = usage.output_tokens
    total = None if total_in is None or output is None else total_in + output
    return Usage(total_in, output, total, read, write)


# --- any format -------------------------------------------------------------------


def _mapped(table: dict[str, str], reason: str | None) -> str | None:
    return None if reason is None else table.get(reason, f"raw:{reason}")


def _error_message(error: Any) -> str | None:
    if isinstance(error, dict):
        return str(error.get("message"))
    return None if error is None else str(error)


def view(result: Any, choice: int = 0) -> View:
    """The view of a folded result of any format."""
    if isinstance(result, deltafold.ChatCompletion):
        return chat_view(result, choice)
    if isinstance(result, r.Response):
        return responses_view(result)
    assert isinstance(result, m.Message), type(result)
    return messages_view(result)


def fold(source: Any, fmt: str) -> tuple[Any, StreamError | None]:
    """``fmt``'s own ``assemble`` of ``source`` (its defaults), or the partial of its error."""
    try:
        return ASSEMBLE[fmt](source), None
    except StreamError as error:
        return error.partial, error


def folded_view(source: Any, fmt: str, choice: int = 0) -> View:
    """The view of ``fmt``'s fold of ``source``; an error event's message in ``error``."""
    result, error = fold(source, fmt)
    seen = view(result, choice)
    if error is not None:
        code = None if error.code is None else str(error.code)
        seen = replace(seen, error=error.message, error_code=code, finish="error")
    return seen


_CAN_HOLD_FINISH = {
    "chat": {"refusal": "content_filter", "pause": "stop"},
    "messages": {"content_filter": "refusal"},
    "responses": {"refusal": "content_filter"},
}


def expected_in(source: View, target: str) -> View:
    """What ``target``'s fold of a conversion of ``source`` must say (its mapping table).

    Messages has no refusal (a refusal is text, and the stop reason says it); the
    Responses fold tells ``tool_calls`` from ``stop`` by the calls it holds, and it has
    no cache-write count; Messages has no reasoning-token count, and counts the total
    itself.
    """
    out = source
    finish = _CAN_HOLD_FINISH[target].get(str(out.finish), out.finish)
    if target == "responses" and finish in ("stop", "tool_calls", "pause"):
        finish = "tool_calls" if out.calls else "stop"
    out = replace(out, finish=finish, others=(), error_code=None)
    if target != "messages":
        out = replace(out, stop_sequence=None)
    if target == "messages":
        out = replace(out, text=out.text + out.refusal, refusal="")
    usage = out.usage
    if usage is not None:
        if target == "responses":
            usage = replace(usage, cache_write=0)
        if target == "messages":
            total = None
            if usage.input is not None and usage.output is not None:
                total = usage.input + usage.output
            usage = replace(usage, reasoning=0, total=total)
        out = replace(out, usage=usage)
    return out


def comparable(seen: View, target: str) -> View:
    """``seen`` with what ``target`` cannot hold cleared, to compare with :func:`expected_in`."""
    out = replace(seen, others=(), error_code=None)
    if target == "messages":
        out = replace(out, text=out.text + out.refusal, refusal="")
    if out.usage is not None and target == "responses":
        out = replace(out, usage=replace(out.usage, cache_write=0))
    if out.usage is not None and target == "messages":
        out = replace(out, usage=replace(out.usage, reasoning=0))
    return out
