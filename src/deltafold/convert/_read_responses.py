"""The Responses reader: a Responses API stream, folded by its own fold, as neutral steps.

Every event goes to ``deltafold.responses.Accumulator``, which keeps every rule of the
format (items keyed by ``output_index`` whatever their ``item_id``, ``.done`` events
authoritative, ``sequence_number`` replays dropped, the terminal ``output`` reconciled).
This module only says what the fold's events mean in neutral words: one block per
message content part, per reasoning item, per function or custom tool call, and one of
kind ``"other"`` for any other item (a hosted tool's call, an image, a compaction), its
final wire dict delivered in ``Close``. A block closes when its item is done (or at the
terminal event, for an item that never got its ``output_item.done``), with the fold's
final form. The terminal event is the ``Finish``; ``response.failed`` and ``error``
events are a ``Fail``.

A stream the Responses writer made from another format holds that format's carry in
extension fields ``deltafold`` (see ``_write_responses``): a block's in the events that
open and close its item or part, the blocks Responses has no item for in the event they
came before (``before``); they are handed on as they are, in their place.

A reasoning item is one block: its reasoning text parts, or else its summary parts,
joined by a blank line (the one place that join is made); a block of summary parts
keeps their lengths in its carry, so a Responses writer gives the parts back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from attrs import evolve

from .._choice import as_index
from .._decode import decode_chunk
from .._events import (
    ContentDelta,
    ReasoningDelta,
    RefusalDelta,
    ToolCallArgumentsDelta,
    ToolCallStarted,
)
from .._exceptions import StreamError
from .._limits import Limits
from ..responses._events import OutputItemAdded, OutputItemDone
from ..responses._fold import Accumulator
from ..responses._state import ItemState
from ._ops import (
    EXTENSION,
    Begin,
    Block,
    Close,
    Delta,
    DeltaSink,
    Fail,
    Finish,
    Open,
    Step,
    StepSink,
    Usage,
    as_delta,
    drop,
    extend,
    given_back,
)
from ._responses_usage import neutral_usage

__all__ = ["BREAK", "ResponsesReader", "finish_reason", "split_summary"]

FORMAT = "responses"
BREAK = "\n\n"
"""What separates two summary (or reasoning text) parts of one reasoning item in its block."""
_TOOLS = {"function_call": "function", "custom_tool_call": "custom"}
_SUMMARY_DELTA = "response.reasoning_summary_text.delta"
_HOT = {
    "response.output_text.delta": "content_index",
    "response.function_call_arguments.delta": "content_index",  # none: 0, as for the fold
    _SUMMARY_DELTA: "summary_index",
}
"""The delta types of most events, with the index of the part they extend."""
_ITEM_EVENTS = frozenset({"response.output_item.added", "response.output_item.done"})
_NOT_CARRIED = frozenset({"output", "usage", "id", "model", "created_at", EXTENSION})
"""Response fields the steps hold themselves (or that are no field of the response)."""
_ITEM_OWN = frozenset({
    "type", "id", "content", "summary", "encrypted_content", "arguments", "input", "call_id",
    "name",
})
"""Item fields a block holds itself; the item's other fields (status, role...) are carried."""


def split_summary(text: str, lengths: Any) -> list[str]:
    """A reasoning block's summary parts again (the inverse of the join rule): by the part
    lengths a Responses source's carry kept, else the text as one part."""
    if lengths.__class__ is not list or not text:
        return [text] if text else []
    parts: list[str] = []
    at = 0
    for length in lengths:
        if length.__class__ is not int or length < 0:
            return [text]
        if length and at and text.startswith(BREAK, at):
            at += len(BREAK)
        parts.append(text[at:at + length])
        at += length
    return parts if at == len(text) else [text]


def finish_reason(status: Any, reason: Any, tool_called: bool) -> Any:
    """The neutral finish reason of a terminal status and its incomplete reason."""
    if status == "completed":
        return "tool_calls" if tool_called else "stop"
    if status == "incomplete":
        return {"max_output_tokens": "length", "content_filter": "content_filter"}.get(reason)
    return None


class _Item:
    """What the reader knows of one output item: its kind and its blocks."""

    __slots__ = ("block", "closed", "kind", "opened", "parts", "summary_at")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        """``message``, ``reasoning``, ``tool`` or ``other``."""
        self.block: int | None = None
        """The item's block (a message has one per part, in ``parts``)."""
        self.parts: dict[int, int] = {}
        """A message's blocks by content index."""
        self.summary_at: tuple[str, int] | None = None
        """A reasoning item's part that took the latest text (kind of delta, index)."""
        self.closed = False
        self.opened: dict[str, Any] | None = None
        """Another format's carry for the item's block (its ``output_item.added``'s)."""


