"""The chat format's reader: ``chat.completion.chunk`` events in, neutral steps out.

Each chunk goes through chat's own fold (``Accumulator``), which applies every chat rule
(tool-call fragments matched by index or id, re-sent arguments, ``reasoning_details``
merged by type and index, first-wins top fields, usage merged, in-band errors); the
reader only turns the fold's events into blocks. A new block opens whenever the kind of
what streams changes (reasoning, text, refusal, tool call) and for every new tool call
or reasoning detail, so parallel calls stay separate; the fold's state gives each
block's final form (a call's complete arguments; a reasoning detail's signature or
encrypted data). The answer finishes at ``[DONE]`` or at the source's end (usage comes
after the finish reason). The extension field ``deltafold`` is read back into carries.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._accumulator import Accumulator
from .._decode import decode_chunk, is_done
from .._events import (
    AnnotationAdded,
    ChoiceFinished,
    ContentDelta,
    Event,
    ImageAdded,
    ReasoningDelta,
    ReasoningDetailDelta,
    RefusalDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UsageUpdated,
)
from .._exceptions import ConversionError, DeltafoldError, StreamError
from .._limits import Limits
from .._result import _carried_usage
from ._chat_finish import finish_reason_of, neutral_usage
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
    Open,
    Step,
    StepSink,
    Usage,
    as_delta,
    drop,
    extend,
    given_back,
)

__all__ = ["ChatReader"]

FORMAT = "chat"
_TOP_CARRIED = ("system_fingerprint", "service_tier", "provider")
_ENCRYPTED = "reasoning.encrypted"
_SUMMARY = "reasoning.summary"
_NOT_KEPT = frozenset({"text", "summary", "data", "signature"})
"""A detail's fields its block holds (text and token): the carry keeps the rest."""


def _entry(value: Any) -> Any:
    """The one value of an extension field keyed by block number (the chunk's block)."""
    if value.__class__ is dict and len(value) == 1:
        return next(iter(value.values()))
    return None


def _number(key: str) -> int:
    return int(key) if key.isdigit() else -1


class _Current:
    """The block being streamed: its number, kind, text so far and what its final needs."""

    __slots__ = (
        "annotations", "bare", "call", "carry", "details", "fast", "field", "kind", "number",
        "parts", "sealed", "tool_type",
    )

    def __init__(self, number: int, kind: BlockKind, carry: dict[str, Any]) -> None:
        self.number = number
        self.kind: BlockKind = kind
        self.parts: list[str] = []
        self.call = -2  # the tool call's position in the fold (-1: the legacy function_call)
        self.details: list[int] = []  # the fold's reasoning_details positions in this block
        self.field = False  # reasoning text came as ``reasoning`` (the details repeat it)
        self.bare = False  # some of it came without a detail beside it
        self.sealed = False  # its details came after its text, or it is encrypted: whole
        self.annotations: list[dict[str, Any]] = []
        self.carry = carry
        self.tool_type = "function"
        self.fast: type | None = ContentDelta if kind == "text" else None
        """The event that only adds text to this block (``read``'s fast path), if any."""


