"""The content blocks of an Anthropic message, one class per ``type``.

A block is built as the class its ``type`` names (``BLOCK_TYPES``); a block of a
type this module does not know is a plain :class:`Block` holding its fields in
``extra``, so a new block type folds and round-trips unchanged. Citations, tool
results' ``content`` and the like stay plain JSON values, as sent: deltafold
reads none of them. ``MessagesModel`` is the base of every Messages model: it
remembers which known fields the wire sent empty or null (``wire_empty``), so
``to_dict`` gives back exactly what ``from_dict`` read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs
from attrs import define, field

from .._exceptions import JSONParseError
from .._models import NOT_WIRE, _WireModel
from .._typed import structure_value

if TYPE_CHECKING:
    from cattrs import BaseConverter

__all__ = [
    "BLOCK_TYPES",
    "BashCodeExecutionToolResultBlock",
    "Block",
    "CodeExecutionToolResultBlock",
    "ContainerUploadBlock",
    "MCPToolResultBlock",
    "MCPToolUseBlock",
    "MessagesModel",
    "RedactedThinkingBlock",
    "ServerToolUseBlock",
    "TextBlock",
    "TextEditorCodeExecutionToolResultBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "WebFetchToolResultBlock",
    "WebSearchToolResultBlock",
]

OFF_WIRE = {NOT_WIRE: True}
"""attrs metadata of a field that is not on the wire (never written, never compared)."""

T = TypeVar("T")


class MessagesModel(_WireModel):
    """What every Messages model shares: ``to_dict``/``from_dict`` and the exact round trip.

    A field left at its default is not written by ``to_dict``; the known fields that
    arrived empty or null are kept in ``wire_empty`` (off the wire, out of ``==``) and
    written back while they still hold their default. ``ALWAYS`` names the fields
    written even at their default (the ``type`` discriminator).
    """

    __slots__ = ()
    ALWAYS: ClassVar[frozenset[str]] = frozenset()


@define
class Block(MessagesModel):
    """A content block; also every block of a type deltafold does not know (fields in ``extra``)."""

    type: str = ""
    """The block's type (``text``, ``tool_use``, ``thinking``...)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""
    ALWAYS: ClassVar[frozenset[str]] = frozenset({"type"})


@define
class TextBlock(Block):
    """Text the model wrote, with the citations that back it."""

    type: str = "text"
    text: str = ""
    """The text."""
    citations: list[Any] | None = None
    """Citation objects (web search result locations, document spans...), as sent."""


@define
class _InputBlock(Block):
    """A block whose ``input`` streams as ``input_json_delta`` fragments."""

    id: str = ""
    """The call's id; a ``tool_result`` names it."""
    name: str = ""
    """The tool's name."""
    input: Any = field(factory=dict)
    """The tool's input, parsed (an object, usually)."""
    input_json: str | None = field(default=None, kw_only=True, eq=False, metadata=OFF_WIRE)
    """The streamed input text when it was not valid JSON (``input`` then keeps the
    start's value); None when it parsed. Not on the wire."""
    parse_error: JSONParseError | None = field(
        default=None, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Why ``input_json`` did not parse (position, path, what was expected). Not on the wire."""

    def parse_input(self, cls: type[T], *, converter: BaseConverter | None = None) -> T:
        """``input`` structured strictly into ``cls`` (docs/structured.md's rules).

        Raises :class:`JSONParseError` when the streamed input was not JSON, and
        :class:`StructuredOutputError` (every problem with its JSON path) when it does
        not fit ``cls``.
        """
        what = f"the input of {self.name or 'the tool call'}"
        if self.parse_error is not None:
            error = self.parse_error
            raise type(error)(
                f"{what}: {error.message}", position=error.position, path=error.path,
                expected=error.expected,
            )
        raw = self.input_json if self.input_json is not None else repr(self.input)[:2000]
        value: T = structure_value(self.input, cls, converter, what=what, raw=raw)
        return value


@define
class ToolUseBlock(_InputBlock):
    """A call of one of your tools: run it and send back a ``tool_result``."""

    type: str = "tool_use"


@define
class ServerToolUseBlock(_InputBlock):
    """A call of a server tool (web search, web fetch, code execution...), run by Anthropic."""

    type: str = "server_tool_use"


@define
class MCPToolUseBlock(_InputBlock):
    """A call of a tool on an MCP server, run by Anthropic."""

    type: str = "mcp_tool_use"
    server_name: str = ""
    """The MCP server's name."""


@define
class ThinkingBlock(Block):
    """The model's visible reasoning; send it back whole, signature included."""

    type: str = "thinking"
    thinking: str = ""
    """The reasoning text."""
    signature: str = ""
    """The signature that lets the API check the block when it is sent back."""


@define
class RedactedThinkingBlock(Block):
    """Reasoning the API sent encrypted; send it back as it is."""

    type: str = "redacted_thinking"
    data: str = ""
    """The encrypted reasoning."""


@define
class _ToolResultBlock(Block):
    """A server tool's result: the call it answers and its content, as sent."""

    tool_use_id: str = ""
    """The id of the ``server_tool_use`` (or ``mcp_tool_use``) block it answers."""
    content: Any = None
    """The result (a list of results, or an error object), as sent."""


@define
class WebSearchToolResultBlock(_ToolResultBlock):
    """The results of a web search."""

    type: str = "web_search_tool_result"


@define
class WebFetchToolResultBlock(_ToolResultBlock):
    """A fetched web page (or the error)."""

    type: str = "web_fetch_tool_result"


@define
class CodeExecutionToolResultBlock(_ToolResultBlock):
    """The output of a code execution."""

    type: str = "code_execution_tool_result"


@define
class BashCodeExecutionToolResultBlock(_ToolResultBlock):
    """The output of a bash command in the code execution container."""

    type: str = "bash_code_execution_tool_result"


@define
class TextEditorCodeExecutionToolResultBlock(_ToolResultBlock):
    """The result of a text editor command in the code execution container."""

    type: str = "text_editor_code_execution_tool_result"


@define
class MCPToolResultBlock(_ToolResultBlock):
    """The result of an MCP tool call."""

    type: str = "mcp_tool_result"
    is_error: bool | None = None
    """Whether the tool reported an error."""


@define
class ContainerUploadBlock(Block):
    """A file uploaded to the code execution container."""

    type: str = "container_upload"
    file_id: str = ""
    """The uploaded file's id."""


BLOCK_TYPES: dict[str, type[Block]] = {
    attrs.fields(cls).type.default: cls
    for cls in (
        TextBlock, ToolUseBlock, ServerToolUseBlock, MCPToolUseBlock, ThinkingBlock,
        RedactedThinkingBlock, WebSearchToolResultBlock, WebFetchToolResultBlock,
        CodeExecutionToolResultBlock, BashCodeExecutionToolResultBlock,
        TextEditorCodeExecutionToolResultBlock, MCPToolResultBlock, ContainerUploadBlock,
    )
}
"""The block class each ``type`` names; any other type is a plain :class:`Block`."""
