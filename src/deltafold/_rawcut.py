"""The pass-through's cutter: a body's bytes as received, cut after a blank line.

A gateway forwards what the upstream sent, untouched. The stream core frames
and folds the same bytes (``SSEDecoder``); this module only keeps the bytes
that were read and hands them out in pieces that end where an event ends, so
a piece never stops in the middle of an event. Nothing is decoded or
re-encoded here: the pieces joined are the body.

Where an event ends is where a blank line ends. A line ends at CRLF, LF or a
lone CR, so two line ends in a row hold ``\\n\\n``, ``\\n\\r`` or ``\\r\\r``
(and every such pair is two line ends), which is all :func:`last_boundary`
looks for. Which of those blocks carry an event is the framer's rule alone:
:meth:`RawCut.through_event` asks a fresh ``SSEDecoder`` on the rare path
(``[DONE]`` or a failure), so that rule is not written twice.
"""

from __future__ import annotations

from ._sse import SSEDecoder

__all__ = ["RawCut", "last_boundary", "next_boundary"]

_CR = 0x0D
_LF = 0x0A


def _past_crlf(buf: bytes | bytearray, end: int) -> int:
    """A blank line ending in CR takes the LF right after it, when it is there already."""
    if buf[end - 1] == _CR and end < len(buf) and buf[end] == _LF:
        return end + 1
    return end


def last_boundary(buf: bytes | bytearray, lo: int = 0) -> int:
    """The offset just past the last blank line starting at or after ``lo``; 0 when none."""
    end = buf.rfind(b"\n\n", lo) + 2
    if buf.find(b"\r", lo) >= 0:  # LF-only bodies skip the two other searches
        end = max(end, buf.rfind(b"\n\r", lo) + 2, buf.rfind(b"\r\r", lo) + 2)
        if end > 1:
            end = _past_crlf(buf, end)
    return end if end > 1 else 0


def next_boundary(buf: bytes | bytearray, lo: int = 0) -> int:
    """The offset just past the first blank line starting at or after ``lo``; 0 when none."""
    ends = [i + 2 for i in (buf.find(p, lo) for p in (b"\n\n", b"\n\r", b"\r\r")) if i >= 0]
    return _past_crlf(buf, min(ends)) if ends else 0


class RawCut:
    """The bytes read and not handed out yet; pieces come out ending at an event's end.

    ``events_out`` counts the framer's events inside the pieces handed out,
    which is how :meth:`through_event` finds the event the fold stopped at.
    """

    __slots__ = ("_at_start", "_buf", "_scan", "events_out")

    def __init__(self) -> None:
        self._buf: bytes | bytearray = b""
        self._scan = 0
        """How much of ``_buf`` holds no blank line: only what follows it is searched."""
        self._at_start = True
        self.events_out = 0

    def take(self, data: bytes) -> None:
        """Keep the next read; a tail held since the last piece grows in place."""
        buf = self._buf
        if not buf:
            self._buf = data  # the common case: whole events in one read, kept without a copy
        elif buf.__class__ is bytes:
            self._buf = bytearray(buf) + data
        else:
            buf += data

    def cut(self, events: int) -> bytes:
        """Everything up to the last event boundary (b"" if none); ``events`` lie in it."""
        buf = self._buf
        if not buf:  # the step after a piece: nothing was read since
            return b""
        end = last_boundary(buf, max(self._scan - 1, 0))
        if not end:
            if buf.__class__ is bytes:
                self._buf = bytearray(buf)
            self._scan = len(buf)
            return b""
        self.events_out = events
        return self._hand_out(end)

    def rest(self) -> bytes:
        """Everything held: the body ended, so its unterminated tail goes too."""
        return self._hand_out(len(self._buf))

    def through_event(self, events: int) -> bytes:
        """The held bytes up to the end of the framer's ``events``-th event of the body.

        On the rare path only (``[DONE]``, a failure): the held blocks are framed
        again by a fresh decoder until it has given that many events. An event
        the held complete blocks do not reach is the unterminated tail at the end
        of the body, so everything held is handed out.
        """
        wanted = events - self.events_out
        if wanted <= 0:
            return b""
        buf = self._buf
        decoder = SSEDecoder()
        if not self._at_start:
            decoder.feed(b"\n")  # past the start: a BOM here is no BOM (and this is no event)
        start = 0
        while end := next_boundary(buf, max(start - 1, 0)):
            wanted -= len(decoder.feed(bytes(buf[start:end])))
            start = end
            if wanted <= 0:
                self.events_out = events
                return self._hand_out(end)
        return self.rest()

    def _hand_out(self, end: int) -> bytes:
        buf = self._buf
        self._scan = 0
        if not end:
            return b""
        self._at_start = False
        if isinstance(buf, bytes):
            self._buf = bytearray(buf[end:]) if end < len(buf) else b""
            return buf[:end]  # the whole read is the same object: no copy
        piece = bytes(buf[:end])
        del buf[:end]
        return piece
