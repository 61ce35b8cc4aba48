"""Streaming a chat completion over HTTP: the sync and async drivers of the stream core.

``aconnect_chat``/``connect_chat`` send the request themselves
(``_http.build_request``: the SSE headers httpx-sse's ``connect_sse`` would
set, without its two context managers per stream, so that a retry or a
redirect can send it again), check the status and, with httpx-sse's
``EventSource``, the content type (``_http.opens``), then read
``response.aiter_bytes()`` (``aiter_raw()`` when the body has no content
encoding) into deltafold's own :class:`~deltafold.SSEDecoder` instead of
httpx-sse's ``aiter_sse``. That part is deliberate: httpx-sse's line parser
has no size cap (one endless line would grow without bound), keeps a leading
BOM in the first field name, and decodes text before framing, whereas ours
frames bytes under ``Limits`` (both byte caps are the framer's). Events read
with httpx-sse by the caller fold too (``_decode.sse_event``). Folding an
iterable of chunks is :mod:`deltafold._iterfold`'s. Retries before the stream
opens are decided by :mod:`deltafold._retry`.

Errors are raised outside ``except`` blocks: the httpx exception holds the
request with its Authorization header, and would ride along as ``__context__``.

The I/O loops are thin: everything stateful lives in the sans-IO
:class:`~deltafold._core.StreamCore`, which both drivers step the same way.

Rules (documented on the classes, tested in tests/test_stream_*.py):

* One reader at a time: a step asked for while another task is inside a read
  (another thread, for the sync twin) raises :class:`StreamUsageError`, and the
  first reader goes on intact (``_core.second_reader``).
* One iteration style per stream: chunks (``async for``/``for``),
  ``events()`` or ``raw()`` (the body's bytes passed through, folded on the
  way). Asking for the other one raises :class:`StreamUsageError`;
  the same style may be resumed after a ``break``. ``until_done()`` and
  ``snapshot()`` work with either.
* ``completion`` raises :class:`StreamUsageError` until the stream ended, and
  re-raises the stream's own error if it failed.
* The response is closed when the ``async with`` block is left (normally, by
  an exception, a ``break`` that leaves it, or cancellation; the close is
  shielded and bounded), at ``[DONE]`` (nothing after it is read, so that
  connection is not reused), at the end of the body, and on any error. A
  ``break`` out of ``async for`` alone keeps it open so iteration can
  resume. The iterators are plain objects, not generators, so nothing is
  left for the garbage collector to finalize (and nothing for trio to warn
  about).
* Async ``idle_timeout`` is exact: a deadline that only an SSE event moves
  (comments do not). A read that starts when the deadline moves is bounded by
  httpx's read timeout, set to ``idle_timeout`` (httpcore puts a scope around
  every read anyway); a read after comments only gets ``anyio.fail_after``
  with what is left of the deadline. The sync
  version cannot cancel a blocking read, so it sets httpx's read timeout to
  ``idle_timeout`` and checks the deadline after each read: a silent socket
  fails after ``idle_timeout``, a socket that only sends keep-alive comments
  fails at the first read past the deadline (at most about twice
  ``idle_timeout`` after the last event, when comments come often).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

import anyio
import httpx

from ._chat_format import CHAT
from ._core import CHUNKS, END, EVENTS, NEED_INPUT, RAW, StreamCore, second_reader
from ._endpoint import check_request_url
from ._events import Event
from ._exceptions import DeltafoldError, StreamUsageError
from ._format import ItemT, ResultT, WireFormat
from ._http import (
    Request,
    aread_head,
    body_error,
    build_request,
    check_idle_timeout,
    connect_error,
    idle_error,
    next_hop,
    opens,
    proxy_of,
    stream_error,
    unwind,
)
from ._json_fold import ParseJSON, upgrade
from ._limits import Limits
from ._models import ChatCompletion, ChatCompletionChunk
from ._partial_json import PartialJSON
from ._retry import check_max_retries, retry_delay
from ._telemetry import Telemetry, watch
from ._timing import Timing

__all__ = [
    "AsyncChatStream", "AsyncStream", "AsyncStreamT", "StepT", "StreamBase", "aconnect",
    "aconnect_chat", "reads_raw",
]

StepT = TypeVar("StepT")
"""What one step of the core gives: a chunk, a list of events, or a sentinel."""
AsyncStreamT = TypeVar("AsyncStreamT", bound="AsyncStream[Any, Any]")
"""A format's async stream class (:class:`AsyncChatStream`, ...)."""

_CLOSE_TIMEOUT = 5.0
"""Upper bound on closing a response, which runs shielded from cancellation."""
ERROR_BODY_TIMEOUT = 30.0
"""Upper bound on reading an error body when no idle_timeout is set."""


