"""Post-processing entry points: a whole stream in, one ``ChatCompletion`` out."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from ._body import JSON_ARRAY, SSE, Body, Text
from ._chat_format import CHAT
from ._decode import (
    ARRAY,
    BODY,
    DONE,
    ITEMS,
    InputSeen,
    argument_error,
    event_to_chunk,
    is_done,
    is_one_item,
    type_name,
)
from ._exceptions import DeltafoldError
from ._format import FoldMachine, ResultT, WireFormat, module_of
from ._json_fold import ParseJSON
from ._jsontext import RunWatch, rounds_ints
from ._limits import Limits
from ._models import ChatCompletion
from ._sse import DataDecoder, ServerSentEvent, iter_windows

__all__ = [
    "assemble", "assemble_sse", "feed_whole", "fold_body", "fold_sse", "fold_whole",
    "fold_whole_sse",
]

_TEXT = (bytes, bytearray, memoryview, str)
_ASSEMBLE_TAKES = (
    "an iterable of chunks, one chunk or completion (a dict or other mapping), "
    "or a whole body as bytes or str"
)
_SSE_TAKES = "an SSE body as bytes or str, or an iterable of bytes or str pieces"


def assemble(
    chunks: Iterable[Any] | bytes | str,
    *,
    strict: bool = False,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> ChatCompletion:
    """Fold a whole stream of chunks into one completion.

    ``chunks`` is an iterable of dicts, JSON text or bytes, typed
    ``ChatCompletionChunk`` objects or pydantic chunks (mixed is fine); one
    chunk or completion (a dict or other mapping, a typed or pydantic model);
    a whole recorded body as ``bytes``/``str`` (SSE, JSON lines, a JSON array
    of chunks or one JSON object, detected); or a file object holding one. A
    ``"[DONE]"`` item ends the stream.

    Input holding no chat-completion chunk raises :class:`EmptyStreamError`
    saying what it held (:class:`WrongFormatError`, naming the function to use, when
    it is a Responses or Messages stream); another argument type raises
    ``TypeError``. With ``strict=True`` a choice left without a finish_reason raises
    :class:`IncompleteStreamError`; by default it comes back with a null one.
    ``parse_json`` parses tool arguments and/or content (see :class:`Accumulator`).
    """
    return fold_whole(CHAT, chunks, strict=strict, limits=limits, parse_json=parse_json)


def assemble_sse(
    body: bytes | str | Iterable[bytes | str],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> ChatCompletion:
    """Fold a recorded SSE response body: bytes, text, or pieces cut anywhere.

    A body holding no chunk raises :class:`EmptyStreamError`; decoded chunks
    (dicts) belong to :func:`assemble` and get a ``TypeError`` saying so.
    ``parse_json`` as in :func:`assemble`.
    """
    return fold_whole_sse(CHAT, body, strict=strict, limits=limits, parse_json=parse_json)


def fold_whole(
    fmt: WireFormat[ResultT, Any],
    items: Any,
    *,
    strict: bool = False,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
    func: str = "assemble",
) -> ResultT:
    """``assemble`` for any wire format: the input forms are told apart here, once."""
    acc = fmt.new_fold(limits, parse_json)
    feed_whole(items, acc.add, acc, func=func, module=module_of(fmt))
    return acc.result(strict=strict)


def feed_whole(
    items: Any, consume: Callable[[Any], object], acc: FoldMachine[Any], *,
    func: str = "assemble", module: str = "deltafold",
) -> None:
    """Hand each event of whatever ``assemble`` was given to ``consume``.

    The one place the input forms are told apart: a body as text or bytes, a file
    object, one item (a mapping or a model), or an iterable of items. ``acc`` is the
    fold whose limits apply, whose ``_input`` records what was seen (for the error when
    nothing of its format came) and whose snapshot a framing error carries. ``func`` and
    ``module`` name the entry point in a TypeError.
    """
    if isinstance(items, _TEXT):
        fold_body(items, consume, limits=acc.limits, accumulator=acc)
    elif is_one_item(items):
        consume(items)
    elif isinstance(items, io.IOBase):
        fold_body(items.read(), consume, limits=acc.limits, accumulator=acc)
    else:
        iterator = _iterate(items, func, _ASSEMBLE_TAKES, module)
        acc._input = seen = InputSeen(ITEMS)
        _fold_items(iterator, consume, seen)


def fold_whole_sse(
    fmt: WireFormat[ResultT, Any],
    body: bytes | str | Iterable[bytes | str],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> ResultT:
    """``assemble_sse`` for any wire format."""
    acc = fmt.new_fold(limits, parse_json)
    fold_sse(body, acc.add, limits=acc.limits, accumulator=acc, module=module_of(fmt))
    return acc.result(strict=strict)


def _iterate(value: Any, func: str, accepted: str, module: str = "deltafold") -> Iterator[Any]:
    """An iterator over ``value``, or the TypeError that says what ``func`` takes."""
    try:
        return iter(value)
    except TypeError:
        raise argument_error(func, value, accepted, module=module) from None


def _fold_items(
    chunks: Iterable[Any], consume: Callable[[Any], object], seen: InputSeen | None = None
) -> None:
    for chunk in chunks:
        if chunk.__class__ is not dict and is_done(chunk):
            if seen is not None:
                seen.done = True
            break
        consume(chunk)


def fold_sse(
    body: bytes | str | Iterable[bytes | str],
    consume: Callable[[dict[str, Any]], object],
    *,
    limits: Limits,
    accumulator: FoldMachine[Any] | None = None,
    module: str = "deltafold",
) -> None:
    """Frame ``body`` and hand each chunk up to ``[DONE]`` to ``consume``.

    The one SSE loop behind ``assemble_sse``, ``assemble`` of an SSE body and the
    CLI; it runs once per event, so it is written inline: a plain message (its data
    bytes) is decoded right here, and kept when it is a JSON object in which orjson
    rounded no integer (``rounds_ints``, asked only of the events of a piece that
    ``RunWatch`` suspects); anything else (an error event, ``[DONE]``, bad JSON,
    NaN, another value) goes through ``event_to_chunk``, which names the event and
    reads what orjson cannot as ``json.loads`` does. A whole body is framed a window
    at a time; the byte caps are the framer's, and an error it defers behind the events
    of a piece is raised once they are folded. An error raised while framing carries
    ``accumulator``'s partial, and ``accumulator`` keeps what was seen for the error
    if no chunk comes of it.
    """
    decoder = DataDecoder(
        max_event_bytes=limits.max_event_bytes, max_total_bytes=limits.max_total_bytes
    )
    loads = orjson.loads
    watch = RunWatch()
    position = 0
    seen = None
    if accumulator is not None and accumulator._input is None:
        accumulator._input = seen = InputSeen(BODY)
    sampling = seen is not None
    try:
        for piece in _pieces(body, module):
            if piece.__class__ is not bytes and piece.__class__ is not str:
                _check_piece(piece, module)
            if sampling and seen is not None:
                sampling = seen.take(piece)
            check = watch.feed(piece)
            events = decoder.feed_data(piece)
            if not events:
                continue
            for data in events:
                try:
                    chunk = loads(data)  # type: ignore[arg-type]  # an event object: orjson raises
                except (orjson.JSONDecodeError, TypeError):
                    chunk = None
                if chunk.__class__ is not dict or (check and rounds_ints(data)):  # type: ignore[arg-type]
                    # Not a plain message holding a JSON object orjson read exactly:
                    # ``[DONE]``, an empty or other event, bad JSON, NaN, a big integer.
                    # Read again out here, so an error names the event and does not keep
                    # orjson's as its context.
                    chunk = _event_chunk(data, position)
                    if chunk is None:
                        continue
                    if chunk is DONE:
                        _saw_done(seen)
                        return
                position += 1
                consume(chunk)
            if decoder.error is not None:
                # A byte cap crossed after these events (never without events: then
                # the framer raises at once, so pieces that framed nothing skip this).
                raise decoder.error
        for data in decoder.close_data():
            chunk = _event_chunk(data, position)
            if chunk is None:
                continue
            if chunk is DONE:
                _saw_done(seen)
                return
            position += 1
            consume(chunk)
    except DeltafoldError as exc:
        if exc.partial is None and accumulator is not None and accumulator.chunks_folded:
            exc.partial = accumulator.snapshot()
        raise
    finally:
        if seen is not None:
            seen.size = decoder.bytes_seen


def _check_piece(piece: object, module: str) -> None:
    if not isinstance(piece, _TEXT):
        what = f"one of its pieces is {type_name(piece)}"
        raise argument_error("assemble_sse", piece, _SSE_TAKES, what=what, module=module)


def _saw_done(seen: InputSeen | None) -> None:
    if seen is not None:
        seen.done = True


def _event_chunk(event: bytes | ServerSentEvent, position: int) -> Any:
    if isinstance(event, bytes):
        # Read as text the way the framer reads any event's data (bad UTF-8 replaced).
        return event_to_chunk("message", event.decode("utf-8", "replace"), position)
    return event_to_chunk(event.event, event.data, position)


def _pieces(body: bytes | str | Iterable[bytes | str], module: str) -> Iterable[Any]:
    """A whole body a window at a time (framed whole it is held several times over).

    Anything but text or an iterable of text pieces is refused here, once per call;
    a list of decoded chunks is told apart by its first item.
    """
    if isinstance(body, (bytes, str)):
        return iter_windows(body)
    if isinstance(body, (bytearray, memoryview)):
        return iter_windows(bytes(body))
    if is_one_item(body):
        raise argument_error("assemble_sse", body, _SSE_TAKES, module=module)
    if isinstance(body, (list, tuple)) and body and not isinstance(body[0], _TEXT):
        raise argument_error(
            "assemble_sse", body, _SSE_TAKES, module=module,
            what=f"got a {type(body).__name__} of {type(body[0]).__name__}",
        )
    return _iterate(body, "assemble_sse", _SSE_TAKES, module)


def fold_body(
    body: Text | Body,
    consume: Callable[[Any], object],
    *,
    limits: Limits,
    accumulator: FoldMachine[Any] | None = None,
) -> None:
    """Hand each chunk of a whole recorded body (SSE or JSON, see ``Body``) to ``consume``."""
    whole = body if isinstance(body, Body) else Body(body, limits)
    if whole.form is SSE:
        fold_sse(whole.text, consume, limits=limits, accumulator=accumulator)
        return
    seen = None
    if whole.form is JSON_ARRAY and accumulator is not None:
        accumulator._input = seen = InputSeen(ARRAY)
    _fold_items(whole.items, consume, seen)
