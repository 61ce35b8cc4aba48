"""The Messages recordings (../shared/corpus-messages) and the SDK's fold, for the tests.

The directory is ``$DELTAFOLD_CORPUS_MESSAGES`` or ``<repo>/../shared/corpus-messages``;
when it is absent the corpus tests skip and the generated ones still run.
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


def entries() -> list[dict[str, Any]]:
    """MANIFEST.json entries, or [] when the corpus is absent."""
    manifest = CORPUS_MESSAGES / "MANIFEST.json"
    if not manifest.is_file():
        return []
    loaded: list[dict[str, Any]] = json.loads(manifest.read_text())
    return loaded


def params() -> list[Any]:
    """One pytest param per recording (a skip when the corpus is absent)."""
    found = entries()
    if not found:
        reason = f"Messages corpus not found at {CORPUS_MESSAGES}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(entry, id=entry["path"]) for entry in found]


def body(entry: dict[str, Any]) -> bytes:
    return (CORPUS_MESSAGES / entry["path"]).read_bytes()


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
