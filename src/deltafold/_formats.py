"""Every wire format by name, and which one a stream is: ``assemble_any`` and ``detect_format``.

The one place above the three formats: ``FORMATS`` names them, :func:`sniff` reads a
stream until one event says its format (``_format.format_of``), and the CLI, bulk and
the replay server fold whatever they are given through it. A stream is told by its
first events only (at most ``MAX_EVENTS`` of them, or ``MAX_BYTES`` of a body), so it
costs a fraction of the fold; input none of whose first events names a format is
folded as chat, whose chunks may carry no marker at all (a usage-only chunk), and
when that finds nothing either the error lists the formats deltafold reads.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from ._assemble import assemble as assemble_chat
from ._assemble import fold_sse
from ._body import SSE, Body, Text
from ._chat_format import CHAT
from ._decode import decode_chunk, is_one_item
from ._exceptions import DeltafoldError, EmptyStreamError, WrongFormatError
from ._format import FORMAT_NAMES, WireFormat, format_of
from ._json_fold import ParseJSON
from ._limits import Limits
from ._models import ChatCompletion, ChatCompletionChunk
from .messages._assemble import assemble as assemble_messages
from .messages._format import MESSAGES
from .messages._models import Message
from .responses._assemble import assemble as assemble_responses
from .responses._format import RESPONSES
from .responses._models import Response

__all__ = [
    "ASSEMBLE", "AUTO", "FORMATS", "MAX_BYTES", "MAX_EVENTS", "assemble_any", "detect_format",
    "format_named", "name_the_formats", "sniff", "strict_default",
]

FORMATS: dict[str, WireFormat[Any, Any]] = {
    "chat": CHAT, "responses": RESPONSES, "messages": MESSAGES,
}
"""The wire formats by name (``_format.FORMAT_NAMES``, in that order)."""
assert tuple(FORMATS) == FORMAT_NAMES
ASSEMBLE: dict[str, Callable[..., Any]] = {
    "chat": assemble_chat, "responses": assemble_responses, "messages": assemble_messages,
}
"""Each format's own ``assemble`` (its defaults are the format's: chat is not strict)."""
AUTO = "auto"
"""The format option's value meaning "tell it from the stream"."""
MAX_EVENTS = 64
"""Events read, at most, before a stream that names no format is taken for chat."""
MAX_BYTES = 1 << 20
"""Bytes of a body read, at most, to find those events."""
_FIRST_PIECE = 2048
_RESULTS = ((ChatCompletion, "chat"), (ChatCompletionChunk, "chat"), (Response, "responses"),
            (Message, "messages"))
_LISTED = ", ".join(FORMAT_NAMES)


class _Stop(Exception):
    """Ends the framing of a body once its format is known (or the bound is reached)."""


def strict_default(name: str) -> bool:
    """The ``strict`` default of format ``name``'s ``assemble`` (read from its signature)."""
    default = inspect.signature(ASSEMBLE[name]).parameters["strict"].default
    return bool(default)


def format_named(name: str) -> WireFormat[Any, Any]:
    """The format called ``name``, or a ValueError listing the names."""
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown wire format {name!r}: use {AUTO!r} or one of {_LISTED}"
        ) from None


def _item_format(item: Any, position: int) -> str | None:
    """The format one item says it is (None when it does not say, or cannot be read)."""
    if item.__class__ is not dict:
        for cls, name in _RESULTS:
            if isinstance(item, cls):
                return name
        dump = getattr(item, "model_dump", None)
        if callable(dump):
            item = dump(mode="json", exclude_unset=True)
        elif isinstance(item, (bytes, bytearray, memoryview, str)):
            try:
                item = decode_chunk(item, position)
            except DeltafoldError:
                return None
        if not isinstance(item, dict):
            return None
    return format_of(item)


def _first_sse_event(text: bytes | str) -> str | None:
    """The format named by the first ``data:`` line of an SSE body, when it is one JSON object.

    The cheap look most streams need (their first event says it); None sends the body
    to the general reader.
    """
    raw = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    start = raw.find(b"data:", 0, _FIRST_PIECE * 8)
    if start < 0:
        return None
    end = raw.find(b"\n", start)
    line = raw[start + 5: end if end >= 0 else len(raw)].strip()
    if not line.startswith(b"{"):
        return None
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return format_of(event) if isinstance(event, dict) else None


def _growing_pieces(text: bytes | str) -> Iterator[bytes | str]:
    """``text`` in pieces that double from ``_FIRST_PIECE``; :class:`_Stop` after ``MAX_BYTES``."""
    start, size = 0, _FIRST_PIECE
    while start < len(text):
        if start >= MAX_BYTES:
            raise _Stop
        yield text[start:start + size]
        start += size
        size *= 2


