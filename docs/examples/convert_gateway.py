"""A gateway that serves each client in its own wire format, whatever the upstream speaks.

Anthropic clients POST /v1/messages and are answered from an OpenAI-compatible chat
upstream; chat clients POST /v1/chat/completions and are answered from a Responses
upstream; Responses clients POST /v1/responses, answered from that same upstream with its
bytes passed through untouched (``stream.raw()``). Every other answer is converted event
by event as it arrives (``deltafold.convert``). The upstream's own fold gives each
request's usage, recorded in ``app.state.usage`` and logged when the stream ends, fails or
the client leaves. The upstream key stays in the gateway: it goes to the upstream only.

Run it with ``--serve`` to listen on http://127.0.0.1:8000 (the upstreams are local
replay servers). Without arguments it checks itself: an Anthropic-style and a chat-style
client stream through the gateway, and what they receive folds to the converted answer.
"""

import contextlib
import json
import logging
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

import deltafold
import deltafold.messages as dm
import deltafold.responses as dr
from deltafold import convert

log = logging.getLogger("gateway")

PATHS = {"chat": "/chat/completions", "responses": "/responses", "messages": "/messages"}
ROUTES = {"messages": "chat", "chat": "responses", "responses": "responses"}
"""Each client format, and the upstream format it is served from."""
Upstream = deltafold.AsyncChatStream | dr.AsyncResponseStream | dm.AsyncMessageStream
CONNECT: dict[str, Callable[..., Upstream]] = {
    "chat": deltafold.aconnect_chat,
    "responses": dr.aconnect_responses,
    "messages": dm.aconnect_messages,
}


# --- requests: the client's request in the upstream's words ---------------------------


def text_of(content: str | list[dict[str, Any]] | None) -> str:
    """A message's text: a string, or the text of its parts (chat and Anthropic alike)."""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if part.get("type") == "text")


def chat_turn(turn: dict[str, Any]) -> list[dict[str, Any]]:
    """One Anthropic turn as chat messages: tool uses become tool calls, results tool messages."""
    content = turn["content"]
    if isinstance(content, str):
        return [{"role": turn["role"], "content": content}]
    text = text_of(content)
    if turn["role"] == "assistant":
        calls = [
            {"id": b["id"], "type": "function",
             "function": {"name": b["name"], "arguments": json.dumps(b["input"])}}
            for b in content if b["type"] == "tool_use"
        ]
        message = {"role": "assistant", "content": text or None}
        return [{**message, "tool_calls": calls} if calls else message]
    out = [
        {"role": "tool", "tool_call_id": b["tool_use_id"], "content": text_of(b.get("content"))}
        for b in content if b["type"] == "tool_result"
    ]
    return out + ([{"role": "user", "content": text}] if text else [])


def messages_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request as a chat request (text, tools, tool results, limits)."""
    system = [{"role": "system", "content": text_of(body["system"])}] if body.get("system") else []
    out: dict[str, Any] = {
        "model": body["model"],
        "messages": system + [m for turn in body.get("messages", []) for m in chat_turn(turn)],
        "stream_options": {"include_usage": True},
    }
    for name in ("max_tokens", "temperature", "top_p"):
        if name in body:
            out[name] = body[name]
    if "stop_sequences" in body:
        out["stop"] = body["stop_sequences"]
    if body.get("tools"):
        out["tools"] = [
            {"type": "function", "function": {
                "name": t["name"], "description": t.get("description", ""),
                "parameters": t.get("input_schema", {})}}
            for t in body["tools"]
        ]
    choice = body.get("tool_choice")
    if choice:
        named = {"type": "function", "function": {"name": choice.get("name")}}
        simple = {"auto": "auto", "any": "required", "none": "none"}
        out["tool_choice"] = simple.get(choice["type"], named)
    return out


def chat_to_responses(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request as a Responses request: system text becomes instructions."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for m in body.get("messages", []):
        if m["role"] in ("system", "developer"):
            instructions.append(text_of(m["content"]))
        elif m["role"] == "tool":
            items.append({"type": "function_call_output", "call_id": m["tool_call_id"],
                          "output": text_of(m["content"])})
        else:
            if m.get("content"):
                items.append({"role": m["role"], "content": text_of(m["content"])})
            items += [
                {"type": "function_call", "call_id": c["id"], "name": c["function"]["name"],
                 "arguments": c["function"]["arguments"]}
                for c in list[dict[str, Any]](m.get("tool_calls") or [])
            ]
    out: dict[str, Any] = {"model": body["model"], "input": items}
    if instructions:
        out["instructions"] = "\n\n".join(instructions)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        out["max_output_tokens"] = limit
    for name in ("temperature", "top_p"):
        if name in body:
            out[name] = body[name]
    if body.get("tools"):
        out["tools"] = [{"type": "function", **t["function"]} for t in body["tools"]]
    choice = body.get("tool_choice")
    if choice:
        out["tool_choice"] = choice if isinstance(choice, str) else {
            "type": "function", "name": choice["function"]["name"]}
    return out


REQUESTS: dict[tuple[str, str], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("messages", "chat"): messages_to_chat,
    ("chat", "responses"): chat_to_responses,
    ("responses", "responses"): dict,
}


# --- answers ----------------------------------------------------------------------------


def http_error(fmt: str, status: int, message: str) -> Response:
    """An error answered before the stream opened, in the client's format."""
    if fmt == "messages":
        return JSONResponse({"type": "error", "error": {"type": "api_error", "message": message}},
                            status_code=status)
    return JSONResponse({"error": {"message": message, "type": "upstream_error", "code": status}},
                        status_code=status)


