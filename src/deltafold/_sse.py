"""Sans-IO Server-Sent Events framing.

Kept free of I/O so one framer serves sync and async transports, tests and
replayed captures alike. It sits on the hot path of every streamed response,
so the common shape (LF line ends, one ``data: {...}`` line per event) is
framed with whole-buffer string operations rather than line by line.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from itertools import repeat
from typing import Any

import attrs

from ._exceptions import LimitExceededError
from ._jsontext import dumps
from ._limits import limit_error

__all__ = ["BOM", "BOM_BYTES", "SSEDecoder", "ServerSentEvent", "iter_sse", "iter_windows"]

BOM = "\ufeff"
"""The byte order mark, dropped at the start of a body (SSE here; JSON bodies, replays)."""
BOM_BYTES = BOM.encode()
_CR = 0x0D
_LF = 0x0A
_COLON = 0x3A
_COMMENT_LINES = re.compile(rb"\n:[^\n]*")
_BLANK_RUNS = re.compile(rb"\n\n\n+")
_DATA_PREFIX = b"data: "
_remove_prefix = bytes.removeprefix
WINDOW_BYTES = 256 * 1024
"""A whole body is framed this many bytes at a time (see :func:`iter_windows`)."""


@attrs.frozen
class ServerSentEvent:
    """One dispatched SSE event."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


_new = object.__new__
_SLOTS = ServerSentEvent.__dict__
_set_event = _SLOTS["event"].__set__
_set_data = _SLOTS["data"].__set__
_set_id = _SLOTS["id"].__set__
_set_retry = _SLOTS["retry"].__set__


def _message(data: str, id: str | None) -> ServerSentEvent:
    """Build a plain message event without the attrs ``__init__``.

    Setting the slots directly is about twice as fast, and this runs once per
    event on the fast path. It must stay equivalent to
    ``ServerSentEvent("message", data, id)``: the class has no validators or
    converters, and the tests compare both.
    """
    event: ServerSentEvent = _new(ServerSentEvent)
    _set_event(event, "message")
    _set_data(event, data)
    _set_id(event, id)
    _set_retry(event, None)
    return event


