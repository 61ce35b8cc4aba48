"""The Responses and Messages formats over HTTP, against a real server on 127.0.0.1.

The drivers are the chat ones; these tests hold the two other formats to the same
contract: typed items, ``events()``, ``raw()`` byte-exact, ``until_done()``, the
completion equal to the format's own ``assemble`` of the same body, the mid-stream
errors with ``.partial``, the headers each provider reads (Bearer, or Anthropic's
``x-api-key`` + ``anthropic-version``), the endpoint rule for ``ANTHROPIC_API_KEY``,
and ``Client.responses`` / ``Client.messages`` with retries and ``extra_body``.
Bodies are built with each format's ``split`` + ``to_sse`` from results made here.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
import uvicorn

import deltafold
import deltafold.messages as dm
import deltafold.responses as dr
from deltafold import EndpointError, IncompleteStreamError, StreamError
from servers import async_client, split_events, sync_client

TIMEOUT = 20.0

RESPONSE = dr.Response.from_dict({
    "id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-test",
    "status": "completed",
    "output": [
        {
            "type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "Hello there, friend.", "annotations": []}],
        },
        {
            "type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup",
            "arguments": '{"city": "Lisbon"}', "status": "completed",
        },
    ],
    "usage": {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14},
})
MESSAGE = dm.Message.from_dict({
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
    "content": [
        {"type": "text", "text": "Hello there, friend."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"city": "Lisbon"}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 9},
})


def body_of(fmt: str, *, drop_last: bool = False, error_at: int | None = None) -> bytes:
    """The SSE body streaming RESPONSE or MESSAGE, cut or broken as asked."""
    mod: Any = dr if fmt == "responses" else dm
    events = mod.split(RESPONSE if fmt == "responses" else MESSAGE, chunk_chars=4)
    if drop_last:
        events = events[:-1]
    if error_at is not None:
        error = (
            {"type": "error", "code": "server_error", "message": "upstream broke"}
            if fmt == "responses"
            else {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        )
        events = [*events[:error_at], error, *events[error_at:]]
    return b"".join(mod.to_sse(events))


# --- a loopback server: a queue of replies per path, every request recorded -----------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FormatServer:
    """uvicorn on 127.0.0.1:<ephemeral>; each path answers its queued replies in order,
    the last one again once the queue is down to it."""

    replies: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(
            self._app, log_level="warning", access_log=False, lifespan="off", http="h11",
            interface="asgi3", loop="asyncio",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline and self._thread.is_alive(), "no server"
            time.sleep(0.01)

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    def serve(self, path: str, *replies: tuple[int, bytes]) -> str:
        self.replies[path] = list(replies)
        return self.url + path

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append(Seen(scope["path"], headers, body))
        queue = self.replies.get(scope["path"])
        if not queue:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"no such path"})
            return
        status, content = queue.pop(0) if len(queue) > 1 else queue[0]
        kind = b"text/event-stream" if status == 200 else b"application/json"
        await send({
            "type": "http.response.start", "status": status,
            "headers": [(b"content-type", kind)],
        })
        for piece in split_events(content) if status == 200 else [content]:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(0.0005)
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def server() -> Iterator[FormatServer]:
    srv = FormatServer()
    try:
        yield srv
    finally:
        srv.close()


_paths = iter(range(10**6))


def path(fmt: str) -> str:
    """A fresh base path per test, ending with the format's own endpoint."""
    return f"/t{next(_paths)}/v1/{fmt}"


FORMATS = ("responses", "messages")
STREAMS: dict[str, Any] = {
    "responses": (dr.aconnect_responses, dr.connect_responses, dr.assemble_sse),
    "messages": (dm.aconnect_messages, dm.connect_messages, dm.assemble_sse),
}


def _check_items(fmt: str, items: list[Any]) -> None:
    if fmt == "responses":
        assert all(isinstance(i, dict) and i["type"].startswith("response.") for i in items)
        assert items[0]["type"] == "response.created"
        assert items[-1]["type"] == "response.completed"
    else:
        assert all(isinstance(i, dm.StreamEvent) for i in items)
        assert items[0].type == "message_start" and items[-1].type == "message_stop"


