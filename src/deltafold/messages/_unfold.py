"""The inverse of the fold: one ``Message`` back into the events Anthropic would stream.

``split`` exists so that tests, demos and the replay server can produce realistic
Messages streams, and so that the fold is checked by its round trip:
``assemble(split(m)) == m``. The events follow Anthropic's order:
``message_start`` (the message with no content, null stop fields and the usage),
per block a ``content_block_start`` (text empty, input ``{}``), its deltas
(text, thinking, input fragments, citations, the signature) and its
``content_block_stop``, a ``ping`` after the first start, then ``message_delta``
(stop reason, stop sequence, ``output_tokens``) and ``message_stop``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from ._models import Message

__all__ = ["split", "to_sse"]

_TEXT_DELTA = {"text": ("text", "text_delta"), "thinking": ("thinking", "thinking_delta")}
_INPUT_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})


class _Cutter:
    """Cuts text into delta-sized pieces (fixed, or random around the size with a seed)."""

    def __init__(self, chunk_chars: int, seed: int | None) -> None:
        self.size = max(1, chunk_chars)
        self.rng = None if seed is None else random.Random(seed)

    def pieces(self, text: str) -> list[str]:
        out = []
        start = 0
        while start < len(text):
            size = self.size if self.rng is None else self.rng.randint(1, 2 * self.size)
            out.append(text[start : start + size])
            start += size
        return out


def split(
    message: Message, *, chunk_chars: int = 8, seed: int | None = None
) -> list[dict[str, Any]]:
    """The event dicts that stream ``message`` (see the module docstring).

    ``chunk_chars`` is the size of each text, thinking or input delta (random around it
    with ``seed``).
    """
    whole = message.to_dict()
    cutter = _Cutter(chunk_chars, seed)
    start = {k: v for k, v in whole.items() if k != "content"}
    start.update(content=[], stop_reason=None, stop_sequence=None)
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(whole.get("content") or ()):
        events += _block_events(cutter, index, block)
        if index == 0:
            events.append({"type": "ping"})
    delta = {"stop_reason": whole.get("stop_reason"), "stop_sequence": whole.get("stop_sequence")}
    usage = whole.get("usage")
    tokens = usage.get("output_tokens") if isinstance(usage, dict) else None
    end: dict[str, Any] = {"type": "message_delta", "delta": delta}
    end["usage"] = {"output_tokens": tokens} if tokens is not None else {}
    events.append(end)
    events.append({"type": "message_stop"})
    return events


def _block_events(cutter: _Cutter, index: int, block: dict[str, Any]) -> list[dict[str, Any]]:
    kind = block.get("type")
    first = dict(block)
    deltas: list[dict[str, Any]] = []
    text_key, delta_type = _TEXT_DELTA.get(str(kind), (None, None))
    if text_key is not None and isinstance(block.get(text_key), str):
        first[text_key] = ""
        for piece in cutter.pieces(block[text_key]):
            deltas.append({"type": delta_type, text_key: piece})
    citations = block.get("citations")
    if kind == "text" and isinstance(citations, list) and citations:
        first["citations"] = []
        deltas += [{"type": "citations_delta", "citation": c} for c in citations]
    if kind == "thinking" and isinstance(block.get("signature"), str):
        first["signature"] = ""
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    if kind in _INPUT_BLOCKS and "input" in block:
        first["input"] = {}
        text = orjson.dumps(block["input"]).decode()
        deltas += [{"type": "input_json_delta", "partial_json": p} for p in cutter.pieces(text)]
    where = {"index": index}
    return [
        {"type": "content_block_start", **where, "content_block": first},
        *({"type": "content_block_delta", **where, "delta": d} for d in deltas),
        {"type": "content_block_stop", **where},
    ]


def to_sse(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Frame events as Anthropic sends them: ``event: <type>`` then ``data: <json>``."""
    for event in events:
        name = str(event.get("type")).encode()
        yield b"event: " + name + b"\ndata: " + orjson.dumps(event) + b"\n\n"
