"""Post-processing entry points: a whole stream in, one ``ChatCompletion`` out."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._body import JSON_ARRAY, SSE, Body, Text
from ._chat_format import CHAT
from ._decode import (
    ARRAY,
    BODY,
    ITEMS,
    InputSeen,
    argument_error,
    is_done,
    is_one_item,
    type_name,
)
from ._exceptions import DeltafoldError
from ._format import FoldMachine, ResultT, WireFormat, module_of
from ._json_fold import ParseJSON
from ._limits import Limits
from ._models import ChatCompletion
from ._sse import iter_windows
from ._sse_chunks import SSEChunks

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
    CLI; each piece is framed and its events read by ``SSEChunks`` (the one decode
    loop). A whole body is framed a window at a time; the byte caps are the framer's,
    and an error it defers behind the events of a piece is raised once they are folded.
    An error raised while framing carries ``accumulator``'s partial, and
    ``accumulator`` keeps what was seen for the error if no chunk comes of it.
    """
    chunks = SSEChunks(limits)
    seen = None
    if accumulator is not None and accumulator._input is None:
        accumulator._input = seen = InputSeen(BODY)
    sampling = seen is not None
    feed = chunks.feed
    try:
        for piece in _pieces(body, module):
            if piece.__class__ is not bytes and piece.__class__ is not str:
                _check_piece(piece, module)
            if sampling and seen is not None:
                sampling = seen.take(piece)
            if feed(piece, consume):
                break
        else:
            chunks.close(consume)
        if chunks.done and seen is not None:
            seen.done = True
    except DeltafoldError as exc:
        if exc.partial is None and accumulator is not None and accumulator.chunks_folded:
            exc.partial = accumulator.snapshot()
        raise
    finally:
        if seen is not None:
            seen.size = chunks.decoder.bytes_seen


def _check_piece(piece: object, module: str) -> None:
    if not isinstance(piece, _TEXT):
        what = f"one of its pieces is {type_name(piece)}"
        raise argument_error("assemble_sse", piece, _SSE_TAKES, what=what, module=module)


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