def reads_raw(response: httpx.Response) -> bool:
    """Whether the drivers read the body's raw bytes rather than httpx's decoded ones.

    They are the same bytes when the body has no ``Content-Encoding`` but identity, and
    the raw ones come without the decoding iterator's layer (a generator, a decoder and a
    chunker per read). A body already in memory (a mock transport's ``content=``) can only
    be iterated decoded.
    """
    if response.is_stream_consumed:
        return False
    encodings = response.headers.get_list("content-encoding", split_commas=True)
    return all(value.strip().lower() in ("", "identity") for value in encodings)


class StreamBase(Generic[ResultT, ItemT]):
    """What both HTTP streams expose besides I/O, whatever the wire format."""

    _core: StreamCore[ResultT, ItemT]
    _format: ClassVar[WireFormat[Any, Any]]
    """The wire format a stream class reads; the drivers are the same for every one."""

    @property
    def format(self) -> WireFormat[ResultT, ItemT]:
        """The wire format this stream folds (``deltafold.CHAT``, ...)."""
        return self._core.fmt

    def snapshot(self) -> ResultT:
        """The result folded so far; the final one once the stream ended."""
        return self._core.snapshot()

    def partial_json(self, index: int = 0, tool_index: int | None = None) -> PartialJSON | None:
        """The live parser of a content or tool call: see :meth:`Accumulator.partial_json`."""
        return self._core.acc.partial_json(index, tool_index)

    @property
    def completion(self) -> ResultT:
        """The folded result once the stream ended normally.

        Before the end it raises :class:`StreamUsageError` (use ``snapshot()``
        for the partial one); after a failure it raises that failure again.
        """
        return self._core.completion

    @property
    def chunks_received(self) -> int:
        """Chunks folded so far."""
        return self._core.chunks_received

    @property
    def retries(self) -> int:
        """How many times the request was sent again before the stream opened (``max_retries``)."""
        return self._core.retries

    @property
    def timing(self) -> Timing:
        """Time to headers, first chunk and token, the gaps, duration: live, final at the end."""
        return self._core.timing

    def __repr__(self) -> str:
        core = self._core
        return f"<{type(self).__name__} {core.describe()}, {core.chunks_received} chunks>"


# --- async -----------------------------------------------------------------------