def _ext(event: dict[str, Any]) -> dict[str, Any]:
    """An event's extension field (a stream the Responses writer made from another format)."""
    ext = event.get(EXTENSION)
    return ext if ext.__class__ is dict else {}


class ResponsesReader:
    """Responses events in, neutral steps out (see the module docstring)."""

    def __init__(self, *, limits: Limits | None = None, choice: int | None = None) -> None:
        self._fold = Accumulator(limits=limits)
        self._items: dict[int, _Item] = {}
        self._blocks = 0
        self._begun = False
        self._begin: dict[str, Any] = {}
        self._tool_called = False
        self._ended = False
        self._hot: dict[tuple[str, int, int], int] = {}
        """(delta type, output index, part index) of the parts streaming, to their block."""

    # --- reading one event ----------------------------------------------------------------

    def read_batch(
        self, items: Iterable[Any], out: list[Any], write: StepSink, emit: DeltaSink
    ) -> None:
        """Read Responses events in order (see ``_ops.Reader``); a delta of a part already
        streaming is the hot path, inline."""
        fold = self._fold
        add = fold.add
        hot = self._hot
        for event in items:
            if event.__class__ is not dict:
                event = decode_chunk(event, fold.chunks_folded)
                if event is None:  # an SSE event without data
                    continue
            kind = event.get("type")
            if kind in _HOT:  # a text delta of a part already streaming: the fold's fast path
                block = hot.get((kind, event.get("output_index"), event.get(_HOT[kind], 0)))
                if block is not None:
                    replayed = fold.replayed
                    add(event)
                    delta = event.get("delta")  # a string or None: the fold took it
                    if delta and fold.replayed == replayed:  # else a replay the fold dropped
                        emit(block, delta, out)
                    continue
            steps = self._read_one(kind, event)
            if steps and not write(steps, out):
                emit = drop

    def read(self, item: Any) -> list[Step]:
        """The steps one event causes (none once the answer ended)."""
        steps: list[Any] = []
        self.read_batch((item,), steps, extend, as_delta)
        return steps

    def _read_one(self, kind: Any, event: dict[str, Any]) -> list[Step]:
        """The steps of an event off the hot path."""
        fold = self._fold
        if kind in _ITEM_EVENTS and self._begun and not self._ended:
            index = event.get("output_index")
            if index.__class__ is int:
                return self._item_event(kind, index, event)
        if self._ended:
            with contextlib.suppress(StreamError):  # an error after the answer: nothing to say
                fold.add(event)
            return []
        steps: list[Step] = []
        if not self._begun:
            self._begun = True
            steps.append(self._first(event))
        try:
            events = fold.feed(event)
        except StreamError as exc:
            return steps + self._fail(exc, event)
        for typed in events:
            if isinstance(typed, ContentDelta):
                self._part_delta(event, typed.text, False, steps)
            elif isinstance(typed, ReasoningDelta):
                self._reasoning_delta(event, typed.text, steps)
            elif isinstance(typed, ToolCallArgumentsDelta):
                if not typed.replaced:  # a .done's different text: the Close has it
                    self._tool_delta(typed.tool_index, typed.text, steps)
            elif isinstance(typed, RefusalDelta):
                self._part_delta(event, typed.text, True, steps)
            elif isinstance(typed, OutputItemAdded):
                self._added(typed.output_index, event, steps)
            elif isinstance(typed, ToolCallStarted):
                self._opened(typed.tool_index, steps, early=True)
            elif isinstance(typed, OutputItemDone):
                self._close(typed.output_index, steps, _ext(event))
        if kind in _HOT and steps and steps[-1].__class__ is Delta:
            self._remember(kind, event, steps[-1])
        elif kind == "response.content_part.added":
            self._part_added(event, steps)
        if fold.terminal is not None:
            self._ended = True
            self._finish(steps, event)
        return steps

    def _item_event(self, kind: str, index: int, event: dict[str, Any]) -> list[Step]:
        """``output_item.added`` / ``.done`` at ``index``: folded (without the fold's typed
        events, which would only repeat the index), then the item's block opened or closed."""
        fold = self._fold
        replayed = fold.replayed
        fold.add(event)
        steps: list[Step] = []
        if fold.replayed != replayed:
            return steps  # a replay the fold dropped
        if kind == "response.output_item.added":
            self._added(index, event, steps)
        else:
            self._close(index, steps, _ext(event))
        return steps

    def _added(self, index: int, event: dict[str, Any], steps: list[Step]) -> None:
        """Item ``index`` was added: the blocks the extension says came before it, then its
        own (opened now unless it is a message or a reasoning item)."""
        ext = _ext(event) if EXTENSION in event else None
        if ext:
            self._others(ext.get("before"), steps)
            if index not in self._items:
                record = self._items[index] = _Item(self._record_kind(index))
                opened = ext.get("open")
                record.opened = opened if opened.__class__ is dict else None
        self._opened(index, steps, early=True)

    def _others(self, entries: Any, steps: list[Step]) -> None:
        """Blocks of another format that Responses has no item for, given back in place."""
        given = given_back(entries, self._blocks)
        self._blocks += len(given) // 2
        steps += given

    def _remember(self, kind: str, event: dict[str, Any], step: Delta) -> None:
        """The part a delta went to, so the next deltas of that part take the fast path."""
        index = event.get("output_index")
        part = event.get(_HOT[kind], 0)
        if index.__class__ is int and part.__class__ is int and not self._ended:
            self._hot[(kind, index, part)] = step.block

    def _first(self, event: dict[str, Any]) -> Begin:
        """The Begin step: the response's id, model and time, as the first event says them."""
        response = event.get("response")
        if response.__class__ is not dict:
            response = event if event.get("object") == "response" else {}
        self._begin = {k: v for k, v in response.items() if k not in _NOT_CARRIED}
        given = response.get(EXTENSION)
        if given.__class__ is dict and given.get("format") not in (None, FORMAT):
            carry = dict(given)  # a conversion's carry: the source format's own fields
        else:
            carry = {"format": FORMAT, **self._begin} if self._begin else {}
        created = response.get("created_at")
        return Begin(
            id=_str_or_none(response.get("id")),
            model=_str_or_none(response.get("model")),
            created=int(created) if isinstance(created, (int, float)) and created is not True
            else None,
            carry=carry,
        )

    # --- blocks ---------------------------------------------------------------------------

    def _state(self, index: int) -> ItemState:
        return self._fold.items[index]

    def _opened(self, index: int, steps: list[Step], early: bool = False) -> _Item:
        """The record of item ``index``, its block opened (a reasoning item's only once its
        text says whether it is a summary, unless ``early`` is False)."""
        record = self._items.get(index)
        if record is None:
            record = self._items[index] = _Item(self._record_kind(index))
        kind = record.kind
        if record.block is None and kind != "message" and not (early and kind == "reasoning"):
            self._open_item(index, record, steps)
        return record

    def _record_kind(self, index: int) -> str:
        kind = self._state(index).kind
        return "message" if kind == "message" else "reasoning" if kind == "reasoning" else (
            "tool" if kind in _TOOLS else "other")

    def _tool_delta(self, index: int, text: str, steps: list[Step]) -> None:
        record = self._opened(index, steps)
        if record.block is not None and not record.closed:
            steps.append(Delta(record.block, text))

    def _open_item(self, index: int, record: _Item, steps: list[Step]) -> None:
        base = self._state(index).base
        record.block = block = self._blocks
        self._blocks = block + 1
        carry: dict[str, Any] = {"format": FORMAT}
        item_id = base.get("id")
        if item_id.__class__ is str:
            carry["item_id"] = item_id
        if record.opened is not None:
            carry = record.opened
        kind = record.kind
        if kind == "tool":
            self._tool_called = True
            steps.append(Open(block, "tool", _str_or_none(base.get("call_id")),
                              _str_or_none(base.get("name")), _TOOLS[base["type"]], carry))
        elif kind == "reasoning":
            if record.summary_at is not None and record.opened is None:
                carry["summary"] = record.summary_at[0] == _SUMMARY_DELTA
            steps.append(Open(block, "reasoning", _str_or_none(item_id), carry=carry))
        else:
            carry["item"] = self._state(index).build()  # the item as announced
            steps.append(Open(block, "other", carry=carry))

    def _part_block(
        self, index: int, content: int, refusal: bool, steps: list[Step],
        opened: Any = None,
    ) -> int:
        record = self._opened(index, steps)
        block = record.parts.get(content)
        if block is None:
            block = record.parts[content] = self._blocks
            self._blocks = block + 1
            carry: dict[str, Any] = {"format": FORMAT, "output_index": index}
            item_id = self._state(index).base.get("id")
            if item_id.__class__ is str:
                carry["item_id"] = item_id
            if opened.__class__ is dict:
                carry = opened
            steps.append(Open(block, "refusal" if refusal else "text", carry=carry))
        return block

    def _where(self, event: dict[str, Any], key: str) -> tuple[int, int]:
        """The output index and part index of an item event, by the fold's own finder."""
        index = event.get("output_index")
        if index.__class__ is not int:
            index = self._fold.index_of(self._fold.item(event, "message", None))
        part = event.get(key, 0)
        return index, part if part.__class__ is int else as_index(part, key)

    def _part_added(self, event: dict[str, Any], steps: list[Step]) -> None:
        part = event.get("part")
        kind = part.get("type") if part.__class__ is dict else None
        if kind in ("output_text", "refusal", None):
            index, content = self._where(event, "content_index")
            if self._state(index).kind == "message":
                opened = _ext(event).get("open") if EXTENSION in event else None
                self._part_block(index, content, kind == "refusal", steps, opened)

    def _part_delta(
        self, event: dict[str, Any], text: str, refusal: bool, steps: list[Step]
    ) -> None:
        index, content = self._where(event, "content_index")
        record = self._items.get(index)
        if record is None or not record.closed:  # text after its item's done: the fold's
            steps.append(Delta(self._part_block(index, content, refusal, steps), text))

    def _reasoning_delta(self, event: dict[str, Any], text: str, steps: list[Step]) -> None:
        kind = event.get("type")
        index, part = self._where(
            event, "summary_index" if kind == _SUMMARY_DELTA else "content_index"
        )
        record = self._opened(index, steps, early=True)
        if record.closed:
            return
        at = (str(kind), part)
        before = record.summary_at
        record.summary_at = at
        if record.block is None:
            self._open_item(index, record, steps)
        elif before != at:
            steps.append(Delta(record.block, BREAK))  # a new part: the join rule
        assert record.block is not None
        steps.append(Delta(record.block, text))

    def _close(self, index: int, steps: list[Step], ext: dict[str, Any] | None = None) -> None:
        record = self._opened(index, steps)
        if record.closed:
            return
        record.closed = True
        if self._hot:
            self._hot = {k: v for k, v in self._hot.items() if k[1] != index}
        state = self._state(index)
        built = state.build()
        parts = ext.get("parts") if ext else None
        if record.kind == "message":
            for content in sorted(state.parts):
                part = state.parts[content]
                refusal = part.key == "refusal"
                block = self._part_block(index, content, refusal, steps)
                final = _final_part(part.build(), refusal, built)
                entry = parts.get(str(content)) if parts.__class__ is dict else None
                steps.append(Close(block, _foreign(final, entry) if entry else final))
            return
        if record.block is None:
            self._open_item(index, record, steps)
        assert record.block is not None
        final = _item_block(record.kind, built)
        steps.append(Close(record.block, _foreign(final, ext) if ext else final))

    def _close_all(self, steps: list[Step]) -> None:
        for index in sorted(self._fold.items):
            self._close(index, steps)

    # --- the end --------------------------------------------------------------------------

    def _finish(self, steps: list[Step], event: dict[str, Any]) -> None:
        self._close_all(steps)
        if EXTENSION in event:
            self._others(_ext(event).get("before"), steps)
        response = self._fold.fields
        details = response.get("incomplete_details")
        reason = details.get("reason") if details.__class__ is dict else None
        given = _ext(response)
        stop = given.get("stop_sequence")
        steps.append(Finish(
            finish_reason(response.get("status"), reason, self._tool_called),
            stop if stop.__class__ is str else None,
            usage=_usage(response.get("usage"), given),
            carry=self._end_carry(response),
        ))

    def _end_carry(self, response: dict[str, Any]) -> dict[str, Any]:
        """The terminal response's fields that differ from what the Begin step carried."""
        given = response.get(EXTENSION)
        if given.__class__ is dict and given.get("format") not in (None, FORMAT):
            return {k: v for k, v in given.items() if k not in ("usage", "stop_sequence")}
        begin = self._begin
        carry = {k: v for k, v in response.items()
                 if k not in ("output", "usage", EXTENSION) and (k not in begin or begin[k] != v)}
        return {"format": FORMAT, **carry} if carry else {}

    def _fail(self, exc: StreamError, event: dict[str, Any]) -> list[Step]:
        self._ended = True
        steps: list[Step] = []
        self._close_all(steps)
        if EXTENSION in event:
            self._others(_ext(event).get("before"), steps)
        response = self._fold.snapshot().to_dict()
        carry: dict[str, Any] = {"format": FORMAT}
        if exc.error is not None:
            carry["error"] = exc.error
        code = exc.code
        message = getattr(exc, "message", None)
        steps.append(Fail(
            message if isinstance(message, str) else str(exc),
            code=None if code is None else str(code),
            usage=_usage(response.get("usage"), _ext(response)),
            carry=carry,
        ))
        return steps

    def close(self) -> list[Step]:
        """Nothing more after the answer ended; else the fold's error (with ``.partial``)."""
        if not self._ended:
            self._fold.result(strict=True)
        return []


