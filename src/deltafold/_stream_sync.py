"""The sync driver of the stream core: ``connect_chat`` and :class:`ChatStream`.

The twin of :mod:`deltafold._stream` (the async driver and the rules both
follow, written in its docstring), hand-written over the same sans-IO
:class:`~deltafold._core.StreamCore` rather than generated, so each reads as
plain blocking code. Errors are raised outside ``except`` blocks: the httpx
exception holds the request with its Authorization header.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from ._chat_format import CHAT
from ._core import CHUNKS, END, EVENTS, NEED_INPUT, RAW, StreamCore, Turn
from ._endpoint import check_request_url
from ._events import Event
from ._exceptions import DeltafoldError, StreamUsageError
from ._format import ItemT, ResultT
from ._http import (
    Request,
    body_error,
    build_request,
    check_idle_timeout,
    connect_error,
    idle_error,
    next_hop,
    opens,
    proxy_of,
    read_head,
    stream_error,
)
from ._json_fold import ParseJSON, upgrade
from ._limits import Limits
from ._models import ChatCompletion, ChatCompletionChunk
from ._retry import check_max_retries, retry_delay
from ._stream import ERROR_BODY_TIMEOUT, StepT, StreamBase, reads_raw
from ._telemetry import Telemetry, watch

__all__ = ["ChatStream", "SyncStream", "SyncStreamT", "connect", "connect_chat"]

class SyncStream(StreamBase[ResultT, ItemT]):
    """One streamed response of any wire format over an ``httpx.Client``: the sync twin of
    :class:`AsyncStream`.

    ``idle_timeout`` here is httpx's read timeout plus a deadline check after
    each read (see the module docs): a silent connection fails after
    ``idle_timeout``, one that sends only keep-alive comments within about
    twice that.
    """

    def __init__(
        self,
        http: httpx.Client,
        request: Request,
        *,
        idle_timeout: float | None = None,
        limits: Limits | None = None,
        telemetry: bool | Telemetry = True,
        parse_json: ParseJSON = False,
        max_retries: int = 0,
        follow_redirects: bool | None = None,
    ) -> None:
        self._http = http
        self._request = request
        self._idle = check_idle_timeout(idle_timeout)
        self._max_retries = check_max_retries(max_retries)
        self._follow = http.follow_redirects if follow_redirects is None else follow_redirects
        self._core = StreamCore(self._format, limits, upgrade(parse_json, request.json))
        self._telemetry = telemetry
        self._response: httpx.Response | None = None
        self._body: Iterator[bytes] | None = None
        self._entered = False
        self._deadline: float | None = None
        self._mark = -1
        self._events: _SyncEvents | None = None
        self._raw: _SyncRaw | None = None
        self._turn = Turn()
        """Held through each step: another thread's step is refused, not waited for."""

    def __enter__(self) -> Self:
        if self._entered:
            raise StreamUsageError("a stream can be entered only once")
        self._entered = True
        request = self._request
        core = self._core
        watch(request, self._telemetry, core)
        try:
            response = self._open()
        except DeltafoldError as exc:
            core.fail(exc)
            core.mark_closed()
            raise
        except BaseException as exc:  # interrupted while connecting: no __exit__ will come
            core.abandon(type(exc))
            raise
        core.timing.headers()
        self._response = response
        if not opens(response):
            head = self._read_head(response)
            error = core.fail(body_error(request, response, head, retries=core.retries))
            self.close()
            raise error
        self._body = response.iter_raw() if reads_raw(response) else response.iter_bytes()
        return self

    def _open(self) -> httpx.Response:
        """The sync twin of :meth:`AsyncChatStream._open`."""
        request, http, core, idle = self._request, self._http, self._core, self._idle
        first = sent = build_request(http, request, idle)
        hops = 0
        while True:
            failure: BaseException | None = None
            try:
                response = http.send(sent, stream=True, follow_redirects=False)
            except httpx.HTTPError as exc:
                failure = exc
            if failure is None:
                hop = next_hop(request, response) if self._follow else None
                if hop is not None:
                    response.close()
                    if hops == http.max_redirects:
                        too_many = httpx.TooManyRedirects(f"more than {hops}")
                        raise connect_error(request, too_many, retries=core.retries)
                    sent, hops = hop, hops + 1
                    continue
                wait = retry_delay(core.retries, self._max_retries, response)
                if wait is None:
                    return response
                response.close()
            else:
                wait = retry_delay(core.retries, self._max_retries, failure)
                if wait is None:
                    raise connect_error(
                        request, failure, idle_timeout=idle, proxy=proxy_of(http, sent.url),
                        retries=core.retries,
                    )
            core.retries += 1
            time.sleep(wait)
            sent, hops = first, 0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._core.exit_type = exc_type
        self.close()

    def close(self) -> None:
        """Close the response now; idempotent. Iterating afterwards is refused."""
        self._core.mark_closed()
        self._release()

    def _release(self) -> None:
        body, self._body = self._body, None
        response = self._response
        if response is not None:
            response.close()
        close = getattr(body, "close", None)
        if close is not None:
            close()

    def _read_head(self, response: httpx.Response) -> bytes:
        body = self._body = response.iter_bytes()
        try:
            return read_head(body, self._idle or ERROR_BODY_TIMEOUT)
        finally:
            self._release()

    def _fill(self) -> None:
        body = self._body
        core = self._core
        if body is None:
            raise StreamUsageError("enter the stream with `with` before iterating it")
        idle = self._idle
        if idle is not None and (self._deadline is None or core.events_received != self._mark):
            self._deadline = time.monotonic() + idle
            self._mark = core.events_received
        error: DeltafoldError
        try:
            data = next(body)
        except StopIteration:
            core.feed_eof()
            return
        except httpx.HTTPError as exc:
            error = stream_error(self._request, exc, events=core.events_received, idle_timeout=idle)
        else:
            core.timing.read()
            core.feed(data)
            if (
                idle is None
                or core.events_received != self._mark
                or time.monotonic() <= self._deadline  # type: ignore[operator]
            ):
                return
            error = idle_error(idle, events=core.events_received)
        # Raised outside the except block: see the module docs.
        raise core.fail(error)

    def _pull(self, step: Callable[[], StepT], restart: bool = True) -> StepT:
        turn = self._turn
        turn.take()
        try:
            core = self._core
            core.check_open()
            if restart:  # the consumer's time between steps is not the upstream's silence
                self._deadline = None
            try:
                while True:
                    item = step()  # the core settles the timing of what it folds
                    if item is NEED_INPUT:
                        self._fill()
                        continue
                    if item is END:
                        self._release()
                    return item
            except DeltafoldError as exc:
                self._request.scrub_error(exc)
                self._release()
                raise
        finally:
            turn.give()

    def __iter__(self) -> Self:
        self._core.claim(CHUNKS)
        return self

    def __next__(self) -> ItemT:
        core = self._core
        if core.mode is not CHUNKS:
            core.claim(CHUNKS)
        item = self._pull(core.next_chunk)
        if item is END:
            raise StopIteration
        return item  # type: ignore[return-value]

    def events(self) -> Iterator[Event]:
        """Iterate the fold's events instead of chunks (no typed chunk is built)."""
        self._core.claim(EVENTS)
        if self._events is None:
            self._events = _SyncEvents(self)
        return self._events

    def raw(self) -> Iterator[bytes]:
        """Pass the body through, folded on the way: see :meth:`AsyncChatStream.raw`."""
        self._core.claim_raw()
        if self._raw is None:
            self._raw = _SyncRaw(self)
        return self._raw

    def _failed(self) -> None:
        """The piece through a failing event was given: scrub its error, close the response."""
        error = self._core.error
        if error is not None:
            self._request.scrub_error(error)
        self._release()

    def until_done(self) -> ResultT:
        """Read to the end (after any iteration so far) and return the completion."""
        core = self._core
        if core.mode is RAW:
            core.drop_raw()
        if not core.ended:
            self._pull(core.drain)
        return core.completion