class AsyncStream(StreamBase[ResultT, ItemT]):
    """One streamed response of any wire format over an ``httpx.AsyncClient``.

    Use it as ``async with``; the response is closed when the block is left
    (early, on ``break`` out of it, on error or on cancellation), as soon as
    ``[DONE]`` or the end of the body is reached, and when the stream fails.
    Iterating gives the format's typed items (chunks, events); ``events()``
    gives the fold's events instead, and ``raw()`` the body's bytes as received
    (one style per stream). A subclass names its format (``_format``).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
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
        self._body: AsyncIterator[bytes] | None = None
        self._entered = False
        self._deadline: float | None = None
        self._mark = -1
        self._events: _AsyncEvents | None = None
        self._raw: _AsyncRaw | None = None
        self._reading = False
        """True while a read is awaited: another task's step is refused meanwhile."""

    # --- lifecycle -------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise StreamUsageError("a stream can be entered only once")
        self._entered = True
        request = self._request
        core = self._core
        watch(request, self._telemetry, core)
        try:
            response = await self._open()
        except DeltafoldError as exc:
            core.fail(exc)
            core.mark_closed()
            raise
        except BaseException as exc:  # cancelled while connecting: no __aexit__ will come
            core.abandon(type(exc))
            raise
        core.timing.headers()
        self._response = response
        if not opens(response):
            try:
                head = await self._read_head(response)
            except BaseException as exc:  # cancelled while reading the error body
                core.abandon(type(exc))
                await self.aclose()
                raise
            error = core.fail(body_error(request, response, head, retries=core.retries))
            await self.aclose()
            raise error
        self._body = response.aiter_raw() if reads_raw(response) else response.aiter_bytes()
        return self

    async def _open(self) -> httpx.Response:
        """Send the request until an answer to keep: redirects followed hop by hop
        (:func:`next_hop`), failures before it retried as ``_retry`` decides.

        Errors are built and raised outside ``except`` blocks (see the module docs).
        """
        request, http, core, idle = self._request, self._http, self._core, self._idle
        first = sent = build_request(http, request, idle)
        hops = 0
        while True:
            failure: BaseException | None = None
            try:
                if idle is None:
                    response = await http.send(sent, stream=True, follow_redirects=False)
                else:
                    with anyio.fail_after(idle):
                        response = await http.send(sent, stream=True, follow_redirects=False)
            except (TimeoutError, httpx.HTTPError) as exc:
                failure = exc
            if failure is None:
                hop = next_hop(request, response) if self._follow else None
                if hop is not None:
                    await response.aclose()
                    if hops == http.max_redirects:
                        too_many = httpx.TooManyRedirects(f"more than {hops}")
                        raise connect_error(request, too_many, retries=core.retries)
                    sent, hops = hop, hops + 1
                    continue
                wait = retry_delay(core.retries, self._max_retries, response)
                if wait is None:
                    return response
                await response.aclose()
            else:
                wait = retry_delay(core.retries, self._max_retries, failure)
                if wait is None:
                    raise connect_error(
                        request, failure, idle_timeout=idle, proxy=proxy_of(http, sent.url),
                        retries=core.retries,
                    )
            core.retries += 1
            await anyio.sleep(wait)
            sent, hops = first, 0

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._core.exit_type = exc_type
        await self.aclose()

    async def aclose(self) -> None:
        """Close the response now; idempotent. Iterating afterwards is refused."""
        self._core.mark_closed()
        await self._release()

    async def _release(self) -> None:
        """Close the response (shielded): at the end of the stream or when it fails."""
        body, self._body = self._body, None
        response = self._response
        if response is None or (body is None and response.is_closed):
            return
        with anyio.move_on_after(_CLOSE_TIMEOUT, shield=True):
            await response.aclose()
            if body is not None:
                await unwind(body)

    async def _read_head(self, response: httpx.Response) -> bytes:
        """The start of a body that is not an event stream, for its error."""
        body = self._body = response.aiter_bytes()
        try:
            return await aread_head(body, self._idle or ERROR_BODY_TIMEOUT)
        finally:
            await self._release()

    # --- reading ---------------------------------------------------------------

    async def _pull(self, step: Callable[[], StepT], restart: bool = True) -> StepT:
        """Step the core until it yields something; read whenever it needs input.

        A read goes into the core under the idle deadline. It is written out here rather
        than in a coroutine of its own, as on a live stream it runs once per chunk.
        """
        if self._reading:
            raise second_reader()
        core = self._core
        core.check_open()
        if restart:  # the consumer's time between steps is not the upstream's silence
            self._deadline = None
        try:
            while True:
                item = step()  # the core settles the timing of what it folds
                if item is not NEED_INPUT:
                    if item is END:
                        await self._release()
                    return item
                body = self._body
                if body is None:
                    raise StreamUsageError("enter the stream with `async with` before iterating it")
                idle = self._idle
                error: DeltafoldError
                self._reading = True
                try:
                    if idle is None:
                        data = await body.__anext__()
                    elif self._deadline is None or core.events_received != self._mark:
                        # The deadline moves to now + idle: httpx's read timeout (idle_timeout,
                        # set at enter) is that bound, so no scope of our own (one costs about
                        # as much as folding a chunk).
                        self._deadline = anyio.current_time() + idle
                        self._mark = core.events_received
                        data = await body.__anext__()
                    else:  # only comments since the deadline moved: what is left of it
                        with anyio.fail_after(max(self._deadline - anyio.current_time(), 0.0)):
                            data = await body.__anext__()
                except StopAsyncIteration:
                    core.feed_eof()
                    continue
                except TimeoutError:
                    error = idle_error(idle or 0.0, events=core.events_received)
                except httpx.HTTPError as exc:
                    error = stream_error(
                        self._request, exc, events=core.events_received, idle_timeout=idle
                    )
                else:
                    core.timing.read()
                    core.feed(data)
                    continue
                finally:
                    self._reading = False
                # Raised outside the except block: see the module docs.
                raise core.fail(error)
        except DeltafoldError as exc:
            self._request.scrub_error(exc)
            await self._release()
            raise

    def __aiter__(self) -> Self:
        self._core.claim(CHUNKS)
        return self

    async def __anext__(self) -> ItemT:
        core = self._core
        if core.mode is not CHUNKS:
            core.claim(CHUNKS)
        item = await self._pull(core.next_chunk)
        if item is END:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    def events(self) -> AsyncIterator[Event]:
        """Iterate the fold's events instead of chunks (no typed chunk is built)."""
        self._core.claim(EVENTS)
        if self._events is None:
            self._events = _AsyncEvents(self)
        return self._events

    def raw(self) -> AsyncIterator[bytes]:
        """Pass the body through: its bytes exactly as received, folded on the way.

        For a gateway, which forwards what the upstream sent and wants the
        completion and usage at the end. Each piece is what was read since the
        last one, cut after its last complete event (the rest waits for the next
        read): comments, keep-alives, a BOM and CRLF line ends stay as they came,
        and nothing is re-encoded, so the pieces joined are the body up to and
        including ``[DONE]`` (nothing after it), or the whole body when it ends
        without one. Every event in a piece is folded before the piece is given,
        so ``snapshot()`` matches what was forwarded; ``completion``, ``timing``,
        the byte caps and ``idle_timeout`` work as with chunks. When the stream
        fails, the piece through the event the fold stopped at (an upstream
        ``event: error``, say) is given first and the error, with ``.partial``,
        is raised by the next step; a partial event cut off by a read error or
        the idle timeout is not given. It must be the first way the stream is
        read; a ``break`` keeps the stream open to resume, leaving ``async with``
        closes it.
        """
        self._core.claim_raw()
        if self._raw is None:
            self._raw = _AsyncRaw(self)
        return self._raw

    async def _failed(self) -> None:
        """The piece through a failing event was given: scrub its error, close the response."""
        error = self._core.error
        if error is not None:
            self._request.scrub_error(error)
        await self._release()

    async def until_done(self) -> ResultT:
        """Read to the end (after any iteration so far) and return the result."""
        core = self._core
        if core.mode is RAW:
            core.drop_raw()
        if not core.ended:
            await self._pull(core.drain)
        return core.completion