class SSEDecoder:
    """Incremental SSE framer: feed it pieces cut anywhere, get complete events back.

    Follows WHATWG parsing except that :meth:`close` also dispatches a last event
    that lacks its terminating blank line, so a truncated stream loses no data.
    Events without any ``data`` line are never dispatched.

    Bytes are split into lines before decoding, so multi-byte characters may be
    cut across feeds. Pending bytes live in one ``bytearray`` whose already
    scanned prefix is never rescanned, which keeps the cost linear even for a
    huge event arriving one byte at a time.

    Both byte caps of :class:`~deltafold.Limits` live here, so every reader of
    SSE (the HTTP streams, ``assemble_sse``, the CLI) enforces them the same way.
    ``max_event_bytes`` bounds memory held for one event: it counts the bytes of
    every line since the last blank line (comments included, line ends not) plus
    the unfinished line. ``max_total_bytes`` bounds the whole body as fed (a
    ``str`` piece counts its characters): the part of a piece that fits is still
    framed. Either error is deferred while events complete within the limit are
    handed out (see :meth:`feed`); once raised or deferred it is :attr:`error`,
    and the decoder is unusable and raises it again on every call.
    """

    __slots__ = (
        "_at_start",
        "_buf",
        "_bytes_seen",
        "_closed",
        "_data",
        "_error",
        "_event",
        "_event_bytes",
        "_last_id",
        "_max",
        "_max_total",
        "_retry",
        "_skip_lf",
        "_total",
    )

    _plain = False
    """:class:`DataDecoder` sets it: a message event comes out as its data string."""

    def __init__(
        self, *, max_event_bytes: int | None = None, max_total_bytes: int | None = None
    ) -> None:
        if max_event_bytes is not None and max_event_bytes < 0:
            raise ValueError("max_event_bytes must be >= 0 or None")
        if max_total_bytes is not None and max_total_bytes < 0:
            raise ValueError("max_total_bytes must be >= 0 or None")
        self._max = max_event_bytes
        self._max_total = max_total_bytes
        self._total = 0
        self._buf = bytearray()
        self._at_start = True
        self._skip_lf = False
        self._closed = False
        self._error: LimitExceededError | None = None
        self._bytes_seen = 0
        self._data: list[bytes] = []
        self._event = b""
        self._retry: int | None = None
        self._last_id: str | None = None
        self._event_bytes = 0

    @property
    def bytes_seen(self) -> int:
        """Total bytes fed so far (``str`` pieces count as their UTF-8 encoding)."""
        return self._bytes_seen

    @property
    def error(self) -> LimitExceededError | None:
        """The limit error raised, or deferred behind the events returned with it.

        A caller that hands events out one at a time checks it once they are all out,
        so the error comes right after them rather than at the next read.
        """
        return self._error

    def feed(self, data: bytes | str) -> list[ServerSentEvent]:
        """Take the next piece of the stream and return the events it completes.

        When a limit is exceeded after some events of this piece were already
        framed, those events are returned and the error is raised by the next call
        (and is :attr:`error` meanwhile), so no complete event is lost to a later
        oversized one or to the end of the budget.
        """
        return self._feed(data)

    def _feed(self, data: bytes | str) -> list[Any]:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise RuntimeError("SSEDecoder.feed() called after close()")
        budget = self._max_total
        if budget is not None:
            total = self._total = self._total + len(data)
            if total > budget:
                return self._feed_last(data, budget)
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        elif type(data) is not bytes:
            data = bytes(data)
        if not data:
            return []
        self._bytes_seen += len(data)
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == _LF:
                data = data[1:]
                if not data:
                    return []
        if self._at_start:
            buf = self._buf
            if buf:
                data = bytes(buf) + data
                buf.clear()
            if len(data) < 3 and BOM_BYTES.startswith(data):
                buf += data
                return []
            self._at_start = False
            if data.startswith(BOM_BYTES):
                data = data[3:]
        events: list[Any] = []
        try:
            self._consume(data, events)
        except LimitExceededError as exc:
            self._error = exc
            if not events:
                raise
        return events

    def _feed_last(self, data: bytes | str, budget: int) -> list[Any]:
        """The piece that crosses ``max_total_bytes``: frame the part that fits, then fail.

        The error is deferred behind the events that part completes, or raised when
        there are none. An event cap crossed within that part is raised first when it
        leaves no event to hand out; otherwise the budget's error is the one kept.
        """
        total = self._total
        error = limit_error("max_total_bytes", total, budget)
        fits = data[: len(data) - (total - budget)]
        self._total = budget - len(fits)  # _feed counts the part that fits once more
        events = self._feed(fits)
        self._error = error
        if not events:
            raise error
        return events

    def close(self) -> list[ServerSentEvent]:
        """Signal end of input; returns the last event if it was left unterminated."""
        return self._close()

    def _close(self) -> list[Any]:
        if self._error is not None:
            raise self._error
        if self._closed:
            return []
        self._closed = True
        events: list[Any] = []
        buf = self._buf
        if buf:
            line = bytes(buf)
            buf.clear()
            self._line(line, events)
        self._dispatch(events)
        return events

    def _region(self, data: bytes) -> bytes | None:
        """The complete lines held with ``data``, LF-ended; the unfinished one stays buffered.

        None when no line is complete yet. Only the bytes after what was already
        scanned are searched, so a long line fed in small pieces costs linear time.
        """
        buf = self._buf
        if buf:
            scan = len(buf)
            buf += data
            end = max(buf.rfind(b"\n", scan), buf.rfind(b"\r", scan)) + 1
            if not end:
                return None
            region = bytes(buf[:end])
            del buf[:end]
        else:
            end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            if not end:
                buf += data
                return None
            if end < len(data):
                region = data[:end]
                buf += data[end:]
            else:
                region = data
        if region[-1] == _CR:
            self._skip_lf = not buf
        if b"\r" in region:
            region = region.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return region

    def _one_event(self, data: bytes, events: list[Any]) -> bool:
        """Frame ``data`` if it is one ``data:`` line and its blank line with nothing pending.

        That is what a live stream's read holds most often (one event per write
        upstream), so it skips the region's searches and splits; False for anything else.
        """
        limit = self._max
        if (
            self._buf
            or self._event_bytes
            or not data.endswith(b"\n\n")
            or not data.startswith(b"data: ")
            or data.find(b"\n", 6) != len(data) - 2
            or b"\r" in data
            or (limit is not None and len(data) > limit)
        ):
            return False
        payload = data[6:-2]
        if self._plain:
            events.append(payload)
        else:
            events.append(_message(payload.decode("utf-8", "replace"), self._last_id))
        return True

    def _consume(self, data: bytes, events: list[Any]) -> None:
        if self._one_event(data, events):
            return
        region = self._region(data)
        if region is None:
            self._check_tail()
            return
        limit = self._max
        if (
            not self._event_bytes
            and region.endswith(b"\n\n")
            and (limit is None or len(region) <= limit)
        ):
            # The common shape, framed with whole-region string operations: only
            # ``data: ...`` lines, each event one line. Nothing is pending, the region
            # ends with a blank line and is within the limit as a whole, so it is a run
            # of whole events none of which can exceed the limit. Comment lines
            # (keep-alives) opening the region are dropped first; comment events
            # between data events are cut off the payloads they trail (no search of
            # the whole region for them: on a JSON body that search costs as much as
            # the split), so a keep-alive does not send the region down the line path.
            fast = region
            if fast[0] == _COLON:
                fast = _COMMENT_LINES.sub(b"", fast)
                fast = fast[fast.find(b"\n") + 1 :]
                fast = _BLANK_RUNS.sub(b"\n\n", fast).lstrip(b"\n")
                if not fast:
                    self._check_tail()
                    return
            if fast.startswith(b"data: "):
                payload = fast[6:-2]
                datas = payload.split(b"\n\ndata: ")
                # Every separator holds two line ends: any other one means a comment
                # event, a multi-line event or another field.
                if payload.count(b"\n") == 2 * len(datas) - 2 or _drop_comment_events(datas):
                    if self._plain:
                        events += datas
                    else:
                        last_id = self._last_id
                        events += [_message(d.decode("utf-8", "replace"), last_id) for d in datas]
                    self._check_tail()
                    return
            elif self._plain and (named := _named_run(fast)) is not None:
                events += named
                self._check_tail()
                return

        parts = region.split(b"\n\n")
        tail = parts.pop()
        line = self._line
        if parts and self._event_bytes:
            for piece in parts[0].split(b"\n"):
                line(piece, events)
            self._dispatch(events)
            del parts[0]
        emit = events.append
        plain = self._plain
        for part in parts:
            if part.startswith(b"data: ") and part.find(b"\n", 6) < 0:
                if limit is not None and len(part) > limit:
                    raise self._limit_error(len(part))
                if plain:
                    emit(part[6:])
                else:
                    emit(_message(part[6:].decode("utf-8", "replace"), self._last_id))
            elif plain and part.startswith(b"event: ") and (start := _named_data(part)) > 0:
                # ``event: NAME`` then one ``data:`` line (the Responses and Messages APIs
                # name every event; the data repeats the name as its ``type``).
                if limit is not None and len(part) > limit:
                    raise self._limit_error(len(part))
                emit(part[start + 6 :])
            else:
                for piece in part.split(b"\n"):
                    line(piece, events)
                self._dispatch(events)
        if tail:
            for piece in tail[:-1].split(b"\n"):
                line(piece, events)
        self._check_tail()

    def _line(self, line: bytes, events: list[Any]) -> None:
        if not line:
            self._dispatch(events)
            return
        self._event_bytes += len(line)
        if self._max is not None and self._event_bytes > self._max:
            raise self._limit_error(self._event_bytes)
        if line[0] == _COLON:
            return
        colon = line.find(b":")
        if colon < 0:
            name, value = line, b""
        else:
            name = line[:colon]
            value = line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            # int() refuses very long digit strings; such a retry is ignored.
            with contextlib.suppress(ValueError):
                self._retry = int(value)

    def _dispatch(self, events: list[Any]) -> None:
        self._event_bytes = 0
        if self._data:
            name = self._event.decode("utf-8", "replace") or "message"
            raw = b"\n".join(self._data)
            if self._plain and name != "error":
                events.append(raw)
            else:
                data = raw.decode("utf-8", "replace")
                events.append(ServerSentEvent(name, data, self._last_id, self._retry))
            self._data = []
        self._event = b""
        self._retry = None

    def _check_tail(self) -> None:
        if self._max is not None:
            pending = self._event_bytes + len(self._buf)
            if pending > self._max:
                raise self._limit_error(pending)

    def _limit_error(self, value: int) -> LimitExceededError:
        return limit_error("max_event_bytes", value, self._max, "an SSE event")


