"""The events only a Messages stream has; the others are the shared ones of ``_events``.

Where an event means what a chat event means, the fold emits the shared class
(so one event loop serves every format): ``ContentDelta`` (a text delta),
``ReasoningDelta`` (a thinking delta), ``ToolCallStarted`` /
``ToolCallArgumentsDelta`` / ``ToolCallDone`` (a ``tool_use`` block),
``JSONDelta`` / ``JSONInvalid`` (``parse_json``), ``UsageUpdated``,
``ChoiceFinished`` (the stop reason). In those, ``index`` is 0 (a message is one
answer) and ``tool_index`` is the block's index in ``message.content``. The
events below carry the block index as ``index``.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from attrs import frozen

from .._events import Event as ChatEvent
from ._blocks import Block

__all__ = ["BlockStarted", "BlockStopped", "CitationAdded", "Event", "SignatureAdded"]


@frozen
class BlockStarted:
    """A content block began (``content_block_start``)."""

    index: int
    """The block's index in ``message.content``."""
    block: Block
    """The block as it starts (text empty, input ``{}``...)."""


@frozen
class BlockStopped:
    """A content block is complete (``content_block_stop``)."""

    index: int
    """The block's index in ``message.content``."""
    block: Block
    """The block in its final form (a tool block's ``input`` parsed)."""


@frozen
class SignatureAdded:
    """A thinking block got its signature (``signature_delta``); it replaces any before."""

    index: int
    """The thinking block's index in ``message.content``."""
    signature: str
    """The signature."""


@frozen
class CitationAdded:
    """A text block got a citation (``citations_delta``)."""

    index: int
    """The text block's index in ``message.content``."""
    citation: dict[str, Any]
    """The citation, as sent."""


Event: TypeAlias = ChatEvent | BlockStarted | BlockStopped | SignatureAdded | CitationAdded
"""Any event the Messages ``Accumulator.feed`` returns."""
