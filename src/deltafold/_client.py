"""A small convenience client: base URL and key from the environment, one ``stream()`` call.

The key is kept in a private attribute and sent per request; it is never put
on the underlying httpx client's headers (which may be the caller's), never
shown by ``repr``, and scrubbed from error messages (see ``_http``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from ._http import Request
from ._limits import Limits
from ._stream import AsyncChatStream, ChatStream

__all__ = ["Client", "SyncClient"]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"
_DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class _Settings:
    """What both clients share: where to send, what to send with it."""

    _base_url: str
    _api_key: str | None
    _headers: dict[str, str]
    _idle_timeout: float | None
    _limits: Limits | None

    def _configure(
        self,
        base_url: str | None,
        api_key: str | None,
        headers: Mapping[str, str] | None,
        idle_timeout: float | None,
        limits: Limits | None,
    ) -> None:
        base = base_url or os.environ.get("OPENROUTER_BASE_URL") or DEFAULT_BASE_URL
        self._base_url = base.rstrip("/")
        if api_key is None:
            api_key = os.environ.get("OPENROUTER_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self._api_key = api_key or None
        self._headers = dict(headers or {})
        self._idle_timeout = idle_timeout
        self._limits = limits

    @property
    def base_url(self) -> str:
        """The endpoint's base URL, without a trailing slash (``.../v1``)."""
        return self._base_url

    def _request(
        self, model: str, messages: Any, params: dict[str, Any], headers: Mapping[str, str] | None
    ) -> Request:
        body = {"model": model, "messages": messages, **params}
        sent = dict(self._headers)
        if headers:
            sent.update(headers)
        if self._api_key is not None:
            sent["Authorization"] = f"Bearer {self._api_key}"
        return Request("POST", f"{self._base_url}/chat/completions", body, sent)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"{type(self).__name__}(base_url={self._base_url!r}, api_key=<{key}>)"


class Client(_Settings):
    """Async client for OpenRouter or any OpenAI-compatible endpoint.

    ``base_url`` defaults to ``$OPENROUTER_BASE_URL`` else OpenRouter's;
    ``api_key`` to ``$OPENROUTER_API_KEY`` then ``$OPENAI_API_KEY``. Pass
    ``http_client`` to share your own ``httpx.AsyncClient`` (it is not closed
    by ``aclose()``); otherwise one is created on first use and closed by
    ``aclose()`` / ``async with``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        idle_timeout: float | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._configure(base_url, api_key, headers, idle_timeout, limits)
        self._http = http_client
        self._owns_http = http_client is None

    def stream(
        self,
        *,
        model: str,
        messages: Any,
        headers: Mapping[str, str] | None = None,
        idle_timeout: float | None = None,
        **params: Any,
    ) -> AsyncChatStream:
        """Start a streamed completion; use the result with ``async with``.

        ``params`` go into the request body as they are (temperature, tools,
        stream_options...); ``stream`` is always set to true.
        """
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=_DEFAULT_TIMEOUT)
        return AsyncChatStream(
            self._http,
            self._request(model, messages, params, headers),
            idle_timeout=self._idle_timeout if idle_timeout is None else idle_timeout,
            limits=self._limits,
        )

    async def aclose(self) -> None:
        """Close the httpx client if this object created it."""
        if self._owns_http and self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncClient(_Settings):
    """The sync twin of :class:`Client` over ``httpx.Client``; use ``stream()`` with ``with``."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: httpx.Client | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        idle_timeout: float | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._configure(base_url, api_key, headers, idle_timeout, limits)
        self._http = http_client
        self._owns_http = http_client is None

    def stream(
        self,
        *,
        model: str,
        messages: Any,
        headers: Mapping[str, str] | None = None,
        idle_timeout: float | None = None,
        **params: Any,
    ) -> ChatStream:
        """Start a streamed completion; use the result with ``with``."""
        if self._http is None:
            self._http = httpx.Client(timeout=_DEFAULT_TIMEOUT)
        return ChatStream(
            self._http,
            self._request(model, messages, params, headers),
            idle_timeout=self._idle_timeout if idle_timeout is None else idle_timeout,
            limits=self._limits,
        )

    def close(self) -> None:
        """Close the httpx client if this object created it."""
        if self._owns_http and self._http is not None:
            http, self._http = self._http, None
            http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
