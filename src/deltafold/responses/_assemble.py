"""Whole recorded Responses streams in, typed ``Response`` objects out.

``assemble`` takes what a caller holds (an SSE body, a JSON body, an iterable of
events, one response object); ``assemble_sse`` a body known to be SSE;
``assemble_all`` a body holding several responses one after another (a recorded
multi-step exchange), split where a ``response.created`` follows a terminal
event. The framing is the shared SSE framer's, byte caps included; every
Responses event carries its ``type`` in its data, so the SSE event name is read
only when the data lacks one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from .._assemble import _check_piece, _iterate, _pieces
from .._body import JSON_OBJECT, SSE, Body
from .._decode import BODY, ITEMS, InputSeen, decode_chunk, is_done, is_one_item
from .._exceptions import ChunkDecodeError, DeltafoldError
from .._limits import Limits
from .._sse import DataDecoder
from ._fold import Accumulator
from ._models import Response

__all__ = ["assemble", "assemble_all", "assemble_sse"]

_TEXT = (bytes, bytearray, memoryview, str)
_STATUS_EVENT = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
    "cancelled": "response.cancelled",
}


def assemble(
    src: Iterable[Any] | bytes | str | dict[str, Any], *, strict: bool = True,
    limits: Limits | None = None,
) -> Response:
    """Fold a whole Responses stream into one :class:`Response`.

    ``src`` is a recorded body (SSE, JSON lines or a JSON array of events, or one
    response object as the non-streaming call returns it), an iterable of events
    (dicts, JSON text or bytes), or one response dict. A body holding several
    responses raises :class:`MultipleResponsesError` (use :func:`assemble_all`);
    a chat or Anthropic body a :class:`WrongFormatError` naming the function for it.
    With ``strict`` (the default) a stream without a terminal event raises
    :class:`IncompleteStreamError` with ``.partial``.
    """
    acc = Accumulator(limits=limits)
    for event in _events(src, acc):
        acc.add(event)
    return acc.result(strict=strict)


def assemble_sse(
    body: bytes | str | Iterable[bytes | str], *, strict: bool = True,
    limits: Limits | None = None,
) -> Response:
    """Fold a recorded SSE body (bytes, text, or pieces cut anywhere) into one response."""
    acc = Accumulator(limits=limits)
    for event in _sse_events(body, acc):
        acc.add(event)
    return acc.result(strict=strict)


def assemble_all(
    src: Iterable[Any] | bytes | str, *, strict: bool = True, limits: Limits | None = None
) -> list[Response]:
    """Fold a body holding one or more responses one after another: one ``Response`` each.

    A new response begins at a ``response.created`` that follows a terminal event.
    """
    acc = Accumulator(limits=limits)
    done: list[Response] = []
    for event in _events(src, acc):
        if (
            acc.terminal is not None and event.__class__ is dict
            and event.get("type") == "response.created"
        ):
            done.append(acc.result(strict=strict))
            acc = Accumulator(limits=limits)
        acc.add(event)
    done.append(acc.result(strict=strict))
    return done


def _events(src: Any, acc: Accumulator) -> Iterator[Any]:
    """The events of whatever ``assemble`` was given."""
    if isinstance(src, _TEXT):
        body = Body(src, acc.limits)
        if body.form is SSE:
            yield from _sse_events(body.text, acc)
        elif body.form is JSON_OBJECT:
            yield _one_object(body.items[0])
        else:
            acc._input = InputSeen(ITEMS)
            yield from body.items
    elif is_one_item(src):
        yield _one_object(src if src.__class__ is dict else decode_chunk(src, 0))
    else:
        acc._input = seen = InputSeen(ITEMS)
        for item in _iterate(src, "assemble", "an iterable of events, a body, or one response"):
            if item.__class__ is not dict and is_done(item):
                seen.done = True
                return
            yield item


def _one_object(data: Any) -> Any:
    """One object: an event as it is, or a whole response as the terminal event it stands for."""
    if data.__class__ is dict and "type" not in data and data.get("object") == "response":
        status = data.get("status")
        kind = _STATUS_EVENT.get(status, "response.completed")  # type: ignore[arg-type]
        return {"type": kind, "response": data}
    return data


def _sse_events(body: Any, acc: Accumulator) -> Iterator[dict[str, Any]]:
    """Each event of an SSE body, decoded, up to ``[DONE]``; the byte caps are the framer's."""
    limits = acc.limits
    decoder = DataDecoder(
        max_event_bytes=limits.max_event_bytes, max_total_bytes=limits.max_total_bytes
    )
    seen = acc._input = InputSeen(BODY)
    sampling = True
    loads = orjson.loads
    position = 0
    try:
        for piece in _pieces(body):
            if piece.__class__ is not bytes and piece.__class__ is not str:
                _check_piece(piece)
            if sampling:
                sampling = seen.take(piece)
            batch = decoder.feed_data(piece)
            for raw in batch:
                event = _decode(raw, loads, position)
                position += 1
                if event is None:
                    continue
                if event.__class__ is not dict:
                    seen.done = True
                    return
                yield event
            if decoder.error is not None:
                raise decoder.error
        for raw in decoder.close_data():
            event = _decode(raw, loads, position)
            if event.__class__ is dict:
                yield event
            elif event is not None:
                seen.done = True
                return
    except DeltafoldError as exc:
        if exc.partial is None and acc.known:
            exc.partial = acc.snapshot()  # type: ignore[assignment]
        raise
    finally:
        seen.size = decoder.bytes_seen


def _decode(raw: Any, loads: Any, position: int) -> Any:
    """One framed event as a dict; None for an empty one; ``[DONE]`` as the string."""
    if raw.__class__ is bytes:
        name = "message"
        data = raw
    else:
        name, data = raw.event, raw.data
    try:
        event = loads(data)
    except orjson.JSONDecodeError:
        event = None
    if event.__class__ is dict:
        if name != "message" and "type" not in event:
            event["type"] = name  # the SSE event name stands in for a missing type
        return event
    text = data.decode("utf-8", "replace") if data.__class__ is bytes else data
    if not text.strip():
        return None
    if is_done(text):
        return "[DONE]"
    if name == "error":
        return {"type": "error", "message": text}
    raise ChunkDecodeError(
        f"event {position}: expected a JSON object, got {text[:80]!r}", raw=text,
        position=position,
    )


