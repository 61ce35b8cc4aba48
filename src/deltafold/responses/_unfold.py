"""The inverse of the fold: one ``Response`` back into the events a server would stream.

``split`` exists so that tests, demos and the replay server can produce
realistic Responses streams, and so that the fold is checked by its round trip:
``assemble(split(r)) == r``. The events follow OpenAI's order (created,
in_progress, then per item: added, its parts and deltas, the ``.done`` events,
item done; then the terminal event), numbered by ``sequence_number``. With
``lean=True`` the final forms carry no text and the terminal event an empty
``output``, as some gateways send them: the deltas alone must rebuild the response.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

from .._sse import encode_event
from ._models import Response
from ._state import TEXT_FIELDS

__all__ = ["split", "to_sse"]

_TERMINAL = {"incomplete": "response.incomplete", "failed": "response.failed"}
_DELTA_EVENTS = {
    "function_call": "response.function_call_arguments",
    "custom_tool_call": "response.custom_tool_call_input",
    "code_interpreter_call": "response.code_interpreter_call_code",
    "mcp_call": "response.mcp_call_arguments",
}


class _Stream:
    """Collects the events, numbering them, and cuts text into pieces."""

    def __init__(self, chunk_chars: int, seed: int | None) -> None:
        self.events: list[dict[str, Any]] = []
        self.size = max(1, chunk_chars)
        self.rng = None if seed is None else random.Random(seed)

    def emit(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, **fields, "sequence_number": len(self.events)}
        self.events.append(event)
        return event

    def pieces(self, text: str) -> list[str]:
        out = []
        start = 0
        while start < len(text):
            size = self.size if self.rng is None else self.rng.randint(1, 2 * self.size)
            out.append(text[start : start + size])
            start += size
        return out


def split(
    response: Response, *, chunk_chars: int = 8, seed: int | None = None, lean: bool = False
) -> list[dict[str, Any]]:
    """The event dicts that stream ``response`` (see the module docstring).

    ``chunk_chars`` is the size of each text delta (random around it with ``seed``).
    """
    whole = response.to_dict()
    output = whole.get("output") or []
    stream = _Stream(chunk_chars, seed)
    start = {k: v for k, v in whole.items() if k not in ("output", "usage")}
    start.update(status="in_progress", output=[])
    stream.emit("response.created", response=start)
    stream.emit("response.in_progress", response=start)
    for index, item in enumerate(output):
        _item_events(stream, index, item, lean)
    final = dict(whole)
    if lean:
        final["output"] = []
    stream.emit(_TERMINAL.get(str(whole.get("status")), "response.completed"), response=final)
    return stream.events


def _item_events(stream: _Stream, index: int, item: dict[str, Any], lean: bool) -> None:
    kind = item.get("type")
    text_key = TEXT_FIELDS.get(str(kind))
    added = dict(item)
    if "status" in added:
        added["status"] = "in_progress"
    for key in ("content", "summary"):
        if isinstance(added.get(key), list):
            added[key] = []
    if text_key is not None and isinstance(item.get(text_key), str):
        added[text_key] = ""
    stream.emit("response.output_item.added", output_index=index, item=added)
    for n, part in enumerate(item.get("summary") or []):
        _summary_events(stream, index, n, part)
    content = item.get("content")
    for n, part in enumerate(content if isinstance(content, list) else []):
        _part_events(stream, index, n, part)
    text = item.get(text_key) if text_key else None
    if isinstance(text, str) and kind in _DELTA_EVENTS:
        name = _DELTA_EVENTS[str(kind)]
        for piece in stream.pieces(text):
            stream.emit(f"{name}.delta", output_index=index, delta=piece)
        stream.emit(f"{name}.done", output_index=index, **{text_key: text})  # type: ignore[arg-type]
    done = dict(item)
    if lean:
        done.update({k: [] for k in ("content", "summary") if isinstance(item.get(k), list)})
        if text_key is not None and isinstance(item.get(text_key), str):
            done[text_key] = ""
    stream.emit("response.output_item.done", output_index=index, item=done)


def _part_events(stream: _Stream, index: int, n: int, part: Any) -> None:
    """A content part: added, its deltas and annotations, its text's done, part done."""
    where = {"output_index": index, "content_index": n}
    kind = part.get("type") if isinstance(part, dict) else None
    key = {"output_text": "text", "refusal": "refusal", "reasoning_text": "text"}.get(str(kind))
    if key is None or not isinstance(part.get(key), str):
        stream.emit("response.content_part.added", **where, part=part)
        stream.emit("response.content_part.done", **where, part=part)
        return
    text = part[key]
    empty = {**part, key: ""}
    annotations = part.get("annotations")
    logprobs = part.get("logprobs")
    for name in ("annotations", "logprobs"):
        if isinstance(part.get(name), list):
            empty[name] = []
    stream.emit("response.content_part.added", **where, part=empty)
    delta_type = {"output_text": "response.output_text", "refusal": "response.refusal"}.get(
        str(kind), "response.reasoning_text"
    )
    pieces = stream.pieces(text)
    for i, piece in enumerate(pieces):
        extra = {"logprobs": logprobs} if logprobs and i == len(pieces) - 1 else {}
        stream.emit(f"{delta_type}.delta", **where, delta=piece, **extra)
    for i, annotation in enumerate(annotations if isinstance(annotations, list) else []):
        stream.emit(
            "response.output_text.annotation.added", **where, annotation_index=i,
            annotation=annotation,
        )
    stream.emit(f"{delta_type}.done", **where, **{key: text})
    stream.emit("response.content_part.done", **where, part=part)


def _summary_events(stream: _Stream, index: int, n: int, part: Any) -> None:
    where = {"output_index": index, "summary_index": n}
    text = part.get("text") if isinstance(part, dict) else None
    if not isinstance(text, str):
        stream.emit("response.reasoning_summary_part.added", **where, part=part)
        return
    stream.emit("response.reasoning_summary_part.added", **where, part={**part, "text": ""})
    for piece in stream.pieces(text):
        stream.emit("response.reasoning_summary_text.delta", **where, delta=piece)
    stream.emit("response.reasoning_summary_text.done", **where, text=text)
    stream.emit("response.reasoning_summary_part.done", **where, part=part)


def to_sse(events: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Frame events as OpenAI sends them: ``event: <type>`` then ``data: <json>``."""
    for event in events:
        yield encode_event(event, named=True)
