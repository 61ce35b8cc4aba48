"""The OpenAI SDK's habits on ``Client.stream``: per-call options, retries, redirects, proxies.

Real servers on 127.0.0.1 started here: ``Scripted`` answers each request to a path with
the next reply of its script (the last one repeats), records what it got, and closes the
connection after each answer. Waits are bounded; the only timed assertions are lower
bounds on a wait the server asked for.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import httpx_sse
import pytest

import deltafold
from deltafold import (
    APIStatusError,
    ConnectError,
    IdleTimeoutError,
    IncompleteStreamError,
    NotEventStreamError,
    to_dict,
)
from servers import sse_body

KEY = "sk-or-v1-habits-secret-0123456789abcdef"
OTHER_KEY = "sk-other-habits-secret-fedcba9876543210"
BOUND = 20
MESSAGES = [{"role": "user", "content": "hi"}]


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    if content is not None:
        delta["content"] = content
    return {"id": "gen-h", "model": "m", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}
    ]}


CHUNKS = [chunk("Hi", role="assistant"), chunk(" there"), chunk("", "stop")]
SSE = sse_body(CHUNKS)


@dataclass
class Reply:
    status: int = 200
    body: bytes = SSE
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    delay: float = 0.0
    """Seconds before the status line."""


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Scripted:
    """A threaded HTTP/1.0 server on 127.0.0.1 playing one script of replies per path."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Reply]] = {}
        self.seen: dict[str, list[Seen]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.answer()

            def do_POST(self) -> None:
                self.answer()

            def answer(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                record = Seen(
                    self.command, parts.path, parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic(),
                )
                server.seen.setdefault(parts.path, []).append(record)
                script = server.scripts.get(parts.path) or [Reply(404, b"no script")]
                reply = script.pop(0) if len(script) > 1 else script[0]
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )

    def __enter__(self) -> Scripted:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)

    def script(self, name: str, *replies: Reply) -> str:
        """Register ``replies`` for ``/<name>/v1/chat/completions``; returns the base URL."""
        self.scripts[f"/{name}/v1/chat/completions"] = list(replies)
        return f"{self.url}/{name}/v1"

    def requests(self, base: str) -> list[Seen]:
        return self.seen.get(urlsplit(base).path + "/chat/completions", [])


@pytest.fixture(scope="module")
def server() -> Iterator[Scripted]:
    with Scripted() as s:
        yield s


@pytest.fixture(scope="module")
def other() -> Iterator[Scripted]:
    """A second server: another origin (another port)."""
    with Scripted() as s:
        yield s


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def stream_all(client: deltafold.Client, **kwargs: Any) -> deltafold.AsyncChatStream:
    with anyio.fail_after(BOUND):
        async with client.stream(model="m", messages=MESSAGES, **kwargs) as stream:
            await stream.until_done()
    return stream


def open_sync(client: deltafold.SyncClient, **kwargs: Any) -> None:
    """Open a stream and leave it at once (the error, if any, comes from opening)."""
    with client.stream(model="m", messages=MESSAGES, **kwargs):
        pass


# --- per-call options ------------------------------------------------------------------


@pytest.mark.anyio
async def test_extra_options_are_honoured_not_sent_as_fields(
    server: Scripted, anyio_backend: str
) -> None:
    base = server.script(f"opts-{anyio_backend}", Reply())
    async with deltafold.Client(base_url=base, api_key=KEY) as client:
        stream = await stream_all(
            client, temperature=0.2,
            extra_body={"provider": {"order": ["a"]}, "temperature": 0.5},
            extra_headers={"X-Title": "habits"}, extra_query={"trace": "on"},
            timeout=httpx.Timeout(7.0),
        )
    assert stream.completion.choices[0].message.content == "Hi there"
    (seen,) = server.requests(base)
    body = seen.json
    assert body["provider"] == {"order": ["a"]} and body["temperature"] == 0.5
    assert body["stream"] is True
    assert not {"extra_body", "extra_headers", "extra_query", "timeout"} & set(body)
    assert seen.headers["x-title"] == "habits"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.query == {"trace": ["on"]}


def test_timeout_applies_to_the_request(server: Scripted) -> None:
    base = server.script("slow-headers", Reply(delay=2.0))
    with deltafold.SyncClient(base_url=base, api_key=KEY) as client:
        started = time.monotonic()
        with pytest.raises(ConnectError, match="ReadTimeout"):
            open_sync(client, timeout=0.3, max_retries=0)
    assert time.monotonic() - started < 1.9
    assert "timeout" not in server.requests(base)[0].json


