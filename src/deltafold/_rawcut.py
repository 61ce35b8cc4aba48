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

import re

from ._sse import SSEDecoder

__all__ = ["RawCut", "last_boundary", "next_boundary"]

_CR = 0x0D
_LF = 0x0A
_BLANK = re.compile(rb"\n\n|\n\r|\r\r")
"""Two line ends in a row: the first match is the first blank line (one scan, stops there)."""


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
    # One search that stops at the first hit: three ``find`` calls would each scan to the
    # end for a pattern the body lacks (CR in an LF body), which made cutting a long held
    # buffer block by block quadratic.
    found = _BLANK.search(buf, lo)
    return _past_crlf(buf, found.end()) if found else 0


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

    def through_event(self, events: int, last: bool = False) -> bytes:
        """The held bytes up to the end of the framer's ``events``-th event of the body.

        On the rare path only (``[DONE]``, a failure). ``last`` says the framer
        framed every complete block held and that event was the last it gave
        (``[DONE]`` closing a read, the common case): then it is the last held block
        that gives an event, found from the end (:meth:`_last_event_end`).
        Otherwise the held blocks are framed again by a fresh decoder until it has
        given that many events. An event the
        held complete blocks do not reach is the unterminated tail at the end of the
        body, so everything held is handed out.
        """
        wanted = events - self.events_out
        if wanted <= 0:
            return b""
        end = self._last_event_end() if last else 0
        if end:
            self.events_out = events
            return self._hand_out(end)
        buf = self._buf
        decoder = self._decoder(0)
        start = 0
        while end := next_boundary(buf, max(start - 1, 0)):
            wanted -= len(decoder.feed(bytes(buf[start:end])))
            start = end
            if wanted <= 0:
                self.events_out = events
                return self._hand_out(end)
        return self.rest()

    def _last_event_end(self) -> int:
        """The end of the last held block that gives an event, or 0 to walk from the start.

        Only for LF line ends with no tail past the last blank line (then every
        framed event lies in the held blocks): the blocks are framed one at a time
        from the end, so a read holding a hundred events costs one block, not a
        hundred (a coalesced read at ``[DONE]`` is the common case of a busy relay).
        """
        buf = self._buf
        hi = last_boundary(buf)
        if not hi or hi != len(buf) or buf.find(b"\r") >= 0:
            return 0
        while hi:
            pair = buf.rfind(b"\n\n", 0, hi - 1)  # the blank line before this block's
            lo = pair + 2 if pair >= 0 else 0
            if self._decoder(lo).feed(bytes(buf[lo:hi])):
                return hi
            hi = lo
        return 0

    def _decoder(self, at: int) -> SSEDecoder:
        """A fresh framer for the held bytes from offset ``at`` (a block's start)."""
        decoder = SSEDecoder()
        if at or not self._at_start:
            decoder.feed(b"\n")  # past the start: a BOM here is no BOM (and this is no event)
        return decoder

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
