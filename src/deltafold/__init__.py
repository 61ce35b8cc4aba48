"""deltafold: fold streamed chat-completion chunks into one complete, typed ChatCompletion.

The public API is re-exported here; every other module is private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._accumulator import Accumulator
from ._assemble import assemble, assemble_sse
from ._client import Client, SyncClient
from ._convert import from_dict, to_dict
from ._demo import demo_recording
from ._events import (
    AnnotationAdded,
    ChoiceFinished,
    ContentDelta,
    Event,
    ImageAdded,
    JSONDelta,
    JSONInvalid,
    LogprobsDelta,
    ReasoningDelta,
    ReasoningDetailDelta,
    RefusalDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UsageUpdated,
)
from ._exceptions import (
    APIStatusError,
    BulkError,
    ChunkDecodeError,
    ConnectError,
    ConversionError,
    DeltafoldError,
    EmptyStreamError,
    EndpointError,
    IdleTimeoutError,
    IncompleteStreamError,
    JSONParseError,
    LimitExceededError,
    MultipleMessagesError,
    MultipleResponsesError,
    NotEventStreamError,
    StreamError,
    StreamUsageError,
    StructuredOutputError,
    TransportError,
    WrongFormatError,
)
from ._formats import assemble_any, detect_format
from ._iterfold import AsyncFold, Fold, afold, fold
from ._limits import Limits
from ._models import (
    Annotation,
    Audio,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    CompletionTokensDetails,
    CostDetails,
    Delta,
    FunctionCall,
    FunctionCallDelta,
    Image,
    ImageUrl,
    Logprobs,
    Message,
    PromptTokensDetails,
    ReasoningDetail,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    TopLogprob,
    UrlCitation,
    Usage,
)
from ._partial_json import (
    JSONEvent,
    JSONPath,
    PartialJSON,
    ScalarSet,
    StringAppended,
    ValueClosed,
    ValueKind,
    ValueStarted,
)
from ._server import replay_app, replay_server
from ._split import split, to_sse
from ._sse import ServerSentEvent, SSEDecoder, iter_sse
from ._stream import AsyncChatStream, aconnect_chat
from ._stream_sync import ChatStream, connect_chat
from ._telemetry import Telemetry
from ._timing import GapSummary, Timing
from ._typed import partial_view, typed_converter

__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers and the API reference; imported on use below
    from ._arrow import BULK_SCHEMA as BULK_SCHEMA
    from ._arrow import assemble_table as assemble_table
    from ._bulk import BulkOptions as BulkOptions
    from ._bulk import BulkSummary as BulkSummary
    from ._bulk import assemble_files as assemble_files
    from ._bulk_duckdb import register_duckdb as register_duckdb
    from ._bulk_ray import assemble_dataset as assemble_dataset

_LAZY = {
    "BULK_SCHEMA": "_arrow",
    "assemble_table": "_arrow",
    "BulkOptions": "_bulk",
    "BulkSummary": "_bulk",
    "assemble_files": "_bulk",
    "assemble_dataset": "_bulk_ray",
    "register_duckdb": "_bulk_duckdb",
}
"""Bulk names, imported on first use: they need the arrow (ray, duckdb) extra, the rest does not."""


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'deltafold' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    """The public API only: ``__all__`` and the bulk names, not this module's own imports."""
    return sorted([*__all__, *_LAZY])


__all__ = [
    "APIStatusError",
    "Accumulator",
    "Annotation",
    "AnnotationAdded",
    "AsyncChatStream",
    "AsyncFold",
    "Audio",
    "BulkError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatStream",
    "Choice",
    "ChoiceFinished",
    "ChunkChoice",
    "ChunkDecodeError",
    "Client",
    "CompletionTokensDetails",
    "ConnectError",
    "ContentDelta",
    "ConversionError",
    "CostDetails",
    "Delta",
    "DeltafoldError",
    "EmptyStreamError",
    "EndpointError",
    "Event",
    "Fold",
    "FunctionCall",
    "FunctionCallDelta",
    "GapSummary",
    "IdleTimeoutError",
    "Image",
    "ImageAdded",
    "ImageUrl",
    "IncompleteStreamError",
    "JSONDelta",
    "JSONEvent",
    "JSONInvalid",
    "JSONParseError",
    "JSONPath",
    "LimitExceededError",
    "Limits",
    "Logprobs",
    "LogprobsDelta",
    "Message",
    "MultipleMessagesError",
    "MultipleResponsesError",
    "NotEventStreamError",
    "PartialJSON",
    "PromptTokensDetails",
    "ReasoningDelta",
    "ReasoningDetail",
    "ReasoningDetailDelta",
    "RefusalDelta",
    "SSEDecoder",
    "ScalarSet",
    "ServerSentEvent",
    "StreamError",
    "StreamUsageError",
    "StringAppended",
    "StructuredOutputError",
    "SyncClient",
    "Telemetry",
    "Timing",
    "TokenLogprob",
    "ToolCall",
    "ToolCallArgumentsDelta",
    "ToolCallDelta",
    "ToolCallDone",
    "ToolCallStarted",
    "TopLogprob",
    "TransportError",
    "UrlCitation",
    "Usage",
    "UsageUpdated",
    "ValueClosed",
    "ValueKind",
    "ValueStarted",
    "WrongFormatError",
    "__version__",
    "aconnect_chat",
    "afold",
    "assemble",
    "assemble_any",
    "assemble_sse",
    "connect_chat",
    "demo_recording",
    "detect_format",
    "fold",
    "from_dict",
    "iter_sse",
    "partial_view",
    "replay_app",
    "replay_server",
    "split",
    "to_dict",
    "to_sse",
    "typed_converter",
]
