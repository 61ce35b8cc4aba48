"""A small convenience client: base URL and key from the environment, one ``stream()`` call.

Which base URL and which key: one rule, in ``_endpoint``. The key is kept in
a private attribute and sent per request; it is never put on the underlying
httpx client's headers (which may be the caller's), never shown by ``repr``,
and scrubbed from error messages (see ``_redact.Redactor``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx

from ._endpoint import OPENROUTER_URL, Endpoint, resolve_endpoint
from ._format import WireFormat
from ._http import Request, has_credential_header
from ._json_fold import ParseJSON
from ._limits import Limits
from ._retry import check_max_retries
from ._stream import AsyncChatStream, StreamBase
from ._stream_sync import ChatStream
from ._telemetry import Telemetry
from .messages._stream import AsyncMessageStream, MessageStream
from .responses._stream import AsyncResponseStream, ResponseStream

__all__ = ["Chat", "Client", "Messages", "Responses", "SyncClient"]

S = TypeVar("S", bound=StreamBase[Any, Any])
"""A format's stream class, async or sync."""

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
        fmt: WireFormat[Any, Any],
        fields: dict[str, Any],
        params: dict[str, Any],
        headers: Mapping[str, str] | None,
        options: _Options,
    ) -> Request:
        """What one call sends, for any wire format: ``fields`` (model, messages or input...),
        ``params`` and ``extra_body`` in the body, posted to the format's ``path`` under the
        base URL; the options not in the body.

        A credential header passed with the call (``headers`` or ``extra_headers``) replaces
        the key, as one set on the client does (the endpoint rule, which also says in which
        header the key goes).
        """
        refused = _CLIENT_OPTIONS.intersection(params)
        if refused:
            names = ", ".join(sorted(refused))
            raise TypeError(
                f"stream() got {names}: a setting of the client, not of one call (it would be "
                f"sent inside the request body); pass it to {type(self).__name__}(...)"
            )
        endpoint = self._endpoint
        endpoint.check_format(fmt.name)
        body = {**fields, **params, **(options.extra_body or {})}
        sent = dict(self._headers)
        sent.update(headers or {})
        sent.update(options.extra_headers or {})
        sent.update(endpoint.headers(sent))
        return Request(
            "POST", f"{self.base_url}{fmt.path}", body, sent, endpoint.secrets,
            params=options.extra_query, timeout=options.timeout,
        )

    def _retries(self, max_retries: int | None) -> int:
        return self._max_retries if max_retries is None else check_max_retries(max_retries)

    def _http_client(self) -> Any:
        raise NotImplementedError

    def _start(
        self,
        cls: type[S],
        fields: dict[str, Any],
        *,
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
    ) -> S:
        """Every ``stream()`` of every format: the stream class ``cls`` (which names its wire
        format) over the request :meth:`_request` builds; the per-call options are
        keywords here, so whatever else a call passes is a body field."""
        options = _Options(extra_headers, extra_query, extra_body, timeout)
        request = self._request(cls._format, fields, params, headers, options)
        make: Callable[..., S] = cls  # AsyncStream or SyncStream: the same arguments
        return make(
            self._http_client(),
            request,
            idle_timeout=self._idle_timeout if idle_timeout is None else idle_timeout,
            limits=self._limits,
            telemetry=telemetry,
            parse_json=parse_json,
            max_retries=self._retries(max_retries),
            follow_redirects=True,
        )

    def __repr__(self) -> str:
        key = "set" if self._endpoint.api_key else "none"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"


