"""PartialJSON against the peers' way of showing partial JSON: re-parse everything per chunk.

One group per document size (1 KB to 1 MB of tool-argument-like JSON:
objects with strings, numbers, booleans, nulls and nested arrays), streamed
in 4-character fragments as models emit them. Every path reads the partial
value after every fragment:

- ``deltafold``: ``PartialJSON.feed`` (events consumed) and ``.value``;
- ``deltafold_events``: ``PartialJSON.feed`` only, its events consumed;
- ``jiter``: ``jiter.from_json(buf, partial_mode=True)`` on the whole buffer per
  fragment, the OpenAI SDK's way (``lib/streaming/chat/_completions.py``);
- ``pydantic_core``: ``from_json(buf, allow_partial="trailing-strings")`` per
  fragment (pydantic-ai, instructor);
- ``partial_json_parser``: ``partial_json_parser.loads(buf)`` per fragment (vLLM);
- ``langchain``: ``langchain_core.utils.json.parse_partial_json(buf)`` per fragment;
- ``openai_stream_state``: the OpenAI SDK's ``ChatCompletionStreamState`` given a strict
  function tool (``input_tools``), fed one tool-call chunk per fragment; it re-parses the
  whole arguments with jiter per chunk and the partial value is the snapshot's
  ``parsed_arguments`` (the chunk objects are built before timing, as its SSE decoder would).

A peer whose cost grows with the square of the size runs up to ``PEER_MAX``
only (skipped beyond, marked in the report). The report:
``python benchmarks/partial_json_report.py RUN.json [RUN2.json ...]``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from deltafold import PartialJSON

SIZES = [
    int(size)
    for size in os.environ.get("DELTAFOLD_PJ_SIZES", "1000,10000,100000,1000000").split(",")
    if size.strip()
]
FRAGMENT = 4

#: The largest document each re-parsing peer runs on (minutes per round beyond it).
PEER_MAX = {
    "jiter": 100_000,
    "pydantic_core": 100_000,
    "partial_json_parser": 10_000,
    "langchain": 10_000,
    "openai_stream_state": 100_000,
}

_WORDS = [
    "the", "weather", "in", "paris", "is", "sunny", "with", "light", "wind", "from", "the",
    "north", "and", "a", "chance", "of", "rain", "later", "today", "temperature", "humidity",
    "forecast", "city", "country", "region", "station", "reading", "é", "ü", "東京",
]


def document(size: int, seed: int = 12) -> str:
    """Tool-argument-like JSON of about ``size`` characters (deterministic)."""
    rng = random.Random(seed)
    items: list[Any] = []
    total = 40
    while total < size:
        item = {
            "id": rng.randrange(10**9),
            "name": " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(2, 25))),
            "score": round(rng.uniform(-1000, 1000), rng.randrange(1, 8)),
            "active": rng.random() < 0.5,
            "tags": [rng.choice(_WORDS) for _ in range(rng.randrange(0, 5))],
            "readings": [[rng.randrange(-50, 50), rng.random()] for _ in range(rng.randrange(3))],
            "location": {"lat": rng.uniform(-90, 90), "lon": rng.uniform(-180, 180),
                         "note": None if rng.random() < 0.7 else "checked\n\"twice\""},
        }
        items.append(item)
        total += len(json.dumps(item, ensure_ascii=False)) + 1
    return json.dumps({"query": "weather report", "units": "metric", "results": items},
                      ensure_ascii=False)


def fragments(text: str) -> list[str]:
    return [text[i : i + FRAGMENT] for i in range(0, len(text), FRAGMENT)]


# --- the paths: each takes the fragments and returns the final partial value ---------------


def run_deltafold(pieces: list[str]) -> Any:
    parser = PartialJSON()
    count = 0
    for piece in pieces:
        for _event in parser.feed(piece):
            count += 1
        parser.value  # noqa: B018
    return parser.close()


def run_deltafold_events(pieces: list[str]) -> Any:
    parser = PartialJSON()
    count = 0
    for piece in pieces:
        for _event in parser.feed(piece):
            count += 1
    return parser.close()


def run_jiter(pieces: list[str]) -> Any:
    from jiter import from_json

    buf = ""
    value = None
    for piece in pieces:
        buf += piece
        value = from_json(buf.encode(), partial_mode=True)
    return value


def run_pydantic_core(pieces: list[str]) -> Any:
    from pydantic_core import from_json

    buf = ""
    value = None
    for piece in pieces:
        buf += piece
        value = from_json(buf, allow_partial="trailing-strings")
    return value


def run_partial_json_parser(pieces: list[str]) -> Any:
    from partial_json_parser import loads

    buf = ""
    value = None
    for piece in pieces:
        buf += piece
        value = loads(buf)
    return value


def run_langchain(pieces: list[str]) -> Any:
    from langchain_core.utils.json import parse_partial_json

    buf = ""
    value = None
    for piece in pieces:
        buf += piece
        value = parse_partial_json(buf)
    return value


_STRICT_TOOL: Any = {
    "type": "function",
    "function": {"name": "report", "strict": True, "parameters": {"type": "object"}},
}
_openai_chunks: dict[int, list[Any]] = {}


def _tool_chunks(pieces: list[str]) -> list[Any]:
    """One OpenAI SDK chunk object per fragment (built once per document, outside timing)."""
    from openai.types.chat import ChatCompletionChunk

    key = id(pieces)
    if key not in _openai_chunks:
        _openai_chunks.clear()
        chunks = []
        for i, piece in enumerate(pieces):
            call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
            if i == 0:
                call.update(id="call_1", type="function")
                call["function"]["name"] = "report"
            delta: dict[str, Any] = {"tool_calls": [call]}
            if i == 0:
                delta["role"] = "assistant"
            chunks.append(ChatCompletionChunk.model_validate({
                "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }))
        _openai_chunks[key] = chunks
    return _openai_chunks[key]


def run_openai_stream_state(pieces: list[str]) -> Any:
    from openai.lib.streaming.chat import ChatCompletionStreamState

    chunks = _tool_chunks(pieces)
    state: Any = ChatCompletionStreamState(input_tools=[_STRICT_TOOL])
    value = None
    for chunk in chunks:
        state.handle_chunk(chunk)
        value = state.current_completion_snapshot.choices[0].message.tool_calls[0].function
        value = value.parsed_arguments
    return value


PATHS: dict[str, tuple[str | None, Callable[[list[str]], Any]]] = {
    "deltafold": (None, run_deltafold),
    "deltafold_events": (None, run_deltafold_events),
    "jiter": ("jiter", run_jiter),
    "pydantic_core": ("pydantic_core", run_pydantic_core),
    "partial_json_parser": ("partial_json_parser", run_partial_json_parser),
    "langchain": ("langchain_core", run_langchain),
    "openai_stream_state": ("openai", run_openai_stream_state),
}

_cache: dict[int, tuple[str, list[str], Any]] = {}


def _input(size: int) -> tuple[str, list[str], Any]:
    if size not in _cache:
        _cache.clear()
        text = document(size)
        _cache[size] = (text, fragments(text), json.loads(text))
    return _cache[size]


@pytest.mark.parametrize(
    ("size", "path"), [pytest.param(s, p, id=f"{s}-{p}") for s in SIZES for p in PATHS]
)
def test_partial_json(benchmark: Any, size: int, path: str) -> None:
    module, fn = PATHS[path]
    if module is not None:
        pytest.importorskip(module)
    if size > PEER_MAX.get(path, size):
        pytest.skip(f"{path} runs up to {PEER_MAX[path]:,} characters (minutes beyond)")
    text, pieces, expected = _input(size)
    if path == "openai_stream_state":
        _tool_chunks(pieces)  # built before timing
    start = time.perf_counter()
    assert fn(pieces) == expected, f"{path} did not read the whole document"
    elapsed = max(time.perf_counter() - start, 1e-6)
    rounds = max(1, min(50, int((2.0 if module is None else 4.0) / elapsed)))
    benchmark.group = f"partial-json-{size}"
    benchmark.extra_info.update(
        {"suite": "partial_json", "path": path, "size": size, "chars": len(text),
         "fragments": len(pieces)}
    )
    benchmark.pedantic(fn, args=(pieces,), rounds=rounds, iterations=1)
