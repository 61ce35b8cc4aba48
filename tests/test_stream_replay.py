"""Streaming over real HTTP: recorded streams replayed by a local server, async and sync."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import anyio
import openai
import pytest

import deltafold
from deltafold import (
    Accumulator,
    ChatCompletionChunk,
    ContentDelta,
    Limits,
    StreamError,
    StreamUsageError,
    ToolCallDone,
    to_dict,
)
from deltafold._assemble import fold_sse
from recordings import made_and_real, recording_params
from servers import ReplayServer, async_client, corpus_body, sse_body, sync_client

BODY = {"model": "test/model", "messages": [{"role": "user", "content": "hi"}]}
TIMEOUT = 20


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


def expected(body: bytes) -> tuple[str, dict[str, Any]]:
    """What assemble_sse makes of the same body: ("ok", completion) or ("error", partial)."""
    try:
        return "ok", to_dict(deltafold.assemble_sse(body))
    except StreamError as exc:
        assert exc.partial is not None
        return "error", to_dict(exc.partial)


def expected_events(body: bytes) -> list[deltafold.Event]:
    acc = Accumulator()
    events: list[deltafold.Event] = []
    try:
        fold_sse(body, lambda chunk: events.extend(acc.feed(chunk)), limits=Limits())
    except StreamError:
        return events
    return events + acc.close()


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "test/model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


HELLO = [chunk(role="assistant"), chunk("Hel"), chunk("lo"), chunk("", "stop")]


# --- the corpus, replayed ---------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("entry", recording_params())
async def test_corpus_chunks_async(replay: ReplayServer, entry: dict[str, Any]) -> None:
    body = corpus_body(entry)
    want = expected(body)
    url = replay.add(body)
    chunks: list[ChatCompletionChunk] = []
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http:
            try:
                async with deltafold.aconnect_chat(http, url, json=BODY, idle_timeout=10) as s:
                    async for c in s:
                        chunks.append(c)
                        assert isinstance(c, ChatCompletionChunk)
                    got = ("ok", to_dict(s.completion))
            except StreamError as exc:
                assert exc.partial is not None
                got = ("error", to_dict(exc.partial))
    assert got == want
    # Every data event became one typed chunk, in order (an error chunk raises instead).
    raw: list[dict[str, Any]] = []
    fold_sse(body, raw.append, limits=Limits())
    if want[0] == "error":
        raw = raw[: len(chunks)]
    assert [to_dict(c) for c in chunks] == [
        to_dict(deltafold.from_dict(ChatCompletionChunk, r)) for r in raw
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("entry", recording_params())
async def test_corpus_events_async(replay: ReplayServer, entry: dict[str, Any]) -> None:
    body = corpus_body(entry)
    want = expected(body)
    url = replay.add(body)
    events: list[deltafold.Event] = []
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http:
            try:
                async with deltafold.aconnect_chat(http, url, json=BODY) as s:
                    async for event in s.events():
                        events.append(event)
                    got = ("ok", to_dict(s.completion))
            except StreamError as exc:
                assert exc.partial is not None
                got = ("error", to_dict(exc.partial))
    assert got == want
    assert events == expected_events(body)


@pytest.mark.parametrize("entry", recording_params())
def test_corpus_sync(replay: ReplayServer, entry: dict[str, Any]) -> None:
    body = corpus_body(entry)
    want = expected(body)
    url = replay.add(body)
    with sync_client() as http:
        try:
            with deltafold.connect_chat(http, url, json=BODY, idle_timeout=10) as s:
                n = sum(1 for _ in s)
                got = ("ok", to_dict(s.completion))
            assert n == s.chunks_received
        except StreamError as exc:
            assert exc.partial is not None
            got = ("error", to_dict(exc.partial))
    assert got == want


# --- request shape ----------------------------------------------------------------


@pytest.mark.anyio
async def test_request_is_copied_and_client_untouched(replay: ReplayServer) -> None:
    url = replay.add(sse_body(HELLO))
    payload = copy.deepcopy(BODY)
    headers = {"Authorization": "Bearer sk-test-123456", "X-Title": "deltafold tests"}
    with anyio.fail_after(TIMEOUT):
        async with async_client(headers={"User-Agent": "mine"}) as http:
            before = dict(http.headers)
            async with deltafold.aconnect_chat(http, url, json=payload, headers=headers) as s:
                completion = await s.until_done()
            assert dict(http.headers) == before
    assert payload == BODY and "stream" not in payload
    assert headers == {"Authorization": "Bearer sk-test-123456", "X-Title": "deltafold tests"}
    (record,) = replay.records_for(url)
    assert record.json == {**BODY, "stream": True}
    assert record.headers["authorization"] == "Bearer sk-test-123456"
    assert record.headers["accept"] == "text/event-stream"
    assert record.headers["cache-control"] == "no-store"
    assert record.headers["x-title"] == "deltafold tests"
    assert record.headers["user-agent"] == "mine"
    assert completion.choices[0].message.content == "Hello"
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("idle_timeout", [None, 7.0])
def test_sync_request_headers_and_timeout(replay: ReplayServer, idle_timeout: float | None) -> None:
    """The sync driver sends the same request; idle_timeout never touches the client's timeout."""
    url = replay.add(sse_body(HELLO))
    headers = {"Accept": "application/json", "X-Title": "t"}
    with sync_client(headers={"User-Agent": "mine"}) as http:
        before = (dict(http.headers), http.timeout)
        with deltafold.connect_chat(
            http, url, json=BODY, headers=headers, idle_timeout=idle_timeout
        ) as stream:
            completion = stream.until_done()
        assert (dict(http.headers), http.timeout) == before
    assert headers == {"Accept": "application/json", "X-Title": "t"}
    (record,) = replay.records_for(url)
    assert record.json == {**BODY, "stream": True}
    assert record.headers["accept"] == "text/event-stream"
    assert record.headers["cache-control"] == "no-store"
    assert record.headers["x-title"] == "t" and record.headers["user-agent"] == "mine"
    assert completion.choices[0].message.content == "Hello"


