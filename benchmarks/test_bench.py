"""The benchmark suite: deltafold's paths, the floor and the peers, per scenario and per size.

Each pytest-benchmark group holds one input (a scenario, or the content
stream at one size) and every path run on it in this process. Rounds adapt
to a time budget per test (after one untimed warm-up call that also checks
the result), so the suite stays within minutes on two cores.

Every peer runs twice: bytes in (the floor's framing and decoding, then the
peer: the end-to-end comparison with ``assemble_sse``), and dicts in (the
decoded chunks, as ``assemble(dicts)`` gets them: the fold-only comparison).
A dicts-in peer gets freshly decoded chunks every round, made before the
round's timer starts: LiteLLM changes the dicts it is given.

Environment:
- ``DELTAFOLD_BENCH_SIZES``: the scale series, default ``1000,10000,100000,1000000``.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

import paths
import streams

SIZES = [
    int(size)
    for size in os.environ.get("DELTAFOLD_BENCH_SIZES", "1000,10000,100000,1000000").split(",")
    if size.strip()
]

#: deltafold's paths and the floor: name -> (input kind, function).
OURS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "floor": ("bytes", paths.floor),
    "floor_split": ("bytes", paths.floor_split),
    "floor_framer": ("bytes", paths.floor_framer),
    "floor_events": ("bytes", paths.floor_events),
    "assemble_sse": ("bytes", paths.assemble_sse),
    "assemble_dicts": ("dicts", paths.assemble_dicts),
    "feed_events": ("dicts", paths.feed_events),
    "typed": ("dicts", paths.typed),
}

#: The largest scale-series stream each slow path is run on (seconds per round beyond it).
SCALE_MAX = {"typed": 100_000, "openai": 10_000, "litellm": 100_000, "langchain": 100_000}

#: Scenarios a peer runs on a reduced stream (its cost there grows faster than linearly).
PEER_REDUCED = {("openai", "n4_logprobs")}

#: Scenarios a peer cannot fold at all: skipped with the reason.
PEER_UNSUPPORTED = {
    ("langchain", "n4_logprobs"): "langchain-openai folds only choices[0] of each chunk (no n>1)",
}

_BUDGET_OURS = 2.0
_BUDGET_PEER = 4.0


class _Cache:
    """Holds the streams of one group at a time: a 1M-chunk stream takes over a GB as dicts."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.value: dict[str, Any] = {}

    def get(self, key: str, build: Callable[[], streams.Stream]) -> dict[str, Any]:
        if key != self.key:
            self.key, self.value = None, {}
            gc.unfreeze()
            gc.collect()
            stream = build()
            expected = _summary_deltafold(paths.assemble_dicts(stream.chunks))
            self.key, self.value = key, {"stream": stream, "expected": expected}
            # The input (a million chunk dicts is millions of containers) must not make the
            # cyclic GC of the measured path slower: frozen objects are never traversed.
            gc.collect()
            gc.freeze()
        return self.value


_cache = _Cache()


# --- what each library's result says, to check every path did the whole job ----------


def _arguments(text: str) -> Any:
    return json.loads(text) if text else None


def _summary_deltafold(result: Any) -> dict[int, tuple[str, list[Any]]]:
    return {
        c.index: (
            c.message.content or "",
            [_arguments(t.function.arguments) for t in c.message.tool_calls],
        )
        for c in result.choices
    }


def _summary_sdk(result: Any) -> dict[int, tuple[str, list[Any]]]:
    """OpenAI SDK and LiteLLM results have the same shape."""
    return {
        c.index: (
            c.message.content or "",
            [_arguments(t.function.arguments) for t in (c.message.tool_calls or [])],
        )
        for c in result.choices
    }


def _summary_langchain(result: Any) -> dict[int, tuple[str, list[Any]]]:
    message = result.generations[0].message
    return {0: (message.content or "", [call["args"] for call in message.tool_calls])}


_SUMMARY = {
    "openai": _summary_sdk,
    "litellm": _summary_sdk,
    "langchain": _summary_langchain,
}


def _check(path: str, result: Any, stream: streams.Stream, expected: Any) -> None:
    if path.startswith("floor"):
        assert result == stream.n_chunks
    elif path.removesuffix("_dicts") in _SUMMARY:
        summary = _SUMMARY[path.removesuffix("_dicts")](result)
        assert summary == expected, f"{path} folded {stream.name} differently"
    else:
        assert _summary_deltafold(result) == expected


# --- running one benchmark ----------------------------------------------------------------


