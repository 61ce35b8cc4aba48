"""httpx-sse's events fold as they are, by the rules of deltafold's own framer.

Real ``httpx_sse.ServerSentEvent`` objects, made by httpx-sse's own parser (``iter_sse``
/ ``aiter_sse`` over a response, or ``aconnect_sse`` against a loopback server), go to
``assemble``, ``fold``, ``afold`` and ``Accumulator.feed``; each result is compared with
deltafold's own reading of the same body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import httpx_sse
import pytest

import deltafold
from deltafold import EmptyStreamError, StreamError, to_dict
from servers import ReplayServer, async_client, sse_body, sync_client

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
BOUND = 20


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {"id": "gen-x", "model": "m", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}
    ]}


CHUNKS = [chunk(role="assistant"), chunk("Hel"), chunk("lo"), chunk("", "stop")]
# A comment, an id-only event (httpx-sse dispatches it with empty data), ids and retry
# on real events, CRLF line ends: every framing detail httpx-sse and deltafold both read.
NOISY = (
    b": keep-alive\r\n\r\n"
    b"id: 7\r\n\r\n"
    + b"".join(
        b"id: %d\r\nretry: 10\r\ndata: %s\r\n\r\n" % (i, json.dumps(c).encode())
        for i, c in enumerate(CHUNKS)
    )
    + b"data: [DONE]\r\n\r\n"
)
ERROR_BODY = sse_body(CHUNKS[:2], done=False) + (
    b'event: error\ndata: {"error": {"message": "overloaded", "code": 529}}\n\n'
)


def events_of(body: bytes) -> list[httpx_sse.ServerSentEvent]:
    """httpx-sse's own parse of ``body`` (its EventSource over an in-memory response)."""
    response = httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    return list(httpx_sse.EventSource(response).iter_sse())


async def aevents(body: bytes) -> Any:
    for event in events_of(body):
        await anyio.sleep(0)
        yield event


def test_httpx_sse_really_made_the_edge_cases() -> None:
    events = events_of(NOISY)
    assert all(type(e) is httpx_sse.ServerSentEvent for e in events)
    assert events[0].data == "" and events[0].id == "7"  # the id-only event
    assert events[-1].data == "[DONE]"


@pytest.mark.parametrize("body", [NOISY, sse_body(CHUNKS), sse_body(CHUNKS, done=False)])
def test_assemble_and_fold_read_events_like_the_framer(body: bytes) -> None:
    expected = to_dict(deltafold.assemble_sse(body))
    assert to_dict(deltafold.assemble(events_of(body))) == expected
    folded = deltafold.fold(events_of(body))
    passed = list(folded)
    assert all(type(e) is httpx_sse.ServerSentEvent for e in passed)  # handed back unchanged
    assert to_dict(folded.completion) == expected


def test_accumulator_feed_takes_events() -> None:
    acc = deltafold.Accumulator()
    first, *rest = events_of(NOISY)
    assert acc.feed(first) == [] and acc.chunks_folded == 0  # the id-only event: no chunk
    events = [acc.feed(event) for event in rest]
    assert any(events)
    assert events[-1] == [] and acc.chunks_folded == len(CHUNKS)  # [DONE] folds nothing
    assert to_dict(acc.result()) == to_dict(deltafold.assemble_sse(NOISY))


def test_done_ends_assemble_of_events() -> None:
    after = events_of(sse_body([chunk("ignored", "stop")], done=False))
    completion = deltafold.assemble([*events_of(sse_body(CHUNKS)), *after])
    assert completion.choices[0].message.content == "Hello"


def test_only_done_says_so() -> None:
    with pytest.raises(EmptyStreamError, match=r"holds only \[DONE\]"):
        deltafold.assemble(events_of(b"data: [DONE]\n\n"))


def test_error_event_raises_with_the_partial() -> None:
    with pytest.raises(StreamError, match="overloaded") as info:
        deltafold.assemble(events_of(ERROR_BODY))
    assert info.value.code == 529
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "Hel"
    acc = deltafold.Accumulator()
    with pytest.raises(StreamError, match="overloaded"):
        for event in events_of(ERROR_BODY):
            acc.feed(event)


def test_bad_json_in_an_event_names_it() -> None:
    with pytest.raises(deltafold.ChunkDecodeError, match="event 1: invalid JSON"):
        deltafold.assemble(events_of(sse_body(CHUNKS[:1], done=False) + b"data: {oops\n\n"))


@pytest.mark.anyio
async def test_afold_of_events(anyio_backend: str) -> None:
    folded = deltafold.afold(aevents(NOISY))
    seen = [event async for event in folded]
    assert len(seen) == len(events_of(NOISY))
    assert to_dict(folded.completion) == to_dict(deltafold.assemble_sse(NOISY))
    with pytest.raises(StreamError) as info:
        await deltafold.afold(aevents(ERROR_BODY)).until_done()
    assert info.value.partial is not None


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


@pytest.mark.anyio
async def test_aconnect_sse_then_afold_over_a_real_server(
    replay: ReplayServer, anyio_backend: str
) -> None:
    url = replay.add(NOISY, every=1)
    with anyio.fail_after(BOUND):
        async with async_client() as client, httpx_sse.aconnect_sse(
            client, "POST", url, json=BODY
        ) as source:
            completion = await deltafold.afold(source.aiter_sse()).until_done()
    assert to_dict(completion) == to_dict(deltafold.assemble_sse(NOISY))
    (record,) = replay.records_for(url)
    assert record.headers["accept"] == "text/event-stream"


@pytest.mark.anyio
async def test_aconnect_sse_mid_stream_error_over_a_real_server(
    replay: ReplayServer, anyio_backend: str
) -> None:
    url = replay.add(ERROR_BODY, every=1)
    with anyio.fail_after(BOUND):
        async with async_client() as client, httpx_sse.aconnect_sse(
            client, "POST", url, json=BODY
        ) as source:
            with pytest.raises(StreamError, match="overloaded") as info:
                async for _ in deltafold.afold(source.aiter_sse()):
                    pass
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "Hel"


def test_connect_sse_then_fold_over_a_real_server(replay: ReplayServer) -> None:
    url = replay.add(NOISY, every=1)
    with sync_client(timeout=BOUND) as client, httpx_sse.connect_sse(
        client, "POST", url, json=BODY
    ) as source:
        completion = deltafold.fold(source.iter_sse()).until_done()
    assert to_dict(completion) == to_dict(deltafold.assemble_sse(NOISY))