@pytest.mark.parametrize("name", ["api_key", "base_url", "http_client", "default_headers"])
def test_client_settings_given_to_stream_are_refused(name: str) -> None:
    client = deltafold.SyncClient(base_url="http://127.0.0.1:9/v1", api_key=KEY)
    with pytest.raises(TypeError, match=f"stream\\(\\) got {name}.*SyncClient"):
        client.stream(model="m", messages=MESSAGES, **{name: "x"})


@pytest.mark.parametrize(
    ("option", "value"),
    [("extra_body", "provider=x"), ("extra_headers", ["X"]), ("timeout", "5"), ("max_retries", -1)],
)
def test_bad_option_values_are_refused(option: str, value: Any) -> None:
    client = deltafold.SyncClient(base_url="http://127.0.0.1:9/v1", api_key=KEY)
    with pytest.raises((TypeError, ValueError), match=option):
        client.stream(model="m", messages=MESSAGES, **{option: value})


def test_a_credential_in_extra_headers_replaces_the_key(server: Scripted) -> None:
    base = server.script("own-key", Reply())
    with deltafold.SyncClient(base_url=base, api_key=KEY) as client, client.stream(
        model="m", messages=MESSAGES, extra_headers={"x-api-key": OTHER_KEY}
    ) as stream:
        stream.until_done()
    (seen,) = server.requests(base)
    assert seen.headers["x-api-key"] == OTHER_KEY
    assert "authorization" not in seen.headers


# --- retries ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_failures_before_the_stream_are_retried(
    server: Scripted, anyio_backend: str
) -> None:
    base = server.script(
        f"flaky-{anyio_backend}",
        Reply(503, b'{"error": "overloaded"}', {"Retry-After": "0"}, "application/json"),
        Reply(429, b"slow down", {"retry-after-ms": "10"}, "text/plain"),
        Reply(),
    )
    async with deltafold.Client(base_url=base, api_key=KEY) as client:
        stream = await stream_all(client)
    assert stream.retries == 2
    assert to_dict(stream.completion) == to_dict(deltafold.assemble(CHUNKS))
    seen = server.requests(base)
    assert len(seen) == 3
    assert all(s.headers["authorization"] == f"Bearer {KEY}" for s in seen)


@pytest.mark.parametrize("status", [408, 409, 500, 502])
def test_retried_statuses_then_the_last_answer_is_the_error(server: Scripted, status: int) -> None:
    body = b'{"error": {"message": "try later", "code": "busy"}}'
    reply = Reply(status, body, {"Retry-After": "0"}, "application/json")
    base = server.script(f"down-{status}", reply)
    with (
        deltafold.SyncClient(base_url=base, api_key=KEY, max_retries=1) as client,
        pytest.raises(APIStatusError, match=r"after 1 retry\): try later") as info,
    ):
        open_sync(client)
    assert info.value.status_code == status
    assert len(server.requests(base)) == 2
    assert KEY not in str(info.value)


def test_max_retries_zero_and_not_retried_statuses(server: Scripted) -> None:
    once = server.script("once", Reply(503, b"down", {"Retry-After": "0"}, "text/plain"))
    with (
        deltafold.SyncClient(base_url=once, api_key=KEY, max_retries=5) as client,
        pytest.raises(APIStatusError),
    ):
        open_sync(client, max_retries=0)
    assert len(server.requests(once)) == 1
    bad = server.script("bad-request", Reply(400, b'{"error": "bad"}', {}, "application/json"))
    with (
        deltafold.SyncClient(base_url=bad, api_key=KEY) as client,
        pytest.raises(APIStatusError, match="bad"),
    ):
        open_sync(client)
    assert len(server.requests(bad)) == 1


@pytest.mark.anyio
async def test_retry_after_is_honoured(server: Scripted, anyio_backend: str) -> None:
    base = server.script(
        f"wait-{anyio_backend}",
        Reply(429, b"", {"Retry-After": "0.4"}, "text/plain"),
        Reply(503, b"", {"retry-after-ms": "300"}, "text/plain"),
        Reply(),
    )
    async with deltafold.Client(base_url=base, api_key=KEY) as client:
        await stream_all(client)
    first, second, third = server.requests(base)
    assert second.at - first.at >= 0.4
    assert third.at - second.at >= 0.3


