"""The Messages reader: an Anthropic Messages stream as neutral steps.

Each event is folded by the Messages fold (``deltafold.messages.Accumulator``), whose
typed events become the steps: a content block is a block (``text``; ``thinking`` is
reasoning with its signature; ``redacted_thinking`` is reasoning that is only its
signature; ``tool_use`` is a tool call whose arguments are the input's JSON text as
streamed; any other block, a server tool's call or result, is ``"other"`` with its final
wire dict). The usage is given in the OpenAI convention by ``messages._usage``, the one
place that converts it. ``message_stop`` finishes the answer, an ``error`` event fails it.

What the steps have no field for is carried: ``{"format": "messages", ...}`` with the
message's own fields (its usage at ``message_start``, the raw stop reason, ``container``,
``stop_details``...), a block's fields besides the mapped ones (``caller``), the usage's
details. A stream the Messages writer made from another format holds that format's carry
in the extension field ``deltafold`` (of ``message_start.message``, of
``content_block_start`` / ``content_block_stop`` events, of ``message_delta``): it is
handed on as it is, so converting back gives the source again; the blocks Messages has
no block for come back in their place (``before`` of the next ``content_block_start``, of
``message_delta`` or of the ``error`` event).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from attrs import evolve

from .._decode import decode_chunk
from .._events import ToolCallDone
from .._exceptions import StreamError
from .._jsontext import dumps
from .._limits import Limits
from ..messages import _blocks as mb
from ..messages._events import BlockStopped
from ..messages._fold import Accumulator
from ..messages._models import Message
from ..messages._models import Usage as MessagesUsage
from ..messages._usage import openai_tokens
from ._ops import (
    EXTENSION,
    Begin,
    Block,
    BlockKind,
    Close,
    Delta,
    DeltaSink,
    Fail,
    Finish,
    FinishReason,
    Open,
    Step,
    StepSink,
    Usage,
    as_delta,
    drop,
    extend,
    given_back,
)

__all__ = ["MessagesReader"]

FORMAT = "messages"
_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "tool_use": "tool_calls",
    "refusal": "refusal", "pause_turn": "pause",
}
"""Anthropic's stop reasons in neutral words; any other is carried raw (reason None)."""
_BEGIN_MAPPED = frozenset(
    {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", EXTENSION}
)
"""The ``message_start`` fields the steps say; the others (its usage too) are carried."""
_FINISH_MAPPED = frozenset({"id", "type", "role", "model", "content", "stop_sequence",
                            "usage", EXTENSION})
"""The message's fields ``Finish`` says; the others (the raw stop reason too) are carried."""
_USAGE_MAPPED = frozenset({
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
})
_MESSAGE_EVENTS = frozenset({
    "message_start", "message", "content_block_start", "content_block_stop", "message_delta",
    "message_stop",
})
_DELTA_TYPES = {"text": "text_delta", "thinking": "thinking_delta",
                "partial_json": "input_json_delta"}
"""The field holding a block's new text, and the delta that brings it (what the fold's
ContentDelta, ReasoningDelta and, for a ``tool_use`` block, ToolCallArgumentsDelta say)."""
_NEVER = object()
_STREAMED = {"text": "text", "refusal": "text", "reasoning": "thinking", "tool": "partial_json"}
"""The field whose deltas a block of each kind streams as ``Delta`` steps."""


class _Open:
    """A content block between its start and its stop."""

    __slots__ = ("carry", "delta_type", "ext", "key", "kind", "number", "tool_type")

    def __init__(self, number: int, kind: BlockKind, ext: dict[str, Any]) -> None:
        self.number = number
        self.kind = kind
        self.ext = ext
        """The start event's extension (a block the Messages writer made from another format)."""
        self.tool_type = str(ext.get("tool_type") or "function")
        self.carry: dict[str, Any] = {}
        self.key = _STREAMED.get(kind) if self.tool_type == "function" else None
        """The delta field streamed as ``Delta`` steps (None: nothing is, until the close)."""
        self.delta_type: object = _NEVER if self.key is None else _DELTA_TYPES[self.key]
        """The delta type that brings the streamed field (one no delta has, when none is)."""


def _ext(value: Any) -> dict[str, Any]:
    return value if value.__class__ is dict else {}


_KINDS: dict[str, BlockKind] = {
    "text": "text", "thinking": "reasoning", "redacted_thinking": "reasoning", "tool_use": "tool",
}
"""The block types the steps say; any other is ``"other"``, carried as its wire dict."""
_MAPPED = {
    "text": frozenset({"type", "text", "citations"}),
    "thinking": frozenset({"type", "thinking", "signature"}),
    "redacted_thinking": frozenset({"type", "data"}),
    "tool_use": frozenset({"type", "id", "name", "input"}),
}
"""A block's fields the steps say; the others (a tool_use's ``caller``) are carried."""


def _str(value: Any) -> str | None:
    return value if value.__class__ is str and value else None


def _carry(fields: dict[str, Any]) -> dict[str, Any]:
    """The source's own fields the steps have no room for, marked with the format; {} if none."""
    return {"format": FORMAT, **fields} if fields else {}


def neutral_usage(usage: MessagesUsage | None) -> Usage | None:
    """Anthropic's usage in the OpenAI convention (cache reads and writes in the input)."""
    if usage is None:
        return None
    wire = usage.to_dict()
    prompt, output, total, cached = openai_tokens(wire)
    details = wire.get("output_tokens_details")
    thinking = details.get("thinking_tokens") if details.__class__ is dict else None
    return Usage(
        input_tokens=prompt, output_tokens=output, total_tokens=total, cache_read=cached,
        cache_write=usage.cache_creation_input_tokens,
        reasoning_tokens=thinking if thinking.__class__ is int else None,
        carry=_carry({k: v for k, v in wire.items() if k not in _USAGE_MAPPED}),
    )


class MessagesReader:
    """Anthropic Messages events in, neutral steps out (see the module docstring).

    ``choice`` is ignored: a message is one answer.
    """

    def __init__(self, *, limits: Limits | None = None, choice: int | None = None) -> None:
        del choice
        self._fold = Accumulator(limits=limits)
        self._open: dict[int, _Open] = {}
        """The open blocks by their index in the message."""
        self._indices: list[int] = []
        """Every block index the message holds, in the order they came."""
        self._next = 0
        self._begun = False
        self._ended = False
        self._end_ext: dict[str, Any] = {}

    def read_batch(
        self, items: Iterable[Any], out: list[Any], write: StepSink, emit: DeltaSink
    ) -> None:
        """Read Messages events in order (see ``_ops.Reader``); a delta of a block that
        streams its text is the hot path, inline."""
        fold = self._fold
        add = fold.add
        opened = self._open
        for event in items:
            if event.__class__ is not dict:
                event = decode_chunk(event, fold.chunks_folded)
                if event is None:  # an SSE event without data
                    continue
            if event.get("type") == "content_block_delta":
                add(event)  # checked and appended by the fold (which raises when it is wrong)
                state = opened.get(event["index"])  # None: after a failure, nothing is said
                if state is not None:
                    delta = event["delta"]
                    if delta.get("type") == state.delta_type:  # never for a block not streamed
                        text = delta[state.key]
                        if text:
                            emit(state.number, text, out)
                continue
            steps = self._read_one(event)
            if steps and not write(steps, out):
                emit = drop

    def read(self, item: Any) -> list[Step]:
        """Steps for one Messages event."""
        steps: list[Any] = []
        self.read_batch((item,), steps, extend, as_delta)
        return steps

    def _read_one(self, event: dict[str, Any]) -> list[Step]:
        """Steps for an event that is not a content block's delta."""
        fold = self._fold
        kind = event.get("type")
        if kind == "content_block_start" and self._begun and not self._ended:
            fold.add(event)  # checked by the fold; the start is read as it took it
            index = event["index"]
            self._indices.append(index)
            return self._open_block(index, event["content_block"], _ext(event.get(EXTENSION)))
        try:
            events = fold.feed(event)
        except StreamError as exc:
            return self._fail(exc, _ext(event.get(EXTENSION)))
        if kind not in _MESSAGE_EVENTS or self._ended:
            return []  # ping, an event the fold kept as unknown, or one after the end
        steps: list[Step] = []
        if not self._begun:
            steps.append(self._begin(event))
            if kind == "message_start" or kind == "message":
                steps += self._whole_blocks(len(_content(event)))
        if kind == "content_block_start":
            index = event["index"]
            self._indices.append(index)
            steps += self._open_block(index, event["content_block"], _ext(event.get(EXTENSION)))
        elif kind == "content_block_stop":
            self._stop(events, event, steps)
        elif kind == "message_delta":
            self._end_ext = _ext(event.get(EXTENSION))
        if fold.stopped:  # message_stop, or a whole message
            steps += self._finish()
        return steps

    def close(self) -> list[Step]:
        """Nothing more at the end of a message that finished (or failed); else the fold's
        :class:`IncompleteStreamError` (with the partial message), never a made-up finish."""
        if not self._ended:
            self._fold.result(strict=True)
        return []

    # --- blocks ----------------------------------------------------------------------------

    def _open_block(self, index: int, block: dict[str, Any], ext: dict[str, Any]) -> list[Step]:
        """Open the block ``block`` (its start as the fold took it) at ``index``."""
        before = self._others(ext.get("before")) if ext else []
        kind = _KINDS.get(block["type"], "other")
        if kind == "text" and ext.get("kind") == "refusal":
            kind = "refusal"
        state = self._open[index] = _Open(self._next, kind, ext)
        self._next += 1
        name = None
        if kind == "tool":
            ident, name = _str(block.get("id")), _str(block.get("name"))
        else:
            ident = _str(ext.get("id"))
        if ext:
            state.carry = _ext(ext.get("carry"))
        elif kind == "other":
            state.carry = {"format": FORMAT}  # its raw dict is Anthropic's
        else:
            mapped = _MAPPED[block["type"]]
            state.carry = _carry({k: v for k, v in block.items() if k not in mapped})
        steps = before
        steps.append(Open(state.number, kind, ident, name, state.tool_type, state.carry))
        text = block.get("thinking" if kind == "reasoning" else "text") if kind != "tool" else None
        if text.__class__ is str and text:
            steps.append(Delta(state.number, text))
        return steps

    def _stop(self, events: list[Any], event: dict[str, Any], steps: list[Step]) -> None:
        block = arguments = None
        for found in events:
            if found.__class__ is BlockStopped:
                block = found.block
            elif found.__class__ is ToolCallDone:
                arguments = found.arguments
        if block is None:
            return
        state = self._open.pop(event["index"])
        final = self._final(block, state, arguments, _ext(event.get(EXTENSION)))
        steps.append(Close(state.number, final))

    def _final(
        self, block: mb.Block, state: _Open, arguments: str | None, ext: dict[str, Any]
    ) -> Block:
        """The block's final form; ``ext``: the stop event's extension, when it has one."""
        kind = state.kind
        carry = _ext(ext.get("carry")) if ext or state.ext else state.carry
        ident = _str(state.ext.get("id"))
        if isinstance(block, mb.TextBlock):
            notes = list(block.citations or ()) + list(ext.get("annotations") or ())
            return Block(kind, block.text, id=ident, annotations=notes, carry=carry)
        if isinstance(block, mb.ThinkingBlock):
            return Block(kind, block.thinking, id=ident, summary=bool(ext.get("summary")),
                         signature=block.signature or None, carry=carry)
        if isinstance(block, mb.RedactedThinkingBlock):
            return Block(kind, id=ident, signature=block.data, redacted=True, carry=carry)
        if isinstance(block, mb.ToolUseBlock):
            text = arguments if arguments is not None else _input_text(block)
            if state.tool_type != "function":  # a free-text input the writer wrapped
                value = block.input
                text = value.get("input", "") if value.__class__ is dict else text
            return Block(kind, text, id=block.id, name=block.name,
                         tool_type=state.tool_type, carry=carry)
        return Block("other", raw=block.to_dict(), carry=carry)

    def _close_open(self) -> list[Step]:
        """Close every block still open (a message stopped or failed with one open)."""
        if not self._open:
            return []
        done = {e.tool_index: e.arguments for e in self._fold.close()
                if e.__class__ is ToolCallDone}
        message = self._fold.snapshot()
        where = {index: at for at, index in enumerate(sorted(self._indices))}
        steps: list[Step] = []
        for index in sorted(self._open):
            state = self._open.pop(index)
            block = message.content[where[index]]
            steps.append(Close(state.number, self._final(block, state, done.get(index), {})))
        return steps

    # --- the message -----------------------------------------------------------------------

    def _begin(self, event: dict[str, Any]) -> Begin:
        """The answer began: at its ``message_start`` (read as the fold took it, the first
        event holding the message), or at its first event when the stream lacks one."""
        self._begun = True
        kind = event.get("type")
        message = event.get("message") if kind == "message_start" else (
            event if kind == "message" else None)
        if message.__class__ is not dict:
            return Begin()
        ident, model = _str(message.get("id")), _str(message.get("model"))
        ext = message.get(EXTENSION)
        if ext.__class__ is dict:  # made by the Messages writer from another format
            created = ext.get("created")
            carry = {k: v for k, v in ext.items() if k != "created"} if "format" in ext else {}
            return Begin(ident, model, created if created.__class__ is int else None, carry)
        return Begin(ident, model, None, _carry(
            {k: v for k, v in message.items() if k not in _BEGIN_MAPPED}))

    def _whole_blocks(self, count: int) -> list[Step]:
        """The ``count`` blocks a ``message_start`` (or a whole message) carried complete."""
        if not count:
            return []
        steps: list[Step] = []
        for index, block in enumerate(self._fold.snapshot().content[:count]):
            self._indices.append(index)
            steps += self._open_block(index, block.to_dict(), {})
            state = self._open.pop(index)
            steps.append(Close(state.number, self._final(block, state, None, {})))
        return steps

    def _finish(self) -> list[Step]:
        self._ended = True
        steps = self._close_open()
        head = self._fold.head()
        ext = self._end_ext
        if ext:  # made by the Messages writer from another format
            carry = _foreign_carry(ext)
            steps += self._others(ext.get("before"))
        else:
            wire = head.to_dict()
            carry = _carry({k: v for k, v in wire.items() if k not in _FINISH_MAPPED})
        raw = head.stop_reason
        reason = _REASONS.get(raw) if raw is not None else None
        usage = _usage_back(neutral_usage(head.usage), ext)
        steps.append(Finish(reason, head.stop_sequence, usage, carry))
        return steps

    def _others(self, entries: Any) -> list[Step]:
        """Blocks of another format the Messages writer could not hold, as they were."""
        given = given_back(entries, self._next)
        self._next += len(given) // 2
        return given

    def _fail(self, exc: StreamError, ext: dict[str, Any]) -> list[Step]:
        self._ended = True
        steps = self._close_open()
        partial = exc.partial
        counts = ext.get("counts") if ext else None
        if counts.__class__ is dict:  # a failure's usage the Messages writer kept
            usage = _usage_back(neutral_usage(MessagesUsage.from_dict(counts)), ext)
        else:
            usage = neutral_usage(partial.usage) if isinstance(partial, Message) else None
        code = None if exc.code is None else str(exc.code)
        error = exc.error if exc.error.__class__ is dict else {"message": exc.message}
        carry = _foreign_carry(ext) if ext else {}
        steps += self._others(ext.get("before")) if ext else []
        steps.append(Fail(exc.message, code, usage, carry or {"format": FORMAT, "error": error}))
        return steps


_NOT_CARRY = frozenset({"before", "usage", "total_tokens", "counts"})
"""The keys of an extension that are not the source's carry (see ``_write_messages``)."""


def _foreign_carry(ext: dict[str, Any]) -> dict[str, Any]:
    """Another format's carry, from an extension field the Messages writer wrote."""
    if "format" not in ext:
        return {}
    return {k: v for k, v in ext.items() if k not in _NOT_CARRY}


def _usage_back(usage: Usage | None, ext: dict[str, Any]) -> Usage | None:
    """The usage with what the extension kept: another format's usage carry and a total
    that is not input + output."""
    if usage is None or not ext:
        return usage
    total = ext.get("total_tokens")
    carry = ext.get("usage")
    if total.__class__ is int:
        usage = evolve(usage, total_tokens=total)
    if carry.__class__ is dict:
        usage = evolve(usage, carry=carry)
    return usage


def _content(event: dict[str, Any]) -> list[Any]:
    message = event if event.get("type") == "message" else event.get("message")
    content = message.get("content") if message.__class__ is dict else None
    return content if content.__class__ is list else []


def _input_text(block: mb.ToolUseBlock) -> str:
    """A whole tool block's input as JSON text (the text as streamed, when it did not parse)."""
    if block.input_json is not None:
        return block.input_json
    return dumps(block.input).decode()
