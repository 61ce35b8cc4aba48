"""A replay server: an OpenAI- (or Anthropic-) compatible endpoint that plays back one recording.

It lets the official clients, the demo and the tests talk to a real HTTP
server without a key or the network: ``POST /v1/chat/completions`` streams
a chat recording (or answers with its assembled completion when ``stream`` is
false), ``POST /v1/responses`` a Responses recording, ``POST /v1/messages`` an
Anthropic Messages one (the format is told from the recording, as ``assemble_any``
tells it; a request to another format's path gets a 404 naming the right one),
and ``GET /v1/models`` lists the recording's model.

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

from ._assemble import assemble, fold_body, fold_whole_sse
from ._body import JSON_OBJECT, SSE, Body, completion_of
from ._chat_format import CHAT
from ._convert import to_dict
from ._decode import decode_chunk
from ._exceptions import EmptyStreamError, StreamError, install_hint
from ._format import WireFormat, format_of
from ._formats import FORMATS, sniff
from ._limits import Limits
from ._models import ChatCompletion
from ._split import Style, split, to_sse
from .messages import _unfold as messages_unfold
from .messages._models import Message
from .responses import _unfold as responses_unfold
from .responses._models import Response as ResponsesResponse

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
    """One stream to replay: its SSE events as bytes, its wire format, and the result they fold to.

    ``completion`` is the folded result: a ``ChatCompletion``, a ``Response`` or a
    ``Message`` (the name is chat's, kept). A recording whose stream reports an error
    keeps the partial result and the error, so ``stream: false`` can answer with that error.
    """

    def __init__(self, events: Sequence[bytes], fmt: WireFormat[Any, Any] = CHAT) -> None:
        self.events = list(events)
        self.format = fmt
        self.error: StreamError | None = None
        self.completion: Any
        try:
            self.completion = fold_whole_sse(fmt, b"".join(self.events))
        except StreamError as exc:
            self.error = exc
            self.completion = exc.partial or fmt.result()

    @property
    def model(self) -> str:
        """The model the recording claims; a placeholder when it names none."""
        return self.format.summarize(self.completion).model or "deltafold-replay"


Source = (
    str | os.PathLike[str] | bytes | ChatCompletion | ResponsesResponse | Message | dict[str, Any]
    | list[Any]
)
"""What can be replayed: a file, a body, a result (typed or wire dict), a list of events."""
_UNFOLD: dict[str, Any] = {"responses": responses_unfold, "messages": messages_unfold}
"""The unfold (``split``, ``to_sse``) of each format but chat (``_split``, with its styles)."""


def load_recording(
    source: Source,
    *,
    chunk_chars: int = 4,
    seed: int | None = None,
    style: Style = "openrouter",
) -> Recording:
    """A recording from a file path, a body or a result (detected), of any wire format.

    Bodies may be an SSE recording (played back as recorded, comments
    included), events as JSON lines or a JSON array, or a result JSON (a chat
    completion, a Responses response, an Anthropic message), which is split into
    events with ``chunk_chars`` and ``seed`` (and for chat ``style``); the wire format
    is told as :func:`~deltafold.assemble_any` tells it, and a JSON body read exactly as
    :func:`assemble` reads it. A list is taken as events, a dict as a result in wire form.
    Raises :class:`DeltafoldError` (or ``OSError``) for input that is none of
    these, and :class:`EmptyStreamError` for one that holds no event.
    """
    if isinstance(source, dict):
        source = _result_of(source)
    if isinstance(source, (ChatCompletion, ResponsesResponse, Message)):
        return _from_result(source, chunk_chars, seed, style)
    if isinstance(source, list):
        return _events_recording(sniff(source)[0], source, source)
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    body = Body(raw, _LIMITS)
    if body.form is SSE:
        found, _ = sniff(body.text)
        return Recording(body.events(), FORMATS[found or "chat"])
    if body.form is JSON_OBJECT and _is_result(body.items[0]):
        return _from_result(_result_of(body.items[0]), chunk_chars, seed, style)
    events: list[Any] = []
    fold_body(body, lambda item: events.append(decode_chunk(item, len(events))), limits=_LIMITS)
    return _events_recording(sniff(events)[0], events, body.text)


def _is_result(data: dict[str, Any]) -> bool:
    """A whole result, not one event: a completion, a response object, a message object."""
    return (
        completion_of(data) is not None or data.get("object") == "response"
        or data.get("type") == "message"
    )


def _result_of(data: dict[str, Any]) -> ChatCompletion | ResponsesResponse | Message:
    """A result in wire form, typed by the format it says it is (chat when it says none)."""
    found = format_of(data) or "chat"
    result: ChatCompletion | ResponsesResponse | Message = FORMATS[found].result.from_dict(data)
    return result


def _events_recording(found: str | None, events: list[Any], given: Any) -> Recording:
    """A recording of decoded events; input with none is refused as ``assemble`` describes it.

    The SSE framed from no chunk holds only ``[DONE]``, which is not what was given.
    """
    if found in _UNFOLD:
        return Recording(list(_UNFOLD[found].to_sse(events)), FORMATS[found])
    try:
        return Recording(list(to_sse(events)))
    except EmptyStreamError:
        assemble(given)
        raise


def _from_result(
    result: ChatCompletion | ResponsesResponse | Message,
    chunk_chars: int,
    seed: int | None,
    style: Style,
) -> Recording:
    if isinstance(result, ChatCompletion):
        chunks = split(result, chunk_chars=chunk_chars, seed=seed, style=style)
        comments = 8 if style == "openrouter" else None
        return Recording(list(to_sse(chunks, comments_every=comments)))
    found = "responses" if isinstance(result, ResponsesResponse) else "messages"
    unfold = _UNFOLD[found]
    events = unfold.split(result, chunk_chars=chunk_chars, seed=seed)
    return Recording(list(unfold.to_sse(events)), FORMATS[found])


def replay_app(
    source: Source,
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

    async def answer(request: Request) -> Response:
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
        result = to_dict(recording.completion)
        if recording.format is CHAT:
            # OpenAI and OpenRouter always send it, null or not; OpenRouter's SDK requires the key.
            result.setdefault("system_fingerprint", None)
        return JSONResponse(result)

    routes = []
    for prefix in ("/v1", "/api/v1"):  # OpenAI's and Anthropic's path, and OpenRouter's
        for fmt in FORMATS.values():
            handler = answer if fmt is recording.format else _elsewhere(recording, prefix)
            routes.append(Route(f"{prefix}{fmt.path}", handler, methods=["POST"]))
        routes.append(Route(f"{prefix}/models", _models(recording), methods=["GET"]))
    return Starlette(routes=routes)


def _elsewhere(recording: Recording, prefix: str) -> Any:
    """Another format's path: a 404 that names the path this recording is served at."""
    from starlette.responses import JSONResponse  # deferred: the optional ``serve`` extra

    right = f"{prefix}{recording.format.path}"

    async def not_here(request: Request) -> Response:
        message = (
            f"this server replays a {recording.format.name} recording: POST {right} "
            f"(not {request.url.path})"
        )
        error = {"message": message, "type": "not_found_error", "code": 404}
        return JSONResponse({"error": error}, status_code=404)

    return not_here


def _models(recording: Recording) -> Any:
    """``GET /models``: the recording's model."""
    from starlette.responses import JSONResponse  # deferred: the optional ``serve`` extra

    async def models(request: Request) -> Response:
        summary = recording.format.summarize(recording.completion)
        entry = {
            "id": recording.model,
            "object": "model",
            "created": summary.created,
            "owned_by": summary.provider or "deltafold",
        }
        return JSONResponse({"object": "list", "data": [entry]})

    return models


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
    source: Source,
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