def _fresh(stream: streams.Stream) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A dicts-in peer's input for one round, decoded before the timer starts.

    Frozen like the cached input of ``assemble(dicts)``, so the cyclic GC never
    walks it during the timed call of either.
    """
    chunks = paths.decode_all(stream.sse)
    gc.freeze()
    return (chunks,), {}


def _run(
    benchmark: Any,
    path: str,
    fn: Callable[[Any], Any],
    kind: str,
    stream: streams.Stream,
    expected: Any,
    *,
    group: str,
    scenario: str,
    library: str,
    reduced: bool = False,
) -> None:
    peer = library not in ("deltafold", "floor")
    fresh = peer and kind == "dicts"
    arg = stream.sse if kind == "bytes" else stream.chunks
    if fresh:
        arg = paths.decode_all(stream.sse)
    start = time.perf_counter()
    result = fn(arg)  # warm-up and calibration, not timed
    elapsed = max(time.perf_counter() - start, 1e-6)
    _check(path, result, stream, expected)
    del result, arg
    budget = _BUDGET_PEER if peer else _BUDGET_OURS
    rounds = max(1 if peer else 3, min(10 if peer else 200, int(budget / elapsed)))
    benchmark.group = group
    benchmark.extra_info.update(
        {
            "scenario": scenario,
            "path": path,
            "library": library,
            "input": kind,
            "n_chunks": stream.n_chunks,
            "sse_bytes": len(stream.sse),
            "reduced": reduced,
        }
    )
    if fresh:
        benchmark.pedantic(fn, setup=lambda: _fresh(stream), rounds=rounds, iterations=1)
    else:
        arg = stream.sse if kind == "bytes" else stream.chunks
        benchmark.pedantic(fn, args=(arg,), rounds=rounds, iterations=1)


def _library(path: str) -> str:
    return "floor" if path.startswith("floor") else "deltafold"


#: Every peer path: "openai" (bytes in) and "openai_dicts" (dicts in), and so on.
PEER_PATHS = [name + suffix for name in paths.PEERS for suffix in ("", "_dicts")]


def _peer(path: str) -> tuple[str, Callable[[Any], Any], str]:
    """A peer path's input kind, function and library (skipped when not installed)."""
    name = path.removesuffix("_dicts")
    module, from_bytes, from_dicts = paths.PEERS[name]
    pytest.importorskip(module)
    if path.endswith("_dicts"):
        return "dicts", from_dicts, name
    return "bytes", from_bytes, name


SCENARIO_CASES = [
    pytest.param(scenario, path, id=f"{scenario}-{path}")
    for scenario in streams.SCENARIOS
    for path in [*OURS, *PEER_PATHS]
]


@pytest.mark.parametrize(("scenario", "path"), SCENARIO_CASES)
def test_scenario(benchmark: Any, scenario: str, path: str) -> None:
    name = path.removesuffix("_dicts")
    if (name, scenario) in PEER_UNSUPPORTED:
        pytest.skip(PEER_UNSUPPORTED[name, scenario])
    reduced = (name, scenario) in PEER_REDUCED
    if path in OURS:
        kind, fn = OURS[path]
        library = _library(path)
    else:
        kind, fn, library = _peer(path)
    if reduced:
        entry = _cache.get(f"{scenario}-reduced", streams.REDUCED[scenario])
    else:
        entry = _cache.get(scenario, streams.SCENARIOS[scenario])
    _run(
        benchmark, path, fn, kind, entry["stream"], entry["expected"],
        group=scenario, scenario=scenario, library=library, reduced=reduced,
    )


SCALE_CASES = [
    pytest.param(size, path, id=f"{size}-{path}")
    for size in SIZES
    for path in [*OURS, *PEER_PATHS]
]


@pytest.mark.parametrize(("size", "path"), SCALE_CASES)
def test_scale(benchmark: Any, size: int, path: str) -> None:
    name = path.removesuffix("_dicts")
    if size > SCALE_MAX.get(name, size):
        pytest.skip(f"{path} is run up to {SCALE_MAX[name]:,} chunks (too slow beyond)")
    if path in OURS:
        kind, fn = OURS[path]
        library = _library(path)
    else:
        kind, fn, library = _peer(path)
    entry = _cache.get(f"scale-{size}", lambda: streams.scale_stream(size))
    _run(
        benchmark, path, fn, kind, entry["stream"], entry["expected"],
        group=f"scale-{size}", scenario="scale", library=library,
    )
