"""Folding any iterable of chunks as it passes: ``fold``/``afold`` and their wrappers.

They live apart from the HTTP streams (``_stream.py``) because they share
nothing with the network: no socket, no SSE framing, no byte caps. The source
is the caller's iterable (the OpenAI SDK's stream, a generator of dicts...);
each item is handed back unchanged and folded on its way through. What they
share with the HTTP streams is the rules for when a result may be read, which
is :class:`~deltafold._core.FoldState`'s.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from ._chat_format import CHAT
from ._core import FoldState, Turn, second_reader
from ._decode import ITEMS, InputSeen, argument_error, is_done, is_one_item
from ._exceptions import DeltafoldError
from ._format import ResultT, WireFormat, module_of
from ._json_fold import ParseJSON
from ._limits import Limits
from ._models import ChatCompletion
from ._partial_json import PartialJSON
from ._timing import Timing

__all__ = ["AsyncFold", "Fold", "afold", "fold"]

ChunkT = TypeVar("ChunkT")
"""The type of the chunks ``afold`` / ``fold`` pass through unchanged."""

_FOLD_TAKES = "an iterable of chunks (dicts, JSON text or bytes, typed or pydantic chunks)"
_AFOLD_TAKES = (
    "an async iterable of chunks (the OpenAI SDK's AsyncStream, an async generator of dicts...)"
)


class _FoldBase(Generic[ResultT]):
    """What both iterable folds share: the fold state and the per-item step."""

    _state: FoldState[ResultT]
    _seen: InputSeen

    def _start(
        self, fmt: WireFormat[ResultT, Any], limits: Limits | None, parse_json: ParseJSON
    ) -> None:
        self._state = state = FoldState(fmt, limits, parse_json)
        state.acc._input = self._seen = InputSeen(ITEMS)
        state.on_end = self._ended

    def _ended(self) -> None:
        """The clock stops when the fold finishes, fails or is closed."""
        self._state.settle()
        self._state.timing.end()

    def _to_close(self, *targets: object) -> list[object]:
        """Mark the fold closed; the source and its iterator to close, each once (none
        when the source was exhausted: it ended by itself)."""
        state = self._state
        ended = state.ended
        state.mark_closed()
        out: list[object] = []
        if not ended:
            for target in targets:
                if target is not None and not any(target is seen for seen in out):
                    out.append(target)
        return out

    @property
    def timing(self) -> Timing:
        """From the first pull: first chunk and token, the gaps, duration (no headers here)."""
        return self._state.timing

    def snapshot(self) -> ResultT:
        """The result folded so far; the final one once the source ended."""
        return self._state.snapshot()

    def partial_json(self, index: int = 0, tool_index: int | None = None) -> PartialJSON | None:
        """The live parser of a content or tool call: see :meth:`Accumulator.partial_json`."""
        return self._state.acc.partial_json(index, tool_index)

    @property
    def completion(self) -> ResultT:
        """The folded result once the source is exhausted (see ``AsyncChatStream``)."""
        return self._state.completion

    def _fold(self, item: Any) -> None:
        if item.__class__ is not dict and is_done(item):
            self._seen.done = True
            return
        state = self._state
        state.timing.read()
        try:
            state.acc.add(item)
        except DeltafoldError as exc:
            raise state.fail(exc) from None
        state.settle()


class AsyncFold(_FoldBase[ResultT], Generic[ChunkT, ResultT]):
    """Passes every item of an async iterable through unchanged while folding it.

    Items may be anything ``Accumulator.feed`` takes (dicts, JSON text,
    typed or OpenAI SDK chunks); a ``"[DONE]"`` item passes through unfolded.
    Errors of the source propagate as they are; a chunk carrying an error
    raises :class:`StreamError` after it was folded. With ``strict=True`` the
    end of the source is checked like the end of an HTTP stream without
    ``[DONE]``. ``aclose()`` (or leaving ``async with``) closes the source.
    """

    def __init__(
        self,
        source: AsyncIterable[ChunkT],
        *,
        strict: bool = False,
        limits: Limits | None = None,
        parse_json: ParseJSON = False,
        fmt: WireFormat[ResultT, Any] = CHAT,  # type: ignore[assignment]
    ) -> None:
        if not hasattr(source, "__aiter__"):
            raise argument_error("afold", source, _AFOLD_TAKES, module=module_of(fmt))
        self._source = source
        self._iterator: AsyncIterator[ChunkT] | None = None
        self._start(fmt, limits, parse_json)
        self._strict = strict
        self._reading = False
        """True while the source is awaited: another task's pull is refused meanwhile."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> ChunkT:
        if self._reading:
            raise second_reader()
        state = self._state
        state.check_open()
        iterator = self._iterator
        if iterator is None:
            state.timing.start()
            iterator = self._iterator = self._source.__aiter__()
        self._reading = True
        try:
            item = await iterator.__anext__()
        except StopAsyncIteration:
            if not state.ended:
                state.finish(strict=self._strict)
            raise
        finally:
            self._reading = False
        self._fold(item)
        return item

    async def until_done(self) -> ResultT:
        """Consume the rest of the source and return the result."""
        while not self._state.ended:
            try:
                await self.__anext__()
            except StopAsyncIteration:
                break
        return self._state.completion

    async def aclose(self) -> None:
        """Close the source (its ``aclose()`` or async ``close()``) unless it was exhausted."""
        for target in self._to_close(self._source, self._iterator):
            close = getattr(target, "aclose", None) or getattr(target, "close", None)
            if close is not None:
                result = close()
                if inspect.isawaitable(result):
                    await result

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class Fold(_FoldBase[ResultT], Generic[ChunkT, ResultT]):
    """The sync twin of :class:`AsyncFold`; ``close()`` calls the source's ``close()``."""

    def __init__(
        self,
        source: Iterable[ChunkT],
        *,
        strict: bool = False,
        limits: Limits | None = None,
        parse_json: ParseJSON = False,
        fmt: WireFormat[ResultT, Any] = CHAT,  # type: ignore[assignment]
    ) -> None:
        if (
            not hasattr(source, "__iter__")
            or isinstance(source, (bytes, bytearray, memoryview, str))
            or is_one_item(source)
        ):
            raise argument_error("fold", source, _FOLD_TAKES, module=module_of(fmt))
        self._source = source
        self._iterator: Iterator[ChunkT] | None = None
        self._start(fmt, limits, parse_json)
        self._strict = strict
        self._turn = Turn()
        """Held through each pull: another thread's pull is refused, not waited for."""

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> ChunkT:
        turn = self._turn
        turn.take()
        try:
            state = self._state
            state.check_open()
            iterator = self._iterator
            if iterator is None:
                state.timing.start()
                iterator = self._iterator = iter(self._source)
            try:
                item = next(iterator)
            except StopIteration:
                if not state.ended:
                    state.finish(strict=self._strict)
                raise
            self._fold(item)
            return item
        finally:
            turn.give()

    def until_done(self) -> ResultT:
        """Consume the rest of the source and return the result."""
        for _ in self:
            pass
        return self._state.completion

    def close(self) -> None:
        """Close the source (its ``close()``) unless it was exhausted."""
        for target in self._to_close(self._source, self._iterator):
            close = getattr(target, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def afold(
    source: AsyncIterable[ChunkT],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> AsyncFold[ChunkT, ChatCompletion]:
    """Wrap an async iterable of chunks (the OpenAI SDK's ``AsyncStream``, dicts, ...).

    ``async for`` yields its items unchanged; ``.completion`` is the folded
    result once it is exhausted (:class:`EmptyStreamError` if no item was a
    chunk). A source that is not an async iterable is a ``TypeError``. ``parse_json``
    parses tool arguments and/or content as they stream (see :class:`Accumulator`).
    """
    return AsyncFold(source, strict=strict, limits=limits, parse_json=parse_json)


def fold(
    source: Iterable[ChunkT],
    *,
    strict: bool = False,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> Fold[ChunkT, ChatCompletion]:
    """Wrap an iterable of chunks; the sync twin of :func:`afold`.

    Text, bytes or a single mapping is a ``TypeError`` (they go to :func:`assemble`).
    """
    return Fold(source, strict=strict, limits=limits, parse_json=parse_json)