# --- the stream contract, async (asyncio + trio) and sync -----------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", FORMATS)
async def test_async_items_events_raw_until_done(server: FormatServer, fmt: str) -> None:
    body = body_of(fmt)
    expected = STREAMS[fmt][2](body)
    aconnect = STREAMS[fmt][0]
    url = server.serve(path(fmt), (200, body))
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http:
            async with aconnect(http, url, json={"model": "m"}) as s:
                items = [item async for item in s]
            _check_items(fmt, items)
            assert len(items) == body.count(b"\n\n")
            assert s.completion == expected
            assert s.completion.to_dict() == (RESPONSE if fmt == "responses" else MESSAGE).to_dict()

            async with aconnect(http, url, json={"model": "m"}) as s:
                events = [e async for e in s.events()]
            assert s.completion == expected
            kinds = {type(e).__name__ for e in events}
            assert {"ContentDelta", "ToolCallDone"} <= kinds, kinds
            text = "".join(e.text for e in events if type(e).__name__ == "ContentDelta")
            assert text == "Hello there, friend."

            async with aconnect(http, url, json={"model": "m"}) as s:
                raw = b"".join([piece async for piece in s.raw()])
            assert raw == body
            assert s.completion == expected

            async with aconnect(http, url, json={"model": "m"}) as s:
                first = await s.__anext__()
                assert (first["type"] if fmt == "responses" else first.type) in (
                    "response.created", "message_start"
                )
                assert await s.until_done() == expected
    (seen, *_) = server.requests_to(url.removeprefix(server.url))
    assert seen.json == {"model": "m", "stream": True}
    assert seen.headers["accept"] == "text/event-stream"


@pytest.mark.parametrize("fmt", FORMATS)
def test_sync_items_events_raw_until_done(server: FormatServer, fmt: str) -> None:
    body = body_of(fmt)
    expected = STREAMS[fmt][2](body)
    connect = STREAMS[fmt][1]
    url = server.serve(path(fmt), (200, body))
    with sync_client(timeout=TIMEOUT) as http:
        with connect(http, url, json={"model": "m"}) as s:
            items = list(s)
        _check_items(fmt, items)
        assert s.completion == expected
        with connect(http, url, json={"model": "m"}) as s:
            names = {type(e).__name__ for e in s.events()}
        assert {"ContentDelta", "ToolCallDone"} <= names
        with connect(http, url, json={"model": "m"}) as s:
            assert b"".join(s.raw()) == body
        assert s.completion == expected
        with connect(http, url, json={"model": "m"}) as s:
            assert s.until_done() == expected
    assert isinstance(s, dr.ResponseStream if fmt == "responses" else dm.MessageStream)
    assert s.format is (dr.RESPONSES if fmt == "responses" else dm.MESSAGES)


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", FORMATS)
async def test_no_terminal_event_is_incomplete_with_partial(server: FormatServer, fmt: str) -> None:
    url = server.serve(path(fmt), (200, body_of(fmt, drop_last=True)))
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http:
            with pytest.raises(IncompleteStreamError) as info:
                async with STREAMS[fmt][0](http, url, json={"model": "m"}) as s:
                    await s.until_done()
    partial = info.value.partial
    assert isinstance(partial, dr.Response if fmt == "responses" else dm.Message)
    text = partial.output_text if fmt == "responses" else partial.content[0].text
    assert text == "Hello there, friend."


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_event_midstream_is_stream_error_with_partial(server: FormatServer, fmt: str) -> None:
    at = 6  # after a few text deltas
    url = server.serve(path(fmt), (200, body_of(fmt, error_at=at)))
    connect = STREAMS[fmt][1]
    with (
        sync_client(timeout=TIMEOUT) as http,
        pytest.raises(StreamError) as info,
        connect(http, url, json={"model": "m"}) as s,
    ):
        list(s)
    message = str(info.value)
    assert "upstream broke" in message or "busy" in message
    partial = info.value.partial
    assert isinstance(partial, dr.Response if fmt == "responses" else dm.Message)
    assert partial.id in ("resp_1", "msg_1")


