"""Peak memory of deltafold's paths over the scale series, with tracemalloc.

Run apart from the timed suite (tracemalloc slows every allocation): the
input is built before tracing starts, so a peak is what the path itself
allocated on top of the input it was given. It is compared with the size of
the final completion (its JSON form), the issue's bound being
``3 * completion + 10 MB``.

    python benchmarks/memory.py 1000 10000 100000 1000000
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson

import deltafold
import streams

MB = 1024 * 1024

#: Path name -> (input kind, function); "_pieces" cuts the body as a socket hands it over.
def _assemble_pieces(body: bytes) -> Any:
    return deltafold.assemble_sse(streams.iter_pieces(body))


PATHS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "assemble_sse": ("bytes", deltafold.assemble_sse),
    "assemble_sse_pieces": ("bytes", _assemble_pieces),
    "assemble_dicts": ("dicts", deltafold.assemble),
}


def _peak(fn: Callable[[Any], Any], arg: Any) -> tuple[int, Any]:
    gc.collect()
    tracemalloc.start()
    try:
        result = fn(arg)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def measure(size: int) -> dict[str, Any]:
    """Peaks (bytes) of each path on the content stream of ``size`` chunks."""
    stream = streams.scale_stream(size)
    row: dict[str, Any] = {"n_chunks": size, "sse_bytes": len(stream.sse)}
    for name, (kind, fn) in PATHS.items():
        arg = stream.chunks if kind == "dicts" else stream.sse
        peak, result = _peak(fn, arg)
        row[name] = peak
        if "completion_bytes" not in row:
            row["completion_bytes"] = len(orjson.dumps(deltafold.to_dict(result)))
        del result
    row["bound"] = 3 * row["completion_bytes"] + 10 * MB
    del stream
    gc.collect()
    return row


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [1000, 10_000, 100_000, 1_000_000]
    for size in sizes:
        row = measure(size)
        print(
            f"{size:>9,} chunks: completion {row['completion_bytes'] / MB:7.2f} MB, bound "
            f"{row['bound'] / MB:7.2f} MB; "
            + ", ".join(f"{name} {row[name] / MB:8.2f} MB" for name in PATHS)
        )


if __name__ == "__main__":
    main(sys.argv[1:])
