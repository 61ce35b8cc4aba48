"""Bulk assembly benchmark: streams/s and chunks/s per engine, and peak memory as input grows.

    python benchmarks/bulk.py                  # full run, writes results/bulk-2core.json
    python benchmarks/bulk.py --copies 4 --sizes 10000,100000   # a quicker one

Throughput input: every corpus recording (../shared/corpus) as an SSE body (a
chunks-JSONL recording framed as ``data:`` lines), repeated ``--copies`` times,
in a Parquet file of 256-row row groups. Each engine reads that file and writes
a Parquet file of completions; the loops (``assemble`` per row, ``assemble_sse``
per row, LiteLLM's ``stream_chunk_builder`` per row) read the same bodies from
memory and write nothing, so they are the floor the engines are held to.
Memory input: synthetic content streams (12 chunks each) written a batch at a
time; each size is folded in a fresh process with 1 worker and its peak RSS read.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = REPO.parent / "shared" / "corpus"
sys.path.insert(0, str(HERE))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import deltafold  # noqa: E402


def corpus_bodies() -> list[bytes]:
    """Every recording as an SSE body."""
    manifest = json.loads((CORPUS / "MANIFEST.json").read_text())
    bodies = []
    for entry in manifest:
        raw = (CORPUS / entry["path"]).read_bytes()
        if entry["format"] != "sse":
            raw = b"".join(b"data: " + line + b"\n\n" for line in raw.splitlines() if line.strip())
        bodies.append(raw)
    return bodies


def count_chunks(bodies: list[bytes]) -> int:
    return sum(body.count(b"\ndata:") + body.startswith(b"data:") for body in bodies)


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def loop(fold: Callable[[bytes], object], bodies: list[bytes]) -> Callable[[], None]:
    def run() -> None:
        for body in bodies:
            with contextlib.suppress(Exception):  # an error stream is a row too
                fold(body)

    return run


def throughput(copies: int, work: Path) -> list[dict[str, Any]]:
    from paths import litellm_builder

    bodies = corpus_bodies() * copies
    chunks = count_chunks(bodies)
    source = work / "streams.parquet"
    pq.write_table(pa.table({"body": pa.array(bodies, type=pa.binary())}), source,
                   row_group_size=256)
    out = work / "out.parquet"
    runs: list[tuple[str, int, float]] = []

    def engine(workers: int) -> Callable[[], object]:
        return lambda: deltafold.assemble_files([source], out, workers=workers, batch_size=256)

    runs.append(("naive loop: assemble per row", 1, timed(loop(deltafold.assemble, bodies))))
    runs.append(("assemble_sse per row (floor)", 1, timed(loop(deltafold.assemble_sse, bodies))))
    runs.append(("local engine, 1 worker", 1, timed(engine(1))))
    runs.append(("local engine, 2 workers", 2, timed(engine(2))))
    runs.append(("Ray engine, 2 CPUs", 2, _ray(source, out)))
    one_copy = corpus_bodies()
    loop(litellm_builder, one_copy[:3])()  # its imports and first-call set-up, not timed
    litellm = timed(loop(litellm_builder, one_copy)) * len(bodies) / len(one_copy)
    runs.append(("LiteLLM stream_chunk_builder per row", 1, litellm))
    return [
        {"path": name, "cores": cores, "seconds": round(seconds, 3), "streams": len(bodies),
         "streams_per_s": round(len(bodies) / seconds), "chunks_per_s": round(chunks / seconds)}
        for name, cores, seconds in runs
    ]


def _ray(source: Path, out: Path) -> float:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a local instance on loopback
    import ray

    from deltafold._bulk import BulkOptions
    from deltafold._bulk_ray import ray_assemble_files

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        ray_assemble_files([str(source)], str(out), options=BulkOptions())  # warm the workers
        return timed(lambda: ray_assemble_files([str(source)], str(out), options=BulkOptions()))
    finally:
        ray.shutdown()


def synthetic(path: Path, streams: int) -> None:
    """``streams`` content streams, their ids varied, written 10k rows at a time."""
    from streams import content_stream, sse_body

    template = sse_body(content_stream(12))
    stream_id = b"gen-1747000000-Hn3kQw8ZpV"
    schema = pa.schema([("body", pa.binary())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, streams, 10_000):
            batch = [
                template.replace(stream_id, b"gen-%025d" % n)
                for n in range(start, min(streams, start + 10_000))
            ]
            writer.write_table(pa.table({"body": pa.array(batch, type=pa.binary())}))


def memory(sizes: list[int], work: Path) -> list[dict[str, Any]]:
    rows = []
    for size in sizes:
        source = work / f"synthetic-{size}.parquet"
        synthetic(source, size)
        code = (
            "import resource, sys, time, deltafold\n"
            "t = time.perf_counter()\n"
            "s = deltafold.assemble_files([sys.argv[1]], sys.argv[2], workers=1)\n"
            "print(s.streams, s.error_rows, time.perf_counter() - t,"
            " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(source), str(work / "m.parquet")],
            capture_output=True, text=True, check=True,
        )
        streams, errors, seconds, rss_kib = done.stdout.split()
        rows.append({"streams": int(streams), "errors": int(errors),
                     "seconds": round(float(seconds), 1), "peak_rss_mib": int(rss_kib) // 1024,
                     "input_mib": round(source.stat().st_size / 2**20, 1)})
        source.unlink()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--output", default=str(HERE / "results" / "bulk-2core.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        table = throughput(args.copies, work)
        for row in table:
            print(row, flush=True)
        mem = memory([int(s) for s in args.sizes.split(",") if s], work)
        for row in mem:
            print(row, flush=True)
    result = {
        "machine": f"{os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}",
        "throughput": table,
        "memory": mem,
        "parent_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
