"""The sans-IO converter, and the verbs over it: ``stream``, ``astream``, ``to_sse``, ``result``.

``Converter(source_format, to)`` is a pure state machine like the folds: ``feed`` one
source event, get the target's events it caused; ``close`` at the end of the source.
Beneath it the source format's reader (its own fold, then neutral steps) and the
target's writer (neutral steps to its events); see ``_ops``. When both formats are the
same the events pass through as they are, still folded, so a broken stream fails the
same way. The source format is told by the first event that names it (``format_of``);
events that name none (``ping``) wait for it.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterable, AsyncIterator, Generator, Iterable, Iterator
from functools import partial
from itertools import chain
from typing import Any, cast

from .._decode import decode_chunk
from .._exceptions import EmptyStreamError, StreamError, WrongFormatError
from .._format import FORMAT_NAMES, format_of
from .._limits import Limits
from .._sse import encode_event
from ._ops import DeltaSink, Fail, Finish, Reader, Step, StepSink, Writer, drop
from ._source import abatches_of, batches_of, split_result

__all__ = ["Converter", "astream", "ato_sse", "result", "stream", "to_sse"]

_MAX_UNNAMED = 64
"""Events that name no format, waited through before the source is called unknown."""
_MODULES = {
    "chat": ("_read_chat", "ChatReader", "_write_chat", "ChatWriter"),
    "responses": ("_read_responses", "ResponsesReader", "_write_responses", "ResponsesWriter"),
    "messages": ("_read_messages", "MessagesReader", "_write_messages", "MessagesWriter"),
}
_LISTED = ", ".join(repr(name) for name in FORMAT_NAMES)


def _format_name(name: str, what: str) -> str:
    if name not in _MODULES:
        raise ValueError(f"{what}={name!r} is not a wire format: use one of {_LISTED}")
    return name


def _reader(name: str, limits: Limits | None, choice: int | None) -> Reader:
    module, cls, _, _ = _MODULES[name]
    factory = getattr(importlib.import_module(f"{__package__}.{module}"), cls)
    reader: Reader = factory(limits=limits, choice=choice)
    return reader


def _writer(name: str) -> Writer:
    _, _, module, cls = _MODULES[name]
    writer: Writer = getattr(importlib.import_module(f"{__package__}.{module}"), cls)()
    return writer


def _as_dict(item: Any, position: int) -> dict[str, Any] | None:
    """One source event as its wire dict (None for an SSE event without data)."""
    if item.__class__ is dict:
        return item
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        value = to_dict()
        return value if isinstance(value, dict) else None
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        value = dump(mode="json", exclude_unset=True)
        return value if isinstance(value, dict) else None
    return decode_chunk(item, position)


class Converter:
    """Converts one stream of ``source_format`` into ``to``'s events as it arrives.

    ``source_format`` is ``"chat"``, ``"responses"``, ``"messages"``, or None to tell it
    from the events. ``choice`` picks the choice of a chat stream with several (a
    Responses answer or a Messages message holds one); without it a second choice
    raises :class:`ConversionError`. ``feed`` takes what the source format's
    ``Accumulator.feed`` takes and returns the target's events as dicts; ``close``
    returns the last ones, or raises :class:`IncompleteStreamError` (with ``.partial``)
    when the source ended before its answer did. A source error event becomes the
    target's error event, and the conversion ends there.
    """

    def __init__(
        self,
        source_format: str | None = None,
        to: str = "chat",
        *,
        choice: int | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.to: str = _format_name(to, "to")
        self.source_format: str | None = (
            None if source_format is None else _format_name(source_format, "source_format")
        )
        self._choice = choice
        self._limits = limits
        self._reader: Reader | None = None
        self._writer: Writer | None = None
        self._waiting: list[Any] = []
        self._emit: DeltaSink = drop
        """Where the reader's pieces go: the writer's ``delta``, until the answer ends."""
        self._count = 0
        self.finished: bool = False
        """The answer ended (finished or failed): later events are read, nothing is written."""
        self.closed: bool = False
        self._failed = False
        self._given = source_format is not None
        if self.source_format is not None:
            self._start(self.source_format)

    def _start(self, name: str) -> None:
        self.source_format = name
        if name == self.to:
            self._reader = _Same(name, self._limits)
            self._writer = None
        else:
            self._reader = _reader(name, self._limits, self._choice)
            writer = self._writer = _writer(self.to)
            self._emit = writer.delta  # the hot path, reader to writer (see _ops.Reader)

    def _read(self, items: Iterable[Any], out: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``out`` with the target's events for ``items``, read by the reader in one call."""
        try:
            self._reader.read_batch(items, out, self._write, self._emit)  # type: ignore[union-attr]
        except WrongFormatError as exc:
            raise self._wrong(exc) from None
        return out

    def _write(self, steps: list[Step], out: list[Any]) -> bool:
        """The target's events for ``steps`` into ``out``; False once the answer ended (then
        nothing more is written)."""
        writer = self._writer
        if writer is None or self.finished:
            return False
        write = writer.write
        for step in steps:
            out += write(step)
            cls = step.__class__
            if cls is Finish or cls is Fail:
                self._end(cls is Fail)
                return False
        return True

    def _end(self, failed: bool) -> None:
        """The answer ended: nothing more is written (the reader's pieces included)."""
        self.finished = True
        self._failed = failed
        self._emit = drop

    def _same(self, item: Any, position: int) -> list[dict[str, Any]]:
        """A conversion to the same format: the event passes as it is, folded."""
        if self.finished:
            return []
        failed = self._reader.read(item)  # type: ignore[union-attr]
        event = _as_dict(item, position)
        if failed:
            self.finished = self._failed = True
        return [] if event is None else [event]

    def feed(self, item: Any) -> list[dict[str, Any]]:
        """The target's events for one source event."""
        if self.closed:
            raise ValueError("this Converter was closed: make a new one for another stream")
        position = self._count
        self._count = position + 1
        reader = self._reader
        if reader is None:
            return self._detect(item, position)
        if self._writer is None:
            try:
                return self._same(item, position)
            except WrongFormatError as exc:
                raise self._wrong(exc) from None
        return self._read((item,), [])

    def _feed_batch(self, items: list[Any]) -> list[dict[str, Any]]:
        """``feed`` of each of ``items`` (events that arrived together), in one loop."""
        if self.closed:
            raise ValueError("this Converter was closed: make a new one for another stream")
        out: list[dict[str, Any]] = []
        start = 0
        count = len(items)
        while self._reader is None and start < count:
            out += self.feed(items[start])
            start += 1
        if self._reader is None or self._writer is None:
            for at in range(start, count):
                out += self.feed(items[at])
            return out
        self._count += count - start
        return self._read(items[start:] if start else items, out)

    def _wrong(self, exc: WrongFormatError) -> WrongFormatError:
        """The fold's error for an event of another format, in a conversion's words."""
        given = "was given" if self._given else "the first events told"
        what = str(exc).partition(", not one of")[0]  # "event N is a <found> stream event (...)"
        error = WrongFormatError(
            f"cannot convert: {what}, not a {exc.expected} one, the source_format that "
            f"{given}: pass source_format={exc.found!r}, or None to tell it from the events",
            found=exc.found, expected=exc.expected, use="deltafold.convert.stream",
            partial=exc.partial,
        )
        return error

    def _detect(self, item: Any, position: int) -> list[dict[str, Any]]:
        """An event before the source's format is known: the first that names it starts the
        conversion, with the events before it."""
        event = _as_dict(item, position)
        found = None if event is None else format_of(event)
        self._waiting.append(item)
        if found is None:
            if len(self._waiting) > _MAX_UNNAMED:
                raise self._unknown()
            return []
        self._start(found)
        waiting, self._waiting = self._waiting, []
        out: list[dict[str, Any]] = []
        if self._writer is not None:
            return self._read(waiting, out)
        for at, earlier in enumerate(waiting, position + 1 - len(waiting)):
            out += self._same(earlier, at)
        return out

    def close(self) -> list[dict[str, Any]]:
        """The target's last events: the source ended."""
        if self.closed:
            return []
        self.closed = True
        if self._reader is None:
            raise self._unknown()
        if self._failed:  # the source's error event ended the answer: nothing is missing
            return []
        out: list[dict[str, Any]] = []
        self._write(self._reader.close(), out)
        return out

    def _unknown(self) -> EmptyStreamError:
        seen = len(self._waiting)
        what = "no event" if not seen else f"none of its first {seen} events"
        return EmptyStreamError(
            f"cannot convert: the source held {what} naming a wire format deltafold reads "
            f"({_LISTED}); pass source_format= if it is one of them"
        )


