"""What a wire format brings to the one core, and nothing more.

The framing (``_sse``), the stream core (``_core``), the sync and async drivers,
``Client``, timing, telemetry, bulk, the CLI and the replay server are written
once. A wire format (chat completions, the Responses API, Anthropic's Messages
API) plugs into them with a :class:`WireFormat`: its fold (a sans-IO state
machine from decoded events to one typed result), how an event becomes the typed
item that ``async for`` yields, where its endpoint is, and a flat
:class:`Summary` of its result that telemetry, bulk rows and the CLI read. The
drivers never look at a result's own fields, so no driver is copied per format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from attrs import field, frozen

from ._exceptions import WrongFormatError

if TYPE_CHECKING:
    from ._decode import InputSeen
    from ._json_fold import ParseJSON
    from ._limits import Limits
    from ._partial_json import PartialJSON

__all__ = [
    "ASSEMBLE_FUNCTION", "FORMAT_NAMES", "FoldMachine", "ResultT", "Summary", "WireFormat",
    "format_of", "module_of", "refuse_other_format",
]

ResultT = TypeVar("ResultT")
"""What a format's fold ends with: ``ChatCompletion``, ``Response``, ``Message``."""
ItemT = TypeVar("ItemT")
"""What ``async for`` over a stream yields: a typed chunk or a typed event."""
ResultT_co = TypeVar("ResultT_co", covariant=True)


class FoldMachine(Protocol[ResultT_co]):
    """The fold every format writes: decoded events in, typed events and a result out.

    The events are the shared ones of ``_events`` where the meaning is chat's (text,
    reasoning, tool-call deltas, usage), plus a format's own.

    ``_count`` (events folded) and ``_input`` (what was seen, for the error when no
    event of the format came) are plain attributes because the core reads them per
    event.
    """

    _count: int
    _input: InputSeen | None

    @property
    def limits(self) -> Limits: ...

    @property
    def chunks_folded(self) -> int: ...

    def add(self, item: Any) -> None: ...

    def feed(self, item: Any) -> list[Any]: ...

    def close(self) -> list[Any]: ...

    def snapshot(self) -> ResultT_co: ...

    def result(self, *, strict: bool = False) -> ResultT_co: ...

    def holds_chunk(self) -> bool: ...

    def has_token(self) -> bool: ...

    def output_tokens(self) -> int | None: ...

    def partial_json(self, index: int = 0, tool_index: int | None = None) -> PartialJSON | None: ...


@frozen
class Summary:
    """A result's fields that every format has, flat.

    Telemetry's span attributes and metrics, the bulk table's columns and the CLI's
    report read this instead of each format's own classes. Token counts follow the
    OpenAI convention: ``input_tokens`` includes cached input (Anthropic's cache
    reads and writes are added in).
    """

    id: str | None = None
    model: str | None = None
    created: int | None = None
    provider: str | None = None
    n_choices: int = 1
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    finish_reasons: list[str] = field(factory=list)
    tool_calls: list[dict[str, Any]] | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    cost: float | None = None
    output_messages: list[dict[str, Any]] = field(factory=list)
    """The answer in the GenAI conventions' output-message shape (role, parts, finish_reason)."""