def _named_data(part: bytes) -> int:
    """For an event of exactly ``event: NAME`` and one ``data: ...`` line, NAME not ``error``:
    where its data line starts; else -1 (the line path frames it, to the same result).
    """
    line_end = part.find(b"\n", 7)
    if (
        line_end < 0
        or not part.startswith(b"data: ", line_end + 1)
        or part.find(b"\n", line_end + 7) >= 0
        or b"\r" in part
        or part[7:line_end].strip() == b"error"
    ):
        return -1
    return line_end + 1


def _named_run(region: bytes) -> list[bytes] | None:
    """The payloads of a region of named events, each ``event: NAME`` then one ``data:``
    line (how the Responses and Messages APIs send every event), none named ``error``;
    None for a region of any other shape (the per-event path frames it, to the same result).

    The region is split once on line ends; with ``3n + 1`` lines, every third one blank,
    the lines before each blank are an event's two. Each second line must start with
    ``data: ``: stripping that prefix off all of them (C calls, no test per line) must
    take ``6n`` bytes. The first lines are few distinct names: each must be an
    ``event: `` line not named ``error``. No pass over the region's bytes beyond the split.
    """
    if not region.startswith(b"event: "):
        return None
    lines = region.split(b"\n")
    n = len(lines) // 3
    if len(lines) != 3 * n + 1 or any(lines[2::3]):
        return None
    datas = lines[1::3]
    payloads = list(map(_remove_prefix, datas, repeat(_DATA_PREFIX, n)))
    if sum(map(len, datas)) - sum(map(len, payloads)) != 6 * n:
        return None
    for name in set(lines[0 : 3 * n : 3]):
        if not name.startswith(b"event: ") or name[7:].strip() == b"error":
            return None
    return payloads