# --- iteration rules --------------------------------------------------------------


@pytest.mark.anyio
async def test_events_after_chunks_is_refused_and_chunks_resume(replay: ReplayServer) -> None:
    url = replay.add(sse_body(HELLO))
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http, deltafold.aconnect_chat(http, url, json=BODY) as s:
            async for _ in s:
                break
            with pytest.raises(StreamUsageError, match="already iterated as chunks"):
                s.events()
            with pytest.raises(RuntimeError):  # it is a RuntimeError too
                s.events()
            rest = [c async for c in s]  # the same style resumes after a break
            assert len(rest) == 3
            assert s.completion.choices[0].message.content == "Hello"


@pytest.mark.anyio
async def test_chunks_after_events_is_refused(replay: ReplayServer) -> None:
    url = replay.add(sse_body(HELLO))
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http, deltafold.aconnect_chat(http, url, json=BODY) as s:
            events = s.events()
            first = await events.__anext__()
            assert first == ContentDelta(0, "Hel")
            with pytest.raises(StreamUsageError, match="already iterated with events"):
                async for _ in s:
                    pass
            assert [e async for e in s.events()] == [ContentDelta(0, "lo"), *first_finish()]


def first_finish() -> list[deltafold.Event]:
    return [deltafold.ChoiceFinished(0, "stop")]


@pytest.mark.anyio
async def test_completion_before_end_raises_and_snapshot_does_not(replay: ReplayServer) -> None:
    url = replay.add(sse_body(HELLO))
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http:
            async with deltafold.aconnect_chat(http, url, json=BODY) as s:
                with pytest.raises(StreamUsageError, match="not ended yet"):
                    _ = s.completion
                seen = []
                async for c in s:
                    seen.append(s.snapshot().choices[0].message.content)
                    if c.choices and c.choices[0].delta.content == "Hel":
                        with pytest.raises(StreamUsageError):
                            _ = s.completion
                assert seen == [None, "Hel", "Hello", "Hello"]
                assert s.completion is s.snapshot()
            # After the block the finished completion stays readable.
            assert s.completion.choices[0].message.content == "Hello"
            async with deltafold.aconnect_chat(http, url, json=BODY) as early:
                async for _ in early:
                    break
            with pytest.raises(StreamUsageError, match="closed before it ended"):
                _ = early.completion
            assert early.snapshot().choices[0].message.role == "assistant"
            with pytest.raises(StreamUsageError, match="closed"):
                await early.__anext__()


@pytest.mark.anyio
async def test_completion_after_a_stream_error_reraises_it(replay: ReplayServer) -> None:
    error = {"error": {"code": 502, "message": "upstream died"}}
    url = replay.add(sse_body([*HELLO[:2], error]))
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http, deltafold.aconnect_chat(http, url, json=BODY) as s:
            with pytest.raises(StreamError) as info:
                await s.until_done()
            assert info.value.code == 502
            assert info.value.partial is not None
            assert info.value.partial.choices[0].message.content == "Hel"
            with pytest.raises(StreamError) as again:
                _ = s.completion
            assert again.value is info.value


