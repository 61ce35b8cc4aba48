"""Events the fold emits while it folds: what changed, never a running total.

Each event is small and immutable. ``index`` is the choice index; tool-call
events also carry ``tool_index``, the call's position in
``message.tool_calls``. Text events carry only the new fragment, so
consuming events keeps the fold linear in the stream size.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from attrs import frozen

from ._exceptions import JSONParseError
from ._json_events import JSONEvent
from ._models import Usage

__all__ = [
    "AnnotationAdded",
    "ChoiceFinished",
    "ContentDelta",
    "Event",
    "ImageAdded",
    "JSONDelta",
    "JSONInvalid",
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
    """The choice index."""
    text: str
    """The new text, to append."""


@frozen
class RefusalDelta:
    """New text of a choice's ``message.refusal``."""

    index: int
    """The choice index."""
    text: str
    """The new text, to append."""


@frozen
class ReasoningDelta:
    """New text of ``message.reasoning`` (from ``reasoning`` or ``reasoning_content``)."""

    index: int
    """The choice index."""
    text: str
    """The new text, to append."""


@frozen
class ReasoningDetailDelta:
    """A ``reasoning_details`` fragment as it arrived; ``position`` is the detail it merged into."""

    index: int
    """The choice index."""
    position: int
    """The detail's position in ``message.reasoning_details``."""
    detail: dict[str, Any]
    """The fragment, as the wire dict that arrived."""


@frozen
class ToolCallStarted:
    """A new tool call (or legacy function call, with ``tool_index`` -1) began."""

    index: int
    """The choice index."""
    tool_index: int
    """The call's position in ``message.tool_calls`` (-1: the legacy ``function_call``)."""
    id: str
    """The call's id (``""`` until the provider sends one)."""
    name: str
    """The function's name (``""`` until the provider sends one)."""


@frozen
class ToolCallArgumentsDelta:
    """More argument text for a tool call.

    ``replaced`` is True when the provider re-sent the whole arguments and
    ``text`` is the complete new value rather than an addition.
    """

    index: int
    """The choice index."""
    tool_index: int
    """The call's position in ``message.tool_calls`` (-1: the legacy ``function_call``)."""
    text: str
    """The new argument text (the whole value when ``replaced``)."""
    replaced: bool = False
    """True when ``text`` replaces the arguments so far instead of extending them."""


@frozen
class ToolCallDone:
    """A tool call is complete: its choice finished or the stream ended."""

    index: int
    """The choice index."""
    tool_index: int
    """The call's position in ``message.tool_calls`` (-1: the legacy ``function_call``)."""
    id: str
    """The call's id."""
    name: str
    """The function's name."""
    arguments: str
    """The complete arguments as JSON text."""


@frozen
class LogprobsDelta:
    """New per-token log probabilities (wire dicts) for content and/or refusal."""

    index: int
    """The choice index."""
    content: list[Any] | None
    """New entries for the content tokens, as wire dicts."""
    refusal: list[Any] | None
    """New entries for the refusal tokens, as wire dicts."""


@frozen
class AnnotationAdded:
    """A new annotation (for example a ``url_citation``) as a wire dict."""

    index: int
    """The choice index."""
    annotation: dict[str, Any]
    """The annotation as its wire dict."""


@frozen
class ImageAdded:
    """A new image as a wire dict."""

    index: int
    """The choice index."""
    image: dict[str, Any]
    """The image as its wire dict."""


@frozen
class UsageUpdated:
    """Usage arrived; ``usage`` is the merged usage so far."""

    usage: Usage
    """The usage merged so far (the latest value of each field)."""


@frozen
class ChoiceFinished:
    """A choice got its finish_reason (or a different one than before)."""

    index: int
    """The choice index."""
    finish_reason: str
    """The new finish reason."""


@frozen
class JSONDelta:
    """What a fragment changed in a parsed value (``parse_json``), after the text event.

    Follows the ``ContentDelta`` or ``ToolCallArgumentsDelta`` of the same fragment,
    only when that fragment produced JSON events.
    """

    index: int
    """The choice index."""
    tool_index: int | None
    """The call's position in ``message.tool_calls``; -1: the legacy ``function_call``; None:
    the message content."""
    events: tuple[JSONEvent, ...]
    """The parser's events for the fragment, paths from the value's top (see ``PartialJSON``)."""


@frozen
class JSONInvalid:
    """A parsed value turned out not to be JSON (``parse_json``): reported once, then not parsed.

    The raw text keeps folding; the result has the same error in ``parse_error``.
    """

    index: int
    """The choice index."""
    tool_index: int | None
    """The call's position in ``message.tool_calls``; -1: the legacy ``function_call``; None:
    the message content."""
    error: JSONParseError
    """Why: the position, the path and what was expected (the text ended early, at the end)."""


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
    | JSONDelta
    | JSONInvalid
)
"""Any event ``Accumulator.feed`` returns."""
