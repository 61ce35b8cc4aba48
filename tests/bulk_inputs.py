"""Bulk test datasets built from every recording plus broken rows, and the expected rows.

The recordings are tests/recordings.py's: the ones made there, and the real
corpus's when present.

The expectation is computed the slow, obvious way: ``deltafold.assemble`` on
each stream, its completion or its error (class name, message, ``.partial``).
"""

from __future__ import annotations

import json
import random
from typing import Any

import deltafold
from recordings import all_recordings, find, read_recording

COMPLETION = {
    "id": "chatcmpl-ns",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "not streamed"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.5},
}


def recordings() -> list[tuple[str, bytes]]:
    """(path, body) of every recording."""
    return [(entry["path"], read_recording(entry)) for entry in all_recordings()]


def broken() -> list[tuple[str, bytes | None]]:
    """Rows a log really has: garbage, empty, cut, a non-streamed answer, a null."""
    sse = read_recording(find("generated/content_plain_stop.sse"))
    return [
        ("garbage", b"<html>502 Bad Gateway</html>"),
        ("empty", b""),
        ("truncated", sse[: len(sse) // 2]),
        ("cut-json", b'data: {"id": "x", "choices": [{"index": 0, "delta": {"content": "hi'),
        ("not-utf8", b"\xff\xfe\x00garbage"),
        ("array-of-numbers", b"[1, 2, 3]"),
        ("non-streaming", json.dumps(COMPLETION).encode()),
        ("null", None),
    ]


def stream_rows() -> list[tuple[str, bytes | None]]:
    """Every recording and every broken row, shuffled with a fixed seed."""
    rows: list[tuple[str, bytes | None]] = [*recordings(), *broken()]
    random.Random(14).shuffle(rows)
    return rows


def expected(body: Any) -> dict[str, Any]:
    """What ``assemble_any`` gives for ``body``: the row's completion and error columns."""
    try:
        completion = deltafold.assemble_any(body)
    except Exception as exc:
        partial = getattr(exc, "partial", None)
        return {
            "completion": None if partial is None else partial.to_dict(),
            "error_type": type(exc).__name__,
            "error_message": str(exc),
        }
    return {"completion": completion.to_dict(), "error_type": None, "error_message": None}


def actual(row: dict[str, Any]) -> dict[str, Any]:
    """The same three columns of an output row, the completion parsed."""
    text = row["completion"]
    return {
        "completion": None if text is None else json.loads(text),
        "error_type": row["error_type"],
        "error_message": row["error_message"],
    }


def chunks_of(body: bytes) -> list[str]:
    """A recording's chunks as JSON text, in order ([DONE] and comments dropped)."""
    text = body.decode()
    if text.lstrip().startswith("{"):
        return [line for line in text.splitlines() if line.strip()]
    events = deltafold.iter_sse([body])
    return [e.data for e in events if e.data and e.data != "[DONE]" and e.event in ("", "message")]
