"""The Messages fold: a sans-IO state machine from stream events to one ``Message``.

It has the chat ``Accumulator``'s shape (the ``FoldMachine`` of ``_format``), so
the one stream core, the drivers, ``fold``/``afold`` and ``assemble`` drive it.
Per event the work is a dict lookup on ``type`` and an append; blocks are built
when a snapshot or the result asks. The rules (docs/messages.md):

- ``message_start`` gives the message as it starts (content it carries is kept,
  whole); a whole message object (the non-streaming answer) folds the same way
  and is complete;
- blocks are addressed by ``index`` and open from their ``content_block_start`` to
  their ``content_block_stop``; a start at a taken index, or a delta or stop for a
  block that is not open, is a :class:`ChunkDecodeError` (with ``.path``) carrying
  the partial message;
- text and thinking deltas append; ``citations_delta`` appends a citation;
  ``signature_delta`` sets the signature; ``input_json_delta`` fragments are kept
  and parsed once at the block's stop, or as they arrive with ``parse_json``; a
  delta of an unknown type sets its fields on the block and is kept in
  ``Message.unknown_events``;
- ``message_delta`` merges its delta, its usage and its other fields field by
  field: a value replaces the one before (``output_tokens`` is cumulative), a null
  never erases one;
- ``ping`` is ignored; an ``error`` event raises :class:`StreamError`; a
  ``message_start`` after ``message_stop`` raises :class:`MultipleMessagesError`
  (``assemble_all`` folds each message); an event of an unknown type is kept in
  ``Message.unknown_events``, unless it is another format's (:class:`WrongFormatError`);
- ``result()`` of a stream without ``message_stop`` raises
  :class:`IncompleteStreamError` with ``.partial`` (``strict=False`` returns it).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from .._convert import from_dict
from .._decode import InputSeen, decode_chunk, raw_form, stream_error
from .._events import (
    ChoiceFinished,
    ContentDelta,
    JSONDelta,
    JSONInvalid,
    ReasoningDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UsageUpdated,
)
from .._exceptions import (
    ChunkDecodeError,
    DeltafoldError,
    EmptyStreamError,
    IncompleteStreamError,
    JSONParseError,
    MultipleMessagesError,
)
from .._format import refuse_other_format
from .._json_fold import ParsedText, ParseJSON, json_targets
from .._limits import Limits, limit_error
from .._partial_json import PartialJSON
from .._plural import plural
from ._events import BlockStarted, BlockStopped, CitationAdded, Event, SignatureAdded
from ._models import Message
from ._state import TEXT_KEYS, BlockState
from ._usage import chat_usage

__all__ = ["Accumulator"]

_CAUGHT = (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError)
"""Python errors a malformed event may still cause; each becomes a ChunkDecodeError."""
_DELTA_TEXT = {"text_delta": ("text", "text"), "thinking_delta": ("thinking", "thinking")}
"""A text-like delta type: (its field, the block type it appends to)."""


def _bad(position: int, event: Any, path: str, problem: str) -> ChunkDecodeError:
    kind = event.get("type") if event.__class__ is dict else None
    return ChunkDecodeError(
        f"event {position} ({kind}): {problem} (at {path})", raw=raw_form(event),
        position=position, path=path,
    )


class Accumulator:
    """Folds Anthropic Messages stream events; ``snapshot()`` at any point, ``result()`` at the end.

    ``parse_json`` (True or ``"arguments"``) feeds each tool block's input fragments to
    the linear JSON parser as they arrive: ``partial_json(0, block_index)`` is the live
    parser, and ``JSONDelta`` events follow the ``ToolCallArgumentsDelta`` events.

    >>> acc = Accumulator()
    >>> _ = acc.feed({"type": "message_start", "message": {"id": "msg_1", "content": []}})
    >>> _ = acc.feed({"type": "content_block_start", "index": 0,
    ...               "content_block": {"type": "text", "text": ""}})
    >>> _ = acc.feed({"type": "content_block_delta", "index": 0,
    ...               "delta": {"type": "text_delta", "text": "Hi"}})
    >>> acc.result(strict=False).text
    'Hi'
    """

    def __init__(self, *, limits: Limits | None = None, parse_json: ParseJSON = False) -> None:
        self._limits = limits = limits or Limits()
        self._max_field = sys.maxsize if limits.max_field_chars is None else limits.max_field_chars
        self._parse = json_targets(parse_json)[0]  # TypeError for a bad value
        self._top: dict[str, Any] = {}
        self._usage: dict[str, Any] | None = None
        self._blocks: dict[int, BlockState] = {}
        self._open: dict[int, BlockState] = {}
        self._unknown: list[dict[str, Any]] = []
        self._count = 0
        self._input: InputSeen | None = None
        self._known = False
        self._started = False
        self._stopped = False
        self._token = False
        self._closed = False

    @property
    def limits(self) -> Limits:
        """The limits this accumulator enforces."""
        return self._limits

    @property
    def chunks_folded(self) -> int:
        """How many events have been fed (also the position of the next one)."""
        return self._count

    @property
    def stopped(self) -> bool:
        """Whether ``message_stop`` (or a whole message) arrived."""
        return self._stopped

    def feed(self, event: Any) -> list[Event]:
        """Fold one event (a dict, its JSON text or bytes, an SDK event) and return its events."""
        events: list[Event] = []
        self.add(event, events)
        return events

    def feed_many(self, events: Iterable[Any]) -> None:
        """Fold many events without producing events (the fast path of ``assemble``)."""
        for event in events:
            self.add(event)

    def add(self, event: Any, events: list[Event] | None = None) -> None:
        """Fold one event; the events it caused are appended to ``events`` when given.

        Raises :class:`StreamError` for an ``error`` event and :class:`ChunkDecodeError`
        for an event that cannot be read, both with ``.partial``.
        """
        position = self._count
        self._count = position + 1
        try:
            if event.__class__ is not dict:
                event = decode_chunk(event, position)
                if event is None:  # an SSE event without data: not an event of the stream
                    self._count = position
                    return
            if event.get("type") == "content_block_delta":
                state = self._open.get(event.get("index"))
                delta = event.get("delta")
                if state is not None and events is None and delta.__class__ is dict:
                    text = delta.get("text")
                    if text.__class__ is str and state.kind == "text" and (
                        delta.get("type") == "text_delta"
                    ):
                        state.parts.append(text)  # the hot path, inline
                        state.size = size = state.size + len(text)
                        if size > self._max_field:
                            raise limit_error("max_field_chars", size, self._max_field, "text")
                        self._token = True
                        return
                self._delta(event, state, delta, position, events)
            else:
                self._other(event, position, events)
        except DeltafoldError as exc:
            if exc.partial is None and self._known:
                exc.partial = self.snapshot()
            raise
        except _CAUGHT as exc:
            error = ChunkDecodeError(
                f"event {position}: malformed event ({type(exc).__name__}: {exc})",
                raw=raw_form(event), position=position,
            )
            if self._known:
                error.partial = self.snapshot()
            raise error from exc

    # --- content blocks ------------------------------------------------------------------

    def _delta(
        self, event: dict[str, Any], state: BlockState | None, delta: Any, position: int,
        events: list[Event] | None,
    ) -> None:
        self._known = True
        if state is None:
            raise self._not_open(event, position)
        if delta.__class__ is not dict:
            raise _bad(position, event, "delta", "expected an object")
        kind = delta.get("type")
        if kind in _DELTA_TEXT:
            key, block_kind = _DELTA_TEXT[kind]
            text = delta.get(key)
            if text.__class__ is not str:
                raise _bad(position, event, f"delta.{key}", "expected a string")
            if state.kind != block_kind:
                raise _bad(position, event, "delta.type", f"a {kind} for a {state.kind} block")
            self._append(state, text, key)
            if events is not None:
                cls = ContentDelta if kind == "text_delta" else ReasoningDelta
                events.append(cls(0, text))
        elif kind == "input_json_delta":
            self._input_delta(event, state, delta, position, events)
        elif kind == "signature_delta":
            signature = delta.get("signature")
            if signature.__class__ is not str:
                raise _bad(position, event, "delta.signature", "expected a string")
            state.signature = signature
            if events is not None:
                events.append(SignatureAdded(state.index, signature))
        elif kind == "citations_delta":
            citation = delta.get("citation")
            if citation.__class__ is not dict:
                raise _bad(position, event, "delta.citation", "expected an object")
            if state.citations is None:
                state.citations = []
            state.citations.append(citation)
            if events is not None:
                events.append(CitationAdded(state.index, citation))
        else:
            fields = {k: v for k, v in delta.items() if k != "type"}
            if state.updates is None:
                state.updates = {}
            state.updates.update(fields)
            self._unknown.append(event)

    def _append(self, state: BlockState, text: str, key: str) -> None:
        state.parts.append(text)
        state.size = size = state.size + len(text)
        if size > self._max_field:
            raise limit_error("max_field_chars", size, self._max_field, key)
        if text:
            self._token = True

    def _input_delta(
        self, event: dict[str, Any], state: BlockState, delta: dict[str, Any], position: int,
        events: list[Event] | None,
    ) -> None:
        fragment = delta.get("partial_json")
        if fragment.__class__ is not str:
            raise _bad(position, event, "delta.partial_json", "expected a string")
        state.size = size = state.size + len(fragment)
        if size > self._max_field:
            raise limit_error("max_field_chars", size, self._max_field, "input")
        if fragment:
            self._token = True
        result = state.add_input(fragment)
        if events is not None:
            if state.kind == "tool_use":
                events.append(ToolCallArgumentsDelta(0, state.index, fragment))
            if result:
                events.append(_json_event(state.index, result))

    def _not_open(self, event: dict[str, Any], position: int) -> ChunkDecodeError:
        index = event.get("index")
        if index.__class__ is not int:
            return _bad(position, event, "index", f"expected a block index (int), got {index!r}")
        what = "was stopped" if index in self._blocks else "was never started"
        return _bad(position, event, "index", f"block {index} {what}")

    def _block_start(
        self, event: dict[str, Any], position: int, events: list[Event] | None
    ) -> None:
        index = event.get("index")
        if index.__class__ is not int:
            raise _bad(position, event, "index", f"expected a block index (int), got {index!r}")
        block = event.get("content_block")
        if block.__class__ is not dict or block.get("type").__class__ is not str:
            raise _bad(position, event, "content_block", "expected an object with a type")
        if index in self._blocks:
            raise _bad(position, event, "index", f"block {index} was already started")
        state = self._blocks[index] = self._open[index] = BlockState(index, block)
        if state.kind in TEXT_KEYS and block.get(TEXT_KEYS[state.kind]):
            self._token = True
        if self._parse and "input" in block:
            state.parser = ParsedText(self._limits)
        if events is not None:
            events.append(BlockStarted(index, state.build()))
            if state.kind == "tool_use":
                events.append(ToolCallStarted(0, index, _text(block, "id"), _text(block, "name")))

    def _block_stop(
        self, event: dict[str, Any], position: int, events: list[Event] | None
    ) -> None:
        state = self._open.pop(event.get("index"), None)  # type: ignore[arg-type]
        if state is None:
            raise self._not_open(event, position)
        result = state.finish(self._limits)
        if events is not None:
            if result:
                events.append(_json_event(state.index, result))
            block = state.build()
            events.append(BlockStopped(state.index, block))
            if state.kind == "tool_use":
                events.append(_call_done(state))

    # --- the message level ---------------------------------------------------------------

    def _other(self, event: dict[str, Any], position: int, events: list[Event] | None) -> None:
        kind = event.get("type")
        if kind == "content_block_start":
            self._known = True
            self._block_start(event, position, events)
        elif kind == "content_block_stop":
            self._known = True
            self._block_stop(event, position, events)
        elif kind == "message_delta":
            self._known = True
            self._message_delta(event, position, events)
        elif kind == "message_start" or kind == "message":
            self._message_start(event, position, events)
        elif kind == "message_stop":
            self._known = True
            self._stopped = True
            if len(event) > 1:
                self._unknown.append(event)  # a gateway's metrics, kept
        elif kind == "ping":
            return
        elif kind == "error" or (kind is None and "error" in event):
            error = event.get("error")
            if error.__class__ is not dict:
                error = {k: v for k, v in event.items() if k != "type"}
            exc = stream_error(error, position)
            if exc.code is None and error.get("type").__class__ is str:
                exc.code = error["type"]  # Anthropic's error kind (overloaded_error...)
            raise exc
        else:
            if not self._known:
                refuse_other_format(event, position, "messages")
            self._unknown.append(event)

    def _message_start(
        self, event: dict[str, Any], position: int, events: list[Event] | None
    ) -> None:
        whole = event.get("type") == "message"
        message = event if whole else event.get("message")
        if message.__class__ is not dict:
            raise _bad(position, event, "message", "expected an object")
        if self._started:
            if self._stopped:
                raise MultipleMessagesError(
                    f"event {position}: a new message_start ({message.get('id') or 'no id'}) "
                    "after message_stop: the input holds several messages; "
                    "deltafold.messages.assemble_all() folds each"
                )
            raise _bad(position, event, "type", "a second message_start before message_stop")
        self._known = self._started = True
        content = message.get("content")
        if content is not None and content.__class__ is not list:
            raise _bad(position, event, "message.content", "expected a list")
        for index, block in enumerate(content or ()):
            if block.__class__ is not dict:
                raise _bad(position, event, f"message.content[{index}]", "expected an object")
            self._blocks[index] = BlockState(index, block, done=True)
        top = self._top
        for key, value in message.items():
            if key == "usage":
                self._merge_usage(value, position, event, events)
            elif key != "content" and (value is not None or key not in top):
                top[key] = value
        if whole:
            self._stopped = True

    def _message_delta(
        self, event: dict[str, Any], position: int, events: list[Event] | None
    ) -> None:
        top = self._top
        before = top.get("stop_reason")
        for key, value in event.items():
            if key == "delta":
                if value.__class__ is not dict:
                    raise _bad(position, event, "delta", "expected an object")
                for name, item in value.items():
                    if item is not None or name not in top:
                        top[name] = item
            elif key == "usage":
                self._merge_usage(value, position, event, events)
            elif key != "type" and (value is not None or key not in top):
                top[key] = value
        after = top.get("stop_reason")
        if events is not None and after != before and after.__class__ is str:
            events.append(ChoiceFinished(0, after))

    def _merge_usage(
        self, usage: Any, position: int, event: dict[str, Any], events: list[Event] | None
    ) -> None:
        """Usage field by field: a value replaces the one before, a null never erases one."""
        if usage is None:
            return
        if usage.__class__ is not dict:
            raise _bad(position, event, "usage", "expected an object")
        merged = self._usage
        if merged is None:
            merged = self._usage = {}
        for key, value in usage.items():
            if value is not None or key not in merged:
                merged[key] = value
        if events is not None:
            events.append(UsageUpdated(chat_usage(merged)))

    # --- end of stream and results -------------------------------------------------------

    def close(self) -> list[Event]:
        """Mark the end of the stream: a block never stopped is finished as at its stop.

        Returns the ToolCallDone (and the JSON report) of those blocks.
        Idempotent; ``result()`` calls it.
        """
        if self._closed:
            return []
        self._closed = True
        events: list[Event] = []
        for index in sorted(self._open):
            state = self._open[index]
            result = state.finish(self._limits)  # parsed once, as at its stop
            if result:
                events.append(_json_event(index, result))
            if state.kind == "tool_use":
                events.append(_call_done(state))
        return events

    def head(self) -> Message:
        """The message as folded so far without its content: its fields, stop reason and
        usage, built fresh and without building a block (a converter reads it per message)."""
        data = dict(self._top)
        data["content"] = []
        if self._usage is not None:
            data["usage"] = self._usage
        message: Message = from_dict(Message, data)
        return message

    def snapshot(self) -> Message:
        """The message as folded so far: valid at any point, built fresh each call."""
        blocks = self._blocks
        message = self.head()
        message.content = [blocks[i].build() for i in sorted(blocks)]
        if self._unknown:
            message.unknown_events = list(self._unknown)
        return message

    def result(self, *, strict: bool = True) -> Message:
        """The final message; closes the stream.

        Input holding no Messages event raises :class:`EmptyStreamError`. With
        ``strict`` (the default) a stream that ended without ``message_stop`` raises
        :class:`IncompleteStreamError` with the message so far as ``.partial``;
        ``strict=False`` returns it (its ``stop_reason`` tells whether it ended).
        """
        self.close()
        if not self._known:
            raise self._empty_error()
        message = self.snapshot()
        if strict and not self._stopped:
            still = sorted(self._open)
            more = f"; blocks {still} were still open" if still else ""
            raise IncompleteStreamError(
                f"the Messages stream ended after {self._count} events without message_stop"
                f"{more} (assemble(..., strict=False) returns the partial message)",
                partial=message,
            )
        return message

    def _empty_error(self) -> EmptyStreamError:
        seen = self._input
        head = seen.head() if seen is not None else None
        if self._count:
            kinds = sorted({str(e.get("type")) for e in self._unknown})[:5]
            held = f"; their types: {', '.join(kinds)}" if kinds else ""
            return EmptyStreamError(
                f"no Messages event in the input: {plural(self._count, 'event')} arrived but "
                f"none was a message_start, content_block_* or message_delta{held}", head=head,
                partial=self.snapshot() if self._unknown else None,
            )
        if seen is None:
            return EmptyStreamError("no Messages event in the input: no event was fed")
        return EmptyStreamError(f"no Messages event in the input: {seen.describe()}", head=head)

    def holds_chunk(self) -> bool:
        """Whether a Messages event was folded: until then ``result`` reads the sample."""
        return self._known

    def has_token(self) -> bool:
        """Whether some block holds generated text or input yet."""
        return self._token

    def output_tokens(self) -> int | None:
        """The usage's ``output_tokens`` once usage arrived, else None."""
        usage = self._usage
        tokens = usage.get("output_tokens") if usage else None
        return tokens if tokens.__class__ is int else None

    def partial_json(self, index: int = 0, tool_index: int | None = None) -> PartialJSON | None:
        """The live parser of the tool block at ``tool_index`` (``index`` is 0: one message).

        Its ``value`` is the partial input so far, updated in place; None without
        ``parse_json``, for another block, or before its start.
        """
        if index.__class__ is not int or not (tool_index is None or tool_index.__class__ is int):
            raise TypeError(
                "partial_json(index, tool_index) takes an int and an int or None, "
                f"not {type(index).__name__} and {type(tool_index).__name__}"
            )
        state = self._blocks.get(tool_index) if index == 0 and tool_index is not None else None
        target = state.parser if state is not None else None
        return None if target is None else target.parser


def _text(block: dict[str, Any], key: str) -> str:
    value = block.get(key)
    return value if value.__class__ is str else ""


def _json_event(index: int, result: list[Any] | JSONParseError) -> JSONDelta | JSONInvalid:
    if isinstance(result, JSONParseError):
        return JSONInvalid(0, index, result)
    return JSONDelta(0, index, tuple(result))


def _call_done(state: BlockState) -> ToolCallDone:
    block = state.start
    name = _text(block, "name")
    return ToolCallDone(0, state.index, _text(block, "id"), name, state.input_text())
