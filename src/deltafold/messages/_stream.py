"""Streaming an Anthropic Messages API message over HTTP: the format's two stream classes.

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
from ._format import MESSAGES, StreamEvent
from ._models import Message

__all__ = ["AsyncMessageStream", "MessageStream", "aconnect_messages", "connect_messages"]


class AsyncMessageStream(AsyncStream[Message, StreamEvent]):
    """One streamed Messages API message over an ``httpx.AsyncClient``.

    Iterating gives each event as a :class:`StreamEvent`; ``events()`` the fold's typed events;
    ``raw()`` the body's bytes; ``completion`` the :class:`Message`. Everything else is
    :class:`~deltafold.AsyncChatStream`'s, the same for every wire format.
    """

    _format = MESSAGES


class MessageStream(SyncStream[Message, StreamEvent]):
    """The sync twin of :class:`AsyncMessageStream`, over an ``httpx.Client``."""

    _format = MESSAGES


def aconnect_messages(
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
) -> AsyncMessageStream:
    """Stream a Messages API message with the caller's ``httpx.AsyncClient``.

    ``url`` is the endpoint itself (``.../v1/messages``); everything else is
    :func:`~deltafold.aconnect_chat`'s contract. Use the result with ``async with``.
    """
    return aconnect(
        AsyncMessageStream, http, url, json=json, headers=headers, idle_timeout=idle_timeout,
        limits=limits, method=method, telemetry=telemetry, parse_json=parse_json,
        max_retries=max_retries,
    )


def connect_messages(
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
) -> MessageStream:
    """The sync twin of :func:`aconnect_messages`; use the result with ``with``."""
    return connect(
        MessageStream, http, url, json=json, headers=headers, idle_timeout=idle_timeout,
        limits=limits, method=method, telemetry=telemetry, parse_json=parse_json,
        max_retries=max_retries,
    )
