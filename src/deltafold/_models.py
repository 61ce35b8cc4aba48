"""Typed wire models: the final ``ChatCompletion`` and the streamed chunk.

Field names are the wire names. Every class has ``extra``: the fields the
model does not know, kept as they arrived and written back by ``to_dict``,
so nothing a provider sends is lost. Conversion lives in ``_convert``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define, field

from ._chat_param import completion_param, message_param
from ._content_parts import content_parts, part_text
from ._deferred import Deferred

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

if TYPE_CHECKING:
    from typing import Self

    from cattrs import BaseConverter
    T = TypeVar("T")

    from ._exceptions import JSONParseError

NOT_WIRE = "deltafold.not_wire"
"""attrs metadata key of a field off the wire form (``parsed``, ``parse_error``): ``to_dict``
never writes it, ``from_dict`` never reads it, equality ignores it."""
_OFF = {NOT_WIRE: True}


class _Wire:
    """Where the models find what lower layers install when they load: ``_convert``'s
    ``to_dict`` / ``from_dict`` (built from this module's classes, so this module cannot
    import it) and ``_typed``'s ``structure``; the package's ``__init__`` imports both.
    """

    __slots__ = ("from_dict", "structure", "structure_text", "to_dict")

    def __init__(self) -> None:
        self.to_dict: Callable[[Any], dict[str, Any]] = _not_installed
        self.from_dict: Callable[[Any, Any], Any] = _not_installed
        self.structure: Callable[[Any, Any, Any], Any] = _not_installed
        self.structure_text: Callable[[str | None, str, Any, Any, bool], Any] = _not_installed
        """Any format's JSON text (what it is, the class, the converter, whether an empty
        text is the empty object) decoded and structured: ``_typed.structure_text``."""


def _not_installed(*_: Any) -> Any:
    raise RuntimeError("deltafold has not been imported (import deltafold)")


WIRE = _Wire()


class _WireModel:
    """Sugar shared by the top-level models: ``to_dict`` / ``from_dict`` through the converter."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The wire form: API field names, unknown fields put back, empty optionals left out."""
        return WIRE.to_dict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Build from the wire form; unknown fields go to ``extra``."""
        built: Self = WIRE.from_dict(cls, data)
        return built


# --- completion -------------------------------------------------------------


@define
class FunctionCall(_WireModel):
    """A function call: the name and the complete JSON arguments string."""

    name: str = ""
    """The function's name."""
    arguments: str = ""
    """The arguments as JSON text, exactly as the model wrote them (parse with ``json.loads``)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    parsed: Any = field(default=None, kw_only=True, eq=False, repr=False, metadata=_OFF)
    """The arguments parsed while streaming (``parse_json``; the partial value in a snapshot
    or when the text ended early); None when not parsing. Not on the wire."""
    parse_error: JSONParseError | None = field(
        default=None, kw_only=True, eq=False, repr=False, metadata=_OFF
    )
    """Why the arguments are not JSON, with the position (``parse_json``); else None."""

    def parse_arguments(self, cls: type[T], *, converter: BaseConverter | None = None) -> T:
        """``arguments`` decoded and structured into ``cls`` (docs/structured.md)."""
        return cast("T", WIRE.structure(self, cls, converter))


@define
class ToolCall(_WireModel):
    """One complete tool call of the assistant message."""

    id: str = ""
    """The call's id; send it back as ``tool_call_id`` with the result."""
    type: str = "function"
    """Always ``"function"`` today."""
    function: FunctionCall = field(factory=FunctionCall)
    """The function name and its complete arguments."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class TopLogprob(_WireModel):
    """One alternative token with its log probability."""

    token: str = ""
    """The alternative token."""
    logprob: float = 0.0
    """Its log probability."""
    bytes: list[int] | None = None
    """The token's UTF-8 bytes, when the provider sends them."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class TokenLogprob(_WireModel):
    """The log probability of one emitted token, with its alternatives."""

    token: str = ""
    """The emitted token."""
    logprob: float = 0.0
    """Its log probability."""
    bytes: list[int] | None = None
    """The token's UTF-8 bytes, when the provider sends them."""
    top_logprobs: list[TopLogprob] = field(factory=list)
    """The most likely alternatives at this position."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class Logprobs(_WireModel, Deferred):
    """Per-token log probabilities of the content and of a refusal.

    In a folded completion they are typed on first read: the fold keeps the tokens as they
    arrived and ``result()`` only notes how many there are; reading any field (or ``==``,
    ``repr``, ``to_dict``, ``copy``, ``pickle``) builds them, once, by ``from_dict``'s rules:
    a value of the wrong type stays in its token's ``extra``, and reading never raises. Until
    then the completion holds the token objects of the chunks folded, not copies.
    """

    content: list[TokenLogprob] | None = None
    """One entry per token of ``message.content``."""
    refusal: list[TokenLogprob] | None = None
    """One entry per token of ``message.refusal``."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class ReasoningDetail(_WireModel):
    """One reasoning block (OpenRouter ``reasoning_details``): text, summary or encrypted data."""

    type: str = ""
    """``reasoning.text``, ``reasoning.summary`` or ``reasoning.encrypted``."""
    text: str | None = None
    """The reasoning text (``reasoning.text``)."""
    summary: str | None = None
    """The summary text (``reasoning.summary``)."""
    data: str | None = None
    """Opaque encrypted reasoning (``reasoning.encrypted``); send it back unchanged."""
    signature: str | None = None
    """The provider's signature over the block."""
    id: str | None = None
    """The block's id."""
    format: str | None = None
    """The provider's format name, such as ``anthropic-claude-v1``."""
    index: int | None = None
    """The block's position; fragments with the same type and index are merged."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class UrlCitation(_WireModel):
    """The cited page of a ``url_citation`` annotation."""

    url: str = ""
    """The cited page."""
    title: str | None = None
    """The page's title."""
    content: str | None = None
    """The quoted text, when sent."""
    start_index: int | None = None
    """Where the citation starts in ``message.content`` (characters)."""
    end_index: int | None = None
    """Where it ends in ``message.content`` (characters)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class Annotation(_WireModel):
    """A message annotation, such as a web-search citation."""

    type: str = ""
    """The kind, such as ``url_citation``."""
    url_citation: UrlCitation | None = None
    """The cited page, for a ``url_citation``."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class ImageUrl(_WireModel):
    """Where an image is: usually a ``data:`` URL."""

    url: str = ""
    """The image: a ``data:`` URL or a link."""
    detail: str | None = None
    """The detail level, when sent."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class Image(_WireModel):
    """An image the model produced."""

    type: str = "image_url"
    """Always ``"image_url"`` today."""
    image_url: ImageUrl | None = None
    """Where the image is."""
    index: int | None = None
    """The image's position in the message."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class Audio(_WireModel):
    """Audio output: base64 ``data`` and its ``transcript``."""

    id: str | None = None
    """The audio's id, to refer to it in a later turn."""
    data: str | None = None
    """Base64 audio, concatenated from every fragment."""
    transcript: str | None = None
    """The transcript of the audio."""
    expires_at: int | None = None
    """When the provider forgets the audio (Unix seconds)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class Message(_WireModel):
    """The assistant message of one choice."""

    role: str = "assistant"
    """Always ``"assistant"`` for a completion."""
    content: str | None = None
    """The answer text; ``None`` when the model only called tools. ``text`` gives it as ``str``."""
    refusal: str | None = None
    """The refusal text, when the model refused."""
    reasoning: str | None = None
    """The reasoning text (``reasoning`` and ``reasoning_content`` deltas)."""
    reasoning_details: list[ReasoningDetail] = field(factory=list)
    """The reasoning blocks (OpenRouter), to send back on the next turn."""
    tool_calls: list[ToolCall] = field(factory=list)
    """The complete tool calls, in order."""
    function_call: FunctionCall | None = None
    """The legacy single function call."""
    annotations: list[Annotation] = field(factory=list)
    """Annotations such as web-search citations."""
    images: list[Image] = field(factory=list)
    """Images the model produced."""
    audio: Audio | None = None
    """Audio output."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    parsed: Any = field(default=None, kw_only=True, eq=False, repr=False, metadata=_OFF)
    """The content parsed while streaming (``parse_json="content"`` or ``"all"``; the partial
    value in a snapshot or when the text ended early); None when not parsing. Not on the wire."""
    parse_error: JSONParseError | None = field(
        default=None, kw_only=True, eq=False, repr=False, metadata=_OFF
    )
    """Why the content is not JSON, with the position (``parse_json``); else None."""

    @property
    def text(self) -> str:
        """``content`` as ``str``: ``""`` when the model sent no text (only tool calls, say)."""
        return self.content or ""

    def parse_content(self, cls: type[T], *, converter: BaseConverter | None = None) -> T:
        """``content`` decoded and structured into ``cls`` (docs/structured.md)."""
        return cast("T", WIRE.structure(self, cls, converter))

    def to_param(self) -> dict[str, Any]:
        """This message as the next request's assistant message: content, refusal, tool
        calls and ``reasoning_details`` (signatures intact); no response-only fields."""
        return message_param(self)


