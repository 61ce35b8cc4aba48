"""The sans-IO core that the sync and async streams both drive.

A driver (``ChatStream``/``AsyncChatStream``, ``Fold``/``AsyncFold``) owns the
I/O: it reads bytes or items and hands them here. Everything else lives once,
in this module: the ``[DONE]`` and end-of-stream rules, which iteration style
a stream is consumed with, the stream's phase, and what ``completion`` means
in each phase. Framing and both byte caps are the SSE framer's
(:class:`~deltafold._sse.SSEDecoder`). Keeping it free of I/O is what lets the
two drivers share it instead of copying a loop, and lets tests/test_core.py
drive it with literal bytes.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Generic

import orjson

from ._decode import DONE, STREAM, InputSeen, event_to_chunk
from ._events import Event
from ._exceptions import ChunkDecodeError, DeltafoldError, IncompleteStreamError, StreamUsageError
from ._format import FoldMachine, ItemT, ResultT, WireFormat
from ._json_fold import ParseJSON
from ._jsontext import RunWatch, rounds_ints
from ._limits import Limits
from ._rawcut import RawCut
from ._sentinel import Sentinel
from ._sse import DataDecoder, ServerSentEvent
from ._timing import Timing

__all__ = [
    "CHUNKS", "END", "EVENTS", "NEED_INPUT", "RAW", "FoldState", "Mode", "Phase", "StreamCore",
    "Turn", "second_reader",
]


NEED_INPUT: Final = Sentinel("NEED_INPUT")
"""Nothing is buffered: the driver must read and ``feed`` (or ``feed_eof``)."""
END: Final = Sentinel("END")
"""The stream is over and ``completion`` is set."""


class Phase(enum.Enum):
    """Where a stream is in its life; :data:`_NEXT` says which phase may follow which."""

    OPEN = "open"
    """Input is being read (or items pulled)."""
    INPUT_ENDED = "input ended"
    """``[DONE]`` or the end of the body was seen; what is buffered is still handed out."""
    FINISHED = "finished"
    """The fold ended normally: ``completion`` is set."""
    FAILED = "failed"
    """An error ended the stream; ``completion`` raises it again (it carries ``.partial``)."""
    CLOSED = "closed"
    """The driver closed the stream: before its end it refuses to go on; a completion stays."""


OPEN, INPUT_ENDED, FINISHED, FAILED, CLOSED = Phase
_NEXT: Final[dict[Phase, frozenset[Phase]]] = {
    OPEN: frozenset({INPUT_ENDED, FINISHED, FAILED, CLOSED}),
    INPUT_ENDED: frozenset({FINISHED, FAILED, CLOSED}),
    FINISHED: frozenset({CLOSED}),
    # A read cut short by the close still fails the stream (a finished one never fails).
    CLOSED: frozenset({FAILED}),
    FAILED: frozenset(),
}
"""The allowed transitions; any other move is ignored (closing twice, failing after the end)."""
_ENDED: Final = frozenset({FINISHED, FAILED, CLOSED})


class Mode(enum.Enum):
    """Which iteration style a stream is bound to: one per stream."""

    UNBOUND = "not yet bound"
    CHUNKS = "chunks"
    EVENTS = "events"
    RAW = "raw"


CHUNKS: Final = Mode.CHUNKS
EVENTS: Final = Mode.EVENTS
RAW: Final = Mode.RAW
_DOING: Final = {
    CHUNKS: ("iterated as chunks", "chunks"),
    EVENTS: ("iterated with events()", "events()"),
    RAW: ("passed through with raw()", "raw()"),
}
"""How a refusal names each style: what the stream is already doing, what was asked."""



def second_reader() -> StreamUsageError:
    """The refusal for a read while another task or thread is reading the same stream.

    The drivers give it before touching anything, so the first reader goes on intact: the
    async ones check a flag set around their read (the only await in a step), the sync
    ones take a :class:`Turn` around each step (threads can switch anywhere).
    """
    return StreamUsageError(
        "this stream is being read by another task or thread right now; read one stream "
        "from one task or thread at a time (hand its chunks on through a queue or a "
        "memory object stream)"
    )


class Turn:
    """One reader at a time, refused rather than waited for: a single token.

    ``list.pop`` and ``list.append`` are each atomic, so two threads can never both take
    it; no lock (and no threading import in the sans-IO core) is needed.
    """

    __slots__ = ("_token",)

    def __init__(self) -> None:
        self._token = [True]

    def take(self) -> None:
        """Take the token, or raise :func:`second_reader`'s error when another reader has it."""
        try:
            self._token.pop()
        except IndexError:
            raise second_reader() from None

    def give(self) -> None:
        """Give the token back (after a step that took it, in a ``finally``)."""
        self._token.append(True)