class _Same:
    """The reader of a conversion to the same format: the format's fold alone.

    It reads nothing into steps (the events pass as they are); it folds each event so a
    broken stream fails as its fold says, and says when an error event ended the stream
    (the event still passes, as the target's error).
    """

    def __init__(self, name: str, limits: Limits | None) -> None:
        from .._formats import FORMATS, strict_default

        self._fold = FORMATS[name].new_fold(limits, False)
        self._strict = strict_default(name)

    def read_batch(
        self, items: Iterable[Any], out: list[Any], write: StepSink, emit: DeltaSink
    ) -> None:
        for item in items:
            steps = self.read(item)
            if steps:
                write(steps, out)

    def read(self, item: Any) -> list[Step]:
        try:
            self._fold.add(item)
        except StreamError:
            return [Fail("")]
        return []

    def close(self) -> list[Step]:
        self._fold.result(strict=self._strict)
        return []


def stream(
    source: Any,
    *,
    to: str,
    source_format: str | None = None,
    choice: int | None = None,
    limits: Limits | None = None,
) -> Iterator[dict[str, Any]]:
    """The target format's events for ``source``, produced as the source is read.

    ``source`` is anything ``assemble`` takes (a recorded body, an iterable of events or
    of SSE pieces, one event) or a finished result. See :class:`Converter` for the rest.
    """
    batches = _converted(source, to, source_format, choice, limits)
    events = cast("_Events", _Events.from_iterable(batches))  # typeshed: a plain chain
    events._batches = batches
    return events


