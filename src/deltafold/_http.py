"""The HTTP boundary: request shape, response checks, redirects, and httpx errors mapped once.

Shared by the sync and async streams. Errors built here never hold the
request (its headers carry the API key): messages name the httpx error type
and text only, secrets the caller sent are scrubbed from any echoed body, and
credential headers are dropped from the response headers that are kept.

A response is opened the way httpx-sse opens one (its ``connect_sse`` headers, its
``EventSource`` content-type check), but its body is read by deltafold's own framer,
which caps event and body sizes where httpx-sse's line parser has no cap. Redirects are
followed hop by hop here (not by httpx) so that no credential header, ``x-api-key``
included, follows one to another origin: the key goes to one endpoint only.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

import anyio
import httpx
import orjson
from httpx_sse import EventSource, SSEError

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
    "next_hop",
    "origin",
    "proxy_of",
    "safe_url",
    "stream_error",
    "unwind",
]

SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
"""Sent with every stream: what httpx-sse's ``connect_sse`` sets (a test in
tests/test_client_habits.py holds the two to each other)."""
ERROR_BODY_BYTES = 64 * 1024
"""How much of a non-SSE answer is read to build its error."""

_VERSIONED = re.compile(r"/v\d+[a-z0-9]*/", re.I)
"""A path with a version segment (``/v1/``, ``/api/v1/``, ``/v1beta/``): then /v1 is not missing."""

class Request:
    """What one streamed call sends: a copied body with ``stream: true`` and copied headers.

    ``params`` (query parameters) are merged into the URL; ``timeout`` replaces the
    client's for this request. ``secrets`` are scrubbed from its errors too (keys in play
    but not sent).
    """

    __slots__ = ("headers", "json", "method", "redact", "timeout", "url")

    def __init__(
        self,
        method: str,
        url: str | httpx.URL,
        json: Mapping[str, Any],
        headers: Mapping[str, str] | None,
        secrets: Iterable[str] = (),
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> None:
        body = dict(json)
        body["stream"] = True
        self.method: str = method
        self.url: str | httpx.URL = httpx.URL(url).copy_merge_params(params) if params else url
        self.json: dict[str, Any] = body
        # A copy: the caller may change its own dict while the stream is open.
        self.headers: dict[str, str] = dict(headers or {})
        self.timeout: float | httpx.Timeout | None = timeout
        self.redact: Redactor = Redactor.of_request(self.url, self.headers, secrets)

    def __repr__(self) -> str:
        return f"Request({self.method} {safe_url(self.url)})"

    def scrub_error(self, exc: DeltafoldError) -> None:
        """Remove the caller's credentials from an error raised while streaming, in place."""
        self.redact.error(exc)


def build_request(
    http: httpx.AsyncClient | httpx.Client, request: Request, idle_timeout: float | None
) -> httpx.Request:
    """The httpx request of a stream, sent with ``send(..., stream=True)`` by both drivers.

    The SSE headers are added; the request's ``timeout`` replaces the client's, and
    ``idle_timeout`` replaces the read timeout of either (see the drivers for how it
    bounds a read). Built directly rather than through ``connect_sse``'s two context
    managers, which cost every stream a generator pair and a second close, and could
    not resend it for a retry or a redirect.
    """
    timeout: Any = httpx.USE_CLIENT_DEFAULT
    if request.timeout is not None:
        timeout = httpx.Timeout(request.timeout)
    if idle_timeout is not None:
        t = http.timeout if request.timeout is None else timeout
        timeout = httpx.Timeout(connect=t.connect, read=idle_timeout, write=t.write, pool=t.pool)
    return http.build_request(
        request.method, request.url, json=request.json, headers={**request.headers, **SSE_HEADERS},
        timeout=timeout,
    )


