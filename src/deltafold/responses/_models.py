"""The Responses API response: its fields, usage, error and status details.

The response-level fields are typed where deltafold reads them (``status``,
``usage``, ``error``, ``incomplete_details``, ``output``) and where a caller
reads them often (``model``, ``created_at``...); the request settings it echoes
(``tools``, ``text``, ``reasoning``, ``tool_choice``...) stay plain JSON values,
as sent. A few fields are off the wire: what the stream told that the response
object has no place for (partial images live on their item; see each field).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from attrs import define, field

from .._exceptions import JSONParseError  # a field's type: cattrs reads it at run time
from .._models import WIRE
from ._items import Item, Message
from ._parts import OFF_WIRE, OutputText, ResponsesModel

if TYPE_CHECKING:
    from cattrs import BaseConverter

T = TypeVar("T")

__all__ = [
    "IncompleteDetails",
    "InputTokensDetails",
    "OutputTokensDetails",
    "Response",
    "ResponseError",
    "ResponseUsage",
]


@define
class InputTokensDetails(ResponsesModel):
    """Breakdown of the input tokens."""

    cached_tokens: int | None = None
    """Input tokens read from the prompt cache."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class OutputTokensDetails(ResponsesModel):
    """Breakdown of the output tokens."""

    reasoning_tokens: int | None = None
    """Output tokens spent on reasoning."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class ResponseUsage(ResponsesModel):
    """Token counts of a response (and a gateway's cost fields, in ``extra``)."""

    input_tokens: int | None = None
    """Tokens in the input."""
    input_tokens_details: InputTokensDetails | None = None
    """Breakdown of the input tokens."""
    output_tokens: int | None = None
    """Tokens generated, reasoning included."""
    output_tokens_details: OutputTokensDetails | None = None
    """Breakdown of the output tokens."""
    total_tokens: int | None = None
    """Input plus output tokens."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class ResponseError(ResponsesModel):
    """Why a response failed (``status == "failed"``)."""

    code: str | None = None
    """The error code, such as ``server_error`` or ``rate_limit_exceeded``."""
    message: str | None = None
    """What went wrong, in words."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class IncompleteDetails(ResponsesModel):
    """Why a response is incomplete (``status == "incomplete"``)."""

    reason: str | None = None
    """``max_output_tokens`` or ``content_filter``."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class Response(ResponsesModel):
    """A Responses API response, as the non-streaming call returns it.

    >>> r = Response.from_dict({"id": "resp_1", "output": [
    ...     {"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}]})
    >>> r.output_text
    'Hi'
    """

    id: str = ""
    """The response's id."""
    object: str = "response"
    """Always ``"response"``."""
    created_at: int | None = None
    """When the response was created (Unix seconds)."""
    status: str | None = None
    """``completed``, ``incomplete``, ``failed``, ``in_progress``, ``queued``, ``cancelled``."""
    model: str = ""
    """The model that answered."""
    output: list[Item] = field(factory=list)
    """The output items, in ``output_index`` order."""
    usage: ResponseUsage | None = None
    """Token counts, sent with the terminal event."""
    error: ResponseError | None = None
    """Why the response failed."""
    incomplete_details: IncompleteDetails | None = None
    """Why the response is incomplete."""
    instructions: Any = None
    """The system instructions, as sent (text or input items)."""
    tools: list[Any] = field(factory=list)
    """The tools offered, as sent."""
    tool_choice: Any = None
    """How the model was told to choose tools, as sent."""
    parallel_tool_calls: bool | None = None
    """Whether several tool calls may come at once."""
    metadata: Any = None
    """Your metadata, as sent."""
    previous_response_id: str | None = None
    """The response this one continues."""
    reasoning: Any = None
    """The reasoning settings, as sent."""
    text: Any = None
    """The text format settings, as sent."""
    temperature: float | None = None
    """The sampling temperature."""
    top_p: float | None = None
    """The nucleus sampling mass."""
    max_output_tokens: int | None = None
    """The output token limit."""
    truncation: str | None = None
    """The truncation strategy."""
    user: str | None = None
    """The end-user id sent with the request."""
    service_tier: str | None = None
    """The service tier that served the request."""
    background: bool | None = None
    """Whether the response ran in the background."""
    store: bool | None = None
    """Whether the response is stored for later retrieval."""
    completed_at: int | None = None
    """When the response completed (Unix seconds)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""
    sequence_gaps: list[tuple[int, int]] = field(
        factory=list, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Where the stream skipped ``sequence_number`` s: ``(last seen, next seen)`` pairs.
    Not on the wire; empty for a complete stream."""
    unknown_events: list[dict[str, Any]] = field(
        factory=list, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Stream events of a type the fold does not know, as they arrived. Not on the wire."""
    parsed: Any = field(default=None, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE)
    """The output text parsed while streaming (``parse_json="content"`` or ``"all"``); None
    when not parsing. Not on the wire."""
    parse_error: JSONParseError | None = field(
        default=None, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Why the output text is not JSON, with the position (``parse_json``); else None."""
    audio: str | None = field(default=None, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE)
    """Base64 audio joined from ``response.audio.delta`` events, if any. Not on the wire."""
    audio_transcript: str | None = field(
        default=None, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """The audio's transcript (``response.audio.transcript.delta``), if any. Not on the wire."""
    ALWAYS: ClassVar[frozenset[str]] = frozenset({"id", "object", "output"})

    def to_param(self) -> list[dict[str, Any]]:
        """The output as input items of the next request (``input=[..., *r.to_param(),
        your function outputs]``): each item's :meth:`Item.to_param`, in order, with the
        reasoning's ``encrypted_content`` and the calls' ``call_id`` as they came."""
        return [item.to_param() for item in self.output]

    @property
    def output_text(self) -> str:
        """The text of every ``output_text`` part of every message item, joined (as the SDK's)."""
        return "".join(
            part.text
            for item in self.output
            if isinstance(item, Message)
            for part in item.content
            if isinstance(part, OutputText)
        )

    def parse_content(self, cls: type[T], *, converter: BaseConverter | None = None) -> T:
        """``output_text`` decoded and structured into ``cls`` (docs/structured.md's rules)."""
        return cast("T", WIRE.structure_text(
            self.output_text, "the response's output text", cls, converter, False
        ))
