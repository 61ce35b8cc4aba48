"""Whole Messages streams in, typed ``Message`` objects out; ``fold``/``afold`` as they pass.

``assemble`` and ``assemble_sse`` are the shared ``fold_whole``/``fold_whole_sse``
with the Messages format (the input forms and the SSE loop are written once);
``assemble_all`` folds a body holding several messages one after another (a
recorded multi-turn exchange), starting a new message at each ``message_start``
that follows a ``message_stop``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any, TypeVar, cast

from .._assemble import fold_whole, fold_whole_sse
from .._decode import InputSeen, decode_chunk
from .._format import WireFormat
from .._iterfold import AsyncFold, Fold
from .._json_fold import ParseJSON
from .._limits import Limits
from ._fold import Accumulator
from ._format import MESSAGES
from ._models import Message

__all__ = ["afold", "assemble", "assemble_all", "assemble_sse", "fold"]

T = TypeVar("T")


def assemble(
    src: Iterable[Any] | bytes | str | dict[str, Any], *, strict: bool = True,
    limits: Limits | None = None, parse_json: ParseJSON = False,
) -> Message:
    """Fold a whole Messages stream into one :class:`Message`.

    ``src`` is a recorded body (SSE, JSON lines or a JSON array of events), an iterable
    of events (dicts, JSON text or bytes, SDK events), or one message object as the
    non-streaming call returns it. A body holding several messages raises
    :class:`MultipleMessagesError` (use :func:`assemble_all`); a chat or Responses body a
    :class:`WrongFormatError` naming the function for it. With ``strict`` (the default) a
    stream without ``message_stop`` raises :class:`IncompleteStreamError` with ``.partial``.
    """
    return fold_whole(MESSAGES, src, strict=strict, limits=limits, parse_json=parse_json)


def assemble_sse(
    body: bytes | str | Iterable[bytes | str], *, strict: bool = True,
    limits: Limits | None = None, parse_json: ParseJSON = False,
) -> Message:
    """Fold a recorded SSE body (bytes, text, or pieces cut anywhere) into one message."""
    return fold_whole_sse(MESSAGES, body, strict=strict, limits=limits, parse_json=parse_json)


class _Sequence:
    """A fold of several messages one after another: a new one after each ``message_stop``."""

    def __init__(self, *, limits: Limits | None, parse_json: ParseJSON) -> None:
        self._parse_json = parse_json
        self._acc = first = Accumulator(limits=limits, parse_json=parse_json)
        self._done: list[Message] = []
        self.limits = first.limits

    @property
    def _input(self) -> InputSeen | None:
        return self._acc._input

    @_input.setter
    def _input(self, seen: InputSeen | None) -> None:
        self._acc._input = seen

    @property
    def chunks_folded(self) -> int:
        return self._acc.chunks_folded

    def snapshot(self) -> Message:
        return self._acc.snapshot()

    def add(self, event: Any) -> None:
        acc = self._acc
        if acc.stopped:
            if event.__class__ is not dict:
                event = decode_chunk(event, acc.chunks_folded)
                if event is None:
                    return
            if event.get("type") == "message_start":
                self._done.append(acc.result(strict=True))  # it ended: message_stop came
                self._acc = Accumulator(limits=self.limits, parse_json=self._parse_json)
        self._acc.add(event)

    def result(self, *, strict: bool = True) -> list[Message]:
        return [*self._done, self._acc.result(strict=strict)]


class _AllFormat:
    """What ``fold_whole`` asks of a format, for ``assemble_all``: a fresh fold."""

    name = "messages"

    @staticmethod
    def new_fold(limits: Limits | None, parse_json: ParseJSON) -> _Sequence:
        return _Sequence(limits=limits, parse_json=parse_json)


_ALL = cast("WireFormat[list[Message], Any]", _AllFormat())


def assemble_all(
    src: Iterable[Any] | bytes | str, *, strict: bool = True, limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> list[Message]:
    """Fold a body holding one or more messages one after another: one ``Message`` each.

    A new message begins at a ``message_start`` that follows a ``message_stop``; every
    message but the last must have ended (``strict``), the last as in :func:`assemble`.
    """
    return fold_whole(
        _ALL, src, strict=strict, limits=limits, parse_json=parse_json, func="assemble_all"
    )


def fold(
    source: Iterable[T], *, strict: bool = True, limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> Fold[T, Message]:
    """Pass every event of ``source`` through unchanged while folding it into a ``Message``.

    ``.completion`` is the message once the source is exhausted; ``snapshot()`` at any time.
    """
    return Fold(source, strict=strict, limits=limits, parse_json=parse_json, fmt=MESSAGES)


def afold(
    source: AsyncIterable[T], *, strict: bool = True, limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> AsyncFold[T, Message]:
    """``fold`` for an async iterable (the Anthropic SDK's raw event stream, say)."""
    return AsyncFold(source, strict=strict, limits=limits, parse_json=parse_json, fmt=MESSAGES)
