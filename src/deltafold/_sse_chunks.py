"""An SSE body's chunks, a piece at a time: the one decode loop every SSE body goes through.

``assemble_sse`` (``fold_sse``) hands each chunk straight to a fold, a conversion
(``convert._source``) to a reader; both frame the body with ``DataDecoder`` and read each
event here, so the rule of what an event holds and how fast it is read is in one place.
It runs once per event, so it is written inline: a plain message (its data bytes) is
decoded with orjson, and kept when it is a JSON object in which orjson rounded no integer
(``rounds_ints``, asked only of the events of a piece that ``RunWatch`` suspects);
anything else (an error event, ``[DONE]``, bad JSON, NaN, another value) goes through
``event_chunk``, which names the event and reads what orjson cannot as ``json.loads``
does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ._decode import DONE, event_to_chunk
from ._jsontext import RunWatch, rounds_ints
from ._limits import Limits
from ._sse import DataDecoder, ServerSentEvent

__all__ = ["SSEChunks", "event_chunk"]


class SSEChunks:
    """Sans-IO: pieces of an SSE body in, each chunk up to ``[DONE]`` handed to ``consume``.

    ``feed(piece, consume)`` frames a piece and hands ``consume`` the chunks it completes;
    ``close(consume)`` the event an unterminated body ends with. Both return whether
    ``[DONE]`` came (nothing after it is read). A framing error is raised at once; a byte
    cap crossed after a piece's events (the framer defers it) is raised once they are
    handed on; an event that holds no chunk raises ``ChunkDecodeError`` naming it.
    """

    __slots__ = ("decoder", "done", "position", "watch")

    def __init__(self, limits: Limits) -> None:
        self.decoder = DataDecoder(
            max_event_bytes=limits.max_event_bytes, max_total_bytes=limits.max_total_bytes
        )
        self.watch = RunWatch()
        self.position = 0
        """Chunks handed on so far (an error names its event by this count)."""
        self.done = False
        """``[DONE]`` came."""

    def feed(self, piece: bytes | str, consume: Callable[[Any], object]) -> bool:
        """Hand ``consume`` the chunks ``piece`` completes; whether ``[DONE]`` came."""
        if self.done:
            return True
        check = self.watch.feed(piece)
        decoder = self.decoder
        events = decoder.feed_data(piece)
        if not events:
            return False
        loads = orjson.loads
        position = self.position
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
                chunk = event_chunk(data, position)
                if chunk is None:
                    continue
                if chunk is DONE:
                    self.position = position
                    self.done = True
                    return True
            position += 1
            consume(chunk)
        self.position = position
        if decoder.error is not None:
            # A byte cap crossed after these events (never without events: then the
            # framer raises at once, so pieces that framed nothing skip this).
            raise decoder.error
        return False

    def close(self, consume: Callable[[Any], object]) -> bool:
        """Hand ``consume`` the chunk of an event the body ended without a blank line after."""
        if self.done:
            return True
        for data in self.decoder.close_data():
            chunk = event_chunk(data, self.position)
            if chunk is None:
                continue
            if chunk is DONE:
                self.done = True
                return True
            self.position += 1
            consume(chunk)
        return False


def event_chunk(event: bytes | ServerSentEvent, position: int) -> Any:
    """The chunk of one framed event (``event_to_chunk``): None for an empty one, ``DONE``."""
    if isinstance(event, bytes):
        # Read as text the way the framer reads any event's data (bad UTF-8 replaced).
        return event_to_chunk("message", event.decode("utf-8", "replace"), position)
    return event_to_chunk(event.event, event.data, position)
