"""The Anthropic Messages wire format: its model, its fold and its unfold.

``assemble``/``assemble_sse``/``assemble_all`` fold recorded streams into
:class:`Message` objects, :class:`Accumulator` folds one event at a time (the
same interface as the chat fold), ``fold``/``afold`` fold an iterable as it
passes, ``split``/``to_sse`` turn a message back into the events that would
stream it. The rules are in docs/messages.md.
"""

from .._exceptions import MultipleMessagesError, WrongFormatError
from . import _convert  # noqa: F401  (installs the models' conversion hooks)
from ._assemble import afold, assemble, assemble_all, assemble_sse, fold
from ._blocks import (
    BashCodeExecutionToolResultBlock,
    Block,
    CodeExecutionToolResultBlock,
    ContainerUploadBlock,
    MCPToolResultBlock,
    MCPToolUseBlock,
    RedactedThinkingBlock,
    ServerToolUseBlock,
    TextBlock,
    TextEditorCodeExecutionToolResultBlock,
    ThinkingBlock,
    ToolUseBlock,
    WebFetchToolResultBlock,
    WebSearchToolResultBlock,
)
from ._events import BlockStarted, BlockStopped, CitationAdded, Event, SignatureAdded
from ._fold import Accumulator
from ._format import MESSAGES, StreamEvent, summarize_message
from ._models import CacheCreation, Message, ServerToolUsage, Usage
from ._stream import AsyncMessageStream, MessageStream, aconnect_messages, connect_messages
from ._unfold import split, to_sse

__all__ = [
    "MESSAGES",
    "Accumulator",
    "AsyncMessageStream",
    "BashCodeExecutionToolResultBlock",
    "Block",
    "BlockStarted",
    "BlockStopped",
    "CacheCreation",
    "CitationAdded",
    "CodeExecutionToolResultBlock",
    "ContainerUploadBlock",
    "Event",
    "MCPToolResultBlock",
    "MCPToolUseBlock",
    "Message",
    "MessageStream",
    "MultipleMessagesError",
    "RedactedThinkingBlock",
    "ServerToolUsage",
    "ServerToolUseBlock",
    "SignatureAdded",
    "StreamEvent",
    "TextBlock",
    "TextEditorCodeExecutionToolResultBlock",
    "ThinkingBlock",
    "ToolUseBlock",
    "Usage",
    "WebFetchToolResultBlock",
    "WebSearchToolResultBlock",
    "WrongFormatError",
    "aconnect_messages",
    "afold",
    "assemble",
    "assemble_all",
    "assemble_sse",
    "connect_messages",
    "fold",
    "split",
    "summarize_message",
    "to_sse",
]
