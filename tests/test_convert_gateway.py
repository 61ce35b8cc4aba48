"""The cookbook's conversion gateway, end to end on 127.0.0.1 (issue 23, point 4).

The upstreams are replay servers (``deltafold.replay_app``) playing chat and Responses
recordings; the gateway (``docs/examples/convert_gateway.py``) runs under uvicorn; the
clients are httpx and the official ``anthropic`` and ``openai`` SDKs. What a client folds
must be the upstream's answer converted (``convert.result``) and agree with the upstream's
own text, tool calls and usage; a client that leaves closes the upstream response; an
upstream that drops mid-stream ends the client's stream with its format's error event;
the upstream key reaches the upstream and nothing else. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

import deltafold
import deltafold.messages as dm
import deltafold.responses as dr
from conftest import corpus_entries
from deltafold import convert
from deltafold._server import base_url, bind, load_recording, serve_app
from recordings import made_and_real, read_recording

pytest.importorskip("uvicorn")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "examples" / "convert_gateway.py"
BOUND = 20.0
KEY = "sk-upstream-7f3a9c-never-shown"
"""The gateway's upstream key: it must reach the upstream and appear nowhere else."""
CLIENT_KEY = "client-key"
QUESTION = [{"role": "user", "content": "Do I need an umbrella in Lisbon?"}]


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("convert_gateway_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GATEWAY = load_example()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


# --- servers ---------------------------------------------------------------------------


class UpstreamDropped(Exception):
    """Raised by the upstream's wrapper to cut its connection mid-body."""


class Upstream:
    """A replay server behind a wrapper that records each request's headers and can
    cut the body after ``drop_after`` events or refuse with a 401 that echoes the key."""

    def __init__(self, source: Any, *, delay_ms: float = 0.0, drop_after: int | None = None,
                 refuse: bool = False) -> None:
        self.recording = load_recording(source)
        self.app = deltafold.replay_app(source, delay_ms=delay_ms)
        self.drop_after = drop_after
        self.refuse = refuse
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        if self.refuse:
            body = json.dumps({"error": {"message": f"invalid key {KEY}", "code": 401}}).encode()
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return
        sent = 0

        async def counting(message: dict[str, Any]) -> None:
            nonlocal sent
            if message["type"] == "http.response.body" and message.get("body"):
                if sent == self.drop_after:
                    raise UpstreamDropped("cut mid-body")
                sent += 1
            await send(message)

        await self.app(scope, receive, counting)


@contextlib.contextmanager
def gateway(upstreams: dict[str, Upstream]) -> Iterator[tuple[str, Any]]:
    """The example's gateway under uvicorn (lifespan on: its httpx client closes), in front
    of ``upstreams``; yields its root URL and the app (``app.state.usage``)."""
    import uvicorn

    with contextlib.ExitStack() as stack:
        urls = {fmt: stack.enter_context(serve_app(up)) for fmt, up in upstreams.items()}
        app = GATEWAY.make_app(urls, api_key=KEY)
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False,
                                timeout_graceful_shutdown=2)
        server = uvicorn.Server(config)
        sock = bind()
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            wait_until(lambda: server.started or not thread.is_alive(), "the gateway to start")
            assert server.started
            yield base_url(sock).removesuffix("/v1"), app
        finally:
            server.should_exit = True
            thread.join(BOUND)
            sock.close()


# --- recordings ----------------------------------------------------------------------------

CHAT_RECORDINGS = made_and_real(
    "deltafold/demo_stream.sse", "generated/parallel_tool_calls.sse",
    "generated/reasoning_tool_calls.sse", "openai-python/parallel_tool_calls.sse",
    "pydantic-ai/openrouter_stream_with_reasoning.sse",
)


