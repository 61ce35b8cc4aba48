"""Overhead of ``aconnect_chat`` over bare httpx-sse on one local server and one body.

The baseline is what a hand-written client does at minimum: ``aconnect_sse``
+ ``aiter_sse`` + ``json.loads`` per event, stopping at ``[DONE]``. Against
it: deltafold's ``async for chunk`` (typed chunks), ``events()`` and
``until_done()``, all over the same connection pool, interleaved round by
round so drift hits every variant alike; the table gives the min of the rounds
(the least disturbed) and the median, of the wall time and of this process's
CPU time. The server runs in a child process (the tests' ``ReplayServer``,
one event per write) so it does not compete for the GIL with the client being
measured, and its CPU is not counted: on a shared machine the CPU ratios are
the steadier ones (a busy neighbour stretches the wall time of whichever
variant it lands on, not the work the client does).

    python benchmarks/stream_overhead.py [--rounds 15] [--backend asyncio|trio] [--otel]

``--otel`` configures the OpenTelemetry SDK first (global tracer and meter
providers with in-memory readers), so the deltafold variants record a span and
the metrics; without it only ``opentelemetry-api`` (if installed) is there,
with nothing configured. ``telemetry=False`` is the same stream with
telemetry off for that stream (the timing is always kept).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx
from httpx_sse import aconnect_sse

import deltafold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from servers import ReplayServer, corpus_body, sse_body  # noqa: E402

REQUEST = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def synthetic_body(n: int = 2000) -> bytes:
    """A content stream shaped like OpenRouter's: role first, then text, finish and usage."""
    base = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [
        {**base, "choices": [{"index": 0, "delta": {"content": f"token{i} "}}]} for i in range(n)
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": n}})
    return sse_body(chunks)


def bodies() -> dict[str, bytes]:
    out = {"synthetic-2000": synthetic_body()}
    manifest = ROOT.parent / "shared" / "corpus" / "MANIFEST.json"
    if manifest.is_file():
        for entry in json.loads(manifest.read_text()):
            if entry["path"] == "vercel-ai/groq-reasoning.chunks.jsonl":
                out["groq-reasoning (corpus)"] = corpus_body(entry)
    return out


def serve() -> None:
    """Child process: register the bodies, print their URLs, run until stdin closes."""
    with ReplayServer() as server:
        urls = {name: server.add(body, pace=0.0, every=1) for name, body in bodies().items()}
        print(json.dumps(urls), flush=True)
        sys.stdin.read()


async def bare(http: httpx.AsyncClient, url: str) -> int:
    n = 0
    async with aconnect_sse(http, "POST", url, json=REQUEST) as source:
        async for sse in source.aiter_sse():
            if sse.data == "[DONE]":
                break
            json.loads(sse.data)
            n += 1
    return n


async def chunks(http: httpx.AsyncClient, url: str) -> int:
    n = 0
    async with deltafold.aconnect_chat(http, url, json=REQUEST) as stream:
        async for _ in stream:
            n += 1
    return n


async def chunks_no_telemetry(http: httpx.AsyncClient, url: str) -> int:
    n = 0
    async with deltafold.aconnect_chat(http, url, json=REQUEST, telemetry=False) as stream:
        async for _ in stream:
            n += 1
    return n


async def events(http: httpx.AsyncClient, url: str) -> int:
    n = 0
    async with deltafold.aconnect_chat(http, url, json=REQUEST) as stream:
        async for _ in stream.events():
            n += 1
    return n


async def until_done(http: httpx.AsyncClient, url: str) -> int:
    async with deltafold.aconnect_chat(http, url, json=REQUEST) as stream:
        completion = await stream.until_done()
    return len(completion.choices)


VARIANTS: dict[str, Callable[[httpx.AsyncClient, str], Awaitable[int]]] = {
    "bare httpx-sse + json.loads": bare,
    "aconnect_chat: async for chunk": chunks,
    "async for chunk, telemetry=False": chunks_no_telemetry,
    "aconnect_chat: events()": events,
    "aconnect_chat: until_done()": until_done,
}


Times = dict[str, list[float]]
"""Per variant, one duration per round."""


async def measure(urls: dict[str, str], rounds: int) -> dict[str, tuple[Times, Times]]:
    """Per body: the wall times and the CPU times (this process) of each variant."""
    results: dict[str, tuple[Times, Times]] = {}
    async with httpx.AsyncClient(timeout=60) as http:
        for name, url in urls.items():
            for variant in VARIANTS.values():  # warm up
                await variant(http, url)
            wall: Times = {v: [] for v in VARIANTS}
            cpu: Times = {v: [] for v in VARIANTS}
            for _ in range(rounds):
                for label, variant in VARIANTS.items():
                    started, cpu_started = time.perf_counter(), time.process_time()
                    await variant(http, url)
                    cpu[label].append(time.process_time() - cpu_started)
                    wall[label].append(time.perf_counter() - started)
            results[name] = (wall, cpu)
    return results


def table(times: Times) -> list[str]:
    """Min of N (the least disturbed run on a shared machine) and median, with ratios."""
    best = {label: min(ts) for label, ts in times.items()}
    middle = {label: statistics.median(ts) for label, ts in times.items()}
    base = next(iter(times))
    lines = [f"  {'':32} {'min':>8}      ratio   {'median':>8}      ratio"]
    for label in times:
        lines.append(
            f"  {label:32} {best[label] * 1000:8.2f} ms   x{best[label] / best[base]:.2f}"
            f"   {middle[label] * 1000:8.2f} ms   x{middle[label] / middle[base]:.2f}"
        )
    return lines


def configure_sdk() -> None:
    """Global SDK providers, as an application that exports its telemetry sets them."""
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--otel", action="store_true", help="configure the OpenTelemetry SDK")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.otel:
        configure_sdk()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        urls = json.loads(child.stdout.readline())
        results = anyio.run(measure, urls, args.rounds, backend=args.backend)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    sdk = "OpenTelemetry SDK configured" if args.otel else "no OpenTelemetry SDK"
    for name, (wall, cpu) in results.items():
        print(f"\n{name} ({args.backend}, {sdk}, {args.rounds} interleaved rounds)")
        print("\n".join(["  wall time", *table(wall), "  CPU time of the client", *table(cpu)]))

if __name__ == "__main__":
    main()