# --- Client.responses / Client.messages and the endpoint rule -------------------------


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.anyio
async def test_openrouter_key_streams_all_three_formats_as_bearer(
    server: FormatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_env(monkeypatch)
    base = server.url + f"/or{next(_paths)}/api/v1"
    for fmt in FORMATS:
        server.serve(base.removeprefix(server.url) + f"/{fmt}", (200, body_of(fmt)))
    monkeypatch.setenv("OPENROUTER_BASE_URL", base)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test-0001")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-here-0002")
    with anyio.fail_after(TIMEOUT):
        async with deltafold.Client() as client:
            async with client.responses.stream(model="m", input="hi", store=False) as r:
                response = await r.until_done()
            async with client.messages.stream(
                model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=64
            ) as m:
                message = await m.until_done()
    assert response.output_text == "Hello there, friend."
    assert message.to_dict() == MESSAGE.to_dict()
    prefix = base.removeprefix(server.url)
    (sent_r,) = server.requests_to(prefix + "/responses")
    (sent_m,) = server.requests_to(prefix + "/messages")
    assert sent_r.json == {"model": "m", "input": "hi", "store": False, "stream": True}
    assert sent_m.json == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 64,
        "stream": True,
    }
    for sent in (sent_r, sent_m):
        assert sent.headers["authorization"] == "Bearer sk-or-test-0001"
        assert "x-api-key" not in sent.headers and "anthropic-version" not in sent.headers
        assert "sk-ant" not in repr(sent.headers)


@pytest.mark.anyio
async def test_anthropic_key_goes_as_x_api_key_to_its_own_base_only(
    server: FormatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_env(monkeypatch)
    base = server.url + f"/an{next(_paths)}/v1"
    server.serve(base.removeprefix(server.url) + "/messages", (200, body_of("messages")))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", base)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0003")
    with anyio.fail_after(TIMEOUT):
        async with deltafold.Client() as client:
            assert client.base_url == base
            assert "sk-ant" not in repr(client)
            async with client.messages.stream(
                model="m", messages=[], max_tokens=8, extra_headers={"x-trace": "1"}
            ) as m:
                assert (await m.until_done()).id == "msg_1"
            assert "sk-ant" not in repr(m)
            async with client.messages.stream(
                model="m", messages=[], max_tokens=8,
                headers={"anthropic-version": "2099-01-01"},
            ) as m:
                await m.until_done()
            # Anthropic serves Messages only: the other formats fail before any request.
            with pytest.raises(EndpointError, match="messages format, not chat") as info:
                client.stream(model="m", messages=[])
            assert "sk-ant" not in str(info.value)
            with pytest.raises(EndpointError, match="not responses"):
                client.responses.stream(model="m", input="hi")
    first, second = server.requests_to(base.removeprefix(server.url) + "/messages")
    assert first.headers["x-api-key"] == "sk-ant-test-0003"
    assert first.headers["anthropic-version"] == "2023-06-01"
    assert first.headers["x-trace"] == "1"
    assert "authorization" not in first.headers
    assert second.headers["anthropic-version"] == "2099-01-01"  # the caller's own wins


def test_anthropic_key_never_goes_to_another_host(
    server: FormatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear_env(monkeypatch)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0004")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.2:9/v1")  # not this server
    # A loopback server the variable does not name: no key goes there (none is needed).
    sent = server.serve(path("messages"), (200, body_of("messages")))
    other = deltafold.SyncClient(base_url=sent.removesuffix("/messages"))
    with other, other.messages.stream(model="m", messages=[], max_tokens=1) as m:
        m.until_done()
    (seen,) = server.requests_to(sent.removeprefix(server.url))
    assert not {"x-api-key", "authorization", "anthropic-version"} & set(seen.headers)
    assert "sk-ant" not in repr(seen)
    # Another provider's host: refused before any request, naming the variable only.
    with pytest.raises(EndpointError, match=r"no API key for https://openrouter\.ai") as info:
        deltafold.SyncClient(base_url="https://openrouter.ai/api/v1")
    assert "ANTHROPIC_API_KEY is set but only goes to anthropic.com" in str(info.value)
    assert "sk-ant" not in str(info.value)
    # Anthropic's own host takes it, as x-api-key (resolved, not sent: no request here).
    client = deltafold.SyncClient(base_url="https://api.anthropic.com/v1")
    request = client._request(dm.MESSAGES, {"model": "m"}, {}, None, _no_options())
    assert request.headers["x-api-key"] == "sk-ant-test-0004"
    assert "Authorization" not in request.headers
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    # An explicit key to a loopback server that nothing names: Bearer, no anthropic header.
    sent = server.serve(path("messages"), (200, body_of("messages")))
    local = deltafold.SyncClient(base_url=sent.removesuffix("/messages"), api_key="sk-own-0005")
    with local, local.messages.stream(model="m", messages=[], max_tokens=1) as m:
        m.until_done()
    (seen,) = server.requests_to(sent.removeprefix(server.url))
    assert seen.headers["authorization"] == "Bearer sk-own-0005"
    assert "anthropic-version" not in seen.headers and "x-api-key" not in seen.headers
    assert "sk-ant" not in repr(seen.headers)