class ChatReader:
    """Chat chunks (any input ``assemble`` takes, one at a time) in, neutral steps out.

    ``choice`` picks the choice to read; None reads the stream's one choice and raises
    :class:`ConversionError` when a second one appears.
    """

    def __init__(self, *, limits: Limits | None = None, choice: int | None = None) -> None:
        self._emit: DeltaSink = as_delta  # where pieces go, and with what (see read_batch)
        self._out: list[Any] = []
        self._fold = Accumulator(limits=limits)
        self._choice = choice
        self._index = choice
        self._begun = False
        self._ended = False
        self._current: _Current | None = None
        self._count = 0
        self._closed_calls: set[int] = set()
        self._late: list[dict[str, Any]] = []  # annotations after their text block closed
        self._late_close: dict[str, Any] | None = None
        """The carry of an earlier block closing in this chunk: its details are that block's."""
        self._carry: dict[str, Any] = {}  # the extension's carries: begin, finish, usage, fail
        self._open_carry: dict[str, Any] | None = None
        self._tool_type: str | None = None  # the next call's, from the extension (not JSON)
        self._field_seen = False
        self._begin_top: tuple[str, ...] = ()

    # --- reading ------------------------------------------------------------------

    def read_batch(
        self, items: Iterable[Any], out: list[Any], write: StepSink, emit: DeltaSink
    ) -> None:
        """Read chunks in order (see ``_ops.Reader``); a chunk that only adds to the current
        block is the hot path of ``_read_one``."""
        self._emit = emit
        self._out = out
        read = self._read_one
        for item in items:
            steps = read(item)
            if steps and not write(steps, out):
                self._emit = drop

    def read(self, item: Any) -> list[Step]:
        """The steps of one chunk (a dict, JSON text or bytes, a typed or SDK chunk)."""
        steps: list[Any] = []
        self.read_batch((item,), steps, extend, as_delta)
        return steps

    def _read_one(self, item: Any) -> list[Step]:
        """The steps of one chunk, but its pieces (given to the batch's ``emit``)."""
        if self._ended:
            return []
        fold = self._fold
        if item.__class__ is not dict:
            item = self._decoded(item)
            if item is None:
                if self._ended:  # [DONE]
                    return self._end(True)
                return []
        extension = item.get(EXTENSION)
        self._late_close = None
        others = None if extension is None else self._extension(extension)
        events: list[Event] = []
        try:
            fold.add(item, events)
        except StreamError as exc:
            steps: list[Step] = []
            self._give_back(others, steps)
            self._steps(events, steps)
            if not self._begun:
                steps.insert(0, self._begin())
            return self._fail(exc, steps)
        if self._choice is None and len(fold._choices) > 1:
            raise self._several()
        if others:
            steps = []
            self._give_back(others, steps)
            self._steps(events, steps)
            if not self._begun:
                steps.insert(0, self._begin())
            return steps
        if not events:
            if not self._begun and ("id" in fold._top or "model" in fold._top):
                return [self._begin()]
            return []
        if len(events) == 1:  # the common chunk: one more piece of the current block
            event = events[0]
            current = self._current
            cls = event.__class__
            if current is not None and (cls is current.fast or (
                cls is ToolCallArgumentsDelta and event.tool_index == current.call  # type: ignore[union-attr]
                and not event.replaced  # type: ignore[union-attr]
            )) and event.index == self._index and event.text:  # type: ignore[union-attr]
                return self._piece(current, event.text)  # type: ignore[union-attr]
        elif len(events) == 2:  # OpenRouter's reasoning chunk: its text as a field and a detail
            first, second = events
            if first.__class__ is ReasoningDelta and second.__class__ is ReasoningDetailDelta:
                current = self._current
                if current is not None and self._adds_reasoning(current, first, second):
                    return self._piece(current, first.text)
        steps = []
        self._steps(events, steps)
        if not self._begun:
            steps.insert(0, self._begin())
        return steps

    def _piece(self, current: _Current, text: str) -> list[Step]:
        """More text for the current block: to the batch's ``emit``."""
        current.parts.append(text)
        self._emit(current.number, text, self._out)
        return []

    def _adds_reasoning(
        self, current: _Current, first: ReasoningDelta, second: ReasoningDetailDelta
    ) -> bool:
        """Whether a chunk of reasoning text and its detail only adds to the current block's
        text and to a detail it holds (no token): what ``_steps`` would do, in short."""
        if (
            current.fast is not ReasoningDelta or current.bare or not first.text
            or first.index != self._index or second.index != self._index
            or second.position not in current.details
        ):
            return False
        detail = second.detail
        return not (detail.get("signature") or detail.get("data"))

    def _decoded(self, item: Any) -> dict[str, Any] | None:
        """A chunk given as text, bytes or an object, as its dict; None for an event without
        one (then ``_ended`` is set if it was ``[DONE]``)."""
        fold = self._fold
        short = not (item.__class__ is str or item.__class__ is bytes) or len(item) < 32
        if short and is_done(item):  # a chunk's JSON is longer than ``[DONE]``
            self._ended = True
            return None
        try:
            chunk = decode_chunk(item, fold.chunks_folded)
        except DeltafoldError as exc:
            if exc.partial is None and fold.chunks_folded:
                exc.partial = fold.snapshot()
            raise
        return chunk

    def close(self) -> list[Step]:
        """The last steps: the answer's ``Finish``; raises when the stream ended early."""
        if self._ended:
            return []
        return self._end()

    def _extension(self, value: Any) -> list[Any] | None:
        """A chunk's ``deltafold`` field (written by ``ChatWriter`` for another format); the
        blocks chat cannot hold that it gives back here, if any."""
        if value.__class__ is not dict:
            return None
        for key in ("begin", "finish", "usage", "fail", "stop_sequence"):
            found = value.get(key)
            if found.__class__ is dict or found.__class__ is str:
                self._carry[key] = found
        opened = _entry(value.get("open"))
        if opened.__class__ is dict:  # a block of its own opens in this chunk
            self._open_carry = opened
            if self._current is not None:
                self._current.fast = None
        tool_type = _entry(value.get("tool_type"))
        if tool_type.__class__ is str:
            self._tool_type = tool_type
        closed = value.get("close")
        if closed.__class__ is dict and len(closed) == 1 and self._current is not None:
            key, carry = next(iter(closed.items()))
            if carry.__class__ is dict:
                if _number(str(key)) not in range(self._current.number):
                    self._current.carry = carry
                else:  # an earlier block closes late (its item ended after the next began)
                    self._late_close = carry
        others = value.get("other")
        if others.__class__ is not dict or not others:
            return None
        return [others[key] for key in sorted(others, key=_number)]

    def _give_back(self, others: list[Any] | None, steps: list[Step]) -> None:
        """Blocks chat cannot hold, given back where they were (as ``{"raw", "carry"}``)."""
        if not others:
            return
        if not self._begun:
            steps.append(self._begin())
        self._close(steps)
        given = given_back(others, self._count)
        self._count += len(given) // 2
        steps += given

    def _begin(self) -> Begin:
        """The answer's ``Begin``: once the fold has its id or model, or before its first
        other step (a first chunk may name none: Azure's prompt-filter chunk)."""
        self._begun = True
        top = self._fold._top
        self._begin_top = tuple(name for name in _TOP_CARRIED if name in top)
        carry = self._carry.get("begin")
        if carry is None:
            carry = {name: top[name] for name in _TOP_CARRIED if name in top}
            if carry:
                carry = {"format": FORMAT, **carry}
        return Begin(top.get("id"), top.get("model"), top.get("created"), carry)

    def _several(self) -> ConversionError:
        found = sorted(self._fold._choices)
        return ConversionError(
            f"the chat stream holds several choices ({found}) and the target format holds "
            f"one answer: pick one with choice= (for example choice={found[0]})",
            partial=self._fold.snapshot(),
        )

    # --- events to steps ------------------------------------------------------------

    def _steps(self, events: list[Event], steps: list[Step]) -> None:
        held: set[int] | None = None  # ids of the details handled ahead of their chunk's text
        for n, event in enumerate(events):
            cls = event.__class__
            if cls is UsageUpdated:
                continue
            index = event.index  # type: ignore[union-attr]
            if index != self._index:
                if self._index is not None:
                    continue
                self._index = index
            if cls is ContentDelta:
                self._text("text", event.text, steps)  # type: ignore[union-attr]
            elif cls is ToolCallArgumentsDelta:
                self._arguments(event, steps)  # type: ignore[arg-type]
            elif cls is ReasoningDelta:
                if held is None:  # this chunk's details first: a detail may start a block
                    held = set()
                    for ahead in events[n:]:
                        if ahead.__class__ is ReasoningDetailDelta and ahead.index == index:
                            held.add(id(ahead))
                            self._detail(ahead, steps, True)
                self._field_seen = True
                bare = not any(
                    e.__class__ is ReasoningDetailDelta and e.index == index for e in events
                )
                self._reasoning(event.text, steps, bare)  # type: ignore[union-attr]
            elif cls is ReasoningDetailDelta:
                if held is None or id(event) not in held:  # text beside it, if any, is later
                    with_text = any(
                        e.__class__ is ReasoningDelta and e.index == index for e in events[n:]
                    )
                    self._detail(event, steps, with_text)  # type: ignore[arg-type]
            elif cls is ToolCallStarted:
                self._start_call(event, steps)  # type: ignore[arg-type]
            elif cls is RefusalDelta:
                self._text("refusal", event.text, steps)  # type: ignore[union-attr]
            elif cls is ToolCallDone:
                current = self._current
                if current is not None and current.call == event.tool_index:  # type: ignore[union-attr]
                    self._close(steps)
            elif cls is ChoiceFinished:
                self._close(steps)
            elif cls is AnnotationAdded:
                current = self._current
                if current is not None and current.kind == "text":
                    current.annotations.append(event.annotation)  # type: ignore[union-attr]
                else:
                    self._late.append(event.annotation)  # type: ignore[union-attr]
            elif cls is ImageAdded:
                self._close(steps)
                self._open("other", steps)
                self._close(steps, Block("other", raw=event.image,  # type: ignore[union-attr]
                                         carry={"format": FORMAT, "field": "images"}))

    def _open(
        self, kind: BlockKind, steps: list[Step], id: str | None = None, name: str | None = None
    ) -> _Current:
        number = self._count
        self._count = number + 1
        carry = self._open_carry or {}
        self._open_carry = None
        current = self._current = _Current(number, kind, carry)
        tool_type = "function"
        if kind == "tool" and self._tool_type is not None:
            tool_type, self._tool_type = self._tool_type, None
        current.tool_type = tool_type
        steps.append(Open(number, kind, id or None, name or None, tool_type, carry))
        return current

    def _text(self, kind: BlockKind, text: str, steps: list[Step]) -> None:
        current = self._current
        if current is None or current.kind != kind or self._open_carry is not None:
            self._close(steps)
            current = self._open(kind, steps)
        current.parts.append(text)
        steps.append(Delta(current.number, text))

    def _reasoning(self, text: str, steps: list[Step], bare: bool) -> None:
        """Reasoning text; ``bare``: no detail came beside it. Bare text after a whole block
        (signed, or its details sent after its text, as ``ChatWriter`` does) opens the next."""
        current = self._current
        if current is None or current.kind != "reasoning" or (bare and current.sealed) or (
            self._open_carry is not None
        ):
            self._close(steps)
            current = self._open("reasoning", steps)
        current.field = True
        current.bare = current.bare or bare
        current.fast = None if current.sealed else ReasoningDelta
        if text:
            current.parts.append(text)
            steps.append(Delta(current.number, text))

    def _detail(self, event: ReasoningDetailDelta, steps: list[Step], with_text: bool) -> None:
        """A ``reasoning_details`` fragment: a new detail opens a block unless it is the
        encrypted form of the current block's own reasoning (same id, no token yet). The
        details of an earlier block closing late repeat what it streamed: only a token
        (which that block's close could not hold) opens a block, with its carry."""
        late = self._late_close
        if late is not None:
            if not (event.detail.get("signature") or event.detail.get("data")):
                return
            self._open_carry = late
        current = self._current
        position = event.position
        if current is None or current.kind != "reasoning" or (
            current.details and position not in current.details
            and not self._joins(current, position)
        ):
            self._close(steps)
            current = self._open("reasoning", steps, self._details()[position].fields.get("id"))
        if position not in current.details:
            current.details.append(position)
        detail = event.detail
        if current.bare or detail.get("data"):  # a signature closes nothing: the fold merges
            current.sealed = True  # a detail's fragments by (type, index), whatever they hold
            current.fast = None
        if with_text or current.field or self._field_seen:
            return  # the text streams as ``reasoning``: the details repeat it
        text = detail.get("text")
        if text is None:
            text = detail.get("summary")
        if text.__class__ is str and text:
            current.parts.append(text)
            steps.append(Delta(current.number, text))

    def _details(self) -> list[Any]:
        return self._fold._choices[self._index].details  # type: ignore[index]

    def _joins(self, current: _Current, position: int) -> bool:
        details = self._details()
        fields = details[position].fields
        if fields["type"] != _ENCRYPTED or not fields.get("id"):
            return False
        kinds = [details[p].fields for p in current.details]
        return all(
            f["type"] != _ENCRYPTED and f.get("id") == fields["id"] and not f.get("signature")
            for f in kinds
        )

    def _start_call(self, event: ToolCallStarted, steps: list[Step]) -> None:
        self._close(steps)
        current = self._open("tool", steps, event.id, event.name)
        current.call = event.tool_index

    def _arguments(self, event: ToolCallArgumentsDelta, steps: list[Step]) -> None:
        current = self._current
        if current is None or current.call != event.tool_index:
            if event.tool_index in self._closed_calls:
                raise ConversionError(
                    f"tool call {event.tool_index}'s arguments went on after another block "
                    "began: interleaved tool calls cannot be converted into one block each",
                    partial=self._fold.snapshot(),
                )
            return
        text = event.text
        if event.replaced:  # the provider re-sent the whole: what is new is its tail
            streamed = sum(map(len, current.parts))
            text = text[streamed:]
        if text:
            current.parts.append(text)
            steps.append(Delta(current.number, text))

    # --- closing ----------------------------------------------------------------------

    def _close(self, steps: list[Step], final: Block | None = None) -> None:
        current = self._current
        if current is None:
            return
        self._current = None
        if final is None:
            final = self._final(current)
        steps.append(Close(current.number, final))

    def _final(self, current: _Current) -> Block:
        kind = current.kind
        carry = current.carry
        if kind == "tool":
            self._closed_calls.add(current.call)
            state = self._fold._choices[self._index]  # type: ignore[index]
            call = state.function_call if current.call < 0 else state.calls[current.call]
            assert call is not None  # the call this block was opened for
            if current.call < 0 and not carry:
                carry = {"format": FORMAT, "legacy": True}
            return Block("tool", call.arguments(), call.id or None, call.name or None,
                         current.tool_type, carry=carry)
        text = "".join(current.parts)
        if kind == "reasoning":
            return self._reasoning_final(current, text)
        return Block(kind, text, annotations=current.annotations, carry=carry)

    def _reasoning_final(self, current: _Current, text: str) -> Block:
        details = [self._details()[p].build() for p in current.details]
        summary = False
        signature = None
        redacted = bool(details)
        block_id = None
        for detail in details:
            block_id = block_id or detail.get("id")
            if detail.get("type") == _ENCRYPTED:
                signature = detail.get("data") or signature
                continue
            redacted = False
            summary = summary or detail.get("type") == _SUMMARY
            signature = detail.get("signature") or signature
        carry = current.carry
        if not carry:  # the details' other fields (none: the source sent no details)
            kept = [{k: v for k, v in d.items() if k not in _NOT_KEPT} for d in details]
            carry = {"format": FORMAT, "details": kept}
        return Block("reasoning", text, block_id, summary=summary, signature=signature,
                     redacted=redacted and not text, carry=carry)

    def _end(self, done: bool = False) -> list[Step]:
        """The end of the answer (``[DONE]``, ``done``, or the end of the source): ``Finish``.

        Without a finish reason the answer ended only if the server said so: ``[DONE]``,
        or the usage, which comes last (Snowflake sends no finish reason); else the stream
        was cut short and the fold's ``IncompleteStreamError`` is raised."""
        self._ended = True
        fold = self._fold
        steps: list[Step] = []
        events = fold.close()
        if events:
            self._steps(events, steps)
        if not self._begun and fold.holds_chunk():
            steps.insert(0, self._begin())
        state = fold._choices.get(self._index) if self._index is not None else None
        if state is None and self._choice is not None and fold.holds_chunk():
            raise ConversionError(
                f"choice={self._choice}: the chat stream holds no choice {self._choice} "
                f"(it holds {sorted(fold._choices) or 'none'})",
                partial=fold.snapshot(),
            )
        if state is None or (state.finish_reason is None and not (done or fold._usage)):
            fold.result(strict=True)  # raises: no chunk, no choice, or no finish_reason
        assert state is not None
        self._close(steps)
        raw = state.finish_reason
        reason = finish_reason_of(raw)
        carry = self._carry.get("finish")
        if carry is None:
            carry = self._finish_carry(raw, reason, state.native_finish_reason)
        stop = self._carry.get("stop_sequence")
        steps.append(Finish(reason, stop if stop.__class__ is str else None, self._usage(), carry))
        return steps

    def _finish_carry(
        self, raw: str | None, reason: str | None, native: str | None
    ) -> dict[str, Any]:
        carry: dict[str, Any] = {}
        if raw != reason:
            carry["finish_reason"] = raw
        if native is not None:
            carry["native_finish_reason"] = native
        if self._late:
            carry["annotations"] = self._late
        top = self._fold._top
        for name in _TOP_CARRIED:  # fields the first chunk did not have yet
            if name in top and name not in self._begin_top:
                carry[name] = top[name]
        return {"format": FORMAT, **carry} if carry else {}

    def _usage(self) -> Usage | None:
        fold = self._fold
        fields = fold._usage if fold._usage is not None else _carried_usage(fold._extra)
        return neutral_usage(fields, self._carry.get("usage"))

    def _fail(self, exc: StreamError, steps: list[Step]) -> list[Step]:
        self._ended = True
        self._close(steps)
        code = exc.code
        carry = self._carry.get("fail")
        if carry is None:
            state = self._fold._choices.get(self._index)  # type: ignore[arg-type]
            raw = None if state is None else state.finish_reason
            carry = {"format": FORMAT, "error": exc.error, "finish_reason": raw}
        message = exc.message if isinstance(getattr(exc, "message", None), str) else str(exc)
        steps.append(Fail(message, None if code is None else str(code), self._usage(), carry))
        return steps