def _usage(usage: Any, given: dict[str, Any]) -> Usage | None:
    """The terminal usage; with another format's usage carry when the extension has one."""
    found = neutral_usage(usage)
    extra = given.get("usage") if given else None
    carry = extra.get("carry") if extra.__class__ is dict else None
    if found is not None and carry.__class__ is dict:
        return evolve(found, carry=carry)
    return found


def _foreign(final: Block, ext: dict[str, Any]) -> Block:
    """A block's final form with what the extension of its closing event gives back:
    another format's carry, citations, the redacted flag."""
    carry = ext.get("close")
    notes = ext.get("annotations")
    return evolve(
        final,
        carry=carry if carry.__class__ is dict else final.carry,
        annotations=final.annotations + notes if notes.__class__ is list else final.annotations,
        redacted=final.redacted or ext.get("redacted") is True,
    )


def _str_or_none(value: Any) -> str | None:
    return value if value.__class__ is str else None


def _item_carry(built: dict[str, Any]) -> dict[str, Any]:
    carry: dict[str, Any] = {"format": FORMAT}
    item_id = built.get("id")
    if item_id.__class__ is str:
        carry["item_id"] = item_id
    fields = {k: v for k, v in built.items() if k not in _ITEM_OWN}
    if fields:
        carry["fields"] = fields
    empty = {k: v for k, v in built.items() if k in _ITEM_OWN and (v == [] or v is None)}
    if empty:
        carry["empty"] = empty  # fields sent empty (``"content": []``), given back as sent
    return carry


