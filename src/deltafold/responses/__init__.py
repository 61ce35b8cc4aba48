"""The OpenAI Responses API wire format: its model, its fold and its unfold.

``assemble``/``assemble_sse``/``assemble_all`` fold recorded streams into
:class:`Response` objects, :class:`Accumulator` folds one event at a time (the
same interface as the chat fold), ``split`` turns a response back into the
events that would stream it. The rules are in docs/responses.md.
"""

from .._exceptions import MultipleResponsesError, WrongFormatError
from . import _convert  # noqa: F401  (installs the models' conversion hooks)
from ._assemble import assemble, assemble_all, assemble_sse
from ._events import (
    Event,
    ItemTextDelta,
    OutputItemAdded,
    OutputItemDone,
    PartialImageAdded,
    ResponseStatusChanged,
    SequenceGap,
)
from ._fold import Accumulator
from ._format import RESPONSES
from ._items import (
    CodeInterpreterCall,
    ComputerCall,
    CustomToolCall,
    FileSearchCall,
    FunctionCall,
    ImageGenerationCall,
    Item,
    LocalShellCall,
    McpApprovalRequest,
    McpCall,
    McpListTools,
    Message,
    Reasoning,
    ShellCall,
    ShellCallOutput,
    WebSearchCall,
)
from ._iterfold import afold, fold
from ._models import (
    IncompleteDetails,
    InputTokensDetails,
    OutputTokensDetails,
    Response,
    ResponseError,
    ResponseUsage,
)
from ._parts import (
    Annotation,
    Logprob,
    OutputText,
    Part,
    ReasoningText,
    Refusal,
    SummaryText,
    TopLogprob,
)
from ._stream import AsyncResponseStream, ResponseStream, aconnect_responses, connect_responses
from ._unfold import split, to_sse

__all__ = [
    "RESPONSES",
    "Accumulator",
    "Annotation",
    "AsyncResponseStream",
    "CodeInterpreterCall",
    "ComputerCall",
    "CustomToolCall",
    "Event",
    "FileSearchCall",
    "FunctionCall",
    "ImageGenerationCall",
    "IncompleteDetails",
    "InputTokensDetails",
    "Item",
    "ItemTextDelta",
    "LocalShellCall",
    "Logprob",
    "McpApprovalRequest",
    "McpCall",
    "McpListTools",
    "Message",
    "MultipleResponsesError",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputText",
    "OutputTokensDetails",
    "Part",
    "PartialImageAdded",
    "Reasoning",
    "ReasoningText",
    "Refusal",
    "Response",
    "ResponseError",
    "ResponseStatusChanged",
    "ResponseStream",
    "ResponseUsage",
    "SequenceGap",
    "ShellCall",
    "ShellCallOutput",
    "SummaryText",
    "TopLogprob",
    "WebSearchCall",
    "WrongFormatError",
    "aconnect_responses",
    "afold",
    "assemble",
    "assemble_all",
    "assemble_sse",
    "connect_responses",
    "fold",
    "split",
    "to_sse",
]