def upstream_error_event(fmt: str, message: str) -> bytes:
    """The error event the upstream would have sent, for when it broke off without one."""
    if fmt == "chat":
        error = {"error": {"message": message, "code": 502}}
        return b"data: " + json.dumps(error).encode() + b"\n\n"
    data: dict[str, Any]
    if fmt == "responses":
        data = {"type": "error", "code": "upstream_error", "message": message}
    else:
        data = {"type": "error", "error": {"type": "api_error", "message": message}}
    return b"event: error\ndata: " + json.dumps(data).encode() + b"\n\n"


async def upstream_pieces(
    stream: Upstream, fmt: str, record: dict[str, Any]
) -> AsyncGenerator[bytes, None]:
    """The upstream's bytes as they came; a stream that broke off ends with an error event."""
    try:
        async for piece in stream.raw():
            yield piece
    except deltafold.StreamError as exc:  # its own error event went by in the last piece
        record["outcome"] = f"upstream error: {exc.error}"
    except deltafold.DeltafoldError as exc:  # the connection broke, or the upstream went quiet
        log.warning("upstream failed mid-stream: %s", exc)
        record["outcome"] = f"upstream failed: {type(exc).__name__}"
        yield upstream_error_event(fmt, f"the upstream stream broke off ({type(exc).__name__})")


async def relay(stream: Upstream, client: str, upstream: str, record: dict[str, Any],
                done: Callable[[], None]) -> AsyncIterator[bytes]:
    """The client's SSE body: the upstream's bytes where the formats match, else converted."""
    try:
        async with contextlib.aclosing(upstream_pieces(stream, upstream, record)) as pieces:
            if client == upstream:
                async for piece in pieces:
                    yield piece
            else:
                events = convert.astream(pieces, to=client, source_format=upstream)
                async for piece in convert.ato_sse(events, client):
                    yield piece
        record["outcome"] = record["outcome"] or "completed"
    except (anyio.get_cancelled_exc_class(), GeneratorExit):
        record["outcome"] = "client left"  # Starlette cancels (or closes) this generator
        raise
    finally:
        await stream.aclose()  # the upstream's response closes whoever left first
        done()