def test_backoff_without_retry_after_and_connection_errors(server: Scripted) -> None:
    base = f"http://127.0.0.1:{closed_port()}/v1"
    with deltafold.SyncClient(base_url=base, api_key=KEY, max_retries=1) as client:
        started = time.monotonic()
        with pytest.raises(ConnectError, match="after 1 retry") as info:
            open_sync(client)
        waited = time.monotonic() - started
    assert 0.375 <= waited < BOUND  # the first backoff: 0.5 s less up to 25% jitter
    assert KEY not in str(info.value)


@pytest.mark.anyio
async def test_no_retry_once_the_stream_opened(server: Scripted, anyio_backend: str) -> None:
    cut = sse_body(CHUNKS[:2], done=False)
    base = server.script(f"cut-{anyio_backend}", Reply(body=cut))
    async with deltafold.Client(base_url=base, api_key=KEY) as client:
        with pytest.raises(IncompleteStreamError) as info:
            await stream_all(client)
    assert info.value.partial is not None
    assert len(server.requests(base)) == 1
    json_reply = Reply(200, b'{"id": "x"}', {}, "application/json")
    not_sse = server.script(f"json-{anyio_backend}", json_reply)
    async with deltafold.Client(base_url=not_sse, api_key=KEY) as client:
        with pytest.raises(NotEventStreamError, match=f"from POST {not_sse}/chat/completions"):
            await stream_all(client)
    assert len(server.requests(not_sse)) == 1


def test_retries_are_on_the_span(server: Scripted) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from test_telemetry import Otel

    otel = Otel()
    base = server.script("span", Reply(502, b"", {"Retry-After": "0"}, "text/plain"), Reply())
    with deltafold.SyncClient(base_url=base, api_key=KEY) as client, client.stream(
        model="m", messages=MESSAGES, telemetry=otel.telemetry
    ) as stream:
        stream.until_done()
    assert stream.retries == 1
    assert dict(otel.span().attributes or {})["deltafold.retries"] == 1


def test_aconnect_chat_does_not_retry_unless_asked(server: Scripted) -> None:
    failed = Reply(503, b"", {"Retry-After": "0"}, "text/plain")
    base = server.script("low-level", failed, Reply())
    url = base + "/chat/completions"
    with httpx.Client() as http:
        with pytest.raises(APIStatusError):
            deltafold.connect_chat(http, url, json={"model": "m"}).__enter__()
        with deltafold.connect_chat(http, url, json={"model": "m"}, max_retries=1) as stream:
            stream.until_done()
    assert stream.retries == 0  # the script's last reply repeats: this one opened at once
    assert len(server.requests(base)) == 2


def test_idle_timeout_for_headers_is_retried_and_says_so(server: Scripted) -> None:
    base = server.script("idle", Reply(delay=1.0))
    with (
        deltafold.SyncClient(base_url=base, api_key=KEY, max_retries=1) as client,
        pytest.raises(IdleTimeoutError, match=r"response headers \(after 1 retry\)"),
    ):
        open_sync(client, idle_timeout=0.2)
    assert len(server.requests(base)) == 2


# --- redirects -------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "credential"), [(307, "authorization"), (308, "x-api-key"), (307, "api-key")]
)
async def test_the_key_never_follows_a_redirect_to_another_origin(
    server: Scripted, other: Scripted, status: int, credential: str, anyio_backend: str
) -> None:
    name = f"{status}-{credential}-{anyio_backend}"
    target = other.script(f"target-{name}", Reply())
    base = server.script(
        f"moved-{name}",
        Reply(status, b"", {"Location": target + "/chat/completions"}, "text/plain"),
    )
    extra = {"X-Title": "t"}
    if credential != "authorization":
        extra[credential] = OTHER_KEY  # replaces the key: the only credential sent
    async with deltafold.Client(base_url=base, api_key=KEY) as client:
        stream = await stream_all(client, extra_headers=extra)
    assert stream.completion.choices[0].message.content == "Hi there"
    (first,) = server.requests(base)
    assert first.headers[credential] in (f"Bearer {KEY}", OTHER_KEY)
    (moved,) = other.requests(target)
    assert not {"authorization", "x-api-key", "api-key"} & set(moved.headers)
    assert KEY not in str(moved.headers) and OTHER_KEY not in str(moved.headers)
    assert moved.headers["x-title"] == "t" and moved.method == "POST"
    assert moved.json["model"] == "m"