def _sse_format(text: bytes | str) -> str | None:
    found = _first_sse_event(text)
    if found is not None:
        return found
    names: list[str | None] = []

    def look(event: Any) -> None:
        names.append(_item_format(event, len(names)))
        if names[-1] is not None or len(names) >= MAX_EVENTS:
            raise _Stop

    # A framing error is the fold's to report, with its place in the stream.
    with contextlib.suppress(_Stop, DeltafoldError):
        fold_sse(_growing_pieces(text), look, limits=Limits())
    return next((name for name in names if name is not None), None)


def _items_format(items: Iterable[Any]) -> str | None:
    for position, item in enumerate(itertools.islice(items, MAX_EVENTS)):
        found = _item_format(item, position)
        if found is not None:
            return found
    return None


def sniff(src: Any, limits: Limits | None = None) -> tuple[str | None, Any]:
    """The format ``src`` says it is (None when its first events do not say), and ``src`` again.

    ``src`` is anything ``assemble`` takes; a one-shot iterator comes back as a new
    iterator over the same items (the ones read are put back in front).
    """
    if isinstance(src, (bytes, bytearray, memoryview, str)):
        body = Body(src, limits or Limits())
        if body.form is SSE:
            return _sse_format(body.text), body.text
        return _items_format(body.items), body.text
    if is_one_item(src):
        return _item_format(src, 0), src
    if hasattr(src, "read"):  # a file object: read once, told as a body
        return sniff(src.read(), limits)
    if isinstance(src, (list, tuple)):
        return _items_format(src), src
    try:
        iterator = iter(src)
    except TypeError:
        return None, src  # the fold's TypeError says what it takes
    head = list(itertools.islice(iterator, MAX_EVENTS))
    return _items_format(head), itertools.chain(head, iterator)


def detect_format(src: Text | Iterable[Any] | dict[str, Any]) -> str:
    """The wire format of a stream or result: ``"chat"``, ``"responses"`` or ``"messages"``.

    ``src`` is what :func:`deltafold.assemble` takes (a whole body as bytes or text:
    SSE, JSON lines, a JSON array or one object; an iterable of events; one event or
    result). Its first events are read (at most 64, or 1 MB of a body) until one names
    its format; an iterator is consumed that far. Input none of whose first events
    names a format raises :class:`EmptyStreamError` listing the formats.
    """
    found, _ = sniff(src)
    if found is None:
        raise EmptyStreamError(
            f"no event in the first {MAX_EVENTS} names a wire format deltafold reads "
            f"({_LISTED}): not a recorded stream of any of them",
            head=_head(src),
        )
    return found


def _head(src: Any) -> bytes | str | None:
    if isinstance(src, (bytes, str)):
        return src[:200]
    return None


def assemble_any(
    src: Any,
    *,
    format: str = AUTO,
    strict: bool | None = None,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> Any:
    """Fold a whole stream of any wire format: a ``ChatCompletion``, ``Response`` or ``Message``.

    ``format`` is ``"auto"`` (told from the stream, see :func:`detect_format`) or a
    format's name; ``strict`` defaults to that format's own default (chat's is False,
    the others' True); ``src``, ``limits`` and ``parse_json`` are as in each format's
    ``assemble``. A stream none of whose first events names a format is folded as chat
    (chunks may carry only usage); when it holds no chunk either, the
    :class:`EmptyStreamError` says what it held and lists the formats. A named format
    given another's stream raises :class:`WrongFormatError` naming the right function.
    """
    name, src = (None, src) if format != AUTO else sniff(src, limits)
    if format != AUTO:
        format_named(format)
        name = format
    options: dict[str, Any] = {"limits": limits, "parse_json": parse_json}
    if strict is not None:
        options["strict"] = strict
    if name is not None:
        return ASSEMBLE[name](src, **options)
    try:
        return assemble_chat(src, **options)
    except EmptyStreamError as exc:
        raise name_the_formats(exc) from None


def name_the_formats(exc: EmptyStreamError) -> EmptyStreamError:
    """``exc`` (chat's fold found no chunk in a stream that named no format) listing the formats.

    A :class:`WrongFormatError` already names the right function and is left alone.
    """
    if not isinstance(exc, WrongFormatError) and _LISTED not in exc.message:
        listed = f"deltafold reads the wire formats {_LISTED}; this is none of them"
        exc.message = f"{exc.message} ({listed})"
        exc.args = (exc.message,)
    return exc
