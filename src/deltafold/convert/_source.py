"""What a conversion reads: anything ``assemble`` takes, one event at a time.

A conversion emits the target's events as the source's arrive, so a source is never
folded whole first: a body is framed a window at a time, an iterable of SSE pieces
(bytes off a socket) is framed as the pieces come, and an iterable of events (dicts,
JSON text, typed or SDK objects) is passed on item by item. A finished result
(``ChatCompletion``, ``Response``, ``Message``) is its format's ``split``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from typing import Any

from .._assemble import _event_chunk
from .._body import SSE, Body, Text
from .._decode import DONE, argument_error, is_done, is_one_item
from .._limits import Limits
from .._sse import DataDecoder, iter_windows

__all__ = ["SSEItems", "aitems_of", "items_of", "split_result"]

_TAKES = (
    "a stream of any wire format: a recorded body (bytes or text: SSE, JSON lines, a JSON "
    "array), an iterable of events (dicts, JSON text, typed objects) or of SSE pieces, "
    "or a finished ChatCompletion, Response or Message"
)
_SSE_STARTS = ("data:", "event:", "id:", "retry:", ":")
_SSE_BYTES = tuple(start.encode() for start in _SSE_STARTS)


class SSEItems:
    """Sans-IO SSE framing: pieces of a body in, the events' decoded data out, up to ``[DONE]``."""

    __slots__ = ("_decoder", "_position", "done")

    def __init__(self, limits: Limits) -> None:
        self._decoder = DataDecoder(
            max_event_bytes=limits.max_event_bytes, max_total_bytes=limits.max_total_bytes
        )
        self._position = 0
        self.done = False
        """``[DONE]`` came: nothing after it is read."""

    def _decoded(self, datas: list[Any]) -> list[Any]:
        out = []
        for data in datas:
            if self.done:
                break
            item = _event_chunk(data, self._position)
            if item is None:
                continue
            if item is DONE:
                self.done = True
                break
            self._position += 1
            out.append(item)
        return out

    def feed(self, piece: bytes | str) -> list[Any]:
        """The events completed by ``piece``."""
        if self.done:
            return []
        out = self._decoded(self._decoder.feed_data(piece))
        error = self._decoder.error
        if error is not None:  # a byte cap crossed after these events: raised behind them
            return [*out, _Raise(error)]
        return out

    def close(self) -> list[Any]:
        """The event left at the end of the body, if any."""
        return [] if self.done else self._decoded(self._decoder.close_data())


class _Raise:
    """A framing error deferred behind the events before it."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _unwrap(items: list[Any]) -> Iterator[Any]:
    for item in items:
        if item.__class__ is _Raise:
            raise item.error
        yield item


def _is_sse_piece(item: Any) -> bool:
    """Whether an iterable's first item is a piece of an SSE body (not one event's JSON).

    A body cut anywhere may start with a piece shorter than its first field's name
    (``b"ev"``) or with only the blank lines before it: a piece that is the start of
    an SSE field, or blank, is one (one event's JSON text starts with ``{``).
    """
    if isinstance(item, (bytes, bytearray, memoryview)):
        head = bytes(item[:64]).lstrip()
        return head.startswith(_SSE_BYTES) or any(s.startswith(head) for s in _SSE_BYTES)
    if isinstance(item, str):
        text = item[:64].lstrip()
        return text.startswith(_SSE_STARTS) or any(s.startswith(text) for s in _SSE_STARTS)
    return False


def split_result(result: Any) -> list[dict[str, Any]] | None:
    """The events that stream a finished result, or None when ``result`` is not one."""
    from .._models import ChatCompletion
    from ..messages import Message
    from ..responses import Response

    if isinstance(result, ChatCompletion):
        from .._split import split

        return list(split(result))
    if isinstance(result, Response):
        from ..responses import split as split_response

        return split_response(result)
    if isinstance(result, Message):
        from ..messages import split as split_message

        return split_message(result)
    return None


def _body_items(body: Text, limits: Limits) -> Iterator[Any]:
    whole = Body(body, limits)
    if whole.form is SSE:
        framer = SSEItems(limits)
        for window in iter_windows(whole.text):
            yield from _unwrap(framer.feed(window))
            if framer.done:
                return
        yield from _unwrap(framer.close())
        return
    for item in whole.items:
        if item.__class__ is not dict and is_done(item):
            return
        yield item


def items_of(source: Any, limits: Limits, func: str = "deltafold.convert.stream") -> Iterator[Any]:
    """The source's events in order, decoded as far as a fold needs (see the module docstring)."""
    if isinstance(source, (bytes, bytearray, memoryview, str)):
        yield from _body_items(source, limits)
        return
    if hasattr(source, "read"):
        yield from _body_items(source.read(), limits)
        return
    events = split_result(source)
    if events is not None:
        yield from events
        return
    if is_one_item(source):
        yield source
        return
    try:
        iterator = iter(source)
    except TypeError:
        raise argument_error(func.rpartition(".")[2], source, _TAKES,
                             module=func.rpartition(".")[0]) from None
    framer: SSEItems | None = None
    for item in iterator:
        if framer is None and _is_sse_piece(item):
            framer = SSEItems(limits)
        if framer is not None:
            yield from _unwrap(framer.feed(item))
            if framer.done:
                return
            continue
        if item.__class__ is not dict and is_done(item):
            return
        yield item
    if framer is not None:
        yield from _unwrap(framer.close())


async def aitems_of(
    source: AsyncIterable[Any] | Any, limits: Limits, func: str = "deltafold.convert.astream"
) -> AsyncIterator[Any]:
    """:func:`items_of` for an async iterable (a sync source is read as :func:`items_of` does)."""
    if not hasattr(source, "__aiter__"):
        for item in items_of(source, limits, func):
            yield item
        return
    framer: SSEItems | None = None
    async for item in source:
        if framer is None and _is_sse_piece(item):
            framer = SSEItems(limits)
        if framer is not None:
            for event in _unwrap(framer.feed(item)):
                yield event
            if framer.done:
                return
            continue
        if item.__class__ is not dict and is_done(item):
            return
        yield item
    if framer is not None:
        for event in _unwrap(framer.close()):
            yield event
