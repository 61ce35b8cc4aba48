"""The Messages writer: neutral steps as the events Anthropic's Messages API streams.

``message_start`` (the message with no content, null stop fields and its usage), per block
``content_block_start`` / its deltas / ``content_block_stop``, then ``message_delta`` (the
stop reason, the stop sequence and the usage) and ``message_stop``; an error is an
``error`` event. The Messages fold and the Anthropic SDK fold them.

- text and refusal are ``text`` blocks (``text_delta``; citations of Anthropic's kinds as
  ``citations_delta``); reasoning is a ``thinking`` block (``thinking_delta``, its
  signature as ``signature_delta``; a summary is written as thinking text), or, when it is
  only its signature, ``redacted_thinking`` with the signature as ``data``; a reasoning
  block starts at its first text, since until then it may still turn out redacted;
- a tool call is ``tool_use`` (the id kept, minted from the answer id and block number
  only when missing; the arguments as ``input_json_delta`` fragments exactly as they came);
  a free-text (custom) tool input is wrapped as ``{"input": text}``, as ``input`` must be
  an object;
- a block of kind ``"other"`` that is Anthropic's (its carry says so) is written whole in
  its ``content_block_start``; another format's is carried (``{"raw", "carry"}``, in the
  list ``before``) in the extension of the next ``content_block_start``, or of
  ``message_delta`` (or the ``error`` event) at the end, so it comes back in its place;
- usage goes back out of the OpenAI convention (``messages._usage.anthropic_input``): the
  cache reads and writes are taken out of ``input_tokens``, so the totals stay the same; a
  total that is not input + output (xAI counts reasoning outside the output) is carried
  as ``total_tokens``; an error event has no usage, so a failure's is carried there
  (``counts``, Anthropic's usage object).

Carry: a Messages source's own fields go back where they came from. Another format's go,
as they are, in the extension field ``deltafold`` of an event (never of a content block,
which clients send back to the API): the answer's in ``message_start.message`` and in
``message_delta``, a block's in its ``content_block_start`` (``kind``, ``id``,
``tool_type``, ``carry``) and ``content_block_stop`` (``summary``, ``annotations``,
``carry``) events. The Messages reader reads them back.
"""

from __future__ import annotations

import re
from typing import Any

from .._jsontext import dumps
from ..messages._blocks import BLOCK_TYPES
from ..messages._usage import anthropic_input
from ._ops import EXTENSION, Begin, Block, Close, Delta, Fail, Finish, Open, Step, Usage

__all__ = ["MessagesWriter"]

FORMAT = "messages"
_STOP_REASONS = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "content_filter": "refusal", "refusal": "refusal", "pause": "pause_turn",
}
"""Neutral finish reasons as Anthropic's stop reasons (``stop`` with a stop sequence is
``stop_sequence``; ``error`` becomes an ``error`` event)."""
_CITATIONS = frozenset({
    "char_location", "page_location", "content_block_location", "web_search_result_location",
    "search_result_location",
})
"""Anthropic's citation types; another format's annotations go in the extension."""
_IN_DELTA = frozenset({"stop_details", "container"})
"""A Messages source's message fields that ``message_delta`` sends in its ``delta``."""
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")
_CUSTOM_HEAD = '{"input":"'


class _Out:
    """A block being written: its index in the message (None until it starts) and progress."""

    __slots__ = ("custom", "delta", "ext", "key", "kind", "length", "own", "plain", "wire")

    def __init__(self, kind: str, own: bool) -> None:
        self.kind = kind
        self.own = own
        """Its carry is the Messages source's own."""
        self.wire: int | None = None
        self.delta = "text_delta"
        self.key = "text"
        self.length = 0
        """Characters streamed (the raw text of a wrapped custom input)."""
        self.custom = False
        self.plain = False
        """Started, and its deltas are its text as it is (not a wrapped custom input)."""
        self.ext: dict[str, Any] = {}


def _escaped(text: str) -> str:
    """``text`` as it reads inside a JSON string."""
    return dumps(text).decode()[1:-1]


