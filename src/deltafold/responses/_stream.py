"""Streaming a Responses API response over HTTP: the format's two stream classes.

The drivers are the chat ones (``deltafold._stream`` / ``_stream_sync``); a class here only
names its format, and the connect functions are the shared ``aconnect`` / ``connect``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from .._json_fold import ParseJSON
from .._limits import Limits
from .._stream import AsyncStream, aconnect
from .._stream_sync import SyncStream, connect
from .._telemetry import Telemetry
from ._format import RESPONSES
from ._models import Response

__all__ = ["AsyncResponseStream", "ResponseStream", "aconnect_responses", "connect_responses"]


class AsyncResponseStream(AsyncStream[Response, dict[str, Any]]):
    """One streamed Responses API response over an ``httpx.AsyncClient``.

    Iterating gives the events (dicts, as decoded); ``events()`` the fold's typed events;
    ``raw()`` the body's bytes; ``completion`` the :class:`Response`. Everything else is
    :class:`~deltafold.AsyncChatStream`'s, the same for every wire format.
    """

    _format = RESPONSES


class ResponseStream(SyncStream[Response, dict[str, Any]]):
    """The sync twin of :class:`AsyncResponseStream`, over an ``httpx.Client``."""

    _format = RESPONSES


def aconnect_responses(
    http: httpx.AsyncClient,
    url: str | httpx.URL,
    *,
    json: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    idle_timeout: float | None = None,
    limits: Limits | None = None,
    method: str = "POST",
    telemetry: bool | Telemetry = True,
    parse_json: ParseJSON = False,
    max_retries: int = 0,
) -> AsyncResponseStream:
    """Stream a Responses API response with the caller's ``httpx.AsyncClient``.

    ``url`` is the endpoint itself (``.../v1/responses``); everything else is
    :func:`~deltafold.aconnect_chat`'s contract. Use the result with ``async with``.
    """
    return aconnect(
        AsyncResponseStream, http, url, json=json, headers=headers, idle_timeout=idle_timeout,
        limits=limits, method=method, telemetry=telemetry, parse_json=parse_json,
        max_retries=max_retries,
    )


def connect_responses(
    http: httpx.Client,
    url: str | httpx.URL,
    *,
    json: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    idle_timeout: float | None = None,
    limits: Limits | None = None,
    method: str = "POST",
    telemetry: bool | Telemetry = True,
    parse_json: ParseJSON = False,
    max_retries: int = 0,
) -> ResponseStream:
    """The sync twin of :func:`aconnect_responses`; use the result with ``with``."""
    return connect(
        ResponseStream, http, url, json=json, headers=headers, idle_timeout=idle_timeout,
        limits=limits, method=method, telemetry=telemetry, parse_json=parse_json,
        max_retries=max_retries,
    )
