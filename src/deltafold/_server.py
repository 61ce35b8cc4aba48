"""A replay server: an OpenAI-compatible endpoint that plays back one recording.

It lets the official clients, the demo and the tests talk to a real HTTP
server without a key or the network: ``POST /v1/chat/completions`` streams
the recording (or answers with its assembled completion when ``stream`` is
false) and ``GET /v1/models`` lists the recording's model.

starlette and uvicorn are the optional ``serve`` extra, imported only here
and only when a server is built, so ``import deltafold`` never needs them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import orjson

from ._assemble import assemble, assemble_sse, fold_body
from ._body import SSE, Body
from ._convert import to_dict
from ._decode import decode_chunk
from ._exceptions import EmptyStreamError, StreamError, install_hint
from ._limits import Limits
from ._models import ChatCompletion
from ._split import Style, split, to_sse

if TYPE_CHECKING:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "Recording",
    "ServeExtraMissing",
    "load_recording",
    "recording_app",
    "replay_app",
    "replay_server",
    "require_serve",
    "serve_app",
]

_INSTALL_HINT = f"the replay server needs starlette and uvicorn: {install_hint('serve')}"
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
_LIMITS = Limits()
_log = logging.getLogger("deltafold.server")


class ServeExtraMissing(ImportError):
    """starlette or uvicorn is not installed; the message names the install command."""


def require_serve() -> None:
    """Fail early, with the install command, when the ``serve`` extra is missing."""
    try:  # imported only to see whether the optional extra is installed
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ServeExtraMissing(f"{_INSTALL_HINT} ({exc})") from exc


class Recording:
    """One stream to replay: its SSE events as bytes, and the completion they fold to.

    A recording whose stream reports an error keeps the partial completion
    and the error, so ``stream: false`` can answer with that error.
    """

    def __init__(self, events: Sequence[bytes]) -> None:
        self.events = list(events)
        self.error: StreamError | None = None
        try:
            self.completion = assemble_sse(b"".join(self.events))
        except StreamError as exc:
            self.error = exc
            self.completion = exc.partial or ChatCompletion()

    @property
    def model(self) -> str:
        """The model the recording claims; a placeholder when it names none."""
        return self.completion.model or "deltafold-replay"


Source = str | os.PathLike[str] | bytes | ChatCompletion | dict[str, Any] | list[Any]
"""What can be replayed: a file, a body, a completion (typed or wire dict), a list of chunks."""


def load_recording(
    source: Source,
    *,
    chunk_chars: int = 4,
    seed: int | None = None,
    style: Style = "openrouter",
) -> Recording:
    """A recording from a file path, a body or a completion (detected).

    Bodies may be an SSE recording (played back as recorded, comments
    included), chunks as JSON lines or a JSON array, or a completion JSON,
    which is split into chunks with ``chunk_chars``, ``seed`` and ``style``;
    the format is told, and a JSON body read, exactly as :func:`assemble` does.
    A list is taken as chunks, a dict as a completion in wire form.
    Raises :class:`DeltafoldError` (or ``OSError``) for input that is none of
    these, and :class:`EmptyStreamError` for one that holds no chunk.
    """
    if isinstance(source, dict):
        source = ChatCompletion.from_dict(source)
    if isinstance(source, ChatCompletion):
        return _from_completion(source, chunk_chars, seed, style)
    if isinstance(source, list):
        return _chunks_recording(source, source)
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    body = Body(raw, _LIMITS)
    if body.form is SSE:
        return Recording(body.events())
    completion = body.completion()
    if completion is not None:
        return _from_completion(ChatCompletion.from_dict(completion), chunk_chars, seed, style)
    chunks: list[Any] = []
    fold_body(body, lambda chunk: chunks.append(decode_chunk(chunk, len(chunks))), limits=_LIMITS)
    return _chunks_recording(chunks, body.text)


def _chunks_recording(chunks: Any, given: Any) -> Recording:
    """A recording of chunks; input with none is refused as ``assemble`` describes it.

    The SSE framed from no chunk holds only ``[DONE]``, which is not what was given.
    """
    try:
        return Recording(list(to_sse(chunks)))
    except EmptyStreamError:
        assemble(given)
        raise


def _from_completion(
    completion: ChatCompletion, chunk_chars: int, seed: int | None, style: Style
) -> Recording:
    chunks = split(completion, chunk_chars=chunk_chars, seed=seed, style=style)
    comments = 8 if style == "openrouter" else None
    return Recording(list(to_sse(chunks, comments_every=comments)))


def replay_app(
    source: str | os.PathLike[str] | bytes | ChatCompletion | dict[str, Any] | list[Any],
    *,
    delay_ms: float = 0.0,
    chunk_chars: int = 4,
    seed: int | None = None,
    style: Literal["openai", "openrouter"] = "openrouter",
    first_delay_ms: float = 0.0,
) -> Starlette:
    """A starlette app serving ``source`` (see :func:`load_recording`) as an OpenAI endpoint.

    ``delay_ms`` paces the stream: the pause before each event after the first.
    ``first_delay_ms`` is the pause between the headers and the first event (a
    model thinking). Needs the ``serve`` extra.
    """
    require_serve()
    recording = load_recording(source, chunk_chars=chunk_chars, seed=seed, style=style)
    return recording_app(recording, delay_ms=delay_ms, first_delay_ms=first_delay_ms)


def recording_app(
    recording: Recording, *, delay_ms: float = 0.0, first_delay_ms: float = 0.0
) -> Starlette:
    """The app behind :func:`replay_app`, for a recording already loaded (the CLI's)."""
    require_serve()
    # Deferred on purpose: starlette is the optional ``serve`` extra (see the module docstring).
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    delay = max(0.0, delay_ms) / 1000.0
    first_delay = max(0.0, first_delay_ms) / 1000.0

    async def play() -> AsyncIterator[bytes]:
        """The events, one per send; a hang-up ends it with one DEBUG line.

        uvicorn's send does not suspend while the socket buffer has room, so
        without the checkpoint (``sleep(0)``) a fast stream never lets the
        loop notice a hang-up and keeps writing to the dead socket (asyncio
        then logs ``socket.send() raised exception.`` per write). With it,
        uvicorn stops writing and starlette cancels this generator.
        """
        sent = 0
        try:
            for event in recording.events:
                await anyio.sleep(delay if sent else first_delay)
                yield event
                sent += 1
        finally:
            if sent < len(recording.events):
                _log.debug(
                    "replay: the client hung up after %d of %d events", sent, len(recording.events)
                )

    def bad_request(message: str) -> Response:
        error = {"message": message, "type": "invalid_request_error", "code": 400}
        return JSONResponse({"error": error}, status_code=400)

    async def chat_completions(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return bad_request("the request body is not JSON")
        if not isinstance(body, dict):
            return bad_request("the request body must be a JSON object")
        if body.get("stream") is True:
            return StreamingResponse(
                play(),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        if recording.error is not None:
            error = recording.error
            status = error.code if isinstance(error.code, int) and 400 <= error.code < 600 else 502
            return JSONResponse({"error": error.error}, status_code=status)
        answer = to_dict(recording.completion)
        # OpenAI and OpenRouter always send it, null or not; OpenRouter's SDK requires the key.
        answer.setdefault("system_fingerprint", None)
        return JSONResponse(answer)

    async def models(request: Request) -> Response:
        completion = recording.completion
        entry = {
            "id": recording.model,
            "object": "model",
            "created": completion.created,
            "owned_by": completion.provider or "deltafold",
        }
        return JSONResponse({"object": "list", "data": [entry]})

    routes = []
    for prefix in ("/v1", "/api/v1"):  # OpenAI's path and OpenRouter's
        routes.append(Route(f"{prefix}/chat/completions", chat_completions, methods=["POST"]))
        routes.append(Route(f"{prefix}/models", models, methods=["GET"]))
    return Starlette(routes=routes)


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket, bound before the server starts so its port is known at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    """The ``/v1`` base URL of a bound socket, as the OpenAI clients want it."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/v1"


def make_server(app: Any) -> uvicorn.Server:
    """A quiet uvicorn server whose shutdown never waits long for open streams."""
    require_serve()
    import uvicorn  # deferred on purpose: the optional ``serve`` extra

    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=2,
        access_log=False,
    )
    return uvicorn.Server(config)


@contextlib.contextmanager
def replay_server(
    source: str | os.PathLike[str] | bytes | ChatCompletion | dict[str, Any] | list[Any],
    *,
    delay_ms: float = 0.0,
    host: str = "127.0.0.1",
    port: int = 0,
    chunk_chars: int = 4,
    seed: int | None = None,
    style: Literal["openai", "openrouter"] = "openrouter",
    first_delay_ms: float = 0.0,
) -> Iterator[str]:
    """Run the replay server in a background thread; yields its base URL (``http://.../v1``).

    The port is ephemeral by default; the server stops when the block ends.
    """
    app = replay_app(
        source, delay_ms=delay_ms, chunk_chars=chunk_chars, seed=seed, style=style,
        first_delay_ms=first_delay_ms,
    )
    with serve_app(app, host=host, port=port) as url:
        yield url


@contextlib.contextmanager
def serve_app(app: Any, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread; yields its base URL."""
    server = make_server(app)
    sock = bind(host, port)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="deltafold-replay", daemon=True
    )
    try:
        thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the replay server did not start")
            time.sleep(0.005)
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(_STOP_TIMEOUT + 3)
        sock.close()
