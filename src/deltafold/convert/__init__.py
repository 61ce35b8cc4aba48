"""Convert between the three wire formats as the stream flows.

``stream(source, to=...)`` turns a chat, Responses or Messages stream into another
format's events as they arrive; ``astream`` does it for an async source;
``Converter`` is the sans-IO machine beneath both; ``to_sse`` / ``ato_sse`` frame the
events as the target's server would; ``result`` converts a finished answer. The
mapping, field by field, is in the docs (``convert.md``).
"""

from __future__ import annotations

from .._exceptions import ConversionError
from ._converter import Converter, astream, ato_sse, result, stream, to_sse

__all__ = ["ConversionError", "Converter", "astream", "ato_sse", "result", "stream", "to_sse"]
