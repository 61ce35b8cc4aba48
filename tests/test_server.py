"""The replay server, read by httpx and by the official OpenAI and OpenRouter clients."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

import deltafold
from deltafold import ChatCompletion, assemble, assemble_sse, replay_app, replay_server, to_dict
from deltafold._cli import demo_recording
from deltafold._exceptions import install_hint
from deltafold._server import ServeExtraMissing, load_recording
from recordings import find, made_and_real, read_recording

REQUEST = {"model": "any/model", "messages": [{"role": "user", "content": "hi"}]}
TIMEOUT = 20.0

# Recordings the OpenAI SDK accepts: its parse step raises on "length" and in-band errors,
# and its accumulator on annotations without an index (OpenRouter's web search).
# The ones made here always; the real ones when the corpus is present.
INTEROP = [
    "generated/content_plain_stop.sse",
    "generated/parallel_tool_calls.sse",
    "generated/reasoning_tool_calls.sse",
    "generated/content_logprobs.sse",
    "generated/refusal_logprobs.sse",
    "generated/json_content_n2.sse",
    "generated/usage_every_tool_calls.chunks.jsonl",
    "openai-python/content_plain_stop.sse",
    "openai-python/parallel_tool_calls.sse",
    "openai-python/n3_multiple_choices.sse",
    "openai-python/refusal.sse",
    "pydantic-ai/openrouter_streaming_reasoning.sse",
    "pydantic-ai/openrouter_advisor_tool_stream.sse",
    "pydantic-ai/snowflake_thinking_streaming.sse",
    "vercel-ai/groq-tool-call.chunks.jsonl",
    "vercel-ai/deepseek-reasoning.chunks.jsonl",
]


def _sources() -> Iterator[Any]:
    yield pytest.param("demo", id="demo_stream.sse")
    for entry in made_and_real(*INTEROP):
        yield pytest.param(entry["path"], id=entry["path"])
    yield pytest.param("split", id="completion-json")


def _load(name: str) -> tuple[bytes, ChatCompletion]:
    """A source body for the server and what deltafold assembles from it."""
    if name == "demo":
        body = demo_recording()
    elif name == "split":
        completion = assemble(demo_recording())
        return orjson.dumps(to_dict(completion)), completion
    else:
        body = read_recording(find(name))
    return body, assemble(body)


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with replay_server(demo_recording()) as base:
        yield base


def _compare(theirs: Any, ours: ChatCompletion) -> None:
    """Content, tool calls, usage and finish reasons of an OpenAI-SDK completion against ours."""
    assert len(theirs.choices) == len(ours.choices)
    for mine, other in zip(
        ours.choices, sorted(theirs.choices, key=lambda c: c.index), strict=True
    ):
        assert other.index == mine.index
        assert other.finish_reason == mine.finish_reason
        assert other.message.content == mine.message.content
        assert other.message.refusal == mine.message.refusal
        calls = [
            (c.id, c.function.name, c.function.arguments) for c in other.message.tool_calls or []
        ]
        assert calls == [
            (c.id, c.function.name, c.function.arguments) for c in mine.message.tool_calls
        ]
    if ours.usage is None:
        assert theirs.usage is None
    else:
        assert theirs.usage is not None
        assert theirs.usage.prompt_tokens == ours.usage.prompt_tokens
        assert theirs.usage.completion_tokens == ours.usage.completion_tokens
        assert theirs.usage.total_tokens == ours.usage.total_tokens


# --- the server itself -----------------------------------------------------------------


def test_listens_on_loopback_ephemeral_port(demo_url: str) -> None:
    url = httpx.URL(demo_url)
    assert url.host == "127.0.0.1" and url.port not in (None, 0) and url.path == "/v1"


def test_stream_replays_the_recording_byte_for_byte(demo_url: str) -> None:
    with httpx.stream(
        "POST", f"{demo_url}/chat/completions", json={**REQUEST, "stream": True}, timeout=TIMEOUT
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read()
    assert body == demo_recording()
    assert b": OPENROUTER PROCESSING" in body


def test_non_streaming_answers_the_assembled_completion(demo_url: str) -> None:
    response = httpx.post(f"{demo_url}/chat/completions", json=REQUEST, timeout=TIMEOUT)
    assert response.status_code == 200
    expected = to_dict(assemble(demo_recording()))
    assert response.json() == {**expected, "system_fingerprint": None}


def test_models_lists_the_recorded_model(demo_url: str) -> None:
    response = httpx.get(f"{demo_url}/models", timeout=TIMEOUT)
    assert response.status_code == 200
    data = response.json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["anthropic/claude-sonnet-4.5"]
    assert data["data"][0]["object"] == "model"


def test_openrouter_path_prefix_too(demo_url: str) -> None:
    base = demo_url.removesuffix("/v1")
    assert httpx.get(f"{base}/api/v1/models", timeout=TIMEOUT).status_code == 200


def test_bad_request_body(demo_url: str) -> None:
    response = httpx.post(f"{demo_url}/chat/completions", content=b"{not json", timeout=TIMEOUT)
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]["message"]
    response = httpx.post(f"{demo_url}/chat/completions", json=[1], timeout=TIMEOUT)
    assert response.status_code == 400


@pytest.mark.parametrize("name", list(_sources()))
def test_sources_stream_to_the_same_completion(name: str) -> None:
    body, expected = _load(name)
    with replay_server(body, delay_ms=1) as base:
        streamed = httpx.post(
            f"{base}/chat/completions", json={**REQUEST, "stream": True}, timeout=TIMEOUT
        )
        whole = httpx.post(f"{base}/chat/completions", json=REQUEST, timeout=TIMEOUT)
    assert assemble_sse(streamed.content) == expected
    assert ChatCompletion.from_dict(whole.json()) == expected


def test_programmatic_sources(tmp_path: Any) -> None:
    completion = assemble(demo_recording())
    chunks = list(deltafold.split(completion))
    path = tmp_path / "chunks.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(c) for c in chunks))
    array = orjson.dumps(chunks)
    for source in (completion, to_dict(completion), chunks, path, str(path), array):
        assert load_recording(source).completion == completion
    # A completion is split OpenRouter-style by default, with its keep-alive comments.
    events = load_recording(completion).events
    assert events[0] == b": OPENROUTER PROCESSING\n\n"
    assert all(b'"provider":"Anthropic"' in e for e in events if e.startswith(b"data: {"))


def _recorded_errors() -> list[Any]:
    """(recording, HTTP status and message of its error): made, then real."""
    error = find("generated/stream_error.sse")["source"]["error"]
    cases = [pytest.param("generated/stream_error.sse", error["code"], error["message"])]
    if made_and_real("pydantic-ai/openrouter_stream_error.sse"):
        cases.append(pytest.param("pydantic-ai/openrouter_stream_error.sse", 400, "Token limit"))
    return cases


@pytest.mark.parametrize(("path", "status", "message"), _recorded_errors())
def test_a_recorded_error_is_replayed(path: str, status: int, message: str) -> None:
    body = read_recording(find(path))
    with replay_server(body) as base:
        streamed = httpx.post(
            f"{base}/chat/completions", json={**REQUEST, "stream": True}, timeout=TIMEOUT
        )
        whole = httpx.post(f"{base}/chat/completions", json=REQUEST, timeout=TIMEOUT)
    assert streamed.status_code == 200
    with pytest.raises(deltafold.StreamError):
        assemble_sse(streamed.content)
    assert whole.status_code == status
    assert message in whole.json()["error"]["message"]


_CHUNK = {"id": "a", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}]}
_LINE = orjson.dumps(_CHUNK)


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps(_CHUNK, option=orjson.OPT_INDENT_2),  # one chunk over several lines
        b"\xef\xbb\xbf" + orjson.dumps([_CHUNK]),  # a BOM before a JSON array
        orjson.dumps([_CHUNK, "[DONE]", 5]),  # [DONE] ends an array
        _LINE + b"\n[DONE]\nnot json\n",  # ... and JSON lines
        b"\xef\xbb\xbf\r\n  " + _LINE + b"\r\n" + _LINE + b"\r\n",
        b"\xef\xbb\xbfdata: " + _LINE + b"\r\n\r\n",
    ],
    ids=["pretty-chunk", "bom-array", "array-done", "lines-done", "bom-crlf-lines", "bom-sse"],
)
def test_a_body_replays_as_assemble_reads_it(body: bytes) -> None:
    """The server tells a body's format by the same rule as ``assemble``."""
    assert load_recording(body).completion == assemble(body)
    assert assemble_sse(b"".join(load_recording(body).events)) == assemble(body)


