"""Broken upstreams over real sockets: each ends in its typed error with every chunk in .partial."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest

import deltafold
from deltafold import (
    APIStatusError,
    ChunkDecodeError,
    ConnectError,
    DeltafoldError,
    IdleTimeoutError,
    IncompleteStreamError,
    LimitExceededError,
    Limits,
    NotEventStreamError,
    StreamError,
    TransportError,
    to_dict,
)
from servers import (
    Close,
    End,
    FaultServer,
    KeepAlive,
    Record,
    Reset,
    Send,
    Sleep,
    Stall,
    Step,
    async_client,
    free_port,
    full_response,
    sse_head,
    sync_client,
)

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
KEY = "sk-or-v1-secret-key-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}"}
BOUND = 15  # seconds: no test may take longer than this to fail


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def event(content: str | None = None, finish: str | None = None, **delta: Any) -> bytes:
    if content is not None:
        delta["content"] = content
    chunk = {"id": "gen-9", "model": "m", "choices": [{"index": 0, "delta": delta}]}
    if finish:
        chunk["choices"][0]["finish_reason"] = finish
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


THREE = [Send(event(role="assistant")), Send(event("one ")), Send(event("two"))]
"""Three events; .partial must hold all of them."""


def assert_three(exc: DeltafoldError) -> None:
    assert exc.partial is not None
    message = exc.partial.choices[0].message
    assert (message.role, message.content) == ("assistant", "one two")


async def run_async(
    url: str,
    *,
    idle_timeout: float | None = 5.0,
    limits: Limits | None = None,
    events: bool = False,
) -> deltafold.ChatCompletion:
    """Consume a stream fully (chunks or events) and return its completion."""
    with anyio.fail_after(BOUND):
        async with async_client() as http, deltafold.aconnect_chat(
            http, url, json=BODY, headers=HEADERS, idle_timeout=idle_timeout, limits=limits
        ) as s:
            if events:
                async for _ in s.events():
                    pass
            else:
                async for _ in s:
                    pass
            return s.completion


def run_sync(
    url: str, *, idle_timeout: float | None = 5.0, limits: Limits | None = None
) -> deltafold.ChatCompletion:
    with sync_client() as http, deltafold.connect_chat(
        http, url, json=BODY, headers=HEADERS, idle_timeout=idle_timeout, limits=limits
    ) as s:
        for _ in s:
            pass
        return s.completion


def chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from or while handling."""
    seen = [exc]
    while (nxt := seen[-1].__cause__ or seen[-1].__context__) is not None and len(seen) < 50:
        seen.append(nxt)
    return seen


def wait_for(record: Record, outcome: str) -> None:
    """The server saw the expected end (bounded wait)."""
    assert record.ended.wait(BOUND), "the server never finished the script"
    assert record.outcome == outcome


# Each case: the script, the error type, and a check on the error.
Case = tuple[list[Step], type[DeltafoldError], Callable[[Any], None], dict[str, Any]]


def _no_partial(exc: DeltafoldError) -> None:
    assert exc.partial is None


def _status(exc: APIStatusError) -> None:
    assert exc.status_code == 429
    assert exc.body == {"error": {"message": f"rate limited for key {'***'}", "code": 429}}
    assert "retry-after" in exc.headers and exc.headers["retry-after"] == "3"
    assert not {"authorization", "set-cookie"} & {k.lower() for k in exc.headers}
    assert KEY not in str(exc) and KEY not in repr(exc.body) and "rate limited" in str(exc)
    assert exc.partial is None


def _server_error(exc: APIStatusError) -> None:
    assert exc.status_code == 503 and exc.body == "upstream overloaded"
    assert "upstream overloaded" in str(exc)


def _not_sse(exc: NotEventStreamError) -> None:
    assert exc.status_code == 200 and exc.content_type == "application/json"
    assert exc.body_start.startswith('{"id": "chatcmpl-1"')
    assert '{"id": "chatcmpl-1"' in str(exc)


def _garbage(exc: ChunkDecodeError) -> None:
    assert_three(exc)
    assert exc.position == 3


