"""Many streams at once, and cancellation that really closes the connection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

import deltafold
from deltafold import StreamError, to_dict
from recordings import all_recordings
from servers import ReplayServer, async_client, corpus_body, sse_body, sync_client

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
BOUND = 30
STREAMS = 200


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "gen-c", "model": "m", "choices": [choice]}


def slow_body(n: int = 400) -> bytes:
    """A stream that takes seconds to send, so a consumer is cut off mid-read."""
    chunks = [chunk(role="assistant"), *(chunk(f"t{i} ") for i in range(n)), chunk("", "stop")]
    return sse_body(chunks)


def outcome(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        return "ok", to_dict(deltafold.assemble_sse(body))
    except StreamError as exc:
        assert exc.partial is not None
        return "error", to_dict(exc.partial)


async def wait_disconnected(server: ReplayServer, url: str) -> None:
    """The server recorded that the client went away (bounded wait)."""
    (record,) = server.records_for(url)
    with anyio.fail_after(10):
        while not record.ended.is_set():
            await anyio.sleep(0.01)
    assert record.outcome == "disconnected"


# --- cancellation -----------------------------------------------------------------


@pytest.mark.anyio
async def test_cancelling_a_consumer_closes_the_connection(replay: ReplayServer) -> None:
    url = replay.add(slow_body(), pace=0.01, every=1)
    got: list[deltafold.ChatCompletionChunk] = []
    streams: list[deltafold.AsyncChatStream] = []
    with anyio.fail_after(BOUND):
        async with async_client() as http:
            ready = anyio.Event()

            async def consume() -> None:
                async with deltafold.aconnect_chat(http, url, json=BODY) as s:
                    streams.append(s)
                    async for c in s:
                        got.append(c)
                        if len(got) == 3:
                            ready.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                await ready.wait()
                tg.cancel_scope.cancel()
            await wait_disconnected(replay, url)
            assert 3 <= len(got) < 100
            assert streams[0].snapshot().choices[0].message.content.startswith("t0 t1 ")
            # The pool is still usable after the cancelled stream.
            again = replay.add(sse_body([chunk(role="assistant"), chunk("fine", "stop")]))
            async with deltafold.aconnect_chat(http, again, json=BODY) as s:
                assert (await s.until_done()).choices[0].message.content == "fine"


@pytest.mark.anyio
async def test_timeout_from_outside_closes_the_connection(replay: ReplayServer) -> None:
    url = replay.add(slow_body(), pace=0.01, every=1)
    with anyio.fail_after(BOUND):
        async with async_client() as http:
            with anyio.move_on_after(0.3) as scope:
                async with deltafold.aconnect_chat(http, url, json=BODY) as s:
                    await s.until_done()
            assert scope.cancelled_caught
            await wait_disconnected(replay, url)


@pytest.mark.anyio
async def test_leaving_early_closes_the_connection(replay: ReplayServer) -> None:
    url = replay.add(slow_body(), pace=0.01, every=1)
    with anyio.fail_after(BOUND):
        async with async_client() as http:
            async with deltafold.aconnect_chat(http, url, json=BODY) as s:
                async for _ in s:
                    break
            await wait_disconnected(replay, url)


def test_sync_leaving_early_closes_the_connection(replay: ReplayServer) -> None:
    url = replay.add(slow_body(), pace=0.01, every=1)
    with sync_client() as http, deltafold.connect_chat(http, url, json=BODY) as s:
        for _ in s.events():
            break
    (record,) = replay.records_for(url)
    assert record.ended.wait(10) and record.outcome == "disconnected"


# --- concurrency ------------------------------------------------------------------


@pytest.mark.anyio
async def test_200_streams_at_once(replay: ReplayServer, record_property: Any) -> None:
    entries = [e for e in all_recordings() if e["events"] <= 400]
    jobs = []
    for n in range(STREAMS):
        body = corpus_body(entries[n % len(entries)])
        jobs.append((replay.add(body, pace=0.001, every=4), outcome(body)))
    results: dict[int, tuple[str, dict[str, Any]]] = {}
    limits = httpx.Limits(max_connections=STREAMS, max_keepalive_connections=STREAMS)

    async def one(n: int, http: httpx.AsyncClient) -> None:
        url = jobs[n][0]
        try:
            async with deltafold.aconnect_chat(http, url, json=BODY, idle_timeout=20) as s:
                async for _ in s:
                    pass
                results[n] = ("ok", to_dict(s.completion))
        except StreamError as exc:
            assert exc.partial is not None
            results[n] = ("error", to_dict(exc.partial))

    started = time.perf_counter()
    with anyio.fail_after(60):
        async with async_client(limits=limits, timeout=30) as http, anyio.create_task_group() as tg:
            for n in range(STREAMS):
                tg.start_soon(one, n, http)
    wall = time.perf_counter() - started
    record_property("wall_seconds_200_streams", round(wall, 3))
    print(f"\n{STREAMS} concurrent streams: {wall:.2f} s wall")
    assert len(results) == STREAMS
    for n, (_, want) in enumerate(jobs):
        assert results[n] == want, n
    assert all(len(replay.records_for(url)) == 1 for url, _ in jobs)