class MessagesWriter:
    """Neutral steps in, Anthropic Messages events out (see the module docstring)."""

    def __init__(self) -> None:
        self._started = False
        self._answer = ""
        self._blocks: dict[int, _Out] = {}
        self._next = 0
        self._before: list[dict[str, Any]] = []
        """Another format's blocks of kind "other", for the next event's extension."""

    def write(self, step: Step) -> list[dict[str, Any]]:
        """The Messages events for one step."""
        cls = step.__class__
        if cls is Delta:
            out: list[dict[str, Any]] = []
            self.delta(step.block, step.text, out)  # type: ignore[union-attr]
            return out
        if cls is Begin:
            return self._begin(step)  # type: ignore[arg-type]
        if cls is Fail:
            return [self._error(step)]  # type: ignore[arg-type]
        events = [] if self._started else self._begin(Begin())
        if cls is Open:
            events += self._open(step)  # type: ignore[arg-type]
        elif cls is Close:
            events += self._close(step)  # type: ignore[arg-type]
        elif cls is Finish:
            events += self._finish(step)  # type: ignore[arg-type]
        return events

    def delta(self, number: int, text: str, out: list[dict[str, Any]]) -> None:
        """The events of ``Delta(number, text)`` appended to ``out``; the usual one, text for
        a block that started, inline."""
        block = self._blocks.get(number)
        if block is not None and block.plain and text:
            block.length += len(text)
            out.append({"type": "content_block_delta", "index": block.wire,
                        "delta": {"type": block.delta, block.key: text}})
            return
        out += self._delta(Delta(number, text))

    # --- the message -----------------------------------------------------------------------

    def _begin(self, step: Begin) -> list[dict[str, Any]]:
        self._started = True
        self._answer = step.id or ""
        carry = step.carry
        message: dict[str, Any] = {
            "id": step.id or _minted(step), "type": "message", "role": "assistant",
            "model": step.model or "", "content": [], "stop_reason": None, "stop_sequence": None,
        }
        if carry.get("format") == FORMAT:
            message.update((k, v) for k, v in carry.items() if k != "format")
        else:  # the SDKs need a usage here; the counts come in message_delta
            message["usage"] = {"input_tokens": 0, "output_tokens": 0}
            ext = dict(carry)
            if step.created is not None:
                ext["created"] = step.created
            if ext:
                message[EXTENSION] = ext
        return [{"type": "message_start", "message": message}]

    def _finish(self, step: Finish) -> list[dict[str, Any]]:
        events = self._stop_open()
        carry = step.carry
        own = carry.get("format") == FORMAT
        if step.reason == "error" and not own:
            ended = Fail("the answer ended with finish reason 'error'", usage=step.usage)
            return [*events, self._error(ended)]
        if own and "stop_reason" in carry:
            reason = carry["stop_reason"]
        elif step.reason == "stop" and step.stop_sequence is not None:
            reason = "stop_sequence"
        else:
            reason = _STOP_REASONS.get(step.reason) if step.reason is not None else None
        delta: dict[str, Any] = {"stop_reason": reason, "stop_sequence": step.stop_sequence}
        event: dict[str, Any] = {"type": "message_delta", "delta": delta}
        ext: dict[str, Any] = {}
        if own:
            for key, value in carry.items():
                if key in _IN_DELTA:
                    delta[key] = value
                elif key != "format" and key != "stop_reason":
                    event[key] = value
        else:
            ext.update(carry)
        usage = _usage(step.usage, own, ext)
        if usage is not None:
            event["usage"] = usage
        if self._before:
            ext["before"] = self._before
        if ext:
            event[EXTENSION] = ext
        return [*events, event, {"type": "message_stop"}]

    def _error(self, step: Fail) -> dict[str, Any]:
        carry = step.carry
        error = carry.get("error") if carry.get("format") == FORMAT else None
        if error.__class__ is not dict:
            error = {"type": step.code or "api_error", "message": step.message}
        event: dict[str, Any] = {"type": "error", "error": error}
        own = carry.get("format") == FORMAT  # its usage is in its message_start already
        ext = dict(carry) if carry and not own else {}
        if step.usage is not None and not own:  # an error event holds no usage: kept here
            ext["counts"] = _usage(step.usage, False, ext)
        if self._before:
            ext["before"] = self._before
        if ext:
            event[EXTENSION] = ext
        return event

    def _stop_open(self) -> list[dict[str, Any]]:
        """Stop blocks a source left open (its reader closes them; this is the safety net)."""
        events = [{"type": "content_block_stop", "index": out.wire}
                  for out in self._blocks.values() if out.wire is not None]
        self._blocks.clear()
        return events

    # --- blocks ----------------------------------------------------------------------------

    def _open(self, step: Open) -> list[dict[str, Any]]:
        kind = step.kind
        own = step.carry.get("format") == FORMAT
        out = self._blocks[step.block] = _Out(kind, own)
        ext = out.ext
        if step.carry and not own:
            ext["carry"] = step.carry
        if kind == "reasoning":
            out.delta, out.key = "thinking_delta", "thinking"
            if step.id:
                ext["id"] = step.id
            return []  # started at its first text or at its close: it may be redacted
        if kind == "other":
            return []  # written whole at its close
        fields = {k: v for k, v in step.carry.items() if k != "format"} if own else {}
        if kind == "tool":
            out.delta, out.key = "input_json_delta", "partial_json"
            ident = step.id or f"toolu_{_NOT_ID.sub('_', self._answer) or 'deltafold'}_{step.block}"
            block = {"type": "tool_use", "id": ident, "name": step.name or "", "input": {}}
            if step.tool_type != "function":
                out.custom = True
                ext["tool_type"] = step.tool_type
        else:
            block = {"type": "text", "text": ""}
            if kind == "refusal":
                ext["kind"] = "refusal"
        block.update(fields)
        events = [self._start(out, block)]
        if out.custom:
            events.append(self._piece(out, _CUSTOM_HEAD))
        return events

    def _start(self, out: _Out, block: dict[str, Any]) -> dict[str, Any]:
        out.wire = self._next
        out.plain = not out.custom
        self._next += 1
        event = {"type": "content_block_start", "index": out.wire, "content_block": block}
        if self._before:  # another format's blocks that came before this one
            out.ext["before"] = self._before
            self._before = []
        if out.ext:
            event[EXTENSION] = out.ext
            out.ext = {}
        return event

    def _piece(self, out: _Out, text: str) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": out.wire,
                "delta": {"type": out.delta, out.key: text}}

    def _piece_of(self, out: _Out, kind: str, key: str, value: Any) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": out.wire,
                "delta": {"type": kind, key: value}}

    def _delta(self, step: Delta) -> list[dict[str, Any]]:
        out = self._blocks.get(step.block)
        text = step.text
        if out is None or not text or out.kind == "other":
            return []
        events = []
        if out.wire is None:
            events.append(self._start(out, {"type": "thinking", "thinking": "", "signature": ""}))
        out.length += len(text)
        events.append(self._piece(out, _escaped(text) if out.custom else text))
        return events

    def _close(self, step: Close) -> list[dict[str, Any]]:
        final = step.final
        events: list[dict[str, Any]] = []
        out = self._blocks.get(step.block)
        if out is None:  # closed without an Open: open it now
            events += self._open(Open(step.block, final.kind, final.id, final.name,
                                      final.tool_type, final.carry))
            out = self._blocks[step.block]
        del self._blocks[step.block]
        if out.kind == "other":
            return events + self._other(out, final)
        if out.kind == "reasoning" and out.wire is None:
            block = ({"type": "redacted_thinking", "data": final.signature or ""} if final.redacted
                     else {"type": "thinking", "thinking": "", "signature": ""})
            if final.redacted:
                out.kind = "redacted"
            events.append(self._start(out, block))
        tail = final.text[out.length:] if len(final.text) > out.length else ""
        if out.custom:
            events.append(self._piece(out, _escaped(tail) + '"}'))
        elif tail and out.kind != "redacted":
            events.append(self._piece(out, tail))
        ext: dict[str, Any] = {}
        if out.kind == "reasoning":
            if final.signature:
                events.append(self._piece_of(out, "signature_delta", "signature", final.signature))
            if final.summary:
                ext["summary"] = True
        for note in final.annotations:
            if note.get("type") in _CITATIONS:
                events.append(self._piece_of(out, "citations_delta", "citation", note))
            else:
                ext.setdefault("annotations", []).append(note)
        if final.carry and final.carry.get("format") != FORMAT:
            ext["carry"] = final.carry
        stop: dict[str, Any] = {"type": "content_block_stop", "index": out.wire}
        if ext:
            stop[EXTENSION] = ext
        events.append(stop)
        return events

    def _other(self, out: _Out, final: Block) -> list[dict[str, Any]]:
        raw = final.raw
        if raw is None:
            return []
        source = final.carry.get("format")
        anthropic = out.own or source == FORMAT or (
            source is None and raw.get("type") in BLOCK_TYPES)
        if not anthropic:  # another format's: kept in the next event's extension
            other: dict[str, Any] = {"raw": raw}
            if final.carry:
                other["carry"] = final.carry
            self._before.append(other)
            return []
        out.ext = {}
        start = self._start(out, raw)
        return [start, {"type": "content_block_stop", "index": out.wire}]