_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


class FoldState(Generic[ResultT]):
    """A format's fold plus the rules for when its result may be read.

    ``completion`` is the folded result once the stream ended normally. Before
    that it raises :class:`StreamUsageError`; after a failure it raises the
    failure again (which carries ``.partial``), so code that only looks at
    ``completion`` never mistakes a broken stream for a finished one.
    """

    __slots__ = (
        "_completion", "_error", "_mode", "_phase", "acc", "exit_type", "fmt", "on_end", "timing",
    )

    def __init__(
        self,
        fmt: WireFormat[ResultT, Any],
        limits: Limits | None = None,
        parse_json: ParseJSON = False,
    ) -> None:
        self.fmt = fmt
        self.acc: FoldMachine[ResultT] = fmt.new_fold(limits, parse_json)
        self._phase = OPEN
        self._mode = Mode.UNBOUND
        self._completion: ResultT | None = None
        self._error: DeltafoldError | None = None
        self.timing = Timing(output_tokens=self.acc.output_tokens)
        """Fed by the driver, which owns the clock; this module reads none."""
        self.on_end: Callable[[], None] | None = None
        """The driver's hook, called once when the stream first finishes, fails or closes."""
        self.exit_type: type[BaseException] | None = None
        """What ended the driver's ``with`` block, if anything (a cancellation, say)."""

    def _move(self, phase: Phase, error: DeltafoldError | None = None) -> bool:
        """Enter ``phase`` if :data:`_NEXT` allows it from the current one."""
        if phase in _NEXT[self._phase] and not (phase is FAILED and self._completion is not None):
            ending = phase in _ENDED and self._phase not in _ENDED
            self._phase = phase
            if error is not None:
                self._error = error
            if ending and self.on_end is not None:
                self.on_end()
            return True
        return False

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def ended(self) -> bool:
        """True once the stream finished, failed or was closed."""
        return self._phase in _ENDED

    @property
    def error(self) -> DeltafoldError | None:
        """The failure that ended the stream, if one did."""
        return self._error

    @property
    def chunks_received(self) -> int:
        """Chunks folded so far."""
        return self.acc.chunks_folded

    def settle(self) -> None:
        """Tell the timing how many chunks are folded: the new ones came with the last read."""
        acc = self.acc
        count = acc._count  # chunks_folded, without the property's call (this runs per chunk)
        if count != self.timing.chunks:
            self.timing.arrived(count, acc.has_token)

    def describe(self) -> str:
        """The phase in a few words, for ``repr``."""
        if self._phase is FAILED:
            return f"failed: {type(self._error).__name__}"
        return {FINISHED: "ended", CLOSED: "closed"}.get(self._phase, "open")

    def claim(self, mode: Mode) -> None:
        """Bind the stream to one iteration style; the other one is refused from now on."""
        if self._mode is Mode.UNBOUND:
            self._mode = mode
        elif self._mode is not mode:
            raise StreamUsageError(
                f"this stream is already {_DOING[self._mode][0]}; it cannot also give "
                f"{_DOING[mode][1]}. Use one style per stream (events carry every delta a "
                "chunk does); until_done() and snapshot() work with any."
            )

    def partial(self) -> ResultT | None:
        """What a failure should carry: the snapshot, or None before any chunk."""
        return self.acc.snapshot() if self.acc.chunks_folded else None

    def fail(self, exc: DeltafoldError) -> DeltafoldError:
        """Record ``exc`` as the stream's outcome (with ``.partial``) and return it to raise.

        Only the first failure is kept, and none after the stream finished.
        """
        if exc.partial is None:
            exc.partial = self.partial()
        if exc.timing is None:
            exc.timing = self.timing
        self._move(FAILED, exc)
        return exc

    def abandon(self, exc_type: type[BaseException]) -> None:
        """Opening was cut short by ``exc_type`` (a cancellation): the stream ends closed."""
        self.exit_type = exc_type
        self.mark_closed()

    def mark_closed(self) -> None:
        """The driver let go of its input; idempotent, and a no-op after a failure."""
        self._move(CLOSED)

    def check_open(self) -> None:
        """Re-raise a recorded failure, or refuse to go on once closed before the end."""
        if self._error is not None:
            raise self._error
        if self._phase is CLOSED and self._completion is None:
            raise StreamUsageError("this stream is closed; snapshot() has what arrived")

    def finish(self, *, strict: bool) -> list[Event]:
        """Close the fold and set ``completion``; returns the closing events.

        ``strict`` applies the end-of-stream rule: a choice without a
        finish_reason is an :class:`IncompleteStreamError`. A stream that held no
        chunk is an :class:`EmptyStreamError` (``Accumulator.result``'s rule).
        """
        acc = self.acc
        events = acc.close()
        try:
            completion = acc.result(strict=strict)
        except DeltafoldError as exc:
            raise self.fail(exc) from None
        if self._move(FINISHED):
            self._completion = completion
        return events

    @property
    def completion(self) -> ResultT:
        if self._completion is not None:
            return self._completion
        if self._error is not None:
            raise self._error
        if self._phase is CLOSED:
            raise StreamUsageError(
                "the stream was closed before it ended, so there is no completion; "
                "snapshot() has what arrived"
            )
        raise StreamUsageError(
            "the stream has not ended yet: iterate it to the end or await until_done() "
            "(snapshot() gives the completion so far)"
        )

    def snapshot(self) -> ResultT:
        return self._completion if self._completion is not None else self.acc.snapshot()