class _Events(chain[dict[str, Any]]):
    """``stream``'s events: ``chain``'s own iteration (taking an event calls no Python),
    and ``close()`` as a generator has, which closes the source."""

    __slots__ = ("_batches",)
    _batches: Generator[list[dict[str, Any]], None, None]

    def close(self) -> None:
        """Stop: the source is closed (its ``close``, if it has one, is called)."""
        self._batches.close()


def _converted(
    source: Any, to: str, source_format: str | None, choice: int | None, limits: Limits | None
) -> Generator[list[dict[str, Any]], None, None]:
    """The target's events for ``source``, in the batches they came in: ``stream`` chains
    them, so taking one event costs no resumption of this generator."""
    converter = Converter(source_format, to, choice=choice, limits=limits)
    feed = converter._feed_batch
    for batch in batches_of(source, limits or Limits()):
        yield feed(batch)
    yield converter.close()


async def astream(
    source: AsyncIterable[Any] | Any,
    *,
    to: str,
    source_format: str | None = None,
    choice: int | None = None,
    limits: Limits | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """:func:`stream` for an async iterable (of events, or of SSE pieces off a socket)."""
    converter = Converter(source_format, to, choice=choice, limits=limits)
    feed = converter._feed_batch
    async for batch in abatches_of(source, limits or Limits()):
        for event in feed(batch):
            yield event
    for event in converter.close():
        yield event


_DONE = b"data: [DONE]\n\n"


def to_sse(events: Iterable[dict[str, Any]], format: str) -> Iterator[bytes]:
    """``format``'s SSE bytes for its events, one piece per event.

    Responses and Messages events are named (``event: <type>``, as OpenAI and Anthropic
    send them); a chat stream ends with ``data: [DONE]``.
    """
    named = _format_name(format, "format") != "chat"
    pieces = map(partial(encode_event, named=named), events)
    return pieces if named else chain(pieces, (_DONE,))


async def ato_sse(events: AsyncIterable[dict[str, Any]], format: str) -> AsyncIterator[bytes]:
    """:func:`to_sse` for an async iterable of events (a gateway's response body)."""
    named = _format_name(format, "format") != "chat"
    async for event in events:
        yield encode_event(event, named=named)
    if not named:
        yield _DONE


def result(obj: Any, *, to: str, choice: int | None = None) -> Any:
    """A finished ``ChatCompletion``, ``Response`` or ``Message`` as ``to``'s result.

    The result is streamed (its format's ``split``), converted and folded in the target
    format, so it follows exactly the rules a live conversion does.
    """
    from .._formats import ASSEMBLE

    name = _format_name(to, "to")
    events = split_result(obj)
    if events is None:
        raise TypeError(
            "deltafold.convert.result() takes a ChatCompletion, Response or Message, not "
            f"{type(obj).__name__}: for a stream use deltafold.convert.stream()"
        )
    if isinstance(obj, _result_type(name)):
        return obj
    return ASSEMBLE[name](stream(events, to=name, choice=choice))


def _result_type(name: str) -> type:
    from .._formats import FORMATS

    return FORMATS[name].result