def _no_options() -> Any:
    from deltafold._client import _Options

    return _Options(None, None, None, None)


def test_openai_does_not_serve_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    client = deltafold.SyncClient(base_url="https://api.openai.com/v1", api_key="sk-0006")
    with pytest.raises(EndpointError, match=r"OpenAI .* not messages") as info:
        client.messages.stream(model="m", messages=[], max_tokens=1)
    assert "ANTHROPIC_API_KEY" in str(info.value) and "OPENROUTER_API_KEY" in str(info.value)
    assert client.responses.stream(model="m", input="x")._request.url == (
        "https://api.openai.com/v1/responses"
    )


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", FORMATS)
async def test_client_retries_a_503_and_merges_extra_body(server: FormatServer, fmt: str) -> None:
    where = path(fmt)
    server.serve(where, (503, b'{"error": "busy"}'), (200, body_of(fmt)))
    base = server.url + where.removesuffix(f"/{fmt}")
    with anyio.fail_after(TIMEOUT):
        async with deltafold.Client(base, api_key="") as client:
            api = client.responses if fmt == "responses" else client.messages
            fields: dict[str, Any] = (
                {"input": "hi"} if fmt == "responses" else {"messages": [], "max_tokens": 9}
            )
            async with api.stream(
                model="m", **fields, temperature=0.5, extra_body={"provider": {"sort": "price"}},
                extra_query={"trace": "on"}, idle_timeout=10.0,
            ) as s:
                result = await s.until_done()
            assert s.retries == 1
    assert result.id in ("resp_1", "msg_1")
    first, second = server.requests_to(where)
    assert first.json == second.json == {
        "model": "m", **fields, "temperature": 0.5, "provider": {"sort": "price"}, "stream": True,
    }
    assert "authorization" not in second.headers


def test_sync_client_formats_and_chat_alias(server: FormatServer) -> None:
    where = path("responses")
    server.serve(where, (503, b"{}"), (200, body_of("responses")))
    with deltafold.SyncClient(server.url + where.removesuffix("/responses"), api_key="") as client:
        with client.responses.stream(model="m", input=[{"role": "user", "content": "hi"}]) as s:
            assert isinstance(s, dr.ResponseStream)
            assert s.until_done().output_text == "Hello there, friend."
        assert s.retries == 1
        with pytest.raises(TypeError, match="api_key"):
            client.responses.stream(model="m", input="x", api_key="k")
        chat = client.chat.stream(model="m", messages=[])
        assert isinstance(chat, deltafold.ChatStream)
        assert str(chat._request.url).endswith("/v1/chat/completions")


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", FORMATS)
async def test_span_per_format_without_the_key(
    server: FormatServer, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    _clear_env(monkeypatch)
    where = path(fmt)
    server.serve(where, (200, body_of(fmt)))
    base = server.url + where.removesuffix(f"/{fmt}")
    secret = "sk-ant-span-secret-0007"
    if fmt == "messages":  # the variable names this server's origin: Anthropic's headers
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base)
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = deltafold.Telemetry(tracer_provider=tracer_provider)
    with anyio.fail_after(TIMEOUT):
        client = deltafold.Client() if fmt == "messages" else deltafold.Client(base)
        async with client:
            if fmt == "messages":
                api_stream = client.messages.stream(
                    model="claude-test", messages=[], max_tokens=5, telemetry=telemetry
                )
            else:
                api_stream = client.responses.stream(
                    model="gpt-test", input="hi", telemetry=telemetry
                )
            async with api_stream as s:
                await s.until_done()
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.response.id"] == ("msg_1" if fmt == "messages" else "resp_1")
    assert attrs["gen_ai.usage.output_tokens"] == 9
    assert span.name == ("chat claude-test" if fmt == "messages" else "chat gpt-test")
    assert secret not in repr(attrs) and secret not in str(span.status.description)
    (seen,) = server.requests_to(where)
    assert seen.headers.get("x-api-key") == (secret if fmt == "messages" else None)
