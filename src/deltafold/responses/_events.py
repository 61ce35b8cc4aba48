"""The events of a Responses fold: chat's classes where the meaning is the same, a few more.

One loop serves both formats: text is a :class:`~deltafold.ContentDelta`, reasoning
(summary or text) a :class:`~deltafold.ReasoningDelta`, a refusal a
:class:`~deltafold.RefusalDelta`, a function call (or custom tool call) starts,
grows and ends with :class:`~deltafold.ToolCallStarted`,
:class:`~deltafold.ToolCallArgumentsDelta` and :class:`~deltafold.ToolCallDone`,
and usage is a :class:`~deltafold.UsageUpdated` in chat's terms. Their ``index``
(chat's choice) is always 0: a response has one output, which plays the part of
chat's first choice; ``tool_index`` is the call's ``output_index``. The classes
below carry what chat has no word for: items starting and ending, the other
tools' text, partial images, the response's status, a gap in the stream.
"""

from __future__ import annotations

from typing import TypeAlias

from attrs import frozen

from .._events import Event as ChatEvent
from ._items import Item

__all__ = [
    "Event",
    "ItemTextDelta",
    "OutputItemAdded",
    "OutputItemDone",
    "PartialImageAdded",
    "ResponseStatusChanged",
    "SequenceGap",
]


@frozen
class OutputItemAdded:
    """An output item started (``response.output_item.added``)."""

    output_index: int
    """The item's position in ``response.output``."""
    item: Item
    """The item as it was announced (text fields mostly empty)."""


@frozen
class OutputItemDone:
    """An output item reached its final form (``response.output_item.done``)."""

    output_index: int
    """The item's position in ``response.output``."""
    item: Item
    """The item as folded, the done event's fields merged in."""


@frozen
class ItemTextDelta:
    """New text of a hosted tool's item: interpreter code, MCP arguments, a shell command."""

    output_index: int
    """The item's position in ``response.output``."""
    field: str
    """The field it extends: ``code``, ``arguments``, ``commands``."""
    text: str
    """The new text, to append."""


@frozen
class PartialImageAdded:
    """A partial image of an image generation arrived (base64)."""

    output_index: int
    """The image generation item's position in ``response.output``."""
    partial_image_index: int
    """Which partial image this is (0-based)."""
    b64: str
    """The image, base64."""


@frozen
class ResponseStatusChanged:
    """The response's status changed (created, queued, in progress, a terminal event)."""

    status: str
    """The new status."""


@frozen
class SequenceGap:
    """``sequence_number`` jumped: the events between were lost (also on ``sequence_gaps``)."""

    after: int
    """The last sequence number seen before the gap."""
    got: int
    """The sequence number that came next."""


Event: TypeAlias = (
    ChatEvent
    | OutputItemAdded
    | OutputItemDone
    | ItemTextDelta
    | PartialImageAdded
    | ResponseStatusChanged
    | SequenceGap
)
"""Any event the Responses ``Accumulator.feed`` returns."""
