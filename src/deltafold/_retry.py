"""Retries before a stream opens: which failures are retried, and how long to wait first.

The OpenAI SDK's habits, which users bring along: a connection error or timeout, and
the statuses 408, 409, 429 and 5xx, are tried again up to ``max_retries`` times (2 by
default on :class:`~deltafold.Client`), after an exponential backoff with jitter, or
after what the server asked for (``retry-after-ms``, ``Retry-After`` in seconds or as
an HTTP date) when that is at most a minute. Once a 2xx event stream is open nothing
is retried: events have been handed out, and a second answer could differ. The drivers
own the sleeping and the sending; the decision is this module's only.
"""

from __future__ import annotations

import email.utils
import random
import time

import httpx

__all__ = ["check_max_retries", "retry_delay"]

INITIAL_DELAY = 0.5
"""The first backoff, in seconds; each retry doubles it, up to :data:`MAX_DELAY`."""
MAX_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
"""A server's wait is honoured up to this many seconds; past it, the backoff applies."""
_RETRIED_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
"""Failures to get an answer that may go away: not a bad URL or an unsupported scheme."""


def check_max_retries(value: object) -> int:
    """``max_retries`` checked once, when a stream is made: an int >= 0."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"max_retries must be an int >= 0, got {value!r}")
    return value


def retry_delay(
    retries: int, max_retries: int, failure: httpx.Response | BaseException
) -> float | None:
    """Seconds to wait before trying again after ``failure``, or None: do not retry.

    ``failure`` is the answer of a stream that did not open (any status; a 2xx is never
    retried) or the error raised while waiting for one. ``retries`` were made already.
    """
    if retries >= max_retries:
        return None
    if isinstance(failure, httpx.Response):
        status = failure.status_code
        if not (status in (408, 409, 429) or status >= 500):
            return None
        asked = retry_after(failure.headers)
        if asked is not None:
            return asked
    elif not isinstance(failure, (*_RETRIED_ERRORS, TimeoutError)):
        return None
    backoff = min(INITIAL_DELAY * 2.0**retries, MAX_DELAY)
    return backoff * (1.0 - 0.25 * random.random())


def retry_after(headers: httpx.Headers) -> float | None:
    """The server's wait in seconds, when it gives one within :data:`MAX_RETRY_AFTER`."""
    wait: float | None = None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            wait = float(millis) / 1000.0
        except ValueError:
            wait = None
    value = headers.get("retry-after")
    if wait is None and value is not None:
        try:
            wait = float(value)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                wait = email.utils.mktime_tz(parsed) - time.time()
    if wait is None or wait != wait or not 0.0 <= wait <= MAX_RETRY_AFTER:
        return None
    return wait