class _SyncEvents:
    """The ``events()`` iterator; the core holds a chunk's events until they are handed out."""

    __slots__ = ("_stream",)

    def __init__(self, stream: SyncStream[Any, Any]) -> None:
        self._stream = stream

    def __iter__(self) -> _SyncEvents:
        return self

    def __next__(self) -> Event:
        stream = self._stream
        event = stream._pull(stream._core.next_event)
        if event is END:
            raise StopIteration
        return event  # type: ignore[return-value]


class _SyncRaw:
    """The ``raw()`` iterator: the core holds the bytes until an event's end."""

    __slots__ = ("_stream",)

    def __init__(self, stream: SyncStream[Any, Any]) -> None:
        self._stream = stream

    def __iter__(self) -> _SyncRaw:
        return self

    def __next__(self) -> bytes:
        stream = self._stream
        core = stream._core
        piece = stream._pull(core.next_piece, restart=False)
        # A piece of comments only leaves the idle deadline where it was; one with an
        # event moves it at the next read.
        if piece is END:
            raise StopIteration
        if core.error is not None:
            stream._failed()
        return piece  # type: ignore[return-value]


class ChatStream(SyncStream[ChatCompletion, ChatCompletionChunk]):
    """One streamed chat completion over an ``httpx.Client``: the sync twin of AsyncChatStream.

    Iterating gives typed :class:`ChatCompletionChunk` objects.
    """

    _format = CHAT


def connect_chat(
    http: httpx.Client,
    url: str | httpx.URL,
    *,
    json: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    idle_timeout: float | None = None,
    limits: Limits | None = None,
    method: str = "POST",
    telemetry: bool | Telemetry = True,
    parse_json: ParseJSON = False,
    max_retries: int = 0,
) -> ChatStream:
    """Stream a chat completion with the caller's ``httpx.Client``; use it with ``with``.

    Same contract as :func:`aconnect_chat`, except that ``idle_timeout`` is
    enforced through httpx's read timeout (see :class:`ChatStream`).
    """
    return connect(
        ChatStream, http, url, json=json, headers=headers, idle_timeout=idle_timeout,
        limits=limits, method=method, telemetry=telemetry, parse_json=parse_json,
        max_retries=max_retries,
    )


SyncStreamT = TypeVar("SyncStreamT", bound="SyncStream[Any, Any]")
"""A format's sync stream class (:class:`ChatStream`, ...)."""


def connect(
    cls: type[SyncStreamT],
    http: httpx.Client,
    url: str | httpx.URL,
    *,
    json: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    idle_timeout: float | None = None,
    limits: Limits | None = None,
    method: str = "POST",
    telemetry: bool | Telemetry = True,
    parse_json: ParseJSON = False,
    max_retries: int = 0,
) -> SyncStreamT:
    """The sync twin of :func:`~deltafold._stream.aconnect`: every format's ``connect_*``."""
    check_request_url(http, url)  # "did you mean http://...?" before any request
    return cls(
        http, Request(method, url, json, headers), idle_timeout=idle_timeout, limits=limits,
        telemetry=telemetry, parse_json=parse_json, max_retries=max_retries,
    )