def test_a_bad_body_fails_at_load_as_assemble_fails() -> None:
    for body in (b"[1, ", _LINE + b"\n{oops\n"):
        with pytest.raises(deltafold.ChunkDecodeError) as served:
            load_recording(body)
        with pytest.raises(deltafold.ChunkDecodeError) as assembled:
            assemble(body)
        assert str(served.value) == str(assembled.value)


def test_unreadable_recording_fails_at_load() -> None:
    with pytest.raises(deltafold.ChunkDecodeError):
        load_recording(b"data: {broken\n\n")
    with pytest.raises(deltafold.DeltafoldError):
        load_recording(b"\n\n")


def test_client_leaving_mid_stream_does_not_hold_the_server() -> None:
    with (
        replay_server(demo_recording(), delay_ms=200) as base,
        httpx.stream(
            "POST", f"{base}/chat/completions", json={**REQUEST, "stream": True}, timeout=TIMEOUT
        ) as response,
    ):
        first = next(response.iter_bytes())
        assert first.startswith(b": OPENROUTER PROCESSING")
    # Leaving the block stopped the server: the port no longer answers.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/models", timeout=TIMEOUT)


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "starlette", None)
    with pytest.raises(ServeExtraMissing, match=re.escape(install_hint("serve"))):
        replay_app(demo_recording())


