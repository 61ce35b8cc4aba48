"""The HTTP boundary: request shape, response checks, and httpx errors mapped once.

Shared by the sync and async streams. Errors built here never hold the
request (its headers carry the API key): messages name the httpx error type
and text only, secrets the caller sent are scrubbed from any echoed body, and
credential headers are dropped from the response headers that are kept.
"""

from __future__ import annotations

import re
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
    "scrub_tokens",
    "stream_error",
]

ERROR_BODY_BYTES = 64 * 1024
"""How much of a non-SSE answer is read to build its error."""

REDACTED = "***"
"""What stands in for a credential found in anything an error keeps."""

_ERROR_FIELDS = ("raw", "error", "metadata", "body", "body_start")
"""Attributes of deltafold errors that may hold upstream text (an echoed key)."""

_TOKEN_LIKE = re.compile(
    r"(?i)(\b(?:bearer|basic|token)\s+|\b(?:api[_-]?key|access[_-]?token|secret|password)"
    r"[\"']?\s*[:=]\s*[\"']?)[\w.~+/=-]{6,}"
    r"|\b(?:sk|gsk|xai|pk|rk)[-_][\w-]{8,}|\bAIza[\w-]{20,}"
)
"""Text that looks like a credential: a bearer/basic token, a ``key=value`` secret, a
provider key (``sk-...``, ``sk-or-v1-...``, ``gsk_...``, ``AIza...``)."""

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
        """``text`` with every credential the caller sent replaced by :data:`REDACTED`."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def scrub_value(self, value: Any) -> Any:
        """``value`` (text, bytes or decoded JSON) without the caller's credentials."""
        if not self._secrets or value is None:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, (bytes, bytearray)):
            data = bytes(value)
            for secret in self._secrets:
                data = data.replace(secret.encode(), REDACTED.encode())
            return data
        try:
            data = orjson.dumps(value)
        except (TypeError, orjson.JSONEncodeError):
            return value
        if not any(secret.encode() in data for secret in self._secrets):
            return value
        for secret in self._secrets:
            data = data.replace(secret.encode(), REDACTED.encode())
        return orjson.loads(data)

    def scrub_error(self, exc: DeltafoldError) -> None:
        """Remove the caller's credentials from an error raised while streaming, in place.

        An upstream may echo the key in an in-band error or in an undecodable
        event; the message, the kept upstream data and ``.partial.extra`` (where
        the fold keeps a top-level ``error``) are scrubbed.
        """
        if not self._secrets:
            return
        exc.message = self.scrub(exc.message)
        exc.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in exc.args)
        for name in _ERROR_FIELDS:
            if getattr(exc, name, None) is not None:
                setattr(exc, name, self.scrub_value(getattr(exc, name)))
        partial = exc.partial
        if partial is not None and partial.extra:
            partial.extra = {k: self.scrub_value(v) for k, v in partial.extra.items()}


def scrub_tokens(text: str) -> str:
    """``text`` with anything that looks like a credential replaced by :data:`REDACTED`.

    For text whose secrets are not known (the start of a body that is shown in an
    error): the name of a ``key=value`` or ``Bearer`` pair stays, its value goes.
    """
    return _TOKEN_LIKE.sub(lambda m: (m.group(1) or "") + REDACTED, text)


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


def _safe_headers(request: Request, headers: httpx.Headers) -> dict[str, str]:
    """Credential headers dropped, and the caller's key scrubbed from any other that echoes it."""
    return {k: request.scrub(v) for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}


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
