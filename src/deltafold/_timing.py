"""How long a stream took: ``Timing`` and its bounded summary of the gaps between chunks.

Sans-IO like the fold: the drivers (``_stream``, ``_iterfold``) read the
monotonic clock and hand the timestamps here; nothing in this module waits or
touches a socket. The clock is injected (``time.monotonic`` by default) so a
test can drive a ``Timing`` with literal timestamps, and so the live values
(``duration`` while the stream runs) read the same clock as the driver.

Chunks are stamped when the bytes that hold them are read: chunks that came
in one read arrived together, so the gaps between them are 0. That is what
the client observed; a slow consumer slows the reads too (back-pressure).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import attrs

from ._plural import plural

__all__ = ["GapSummary", "Timing"]

_EXACT = 256
"""Gaps are buffered as they are, this many at a time: up to here percentiles are exact."""
_FLOOR = 1e-6
"""Gaps under a microsecond (chunks that came in one read) count as 0."""
_PER_OCTAVE = 16
"""Buckets per doubling: a bucket spans 4.4 %, so a percentile is within 2.2 % of the truth."""
_BUCKETS = 36 * _PER_OCTAVE
"""From 1 µs to 2**36 µs (19 hours); a longer gap lands in the last bucket."""
_LAST = _BUCKETS - 1
_OFFSET = -math.log2(_FLOOR) * _PER_OCTAVE
"""``index = 16 * log2(gap) + _OFFSET`` is ``16 * log2(gap / 1 µs)``, one multiply cheaper."""
_log2 = math.log2


@attrs.define(eq=False, repr=False)
class GapSummary:
    """The gaps between chunks, in seconds, in constant memory however long the stream.

    A gap costs one list append: gaps are buffered as they are, 256 at a
    time. Until the buffer first fills, percentiles are exact. Then each full
    buffer is poured into a fixed log-scale histogram (16 buckets per
    doubling, from 1 µs to 19 hours: 576 counters), and a percentile is the
    geometric middle of its bucket (within 2.2 %), never above ``max``.
    Percentiles use the nearest rank: p90 is the smallest gap that at least
    90 % of the gaps do not exceed. Gaps under 1 µs count as 0.
    """

    count: int = 0
    """How many gaps (chunks after the first)."""
    _top: float = attrs.field(default=-1.0, alias="_top")
    _buffer: list[float] = attrs.field(factory=list, alias="_buffer")
    _zeros: int = attrs.field(default=0, alias="_zeros")
    _counts: list[int] | None = attrs.field(default=None, alias="_counts")

    @property
    def max(self) -> float | None:
        """The longest gap; None before the second chunk."""
        return self._top if self.count else None

    def add(self, gap: float, times: int = 1) -> None:
        """Count ``gap`` ``times`` times (this runs once per chunk: keep it short)."""
        if times == 1:
            self.count += 1
            if gap > self._top:
                self._top = gap
            buffer = self._buffer
            buffer.append(gap)
            if len(buffer) >= _EXACT:
                self._pour()
        elif times > 0:
            self.count += times
            if gap > self._top:
                self._top = gap
            if gap < _FLOOR:  # the chunks after the first of one read
                self._zeros += times
            else:
                self._buffer.extend([gap] * times)
                if len(self._buffer) >= _EXACT:
                    self._pour()

    def _pour(self) -> None:
        """Move the buffered gaps into the histogram."""
        counts = self._counts
        if counts is None:
            self._counts = counts = [0] * _BUCKETS
        for gap in self._buffer:
            if gap < _FLOOR:
                self._zeros += 1
            else:
                index = int(_PER_OCTAVE * _log2(gap) + _OFFSET)
                counts[index if index < _LAST else _LAST] += 1
        self._buffer.clear()

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0 < q <= 100) of the gaps; None with no gap yet."""
        if not 0 < q <= 100:
            raise ValueError(f"a percentile is in (0, 100], got {q!r}")
        if not self.count:
            return None
        rank = max(1, math.ceil(q / 100 * self.count))
        if self._counts is None:  # nothing poured yet: exact
            if rank <= self._zeros:
                return 0.0
            return sorted(self._buffer)[rank - self._zeros - 1]
        self._pour()
        if rank <= self._zeros:
            return 0.0
        seen = self._zeros
        for index, n in enumerate(self._counts):
            seen += n
            if seen >= rank:
                middle = _FLOOR * 2 ** ((index + 0.5) / _PER_OCTAVE)
                return min(middle, self._top)
        return self._top

    @property
    def p50(self) -> float | None:
        return self.percentile(50)

    @property
    def p90(self) -> float | None:
        return self.percentile(90)

    @property
    def p99(self) -> float | None:
        return self.percentile(99)

    def __repr__(self) -> str:
        if not self.count:
            return "GapSummary(count=0)"
        return (
            f"GapSummary(count={self.count}, p50={_ms(self.p50)}, p90={_ms(self.p90)}, "
            f"p99={_ms(self.p99)}, max={_ms(self.max)})"
        )


