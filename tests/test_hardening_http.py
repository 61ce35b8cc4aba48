"""Hostile upstreams over real sockets: limits, slowloris, resets at every byte, no headers,
secrets, and memory while streaming.

Every server is a FaultServer or uvicorn on 127.0.0.1 started here; every wait is
bounded by ``anyio.fail_after`` (async) or a socket timeout (sync); nothing asserts
on elapsed time.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import orjson
import pytest

import deltafold
from deltafold import (
    APIStatusError,
    ChatCompletion,
    ChunkDecodeError,
    ConnectError,
    DeltafoldError,
    IdleTimeoutError,
    LimitExceededError,
    Limits,
    StreamError,
    TransportError,
    assemble_sse,
    to_dict,
)
from servers import (
    Close,
    End,
    FaultServer,
    Record,
    Reset,
    Send,
    Sleep,
    Stall,
    Step,
    async_client,
    full_response,
    sync_client,
)

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
KEY = "sk-or-v1-hardening-secret-9876543210fedcba"
HEADERS = {"Authorization": f"Bearer {KEY}"}
BOUND = 20
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def event(content: str | None = None, finish: str | None = None, **delta: Any) -> bytes:
    if content is not None:
        delta["content"] = content
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    if finish:
        choice["finish_reason"] = finish
    chunk = {"id": "gen-7", "model": "m", "choices": [choice]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


async def run_async(
    url: str,
    *,
    idle_timeout: float | None = 5.0,
    limits: Limits | None = None,
    http: httpx.AsyncClient | None = None,
    bound: float = BOUND,
) -> ChatCompletion:
    with anyio.fail_after(bound):
        async with (
            async_client() if http is None else http as client,
            deltafold.aconnect_chat(
                client, url, json=BODY, headers=HEADERS, idle_timeout=idle_timeout, limits=limits
            ) as stream,
        ):
            return await stream.until_done()


def run_sync(
    url: str,
    *,
    idle_timeout: float | None = 5.0,
    limits: Limits | None = None,
    timeout: httpx.Timeout | None = None,
) -> ChatCompletion:
    with (
        sync_client(timeout=timeout or httpx.Timeout(BOUND)) as http,
        deltafold.connect_chat(
            http, url, json=BODY, headers=HEADERS, idle_timeout=idle_timeout, limits=limits
        ) as stream,
    ):
        return stream.until_done()


def wait_for(record: Record, outcome: str) -> None:
    assert record.ended.wait(BOUND), "the server never finished its script"
    assert record.outcome == outcome


def content_of(error: DeltafoldError) -> str | None:
    assert error.partial is not None
    return error.partial.choices[0].message.content


# --- a 1 GB event --------------------------------------------------------------------------

GIGABYTE_LINE: list[Step] = [
    Send(event(role="assistant")),
    Send(event("before")),
    Send(b"data: "),
    *[Send(b"x" * 65536)] * (1024 * 1024 * 1024 // 65536),  # one object, 16384 references
    End(),
]


@pytest.mark.anyio
async def test_endless_event_is_cut_at_max_event_bytes_and_the_connection_closed(
    faults: FaultServer,
) -> None:
    url, record = faults.add(GIGABYTE_LINE)
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError) as info:
            await run_async(url, limits=Limits(max_event_bytes=MiB))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    error = info.value
    assert (error.limit, error.maximum) == ("max_event_bytes", MiB)
    assert MiB < error.value <= 2 * MiB
    assert content_of(error) == "before"
    wait_for(record, "client closed")  # the server noticed: it did not send the 1 GB
    assert peak < 16 * MiB, peak  # the client never held much more than the limit


def test_endless_event_sync(faults: FaultServer) -> None:
    url, record = faults.add(GIGABYTE_LINE)
    with pytest.raises(LimitExceededError) as info:
        run_sync(url, limits=Limits(max_event_bytes=MiB))
    assert info.value.limit == "max_event_bytes" and content_of(info.value) == "before"
    wait_for(record, "client closed")


@pytest.mark.anyio
async def test_field_and_choice_limits_over_http_close_the_connection(
    faults: FaultServer,
) -> None:
    many = [Send(event("abcdefghij")) for _ in range(50)]
    url, record = faults.add([*many, Stall()])
    with pytest.raises(LimitExceededError) as info:
        await run_async(url, limits=Limits(max_field_chars=200))
    assert info.value.limit == "max_field_chars" and content_of(info.value) == "abcdefghij" * 20
    wait_for(record, "client closed")

    choices = [
        Send(
            b"data: "
            + json.dumps({"choices": [{"index": i, "delta": {"content": "c"}}]}).encode()
            + b"\n\n"
        )
        for i in range(10)
    ]
    url, record = faults.add([*choices, Stall()])
    async with deltafold.Client(
        base_url=url.removesuffix("/chat/completions"), api_key=KEY, limits=Limits(max_choices=3)
    ) as client:
        with anyio.fail_after(BOUND), pytest.raises(LimitExceededError) as info:
            async with client.stream(model="m", messages=[]) as stream:
                await stream.until_done()
    assert info.value.limit == "max_choices"
    assert info.value.partial is not None and len(info.value.partial.choices) == 3
    wait_for(record, "client closed")


@pytest.mark.anyio
async def test_total_bytes_limit_keeps_every_event_complete_within_it(
    faults: FaultServer,
) -> None:
    one = event("abcd")
    url, record = faults.add([Send(one * 10), Stall()])  # one write crosses the limit
    with pytest.raises(LimitExceededError) as info:
        await run_async(url, limits=Limits(max_total_bytes=len(one) * 5 + 3))
    assert info.value.limit == "max_total_bytes"
    assert content_of(info.value) == "abcd" * 5
    wait_for(record, "client closed")
    url, record = faults.add([Send(one * 10), Stall()])
    with pytest.raises(LimitExceededError) as info:
        run_sync(url, limits=Limits(max_total_bytes=len(one) * 5 + 3))
    assert content_of(info.value) == "abcd" * 5
    wait_for(record, "client closed")


# --- slowloris: bytes keep coming, events do not --------------------------------------------


def dribble(data: bytes, pause: float) -> list[Step]:
    steps: list[Step] = []
    for i in range(len(data)):
        steps += [Send(data[i : i + 1]), Sleep(pause)]
    return steps


SLOWLORIS = [Send(event(role="assistant")), Send(event("fast")), *dribble(event(" slow"), 0.05)]
"""An event sent one byte every 50 ms: about 4 s to complete, against an idle_timeout of 0.5 s."""


@pytest.mark.anyio
async def test_slowloris_event_is_an_idle_timeout(faults: FaultServer) -> None:
    url, record = faults.add([*SLOWLORIS, End()])
    with pytest.raises(IdleTimeoutError) as info:
        await run_async(url, idle_timeout=0.5)
    assert content_of(info.value) == "fast"
    assert "after 2 events" in str(info.value)
    wait_for(record, "client closed")


def test_slowloris_event_is_an_idle_timeout_sync(faults: FaultServer) -> None:
    url, record = faults.add([*SLOWLORIS, End()])
    with pytest.raises(IdleTimeoutError) as info:
        run_sync(url, idle_timeout=0.5)
    assert content_of(info.value) == "fast"
    wait_for(record, "client closed")


@pytest.mark.anyio
async def test_slow_bytes_are_fine_while_each_event_completes_in_time(faults: FaultServer) -> None:
    steps = [*dribble(event("a"), 0.001), *dribble(event("b", "stop"), 0.001), End()]
    url, _ = faults.add(steps)
    completion = await run_async(url, idle_timeout=5)
    assert completion.choices[0].message.content == "ab"


# --- a connection cut at every byte ----------------------------------------------------------

RECORDING = (
    event(role="assistant")
    + b": keep-alive\n\n"
    + event("Hi")
    + event(" there")
    + event("", "stop")
    + b"data: [DONE]\n\n"
)


def expected_at(offset: int) -> tuple[ChatCompletion | None, bool]:
    """What a client that read ``RECORDING[:offset]`` has: the fold of its complete events,
    and whether ``[DONE]`` was among them."""
    head = RECORDING[:offset]
    complete = head[: head.rfind(b"\n\n") + 2] if b"\n\n" in head else b""
    done = b"data: [DONE]\n\n" in complete
    if not complete.count(b"data: {"):
        return None, done
    return assemble_sse(complete), done


def check_cut(offset: int, outcome: ChatCompletion | DeltafoldError) -> None:
    expected, done = expected_at(offset)
    if isinstance(outcome, ChatCompletion):
        assert done, f"offset {offset}: a completion before [DONE]"
        assert outcome == assemble_sse(RECORDING)
        return
    assert not done, f"offset {offset}: {outcome!r} after [DONE]"
    assert isinstance(outcome, (TransportError, IdleTimeoutError)), (offset, outcome)
    assert outcome.partial == expected, offset


OFFSETS = range(len(RECORDING) + 1)


@pytest.mark.anyio
async def test_close_at_every_byte_offset(faults: FaultServer) -> None:
    """FIN after any prefix: a typed error whose .partial is every complete event, or the
    completion once [DONE] arrived."""
    async with async_client() as http:
        for offset in OFFSETS:
            steps: list[Step] = [Send(RECORDING[:offset])] if offset else []
            url, _ = faults.add([*steps, Close()])
            outcome: ChatCompletion | DeltafoldError
            try:
                with anyio.fail_after(BOUND):
                    async with deltafold.aconnect_chat(
                        http, url, json=BODY, headers=HEADERS, idle_timeout=5
                    ) as stream:
                        outcome = await stream.until_done()
            except DeltafoldError as exc:
                outcome = exc
            check_cut(offset, outcome)


def test_close_at_every_byte_offset_sync(faults: FaultServer) -> None:
    with sync_client(timeout=httpx.Timeout(BOUND)) as http:
        for offset in OFFSETS:
            steps: list[Step] = [Send(RECORDING[:offset])] if offset else []
            url, _ = faults.add([*steps, Close()])
            outcome: ChatCompletion | DeltafoldError
            try:
                with deltafold.connect_chat(
                    http, url, json=BODY, headers=HEADERS, idle_timeout=5
                ) as stream:
                    outcome = stream.until_done()
            except DeltafoldError as exc:
                outcome = exc
            check_cut(offset, outcome)


@pytest.mark.anyio
async def test_reset_at_every_byte_offset(faults: FaultServer) -> None:
    """RST after any prefix. A reset may also discard bytes the client's kernel had not
    handed over yet, so the partial is the fold of *some* prefix of the complete events;
    never a half-folded one, and never anything but a typed error or the full completion."""
    prefixes = [expected_at(offset)[0] for offset in OFFSETS]
    async with async_client() as http:
        for offset in OFFSETS:
            steps: list[Step] = [Send(RECORDING[:offset])] if offset else []
            url, _ = faults.add([*steps, Reset()])
            try:
                with anyio.fail_after(BOUND):
                    async with deltafold.aconnect_chat(
                        http, url, json=BODY, headers=HEADERS, idle_timeout=5
                    ) as stream:
                        completion = await stream.until_done()
            except DeltafoldError as exc:
                assert isinstance(exc, TransportError), (offset, exc)
                assert exc.partial in prefixes[: offset + 1], offset
            else:
                assert expected_at(offset)[1] and completion == assemble_sse(RECORDING)


# --- no headers at all --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_headers_never_sent_ends_by_the_http_read_timeout(faults: FaultServer) -> None:
    """Without idle_timeout the bound is the httpx client's read timeout: a ConnectError
    that names the ReadTimeout. (With idle_timeout it is an IdleTimeoutError: see
    test_stream_faults.py.)"""
    url, record = faults.add([Stall()], head=b"")
    http = async_client(timeout=httpx.Timeout(BOUND, read=0.3))
    with pytest.raises(ConnectError, match="ReadTimeout") as info:
        await run_async(url, idle_timeout=None, http=http)
    assert info.value.partial is None
    wait_for(record, "client closed")
    url, record = faults.add([Stall()], head=b"")
    with pytest.raises(ConnectError, match="ReadTimeout"):
        run_sync(url, idle_timeout=None, timeout=httpx.Timeout(BOUND, read=0.3))
    wait_for(record, "client closed")


# --- secrets ---------------------------------------------------------------------------------


def leaks(value: Any) -> list[str]:
    """Every place inside ``value`` (an error, its attributes, its partial) holding the key."""
    found: list[str] = []
    seen: set[int] = set()

    def visit(item: Any, where: str, depth: int) -> None:
        if id(item) in seen or depth > 12:
            return
        seen.add(id(item))
        if isinstance(item, bytes):
            item = item.decode("utf-8", "replace")
        if isinstance(item, str):
            if KEY in item or KEY[:16] in item:
                found.append(where)
            return
        if isinstance(item, dict):
            for k, v in item.items():
                visit(k, f"{where}.key", depth + 1)
                visit(v, f"{where}[{k!r}]", depth + 1)
        elif isinstance(item, (list, tuple)):
            for i, v in enumerate(item):
                visit(v, f"{where}[{i}]", depth + 1)
        elif isinstance(item, BaseException):
            visit(str(item), f"{where}.str", depth + 1)
            visit(repr(item), f"{where}.repr", depth + 1)
            visit(list(item.args), f"{where}.args", depth + 1)
            visit(vars(item), f"{where}.vars", depth + 1)
            for linked in (item.__cause__, item.__context__):
                if linked is not None:
                    visit(linked, f"{where}.chained", depth + 1)
        elif isinstance(item, ChatCompletion):
            visit(repr(item), f"{where}.repr", depth + 1)
            visit(to_dict(item), f"{where}.to_dict", depth + 1)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            visit(repr(item), f"{where}.repr", depth + 1)

    visit(value, "error", 0)
    return found


ECHO = json.dumps(
    {
        "error": {
            "message": f"Invalid key {KEY} (Bearer {KEY})",
            "code": 401,
            "metadata": {"key": KEY, "header": f"Bearer {KEY}"},
        }
    }
)
ECHOING_UPSTREAMS: dict[str, tuple[list[Step], dict[str, Any], type[DeltafoldError]]] = {
    "401 echoing the key in body and headers": (
        [End()],
        {
            "head": full_response(
                401,
                ECHO.encode(),
                content_type="application/json",
                headers=[
                    ("WWW-Authenticate", f'Bearer realm="api", error="{KEY}"'),
                    ("X-Echo", f"Bearer {KEY}"),
                    ("X-Api-Key", KEY),
                ],
            ),
            "chunked": False,
        },
        APIStatusError,
    ),
    "401 as text": (
        [End()],
        {
            "head": full_response(401, f"bad key: {KEY}".encode(), content_type="text/plain"),
            "chunked": False,
        },
        APIStatusError,
    ),
    "in-band error echoing the key": (
        [Send(event("ok")), Send(b"data: " + ECHO.encode() + b"\n\n"), Stall()],
        {},
        StreamError,
    ),
    "event: error echoing the key": (
        [Send(event("ok")), Send(b"event: error\ndata: " + ECHO.encode() + b"\n\n"), Stall()],
        {},
        StreamError,
    ),
    "undecodable event echoing the key": (
        [Send(event("ok")), Send(f"data: {{bad json {KEY}\n\n".encode()), Stall()],
        {},
        ChunkDecodeError,
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(ECHOING_UPSTREAMS))
async def test_the_key_never_leaks_from_errors_or_logs(
    faults: FaultServer, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    steps, options, kind = ECHOING_UPSTREAMS[name]
    url, _ = faults.add(steps, **options)
    caplog.set_level(logging.DEBUG)  # every logger: deltafold, httpx, httpcore, anyio
    with pytest.raises(kind) as info:
        await run_async(url)
    error = info.value
    assert leaks(error) == []
    assert "[redacted]" in str(error) or "***" in str(error) or kind is ChunkDecodeError
    if isinstance(error, APIStatusError):
        assert error.status_code == 401
        assert leaks(error.body) == [] and leaks(error.headers) == []
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("deltafold", "httpx")]
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in ours)
    assert KEY not in logged and KEY[:16] not in logged
    # httpcore logs no request header; at DEBUG it does log response headers verbatim, so
    # only an upstream that echoes the key in a header can put it there (see hardening.md).
    core = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("httpcore"))
    assert "Authorization" not in core and "authorization" not in core
    if "X-Echo" not in core:
        assert KEY not in core
    url, _ = faults.add(steps, **options)
    with pytest.raises(kind) as sync_info:
        run_sync(url)
    assert leaks(sync_info.value) == []


@pytest.mark.anyio
async def test_client_repr_and_errors_never_show_the_key(faults: FaultServer) -> None:
    url, _ = faults.add(
        [End()],
        head=full_response(401, ECHO.encode(), content_type="application/json"),
        chunked=False,
    )
    base = url.removesuffix("/chat/completions")
    async with deltafold.Client(base_url=base, api_key=KEY) as client:
        assert KEY not in repr(client)
        stream = client.stream(model="m", messages=[])
        assert KEY not in repr(stream)
        with anyio.fail_after(BOUND), pytest.raises(APIStatusError) as info:
            async with stream:
                pass
        assert leaks(info.value) == [] and KEY not in repr(stream)


def test_cli_stream_never_prints_the_key(faults: FaultServer) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OPENROUTER_"))}
    for n, (steps, options, _) in enumerate(ECHOING_UPSTREAMS.values()):
        url, _ = faults.add(steps, **options)
        base = url.removesuffix("/chat/completions")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "deltafold",
                "stream",
                "--model",
                "m",
                "--idle-timeout",
                "5",
                *(["--json"] if n % 2 else []),
                "Hi",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env={**env, "OPENROUTER_API_KEY": KEY, "OPENROUTER_BASE_URL": base},
        )
        assert result.returncode != 0
        output = result.stdout + result.stderr
        assert KEY not in output and KEY[:16] not in output, output


# --- memory while streaming ------------------------------------------------------------------

HTTP_CHUNKS = int(os.environ.get("DELTAFOLD_MEMORY_CHUNKS", "200000"))


def big_stream(n: int) -> list[Step]:
    """``n`` token chunks, 64 events per write, with a finish and [DONE]."""
    steps: list[Step] = [Send(event(role="assistant"))]
    batch: list[bytes] = []
    for i in range(n):
        batch.append(event(f"t{i % 10}"))
        if len(batch) == 64:
            steps.append(Send(b"".join(batch)))
            batch = []
    batch += [event("", "stop"), b"data: [DONE]\n\n"]
    steps += [Send(b"".join(batch)), End()]
    return steps


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_peak_memory_while_streaming_stays_within_three_times_the_completion(
    faults: FaultServer,
) -> None:
    url, _ = faults.add(big_stream(HTTP_CHUNKS))
    # First use (imports, lazily built converters) is not what this test measures.
    warm, _ = faults.add(big_stream(1000))
    await run_async(warm)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        # A hang guard only: tracemalloc makes this slow (about 1 s per 20k chunks).
        completion = await run_async(url, idle_timeout=60, bound=60 + HTTP_CHUNKS / 2000)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    size = len(orjson.dumps(to_dict(completion)))
    assert len(completion.choices[0].message.content or "") == 2 * HTTP_CHUNKS
    print(f"{HTTP_CHUNKS} chunks over HTTP: completion {size} B, peak {peak} B")
    assert peak < 3 * size + 10 * MiB, (peak, size)