def _stream_error(exc: StreamError) -> None:
    assert_three(exc)
    assert exc.code == "overloaded"


def _limit(exc: LimitExceededError) -> None:
    assert_three(exc)
    assert exc.limit == "max_event_bytes"


STATUS_BODY = json.dumps({"error": {"message": f"rate limited for key {KEY}", "code": 429}})
CASES: dict[str, Case] = {
    "closes mid-event (chunked)": (
        [*THREE, Send(b'data: {"choices": [{"ind'), Close()],
        TransportError,
        assert_three,
        {},
    ),
    "closes mid-event (until EOF)": (
        [*THREE, Send(b'data: {"choices": [{"ind'), Close()],
        IncompleteStreamError,
        assert_three,
        {"chunked": False},
    ),
    "connection reset": ([*THREE, Sleep(0.05), Reset()], TransportError, assert_three, {}),
    "EOF without finish_reason": ([*THREE, End()], IncompleteStreamError, assert_three, {}),
    "EOF without any chunk": (
        [Send(b": OPENROUTER PROCESSING\n\n"), End()],
        IncompleteStreamError,
        _no_partial,
        {},
    ),
    "status 429 JSON": (
        [End()],
        APIStatusError,
        _status,
        {
            "head": full_response(
                429,
                STATUS_BODY.encode(),
                content_type="application/json",
                headers=[("Retry-After", "3"), ("Set-Cookie", "s=1"), ("Authorization", KEY)],
            ),
            "chunked": False,
        },
    ),
    "status 503 text": (
        [End()],
        APIStatusError,
        _server_error,
        {
            "head": full_response(503, b"upstream overloaded", content_type="text/plain"),
            "chunked": False,
        },
    ),
    "200 with application/json": (
        [End()],
        NotEventStreamError,
        _not_sse,
        {
            "head": full_response(
                200, b'{"id": "chatcmpl-1", "choices": []}', content_type="application/json"
            ),
            "chunked": False,
        },
    ),
    "garbage JSON": (
        [*THREE, Send(b"data: {not json\n\n"), Send(event("", "stop")), End()],
        ChunkDecodeError,
        _garbage,
        {},
    ),
    "mid-stream error object": (
        [*THREE, Send(b'data: {"error": {"code": "overloaded", "message": "busy"}}\n\n'), Stall()],
        StreamError,
        _stream_error,
        {},
    ),
    "event: error": (
        [*THREE, Send(b'event: error\ndata: {"code": "overloaded", "message": "x"}\n\n'), Stall()],
        StreamError,
        _stream_error,
        {},
    ),
    "event over max_event_bytes": (
        [*THREE, Send(b"data: " + b"x" * 5000), Stall()],
        LimitExceededError,
        _limit,
        {"limits": Limits(max_event_bytes=4096)},
    ),
}


@pytest.mark.anyio
@pytest.mark.parametrize("name", list(CASES))
async def test_fault_async(faults: FaultServer, name: str) -> None:
    steps, error, check, options = CASES[name]
    options = dict(options)
    limits = options.pop("limits", None)
    url, record = faults.add(steps, **options)
    with pytest.raises(error) as info:
        await run_async(url, limits=limits)
    check(info.value)
    assert KEY not in str(info.value)
    assert not any(isinstance(e, httpx.HTTPError) for e in chain(info.value))
    if isinstance(steps[-1], Stall):  # we closed at once, we did not wait for more
        wait_for(record, "client closed")


@pytest.mark.parametrize("name", list(CASES))
def test_fault_sync(faults: FaultServer, name: str) -> None:
    steps, error, check, options = CASES[name]
    options = dict(options)
    limits = options.pop("limits", None)
    url, record = faults.add(steps, **options)
    with pytest.raises(error) as info:
        run_sync(url, limits=limits)
    check(info.value)
    assert KEY not in str(info.value)
    if isinstance(steps[-1], Stall):
        wait_for(record, "client closed")


