"""Memory: folding is bounded by the size of what it builds, and leaves no reference cycles.

The fold keeps text as fragments and joins them into blocks about every 4096
characters, so a stream of one-token chunks holds about its text, not ~57 bytes
of object overhead per token. The HTTP version of the peak test is in
test_hardening_http.py; the 1M-chunk run is documented in docs/hardening.md.
"""

from __future__ import annotations

import gc
import os
import tracemalloc
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from deltafold import Accumulator, ChatCompletion, assemble, assemble_sse, to_dict

CHUNKS = int(os.environ.get("DELTAFOLD_MEMORY_CHUNKS", "100000"))
MiB = 1024 * 1024


def stream(n: int) -> Iterator[dict[str, Any]]:
    """``n`` small chunks: content, reasoning, tool arguments, reasoning_details, unknown text."""
    yield {
        "id": "gen-1",
        "model": "m",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "delta": {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        }
                    ],
                },
            }
        ],
    }
    for i in range(n):
        kind = i % 5
        if kind == 0:
            delta: dict[str, Any] = {"content": f"w{i % 97:02d} "}
        elif kind == 1:
            delta = {"reasoning": "hmm "}
        elif kind == 2:
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": f"{i},"}}]}
        elif kind == 3:
            delta = {"reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "t."}]}
        else:
            delta = {"content": "x"}
        yield {"id": "gen-1", "choices": [{"index": 0, "delta": delta}], "x_trace": f"{i:x}"}
    yield {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1},
    }


def sse_pieces(n: int) -> Iterator[bytes]:
    """The same stream as SSE, written 64 events per piece, as a socket would deliver it."""
    batch: list[bytes] = []
    for chunk in stream(n):
        batch.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
        if len(batch) == 64:
            yield b"".join(batch)
            batch = []
    batch.append(b"data: [DONE]\n\n")
    yield b"".join(batch)


def size_of(completion: ChatCompletion) -> int:
    """The completion's size: its JSON text, which its Python strings hold about 1:1."""
    return len(orjson.dumps(to_dict(completion)))


def peak_of(run: Any) -> tuple[Any, int]:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = run()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return result, peak


@pytest.mark.parametrize("source", ["dicts", "sse"])
def test_peak_memory_stays_within_three_times_the_completion(source: str) -> None:
    """Without the blocks, 100k chunks peak at ~16x the completion (11.8 MiB for 0.7 MiB)."""
    if source == "sse":
        # tracemalloc makes this path slow; the HTTP test streams 200k chunks this way.
        completion, peak = peak_of(lambda: assemble_sse(sse_pieces(CHUNKS // 4)))
    else:
        completion, peak = peak_of(lambda: assemble(stream(CHUNKS)))
    size = size_of(completion)
    message = completion.choices[0].message
    n = CHUNKS // 4 if source == "sse" else CHUNKS
    assert message.tool_calls[0].function.arguments.count(",") == n // 5
    assert completion.extra["x_trace"].endswith(f"{n - 2:x}{n - 1:x}")
    assert peak < 3 * size + 10 * MiB, (peak, size)
    assert peak < 4 * size + 2 * MiB, (peak, size)  # the ratio, with room for fixed costs


def test_fragments_are_joined_into_blocks_as_they_come() -> None:
    acc = Accumulator()
    for _ in range(100_000):
        acc.feed_many(({"choices": [{"index": 0, "delta": {"content": "a"}}]},))
    rope = acc._choices[0].content
    assert rope is not None and len(rope.parts) <= 100_000 // 4096 + 4096
    assert acc.result().choices[0].message.content == "a" * 100_000


def cycles_after(n: int) -> int:
    gc.collect()
    gc.disable()
    try:
        acc = Accumulator()
        for chunk in stream(n):
            acc.feed(chunk)
            if n and not acc.chunks_folded % 1000:
                acc.snapshot()
        completion = acc.result()
        to_dict(completion)
        assemble(stream(n))
        del acc, completion
        return gc.collect()
    finally:
        gc.enable()


def test_no_reference_cycles_per_chunk() -> None:
    small = cycles_after(100)
    large = cycles_after(10_000)
    assert large == small
    assert large < 50
