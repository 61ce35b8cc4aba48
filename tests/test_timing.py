"""Timing: the gap summary's percentiles, and the figures of paced streams on 127.0.0.1.

The replay server paces the stream (a pause before the first event, then
between events); the asserted ranges are wide enough for a shared 2-core
machine, never exact times.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

import deltafold
from deltafold import GapSummary, Timing

FIRST_DELAY = 0.3
GAP = 0.05
SLOW = 3.0
"""Upper bound for anything the pacing says should take well under a second."""


def chunks(*, error: bool = False) -> list[dict[str, Any]]:
    """A small stream: a role chunk with empty content (no token), reasoning, text, usage."""
    base = {"id": "gen-1", "model": "test/model", "object": "chat.completion.chunk"}
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "content": ""},
        {"reasoning": "Think"},
        {"content": "Hello"},
        {"content": " there"},
        {"content": "!"},
    ]
    out = [{**base, "choices": [{"index": 0, "delta": d}]} for d in deltas]
    if error:
        out.append({**base, "error": {"code": 502, "message": "upstream went away"}})
        return out
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out.append({**base, "choices": [], "usage": {
        "prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
        "completion_tokens_details": {"reasoning_tokens": 2},
        "prompt_tokens_details": {"cached_tokens": 3},
    }})
    return out


@pytest.fixture(scope="module")
def paced() -> Iterator[str]:
    with deltafold.replay_server(
        chunks(), delay_ms=GAP * 1000, first_delay_ms=FIRST_DELAY * 1000
    ) as url:
        yield url


def check_final(timing: Timing, chunks_received: int) -> None:
    assert timing.ended
    assert timing.chunks == chunks_received == 7
    assert 0 <= timing.time_to_headers < FIRST_DELAY  # type: ignore[operator]
    ttfc = timing.time_to_first_chunk
    assert ttfc is not None and FIRST_DELAY * 0.9 <= ttfc < FIRST_DELAY + SLOW
    ttft = timing.time_to_first_token
    # The role chunk with content "" is not a token: the reasoning chunk, one gap later, is.
    # Lower bounds count from the request: the server cannot send sooner, while a loaded
    # client may read the first chunk late and the next one on time.
    assert ttft is not None and ttft > ttfc and ttft >= FIRST_DELAY * 0.9 + GAP * 0.8
    assert timing.duration is not None and timing.duration >= FIRST_DELAY * 0.9 + 6 * GAP * 0.8
    gaps = timing.gaps
    assert gaps.count == 6
    assert gaps.max is not None and gaps.max >= gaps.p99 >= gaps.p90 >= gaps.p50  # type: ignore[operator]
    assert GAP * 0.8 <= gaps.p50 < GAP + SLOW  # type: ignore[operator]
    rate = timing.output_tokens_per_second
    assert rate is not None and 0 < rate <= 7 / (4 * GAP * 0.8)
    assert timing.duration == timing.duration  # final: no longer moves
    assert "7 chunks" in timing.summary()


@pytest.mark.anyio
async def test_async_stream_timing_is_live_then_final(paced: str) -> None:
    async with deltafold.Client(base_url=paced, api_key="") as client:
        stream = client.stream(model="m", messages=[])
        assert stream.timing.started is None and stream.timing.duration is None
        async with stream:
            seen: list[tuple[int, float | None, bool]] = []
            async for _chunk in stream:
                timing = stream.timing
                seen.append((timing.chunks, timing.time_to_first_chunk, timing.ended))
            first = seen[0]
            assert first[0] == 1 and first[1] is not None and first[2] is False
            assert [n for n, _, _ in seen] == list(range(1, 8))
            check_final(stream.timing, stream.chunks_received)
            before = stream.timing.duration
            await anyio.sleep(0.05)
            assert stream.timing.duration == before


def test_sync_stream_timing(paced: str) -> None:
    client = deltafold.SyncClient(base_url=paced, api_key="")
    with client, client.stream(model="m", messages=[]) as stream:
        while_running = None
        for _chunk in stream:
            if while_running is None:
                time.sleep(0.02)
                while_running = stream.timing.duration
        assert while_running is not None and while_running >= FIRST_DELAY
        completion = stream.completion
        check_final(stream.timing, stream.chunks_received)
    assert completion.choices[0].message.content == "Hello there!"


@pytest.mark.anyio
async def test_until_done_and_events_keep_the_same_timing(paced: str) -> None:
    async with httpx.AsyncClient() as http:
        for style in ("drain", "events"):
            stream = deltafold.aconnect_chat(http, f"{paced}/chat/completions", json={"model": "m"})
            async with stream:
                if style == "drain":
                    await stream.until_done()
                else:
                    async for _event in stream.events():
                        pass
                check_final(stream.timing, stream.chunks_received)


@pytest.mark.anyio
async def test_the_error_carries_the_final_timing() -> None:
    with deltafold.replay_server(chunks(error=True), delay_ms=20, first_delay_ms=100) as url:
        client = deltafold.Client(base_url=url, api_key="")
        async with client, client.stream(model="m", messages=[]) as stream:
            with pytest.raises(deltafold.StreamError) as caught:
                await stream.until_done()
    error = caught.value
    assert error.timing is stream.timing and error.partial is not None
    assert error.timing.ended and error.timing.chunks == 6
    assert error.timing.time_to_first_chunk is not None
    assert error.timing.time_to_first_chunk >= 0.09
    assert error.timing.output_tokens_per_second is None  # no usage arrived


def test_a_refused_connection_still_has_timing() -> None:
    with socket_port() as port, deltafold.SyncClient(
        base_url=f"http://127.0.0.1:{port}/v1", api_key=""
    ) as client:
        stream = client.stream(model="m", messages=[])
        with pytest.raises(deltafold.ConnectError) as caught:
            stream.__enter__()
    timing = caught.value.timing
    assert timing is stream.timing and timing.ended
    assert timing.time_to_headers is None and timing.chunks == 0 and timing.duration is not None


class socket_port:
    """A port with nothing listening (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        sock.close()
        return port

    def __exit__(self, *exc: object) -> None:
        return None


def test_early_close_freezes_the_timing(paced: str) -> None:
    with deltafold.SyncClient(base_url=paced, api_key="") as client:
        with client.stream(model="m", messages=[]) as stream:
            for _chunk in stream:
                break
        timing = stream.timing
        assert timing.ended and timing.chunks == 1
        assert timing.time_to_first_token is None  # the role chunk only
        frozen = timing.duration
        time.sleep(0.02)
        assert timing.duration == frozen


# --- fold / afold over an iterable ---------------------------------------------------


def test_fold_timing_from_the_first_pull() -> None:
    def slow() -> Iterator[dict[str, Any]]:
        for chunk in chunks():
            time.sleep(0.03)
            yield chunk

    folded = deltafold.fold(slow())
    for _chunk in folded:
        pass
    timing = folded.timing
    assert timing.ended and timing.chunks == 7 and timing.time_to_headers is None
    assert 0.025 <= timing.time_to_first_chunk < SLOW  # type: ignore[operator]
    assert timing.time_to_first_token > timing.time_to_first_chunk  # type: ignore[operator]
    assert timing.gaps.count == 6 and timing.gaps.p50 >= 0.025  # type: ignore[operator]
    assert timing.output_tokens_per_second is not None


@pytest.mark.anyio
async def test_afold_error_carries_timing() -> None:
    async def source() -> Any:
        for chunk in chunks(error=True):
            await anyio.sleep(0.01)
            yield chunk

    folded = deltafold.afold(source())
    with pytest.raises(deltafold.StreamError) as caught:
        await folded.until_done()
    assert caught.value.timing is folded.timing and folded.timing.ended
    assert folded.timing.chunks == 6


# --- the gap summary and Timing with literal timestamps ------------------------------


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


@pytest.mark.parametrize("n", [1, 2, 5, 255])
def test_percentiles_are_exact_for_small_counts(n: int) -> None:
    rng = random.Random(n)
    values = [rng.uniform(0.001, 2.0) for _ in range(n)]
    summary = GapSummary()
    for value in values:
        summary.add(value)
    for q in (50, 90, 99, 100):
        assert summary.percentile(q) == nearest_rank(values, q)
    assert summary.max == max(values) and summary.count == n


@pytest.mark.parametrize("n", [256, 1000, 50_000])
def test_percentiles_within_the_bucket_error_in_constant_memory(n: int) -> None:
    rng = random.Random(n)
    values = [rng.lognormvariate(-3, 1.5) for _ in range(n)] + [0.0] * (n // 10)
    summary = GapSummary()
    for value in values:
        summary.add(value)
    for q in (50, 90, 99):
        true = nearest_rank(values, q)
        got = summary.percentile(q)
        assert got is not None
        assert (got == 0.0 == true) or abs(got - true) <= 0.023 * true
    assert summary.max == max(values) and summary.count == len(values)
    assert len(summary._buffer) < 256 and len(summary._counts or []) == 576


def test_summary_without_gaps_and_bad_percentile() -> None:
    summary = GapSummary()
    assert summary.p50 is None and summary.max is None and "count=0" in repr(summary)
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        summary.percentile(0)


def test_timing_fed_literal_timestamps() -> None:
    clock = iter([100.0]).__next__
    timing = Timing(clock=clock)
    timing.start(10.0)
    timing.headers(10.2)
    timing.read(11.0)
    timing.arrived(1, lambda: False)  # the role chunk
    timing.read(11.5)
    timing.arrived(3, lambda: True)  # two chunks in one read: gaps 0.5 and 0
    assert timing.time_to_headers == pytest.approx(0.2)
    assert timing.time_to_first_chunk == pytest.approx(1.0)
    assert timing.time_to_first_token == pytest.approx(1.5)
    assert timing.gaps.count == 2 and timing.gaps.max == pytest.approx(0.5)
    assert timing.gaps.p50 == 0.0
    assert timing.duration == pytest.approx(90.0)  # live: the injected clock's now
    timing.end(12.0)
    assert timing.duration == pytest.approx(2.0)
    assert timing.output_tokens_per_second is None
    timing.output_tokens = lambda: 50
    timing.read(13.0)
    timing.arrived(4, lambda: True)
    assert timing.output_tokens_per_second == pytest.approx(50 / 1.5)