class StreamCore(FoldState[ResultT], Generic[ResultT, ItemT]):
    """Bytes of an SSE response in; typed chunks, fold events or nothing out.

    The driver calls ``next_chunk()`` / ``next_events()`` / ``drain()`` and,
    whenever they answer :data:`NEED_INPUT`, reads once and calls ``feed`` or
    ``feed_eof``. Framed events wait in a queue and are decoded and folded
    one at a time as they are handed out, so an error in a later event never
    costs the chunks before it, and ``.partial`` always holds every chunk that
    was handed out. A byte cap crossed by a piece is raised once the events
    complete before it are handed out.

    End rules: ``[DONE]`` ends the stream and nothing after it is read (a choice
    without a finish_reason is accepted, as some providers send none). End of
    input without ``[DONE]`` is a normal end only if every choice has a
    finish_reason; otherwise it is an :class:`IncompleteStreamError`, and if
    no chunk came at all (only comments or ``[DONE]``, an empty body) an
    :class:`EmptyStreamError` saying which. A last event cut off by the end of input
    that does not decode is reported as that truncation, not as bad JSON.
    """

    __slots__ = (
        "_check_until",
        "_decoder",
        "_events",
        "_events_received",
        "_pending",
        "_popped",
        "_raw",
        "_seen",
        "_structure",
        "_tail_at",
        "_tail_events",
        "_watch",
        "retries",
    )

    def __init__(
        self,
        fmt: WireFormat[ResultT, ItemT],
        limits: Limits | None = None,
        parse_json: ParseJSON = False,
    ) -> None:
        super().__init__(fmt, limits, parse_json)
        limits = self.acc.limits
        # A plain message comes out of the framer as its bytes, which orjson reads as they
        # are: no text copy and no event object per chunk.
        self._decoder = DataDecoder(
            max_event_bytes=limits.max_event_bytes, max_total_bytes=limits.max_total_bytes
        )
        self._pending: deque[bytes | ServerSentEvent] = deque()
        self._events: deque[Event] = deque()
        """Fold events of a chunk not handed out yet (``next_event``)."""
        self._events_received = 0
        self._popped = 0
        self._watch = RunWatch()
        self._check_until = 0
        """Events up to this count may hold an integer orjson rounds (``RunWatch``)."""
        self._tail_at = -1
        """How many events were framed before the end of input: later ones are its tail."""
        self._tail_events: list[Event] | None = None
        self.acc._input = self._seen = InputSeen(STREAM)
        self._raw: RawCut | None = None
        """The bytes read and not handed out yet, once ``raw()`` claimed the stream."""
        self.retries = 0
        """Requests sent again before the stream opened (the driver counts, ``_retry`` decides)."""
        self._structure = fmt.structure
        """The format's decoded event to typed item (per chunk, so looked up once)."""

    @property
    def events_received(self) -> int:
        """SSE events framed so far; keep-alive comments are not events."""
        return self._events_received

    # --- input -----------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Frame the next piece of the body.

        Input after ``[DONE]`` or the end is ignored; a failed or closed stream refuses it.
        """
        if self._phase is not OPEN:
            self.check_open()
            return
        seen = self._seen
        if seen.sampling:  # the first reads only: a stream holding chunks keeps no sample
            if self.acc.holds_chunk():
                seen.drop()
            else:
                seen.take(data)
        raw = self._raw
        if raw is not None:
            raw.take(data)
        check = self._watch.feed(data)
        self._queue(data)
        if check:
            self._check_until = self._events_received

    def feed_eof(self) -> None:
        """The body ended; an unterminated last event is still framed."""
        if not self._move(INPUT_ENDED):
            return
        self._tail_at = self._events_received
        self._seen.size = self._decoder.bytes_seen
        self._queue(None)
        if self._watch.carry:
            self._check_until = self._events_received

    def _queue(self, data: bytes | None) -> None:
        """Frame ``data`` (the end of input: None) and queue the events; a framing error fails."""
        decoder = self._decoder
        try:
            events = decoder.feed_data(data) if data is not None else decoder.close_data()
        except DeltafoldError as exc:
            raise self.fail(exc) from None
        if events:
            self._pending.extend(events)
            self._events_received += len(events)

    # --- output ----------------------------------------------------------------

    def _next_dict(self) -> Any:
        """The next chunk dict, NEED_INPUT, or END (after finishing the fold).

        A plain message that orjson reads as an object is that chunk, unless orjson may
        have rounded an integer in it (``rounds_ints``, asked only of the events of a
        piece ``RunWatch`` suspects: ``_check_until``); anything else (``[DONE]``, an
        empty or bad payload, NaN, an ``event: error``) is :func:`event_to_chunk`'s to
        decide, on the text as the framer would give it.
        """
        pending = self._pending
        while pending:
            event = pending.popleft()
            self._popped += 1
            if event.__class__ is bytes:
                try:
                    chunk = _loads(event)
                except _JSONDecodeError:
                    chunk = None
                if chunk.__class__ is dict and (
                    self._popped > self._check_until or not rounds_ints(event)
                ):
                    return chunk
                kind, data = "message", event.decode("utf-8", "replace")
            else:
                kind, data = event.event, event.data  # type: ignore[union-attr]
            try:
                chunk = event_to_chunk(kind, data, self.acc._count)
            except ChunkDecodeError as exc:
                error: DeltafoldError = exc
                if self._popped > self._tail_at >= 0:
                    error = IncompleteStreamError(
                        f"the stream ended in the middle of an event ({exc.message})"
                    )
                raise self.fail(error) from None
            if chunk is None:
                continue
            if chunk is DONE:
                self._seen.done = True
                self._seen.size = self._decoder.bytes_seen
                self._move(INPUT_ENDED)
                pending.clear()
                break
            return chunk
        if self._phase is OPEN:
            deferred = self._decoder.error
            if deferred is not None:
                # A byte cap was crossed after the events just handed out.
                raise self.fail(deferred)
            return NEED_INPUT
        if self._tail_events is None:
            self.check_open()
            self._tail_events = self.finish(
                strict=not (self._seen.done and self.fmt.ends_at_done)
            )
        return END

    def next_chunk(self) -> ItemT | Sentinel:
        """Fold the next chunk and return it typed (only this path builds typed chunks)."""
        chunk = self._next_dict()
        if chunk.__class__ is not dict:
            return chunk  # type: ignore[no-any-return]
        try:
            self.acc.add(chunk)
            typed = self._structure(chunk)
        except DeltafoldError as exc:
            raise self.fail(exc) from None
        self.settle()
        return typed

    def next_events(self) -> list[Event] | Sentinel:
        """Fold the next chunk and return its events (maybe none); END after the closing ones."""
        chunk = self._next_dict()
        if chunk.__class__ is not dict:
            if chunk is END and self._tail_events:
                events, self._tail_events = self._tail_events, []
                return events
            return chunk  # type: ignore[no-any-return]
        try:
            events = self.acc.feed(chunk)
        except DeltafoldError as exc:
            raise self.fail(exc) from None
        self.settle()
        return events

    def next_event(self) -> Event | Sentinel:
        """One fold event at a time (a chunk's events wait here); END after the closing ones."""
        events = self._events
        while not events:
            step = self.next_events()
            if isinstance(step, Sentinel):
                return step
            events.extend(step)
        return events.popleft()

    def drain(self) -> Sentinel:
        """Fold everything buffered without building chunks or events."""
        add = self.acc.add
        while True:
            chunk = self._next_dict()
            if chunk.__class__ is not dict:
                self.settle()
                return chunk  # type: ignore[no-any-return]
            try:
                add(chunk)
            except DeltafoldError as exc:
                raise self.fail(exc) from None

    # --- pass-through ----------------------------------------------------------

    def claim_raw(self) -> None:
        """Bind the stream to ``raw()``, which must see the body from its first byte."""
        if self._raw is None:
            if self._decoder.bytes_seen or self.ended:
                raise StreamUsageError(
                    "raw() must be the first way this stream is read: "
                    f"{self._decoder.bytes_seen} bytes were already read without it"
                )
            self.claim(RAW)
            self._raw = RawCut()
        elif self._mode is not RAW:
            self.claim(RAW)

    def drop_raw(self) -> None:
        """Keep no more bytes (``until_done()`` after ``raw()``): nobody will ask for them."""
        self._raw = None

    def next_piece(self) -> bytes | Sentinel:
        """Fold what is framed, then hand out the bytes it came in, up to an event's end.

        A piece is what was read since the last one, cut after its last blank line
        (the rest waits for the next read), so it holds only whole events (comments
        and keep-alives included), all of them folded. At ``[DONE]`` the piece ends
        with that event and nothing after it comes out; at the end of the body the
        unterminated tail comes out too. When the fold fails, the piece through the
        event it stopped at (the failing one, an ``event: error`` say) comes out first
        and the error is raised at the next step (``check_open``).
        """
        raw = self._raw
        if raw is None:
            return self.drain()
        try:
            state = self.drain()
        except DeltafoldError:
            piece = raw.through_event(self._popped)
            if piece:
                return piece
            raise
        if state is NEED_INPUT:
            return raw.cut(self._events_received) or NEED_INPUT
        if self._seen.done:  # [DONE]: was it the last event of what the framer took whole?
            last = self._popped == self._events_received and self._decoder.error is None
            piece = raw.through_event(self._popped, last)
        else:
            piece = raw.rest()
        return piece or END