@pytest.mark.anyio
async def test_events_path_gets_the_same_partial(faults: FaultServer) -> None:
    url, _ = faults.add([*THREE, Sleep(0.05), Reset()])
    with pytest.raises(TransportError) as info:
        await run_async(url, events=True)
    assert_three(info.value)


# --- idle timeout -----------------------------------------------------------------


@pytest.mark.anyio
async def test_stall_after_three_events_is_an_idle_timeout(faults: FaultServer) -> None:
    url, record = faults.add([*THREE, Stall()])
    started = time.monotonic()
    with pytest.raises(IdleTimeoutError) as info:
        await run_async(url, idle_timeout=0.3)
    assert time.monotonic() - started < BOUND
    assert_three(info.value)
    assert "after 3 events" in str(info.value)
    wait_for(record, "client closed")


@pytest.mark.anyio
async def test_keep_alive_comments_do_not_count_as_events(faults: FaultServer) -> None:
    url, record = faults.add([Send(event(role="assistant")), KeepAlive(0.02)])
    with pytest.raises(IdleTimeoutError) as info:
        await run_async(url, idle_timeout=0.3)
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.role == "assistant"
    wait_for(record, "client closed")


@pytest.mark.anyio
async def test_comments_between_events_are_harmless(faults: FaultServer) -> None:
    comment = Send(b": OPENROUTER PROCESSING\n\n")
    steps: list[Step] = [comment, Sleep(0.02), comment, *THREE, comment]
    url, _ = faults.add([*steps, Send(event("", "stop")), End()])
    completion = await run_async(url, idle_timeout=5)
    assert completion.choices[0].message.content == "one two"


@pytest.mark.anyio
async def test_headers_never_sent_is_an_idle_timeout(faults: FaultServer) -> None:
    url, _ = faults.add([Stall()], head=b"")
    with pytest.raises(IdleTimeoutError, match="response headers") as info:
        await run_async(url, idle_timeout=0.3)
    assert info.value.partial is None


def test_sync_stall_and_keep_alive_are_idle_timeouts(faults: FaultServer) -> None:
    url, record = faults.add([*THREE, Stall()])
    with pytest.raises(IdleTimeoutError) as info:
        run_sync(url, idle_timeout=0.3)
    assert_three(info.value)
    wait_for(record, "client closed")
    url, record = faults.add([Send(event(role="assistant")), KeepAlive(0.02)])
    with pytest.raises(IdleTimeoutError):
        run_sync(url, idle_timeout=0.3)
    wait_for(record, "client closed")
    url, _ = faults.add([Stall()], head=b"")
    with pytest.raises(IdleTimeoutError, match="response headers"):
        run_sync(url, idle_timeout=0.3)


# --- framing quirks ---------------------------------------------------------------


CAFE = 'data: {"choices": [{"index": 0, "delta": {"content": "café"}}]}\r\n\r\n'.encode()
CUT = CAFE.index("é".encode()) + 1
QUIRKS: list[Step] = [
    Send(b"\xef\xbb"),  # a BOM cut across writes
    Send(b"\xbf: hello\n\nid: 1\n\n"),  # a comment and an id-only (empty) event
    Send(event(role="assistant")),
    Send(b"id: 2\n\ndata:\n\n"),  # an id-only event, then one with empty data
    Send(CAFE[:CUT]),  # a UTF-8 character cut across TCP writes
    Sleep(0.02),
    Send(CAFE[CUT:]),
    Send(event(" ok")),
    Send(event("", "stop")),
    Send(b"data: [DONE]\n\n"),
    Send(event("AFTER DONE")),
    Stall(),
]


def _quirks_body() -> bytes:
    """The same bytes as one SSE body (the chunked framing removed)."""
    return b"".join(s.data for s in QUIRKS if isinstance(s, Send))


@pytest.mark.anyio
async def test_bom_split_utf8_empty_events_and_done(faults: FaultServer) -> None:
    url, record = faults.add(QUIRKS)
    completion = await run_async(url)
    assert completion.choices[0].message.content == "café ok"
    assert to_dict(completion) == to_dict(deltafold.assemble_sse(_quirks_body()))
    wait_for(record, "client closed")  # nothing after [DONE] was waited for


