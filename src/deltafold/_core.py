"""The sans-IO core that the sync and async streams both drive.

A driver (``ChatStream``/``AsyncChatStream``, ``Fold``/``AsyncFold``) owns the
I/O: it reads bytes or items and hands them here. Everything else lives once,
in this module: SSE framing with size caps, ``[DONE]`` and end-of-stream
rules, which iteration style a stream is consumed with, and what
``completion`` means at each moment. Keeping it free of I/O is what lets the
two drivers share it instead of copying a loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final

from ._accumulator import Accumulator
from ._convert import from_dict
from ._decode import DONE, STREAM, InputSeen, event_to_chunk
from ._events import Event
from ._exceptions import ChunkDecodeError, DeltafoldError, IncompleteStreamError, StreamUsageError
from ._limits import Limits, limit_error
from ._models import ChatCompletion, ChatCompletionChunk
from ._sse import ServerSentEvent, SSEDecoder

__all__ = ["END", "NEED_INPUT", "FoldState", "StreamCore"]


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_INPUT: Final = _Signal("NEED_INPUT")
"""Nothing is buffered: the driver must read and ``feed`` (or ``feed_eof``)."""
END: Final = _Signal("END")
"""The stream is over and ``completion`` is set."""

CHUNKS: Final = "chunks"
EVENTS: Final = "events"


class FoldState:
    """An accumulator plus the rules for when its result may be read.

    ``completion`` is the folded result once the stream ended normally. Before
    that it raises :class:`StreamUsageError`; after a failure it raises the
    failure again (which carries ``.partial``), so code that only looks at
    ``completion`` never mistakes a broken stream for a finished one.
    """

    __slots__ = ("_closed", "_completion", "_error", "_mode", "acc")

    def __init__(self, limits: Limits | None = None) -> None:
        self.acc = Accumulator(limits=limits)
        self._completion: ChatCompletion | None = None
        self._error: DeltafoldError | None = None
        self._closed = False
        self._mode: str | None = None

    @property
    def ended(self) -> bool:
        """True once the stream finished, failed or was closed."""
        return self._completion is not None or self._error is not None or self._closed

    @property
    def error(self) -> DeltafoldError | None:
        return self._error

    def claim(self, mode: str) -> None:
        """Bind the stream to one iteration style; the other one is refused from now on."""
        if self._mode is None:
            self._mode = mode
        elif self._mode != mode:
            other = "iterated as chunks" if self._mode == CHUNKS else "iterated with events()"
            wanted = "chunks" if mode == CHUNKS else "events()"
            raise StreamUsageError(
                f"this stream is already {other}; it cannot also give {wanted}. "
                "Use one style per stream (events carry every delta a chunk does); "
                "until_done() and snapshot() work with either."
            )

    def partial(self) -> ChatCompletion | None:
        """What a failure should carry: the snapshot, or None before any chunk."""
        return self.acc.snapshot() if self.acc.chunks_folded else None

    def fail(self, exc: DeltafoldError) -> DeltafoldError:
        """Record ``exc`` as the stream's outcome (with ``.partial``) and return it to raise."""
        if exc.partial is None:
            exc.partial = self.partial()
        if self._error is None and self._completion is None:
            self._error = exc
        return exc

    def mark_closed(self) -> None:
        self._closed = True

    def check_open(self) -> None:
        """Re-raise a recorded failure, or refuse to go on once closed."""
        if self._error is not None:
            raise self._error
        if self._closed and self._completion is None:
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
            self._completion = acc.result(strict=strict)
        except DeltafoldError as exc:
            raise self.fail(exc) from None
        return events

    @property
    def completion(self) -> ChatCompletion:
        if self._completion is not None:
            return self._completion
        if self._error is not None:
            raise self._error
        if self._closed:
            raise StreamUsageError(
                "the stream was closed before it ended, so there is no completion; "
                "snapshot() has what arrived"
            )
        raise StreamUsageError(
            "the stream has not ended yet: iterate it to the end or await until_done() "
            "(snapshot() gives the completion so far)"
        )

    def snapshot(self) -> ChatCompletion:
        return self._completion if self._completion is not None else self.acc.snapshot()


