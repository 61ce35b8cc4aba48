"""What each layer of ``assemble_sse`` adds to the strictest floor, per scenario.

One process, every step on the same 1,005-chunk slice of each scenario (the
middle of the reasoning stream, where reasoning and text alternate), the steps
interleaved round by round; the minimum of the rounds, in µs per chunk:

floor; deltafold's framer + ``orjson.loads``; + the glue loop of ``fold_sse``
with a consumer that does nothing; + the fold (``Accumulator.add``); +
``result()`` (that is ``assemble_sse``); the same with the cyclic GC off; and
the fold alone, and with its result, on the decoded dicts.

    python benchmarks/ladder.py [scenario ...] [--rounds 200]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

import orjson

import paths
import streams
from deltafold import Accumulator
from deltafold._assemble import fold_sse
from deltafold._sse import DataDecoder, iter_windows


def framer_loads(body: bytes) -> None:
    decoder = DataDecoder(max_event_bytes=None, max_total_bytes=None)
    loads = orjson.loads
    for window in iter_windows(body):
        for data in decoder.feed_data(window):
            if data.__class__ is bytes and data != b"[DONE]":
                loads(data)


def glue(body: bytes) -> None:
    fold_sse(body, lambda chunk: None, limits=Accumulator().limits)


def fold(body: bytes) -> Accumulator:
    acc = Accumulator()
    fold_sse(body, acc.add, limits=acc.limits, accumulator=acc)
    return acc


def assemble(body: bytes) -> Any:
    return fold(body).result()


def assemble_gc_off(body: bytes) -> Any:
    gc.disable()
    try:
        return assemble(body)
    finally:
        gc.enable()


def fold_dicts(chunks: list[dict[str, Any]]) -> Accumulator:
    acc = Accumulator()
    add = acc.add
    for chunk in chunks:
        add(chunk)
    return acc


def fold_dicts_result(chunks: list[dict[str, Any]]) -> Any:
    return fold_dicts(chunks).result()


STEPS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("floor", paths.floor, "bytes"),
    ("+ deltafold's framer", framer_loads, "bytes"),
    ("+ the glue loop", glue, "bytes"),
    ("+ the fold", fold, "bytes"),
    ("+ result() = assemble_sse", assemble, "bytes"),
    ("assemble_sse, GC off", assemble_gc_off, "bytes"),
    ("fold alone, on dicts", fold_dicts, "dicts"),
    ("fold + result, on dicts", fold_dicts_result, "dicts"),
]


def ladder(name: str, rounds: int) -> dict[str, float]:
    chunks = streams.SCENARIOS[name]().chunks
    if name == "reasoning":
        middle = len(chunks) // 2
        part = chunks[middle - 500 : middle + 500]
    else:
        part = chunks[:1000]
    part = part + chunks[-5:]
    body = streams.sse_body(part)
    dicts = paths.decode_all(body)
    gc.collect()
    gc.freeze()
    times: dict[str, list[float]] = {label: [] for label, _, _ in STEPS}
    try:
        for _ in range(rounds):
            for label, step, kind in STEPS:
                arg = body if kind == "bytes" else dicts
                start = time.perf_counter()
                step(arg)
                times[label].append(time.perf_counter() - start)
    finally:
        gc.unfreeze()
    return {label: min(values) / len(part) * 1e6 for label, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(streams.SCENARIOS))
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    labels = " | ".join(label for label, _, _ in STEPS)
    print(f"| scenario | {labels} | floor / assemble_sse |")
    print("|---|" + "---:|" * (len(STEPS) + 1))
    for name in args.scenarios:
        row = ladder(name, args.rounds)
        ratio = row["floor"] / row["+ result() = assemble_sse"]
        cells = " | ".join(f"{value:.2f}" for value in row.values())
        print(f"| {name} | {cells} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