def _responses_made() -> dict[str, dr.Response]:
    usage = {"input_tokens": 120, "output_tokens": 40, "total_tokens": 160,
             "input_tokens_details": {"cached_tokens": 64},
             "output_tokens_details": {"reasoning_tokens": 12}}
    base = {"object": "response", "created_at": 1767225600, "model": "gpt-5-mini",
            "status": "completed", "usage": usage}
    text = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "Rain from 3 pm: take an umbrella. ☂",
                         "annotations": []}]}
    calls = [
        {"type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}", "name": name,
         "arguments": json.dumps(args), "status": "completed"}
        for n, (name, args) in enumerate([("get_weather", {"city": "Lisbon", "days": [1, 2]}),
                                          ("get_time", {"tz": "Europe/Lisbon"})])
    ]
    return {
        "text": dr.Response.from_dict({**base, "id": "resp_text", "output": [text]}),
        "text-then-parallel-calls": dr.Response.from_dict(
            {**base, "id": "resp_calls", "output": [text, *calls]}),
    }


RESPONSES_MADE = _responses_made()
RESPONSES_REAL = [
    e for e in corpus_entries("corpus-responses")
    if e["path"] in ("fantasy/parallel-function-calls-gpt-4o.sse",
                     "pydantic-ai/phase-reasoning-function-call-gpt-5.5.sse",
                     "llm/text-gpt-5.5.sse")
]
RESIGNED = pytest.mark.xfail(strict=True, reason=(
    "the terminal response.completed carries another encrypted_content for the reasoning "
    "item than its output_item.done: the fold keeps the terminal one, a live conversion "
    "can only send the one it had when the item closed"))
RESPONSES_SOURCES: list[Any] = [
    *(pytest.param(r, id=name) for name, r in RESPONSES_MADE.items()),
    *(pytest.param(read_recording(e), id=e["path"],
                   marks=[RESIGNED] if "phase-reasoning" in e["path"] else [])
      for e in RESPONSES_REAL),
]


def chat_source(entry: dict[str, Any]) -> bytes:
    raw = read_recording(entry)
    if entry["format"] == "sse":
        return raw
    return b"".join(b"data: " + line + b"\n\n" for line in raw.splitlines() if line.strip())


# --- what the clients must get -------------------------------------------------------------


def same_answer(folded: Any, expected: Any) -> None:
    """The client's fold is the upstream's answer converted. The extension field
    (``deltafold``: the source's own extras, which the conversion's writers shape) must be
    there when it is expected; its content is the conversion tests' business, and a live
    stream keeps nulls the source sent that a finished answer's own stream leaves out."""
    got, want = folded.to_dict(), expected.to_dict()
    assert ("deltafold" in got) == ("deltafold" in want)
    got.pop("deltafold", None)
    want.pop("deltafold", None)
    assert got == want


def tool_calls_of_chat(completion: deltafold.ChatCompletion) -> list[tuple[str, Any]]:
    return [(c.function.name, json.loads(c.function.arguments or "{}"))
            for c in completion.choices[0].message.tool_calls or []]


def check_message_against_chat(message: Any, upstream: deltafold.ChatCompletion) -> None:
    """The Messages answer says what the chat upstream said (independently of convert)."""
    choice = upstream.choices[0]
    text = "".join(b.text for b in message.content if b.type == "text")
    assert text == (choice.message.content or "")
    uses = [(b.name, b.input) for b in message.content if b.type == "tool_use"]
    assert uses == tool_calls_of_chat(upstream)
    if upstream.usage is not None:
        u = message.usage
        cached = (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
        assert u.input_tokens + cached == upstream.usage.prompt_tokens
        assert u.output_tokens == upstream.usage.completion_tokens
    expected_stop = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}
    assert message.stop_reason == expected_stop[choice.finish_reason or "stop"]