@define
class Choice(_WireModel):
    """One choice of a completion."""

    index: int = 0
    """The choice's position (``n`` > 1 gives several)."""
    message: Message = field(factory=Message)
    """The assistant message."""
    finish_reason: str | None = None
    """Why the model stopped (``stop``, ``length``, ``tool_calls``, ...); ``None`` if never sent."""
    native_finish_reason: str | None = None
    """The upstream provider's own reason (OpenRouter)."""
    logprobs: Logprobs | None = None
    """Per-token log probabilities, when requested."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class PromptTokensDetails(_WireModel):
    """Breakdown of the prompt tokens."""

    cached_tokens: int | None = None
    """Prompt tokens read from the cache."""
    cache_write_tokens: int | None = None
    """Prompt tokens written to the cache."""
    audio_tokens: int | None = None
    """Prompt tokens of audio input."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class CompletionTokensDetails(_WireModel):
    """Breakdown of the completion tokens."""

    reasoning_tokens: int | None = None
    """Tokens spent on reasoning."""
    image_tokens: int | None = None
    """Tokens of generated images."""
    audio_tokens: int | None = None
    """Tokens of generated audio."""
    accepted_prediction_tokens: int | None = None
    """Predicted-output tokens that appeared in the completion."""
    rejected_prediction_tokens: int | None = None
    """Predicted-output tokens that did not."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class CostDetails(_WireModel):
    """OpenRouter's breakdown of what the upstream provider charged."""

    upstream_inference_cost: float | None = None
    """What the upstream provider charged in total."""
    upstream_inference_prompt_cost: float | None = None
    """Its charge for the prompt."""
    upstream_inference_completions_cost: float | None = None
    """Its charge for the completion."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class Usage(_WireModel):
    """Token counts, and OpenRouter's cost fields when present."""

    prompt_tokens: int | None = None
    """Tokens in the prompt."""
    completion_tokens: int | None = None
    """Tokens generated."""
    total_tokens: int | None = None
    """Prompt plus completion tokens."""
    cost: float | None = None
    """What the request cost in credits (OpenRouter)."""
    is_byok: bool | None = None
    """True when OpenRouter used your own provider key."""
    prompt_tokens_details: PromptTokensDetails | None = None
    """Breakdown of the prompt tokens."""
    completion_tokens_details: CompletionTokensDetails | None = None
    """Breakdown of the completion tokens."""
    cost_details: CostDetails | None = None
    """Breakdown of the cost (OpenRouter)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class ChatCompletion(_WireModel):
    """A complete chat completion, as a non-streaming request would have returned it."""

    id: str = ""
    """The generation id (the first non-empty one streamed)."""
    choices: list[Choice] = field(factory=list)
    """The choices, sorted by index."""
    created: int = 0
    """When the completion was created (Unix seconds)."""
    model: str = ""
    """The model that answered."""
    object: str = "chat.completion"
    """Always ``"chat.completion"``."""
    system_fingerprint: str | None = None
    """The backend configuration, when sent."""
    service_tier: str | None = None
    """The service tier that served the request."""
    provider: str | None = None
    """The upstream provider (OpenRouter)."""
    usage: Usage | None = None
    """Token counts and cost; ``None`` when the stream carried none (see ``include_usage``)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""

    def to_param(self, choice: int = 0) -> dict[str, Any]:
        """Choice ``choice``'s message as the next request's assistant message
        (``Message.to_param``); ValueError when the completion holds no such choice."""
        return completion_param(self, choice)


