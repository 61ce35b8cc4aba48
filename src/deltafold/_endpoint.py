"""The one endpoint and credential rule: which base URL, and which key goes with it.

Used by :class:`~deltafold.Client`, :class:`~deltafold.SyncClient` and
``deltafold stream``; the rule, for users, is on ``Client``'s docstring. The
principle: an explicit argument wins; a key from the environment only goes
to its own provider's hosts or to the origin its own ``*_BASE_URL`` names;
a loopback server needs no key; anything unusable fails here, before a
request, with :class:`EndpointError` naming variables, never a key.
"""

from __future__ import annotations

import ipaddress
import os
import warnings
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs
import httpx

from ._exceptions import EndpointError
from ._http import has_credential_header, origin, safe_url
from ._redact import Redactor

__all__ = [
    "ANTHROPIC_URL",
    "ANTHROPIC_VERSION",
    "OPENAI_URL",
    "OPENROUTER_URL",
    "Endpoint",
    "check_base_url",
    "check_http_url",
    "check_request_url",
    "resolve_endpoint",
]

OPENROUTER_URL = "https://openrouter.ai/api/v1"
OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com/v1"
ANTHROPIC_VERSION = "2023-06-01"
"""The ``anthropic-version`` header sent to Anthropic unless the caller sends its own."""


@attrs.frozen
class Provider:
    """One provider family: its hosts, its two environment variables, the wire formats it
    serves, and how its key is sent (``Authorization: Bearer``, or Anthropic's ``x-api-key``
    with an ``anthropic-version``)."""

    name: str
    domain: str
    key_var: str
    url_var: str
    default_url: str
    formats: frozenset[str] = frozenset({"chat", "responses", "messages"})
    anthropic_headers: bool = False

    def owns(self, host: str) -> bool:
        return host == self.domain or host.endswith("." + self.domain)


@attrs.frozen
class Spelling:
    """How the caller names the two settings, so that an error names what they can type."""

    base_url: str
    api_key: str
    no_key: str
    """How to say "no key, on purpose"."""


PYTHON = Spelling("base_url", "api_key", "api_key=''")
COMMAND_LINE = Spelling("--base-url", "--api-key", "--api-key ''")


PROVIDERS = (
    Provider(
        "OpenRouter", "openrouter.ai", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", OPENROUTER_URL
    ),
    Provider(
        "OpenAI", "openai.com", "OPENAI_API_KEY", "OPENAI_BASE_URL", OPENAI_URL,
        frozenset({"chat", "responses"}),
    ),
    Provider(
        "Anthropic", "anthropic.com", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ANTHROPIC_URL,
        frozenset({"messages"}), anthropic_headers=True,
    ),
)
"""In the order rule 2 picks a default base URL from the keys set."""


@attrs.frozen
class Endpoint:
    """A resolved endpoint: the base URL (no trailing slash) and the key to send, if any.

    ``provider`` is the family the base URL belongs to: by its host, or by the
    ``*_BASE_URL`` variable that names its origin; None for any other server.
    """

    base_url: str
    api_key: str | None = attrs.field(repr=False)
    provider: Provider | None
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)
    """Every key in play: the one sent and the environment's, all scrubbed from output."""

    def headers(self, sent: Mapping[str, str]) -> dict[str, str]:
        """What this endpoint adds to a request's ``sent`` headers: the key, in the header
        its provider reads (none when ``sent`` carries a credential already), and for
        Anthropic an ``anthropic-version`` (the caller's own wins)."""
        added: dict[str, str] = {}
        anthropic = self.provider is not None and self.provider.anthropic_headers
        key = self.api_key
        if key is not None and not has_credential_header(sent):
            added.update({"x-api-key": key} if anthropic else {"Authorization": f"Bearer {key}"})
        if anthropic and not any(name.lower() == "anthropic-version" for name in sent):
            added["anthropic-version"] = ANTHROPIC_VERSION
        return added

    def check_format(self, name: str) -> None:
        """:class:`EndpointError` before any request when this provider does not serve the
        wire format ``name`` (OpenAI has no Messages API, Anthropic no chat or Responses)."""
        provider = self.provider
        if provider is None or name in provider.formats:
            return
        served = " and ".join(sorted(provider.formats))
        others = [
            f"{p.name} ({p.key_var}, base_url={p.default_url!r})"
            for p in PROVIDERS if name in p.formats
        ]
        raise EndpointError(
            f"{provider.name} ({safe_url(self.base_url)}) serves the {served} format, not "
            f"{name}; make a client for a provider that does: {' or '.join(others)}"
        )

    @property
    def redactor(self) -> Redactor:
        """Scrubs every key in play from text about to be shown."""
        return Redactor(self.secrets)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".").lower()


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """The URL's :func:`~deltafold._http.origin`; None for a URL that does not parse."""
    try:
        return origin(url.strip())
    except (httpx.InvalidURL, ValueError):
        return None


def is_loopback(url: str) -> bool:
    host = _host(url)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown(text: str) -> str:
    """A URL for an error message: a query string or fragment (it may hold a key) cut off."""
    cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=-1)
    return text if cut < 0 else f"{text[:cut]}?..."


