"""The output items of a Responses API response, one class per item type.

``Item`` is the base and also the generic item: an item of a type this module
does not model (``tool_search_call``, ``compaction``, whatever comes next) is an
``Item`` whose ``extra`` holds the rest of its dict, and ``to_dict`` writes it
back unchanged, so a new item type never breaks a fold or loses a field. Fields
holding a tool's own structures (a search action, interpreter outputs, MCP tool
listings) stay plain JSON values: they are the tool's, not the stream's.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from attrs import define, field

from .._exceptions import JSONParseError  # a field's type: cattrs reads it at run time
from .._models import WIRE
from ..convert._ops import EXTENSION
from ._parts import OFF_WIRE, OutputText, Part, ResponsesModel, SummaryText

if TYPE_CHECKING:
    from cattrs import BaseConverter

T = TypeVar("T")

__all__ = [
    "ITEM_TYPES",
    "CodeInterpreterCall",
    "ComputerCall",
    "CustomToolCall",
    "FileSearchCall",
    "FunctionCall",
    "ImageGenerationCall",
    "Item",
    "LocalShellCall",
    "McpApprovalRequest",
    "McpCall",
    "McpListTools",
    "Message",
    "Reasoning",
    "ShellCall",
    "ShellCallOutput",
    "WebSearchCall",
]


@define
class Item(ResponsesModel):
    """An output item; as itself, an item of a type not modelled here (fields in ``extra``)."""

    type: str = ""
    """The item's kind (``message``, ``function_call``, ``reasoning``...)."""
    id: str | None = None
    """The item's id."""
    status: str | None = None
    """``in_progress``, ``completed`` or ``incomplete`` (some item types have none)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""
    ALWAYS: ClassVar[frozenset[str]] = frozenset({"type"})

    def to_param(self) -> dict[str, Any]:
        """The item as an input item of the next request, so the conversation goes on.

        The wire form without null fields and without what only a response holds: a
        message's text parts keep ``text`` and ``annotations`` (no log probabilities); a
        reasoning item keeps its id, summary, reasoning text and ``encrypted_content``
        unchanged; a call keeps ``call_id``, name and arguments (or input) as sent; any
        other item goes back as it came. Fields off the wire (``parsed``, partial images)
        and the ``deltafold`` extension are never in it.
        """
        return {k: v for k, v in self.to_dict().items() if v is not None and k != EXTENSION}


_PART_PARAM = {"output_text": ("type", "text", "annotations"), "refusal": ("type", "refusal")}
"""The fields a message part keeps as input, by part type (others go back whole)."""


def _part_param(part: Any) -> Any:
    keep = _PART_PARAM.get(str(part.get("type"))) if isinstance(part, dict) else None
    if keep is None:
        return part
    param = {k: part[k] for k in keep if k in part}
    if keep is _PART_PARAM["output_text"]:
        param.setdefault("annotations", [])
    return param


@define
class Message(Item):
    """An assistant message: text and refusal parts."""

    type: str = "message"
    role: str = "assistant"
    """Always ``"assistant"`` for output."""
    content: list[Part] = field(factory=list)
    """The parts: :class:`OutputText` and :class:`Refusal` (others kept as :class:`Part`)."""

    def to_param(self) -> dict[str, Any]:
        """The message as an input item: role, id, status and its parts as the API takes them."""
        param = super().to_param()
        param["role"] = self.role
        content = param.get("content")
        param["content"] = [_part_param(p) for p in content] if isinstance(content, list) else []
        return param

    @property
    def text(self) -> str:
        """The text of every ``output_text`` part, joined."""
        return "".join(
            part.text for part in self.content if isinstance(part, OutputText)
        )


@define
class FunctionCall(Item):
    """A call of one of your functions: run it, then send the result back with ``call_id``."""

    type: str = "function_call"
    call_id: str = ""
    """The id to send back with the function's output (``function_call_output``)."""
    name: str = ""
    """The function's name."""
    arguments: str = ""
    """The arguments as JSON text, exactly as the model wrote them."""
    parsed: Any = field(default=None, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE)
    """The arguments parsed while streaming (``parse_json``); None when not parsing."""
    parse_error: JSONParseError | None = field(
        default=None, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Why the arguments are not JSON, with the position (``parse_json``); else None."""

    def parse_arguments(
        self, cls: builtins.type[T], *, converter: BaseConverter | None = None
    ) -> T:
        """``arguments`` decoded and structured into ``cls`` (docs/structured.md's rules)."""
        return cast("T", WIRE.structure_text(
            self.arguments, f"the arguments of {self.name or 'the function call'}", cls,
            converter, True,
        ))


@define
class CustomToolCall(Item):
    """A call of a custom (free-form) tool: ``input`` is the raw text the model wrote."""

    type: str = "custom_tool_call"
    call_id: str = ""
    """The id to send back with the tool's output."""
    name: str = ""
    """The tool's name."""
    input: str = ""
    """The input text."""


@define
class Reasoning(Item):
    """The model's reasoning: summary parts, reasoning text, or only encrypted content."""

    type: str = "reasoning"
    summary: list[SummaryText] = field(factory=list)
    """The reasoning summary, one part per paragraph the model summarised."""
    content: list[Part] | None = None
    """The reasoning text parts (``reasoning_text``), when the provider shows them."""
    encrypted_content: str | None = None
    """Opaque reasoning to send back on the next turn, unchanged."""

    @property
    def summary_text(self) -> str:
        """The summary parts joined by blank lines."""
        return "\n\n".join(part.text for part in self.summary)


@define
class WebSearchCall(Item):
    """A hosted web search; ``action`` says what was searched or opened."""

    type: str = "web_search_call"
    action: Any = None
    """The search action (``search``, ``open_page``, ``find``) as sent."""


@define
class FileSearchCall(Item):
    """A hosted file search."""

    type: str = "file_search_call"
    queries: list[str] = field(factory=list)
    """The queries searched."""
    results: Any = None
    """The results, when included."""


@define
class CodeInterpreterCall(Item):
    """Code run by the hosted code interpreter."""

    type: str = "code_interpreter_call"
    code: str | None = None
    """The code run."""
    container_id: str | None = None
    """The container it ran in."""
    outputs: Any = None
    """Its outputs (logs, images) as sent."""


@define
class ImageGenerationCall(Item):
    """A hosted image generation; ``result`` is the final image (base64)."""

    type: str = "image_generation_call"
    result: str | None = None
    """The generated image, base64."""
    partial_images: list[str] = field(factory=list, eq=False, repr=False, metadata=OFF_WIRE)
    """The partial images streamed before it (base64, in order); not on the wire."""


@define
class McpCall(Item):
    """A call of a tool on a remote MCP server."""

    type: str = "mcp_call"
    server_label: str | None = None
    """The server's label."""
    name: str = ""
    """The tool's name."""
    arguments: str = ""
    """The arguments as JSON text."""
    output: Any = None
    """The tool's output."""
    error: Any = None
    """The tool's error, if it failed."""
    approval_request_id: str | None = None
    """The approval request this call answers, if any."""


@define
class McpListTools(Item):
    """The tools a remote MCP server offers."""

    type: str = "mcp_list_tools"
    server_label: str | None = None
    """The server's label."""
    tools: list[Any] = field(factory=list)
    """The tools, as sent."""
    error: Any = None
    """Why listing failed, if it did."""


@define
class McpApprovalRequest(Item):
    """A request for your approval before an MCP tool runs."""

    type: str = "mcp_approval_request"
    server_label: str | None = None
    """The server's label."""
    name: str = ""
    """The tool's name."""
    arguments: str = ""
    """The arguments as JSON text."""


@define
class ComputerCall(Item):
    """A computer-use action for you to perform."""

    type: str = "computer_call"
    call_id: str = ""
    """The id to send back with the screenshot."""
    action: Any = None
    """The action (click, type, scroll...) as sent."""
    pending_safety_checks: list[Any] = field(factory=list)
    """Safety checks to acknowledge."""


@define
class LocalShellCall(Item):
    """A shell command for you to run locally."""

    type: str = "local_shell_call"
    call_id: str = ""
    """The id to send back with the output."""
    action: Any = None
    """The command and its settings, as sent."""


@define
class ShellCall(Item):
    """Shell commands (hosted or yours); ``action["commands"]`` holds them."""

    type: str = "shell_call"
    call_id: str = ""
    """The id to send back with the output."""
    action: Any = None
    """The commands and their limits, as sent."""


@define
class ShellCallOutput(Item):
    """The output of a hosted shell call's commands."""

    type: str = "shell_call_output"
    call_id: str = ""
    """The call this output answers."""
    output: list[Any] = field(factory=list)
    """One entry per command: stdout, stderr and outcome, as sent."""


ITEM_TYPES: dict[str, type[Item]] = {
    cls().type: cls
    for cls in (
        Message, FunctionCall, CustomToolCall, Reasoning, WebSearchCall, FileSearchCall,
        CodeInterpreterCall, ImageGenerationCall, McpCall, McpListTools, McpApprovalRequest,
        ComputerCall, LocalShellCall, ShellCall, ShellCallOutput,
    )
}
"""The class of each item type; any other type is a plain :class:`Item`."""
