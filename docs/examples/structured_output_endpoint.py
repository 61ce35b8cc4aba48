"""A Starlette endpoint that streams a structured answer to the browser as it is written.

The model answers in JSON (``response_format`` json_schema). The endpoint
feeds each content fragment to a PartialJSON and sends the partial value as an
SSE event whenever a fragment changed it; the browser renders each one in
place. At the end it checks the answer against the schema's class and sends
it as ``event: final``.

Run it with ``--serve`` and open http://127.0.0.1:8000 (the upstream is the
local replay server). Without arguments it checks itself through httpx.
"""

import contextlib
import json
import sys
from collections.abc import AsyncGenerator, AsyncIterator

import anyio
import attrs
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse
from starlette.routing import Route

import deltafold


@attrs.define
class Recipe:
    title: str
    minutes: int
    ingredients: list[str]
    steps: list[str]


ANSWER = {
    "title": "Pancakes",
    "minutes": 25,
    "ingredients": ["200 g flour", "2 eggs", "300 ml milk", "a pinch of salt"],
    "steps": ["Whisk everything smooth.", "Rest 10 minutes.", "Fry thin, flip once."],
}
# The replay server plays this completion back in 4-character fragments.
UPSTREAM_COMPLETION = {
    "id": "gen-2",
    "model": "example/model",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": json.dumps(ANSWER)},
        }
    ],
}
PAGE = """<!doctype html><meta charset="utf-8"><title>Recipe</title><pre id="out"></pre>
<script>
const out = document.getElementById("out");
const source = new EventSource("/recipe?dish=pancakes");
source.onmessage = (e) => { out.textContent = JSON.stringify(JSON.parse(e.data), null, 2); };
source.addEventListener("final", (e) => { out.textContent += "\\n(done)"; source.close(); });
source.addEventListener("error", (e) => { if (e.data) out.textContent += "\\n" + e.data; });
</script>"""


def sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def make_app(upstream: str) -> Starlette:
    http = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10))

    async def recipe(request: Request) -> StreamingResponse:
        question = f"A recipe for {request.query_params['dish']}"
        body = {
            "model": "example/model",
            "messages": [{"role": "user", "content": question}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "recipe"}},
        }
        stream = deltafold.aconnect_chat(
            http, f"{upstream}/chat/completions", json=body, idle_timeout=60
        )

        async def partial_values() -> AsyncIterator[bytes]:
            parser = deltafold.PartialJSON()
            try:
                async with stream:
                    async for event in stream.events():
                        if isinstance(event, deltafold.ContentDelta) and parser.feed(event.text):
                            yield sse(parser.value)  # the whole value so far
                answer = stream.completion.choices[0].message.parse_content(Recipe)
                yield sse(attrs.asdict(answer), event="final")
            except deltafold.DeltafoldError as exc:  # also a JSONParseError or a misfit
                yield sse(str(exc), event="error")

        return StreamingResponse(partial_values(), media_type="text/event-stream")

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None, None]:
        yield
        await http.aclose()

    return Starlette(routes=[Route("/", page), Route("/recipe", recipe)], lifespan=lifespan)


async def self_check(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as browser:
        response = await browser.get("/recipe", params={"dish": "pancakes"})
    events = list(deltafold.iter_sse(response.content))
    partial = [json.loads(e.data) for e in events if e.event == "message"]
    final = [json.loads(e.data) for e in events if e.event == "final"]
    print(f"the browser got {len(partial)} partial values, then the final one")
    for value in (partial[1], partial[6], partial[20]):
        print("  partial:", json.dumps(value))
    print("last partial value == final answer:", partial[-1] == final[0] == ANSWER)


if __name__ == "__main__":
    with deltafold.replay_server(UPSTREAM_COMPLETION) as upstream:
        app = make_app(upstream)
        if "--serve" in sys.argv:
            import uvicorn

            uvicorn.run(app, host="127.0.0.1", port=8000)
        else:
            anyio.run(self_check, app)
