"""A Starlette proxy: pass a stream through to the browser, and log the assembled completion.

The browser gets the upstream's bytes untouched (``stream.raw()``), while the
stream folds them. The proxy logs the whole completion and its usage at the
end, the partial one and the error when the upstream fails, and the
completion so far when the browser hangs up.

Run it with ``--serve`` to listen on http://127.0.0.1:8000 (the upstream is the
local replay server). Without arguments it checks itself: a client streams
through the proxy, and what it receives must assemble to what the proxy logged.
"""

import contextlib
import json
import logging
import sys
from collections.abc import AsyncGenerator, AsyncIterator

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

import deltafold

# The recorded OpenRouter stream that ships with deltafold, replayed by a local server:
# no network, no key, no file beside this script.
RECORDING = deltafold.demo_recording()

log = logging.getLogger("proxy")


def sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def dump(completion: deltafold.ChatCompletion | None) -> str:
    return json.dumps(completion.to_dict() if completion is not None else None)


def make_app(upstream: str) -> Starlette:
    http = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=10))

    async def chat(request: Request) -> StreamingResponse:
        body = await request.json()
        stream = deltafold.aconnect_chat(
            http, f"{upstream}/chat/completions", json=body, idle_timeout=60
        )

        async def relay() -> AsyncIterator[bytes]:
            try:
                async with stream:
                    # The upstream's bytes as they arrive, cut where an event ends: its
                    # comments, [DONE] and any error event included, nothing re-encoded.
                    async for piece in stream.raw():
                        yield piece
            except deltafold.DeltafoldError as exc:
                # The upstream failed; .partial is what arrived before (None if nothing did).
                log.warning("upstream stream failed: %s; partial %s", exc, dump(exc.partial))
                if not isinstance(exc, deltafold.StreamError):  # its own error event went by
                    yield sse({"error": {"message": str(exc)}}, event="error")
            except (anyio.get_cancelled_exc_class(), GeneratorExit) as exc:
                # The browser hung up: Starlette cancels (or closes) this generator.
                error = type(exc).__name__
                log.warning("browser disconnected (%s); so far %s", error, dump(stream.snapshot()))
                raise
            else:
                log.info("completion %s", dump(stream.completion))

        return StreamingResponse(relay(), media_type="text/event-stream")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None, None]:
        yield
        await http.aclose()

    return Starlette(
        routes=[Route("/v1/chat/completions", chat, methods=["POST"])], lifespan=lifespan
    )


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


async def self_check(app: Starlette) -> None:
    captured = Captured()
    log.addHandler(captured)
    log.setLevel(logging.INFO)
    request = {
        "model": "anthropic/claude-sonnet-4.5",
        "messages": [{"role": "user", "content": "Do I need an umbrella in Lisbon?"}],
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as browser:
        response = await browser.post("/v1/chat/completions", json=request)
    received = deltafold.assemble_sse(response.content)
    logged = json.loads(captured.records[-1].removeprefix("completion "))
    print("browser got:", received.choices[0].message.content)
    print("proxy logged the same completion:", logged == received.to_dict())
    print("browser got the recorded bytes:", response.content == RECORDING)


if __name__ == "__main__":
    with deltafold.replay_server(RECORDING) as upstream:
        app = make_app(upstream)
        if "--serve" in sys.argv:
            import uvicorn

            logging.basicConfig(level=logging.INFO)
            uvicorn.run(app, host="127.0.0.1", port=8000)
        else:
            anyio.run(self_check, app)