# --- chunk ------------------------------------------------------------------


@define
class FunctionCallDelta(_WireModel):
    """A fragment of a function call: the name once, arguments in pieces."""

    name: str | None = None
    """The function name, usually in the first fragment only."""
    arguments: str | None = None
    """The next piece of the arguments' JSON text."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class ToolCallDelta(_WireModel):
    """A fragment of a tool call, matched to its call by ``index`` (or ``id``)."""

    index: int | None = None
    """Which tool call of the message this fragment belongs to."""
    id: str | None = None
    """The call's id, usually in its first fragment only."""
    type: str | None = None
    """``"function"``, usually in the first fragment only."""
    function: FunctionCallDelta | None = None
    """The name and the next piece of the arguments."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""


@define
class Delta(_WireModel):
    """What one chunk adds to a choice's message.

    ``content`` is usually a string; Mistral sends a list of typed parts.
    """

    role: str | None = None
    """``"assistant"``, usually in the first chunk only."""
    content: str | list[Any] | None = None
    """The next piece of the answer: a string, or a list of typed parts (Mistral)."""
    refusal: str | None = None
    """The next piece of a refusal."""
    reasoning: str | None = None
    """The next piece of the reasoning (OpenRouter and others)."""
    reasoning_content: str | None = None
    """The next piece of the reasoning (DeepSeek and others)."""
    reasoning_details: list[ReasoningDetail] | None = None
    """Reasoning block fragments (OpenRouter)."""
    tool_calls: list[ToolCallDelta] | None = None
    """Tool call fragments."""
    function_call: FunctionCallDelta | None = None
    """A legacy function call fragment."""
    annotations: list[Annotation] | None = None
    """New annotations, such as citations."""
    images: list[Image] | None = None
    """New images."""
    audio: Audio | None = None
    """An audio fragment."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""

    @property
    def text(self) -> str:
        """The text this delta adds to ``message.content``, always a ``str`` (``""`` for none).

        A list of parts (Mistral) gives its text parts, by the fold's own rule, so this is
        exactly what the fold appends.
        """
        content = self.content
        if content.__class__ is str:
            return content
        if not content:
            return ""
        return _content_text(content)


