"""Turning whatever the caller holds into a chunk dict, and SSE events into chunks.

Accepted chunk forms: a dict (decoded JSON), JSON text or bytes, our typed
``ChatCompletionChunk``, or any object with ``model_dump()`` (the OpenAI
SDK's pydantic chunks). SSE events become chunks here too: ``[DONE]`` ends
the stream and ``event: error`` becomes a chunk with a top-level ``error``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ._exceptions import ChunkDecodeError

__all__ = ["DONE", "decode_chunk", "event_to_chunk"]


class _Done:
    """The ``[DONE]`` sentinel: the stream is over."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DONE"


DONE: Any = _Done()


def _loads(raw: bytes | str, position: int) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        problem: str | None = str(exc) or "invalid JSON"
    else:
        if value.__class__ is dict:
            return value
        problem = None
    # Raised out here, so the error does not keep orjson's as its context (it holds the text).
    if problem is not None:
        raise ChunkDecodeError(
            f"event {position}: invalid JSON ({problem}): {_preview(raw)}",
            raw=raw,
            position=position,
        )
    raise ChunkDecodeError(
        f"event {position}: expected a JSON object, got {type(value).__name__}: {_preview(raw)}",
        raw=raw,
        position=position,
    )


def _preview(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
    return repr(text[:80]) + ("..." if len(text) > 80 else "")


def decode_chunk(chunk: Any, position: int) -> dict[str, Any]:
    """One chunk as a dict; a ChunkDecodeError names the event for anything unreadable."""
    if chunk.__class__ is dict:
        return chunk
    if isinstance(chunk, (bytes, bytearray, memoryview, str)):
        raw = bytes(chunk) if isinstance(chunk, (bytearray, memoryview)) else chunk
        return _loads(raw, position)
    if isinstance(chunk, dict):
        return dict(chunk)
    from ._models import ChatCompletionChunk

    if isinstance(chunk, ChatCompletionChunk):
        from ._convert import to_dict

        return to_dict(chunk)
    dump = getattr(chunk, "model_dump", None)
    if callable(dump):
        try:
            data = dump(exclude_unset=True)
        except TypeError:
            data = dump()
        if isinstance(data, dict):
            return data
    raise ChunkDecodeError(
        f"event {position}: cannot read a chunk from {type(chunk).__name__}",
        raw=repr(chunk)[:2000],
        position=position,
    )


def event_to_chunk(event_type: str, data: str, position: int) -> dict[str, Any] | None:
    """The chunk an SSE event carries; None for an empty one, ``DONE`` at ``[DONE]``.

    ``event: error`` (Groq's mid-stream errors) becomes ``{"error": ...}`` so
    the fold raises it like an in-band error.
    """
    if event_type == "error":
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return {"error": {"message": data}}
        if isinstance(value, dict) and "error" in value:
            return value
        return {"error": value}
    if not data or data.isspace():
        return None
    if data.strip() == "[DONE]":
        return DONE  # type: ignore[no-any-return]
    return _loads(data, position)