class StreamCore(FoldState):
    """Bytes of an SSE response in; typed chunks, fold events or nothing out.

    The driver calls ``next_chunk()`` / ``next_events()`` / ``drain()`` and,
    whenever they answer :data:`NEED_INPUT`, reads once and calls ``feed`` or
    ``feed_eof``. Framed events wait in a queue and are decoded and folded
    one at a time as they are handed out, so an error in a later event never
    costs the chunks before it, and ``.partial`` always holds every chunk that
    was handed out.

    End rules: ``[DONE]`` ends the stream and nothing after it is read (a choice
    without a finish_reason is accepted, as some providers send none). End of
    input without ``[DONE]`` is a normal end only if every choice has a
    finish_reason; otherwise it is an :class:`IncompleteStreamError`, and if
    no chunk came at all (only comments or ``[DONE]``, an empty body) an
    :class:`EmptyStreamError` saying which. A last event cut off by the end of input
    that does not decode is reported as that truncation, not as bad JSON.
    """

    __slots__ = (
        "_decoder",
        "_done",
        "_eof",
        "_framed",
        "_max_total",
        "_over",
        "_pending",
        "_popped",
        "_seen",
        "_tail_at",
        "_tail_events",
        "_total",
        "limits",
        "received",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        limits = limits or Limits()
        super().__init__(limits)
        self.limits = limits
        self._decoder = SSEDecoder(max_event_bytes=limits.max_event_bytes)
        self._max_total = limits.max_total_bytes
        self._pending: deque[ServerSentEvent] = deque()
        self._total = 0
        self.received = 0
        """SSE events framed so far; keep-alive comments are not events."""
        self._framed = 0
        self._popped = 0
        self._tail_at = -1
        self._eof = False
        self._done = False
        self._tail_events: list[Event] | None = None
        self._over: DeltafoldError | None = None
        """max_total_bytes crossed: raised once the events framed before it are folded."""
        self.acc._input = self._seen = InputSeen(STREAM)

    @property
    def input_ended(self) -> bool:
        """True once ``[DONE]`` or the end of input was seen: the driver may release the body."""
        return self._done or self._eof

    # --- input -----------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Frame the next piece of the body; input after ``[DONE]`` is ignored."""
        if self._done or self._eof:
            return
        if self._over is not None:
            raise self.fail(self._over)
        seen = self._seen
        if seen.sampling:
            seen.take(data)
        if self._max_total is not None:
            self._total += len(data)
            if self._total > self._max_total:
                # Frame the bytes that fit; the error follows the events complete within them.
                try:
                    raise limit_error("max_total_bytes", self._total, self.limits.max_total_bytes)
                except DeltafoldError as exc:
                    self._over = exc
                data = data[: len(data) - (self._total - self._max_total)]
        self._queue(self._decoder.feed, data)

    def feed_eof(self) -> None:
        """The body ended; an unterminated last event is still framed."""
        if self._done or self._eof:
            return
        self._eof = True
        self._tail_at = self._framed
        self._seen.size = self._decoder.bytes_seen
        self._queue(self._decoder.close)

    def _queue(self, frame: Callable[..., list[ServerSentEvent]], *args: Any) -> None:
        """Frame with ``frame(*args)`` and queue the events; a framing error fails the stream."""
        try:
            events = frame(*args)
        except DeltafoldError as exc:
            raise self.fail(exc) from None
        if events:
            self._pending.extend(events)
            self.received += len(events)
            self._framed += len(events)

    # --- output ----------------------------------------------------------------

    def _next_dict(self) -> Any:
        """The next chunk dict, NEED_INPUT, or END (after finishing the fold)."""
        pending = self._pending
        while pending:
            event = pending.popleft()
            self._popped += 1
            try:
                chunk = event_to_chunk(event.event, event.data, self.acc.chunks_folded)
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
                self._done = self._seen.done = True
                self._seen.size = self._decoder.bytes_seen
                pending.clear()
                break
            return chunk
        if self._over is not None and not self._done:
            raise self.fail(self._over)
        if not (self._done or self._eof):
            return NEED_INPUT
        if self._tail_events is None:
            self.check_open()
            self._tail_events = self.finish(strict=not self._done)
        return END

    def next_chunk(self) -> ChatCompletionChunk | _Signal:
        """Fold the next chunk and return it typed (only this path builds typed chunks)."""
        chunk = self._next_dict()
        if chunk.__class__ is not dict:
            return chunk  # type: ignore[no-any-return]
        acc = self.acc
        try:
            acc.feed_many((chunk,))
            return from_dict(ChatCompletionChunk, chunk)
        except DeltafoldError as exc:
            raise self.fail(exc) from None

    def next_events(self) -> list[Event] | _Signal:
        """Fold the next chunk and return its events (maybe none); END after the closing ones."""
        chunk = self._next_dict()
        if chunk.__class__ is not dict:
            if chunk is END and self._tail_events:
                events, self._tail_events = self._tail_events, []
                return events
            return chunk  # type: ignore[no-any-return]
        try:
            return self.acc.feed(chunk)
        except DeltafoldError as exc:
            raise self.fail(exc) from None

    def drain(self) -> _Signal:
        """Fold everything buffered without building chunks or events."""
        feed = self.acc.feed_many
        while True:
            chunk = self._next_dict()
            if chunk.__class__ is not dict:
                return chunk  # type: ignore[no-any-return]
            try:
                feed((chunk,))
            except DeltafoldError as exc:
                raise self.fail(exc) from None