class Client(_Settings):
    """Async client for OpenRouter, OpenAI, Anthropic or any compatible endpoint.

    ``stream()`` (or ``chat.stream()``) streams a chat completion,
    ``responses.stream(model=..., input=...)`` a Responses API response and
    ``messages.stream(model=..., messages=..., max_tokens=...)`` an Anthropic
    message, each posted to its format's path under the base URL with the same
    options. OpenRouter serves all three, OpenAI chat and Responses, Anthropic
    Messages only: a format the endpoint's provider does not serve raises
    :class:`EndpointError` before any request.

    Pass ``http_client`` to share your own ``httpx.AsyncClient`` (it is not
    closed by ``aclose()``); otherwise one is created on first use and closed
    by ``aclose()`` / ``async with``.

    Where requests go and which key they carry (checked here, before any
    request):

    1. An explicit ``base_url`` / ``api_key`` wins; an explicit key goes to
       the resolved base URL whatever its host. ``api_key=""`` sends no key.
    2. Otherwise ``$OPENROUTER_API_KEY`` with ``$OPENROUTER_BASE_URL`` or
       ``https://openrouter.ai/api/v1``; then ``$OPENAI_API_KEY`` with
       ``$OPENAI_BASE_URL`` or ``https://api.openai.com/v1``; then
       ``$ANTHROPIC_API_KEY`` with ``$ANTHROPIC_BASE_URL`` or
       ``https://api.anthropic.com/v1``. With no key set: ``$OPENROUTER_BASE_URL``,
       ``$OPENAI_BASE_URL``, ``$ANTHROPIC_BASE_URL``, OpenRouter.
    3. A key from the environment only goes to its own provider's hosts
       (``*.openrouter.ai``, ``*.openai.com``, ``*.anthropic.com``) or to the origin its own
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
    6. The key goes as ``Authorization: Bearer``, except to Anthropic (its hosts, or the
       origin ``$ANTHROPIC_BASE_URL`` names): there as ``x-api-key``, with
       ``anthropic-version: 2023-06-01`` unless the call sends its own.
    7. Redirects are followed (as the OpenAI SDK does), and no credential header
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
        return self._start(
            AsyncChatStream, {"model": model, "messages": messages}, headers=headers,
            idle_timeout=idle_timeout, telemetry=telemetry, parse_json=parse_json,
            extra_headers=extra_headers, extra_query=extra_query, extra_body=extra_body,
            timeout=timeout, max_retries=max_retries, **params,
        )

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=_DEFAULT_TIMEOUT, follow_redirects=True)
        return self._http

    @property
    def chat(self) -> Chat[AsyncChatStream]:
        """``client.chat.stream(...)``: the same call as :meth:`stream`."""
        return Chat(self, AsyncChatStream)

    @property
    def responses(self) -> Responses[AsyncResponseStream]:
        """``client.responses.stream(model=..., input=..., **params)``: the Responses API."""
        return Responses(self, AsyncResponseStream)

    @property
    def messages(self) -> Messages[AsyncMessageStream]:
        """``client.messages.stream(model=..., messages=..., max_tokens=..., **params)``:
        Anthropic's Messages API."""
        return Messages(self, AsyncMessageStream)

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
        return self._start(
            ChatStream, {"model": model, "messages": messages}, headers=headers,
            idle_timeout=idle_timeout, telemetry=telemetry, parse_json=parse_json,
            extra_headers=extra_headers, extra_query=extra_query, extra_body=extra_body,
            timeout=timeout, max_retries=max_retries, **params,
        )

    def _http_client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=_DEFAULT_TIMEOUT, follow_redirects=True)
        return self._http

    @property
    def chat(self) -> Chat[ChatStream]:
        """``client.chat.stream(...)``: the same call as :meth:`stream`."""
        return Chat(self, ChatStream)

    @property
    def responses(self) -> Responses[ResponseStream]:
        """``client.responses.stream(model=..., input=..., **params)``: the Responses API."""
        return Responses(self, ResponseStream)

    @property
    def messages(self) -> Messages[MessageStream]:
        """``client.messages.stream(model=..., messages=..., max_tokens=..., **params)``:
        Anthropic's Messages API."""
        return Messages(self, MessageStream)

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


class _Resource(Generic[S]):
    """One wire format of a client: ``client.chat``, ``client.responses``, ``client.messages``.

    Its ``stream()`` takes the format's own fields and every option of
    :meth:`Client.stream` (``headers``, ``idle_timeout``, ``telemetry``, ``parse_json``,
    ``extra_body``, ``extra_headers``, ``extra_query``, ``timeout``, ``max_retries``); the
    rest goes into the body. The result is used with ``async with`` (``Client``) or
    ``with`` (``SyncClient``).
    """

    __slots__ = ("_client", "_cls")

    def __init__(self, client: _Settings, cls: type[S]) -> None:
        self._client = client
        self._cls = cls

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"


class Chat(_Resource[S]):
    """``client.chat``: chat completions, the same call as ``client.stream``."""

    __slots__ = ()

    def stream(self, *, model: str, messages: Any, **params: Any) -> S:
        """Stream a chat completion (see :meth:`Client.stream`)."""
        return self._client._start(self._cls, {"model": model, "messages": messages}, **params)


class Responses(_Resource[S]):
    """``client.responses``: the OpenAI Responses API (``POST {base_url}/responses``)."""

    __slots__ = ()

    def stream(self, *, model: str, input: Any, **params: Any) -> S:
        """Stream a Responses API response; iterating gives its events, ``completion``
        is the folded :class:`deltafold.responses.Response`. Options: those of
        :meth:`Client.stream`.
        """
        return self._client._start(self._cls, {"model": model, "input": input}, **params)


class Messages(_Resource[S]):
    """``client.messages``: Anthropic's Messages API (``POST {base_url}/messages``)."""

    __slots__ = ()

    def stream(self, *, model: str, messages: Any, max_tokens: int, **params: Any) -> S:
        """Stream a message; iterating gives its events, ``completion`` is the folded
        :class:`deltafold.messages.Message`. Options: those of :meth:`Client.stream`."""
        fields = {"model": model, "messages": messages, "max_tokens": max_tokens}
        return self._client._start(self._cls, fields, **params)
