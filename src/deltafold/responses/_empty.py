"""Saying what came instead of a Responses stream.

Input with no event of any format gets an :class:`EmptyStreamError` saying what it
held; an event of another format is ``_format.refuse_other_format``'s (one rule for
every fold), which names the function that reads it.
"""

from __future__ import annotations

from typing import Any

from .._decode import InputSeen
from .._exceptions import EmptyStreamError

__all__ = ["no_event_error"]


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
