"""One stream, two readers: the second gets StreamUsageError, the first its data intact.

Each case makes the first reader wait inside a read (a paced server, a source that
blocks) and has the second read meanwhile; every wait is bounded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import deltafold
from deltafold import StreamUsageError, to_dict
from servers import FaultServer, Send, Sleep, async_client, sse_body, sync_client

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
BOUND = 20
SECOND = "being read by another task or thread"


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {"id": "gen-r", "model": "m", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}
    ]}


CHUNKS = [chunk("a", role="assistant"), *(chunk(f"t{i} ") for i in range(5)), chunk("", "stop")]
WHOLE = sse_body(CHUNKS)


def event(c: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(c).encode() + b"\n\n"


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def paused(faults: FaultServer, pause: float = 0.5) -> str:
    """A stream whose second event comes ``pause`` seconds after the first."""
    steps = [Send(event(CHUNKS[0])), Sleep(pause), Send(WHOLE[len(event(CHUNKS[0])):])]
    url, _ = faults.add(steps)
    return url


@pytest.mark.anyio
@pytest.mark.parametrize("style", ["chunks", "events", "raw", "until_done"])
async def test_second_task_is_refused(faults: FaultServer, style: str, anyio_backend: str) -> None:
    url = paused(faults)
    first_read = anyio.Event()
    got: list[Any] = []
    with anyio.fail_after(BOUND):
        async with async_client() as http, deltafold.aconnect_chat(http, url, json=BODY) as s:
            iterator: Any = s.raw() if style == "raw" else s.events() if style == "events" else s

            async def first() -> None:
                async for item in iterator:
                    got.append(item)
                    first_read.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(first)
                await first_read.wait()
                await anyio.sleep(0.05)  # the first reader is now waiting inside its read
                with pytest.raises(StreamUsageError, match=SECOND):
                    if style == "until_done":
                        await s.until_done()
                    else:
                        await iterator.__anext__()
            assert to_dict(s.completion) == to_dict(deltafold.assemble_sse(WHOLE))
    if style == "chunks":
        assert [to_dict(c) for c in got] == [to_dict(deltafold.ChatCompletionChunk.from_dict(c))
                                             for c in CHUNKS]
    if style == "raw":
        assert b"".join(got) == WHOLE


def test_second_thread_is_refused(faults: FaultServer) -> None:
    url = paused(faults)
    got: list[Any] = []
    first_read = threading.Event()
    with sync_client(timeout=BOUND) as http, deltafold.connect_chat(http, url, json=BODY) as s:

        def first() -> None:
            for c in s:
                got.append(c)
                first_read.set()

        thread = threading.Thread(target=first)
        thread.start()
        assert first_read.wait(BOUND)
        refused: list[BaseException] = []
        for _ in range(20):  # the first thread is blocked in its 0.5 s read for most of these
            try:
                next(s)
            except StreamUsageError as exc:
                refused.append(exc)
                break
            except BaseException as exc:  # anything else is the bug this test is for
                refused.append(exc)
                break
            threading.Event().wait(0.02)
        thread.join(BOUND)
        assert not thread.is_alive()
        assert len(refused) == 1 and isinstance(refused[0], StreamUsageError), refused
    assert to_dict(s.completion) == to_dict(deltafold.assemble_sse(WHOLE))


def test_fold_from_two_threads() -> None:
    gate = threading.Event()
    inside = threading.Event()

    def source() -> Iterator[dict[str, Any]]:
        yield CHUNKS[0]
        inside.set()
        gate.wait(BOUND)  # the first reader blocks here, inside the source
        yield from CHUNKS[1:]

    folded = deltafold.fold(source())
    assert next(folded) == CHUNKS[0]
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(folded.until_done()))
    thread.start()
    assert inside.wait(BOUND)
    with pytest.raises(StreamUsageError, match=SECOND):
        next(folded)
    gate.set()
    thread.join(BOUND)
    assert to_dict(result[0]) == to_dict(deltafold.assemble(CHUNKS))


@pytest.mark.anyio
async def test_afold_from_two_tasks(anyio_backend: str) -> None:
    gate = anyio.Event()

    async def source() -> Any:
        for c in CHUNKS:
            if c is CHUNKS[1]:
                await gate.wait()
            yield c

    folded = deltafold.afold(source())
    got: list[Any] = []
    with anyio.fail_after(BOUND):
        async with anyio.create_task_group() as tg:

            async def first() -> None:
                async for c in folded:
                    got.append(c)

            tg.start_soon(first)
            while not got:  # bounded by fail_after
                await anyio.sleep(0.01)
            await anyio.sleep(0.05)  # the first reader now waits inside the source
            with pytest.raises(StreamUsageError, match=SECOND):
                await folded.__anext__()
            gate.set()
    assert got == CHUNKS
    assert to_dict(folded.completion) == to_dict(deltafold.assemble(CHUNKS))
