"""The HTTP boundary: request shape, response checks, and httpx errors mapped once.

Shared by the sync and async streams. Errors built here never hold the
request (its headers carry the API key): messages name the httpx error type
and text only, secrets the caller sent are scrubbed from any echoed body, and
credential headers are dropped from the response headers that are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

__all__ = [
    "ERROR_BODY_BYTES",
    "Request",
    "body_error",
    "connect_error",
    "idle_error",
    "stream_error",
]

ERROR_BODY_BYTES = 64 * 1024
"""How much of a non-SSE answer is read to build its error."""

_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "openai-api-key",
    }
)


class Request:
    """What one streamed call sends: a copied body with ``stream: true`` and copied headers."""

    __slots__ = ("_secrets", "headers", "json", "method", "url")

    def __init__(
        self,
        method: str,
        url: str | httpx.URL,
        json: Mapping[str, Any],
        headers: Mapping[str, str] | None,
    ) -> None:
        body = dict(json)
        body["stream"] = True
        self.method = method
        self.url = url
        self.json = body
        # httpx-sse writes Accept into the dict it is given, so it gets a fresh one.
        self.headers: dict[str, str] = dict(headers or {})
        self._secrets = _secrets_of(self.headers)

    def __repr__(self) -> str:
        return f"Request({self.method} {_safe_url(self.url)})"

    def scrub(self, text: str) -> str:
        """``text`` with every credential the caller sent replaced by ``***``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text


def _secrets_of(headers: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS and value:
            out.append(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in ("bearer", "basic", "token"):
                out.append(token.strip())
    return [s for s in sorted(set(out), key=len, reverse=True) if len(s) >= 4]


def _safe_url(url: str | httpx.URL) -> str:
    """Scheme, host and path only: a query string may hold a key."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(query=None, fragment=None, username=None, password=None))


def _safe_headers(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}


def is_event_stream(response: httpx.Response) -> bool:
    media: str = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media == "text/event-stream"


def body_error(request: Request, response: httpx.Response, head: bytes) -> DeltafoldError:
    """The error for a response that cannot be streamed: non-2xx, or 2xx but not SSE.

    ``head`` is the start of its body (at most :data:`ERROR_BODY_BYTES`).
    """
    text = request.scrub(head.decode("utf-8", "replace"))
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
    return APIStatusError(
        f"HTTP {status}{' ' + reason if reason else ''}: {detail}" if detail
        else f"HTTP {status}{' ' + reason if reason else ''}",
        status_code=status,
        body=body,
        headers=_safe_headers(response.headers),
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

    With ``idle_timeout`` set, httpx's read timeout is the sync idle bound, so
    it becomes :class:`IdleTimeoutError`.
    """
    if idle_timeout is not None and isinstance(exc, httpx.ReadTimeout):
        return idle_error(idle_timeout, events=None)
    return ConnectError(
        f"could not get a response from {_safe_url(request.url)} ({request.scrub(_describe(exc))})"
    )


def stream_error(
    request: Request, exc: httpx.HTTPError, *, events: int, idle_timeout: float | None
) -> DeltafoldError:
    """An httpx error raised while reading the body.

    With ``idle_timeout`` set, httpx's read timeout is the sync idle bound, so
    it becomes :class:`IdleTimeoutError`.
    """
    if idle_timeout is not None and isinstance(exc, httpx.ReadTimeout):
        return idle_error(idle_timeout, events=events)
    return TransportError(
        f"the connection failed after {events} events ({request.scrub(_describe(exc))})"
    )


def idle_error(idle_timeout: float, *, events: int | None) -> IdleTimeoutError:
    if events is None:
        where = "for the response headers"
    else:
        where = f"after {events} events" if events else "before the first event"
    return IdleTimeoutError(f"no event within idle_timeout={idle_timeout:g}s {where}")
