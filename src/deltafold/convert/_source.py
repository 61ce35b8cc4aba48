"""What a conversion reads: anything ``assemble`` takes, the events as they arrive.

A conversion emits the target's events as the source's arrive, so a source is never
folded whole first: a body is framed a window at a time, an iterable of SSE pieces
(bytes off a socket) is framed as the pieces come, and an iterable of events (dicts,
JSON text, typed or SDK objects) is passed on item by item. A finished result
(``ChatCompletion``, ``Response``, ``Message``) is its format's ``split``. The events
come in batches, the ones that arrived together (a window's, a piece's, one event), so
the converter's loop runs once per batch, not once per event.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

from .._body import SSE, Body, Text
from .._decode import argument_error, is_done, is_one_item
from .._exceptions import DeltafoldError
from .._limits import Limits
from .._sse import iter_windows
from .._sse_chunks import SSEChunks

__all__ = ["SSEItems", "abatches_of", "batches_of", "items_of", "split_result"]

_TAKES = (
    "a stream of any wire format: a recorded body (bytes or text: SSE, JSON lines, a JSON "
    "array), an iterable of events (dicts, JSON text, typed objects) or of SSE pieces, "
    "or a finished ChatCompletion, Response or Message"
)
_SSE_STARTS = ("data:", "event:", "id:", "retry:", ":")
_SSE_BYTES = tuple(start.encode() for start in _SSE_STARTS)
_WINDOW = 16 * 1024
"""A recorded body is framed this many bytes at a time (``assemble_sse`` takes 256 KiB): a
window's events and the target's events they become are held together until the window is
converted, and a batch this small is freed before the garbage collector moves it to an
older generation (at 256 KiB that costs a conversion 10-15% more time)."""


class SSEItems:
    """Sans-IO SSE framing: pieces of a body in, the events' chunks out, up to ``[DONE]``.

    ``SSEChunks`` (the one decode loop, ``assemble_sse``'s too) with each piece's chunks
    gathered in a list. An error met while a piece is read (a byte cap, an event holding
    no chunk) is kept in ``error``, to be raised once the chunks before it are handled.
    """

    __slots__ = ("_chunks", "error")

    def __init__(self, limits: Limits) -> None:
        self._chunks = SSEChunks(limits)
        self.error: DeltafoldError | None = None
        """The error behind the chunks last returned: nothing more is read."""

    @property
    def done(self) -> bool:
        """``[DONE]`` came, or an error: nothing after it is read."""
        return self._chunks.done or self.error is not None

    def feed(self, piece: bytes | str) -> list[Any]:
        """The chunks completed by ``piece``."""
        out: list[Any] = []
        if not self.done:
            try:
                self._chunks.feed(piece, out.append)
            except DeltafoldError as exc:
                self.error = exc
        return out

    def close(self) -> list[Any]:
        """The chunk of an event left at the end of the body, if any."""
        out: list[Any] = []
        if not self.done:
            try:
                self._chunks.close(out.append)
            except DeltafoldError as exc:
                self.error = exc
        return out


def _framed(framer: SSEItems, pieces: Iterable[Any]) -> Iterator[list[Any]]:
    """The batches of the pieces of an SSE body (an error raised after the chunks before it)."""
    for piece in pieces:
        batch = framer.feed(piece)
        if batch:
            yield batch
        if framer.done:
            break
    else:
        batch = framer.close()
        if batch:
            yield batch
    if framer.error is not None:
        raise framer.error


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


def _body_batches(body: Text, limits: Limits) -> Iterator[list[Any]]:
    whole = Body(body, limits)
    if whole.form is SSE:
        yield from _framed(SSEItems(limits), iter_windows(whole.text, _WINDOW))
        return
    for item in whole.items:
        if item.__class__ is not dict and is_done(item):
            return
        yield [item]


def batches_of(
    source: Any, limits: Limits, func: str = "deltafold.convert.stream"
) -> Iterator[list[Any]]:
    """The source's events in order, decoded as far as a fold needs, in the batches they
    arrived in (see the module docstring)."""
    if isinstance(source, (bytes, bytearray, memoryview, str)):
        yield from _body_batches(source, limits)
        return
    if hasattr(source, "read"):
        yield from _body_batches(source.read(), limits)
        return
    events = split_result(source)
    if events is not None:
        yield events
        return
    if is_one_item(source):
        yield [source]
        return
    try:
        iterator = iter(source)
    except TypeError:
        raise argument_error(func.rpartition(".")[2], source, _TAKES,
                             module=func.rpartition(".")[0]) from None
    for item in iterator:
        if item.__class__ is not dict and _is_sse_piece(item):
            yield from _framed(SSEItems(limits), _chained(item, iterator))
            return
        if item.__class__ is not dict and is_done(item):
            return
        yield [item]


def items_of(source: Any, limits: Limits, func: str = "deltafold.convert.stream") -> Iterator[Any]:
    """The source's events one at a time (:func:`batches_of`'s batches, flattened)."""
    for batch in batches_of(source, limits, func):
        yield from batch


def _chained(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


async def abatches_of(
    source: AsyncIterable[Any] | Any, limits: Limits, func: str = "deltafold.convert.astream"
) -> AsyncIterator[list[Any]]:
    """:func:`batches_of` for an async iterable (a sync source is read as it reads one)."""
    if not hasattr(source, "__aiter__"):
        for batch in batches_of(source, limits, func):
            yield batch
        return
    framer: SSEItems | None = None
    async for item in source:
        if framer is None and item.__class__ is not dict and _is_sse_piece(item):
            framer = SSEItems(limits)
        if framer is not None:
            batch = framer.feed(item)
            if batch:
                yield batch
            if framer.done:
                break
            continue
        if item.__class__ is not dict and is_done(item):
            return
        yield [item]
    else:
        if framer is not None:
            batch = framer.close()
            if batch:
                yield batch
    if framer is not None and framer.error is not None:
        raise framer.error
