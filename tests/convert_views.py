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
SUMMARY_JOIN = "\n\n"
"""How a Responses reasoning item's summary parts read as one text (a blank line apart)."""


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
            calls.append((item.call_id or None, item.name, ("custom", item.input)))
        elif isinstance(item, r.Reasoning):
            reasoning.append(SUMMARY_JOIN.join(part.text for part in item.summary))
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
    details = usage.extra.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if isinstance(details, dict) else None
    return Usage(total_in, output, total, read, write, thinking or 0)


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


def data_events(body: bytes) -> list[dict[str, Any]]:
    """The JSON of each SSE event's data, read without deltafold, up to ``[DONE]``."""
    out = []
    for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = b"\n".join(
            line[5:].removeprefix(b" ") for line in block.split(b"\n") if line.startswith(b"data:")
        )
        if data.strip() == b"[DONE]":
            break
        if data.strip():
            out.append(json.loads(data))
    return out


_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def source_view(body: bytes, fmt: str, choice: int = 0) -> View:
    """What a source says as it streams: what a conversion, which cannot wait for the end,
    must carry.

    That is its fold, but for a Responses stream the fold of its events alone (the
    terminal object's ``output`` emptied): OpenAI's terminal object re-encrypts each
    reasoning item, so its ``encrypted_content`` differs from the one the item's
    ``output_item.done`` gave (both are valid) and a block is converted when it closes.
    """
    if fmt != "responses":
        return folded_view(body, fmt, choice)
    events = [
        {**e, "response": {**e["response"], "output": []}} if e.get("type") in _TERMINAL else e
        for e in data_events(body)
    ]
    return folded_view(events, fmt)


_CAN_HOLD_FINISH = {
    "chat": {"refusal": "content_filter", "pause": "stop"},
    "messages": {"content_filter": "refusal"},
    "responses": {"refusal": "content_filter"},
}
_NO_USAGE = Usage(0, 0, 0)
"""What Messages says of an answer whose source counted no tokens (its ``message_start``
must hold a usage)."""


def _calls_in(calls: tuple[tuple[str | None, str, Any], ...], target: str) -> tuple[Any, ...]:
    """Custom (free-text) tool calls as chat and Messages hold them: chat's arguments are the
    text; Messages' input must be an object, so the text is wrapped as ``{"input": text}``."""
    out = []
    for ident, name, value in calls:
        if isinstance(value, tuple) and value[0] == "custom" and target != "responses":
            value = arguments(value[1]) if target == "chat" else {"input": value[1]}
        out.append((ident, name, value))
    return tuple(out)


def _finish_in(finish: str | None, target: str, called: bool) -> str | None:
    finish = _CAN_HOLD_FINISH[target].get(str(finish), finish)
    if target == "responses" and finish in (None, "stop", "tool_calls", "pause"):
        return "tool_calls" if called else "stop"  # a Responses answer always ends
    return finish


def expected_in(source: View, target: str) -> View:
    """What ``target``'s fold of a conversion of ``source`` must say (its mapping table).

    Messages has no refusal (a refusal is text, and the stop reason says it) and no total
    (it is the sum); it always counts tokens, but its ``error`` event holds no usage (a
    failure's usage travels in the event's ``deltafold`` field, for the way back). The
    Responses fold tells ``tool_calls`` from ``stop`` by the calls it holds and always
    says how the answer ended; it has no cache-write count. Only Messages has a stop
    sequence. The blocks no neutral step names go in the ``deltafold`` extension field,
    and error codes may change kind.
    """
    out = replace(
        source,
        calls=_calls_in(source.calls, target),
        finish=_finish_in(source.finish, target, bool(source.calls)),
        others=(),
        error_code=None,
    )
    if target != "messages":
        out = replace(out, stop_sequence=None)
    usage = out.usage
    if target == "messages":
        out = replace(out, text=out.text + out.refusal, refusal="")
        usage = _NO_USAGE if usage is None or out.error is not None else usage
        if usage.input is not None and usage.output is not None:
            usage = replace(usage, total=usage.input + usage.output)
    if target == "responses" and usage is not None:
        usage = replace(usage, cache_write=0)
    return replace(out, usage=usage)


def comparable(seen: View, target: str, source: View) -> View:
    """``seen`` with what ``target`` cannot hold cleared, to compare with :func:`expected_in`
    (an id the target minted where the source had none is not compared)."""
    out = replace(seen, others=(), error_code=None)
    if source.id is None:
        out = replace(out, id=None)
    if target == "messages":
        out = replace(out, text=out.text + out.refusal, refusal="")
    if out.usage is not None and target == "responses":
        out = replace(out, usage=replace(out.usage, cache_write=0))
    return out


def expected_back(source: View, via: str) -> View:
    """What a round trip through ``via`` gives back: everything, but what ``via`` had to
    say where the source said nothing (an end, a token count)."""
    out = source
    if via == "responses" and source.finish is None:
        out = replace(out, finish="tool_calls" if source.calls else "stop")
    if via == "messages" and source.usage is None:
        out = replace(out, usage=_NO_USAGE)
    return out


def comparable_back(seen: View, source: View) -> View:
    """``seen`` after a round trip, to compare with :func:`expected_back` (a minted id is
    not compared)."""
    return replace(seen, id=None) if source.id is None else seen