def _drop_comment_events(datas: list[bytes]) -> bool:
    """Cut the comment-only events trailing some payloads off them, in place.

    ``datas`` is a region split on the data events' separator; a payload holding a line
    end is followed by other events. True when those are all comments or blank lines
    (dispatching nothing), False when one is anything else: the line path frames it.
    """
    for i, data in enumerate(datas):
        if b"\n" not in data:
            continue
        head, *rest = data.split(b"\n\n")
        if b"\n" in head:
            return False
        for event in rest:
            for line in event.split(b"\n"):
                if line and line[0] != _COLON:
                    return False
        datas[i] = head
    return True


class DataDecoder(SSEDecoder):
    """The framer of ``assemble_sse``: a ``message`` event comes out as its data, undecoded.

    The data are the raw UTF-8 bytes (``orjson.loads`` reads them without a text
    copy; a reader wanting text decodes them with ``errors="replace"``, as
    :class:`SSEDecoder` does). So does an event of any other name but ``error``:
    the Responses and Messages APIs name every event and repeat the name in the
    data's ``type``, and no reader acts on a name but ``error``, which still comes
    out as a :class:`ServerSentEvent`. The framing, limits and errors are
    :class:`SSEDecoder`'s; only the per-event object is skipped, which the fold
    would read two fields of and drop.
    """

    __slots__ = ()
    _plain = True

    def feed_data(self, data: bytes | str) -> list[bytes | ServerSentEvent]:
        """Like :meth:`SSEDecoder.feed`, with plain messages as their data bytes."""
        return self._feed(data)

    def close_data(self) -> list[bytes | ServerSentEvent]:
        """Like :meth:`SSEDecoder.close`, with a plain message as its data bytes."""
        return self._close()


def iter_windows(body: bytes | str, size: int = WINDOW_BYTES) -> Iterator[bytes]:
    """A whole body in pieces of about ``size`` bytes, cut after a blank line where one is.

    Framing a huge body in one ``feed`` holds its text, every payload and every
    event at once (several times the body); framed a window at a time, what is
    held beyond the body is one window's worth. Cutting after a blank line keeps
    each window a run of whole events, so nothing is carried over between them.
    """
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    total = len(body)
    if total <= size:
        yield body
        return
    start = 0
    while total - start > size:
        stop = start + size
        cut = body.rfind(b"\n\n", start, stop)
        if cut >= 0:
            cut += 2
        else:
            cut = body.rfind(b"\n", start, stop) + 1 or stop
        yield body[start:cut]
        start = cut
    yield body[start:]


def iter_sse(
    body: bytes | str | Iterable[bytes | str], *, max_event_bytes: int | None = None
) -> Iterator[ServerSentEvent]:
    """Frame a whole body or an iterable of pieces, yielding each event once it is complete."""
    decoder = SSEDecoder(max_event_bytes=max_event_bytes)
    pieces: Iterable[bytes | str]
    if isinstance(body, (bytes, str)):
        pieces = (body,)
    elif isinstance(body, (bytearray, memoryview)):
        pieces = (bytes(body),)
    else:
        pieces = body
    for piece in pieces:
        yield from decoder.feed(piece)
    yield from decoder.close()


def encode_event(event: dict[str, Any], *, named: bool) -> bytes:
    """One event as a server sends it: ``data: <json>`` and a blank line, after an
    ``event: <type>`` line when ``named`` (the Responses and Messages APIs name theirs).

    The one SSE writer: the formats' ``to_sse``, the converter and the replay server's
    tools frame with it; the JSON is written losslessly (``_jsontext.dumps``).
    """
    if named:
        return b"event: " + str(event.get("type")).encode() + b"\ndata: " + dumps(event) + b"\n\n"
    return b"data: " + dumps(event) + b"\n\n"

