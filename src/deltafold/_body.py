"""A whole recorded body: its format told once, then its items or its SSE events.

``assemble`` of bytes or text, ``deltafold assemble`` and the replay server all take
recorded bodies: SSE, chunks as JSON lines, a JSON array of chunks, or one JSON object
(a chunk, or a non-streamed completion). The rule that tells them apart, and the size
checks a JSON body gets before it is parsed, live here once; the SSE loop itself is
``fold_sse`` (a body is only detected here, never framed).
"""

from __future__ import annotations

from typing import Any

from ._exceptions import ChunkDecodeError
from ._jsontext import JSONDecodeError, loads
from ._limits import Limits, limit_error
from ._sse import BOM, BOM_BYTES

__all__ = ["JSON_ARRAY", "JSON_LINES", "JSON_OBJECT", "SSE", "Body", "Text", "completion_of"]

SSE = "sse"
JSON_LINES = "json lines"
JSON_ARRAY = "json array"
JSON_OBJECT = "json object"

Text = bytes | bytearray | memoryview | str
"""A whole body as the caller holds it."""

_HEAD_CHARS = 64
_RAW_CHARS = 2000


class Body:
    """A whole body, BOM dropped, and what it holds.

    ``form`` is told by the first significant character of the first
    ``_HEAD_CHARS``: ``[`` a JSON array, ``{`` one JSON object or else JSON
    lines, anything else SSE. A JSON body is checked against ``max_total_bytes``
    whole, before it is parsed (the SSE framer counts bytes as it frames), and
    each JSON line against ``max_event_bytes``. ``items`` are the chunks of a
    JSON body as they stand (dicts, or the bytes of a line), not yet decoded.
    """

    __slots__ = ("form", "items", "text")

    def __init__(self, body: Text, limits: Limits) -> None:
        text = bytes(body) if isinstance(body, (bytearray, memoryview)) else body
        if isinstance(text, bytes):
            text = text.removeprefix(BOM_BYTES)
            head = text[:_HEAD_CHARS].decode("utf-8", "replace")
        else:
            text = text.removeprefix(BOM)
            head = text[:_HEAD_CHARS]
        self.text: bytes | str = text
        """The body without its BOM (orjson rejects one)."""
        self.items: list[Any] = []
        head = head.lstrip(" \t\r\n")
        if not head.startswith(("[", "{")):
            self.form = SSE
            return
        if limits.max_total_bytes is not None and len(text) > limits.max_total_bytes:
            raise limit_error("max_total_bytes", len(text), limits.max_total_bytes)
        if head.startswith("["):
            self.form = JSON_ARRAY
            self.items = _array(text)
            return
        # One (possibly pretty-printed) object; for JSON lines this fails after the first line.
        try:
            whole = loads(text)
        except JSONDecodeError:
            whole = None
        if isinstance(whole, dict):
            self.form = JSON_OBJECT
            self.items = [whole]
            return
        self.form = JSON_LINES
        self.items = _lines(text, limits.max_event_bytes)

    def completion(self) -> dict[str, Any] | None:
        """The one object when it is a non-streamed completion (messages, not deltas)."""
        if self.form is not JSON_OBJECT:
            return None
        return completion_of(self.items[0])

    def events(self) -> list[bytes]:
        """An SSE body cut into its events as recorded (comments too), each with its blank line.

        For replaying the body as it was sent; folding it is the framer's job.
        """
        text = self.text if isinstance(self.text, bytes) else self.text.encode()
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return [block + b"\n\n" for block in text.split(b"\n\n") if block.strip(b"\n")]


def completion_of(data: dict[str, Any]) -> dict[str, Any] | None:
    """``data`` when it is a non-streamed chat completion (messages, not deltas), else None."""
    if data.get("object") == "chat.completion":
        return data
    choices = data.get("choices")
    if isinstance(choices, list) and any(
        isinstance(c, dict) and "message" in c and "delta" not in c for c in choices
    ):
        return data
    return None


def _array(text: bytes | str) -> list[Any]:
    try:
        items = loads(text)
    except JSONDecodeError as exc:
        problem = str(exc)
    else:
        return items  # type: ignore[no-any-return]  # valid JSON starting with "[" is a list
    # Raised out here, so the error does not keep orjson's as its context (it holds the text).
    raise ChunkDecodeError(f"invalid JSON array body ({problem})", raw=text[:_RAW_CHARS])


def _lines(text: bytes | str, max_event_bytes: int | None) -> list[bytes]:
    raw = text if isinstance(text, bytes) else text.encode()
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if max_event_bytes is not None:
        longest = max(map(len, lines), default=0)
        if longest > max_event_bytes:
            raise limit_error("max_event_bytes", longest, max_event_bytes, "a JSON line")
    return lines
