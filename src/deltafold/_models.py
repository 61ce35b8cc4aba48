"""Typed wire models: the final ``ChatCompletion`` and the streamed chunk.

Field names are the wire names. Every class has ``extra``: the fields the
model does not know, kept as they arrived and written back by ``to_dict``,
so nothing a provider sends is lost. Conversion lives in ``_convert``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from attrs import define, field

__all__ = [
    "Annotation",
    "Audio",
    "ChatCompletion",
    "ChatCompletionChunk",
    "Choice",
    "ChunkChoice",
    "CompletionTokensDetails",
    "CostDetails",
    "Delta",
    "FunctionCall",
    "FunctionCallDelta",
    "Image",
    "ImageUrl",
    "Logprobs",
    "Message",
    "PromptTokensDetails",
    "ReasoningDetail",
    "TokenLogprob",
    "ToolCall",
    "ToolCallDelta",
    "TopLogprob",
    "UrlCitation",
    "Usage",
]

_T = TypeVar("_T")


class _WireModel:
    """Sugar shared by the top-level models: ``to_dict`` / ``from_dict`` through the converter."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The wire form: API field names, unknown fields put back, empty optionals left out."""
        from ._convert import to_dict

        return to_dict(self)

    @classmethod
    def from_dict(cls: type[_T], data: Any) -> _T:
        """Build from the wire form; unknown fields go to ``extra``."""
        from ._convert import from_dict

        return from_dict(cls, data)


# --- completion -------------------------------------------------------------


@define
class FunctionCall(_WireModel):
    """A function call: the name and the complete JSON arguments string."""

    name: str = ""
    arguments: str = ""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class ToolCall(_WireModel):
    """One complete tool call of the assistant message."""

    id: str = ""
    type: str = "function"
    function: FunctionCall = field(factory=FunctionCall)
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class TopLogprob(_WireModel):
    """One alternative token with its log probability."""

    token: str = ""
    logprob: float = 0.0
    bytes: list[int] | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class TokenLogprob(_WireModel):
    """The log probability of one emitted token, with its alternatives."""

    token: str = ""
    logprob: float = 0.0
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = field(factory=list)
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class Logprobs(_WireModel):
    """Per-token log probabilities of the content and of a refusal."""

    content: list[TokenLogprob] | None = None
    refusal: list[TokenLogprob] | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class ReasoningDetail(_WireModel):
    """One reasoning block (OpenRouter ``reasoning_details``): text, summary or encrypted data."""

    type: str = ""
    text: str | None = None
    summary: str | None = None
    data: str | None = None
    signature: str | None = None
    id: str | None = None
    format: str | None = None
    index: int | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class UrlCitation(_WireModel):
    """The cited page of a ``url_citation`` annotation."""

    url: str = ""
    title: str | None = None
    content: str | None = None
    start_index: int | None = None
    end_index: int | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class Annotation(_WireModel):
    """A message annotation, such as a web-search citation."""

    type: str = ""
    url_citation: UrlCitation | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class ImageUrl(_WireModel):
    """Where an image is: usually a ``data:`` URL."""

    url: str = ""
    detail: str | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class Image(_WireModel):
    """An image the model produced."""

    type: str = "image_url"
    image_url: ImageUrl | None = None
    index: int | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class Audio(_WireModel):
    """Audio output: base64 ``data`` and its ``transcript``."""

    id: str | None = None
    data: str | None = None
    transcript: str | None = None
    expires_at: int | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class Message(_WireModel):
    """The assistant message of one choice."""

    role: str = "assistant"
    content: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] = field(factory=list)
    tool_calls: list[ToolCall] = field(factory=list)
    function_call: FunctionCall | None = None
    annotations: list[Annotation] = field(factory=list)
    images: list[Image] = field(factory=list)
    audio: Audio | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class Choice(_WireModel):
    """One choice of a completion."""

    index: int = 0
    message: Message = field(factory=Message)
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    logprobs: Logprobs | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class PromptTokensDetails(_WireModel):
    """Breakdown of the prompt tokens."""

    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    audio_tokens: int | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class CompletionTokensDetails(_WireModel):
    """Breakdown of the completion tokens."""

    reasoning_tokens: int | None = None
    image_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class CostDetails(_WireModel):
    """OpenRouter's breakdown of what the upstream provider charged."""

    upstream_inference_cost: float | None = None
    upstream_inference_prompt_cost: float | None = None
    upstream_inference_completions_cost: float | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class Usage(_WireModel):
    """Token counts, and OpenRouter's cost fields when present."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    is_byok: bool | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    cost_details: CostDetails | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class ChatCompletion(_WireModel):
    """A complete chat completion, as a non-streaming request would have returned it."""

    id: str = ""
    choices: list[Choice] = field(factory=list)
    created: int = 0
    model: str = ""
    object: str = "chat.completion"
    system_fingerprint: str | None = None
    service_tier: str | None = None
    provider: str | None = None
    usage: Usage | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


# --- chunk ------------------------------------------------------------------


@define
class FunctionCallDelta(_WireModel):
    """A fragment of a function call: the name once, arguments in pieces."""

    name: str | None = None
    arguments: str | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class ToolCallDelta(_WireModel):
    """A fragment of a tool call, matched to its call by ``index`` (or ``id``)."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class Delta(_WireModel):
    """What one chunk adds to a choice's message.

    ``content`` is usually a string; Mistral sends a list of typed parts.
    """

    role: str | None = None
    content: str | list[Any] | None = None
    refusal: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None
    tool_calls: list[ToolCallDelta] | None = None
    function_call: FunctionCallDelta | None = None
    annotations: list[Annotation] | None = None
    images: list[Image] | None = None
    audio: Audio | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class ChunkChoice(_WireModel):
    """One choice of a chunk."""

    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    logprobs: Logprobs | None = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)


@define
class ChatCompletionChunk(_WireModel):
    """One streamed ``chat.completion.chunk``."""

    id: str = ""
    choices: list[ChunkChoice] = field(factory=list)
    created: int = 0
    model: str = ""
    object: str = "chat.completion.chunk"
    system_fingerprint: str | None = None
    service_tier: str | None = None
    provider: str | None = None
    usage: Usage | None = None
    error: Any = None
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