@attrs.define(eq=False, repr=False)
class Timing:
    """When a stream's request went out, its headers and chunks came in, and it ended.

    Every figure is in seconds, from the monotonic clock, and None until it
    is known. It is live while the stream runs (``duration`` grows) and final
    once the stream ended, failed or was closed; an error raised by the
    stream carries it as ``.timing``. For ``fold``/``afold`` over an
    iterable, the start is the first pull from the source and there are no
    headers.
    """

    started: float | None = None
    """When the request was sent (or the first item pulled)."""
    headers_at: float | None = None
    first_chunk_at: float | None = None
    first_token_at: float | None = None
    last_chunk_at: float | None = None
    ended_at: float | None = None
    chunks: int = 0
    """Chunks that arrived (and were folded) so far."""
    gaps: GapSummary = attrs.field(factory=GapSummary)
    """The gaps between consecutive chunks: count, p50, p90, p99, max."""
    clock: Callable[[], float] = time.monotonic
    on_gap: Callable[[float], None] | None = None
    """Called with each gap as it is counted (the OpenTelemetry per-chunk metric)."""
    output_tokens: Callable[[], int | None] = lambda: None
    """Where the completion tokens come from once usage arrived (the fold's usage)."""
    _read_at: float | None = attrs.field(default=None, alias="_read_at")

    # --- fed by the drivers ------------------------------------------------------

    def start(self, now: float | None = None) -> None:
        if self.started is None:
            self.started = self.clock() if now is None else now

    def headers(self, now: float | None = None) -> None:
        self.headers_at = self.clock() if now is None else now

    def read(self, now: float | None = None) -> None:
        """Bytes (or an item) arrived: the chunks folded from them arrived now."""
        self._read_at = now if now is not None else self.clock()

    def arrived(self, total: int, has_token: Callable[[], bool]) -> None:
        """The fold now holds ``total`` chunks: the new ones came with the last read.

        ``has_token`` is asked only until the first token was seen.
        """
        new = total - self.chunks
        at = self._read_at
        if new <= 0 or at is None:
            return
        self.chunks = total
        last = self.last_chunk_at
        self.last_chunk_at = at
        hook = self.on_gap
        if last is None:
            self.first_chunk_at = at
        else:
            gap = at - last
            self.gaps.add(gap)
            if hook is not None:
                hook(gap)
        if new > 1:  # the others came in the same read
            self.gaps.add(0.0, new - 1)
            if hook is not None:
                for _ in range(new - 1):
                    hook(0.0)
        if self.first_token_at is None and has_token():
            self.first_token_at = at

    def end(self, now: float | None = None) -> None:
        if self.ended_at is None:
            self.ended_at = self.clock() if now is None else now

    # --- what users read ---------------------------------------------------------

    def _since_start(self, at: float | None) -> float | None:
        return None if at is None or self.started is None else at - self.started

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def time_to_headers(self) -> float | None:
        """From the request being sent to the response headers."""
        return self._since_start(self.headers_at)

    @property
    def time_to_first_chunk(self) -> float | None:
        """From the request being sent to the first chunk."""
        return self._since_start(self.first_chunk_at)

    @property
    def time_to_first_token(self) -> float | None:
        """To the first non-empty content, refusal, reasoning or tool-argument fragment."""
        return self._since_start(self.first_token_at)

    @property
    def duration(self) -> float | None:
        """From the start to the end; while the stream runs, to now."""
        if self.started is None:
            return None
        end = self.ended_at if self.ended_at is not None else self.clock()
        return end - self.started

    @property
    def output_tokens_per_second(self) -> float | None:
        """Completion tokens over the time from the first token to the last chunk.

        None before the usage arrived, or when that time is 0.
        """
        tokens = self.output_tokens()
        first, last = self.first_token_at, self.last_chunk_at
        if tokens is None or first is None or last is None or last <= first:
            return None
        return tokens / (last - first)

    def summary(self) -> str:
        """One line: the figures known so far (what ``deltafold stream --stats`` prints)."""
        parts = [plural(self.chunks, "chunk")]
        for label, value in (
            ("headers", self.time_to_headers),
            ("first chunk", self.time_to_first_chunk),
            ("first token", self.time_to_first_token),
            ("total", self.duration),
        ):
            if value is not None:
                parts.append(f"{label} {_ms(value)}")
        gaps = self.gaps
        if gaps.count:
            parts.append(f"gaps p50 {_ms(gaps.p50)} p99 {_ms(gaps.p99)} max {_ms(gaps.max)}")
        rate = self.output_tokens_per_second
        if rate is not None:
            parts.append(f"{rate:.1f} tok/s")
        return ", ".join(parts)

    def __repr__(self) -> str:
        state = "ended" if self.ended else "running"
        return f"<Timing {state}: {self.summary()}>"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 10:
        return f"{seconds:.1f}s"
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.2f}s"
