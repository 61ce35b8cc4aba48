"""Telling a Responses stream from the other wire formats, and saying what came instead.

A body of another format given to the Responses fold must not fold into an
empty success: the first event of a chat-completion stream (``choices``, an
``object`` of ``chat.completion*``) or of an Anthropic Messages stream
(``message_start``, ``content_block_*``...) raises a :class:`WrongFormatError`
that names the function that reads it. Input with no event of any format gets
an :class:`EmptyStreamError` saying what it held.
"""

from __future__ import annotations

from typing import Any

from .._decode import InputSeen
from .._exceptions import EmptyStreamError, WrongFormatError

__all__ = ["MESSAGES_TYPES", "no_event_error", "other_format"]

MESSAGES_TYPES = frozenset(
    {
        "message_start", "message_delta", "message_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
    }
)
"""The event types of an Anthropic Messages stream."""
_USE = {
    "chat": "deltafold.assemble (chat completions)",
    "messages": "deltafold.messages (Anthropic Messages)",
}


def other_format(event: dict[str, Any]) -> WrongFormatError | None:
    """The error for an event of another wire format, or None when it may be a Responses one."""
    kind = event.get("type")
    found = None
    if kind in MESSAGES_TYPES:
        found = "messages"
    elif "choices" in event or str(event.get("object", "")).startswith("chat.completion"):
        found = "chat"
    if found is None:
        return None
    what = f"type {kind!r}" if found == "messages" else "'choices'"
    return WrongFormatError(
        f"this is not a Responses API stream: its first event is a "
        f"{'chat-completion chunk' if found == 'chat' else 'Anthropic Messages event'} "
        f"({what}); fold it with {_USE[found]}",
        found=found,
        use=_USE[found].split(" ")[0],
    )


def no_event_error(seen: InputSeen | None, count: int, unknown: list[Any]) -> EmptyStreamError:
    """The error for input that held no Responses event: what it held instead."""
    lead = "no Responses API event in the input"
    head = seen.head() if seen is not None else None
    if count:
        kinds = sorted({str(e.get("type")) for e in unknown if isinstance(e, dict)})[:5]
        held = f"; their types: {', '.join(kinds)}" if kinds else ""
        items = "1 event" if count == 1 else f"{count} events"
        return EmptyStreamError(
            f"{lead}: {items} arrived but none was a response.* or error event{held}", head=head
        )
    if seen is None:
        return EmptyStreamError(f"{lead}: no event was fed")
    return EmptyStreamError(f"{lead}: {seen.describe()}", head=head)