@pytest.mark.parametrize("entry", [pytest.param(e, id=e["path"]) for e in CHAT_RECORDINGS])
def test_messages_from_a_chat_upstream_with_the_anthropic_sdk(entry: dict[str, Any]) -> None:
    anthropic = pytest.importorskip("anthropic")
    upstream = Upstream(chat_source(entry))
    source = upstream.recording.completion
    expected = convert.result(source, to="messages")
    with gateway({"chat": upstream}) as (root, app):
        client = anthropic.Anthropic(base_url=root, api_key=CLIENT_KEY, timeout=BOUND,
                                     max_retries=0)
        with client.messages.stream(model="claude-x", max_tokens=1024,
                                    messages=QUESTION) as stream:
            sdk_message = stream.get_final_message()
        with httpx.Client(timeout=BOUND) as http:
            body = http.post(f"{root}/v1/messages", json={
                "model": "claude-x", "max_tokens": 1024, "messages": QUESTION, "stream": True},
                headers={"x-api-key": CLIENT_KEY}).content
    folded = dm.assemble_sse(body)
    same_answer(folded, expected)
    check_message_against_chat(folded, source)
    check_message_against_chat(sdk_message, source)
    thinking = [b.thinking for b in sdk_message.content if b.type == "thinking"]
    assert "".join(thinking) == "".join(
        b.thinking for b in expected.content if b.type == "thinking")
    assert [r["outcome"] for r in app.state.usage] == ["completed", "completed"]
    assert all(r["usage"] == deltafold.to_dict(source.usage) for r in app.state.usage)
    assert upstream.headers[0]["authorization"] == f"Bearer {KEY}"
    assert CLIENT_KEY not in json.dumps(upstream.headers)  # the client's key stays here


@pytest.mark.parametrize("source", RESPONSES_SOURCES)
def test_chat_from_a_responses_upstream_with_the_openai_sdk(source: Any) -> None:
    openai = pytest.importorskip("openai")
    upstream = Upstream(source)
    answer: dr.Response = upstream.recording.completion
    expected = convert.result(answer, to="chat")
    with gateway({"responses": upstream}) as (root, app):
        client = openai.OpenAI(base_url=f"{root}/v1", api_key=CLIENT_KEY, timeout=BOUND,
                               max_retries=0)
        chunks = list(client.chat.completions.create(
            model="gpt-5-mini", messages=QUESTION, stream=True))  # type: ignore[arg-type]
        whole = client.chat.completions.create(model="gpt-5-mini", messages=QUESTION)  # type: ignore[arg-type]
    folded = deltafold.assemble(chunks)
    same_answer(folded, expected)
    assert whole.model_dump(exclude_none=True)["choices"][0]["message"].get("content") == (
        expected.choices[0].message.content)
    text = "".join(p.text for i in answer.output if i.type == "message" for p in i.content
                   if p.type == "output_text")
    assert (folded.choices[0].message.content or "") == text
    calls = [(i.name, json.loads(i.arguments)) for i in answer.output if i.type == "function_call"]
    assert tool_calls_of_chat(folded) == calls
    assert [c.id for c in folded.choices[0].message.tool_calls or []] == [
        i.call_id for i in answer.output if i.type == "function_call"]
    assert folded.choices[0].finish_reason == ("tool_calls" if calls else "stop")
    assert answer.usage is not None and folded.usage is not None
    assert folded.usage.prompt_tokens == answer.usage.input_tokens
    assert folded.usage.completion_tokens == answer.usage.output_tokens
    assert folded.usage.total_tokens == answer.usage.total_tokens
    assert [r["outcome"] for r in app.state.usage] == ["completed", "completed"]
    assert app.state.usage[0]["usage"] == deltafold.to_dict(answer.usage)


def test_same_format_passes_the_upstream_bytes_through() -> None:
    upstream = Upstream(RESPONSES_MADE["text-then-parallel-calls"])
    with gateway({"responses": upstream}) as (root, app), httpx.Client(timeout=BOUND) as http:
        request = {"model": "m", "input": "hi", "stream": True}
        reply = http.post(f"{root}/v1/responses", json=request)
        whole = http.post(f"{root}/v1/responses", json={"model": "m", "input": "hi"})
    assert reply.status_code == 200
    assert reply.content == b"".join(upstream.recording.events)  # byte for byte
    assert whole.json() == RESPONSES_MADE["text-then-parallel-calls"].to_dict()
    assert app.state.usage[0]["usage"]["total_tokens"] == 160