@pytest.mark.anyio
async def test_tool_calls_end_with_tool_call_done(replay: ReplayServer) -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    chunks = [
        chunk(role="assistant", tool_calls=[call]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"a":'}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": " 1}"}}]),
        chunk(finish="tool_calls"),
    ]
    url = replay.add(sse_body(chunks))
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http, deltafold.aconnect_chat(http, url, json=BODY) as s:
            events = [e async for e in s.events()]
    done = [e for e in events if isinstance(e, ToolCallDone)]
    assert len(done) == 1
    assert s.completion.choices[0].message.tool_calls[0].function.arguments == '{"a": 1}'


def test_sync_rules(replay: ReplayServer) -> None:
    url = replay.add(sse_body(HELLO))
    with sync_client() as http, deltafold.connect_chat(http, url, json=BODY) as s:
        with pytest.raises(StreamUsageError):
            _ = s.completion
        events = s.events()
        assert next(events) == ContentDelta(0, "Hel")
        with pytest.raises(StreamUsageError):
            iter(s)
        assert s.until_done().choices[0].message.content == "Hello"
        assert s.completion.choices[0].finish_reason == "stop"


# --- Client / SyncClient ----------------------------------------------------------


@pytest.mark.anyio
async def test_client_env_defaults_and_secrecy(
    replay: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = replay.add(sse_body(HELLO))
    base = url.removesuffix("/chat/completions")
    monkeypatch.delenv("OPENROUTER_BASE_URL", raising=False)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", base)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-env-0001")
    with anyio.fail_after(TIMEOUT):
        async with deltafold.Client() as client:
            assert client.base_url == base
            assert "sk-from" not in repr(client) and "sk-from" not in str(client)
            async with client.stream(model="m", messages=[], temperature=0.5) as s:
                chunks = [c async for c in s]
            assert "sk-from" not in repr(s)
    assert len(chunks) == 4
    (record,) = replay.records_for(url)
    assert record.headers["authorization"] == "Bearer sk-from-openai-env-0001"
    assert record.json == {"model": "m", "messages": [], "temperature": 0.5, "stream": True}

    monkeypatch.setenv("OPENROUTER_BASE_URL", base)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-first-0002")
    async with async_client() as http:
        client = deltafold.Client(http_client=http)
        async with client.stream(model="m", messages=[]) as s:
            await s.until_done()
        await client.aclose()
        assert not http.is_closed  # the caller's client is the caller's to close
        assert "authorization" not in {k.lower() for k in http.headers}
    assert replay.records_for(url)[1].headers["authorization"] == "Bearer sk-or-first-0002"


def test_sync_client(replay: ReplayServer) -> None:
    url = replay.add(sse_body(HELLO))
    base = url.removesuffix("/chat/completions")
    with deltafold.SyncClient(base_url=base, api_key="sk-sync-0003") as client:
        assert "sk-sync" not in repr(client)
        with client.stream(model="m", messages=[{"role": "user", "content": "x"}]) as s:
            assert s.until_done().choices[0].message.content == "Hello"
    assert replay.records_for(url)[0].headers["authorization"] == "Bearer sk-sync-0003"


# --- afold / fold -----------------------------------------------------------------


@pytest.mark.anyio
async def test_afold_dicts_pass_through_unchanged() -> None:
    async def source() -> Any:
        for c in HELLO:
            yield c
            await anyio.sleep(0)

    wrapped = deltafold.afold(source())
    with pytest.raises(StreamUsageError):
        _ = wrapped.completion
    seen = [c async for c in wrapped]
    assert seen == HELLO and all(a is b for a, b in zip(seen, HELLO, strict=True))
    assert wrapped.completion.choices[0].message.content == "Hello"


@pytest.mark.anyio
# asyncio only: on trio the SDK's own AsyncStream leaves an inner generator for
# trio to warn about, with or without afold around it.
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(
    "entry",
    recording_params(
        made_and_real("generated/parallel_tool_calls.sse", "openai-python/parallel_tool_calls.sse")
    ),
)
async def test_afold_openai_sdk_stream(replay: ReplayServer, entry: dict[str, Any]) -> None:
    body = corpus_body(entry)
    url = replay.add(body)
    base = url.removesuffix("/chat/completions")
    with anyio.fail_after(TIMEOUT):
        async with openai.AsyncOpenAI(base_url=base, api_key="sk-x", max_retries=0) as sdk:
            sdk_stream = await sdk.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], stream=True
            )
            async with deltafold.afold(sdk_stream) as wrapped:
                items = [c async for c in wrapped]
    assert all(type(c).__module__.startswith("openai") for c in items)
    assert to_dict(wrapped.completion) == to_dict(deltafold.assemble_sse(body))


@pytest.mark.parametrize(
    "entry",
    recording_params(made_and_real("generated/refusal_logprobs.sse", "openai-python/refusal.sse")),
)
def test_fold_openai_sdk_stream_sync(replay: ReplayServer, entry: dict[str, Any]) -> None:
    body = corpus_body(entry)
    url = replay.add(body)
    with openai.OpenAI(base_url=url.removesuffix("/chat/completions"), api_key="x") as sdk:
        sdk_stream = sdk.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
        wrapped = deltafold.fold(sdk_stream)
        assert wrapped.until_done() == wrapped.completion
    assert to_dict(wrapped.completion) == to_dict(deltafold.assemble_sse(body))


def test_fold_error_chunk_and_strict_end() -> None:
    wrapped = deltafold.fold([*HELLO[:2], {"error": {"message": "boom"}}, HELLO[3]])
    with pytest.raises(StreamError) as info:
        list(wrapped)
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "Hel"
    strict = deltafold.fold(HELLO[:3], strict=True)
    with pytest.raises(deltafold.IncompleteStreamError):
        strict.until_done()
    lenient = deltafold.fold([*HELLO, "[DONE]"])
    assert list(lenient)[-1] == "[DONE]"
    assert lenient.completion.choices[0].finish_reason == "stop"