@define
class ChunkChoice(_WireModel):
    """One choice of a chunk."""

    index: int = 0
    """Which choice this fragment belongs to."""
    delta: Delta | None = None
    """What this chunk adds to the message; ``None`` when the chunk sent none."""
    finish_reason: str | None = None
    """Set on the choice's last chunk: why the model stopped."""
    native_finish_reason: str | None = None
    """The upstream provider's own reason (OpenRouter)."""
    logprobs: Logprobs | None = None
    """Log probabilities of this chunk's tokens."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""

    @property
    def text(self) -> str:
        """The text this chunk adds to the choice's content: ``delta.text``, ``""`` if no delta."""
        return self.delta.text if self.delta is not None else ""


@define
class ChatCompletionChunk(_WireModel):
    """One streamed ``chat.completion.chunk``."""

    id: str = ""
    """The generation id, the same on every chunk."""
    choices: list[ChunkChoice] = field(factory=list)
    """This chunk's choice fragments; empty on a usage-only chunk."""
    created: int = 0
    """When the completion was created (Unix seconds)."""
    model: str = ""
    """The model that answers."""
    object: str = "chat.completion.chunk"
    """Always ``"chat.completion.chunk"``."""
    system_fingerprint: str | None = None
    """The backend configuration, when sent."""
    service_tier: str | None = None
    """The service tier that serves the request."""
    provider: str | None = None
    """The upstream provider (OpenRouter)."""
    usage: Usage | None = None
    """Usage, usually only on the last chunk."""
    error: Any = None
    """An error the provider reported mid-stream; folding it raises ``StreamError``."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""

    @property
    def text(self) -> str:
        """The text this chunk adds to choice 0 (the only one unless ``n`` > 1), else ``""``."""
        for choice in self.choices:
            if choice.index == 0:
                return choice.text
        return ""


def _content_text(content: Any) -> str:
    """The content text of a non-string delta ``content``: its text parts, by the fold's rule."""
    parts = content_parts(content)
    if parts is None:
        return ""
    return "".join(text for text in map(part_text, parts) if text)