def test_a_request_without_stream_gets_the_converted_result() -> None:
    upstream = Upstream(deltafold.demo_recording())
    expected = convert.result(upstream.recording.completion, to="messages")
    with gateway({"chat": upstream}) as (root, _), httpx.Client(timeout=BOUND) as http:
        reply = http.post(f"{root}/v1/messages", json={
            "model": "claude-x", "max_tokens": 100, "messages": QUESTION})
    assert reply.status_code == 200
    same_answer(dm.Message.from_dict(reply.json()), expected)


def test_the_request_is_sent_in_the_upstream_format() -> None:
    chat = GATEWAY.messages_to_chat({
        "model": "claude-x", "max_tokens": 64, "system": "Be brief.", "stop_sequences": ["##"],
        "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "get_weather"},
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                 "input": {"city": "Lisbon"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "rain"},
                {"type": "text", "text": "So?"}]},
        ],
    })
    assert chat["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "Looking.", "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "rain"},
        {"role": "user", "content": "So?"},
    ]
    assert chat["stop"] == ["##"] and chat["max_tokens"] == 64
    assert chat["tools"][0]["function"]["parameters"] == {"type": "object"}
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    responses = GATEWAY.chat_to_responses({"model": "gpt", "max_tokens": 9, **chat})
    assert responses["instructions"] == "Be brief."
    assert responses["max_output_tokens"] == 64  # max_tokens of the chat request
    assert responses["input"][1:] == [
        {"role": "assistant", "content": "Looking."},
        {"type": "function_call", "call_id": "toolu_1", "name": "get_weather",
         "arguments": '{"city": "Lisbon"}'},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "rain"},
        {"role": "user", "content": "So?"},
    ]
    assert responses["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert responses["tools"][0]["name"] == "get_weather"


# --- either side leaving ------------------------------------------------------------------


def long_chat(events: int = 2000) -> bytes:
    """A slow chat stream far longer than the client stays."""
    chunk = {"id": "gen-1", "model": "m", "created": 1,
             "choices": [{"index": 0, "delta": {"content": "w " * 50}}]}
    return (b"data: " + json.dumps(chunk).encode() + b"\n\n") * events + b"data: [DONE]\n\n"


def test_a_client_that_leaves_closes_the_upstream_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="deltafold.server")
    upstream = Upstream(long_chat(), delay_ms=10)
    with gateway({"chat": upstream}) as (root, app):
        with httpx.Client(timeout=BOUND) as http, http.stream(
            "POST", f"{root}/v1/messages",
            json={"model": "m", "max_tokens": 10, "messages": QUESTION, "stream": True},
        ) as reply:
            assert reply.status_code == 200
            for line in reply.iter_lines():  # leave once some text has arrived
                if '"text_delta"' in line:
                    break

        def hung_up() -> list[str]:
            return [r.getMessage() for r in caplog.records if "hung up" in r.getMessage()]

        wait_until(lambda: bool(hung_up()), "the upstream to see the gateway hang up")
        wait_until(lambda: bool(app.state.usage), "the gateway's usage record")
        (record,) = app.state.usage
    assert record["outcome"] == "client left"
    sent = int(hung_up()[0].split("after ")[1].split(" of ")[0])
    assert sent < 2001  # the upstream stopped early: the gateway closed its response


def drop_cases() -> list[Any]:
    chat = deltafold.demo_recording()
    responses = RESPONSES_MADE["text-then-parallel-calls"]
    return [
        pytest.param("messages", "chat", chat, id="messages-from-chat"),
        pytest.param("chat", "responses", responses, id="chat-from-responses"),
        pytest.param("responses", "responses", responses, id="responses-passed-through"),
    ]


