"""An Anthropic message and its usage, as the non-streaming Messages call returns them.

The fields deltafold reads are typed (``content``, ``usage``, ``stop_reason``);
``container`` and ``context_management`` stay plain JSON values, as sent. Unknown
fields are kept in ``extra`` and written back by ``to_dict``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import define, field

from ._blocks import OFF_WIRE, Block, MessagesModel, TextBlock

__all__ = ["CacheCreation", "Message", "ServerToolUsage", "Usage"]


@define
class CacheCreation(MessagesModel):
    """The cache-write input tokens by lifetime."""

    ephemeral_5m_input_tokens: int | None = None
    """Tokens written to the 5-minute cache."""
    ephemeral_1h_input_tokens: int | None = None
    """Tokens written to the 1-hour cache."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class ServerToolUsage(MessagesModel):
    """How many server tool requests the message made."""

    web_search_requests: int | None = None
    """Web searches run."""
    web_fetch_requests: int | None = None
    """Web pages fetched."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class Usage(MessagesModel):
    """Token counts of a message, in Anthropic's convention.

    ``input_tokens`` excludes the cached input: the prompt's size is
    ``input_tokens + cache_creation_input_tokens + cache_read_input_tokens``
    (:attr:`prompt_tokens`).
    """

    input_tokens: int | None = None
    """Input tokens read fresh (neither written to nor read from the cache)."""
    output_tokens: int | None = None
    """Tokens generated (cumulative: each ``message_delta`` sends the total so far)."""
    cache_creation_input_tokens: int | None = None
    """Input tokens written to the cache."""
    cache_read_input_tokens: int | None = None
    """Input tokens read from the cache."""
    cache_creation: CacheCreation | None = None
    """The cache writes by lifetime."""
    server_tool_use: ServerToolUsage | None = None
    """Server tool requests."""
    service_tier: str | None = None
    """``standard``, ``priority`` or ``batch``."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""

    @property
    def prompt_tokens(self) -> int | None:
        """All input tokens, cached ones included (the OpenAI convention); None without any."""
        parts = (
            self.input_tokens, self.cache_creation_input_tokens, self.cache_read_input_tokens
        )
        if all(p is None for p in parts):
            return None
        return sum(p for p in parts if p is not None)


@define
class Message(MessagesModel):
    """An Anthropic message, as the non-streaming call returns it.

    >>> m = Message.from_dict({"id": "msg_1", "content": [{"type": "text", "text": "Hi"}]})
    >>> m.text
    'Hi'
    """

    id: str = ""
    """The message's id."""
    type: str = "message"
    """Always ``"message"``."""
    role: str = "assistant"
    """Always ``"assistant"``."""
    model: str = ""
    """The model that answered."""
    content: list[Block] = field(factory=list)
    """The content blocks, in ``index`` order."""
    stop_reason: str | None = None
    """``end_turn``, ``max_tokens``, ``stop_sequence``, ``tool_use``, ``pause_turn``,
    ``refusal``... (any value is kept)."""
    stop_sequence: str | None = None
    """The stop sequence that ended the message, if one did."""
    usage: Usage | None = None
    """Token counts."""
    container: Any = None
    """The code execution container used (its id and expiry), as sent."""
    context_management: Any = None
    """What context management did, as sent."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""
    unknown_events: list[dict[str, Any]] = field(
        factory=list, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Stream events (and block deltas) of a type the fold does not know, as they arrived.
    Not on the wire."""
    ALWAYS: ClassVar[frozenset[str]] = frozenset({"id", "type", "role", "content"})

    @property
    def text(self) -> str:
        """The text of every text block, joined (as the SDK's convenience)."""
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))

    def to_param(self) -> dict[str, Any]:
        """The message as the next request's assistant turn: ``{"role": "assistant", "content"}``.

        Every block as the API takes it back: ``thinking`` with its signature,
        ``redacted_thinking`` with its data, ``tool_use`` with its input (an object),
        text with its citations, server tool blocks as they are. Fields that arrived null
        are left out (the request side refuses a null ``caller``), and so are empty text
        blocks (the API refuses them); nothing off the wire (``input_json``) appears.

        >>> m = Message.from_dict({"id": "msg_1", "content": [
        ...     {"type": "thinking", "thinking": "Hm.", "signature": "sig"},
        ...     {"type": "text", "text": "", "citations": None},
        ...     {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": 1}}]})
        >>> m.to_param()["content"]  # doctest: +NORMALIZE_WHITESPACE
        [{'type': 'thinking', 'thinking': 'Hm.', 'signature': 'sig'},
         {'type': 'tool_use', 'id': 'toolu_1', 'name': 'f', 'input': {'x': 1}}]
        """
        content = []
        for block in self.content:
            wire = {k: v for k, v in block.to_dict().items() if v is not None}
            if wire.get("type") == "text" and not wire.get("text"):
                continue
            content.append(wire)
        return {"role": "assistant", "content": content}