# --- the official clients ------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the server is under test, not the SDK
@pytest.mark.parametrize("name", list(_sources()))
async def test_openai_client_streams_and_reads(name: str, anyio_backend: str) -> None:
    from openai.lib.streaming.chat import ChatCompletionStreamState

    body, expected = _load(name)
    with replay_server(body, delay_ms=0) as base:
        async with openai.AsyncOpenAI(base_url=base, api_key="test", max_retries=0) as client:
            # 1. The SDK's streaming helper, which folds with its own accumulator.
            async with client.chat.completions.stream(**REQUEST) as stream:  # type: ignore[arg-type]
                async for _ in stream:
                    pass
                helper = await stream.get_final_completion()
            _compare(helper, expected)

            # 2. A raw stream fed into ChatCompletionStreamState by hand.
            state: Any = ChatCompletionStreamState()
            raw = await client.chat.completions.create(
                **REQUEST,
                stream=True,
                stream_options={"include_usage": True},  # type: ignore[call-overload]
            )
            async for chunk in raw:
                state.handle_chunk(chunk)
            _compare(state.get_final_completion(), expected)

            # 3. Not streamed: the server's assembled answer, parsed by the SDK.
            whole = await client.chat.completions.create(**REQUEST)  # type: ignore[call-overload]
            _compare(whole, expected)
            assert whole.model == expected.model


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the OpenRouter SDK runs on asyncio only
@pytest.mark.parametrize(
    "name",
    [
        "demo",
        *(
            e["path"]
            for e in made_and_real(
                "generated/parallel_tool_calls.sse", "openai-python/parallel_tool_calls.sse"
            )
        ),
    ],
)
async def test_openrouter_sdk_streams_and_reads(name: str, anyio_backend: str) -> None:
    openrouter = pytest.importorskip("openrouter")
    body, expected = _load(name)
    with replay_server(body) as base:
        async with openrouter.OpenRouter(api_key="test", server_url=base) as client:
            events = await client.chat.send_async(
                model=REQUEST["model"], messages=REQUEST["messages"], stream=True
            )
            content: list[str] = []
            arguments: dict[int, list[str]] = {}
            finish = None
            usage = None
            async with events as stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        if choice.index != 0:
                            continue
                        content.append(choice.delta.content or "")
                        for call in choice.delta.tool_calls or []:
                            arguments.setdefault(call.index, []).append(
                                call.function.arguments or "" if call.function else ""
                            )
                        finish = choice.finish_reason or finish
            message = expected.choices[0].message
            assert "".join(content) == (message.content or "")
            assert ["".join(arguments[i]) for i in sorted(arguments)] == [
                c.function.arguments for c in message.tool_calls
            ]
            assert finish == expected.choices[0].finish_reason
            assert usage is not None and expected.usage is not None
            assert usage.total_tokens == expected.usage.total_tokens

            whole = await client.chat.send_async(
                model=REQUEST["model"], messages=REQUEST["messages"]
            )
            assert whole.choices[0].message.content == message.content
            assert whole.usage.total_tokens == expected.usage.total_tokens


def test_interop_list_is_in_the_corpus() -> None:
    """Every name resolves: made here, or (when the corpus is present) a real recording."""
    found = [entry["path"] for entry in made_and_real(*INTEROP)]  # raises on a missing name
    made = [path for path in INTEROP if path.startswith("generated/")]
    assert found[: len(made)] == made and len(made) >= 7
    assert len(found) in (len(made), len(INTEROP))  # the real names: all of them, or none