class WireFormat(Generic[ResultT, ItemT]):
    """One wire format: its name, its fold, its typed items, its endpoint, its summary.

    ``fold`` builds a fresh :class:`FoldMachine` (keyword arguments ``limits`` and
    ``parse_json``); ``structure`` turns a decoded event into the typed item a stream
    yields (looked up on first use: building a cattrs hook costs milliseconds an import
    should not pay); ``path`` is the endpoint under a base URL (``/chat/completions``);
    ``summarize`` flattens a result. ``ends_at_done``: a ``[DONE]`` is a proper end of the
    stream (chat's end marker), so the fold's end-of-stream check is relaxed after it; a
    format with a terminal event of its own (Responses, Messages) is checked anyway.
    """

    __slots__ = (
        "_structure", "_structure_factory", "ends_at_done", "fold", "name", "path", "result",
        "summarize",
    )

    def __init__(
        self,
        name: str,
        *,
        fold: Callable[..., FoldMachine[ResultT]],
        result: type[ResultT],
        structure: Callable[[], Callable[[dict[str, Any]], ItemT]],
        path: str,
        summarize: Callable[[ResultT], Summary],
        ends_at_done: bool = True,
    ) -> None:
        self.name: str = name
        self.fold: Callable[..., FoldMachine[ResultT]] = fold
        self.result: type[ResultT] = result
        self._structure_factory = structure
        self._structure: Callable[[dict[str, Any]], ItemT] | None = None
        self.path: str = path
        self.summarize: Callable[[ResultT], Summary] = summarize
        self.ends_at_done: bool = ends_at_done

    def new_fold(self, limits: Limits | None, parse_json: ParseJSON) -> FoldMachine[ResultT]:
        """A fresh fold for one stream."""
        return self.fold(limits=limits, parse_json=parse_json)

    @property
    def structure(self) -> Callable[[dict[str, Any]], ItemT]:
        """Decoded event to typed item, built on first use."""
        hook = self._structure
        if hook is None:
            hook = self._structure = self._structure_factory()
        return hook

    def __repr__(self) -> str:
        return f"<WireFormat {self.name}>"


FORMAT_NAMES = ("chat", "responses", "messages")
"""The wire formats deltafold folds, by the name every API and the CLI use."""
ASSEMBLE_FUNCTION = {
    "chat": "deltafold.assemble",
    "responses": "deltafold.responses.assemble",
    "messages": "deltafold.messages.assemble",
}
"""What an error tells a user who gave one format's stream to another format's fold."""


def module_of(fmt: object) -> str:
    """The namespace of a format's functions (``deltafold.responses``), for errors to name."""
    return ASSEMBLE_FUNCTION.get(getattr(fmt, "name", "chat"), "deltafold.x").rpartition(".")[0]


_MESSAGES_TYPES = frozenset({
    "message_start", "message_delta", "message_stop",
    "content_block_start", "content_block_delta", "content_block_stop",
})


def format_of(item: dict[str, Any]) -> str | None:
    """Which wire format a decoded event belongs to, or None when it does not say.

    A chat chunk has ``choices`` or a ``chat.completion*`` object; a Responses event a
    ``type`` starting ``response.``; a Messages event one of the ``message_*`` /
    ``content_block_*`` types. ``ping`` and ``error`` events are every format's, so they
    tell nothing.
    """
    kind = item.get("type")
    if kind.__class__ is str:
        if kind.startswith("response."):
            return "responses"
        if kind in _MESSAGES_TYPES:
            return "messages"
    obj = item.get("object")
    if "choices" in item or (obj.__class__ is str and obj.startswith("chat.completion")):
        return "chat"
    if obj == "response" and "output" in item:
        return "responses"
    if kind == "message" and item.get("role") == "assistant" and "content" in item:
        return "messages"
    return None


def refuse_other_format(item: dict[str, Any], position: int, expected: str) -> None:
    """Raise :class:`WrongFormatError` when ``item`` is an event of another format.

    Folds call it on their slow path only (an item with keys they do not know, before
    anything of their own came): Anthropic's ``message_delta`` carries ``usage``, which a
    chat chunk may carry alone, so without it a Messages body folded into an empty chat
    completion with success.
    """
    found = format_of(item)
    if found is not None and found != expected:
        what = f"type {item['type']!r}" if "type" in item else "its fields"
        raise WrongFormatError(
            f"event {position} is a {found} stream event ({what}), not one of the "
            f"{expected} format: fold it with {ASSEMBLE_FUNCTION[found]}() "
            "(or `deltafold assemble`, which detects the format)",
            found=found, expected=expected, use=ASSEMBLE_FUNCTION[found],
        )
