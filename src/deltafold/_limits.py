"""Limits that keep a broken or hostile upstream from eating the app's memory.

Every limit has a safe default and can be set per call; ``None`` turns one off.
Exceeding one raises :class:`LimitExceededError` before memory grows past it,
with ``.partial`` holding everything folded before (docs/hardening.md).
"""

from __future__ import annotations

from attrs import frozen

from ._exceptions import LimitExceededError

__all__ = ["Limits", "limit_error"]


@frozen
class Limits:
    """Upper bounds for one stream.

    The defaults admit every real stream we know of (a base64 image in one
    event is a few MB) while stopping runaway input long before it hurts.
    """

    max_event_bytes: int | None = 32 * 1024 * 1024
    """Bytes of one SSE event (its lines since the last blank line, comments included), or of
    one line of a JSON-lines body. Checked by the SSE framer as bytes arrive, so an endless
    line is cut here without being buffered."""
    max_total_bytes: int | None = 1024 * 1024 * 1024
    """Bytes of the whole response body (SSE as it arrives, a JSON body up front)."""
    max_choices: int | None = 128
    """Distinct choice indexes."""
    max_tool_calls: int | None = 1024
    """Tool calls in one choice."""
    max_field_chars: int | None = 256 * 1024 * 1024
    """Characters of one accumulated text: content, refusal, reasoning, one tool call's
    arguments, one reasoning_details text/summary/data, audio data/transcript, and any
    unknown string field that concatenates. Each has its own running length, checked before
    a fragment is kept."""
    max_json_depth: int | None = 512
    """Objects and arrays open at once in one JSON value read by :class:`PartialJSON`. The
    parser holds its nesting in a list, not the call stack, so this bounds memory per level
    and the depth of the value handed to code that walks it recursively."""

    @classmethod
    def unlimited(cls) -> Limits:
        """No limit at all: for trusted input only."""
        return cls(None, None, None, None, None, None)


def limit_error(
    limit: str, value: int, maximum: int | None, where: str | None = None
) -> LimitExceededError:
    """The one error (and message format) for an exceeded limit; the caller raises it.

    ``where`` names the place (a field path, "an SSE event", "a JSON line"). The
    fold attaches ``.partial`` on its way out.
    """
    place = f" at {where}" if where else ""
    return LimitExceededError(
        f"{limit} exceeded{place}: {value} > {maximum}",
        limit=limit,
        value=value,
        maximum=maximum,
    )