def make_app(upstreams: Mapping[str, str], api_key: str, routes: Mapping[str, str] = ROUTES,
             ) -> Starlette:
    """The gateway: ``upstreams`` maps a format to its base URL (``http://host/v1``)."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10))
    auth = {"chat": {"Authorization": f"Bearer {api_key}"},
            "responses": {"Authorization": f"Bearer {api_key}"},
            "messages": {"x-api-key": api_key, "anthropic-version": "2023-06-01"}}

    def route(client: str, upstream: str) -> Route:
        to_upstream = REQUESTS[client, upstream]
        url = upstreams[upstream] + PATHS[upstream]

        async def answer(request: Request) -> Response:
            try:
                body = json.loads(await request.body())
            except ValueError:
                return http_error(client, 400, "the request body is not JSON")
            record = {"route": PATHS[client], "upstream": upstream, "model": body.get("model"),
                      "outcome": "", "usage": None}

            def done() -> None:  # the upstream's fold: usage so far, final once it ended
                usage = stream.snapshot().usage
                record["usage"] = None if usage is None else deltafold.to_dict(usage)
                request.app.state.usage.append(record)
                log.info("usage %s", json.dumps(record))

            stream = CONNECT[upstream](http, url, json=to_upstream(body), headers=auth[upstream],
                                       idle_timeout=60)
            try:  # entered here, so an upstream 4xx/5xx reaches the client as its status
                await stream.__aenter__()
            except deltafold.DeltafoldError as exc:
                record["outcome"] = f"upstream refused: {type(exc).__name__}"
                done()
                status = exc.status_code if isinstance(exc, deltafold.APIStatusError) else 502
                return http_error(client, status, f"the upstream refused ({status})")
            if body.get("stream") is not True:
                try:
                    result = await stream.until_done()
                except deltafold.DeltafoldError as exc:
                    record["outcome"] = f"upstream failed: {type(exc).__name__}"
                    done()
                    return http_error(client, 502, "the upstream stream broke off")
                finally:
                    await stream.aclose()
                record["outcome"] = "completed"
                done()
                return JSONResponse(convert.result(result, to=client).to_dict())
            return StreamingResponse(
                relay(stream, client, upstream, record, done), media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"})

        return Route(f"/v1{PATHS[client]}", answer, methods=["POST"])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None, None]:
        yield
        await http.aclose()

    app = Starlette(routes=[route(c, u) for c, u in routes.items() if u in upstreams],
                    lifespan=lifespan)
    app.state.usage = []
    return app


# --- self-check ---------------------------------------------------------------------------

# What the Responses upstream answers: a response made here (text, then a function call).
RESPONSE = dr.Response.from_dict({
    "id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-5-mini",
    "status": "completed",
    "output": [
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "Let me look that up.", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
         "arguments": '{"city": "Lisbon"}', "status": "completed"},
    ],
    "usage": {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42},
})


async def self_check(app: Starlette) -> None:
    question = [{"role": "user", "content": "Do I need an umbrella in Lisbon?"}]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway/v1") as client:
        reply = await client.post("/messages", json={
            "model": "claude", "max_tokens": 512, "messages": question, "stream": True})
        message = dm.assemble_sse(reply.content)
        text = next(b for b in message.content if isinstance(b, dm.TextBlock))
        tool = next(b for b in message.content if isinstance(b, dm.ToolUseBlock))
        print("messages client got:", text.text)
        print("tool use:", tool.name, tool.input)
        usage = message.usage
        assert usage is not None  # the upstream counted its tokens
        print("stop_reason:", message.stop_reason, "| usage:", usage.input_tokens,
              usage.output_tokens)
        reply = await client.post("/chat/completions", json={
            "model": "gpt-5-mini", "messages": question, "stream": True})
        completion = deltafold.assemble_sse(reply.content)
        choice = completion.choices[0]
        print("chat client got:", choice.message.content, "| finish_reason:", choice.finish_reason)
        reply = await client.post("/responses", json={"model": "gpt-5-mini", "input": "Hi"})
        print("responses client got the upstream's answer:", reply.json() == RESPONSE.to_dict())
    for record in app.state.usage:
        print("recorded:", record["route"], "from", record["upstream"], record["outcome"],
              "total tokens", record["usage"]["total_tokens"])


if __name__ == "__main__":
    with (deltafold.replay_server(deltafold.demo_recording()) as chat_upstream,
          deltafold.replay_server(RESPONSE) as responses_upstream):
        upstreams = {"chat": chat_upstream, "responses": responses_upstream}
        app = make_app(upstreams, api_key="sk-upstream-secret")
        if "--serve" in sys.argv:
            import uvicorn

            logging.basicConfig(level=logging.INFO)
            uvicorn.run(app, host="127.0.0.1", port=8000)
        else:
            anyio.run(self_check, app)
