"""The one redactor: every key in play is scrubbed from what deltafold shows.

Pure text work with no I/O, so the sans-IO layers (the decoder's input heads)
and the HTTP boundary, the endpoint rule and the CLI all share it without
pulling in the network layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._exceptions import DeltafoldError
from ._jsontext import dumps, loads

__all__ = ["REDACTED", "SECRET_HEADERS", "Redactor"]

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

SECRET_HEADERS = frozenset(
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

_SECRET_PARAM = re.compile(r"key|token|secret|passw|auth|sig|credential", re.I)
"""Query parameter names whose values are treated as credentials."""


class Redactor:
    """The one scrubber: replaces each known secret by :data:`REDACTED` in text, data or an error.

    Built from the headers and URL of a request (:meth:`of_request`) or from
    a key (``Redactor([key])``); used for every error message, log line and
    CLI output that could echo a credential. Secrets under 4 characters are
    ignored (they would blank out ordinary text).
    """

    __slots__ = ("secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        found = {s for s in secrets if len(s) >= 4}
        self.secrets: list[str] = sorted(found, key=len, reverse=True)

    @classmethod
    def of_request(
        cls, url: object, headers: Mapping[str, str], extra: Iterable[str] = ()
    ) -> Redactor:
        """Credential headers (and bare tokens), the URL's password, key-like query values."""
        out: list[str] = list(extra)
        for name, value in headers.items():
            if name.lower() in SECRET_HEADERS and value:
                out.append(value)
                scheme, _, token = value.partition(" ")
                if token and scheme.lower() in ("bearer", "basic", "token"):
                    out.append(token.strip())
        try:
            parts = urlsplit(str(url))
            password = parts.password
        except ValueError:
            return cls(out)
        if password:
            out.append(password)
        query = parse_qsl(parts.query, keep_blank_values=True)
        out.extend(v for k, v in query if _SECRET_PARAM.search(k))
        return cls(out)

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced by :data:`REDACTED`."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    @staticmethod
    def guess(text: str) -> str:
        """``text`` with anything that *looks* like a credential replaced by :data:`REDACTED`.

        For text whose secrets are not known (the start of an unreadable input shown
        in an error): the name of a ``key=value`` or ``Bearer`` pair stays, its value goes.
        """
        return _TOKEN_LIKE.sub(lambda m: (m.group(1) or "") + REDACTED, text)

    def value(self, value: Any) -> Any:
        """``value`` (text, bytes or decoded JSON) without the secrets."""
        if not self.secrets or value is None:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, (bytes, bytearray)):
            data = bytes(value)
            for secret in self.secrets:
                data = data.replace(secret.encode(), REDACTED.encode())
            return data
        try:
            data = dumps(value)
        except (TypeError, ValueError):
            return value
        if not any(secret.encode() in data for secret in self.secrets):
            return value
        for secret in self.secrets:
            data = data.replace(secret.encode(), REDACTED.encode())
        return loads(data)

    def error(self, exc: DeltafoldError) -> None:
        """Remove the secrets from an error, in place.

        An upstream may echo the key in an in-band error or in an undecodable
        event; the message, the kept upstream data and ``.partial.extra`` (where
        the fold keeps a top-level ``error``) are scrubbed.
        """
        if not self.secrets:
            return
        exc.message = self(exc.message)
        exc.args = tuple(self(a) if isinstance(a, str) else a for a in exc.args)
        for name in _ERROR_FIELDS:
            if getattr(exc, name, None) is not None:
                setattr(exc, name, self.value(getattr(exc, name)))
        partial = exc.partial
        if partial is not None and partial.extra:
            partial.extra = {k: self.value(v) for k, v in partial.extra.items()}
