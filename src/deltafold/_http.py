"""The HTTP boundary: request shape, response checks, and httpx errors mapped once.

Shared by the sync and async streams. Errors built here never hold the
request (its headers carry the API key): messages name the httpx error type
and text only, secrets the caller sent are scrubbed from any echoed body, and
credential headers are dropped from the response headers that are kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

import anyio
import httpx
import orjson

from ._exceptions import (
    APIStatusError,
    ConnectError,
    DeltafoldError,
    IdleTimeoutError,
    NotEventStreamError,
    TransportError,
)
from ._plural import plural
from ._redact import SECRET_HEADERS, Redactor

__all__ = [
    "ERROR_BODY_BYTES",
    "Request",
    "aread_head",
    "body_error",
    "build_request",
    "check_idle_timeout",
    "connect_error",
    "has_credential_header",
    "idle_error",
    "safe_url",
    "stream_error",
    "unwind",
]

SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
"""Sent with every stream (what httpx-sse's ``connect_sse`` sets)."""
ERROR_BODY_BYTES = 64 * 1024
"""How much of a non-SSE answer is read to build its error."""

_VERSIONED = re.compile(r"/v\d+[a-z0-9]*/", re.I)
"""A path with a version segment (``/v1/``, ``/api/v1/``, ``/v1beta/``): then /v1 is not missing."""

class Request:
    """What one streamed call sends: a copied body with ``stream: true`` and copied headers.

    ``secrets`` are scrubbed from its errors too (keys in play but not sent).
    """

    __slots__ = ("headers", "json", "method", "redact", "url")

    def __init__(
        self,
        method: str,
        url: str | httpx.URL,
        json: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        secrets: Iterable[str] = (),
    ) -> None:
        body = dict(json)
        body["stream"] = True
        self.method: str = method
        self.url: str | httpx.URL = url
        self.json: dict[str, Any] = body
        # A copy: the caller may change its own dict while the stream is open.
        self.headers: dict[str, str] = dict(headers or {})
        self.redact: Redactor = Redactor.of_request(url, self.headers, secrets)

    def __repr__(self) -> str:
        return f"Request({self.method} {safe_url(self.url)})"

    def scrub_error(self, exc: DeltafoldError) -> None:
        """Remove the caller's credentials from an error raised while streaming, in place."""
        self.redact.error(exc)


def build_request(
    http: httpx.AsyncClient | httpx.Client, request: Request, idle_timeout: float | None
) -> httpx.Request:
    """The httpx request of a stream, sent with ``send(..., stream=True)`` by both drivers.

    The SSE headers are added, and ``idle_timeout`` replaces the client's read
    timeout (see the drivers for how it bounds a read). Built directly rather
    than through ``connect_sse``'s two context managers, which cost every
    stream a generator pair and a second close for nothing.
    """
    timeout: Any = httpx.USE_CLIENT_DEFAULT
    if idle_timeout is not None:
        t = http.timeout
        timeout = httpx.Timeout(connect=t.connect, read=idle_timeout, write=t.write, pool=t.pool)
    return http.build_request(
        request.method, request.url, json=request.json, headers={**request.headers, **SSE_HEADERS},
        timeout=timeout,
    )


def has_credential_header(headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` already carry a credential (``Authorization``, ``api-key``...)."""
    return any(name.lower() in SECRET_HEADERS and value for name, value in headers.items())


def safe_url(url: str | httpx.URL) -> str:
    """Scheme, host, port and path only: a query string or user info may hold a key."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(query=None, fragment=None, username=None, password=None))


def _safe_headers(request: Request, headers: httpx.Headers) -> dict[str, str]:
    """Credential headers dropped, and the caller's key scrubbed from any other that echoes it."""
    return {k: request.redact(v) for k, v in headers.items() if k.lower() not in SECRET_HEADERS}


def is_event_stream(response: httpx.Response) -> bool:
    media: str = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media == "text/event-stream"


def body_error(request: Request, response: httpx.Response, head: bytes) -> DeltafoldError:
    """The error for a response that cannot be streamed: non-2xx, or 2xx but not SSE.

    ``head`` is the start of its body (at most :data:`ERROR_BODY_BYTES`).
    """
    text = request.redact(head.decode("utf-8", "replace"))
    status = response.status_code
    if 200 <= status < 300:
        content_type = response.headers.get("content-type", "")
        return NotEventStreamError(
            f"HTTP {status} answered with content type {content_type or '(none)'!r} instead of "
            f"text/event-stream; the body starts with {text[:200]!r}",
            status_code=status,
            content_type=content_type,
            body_start=text[:2000],
        )
    body: Any = text
    detail = text[:500]
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        detail = _error_detail(body) or detail
    reason = response.reason_phrase
    message = f"HTTP {status}{' ' + reason if reason else ''} from {request.method} "
    message += request.redact(safe_url(request.url))
    if detail:
        message += f": {detail}"
    if status == 404 and not _VERSIONED.search(httpx.URL(request.url).path):
        message += " (is the base URL missing /v1?)"
    return APIStatusError(
        message,
        status_code=status,
        body=body,
        headers=_safe_headers(request, response.headers),
    )


def _error_detail(body: Any) -> str | None:
    """The human message of an OpenAI/OpenRouter-style error body."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message")
            code = error.get("code")
            if isinstance(message, str) and message:
                return f"{message} (code {code})" if code is not None else message
        elif isinstance(error, str) and error:
            return error
    return None


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def connect_error(
    request: Request, exc: httpx.HTTPError, *, idle_timeout: float | None = None
) -> DeltafoldError:
    """An httpx error raised before the response headers arrived.

    With ``idle_timeout`` set, httpx's read timeout is an idle bound (see the drivers), so
    it becomes :class:`IdleTimeoutError`.
    """
    if idle_timeout is not None and isinstance(exc, httpx.ReadTimeout):
        return idle_error(idle_timeout, events=None)
    return ConnectError(
        f"could not get a response from {safe_url(request.url)} ({request.redact(_describe(exc))})"
    )


def stream_error(
    request: Request, exc: httpx.HTTPError, *, events: int, idle_timeout: float | None
) -> DeltafoldError:
    """An httpx error raised while reading the body.

    With ``idle_timeout`` set, httpx's read timeout is an idle bound (see the drivers), so
    it becomes :class:`IdleTimeoutError`.
    """
    if idle_timeout is not None and isinstance(exc, httpx.ReadTimeout):
        return idle_error(idle_timeout, events=events)
    return TransportError(
        f"the connection failed after {plural(events, 'event')} ({request.redact(_describe(exc))})"
    )


def idle_error(idle_timeout: float, *, events: int | None) -> IdleTimeoutError:
    if events is None:
        where = "for the response headers"
    else:
        where = f"after {plural(events, 'event')}" if events else "before the first event"
    return IdleTimeoutError(f"no event within idle_timeout={idle_timeout:g}s {where}")


def check_idle_timeout(idle_timeout: float | None) -> float | None:
    """``idle_timeout`` checked once, when a stream is made: a positive number or None."""
    if idle_timeout is not None and not idle_timeout > 0:
        raise ValueError(f"idle_timeout must be > 0 or None, got {idle_timeout!r}")
    return idle_timeout


async def aread_head(body: AsyncIterator[bytes], timeout: float) -> bytes:
    """The start of a body that is not an event stream, for its error (read within ``timeout``)."""
    buf = bytearray()
    try:
        with anyio.move_on_after(timeout):
            while len(buf) < ERROR_BODY_BYTES:
                try:
                    buf += await body.__anext__()
                except StopAsyncIteration:
                    break
    except httpx.HTTPError:
        pass
    return bytes(buf[:ERROR_BODY_BYTES])


def read_head(body: Iterator[bytes], timeout: float) -> bytes:
    """The sync twin of :func:`aread_head`; the deadline is checked between reads."""
    buf = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while len(buf) < ERROR_BODY_BYTES and time.monotonic() < deadline:
            try:
                buf += next(body)
            except StopIteration:
                break
    except httpx.HTTPError:
        pass
    return bytes(buf[:ERROR_BODY_BYTES])


_UNWIND_STEPS = 1000
"""Bound on the steps that unwind a closed body (each raises at once)."""


async def unwind(body: AsyncIterator[bytes]) -> None:
    """Run httpx's body generators to their end after the response was closed.

    Closing only the outer generator would leave httpx's inner ones suspended,
    and trio warns when those are garbage collected (encode/httpx#3686). With
    the connection closed, resuming raises at once and unwinds every frame.
    """
    for _ in range(_UNWIND_STEPS):
        try:
            await body.__anext__()
        except Exception:
            return
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