class _AsyncEvents:
    """The ``events()`` iterator; the core holds a chunk's events until they are handed out."""

    __slots__ = ("_stream",)

    def __init__(self, stream: AsyncStream[Any, Any]) -> None:
        self._stream = stream

    def __aiter__(self) -> _AsyncEvents:
        return self

    async def __anext__(self) -> Event:
        stream = self._stream
        event = await stream._pull(stream._core.next_event)
        if event is END:
            raise StopAsyncIteration
        return event  # type: ignore[return-value]


class _AsyncRaw:
    """The ``raw()`` iterator: the core holds the bytes until an event's end."""

    __slots__ = ("_stream",)

    def __init__(self, stream: AsyncStream[Any, Any]) -> None:
        self._stream = stream

    def __aiter__(self) -> _AsyncRaw:
        return self

    async def __anext__(self) -> bytes:
        stream = self._stream
        core = stream._core
        piece = await stream._pull(core.next_piece, restart=False)
        # A piece of comments only leaves the idle deadline where it was; one with an
        # event moves it at the next read.
        if piece is END:
            raise StopAsyncIteration
        if core.error is not None:
            await stream._failed()
        return piece  # type: ignore[return-value]


class AsyncChatStream(AsyncStream[ChatCompletion, ChatCompletionChunk]):
    """One streamed chat completion over an ``httpx.AsyncClient``.

    Iterating gives typed :class:`ChatCompletionChunk` objects; everything else is
    :class:`AsyncStream`'s, the same for every wire format.
    """

    _format = CHAT


def aconnect_chat(
    http: httpx.AsyncClient,
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
) -> AsyncChatStream:
    """Stream a chat completion with the caller's ``httpx.AsyncClient``.

    ``json`` is copied and gets ``"stream": true``; ``headers`` are sent with
    this request only (the client is never modified). Use the result with
    ``async with``. ``idle_timeout`` bounds the wait for the response headers
    and for each SSE event; while it is set it replaces the client's read
    timeout for this request. ``parse_json``: see :class:`Accumulator`; True also parses
    the content when ``json`` has a ``response_format`` of type json_schema or json_object.
    ``telemetry=False`` records no OpenTelemetry
    span or metric for this stream (see :class:`Telemetry`); ``.timing`` is kept anyway.
    ``max_retries`` retries a connection error, a timeout, or a 408, 409, 429 or 5xx
    answer before the stream opens (never after), as :class:`Client` does by default.
    Redirects are followed when ``http`` follows them (``follow_redirects``), and no
    credential header goes along to another origin.
    """
    return aconnect(
        AsyncChatStream, http, url, json=json, headers=headers, idle_timeout=idle_timeout,
        limits=limits, method=method, telemetry=telemetry, parse_json=parse_json,
        max_retries=max_retries,
    )


def aconnect(
    cls: type[AsyncStreamT],
    http: httpx.AsyncClient,
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
) -> AsyncStreamT:
    """What every format's ``aconnect_*`` does: check the URL, build the request, the stream.

    ``cls`` is the format's stream class (:class:`AsyncChatStream`, ...); the contract is
    :func:`aconnect_chat`'s.
    """
    check_request_url(http, url)  # "did you mean http://...?" before any request
    return cls(
        http, Request(method, url, json, headers), idle_timeout=idle_timeout, limits=limits,
        telemetry=telemetry, parse_json=parse_json, max_retries=max_retries,
    )