def test_bom_split_utf8_sync(faults: FaultServer) -> None:
    url, record = faults.add(QUIRKS)
    assert run_sync(url).choices[0].message.content == "café ok"
    wait_for(record, "client closed")


def _split_event(content: str) -> list[Step]:
    raw = event(content)
    return [Send(raw[:10]), Sleep(0.01), Send(raw[10:])]


@pytest.mark.anyio
@pytest.mark.parametrize("content_type", ["Text/Event-Stream", "TEXT/EVENT-STREAM; charset=utf-8"])
async def test_the_content_type_is_read_case_insensitively(
    faults: FaultServer, content_type: str
) -> None:
    """RFC 9110: a media type's type and subtype are case-insensitive."""
    url, _ = faults.add(
        [*THREE, Send(event("", "stop")), End()], head=sse_head(content_type=content_type)
    )
    completion = await run_async(url)
    assert completion.choices[0].message.content == "one two"
    assert run_sync(url).choices[0].message.content == "one two"


@pytest.mark.anyio
async def test_total_bytes_limit(faults: FaultServer) -> None:
    url, _ = faults.add([*THREE, *(Send(event("x" * 100)) for _ in range(20)), Stall()])
    with pytest.raises(LimitExceededError) as info:
        await run_async(url, limits=Limits(max_total_bytes=1000))
    assert info.value.limit == "max_total_bytes"
    assert info.value.partial is not None


@pytest.mark.anyio
async def test_finish_without_done_is_a_normal_end(faults: FaultServer) -> None:
    url, _ = faults.add([*THREE, *_split_event(" three"), Send(event("", "stop")), End()])
    completion = await run_async(url)
    assert completion.choices[0].message.content == "one two three"
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.anyio
async def test_connection_refused_is_a_connect_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/chat/completions"
    with pytest.raises(ConnectError) as info:
        await run_async(url)
    assert info.value.partial is None and KEY not in str(info.value)
    assert isinstance(info.value, TransportError)
    with pytest.raises(ConnectError):
        run_sync(url)


@pytest.mark.anyio
async def test_errors_keep_no_request(faults: FaultServer) -> None:
    """No error object keeps a path to the request headers (they hold the key)."""
    url, _ = faults.add([*THREE, Sleep(0.05), Reset()])
    with pytest.raises(TransportError) as info:
        await run_async(url)
    assert not any(isinstance(e, httpx.HTTPError) for e in chain(info.value))
    assert KEY not in repr(vars(info.value))


# --- content encodings: the raw bytes are read only when they are the body as sent -------


def _encoded(body: bytes, encoding: str) -> bytes:
    import gzip
    import zlib

    for name in reversed([e.strip() for e in encoding.split(",")]):
        if name == "gzip":
            body = gzip.compress(body)
        elif name == "deflate":
            body = zlib.compress(body)
    return body


ENCODED_BODY = b"".join(
    [event(role="assistant"), event("caf\u00e9 "), event("ok", "stop"), b"data: [DONE]\n\n"]
)


@pytest.mark.parametrize("encoding", ["", "identity", "gzip", "deflate", "Identity, gzip"])
@pytest.mark.parametrize("driver", ["async", "sync"])
def test_a_content_encoded_body_is_decoded_and_a_plain_one_read_as_is(
    faults: FaultServer, encoding: str, driver: str
) -> None:
    wire = _encoded(ENCODED_BODY, encoding)
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
    head += f"Content-Encoding: {encoding}\r\n" if encoding else ""
    head += "Transfer-Encoding: chunked\r\n\r\n"
    cut = len(wire) // 3  # pieces cut anywhere, as a proxy would
    url, _ = faults.add(
        [Send(wire[:cut]), Send(wire[cut : 2 * cut]), Send(wire[2 * cut :]), End()],
        head=head.encode(),
    )
    completion = anyio.run(run_async, url) if driver == "async" else run_sync(url)
    assert completion.choices[0].message.content == "caf\u00e9 ok"
    assert to_dict(completion) == to_dict(deltafold.assemble_sse(ENCODED_BODY))
