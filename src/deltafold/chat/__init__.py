"""The chat-completions wire format under its own name, beside ``deltafold.responses`` and
``deltafold.messages``.

The same objects as the top-level names (``deltafold.assemble`` is
``deltafold.chat.assemble``): chat was deltafold's first format and keeps its
top-level names; this namespace lets code that handles all three formats read alike.
"""

from .._accumulator import Accumulator
from .._assemble import assemble, assemble_sse
from .._chat_format import CHAT, summarize_chat
from .._iterfold import AsyncFold, Fold, afold, fold
from .._models import ChatCompletion, ChatCompletionChunk, Message
from .._split import split, to_sse
from .._stream import AsyncChatStream, aconnect_chat
from .._stream_sync import ChatStream, connect_chat

__all__ = [
    "CHAT",
    "Accumulator",
    "AsyncChatStream",
    "AsyncFold",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatStream",
    "Fold",
    "Message",
    "aconnect_chat",
    "afold",
    "assemble",
    "assemble_sse",
    "connect_chat",
    "fold",
    "split",
    "summarize_chat",
    "to_sse",
]