def _final_part(part: dict[str, Any], refusal: bool, built: dict[str, Any]) -> Block:
    text = part.get("refusal" if refusal else "text")
    annotations = part.get("annotations")
    carry = _item_carry(built)
    empty = {k: v for k, v in part.items() if k == "logprobs" and v == []}
    if empty:
        carry["part_empty"] = empty
    return Block(
        "refusal" if refusal else "text",
        text if text.__class__ is str else "",
        annotations=[a for a in annotations if a.__class__ is dict]
        if annotations.__class__ is list else [],
        carry=carry,
    )


def _texts(parts: Any, kind: str) -> list[str]:
    if parts.__class__ is not list:
        return []
    return [p["text"] for p in parts
            if p.__class__ is dict and p.get("type") == kind and p.get("text").__class__ is str]


def _item_block(kind: str, built: dict[str, Any]) -> Block:
    """A reasoning item's, a call's or another item's final block."""
    carry = _item_carry(built)
    if kind == "reasoning":
        texts = _texts(built.get("content"), "reasoning_text")
        summary = not texts
        if summary:
            texts = _texts(built.get("summary"), "summary_text")
            if len(texts) > 1:
                carry["parts"] = [len(t) for t in texts]
        signature = built.get("encrypted_content")
        return Block(
            "reasoning", BREAK.join(t for t in texts if t), id=_str_or_none(built.get("id")),
            summary=summary and bool(texts),
            signature=signature if signature.__class__ is str else None, carry=carry,
        )
    if kind == "tool":
        tool_type = _TOOLS[built["type"]]
        text = built.get("arguments" if tool_type == "function" else "input")
        return Block(
            "tool", text if text.__class__ is str else "", id=_str_or_none(built.get("call_id")),
            name=_str_or_none(built.get("name")), tool_type=tool_type, carry=carry,
        )
    return Block("other", raw=built, carry={"format": FORMAT})