def origin(url: str | httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port (the default one filled in): what a credential is bound to."""
    parsed = httpx.URL(url)
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.rstrip(".").lower(), parsed.port or _PORTS.get(scheme)


_PORTS = {"http": 80, "https": 443}


def next_hop(request: Request, response: httpx.Response) -> httpx.Request | None:
    """The request a redirect asks for, or None when ``response`` is not one.

    httpx builds it (method and body as browsers do, cookies); here every credential
    header is dropped when it leaves the origin of the request's URL, where httpx would
    only drop ``Authorization``.
    """
    hop = response.next_request
    if hop is None:
        return None
    if origin(hop.url) != origin(request.url):
        for name in [n for n in hop.headers if n.lower() in SECRET_HEADERS]:
            del hop.headers[name]
    return hop


def proxy_of(http: httpx.AsyncClient | httpx.Client, url: str | httpx.URL) -> str | None:
    """The proxy ``http`` sends ``url`` through, without credentials; None when direct.

    httpx has no public way to ask; this reads its mounts and httpcore's proxy pool,
    and says None when they are not where it looks (called on a failure only).
    """
    try:
        transport = http._transport_for_url(httpx.URL(url))
        proxy = transport._pool._proxy_url  # type: ignore[union-attr]
        port = f":{proxy.port}" if proxy.port else ""
        shown = f"{proxy.scheme.decode('ascii')}://{proxy.host.decode('ascii')}{port}"
    except (AttributeError, TypeError, UnicodeDecodeError, httpx.InvalidURL):
        return None
    return safe_url(shown)


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


def opens(response: httpx.Response) -> bool:
    """Whether ``response`` is a stream to read: a 2xx that passes httpx-sse's content-type
    check (the one its ``iter_sse()`` / ``aiter_sse()`` make before reading: ``SSEError``
    unless the content type is text/event-stream). Other answers go to :func:`body_error`."""
    if not 200 <= response.status_code < 300:
        return False
    try:
        EventSource(response)._check_content_type()
    except SSEError:
        # Media types are case-insensitive (RFC 9110, 8.3.1); httpx-sse compares exactly.
        media = response.headers.get("content-type", "").partition(";")[0]
        return bool(media.strip().lower() == "text/event-stream")
    return True


def body_error(
    request: Request, response: httpx.Response, head: bytes, *, retries: int = 0
) -> DeltafoldError:
    """The error for a response that cannot be streamed: non-2xx, or 2xx but not SSE.

    ``head`` is the start of its body (at most :data:`ERROR_BODY_BYTES`); ``retries`` is
    how many answers came before this one.
    """
    text = request.redact(head.decode("utf-8", "replace"))
    status = response.status_code
    where = f"{request.method} {request.redact(safe_url(response.request.url))}"
    after = f" (after {_retries(retries)})" if retries else ""
    if 200 <= status < 300:
        content_type = response.headers.get("content-type", "")
        return NotEventStreamError(
            f"HTTP {status} from {where} answered with content type "
            f"{content_type or '(none)'!r} instead of text/event-stream; the body starts with "
            f"{text[:200]!r}",
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
    message = f"HTTP {status}{' ' + reason if reason else ''} from {where}{after}"
    if detail:
        message += f": {detail}"
    if status == 404 and not _VERSIONED.search(response.request.url.path):
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
    request: Request,
    exc: BaseException,
    *,
    idle_timeout: float | None = None,
    proxy: str | None = None,
    retries: int = 0,
) -> DeltafoldError:
    """An error raised before the response headers arrived (httpx's, or the idle bound's).

    With ``idle_timeout`` set, httpx's read timeout is an idle bound (see the drivers), so
    it becomes :class:`IdleTimeoutError`. ``proxy`` (from :func:`proxy_of`) is named, as
    the connection that failed may be the proxy's; ``retries`` made before are counted.
    """
    if idle_timeout is not None and isinstance(exc, (httpx.ReadTimeout, TimeoutError)):
        return idle_error(idle_timeout, events=None, retries=retries)
    after = f" after {_retries(retries)}" if retries else ""
    via = f" through the proxy {request.redact(proxy)}" if proxy else ""
    if isinstance(exc, httpx.TooManyRedirects):
        what = f"too many redirects ({request.redact(str(exc))})"
    else:
        what = request.redact(_describe(exc))
    return ConnectError(
        f"could not get a response from {request.redact(safe_url(request.url))}{via}{after} "
        f"({what})"
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


def idle_error(idle_timeout: float, *, events: int | None, retries: int = 0) -> IdleTimeoutError:
    if events is None:
        where = "for the response headers"
    else:
        where = f"after {plural(events, 'event')}" if events else "before the first event"
    after = f" (after {_retries(retries)})" if retries else ""
    return IdleTimeoutError(f"no event within idle_timeout={idle_timeout:g}s {where}{after}")


def _retries(count: int) -> str:
    return plural(count, "retry", "retries")


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
