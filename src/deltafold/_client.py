"""A small convenience client: base URL and key from the environment, one ``stream()`` call.

Which base URL and which key: one rule, in ``_endpoint``. The key is kept in
a private attribute and sent per request; it is never put on the underlying
httpx client's headers (which may be the caller's), never shown by ``repr``,
and scrubbed from error messages (see ``_redact.Redactor``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from ._endpoint import OPENROUTER_URL, Endpoint, resolve_endpoint
from ._http import Request, has_credential_header
from ._json_fold import ParseJSON
from ._limits import Limits
from ._stream import AsyncChatStream
from ._stream_sync import ChatStream
from ._telemetry import Telemetry

__all__ = ["Client", "SyncClient"]

DEFAULT_BASE_URL = OPENROUTER_URL
_DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)


class _Settings:
    """What both clients share: where to send, what to send with it."""

    _endpoint: Endpoint
    _headers: dict[str, str]
    _idle_timeout: float | None
    _limits: Limits | None

    def _configure(
        self,
        base_url: str | None,
        api_key: str | None,
        headers: Mapping[str, str] | None,
        http_client: httpx.AsyncClient | httpx.Client | None,
        idle_timeout: float | None,
        limits: Limits | None,
    ) -> None:
        self._headers = dict(headers or {})
        own = has_credential_header(self._headers) or (
            http_client is not None and has_credential_header(http_client.headers)
        )
        self._endpoint = resolve_endpoint(base_url, api_key, has_credentials=own)
        self._idle_timeout = idle_timeout
        self._limits = limits

    @property
    def base_url(self) -> str:
        """The endpoint's base URL, without a trailing slash (``.../v1``)."""
        return self._endpoint.base_url

    def _request(
        self, model: str, messages: Any, params: dict[str, Any], headers: Mapping[str, str] | None
    ) -> Request:
        body = {"model": model, "messages": messages, **params}
        sent = dict(self._headers)
        if headers:
            sent.update(headers)
        key = self._endpoint.api_key
        if key is not None and not any(name.lower() == "authorization" for name in sent):
            sent["Authorization"] = f"Bearer {key}"
        url = f"{self.base_url}/chat/completions"
        return Request("POST", url, body, sent, self._endpoint.secrets)

    def __repr__(self) -> str:
        key = "set" if self._endpoint.api_key else "none"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"


class Client(_Settings):
    """Async client for OpenRouter, OpenAI or any OpenAI-compatible endpoint.

    Pass ``http_client`` to share your own ``httpx.AsyncClient`` (it is not
    closed by ``aclose()``); otherwise one is created on first use and closed
    by ``aclose()`` / ``async with``.

    Where requests go and which key they carry (checked here, before any
    request):

    1. An explicit ``base_url`` / ``api_key`` wins; an explicit key goes to
       the resolved base URL whatever its host. ``api_key=""`` sends no key.
    2. Otherwise ``$OPENROUTER_API_KEY`` with ``$OPENROUTER_BASE_URL`` or
       ``https://openrouter.ai/api/v1``; then ``$OPENAI_API_KEY`` with
       ``$OPENAI_BASE_URL`` or ``https://api.openai.com/v1``. With neither
       key set: ``$OPENROUTER_BASE_URL``, ``$OPENAI_BASE_URL``, OpenRouter.
    3. A key from the environment only goes to its own provider's hosts
       (``*.openrouter.ai``, ``*.openai.com``) or to the origin its own
       ``*_BASE_URL`` names; never to the other provider's hosts, and not to
       a loopback server unless that variable names it.
    4. A loopback base URL (``localhost``, ``127.0.0.0/8``, ``::1``) needs no
       key. An OpenRouter/OpenAI host with no key allowed there, or another
       host while environment keys are set but none may go there, raises
       :class:`EndpointError` naming the variables (never the key). So does
       a base URL without ``http://``/``https://``, without a host, or with
       a query string. Credentials in ``headers`` or on ``http_client``'s
       headers replace the key: none is then taken from the environment.
    5. A key sent over plain ``http://`` to a non-loopback host is allowed
       (LAN servers) with a ``UserWarning``.
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
        self._configure(base_url, api_key, headers, http_client, idle_timeout, limits)
        self._http = http_client
        self._owns_http = http_client is None

    def stream(
        self,
        *,
        model: str,
        messages: Any,
        headers: Mapping[str, str] | None = None,
        idle_timeout: float | None = None,
        telemetry: bool | Telemetry = True,
        parse_json: ParseJSON = False,
        **params: Any,
    ) -> AsyncChatStream:
        """Start a streamed completion; use the result with ``async with``.

        ``params`` go into the request body as they are (temperature, tools,
        stream_options...); ``stream`` is always set to true. ``parse_json`` is not sent:
        it parses tool arguments and/or content as they stream; ``telemetry``: see
        :func:`aconnect_chat`.
        """
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=_DEFAULT_TIMEOUT)
        return AsyncChatStream(
            self._http,
            self._request(model, messages, params, headers),
            idle_timeout=self._idle_timeout if idle_timeout is None else idle_timeout,
            limits=self._limits,
            telemetry=telemetry,
            parse_json=parse_json,
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
    """The sync twin of :class:`Client` over ``httpx.Client``; use ``stream()`` with ``with``.

    The base URL and key follow the same rule as :class:`Client`.
    """

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
        self._configure(base_url, api_key, headers, http_client, idle_timeout, limits)
        self._http = http_client
        self._owns_http = http_client is None

    def stream(
        self,
        *,
        model: str,
        messages: Any,
        headers: Mapping[str, str] | None = None,
        idle_timeout: float | None = None,
        telemetry: bool | Telemetry = True,
        parse_json: ParseJSON = False,
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
            telemetry=telemetry,
            parse_json=parse_json,
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