def last_event_and_fold(client: str, body: bytes) -> tuple[dict[str, Any], Any]:
    """The client's last data event, and the StreamError its own fold raises."""
    datas = [line[6:] for line in body.decode().splitlines() if line.startswith("data: ")]
    datas = [d for d in datas if d != "[DONE]"]
    assemble = {"chat": deltafold.assemble_sse, "responses": dr.assemble_sse,
                "messages": dm.assemble_sse}[client]
    with pytest.raises(deltafold.StreamError) as failed:
        assemble(body)
    return json.loads(datas[-1]), failed.value


@pytest.mark.parametrize(("client", "upstream_format", "source"), drop_cases())
def test_an_upstream_that_drops_ends_the_stream_with_the_clients_error_event(
    client: str, upstream_format: str, source: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream = Upstream(source, drop_after=12)
    path = GATEWAY.PATHS[client]
    request = {"model": "m", "max_tokens": 10, "messages": QUESTION, "input": "hi",
               "stream": True}
    with gateway({upstream_format: upstream}) as (root, app), httpx.Client(timeout=BOUND) as http:
        reply = http.post(f"{root}/v1{path}", json=request)
        wait_until(lambda: bool(app.state.usage), "the gateway's usage record")
    assert reply.status_code == 200
    last, error = last_event_and_fold(client, reply.content)
    if client == "messages":
        assert last["type"] == "error" and "broke off" in last["error"]["message"]
    elif client == "responses":
        assert last["type"] in ("error", "response.failed")
    else:
        assert "broke off" in last["error"]["message"]
    assert error.partial is not None  # what came before the drop still folds
    assert app.state.usage[0]["outcome"] == "upstream failed: TransportError"
    assert KEY not in reply.text
    assert not [r for r in caplog.records if KEY in r.getMessage()]


def test_an_upstream_error_event_reaches_the_client_as_its_error() -> None:
    error = {"error": {"message": "Upstream provider went away", "code": 502}}
    body = (b'data: {"id":"g","model":"m","created":1,"choices":[{"index":0,"delta":'
            b'{"content":"Hel"}}]}\n\ndata: ' + json.dumps(error).encode() + b"\n\n")
    upstream = Upstream(body)
    with gateway({"chat": upstream}) as (root, app), httpx.Client(timeout=BOUND) as http:
        reply = http.post(f"{root}/v1/messages", json={
            "model": "m", "max_tokens": 10, "messages": QUESTION, "stream": True})
        wait_until(lambda: bool(app.state.usage), "the gateway's usage record")
    last, failed = last_event_and_fold("messages", reply.content)
    assert last["type"] == "error"
    assert "Upstream provider went away" in last["error"]["message"]
    assert failed.partial is not None
    assert "".join(b.text for b in failed.partial.content if b.type == "text") == "Hel"
    assert app.state.usage[0]["outcome"].startswith("upstream error")


def test_an_upstream_refusal_keeps_its_status_and_never_shows_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream = Upstream(deltafold.demo_recording(), refuse=True)
    with gateway({"chat": upstream}) as (root, app), httpx.Client(timeout=BOUND) as http:
        reply = http.post(f"{root}/v1/messages", json={
            "model": "m", "max_tokens": 10, "messages": QUESTION, "stream": True})
    assert reply.status_code == 401
    assert reply.json()["type"] == "error"
    assert KEY not in reply.text and KEY not in str(reply.headers)
    assert not [r for r in caplog.records if KEY in r.getMessage()]
    assert app.state.usage[0]["outcome"] == "upstream refused: APIStatusError"


@pytest.mark.parametrize("fmt", ["chat", "responses", "messages"])
def test_a_source_error_event_ends_a_same_format_conversion_without_raising(fmt: str) -> None:
    """What the gateway relies on when an upstream breaks off: the error event it sends in
    the upstream's words ends the conversion quietly, and the client's fold fails on it."""
    events = list(convert.stream(GATEWAY.upstream_error_event(fmt, "gone"), to=fmt,
                                 source_format=fmt))
    assert len(events) == 1
    assemble = {"chat": deltafold.assemble, "responses": dr.assemble, "messages": dm.assemble}
    with pytest.raises(deltafold.StreamError, match="gone"):
        assemble[fmt](events)
