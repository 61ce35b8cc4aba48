"""The Messages recordings (../shared/corpus-messages) and the SDK's fold, for the tests.

The directory is ``$DELTAFOLD_CORPUS_MESSAGES`` or ``<repo>/../shared/corpus-messages``;
when it is absent the corpus tests run on recordings made here instead (``made()``): one
per feature the real corpus has, streamed by ``deltafold.messages.split``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS_MESSAGES = Path(
    os.environ.get("DELTAFOLD_CORPUS_MESSAGES") or REPO.parent / "shared" / "corpus-messages"
)


def real_entries() -> list[dict[str, Any]]:
    """MANIFEST.json entries, or [] when the corpus is absent."""
    manifest = CORPUS_MESSAGES / "MANIFEST.json"
    if not manifest.is_file():
        return []
    loaded: list[dict[str, Any]] = json.loads(manifest.read_text())
    return loaded


def entries() -> list[dict[str, Any]]:
    """The real recordings, or the ones made here when the corpus is absent."""
    return real_entries() or made()


def params() -> list[Any]:
    """One pytest param per recording."""
    return [pytest.param(entry, id=entry["path"]) for entry in entries()]


def body(entry: dict[str, Any]) -> bytes:
    if "body" in entry:
        made_body: bytes = entry["body"]
        return made_body
    return (CORPUS_MESSAGES / entry["path"]).read_bytes()


_USAGE = {"input_tokens": 12, "output_tokens": 40, "cache_creation_input_tokens": 100,
          "cache_read_input_tokens": 2000}
_MADE: dict[str, tuple[list[dict[str, Any]], str, list[str]]] = {
    "text": ([{"type": "text", "text": "Lisbon: 19 °C, light wind. Café weather ☕."}],
             "end_turn", ["stop:end_turn"]),
    "citations": ([{"type": "text", "text": "It is mild.", "citations": [
        {"type": "char_location", "cited_text": "mild", "document_index": 0,
         "document_title": "forecast", "start_char_index": 6, "end_char_index": 10}]}],
        "end_turn", ["citations"]),
    "thinking-tool": ([
        {"type": "thinking", "thinking": "The user wants the weather; call the tool.",
         "signature": "EqQBCkYIBxgCKkB" + "s" * 60},
        {"type": "text", "text": "Let me look that up."},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather",
         "input": {"city": "Lisbon", "days": [1, 2], "metric": True}},
        {"type": "tool_use", "id": "toolu_01B", "name": "get_time", "input": {}},
    ], "tool_use", ["thinking", "tool_use", "stop:tool_use"]),
    "redacted": ([{"type": "redacted_thinking", "data": "EmwKAhgBEgy" + "r" * 40},
                  {"type": "text", "text": "Done."}], "end_turn", ["redacted_thinking"]),
    "server-tool": ([
        {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search",
         "input": {"query": "Lisbon weather"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": [
            {"type": "web_search_result", "url": "https://example.org/w", "title": "W",
             "encrypted_content": "abc", "page_age": None}]},
        {"type": "text", "text": "Sunny."},
    ], "end_turn", ["server_tool_use"]),
    "max-tokens": ([{"type": "text", "text": "This answer is cut"}], "max_tokens",
                   ["stop:max_tokens"]),
}


def made() -> list[dict[str, Any]]:
    """Recordings made here, one per feature of the real corpus (see the module docstring)."""
    import deltafold.messages as dm

    out = []
    for name, (content, stop, features) in _MADE.items():
        message = dm.Message.from_dict({
            "id": f"msg_made_{name.replace('-', '_')}", "type": "message", "role": "assistant",
            "model": "claude-made", "content": content, "stop_reason": stop,
            "stop_sequence": None, "usage": _USAGE,
        })
        raw = b"".join(dm.to_sse(dm.split(message, chunk_chars=6)))
        out.append({"path": f"generated/{name}.sse", "features": features, "body": raw})
    return out


def data_events(raw: bytes) -> list[dict[str, Any]]:
    """The JSON of every ``data:`` line, read line by line (independent of deltafold's framer)."""
    out = []
    for line in raw.splitlines():
        if line.startswith(b"data:"):
            text = line[5:].strip()
            if text and text != b"[DONE]":
                out.append(orjson.loads(text))
    return out


def sdk_fold(events: list[dict[str, Any]]) -> Any:
    """The Anthropic SDK's way: ``construct_type`` + ``accumulate_event`` per event."""
    from anthropic._models import construct_type
    from anthropic.lib.streaming._messages import accumulate_event
    from anthropic.types import RawMessageStreamEvent

    snapshot = None
    buffers: dict[int, bytes] = {}
    for event in events:
        if event.get("type") == "ping":
            continue
        typed = construct_type(type_=RawMessageStreamEvent, value=event)
        snapshot = accumulate_event(
            event=typed, current_snapshot=snapshot, json_bufs=buffers  # type: ignore[arg-type]
        )
    return snapshot
