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
from ._retry import check_max_retries
from ._stream import AsyncChatStream
from ._stream_sync import ChatStream
from ._telemetry import Telemetry

__all__ = ["Client", "SyncClient"]

DEFAULT_BASE_URL = OPENROUTER_URL
_DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
"""Like the OpenAI SDK: two more tries before the stream opens (see ``_retry``)."""
_CLIENT_OPTIONS = frozenset(
    {"api_key", "base_url", "http_client", "default_headers", "default_query"}
)
"""Names of client settings, never body fields: passed to ``stream()`` they are refused,
as they would otherwise go to the server inside the request body."""


class _Options:
    """The OpenAI SDK's per-call options that ``stream()`` honours instead of sending them."""

    __slots__ = ("extra_body", "extra_headers", "extra_query", "timeout")

    def __init__(
        self,
        extra_headers: Mapping[str, str] | None,
        extra_query: Mapping[str, Any] | None,
        extra_body: Mapping[str, Any] | None,
        timeout: float | httpx.Timeout | None,
    ) -> None:
        for name, value in (
            ("extra_headers", extra_headers), ("extra_query", extra_query),
            ("extra_body", extra_body),
        ):
            if value is not None and not isinstance(value, Mapping):
                raise TypeError(f"{name} must be a mapping or None, got {type(value).__name__}")
        if timeout is not None and (
            not isinstance(timeout, (int, float, httpx.Timeout)) or isinstance(timeout, bool)
        ):
            raise TypeError(
                f"timeout must be seconds (a float) or an httpx.Timeout, got {timeout!r}"
            )
        self.extra_headers = extra_headers
        self.extra_query = extra_query
        self.extra_body = extra_body
        self.timeout = timeout


class _Settings:
    """What both clients share: where to send, what to send with it."""

    _endpoint: Endpoint
    _headers: dict[str, str]
    _idle_timeout: float | None
    _limits: Limits | None
    _max_retries: int

    def _configure(
        self,
        base_url: str | None,
        api_key: str | None,
        headers: Mapping[str, str] | None,
        http_client: httpx.AsyncClient | httpx.Client | None,
        idle_timeout: float | None,
        limits: Limits | None,
        max_retries: int,
    ) -> None:
        self._max_retries = check_max_retries(max_retries)
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
        self,
        model: str,
        messages: Any,
        params: dict[str, Any],
        headers: Mapping[str, str] | None,
        options: _Options,
    ) -> Request:
        """What one call sends: ``params`` and ``extra_body`` in the body, the options not.

        A credential header passed with the call (``headers`` or ``extra_headers``) replaces
        the key, as one set on the client does (the endpoint rule).
        """
        refused = _CLIENT_OPTIONS.intersection(params)
        if refused:
            names = ", ".join(sorted(refused))
            raise TypeError(
                f"stream() got {names}: a setting of the client, not of one call (it would be "
                f"sent inside the request body); pass it to {type(self).__name__}(...)"
            )
        body = {"model": model, "messages": messages, **params, **(options.extra_body or {})}
        sent = dict(self._headers)
        sent.update(headers or {})
        sent.update(options.extra_headers or {})
        key = self._endpoint.api_key
        if key is not None and not has_credential_header(sent):
            sent["Authorization"] = f"Bearer {key}"
        url = f"{self.base_url}/chat/completions"
        return Request(
            "POST", url, body, sent, self._endpoint.secrets,
            params=options.extra_query, timeout=options.timeout,
        )

    def _retries(self, max_retries: int | None) -> int:
        return self._max_retries if max_retries is None else check_max_retries(max_retries)

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
    6. Redirects are followed (as the OpenAI SDK does), and no credential header
       (``Authorization``, ``x-api-key``...) follows one to another origin.

    ``max_retries`` (2, as in the OpenAI SDK) retries a connection error, a timeout,
    or a 408, 409, 429 or 5xx answer before the stream opens, with exponential
    backoff and jitter or after the server's ``Retry-After``; never once events
    arrived. ``stream.retries`` says how many were made.
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
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self._configure(
            base_url, api_key, headers, http_client, idle_timeout, limits, max_retries
        )
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
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        **params: Any,
    ) -> AsyncChatStream:
        """Start a streamed completion; use the result with ``async with``.

        ``params`` go into the request body as they are (temperature, tools,
        stream_options...); ``stream`` is always set to true. ``parse_json`` is not sent:
        it parses tool arguments and/or content as they stream; ``telemetry``: see
        :func:`aconnect_chat`. As with the OpenAI SDK, ``extra_body`` is merged into the
        body (provider fields such as OpenRouter's ``provider``), ``extra_headers`` are
        sent as headers, ``extra_query`` as query parameters, and ``timeout`` (seconds or
        an ``httpx.Timeout``) replaces the client's for this request; none of them is a
        body field. ``max_retries`` overrides the client's for this call. Client settings
        (``api_key``, ``base_url``...) are refused with ``TypeError``.
        """
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=_DEFAULT_TIMEOUT, follow_redirects=True)
        options = _Options(extra_headers, extra_query, extra_body, timeout)
        return AsyncChatStream(
            self._http,
            self._request(model, messages, params, headers, options),
            idle_timeout=self._idle_timeout if idle_timeout is None else idle_timeout,
            limits=self._limits,
            telemetry=telemetry,
            parse_json=parse_json,
            max_retries=self._retries(max_retries),
            follow_redirects=True,
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
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self._configure(
            base_url, api_key, headers, http_client, idle_timeout, limits, max_retries
        )
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
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        **params: Any,
    ) -> ChatStream:
        """Start a streamed completion; use the result with ``with`` (see :meth:`Client.stream`)."""
        if self._http is None:
            self._http = httpx.Client(timeout=_DEFAULT_TIMEOUT, follow_redirects=True)
        options = _Options(extra_headers, extra_query, extra_body, timeout)
        return ChatStream(
            self._http,
            self._request(model, messages, params, headers, options),
            idle_timeout=self._idle_timeout if idle_timeout is None else idle_timeout,
            limits=self._limits,
            telemetry=telemetry,
            parse_json=parse_json,
            max_retries=self._retries(max_retries),
            follow_redirects=True,
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