def check_http_url(url: str, where: str) -> str:
    """``url`` stripped, when it is an http:// or https:// URL with a host; else
    :class:`EndpointError` saying what is wrong and the likely fix ("did you mean http://...?").

    The one rule for every URL a caller gives: ``Client``'s base URL and the URL of
    ``aconnect_chat`` / ``connect_chat`` (through :func:`check_request_url`).
    """
    text = url.strip()
    if "://" not in text:
        guess = _shown(text.lstrip("/"))
        scheme = "http" if is_loopback(f"http://{guess}") else "https"
        shown = f"did you mean {scheme}://{guess}?" if guess else f"for example {OPENROUTER_URL}"
        raise EndpointError(f"{where}={_shown(url)!r} has no scheme; {shown}")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise EndpointError(f"{where}={_shown(url)!r} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        rest = _shown(text.split("://", 1)[1])
        raise EndpointError(
            f"{where}={_shown(url)!r} has scheme {parts.scheme!r}; use http:// or https://, "
            f"for example https://{rest}"
        )
    if not parts.hostname:
        raise EndpointError(
            f"{where}={_shown(url)!r} has no host; for example {scheme}://127.0.0.1:8000/v1"
        )
    return text


def check_request_url(http: httpx.AsyncClient | httpx.Client, url: str | httpx.URL) -> None:
    """The URL of ``aconnect_chat`` / ``connect_chat``, checked by :func:`check_http_url`.

    A URL with no scheme is fine when the client has a ``base_url`` to join it to.
    Costs a prefix test for the usual ``https://...`` string.
    """
    text = url if isinstance(url, str) else str(url)
    if text.startswith(("https://", "http://")) and text.partition("://")[2][:1] not in "/":
        return
    if "://" not in text and str(http.base_url):
        return
    check_http_url(text, "url")


def check_base_url(url: object, where: str = "base_url", spelling: Spelling = PYTHON) -> str:
    """``url`` without its trailing slash; else :class:`EndpointError` saying what and the fix.

    ``where`` names the argument or variable it came from.
    """
    if not isinstance(url, str):
        raise TypeError(
            f"{where} must be a str such as {OPENROUTER_URL!r}, got {type(url).__name__}"
        )
    text = check_http_url(url, where)
    parts = urlsplit(text)
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise EndpointError(
            f"{where} must not carry a query string or fragment (not shown, it may hold a key); "
            f"pass the key as {spelling.api_key}"
        )
    return text.rstrip("/")


def _provider_of(base: str, env: Mapping[str, str]) -> Provider | None:
    host = _host(base)
    for provider in PROVIDERS:
        if provider.owns(host):
            return provider
    origin = _origin(base)
    for provider in PROVIDERS:
        named = env.get(provider.url_var)
        if named and _origin(named) == origin:
            return provider
    return None


def _may_send(provider: Provider, base: str, env: Mapping[str, str]) -> bool:
    """May ``provider``'s key from the environment go to ``base``? (Rule 3.)"""
    host = _host(base)
    if provider.owns(host):
        return True
    if any(other.owns(host) for other in PROVIDERS):
        return False
    named = env.get(provider.url_var)
    return named is not None and _origin(named) == _origin(base)


def _default_base(env: Mapping[str, str]) -> str:
    """The base URL when none is passed (rule 2), checked, naming the variable it came from."""
    for provider in PROVIDERS:
        if env.get(provider.key_var):
            named = env.get(provider.url_var)
            return check_base_url(named, provider.url_var) if named else provider.default_url
    for provider in PROVIDERS:
        named = env.get(provider.url_var)
        if named:
            return check_base_url(named, provider.url_var)
    return OPENROUTER_URL


def resolve_endpoint(
    base_url: str | None = None,
    api_key: str | None = None,
    env: Mapping[str, str] | None = None,
    *,
    has_credentials: bool = False,
    spelling: Spelling = PYTHON,
) -> Endpoint:
    """Apply the module's rule; ``env`` defaults to ``os.environ``.

    ``has_credentials`` says the caller sends its own credential header, so
    no key is taken from the environment and none is required. ``spelling``
    names the settings in errors as the caller writes them (``COMMAND_LINE``).
    """
    env = os.environ if env is None else env
    if api_key is not None and not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str or None, got {type(api_key).__name__}")
    base = (
        _default_base(env)
        if base_url is None
        else check_base_url(base_url, spelling.base_url, spelling)
    )
    key = api_key
    if key is None and not has_credentials:
        keyed = [p for p in PROVIDERS if env.get(p.key_var)]
        key = next((env[p.key_var] for p in keyed if _may_send(p, base, env)), None)
        if key is None and not is_loopback(base):
            _require_key(base, keyed, spelling)
    if key and urlsplit(base).scheme.lower() == "http" and not is_loopback(base):
        warnings.warn(
            f"the API key is sent unencrypted to {_host(base)} over http://; use https:// "
            "unless this network is trusted",
            UserWarning,
            stacklevel=4,
        )
    secrets = tuple(s for s in (key, *(env.get(p.key_var) for p in PROVIDERS)) if s)
    return Endpoint(base, key or None, _provider_of(base, env), secrets)


def _require_key(base: str, keyed: list[Provider], spelling: Spelling) -> None:
    """Rule 4: fail now, rather than with a 401 later, when a key is needed and none may go."""
    host = _host(base)
    owner = next((p for p in PROVIDERS if p.owns(host)), None)
    if owner is None and not keyed:
        return  # a server of its own that may need no key
    held = [f"{p.key_var} is set but only goes to {p.domain} or to {p.url_var}" for p in keyed]
    shown = safe_url(base)
    if owner is not None:
        fix = f"set {owner.key_var} or pass {spelling.api_key}"
    else:
        fix = (
            f"pass {spelling.api_key} ({spelling.no_key} for a server that needs none), "
            f"or set {keyed[0].url_var}={shown}"
        )
    reasons = f" ({'; '.join(held)})" if held else ""
    raise EndpointError(f"no API key for {shown}: {fix}{reasons}")