def _minted(step: Begin) -> str:
    """A message id for an answer that had none, the same for the same answer."""
    if step.created is None:
        return "msg_deltafold"
    return f"msg_deltafold_{_NOT_ID.sub('_', step.model or '')}_{step.created}"


def _usage(usage: Usage | None, own: bool, ext: dict[str, Any]) -> dict[str, Any] | None:
    """``message_delta``'s usage; another format's usage carry, and a total that is not
    input + output, go in ``ext`` (the event's extension)."""
    if usage is None:
        return None if own else {"output_tokens": 0}
    total = usage.total_tokens
    if total is not None and (usage.input_tokens is None or usage.output_tokens is None or
                              total != usage.input_tokens + usage.output_tokens):
        ext["total_tokens"] = total
    wire: dict[str, Any] = {}
    fresh = anthropic_input(usage.input_tokens, usage.cache_read, usage.cache_write)
    if fresh is not None:
        wire["input_tokens"] = fresh
    if usage.cache_write is not None:
        wire["cache_creation_input_tokens"] = usage.cache_write
    if usage.cache_read is not None:
        wire["cache_read_input_tokens"] = usage.cache_read
    wire["output_tokens"] = usage.output_tokens or 0
    carry = usage.carry
    if carry.get("format") == FORMAT:
        wire.update((k, v) for k, v in carry.items() if k != "format")
        return wire
    if usage.reasoning_tokens is not None:
        wire["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    if carry:
        ext["usage"] = carry
    return wire