def test_a_same_origin_redirect_keeps_the_key(server: Scripted) -> None:
    target = server.script("here-target", Reply())
    base = server.script(
        "here", Reply(307, b"", {"Location": target + "/chat/completions"}, "text/plain")
    )
    with deltafold.SyncClient(base_url=base, api_key=KEY) as client, client.stream(
        model="m", messages=MESSAGES
    ) as stream:
        stream.until_done()
    (moved,) = server.requests(target)
    assert moved.headers["authorization"] == f"Bearer {KEY}"


def test_sync_redirect_to_another_origin_drops_the_key(server: Scripted, other: Scripted) -> None:
    target = other.script("sync-target", Reply())
    base = server.script(
        "sync-moved", Reply(302, b"", {"Location": target + "/chat/completions"}, "text/plain")
    )
    with deltafold.SyncClient(base_url=base, api_key=KEY) as client, client.stream(
        model="m", messages=MESSAGES
    ):
        pass
    (moved,) = other.requests(target)
    assert "authorization" not in moved.headers


def test_a_redirect_loop_is_bounded(server: Scripted) -> None:
    base = server.script("loop", Reply(307, b"", {}, "text/plain"))
    server.scripts["/loop/v1/chat/completions"][0].headers["Location"] = base + "/chat/completions"
    with httpx.Client(max_redirects=3) as http, deltafold.SyncClient(
        base_url=base, api_key=KEY, http_client=http
    ) as client, pytest.raises(ConnectError, match="too many redirects"):
        open_sync(client)
    assert len(server.requests(base)) == 4


# --- proxies and the SSE opening -------------------------------------------------------


@pytest.mark.anyio
async def test_a_proxy_that_refuses_is_named(server: Scripted, anyio_backend: str) -> None:
    port = closed_port()
    base = server.script(f"proxied-{anyio_backend}", Reply())
    proxy = f"http://user:proxy-pass-secret@127.0.0.1:{port}"
    async with httpx.AsyncClient(proxy=proxy) as http:
        client = deltafold.Client(base_url=base, api_key=KEY, http_client=http, max_retries=0)
        with pytest.raises(ConnectError) as info:
            await stream_all(client)
    text = str(info.value)
    assert f"through the proxy http://127.0.0.1:{port}" in text
    assert "proxy-pass-secret" not in text and "user" not in text and KEY not in text
    assert server.requests(base) == []


def test_a_direct_connection_error_names_no_proxy() -> None:
    base = f"http://127.0.0.1:{closed_port()}/v1"
    with (
        deltafold.SyncClient(base_url=base, api_key=KEY, max_retries=0) as client,
        pytest.raises(ConnectError) as info,
    ):
        open_sync(client)
    assert "proxy" not in str(info.value)


def test_streams_send_what_httpx_sse_sends(server: Scripted) -> None:
    base = server.script("headers", Reply())
    with httpx.Client() as http, httpx_sse.connect_sse(http, "POST", base + "/chat/completions"):
        pass
    with deltafold.SyncClient(base_url=base, api_key=KEY) as client, client.stream(
        model="m", messages=MESSAGES
    ) as stream:
        stream.until_done()
    by_httpx_sse, ours = server.requests(base)
    for name in ("accept", "cache-control"):
        assert ours.headers[name] == by_httpx_sse.headers[name]


@pytest.mark.parametrize(
    "content_type", ["text/event-stream", "text/event-stream; charset=utf-8"]
)
def test_event_stream_content_types_open(server: Scripted, content_type: str) -> None:
    base = server.script(f"ct-{len(content_type)}", Reply(content_type=content_type))
    with deltafold.SyncClient(base_url=base, api_key=KEY) as client, client.stream(
        model="m", messages=MESSAGES
    ) as stream:
        assert stream.until_done().choices[0].message.content == "Hi there"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "text/html"])
def test_other_content_types_are_not_event_streams(server: Scripted, content_type: str) -> None:
    base = server.script(f"not-{content_type}", Reply(200, b'{"error": "x"}', {}, content_type))
    with (
        deltafold.SyncClient(base_url=base, api_key=KEY) as client,
        pytest.raises(NotEventStreamError) as info,
    ):
        open_sync(client)
    assert info.value.content_type == content_type
    assert f"{base}/chat/completions" in str(info.value) and KEY not in str(info.value)
    assert info.value.body_start == '{"error": "x"}'
