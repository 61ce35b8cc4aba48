"""Events the fold emits while it folds: what changed, never a running total.

Each event is small and immutable. ``index`` is the choice index; tool-call
events also carry ``tool_index``, the call's position in
``message.tool_calls``. Text events carry only the new fragment, so
consuming events keeps the fold linear in the stream size.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from attrs import frozen

from ._models import Usage

__all__ = [
    "AnnotationAdded",
    "ChoiceFinished",
    "ContentDelta",
    "Event",
    "ImageAdded",
    "LogprobsDelta",
    "ReasoningDelta",
    "ReasoningDetailDelta",
    "RefusalDelta",
    "ToolCallArgumentsDelta",
    "ToolCallDone",
    "ToolCallStarted",
    "UsageUpdated",
]


@frozen
class ContentDelta:
    """New text of a choice's ``message.content``."""

    index: int
    text: str


@frozen
class RefusalDelta:
    """New text of a choice's ``message.refusal``."""

    index: int
    text: str


@frozen
class ReasoningDelta:
    """New text of ``message.reasoning`` (from ``reasoning`` or ``reasoning_content``)."""

    index: int
    text: str


@frozen
class ReasoningDetailDelta:
    """A ``reasoning_details`` fragment as it arrived; ``position`` is the detail it merged into."""

    index: int
    position: int
    detail: dict[str, Any]


@frozen
class ToolCallStarted:
    """A new tool call (or legacy function call, with ``tool_index`` -1) began."""

    index: int
    tool_index: int
    id: str
    name: str


@frozen
class ToolCallArgumentsDelta:
    """More argument text for a tool call.

    ``replaced`` is True when the provider re-sent the whole arguments and
    ``text`` is the complete new value rather than an addition.
    """

    index: int
    tool_index: int
    text: str
    replaced: bool = False


@frozen
class ToolCallDone:
    """A tool call is complete: its choice finished or the stream ended."""

    index: int
    tool_index: int
    id: str
    name: str
    arguments: str


@frozen
class LogprobsDelta:
    """New per-token log probabilities (wire dicts) for content and/or refusal."""

    index: int
    content: list[Any] | None
    refusal: list[Any] | None


@frozen
class AnnotationAdded:
    """A new annotation (for example a ``url_citation``) as a wire dict."""

    index: int
    annotation: dict[str, Any]


@frozen
class ImageAdded:
    """A new image as a wire dict."""

    index: int
    image: dict[str, Any]


@frozen
class UsageUpdated:
    """Usage arrived; ``usage`` is the merged usage so far."""

    usage: Usage


@frozen
class ChoiceFinished:
    """A choice got its finish_reason (or a different one than before)."""

    index: int
    finish_reason: str


Event: TypeAlias = (
    ContentDelta
    | RefusalDelta
    | ReasoningDelta
    | ReasoningDetailDelta
    | ToolCallStarted
    | ToolCallArgumentsDelta
    | ToolCallDone
    | LogprobsDelta
    | AnnotationAdded
    | ImageAdded
    | UsageUpdated
    | ChoiceFinished
)
"""Any event ``Accumulator.feed`` returns."""
