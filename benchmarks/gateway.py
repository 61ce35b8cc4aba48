"""A gateway on loopback: N concurrent streams relayed with the fold, against a bare relay.

Three processes on 127.0.0.1: the upstream (the tests' ``ReplayServer``, one
SSE event per write, paced so that all N streams are open at once), the relay
(a Starlette app under uvicorn, started afresh for every run), and N clients
(this process). The relay runs in one of two modes:

* ``bare``: httpx streams the upstream response and yields ``aiter_bytes()``
  to the client, nothing else: the floor of any gateway.
* ``fold``: ``aconnect_chat`` plus ``stream.raw()``: the same bytes go to the
  client untouched while deltafold folds them; at the end the relay records
  the completion's usage and checks its text. Like ``bare`` it has httpx's
  read timeout (60 s) and no other.
* ``fold-idle``: the same with ``idle_timeout=60``: the exact idle deadline
  (one that keep-alive comments do not move) costs an ``anyio.fail_after``
  scope around every read.

Reported per mode: the relay's CPU seconds (``time.process_time()`` in the
relay) per 1,000 relayed chunks, with the system part of it (the socket calls,
the same in every mode, and the noisiest on a shared machine) and the garbage
collector's part (``gc.callbacks``), and its memory per open stream (the
largest RSS growth over the idle relay seen while streams were open, divided by
the streams open at that moment). Every client checks that it got the upstream's
bytes exactly; after each run the relay must have no stream, no task and no
socket left over. Modes alternate run by run (fresh relay each time) and the
best run of each is compared; the spread is the worst over the best.

    python benchmarks/gateway.py [--n 100 1000] [--events 100] [--runs 2] [--profile DIR]

``--profile DIR`` runs each relay under cProfile and writes ``relay-MODE-N.prof``
there (the profiler slows the relay: use it for where the time goes, not for
the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

REQUEST = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
RUN_BOUND = 300.0
"""No run (N streams through one relay) may take longer than this, in seconds."""
START_BOUND = 20.0
WARM_UP = 10
MODES = ("bare", "fold", "fold-idle")
"""Streams relayed before the measurement starts."""


def body(events: int) -> tuple[bytes, str]:
    """An OpenRouter-shaped stream: a comment, role, ``events`` tokens, finish, usage, [DONE]."""
    base = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def data(delta: dict[str, Any], **extra: Any) -> bytes:
        chunk = {**base, "choices": [{"index": 0, "delta": delta, **extra}]}
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    tokens = [f"tok{i} " for i in range(events)]
    out = [b": OPENROUTER PROCESSING\n\n", data({"role": "assistant", "content": ""})]
    out += [data({"content": t}) for t in tokens]
    out.append(data({}, finish_reason="stop"))
    usage = {"prompt_tokens": 5, "completion_tokens": events, "total_tokens": events + 5}
    out.append(b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(out), "".join(tokens)


# --- the upstream (child process) ---------------------------------------------------


def serve_upstream(events: int, pace: float) -> None:
    from servers import ReplayServer

    with ReplayServer() as server:
        print(json.dumps({"url": server.add(body(events)[0], pace=pace, every=1)}), flush=True)
        sys.stdin.read()


# --- the relay (child process) ------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


class _GCClock:
    """CPU seconds the relay spent in the garbage collector (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0
        gc.callbacks.append(self)

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start


def serve_relay(mode: str, upstream: str, events: int, profile: Path | None = None) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    import deltafold

    text = body(events)[1]
    idle = 60.0 if mode == "fold-idle" else None
    state = {"open": 0, "done": 0, "correct": 0, "tokens": 0, "errors": 0}
    gc_clock = _GCClock()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    http = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60, connect=20))

    async def bare() -> Any:
        state["open"] += 1
        try:
            request = http.build_request("POST", upstream, json={**REQUEST, "stream": True})
            response = await http.send(request, stream=True)
            try:
                async for piece in response.aiter_bytes():
                    yield piece
            finally:
                await response.aclose()
            state["done"] += 1
            state["correct"] += 1
        finally:
            state["open"] -= 1

    async def fold() -> Any:
        state["open"] += 1
        try:
            stream = deltafold.aconnect_chat(http, upstream, json=REQUEST, idle_timeout=idle)
            try:
                async with stream:
                    async for piece in stream.raw():
                        yield piece
            except deltafold.DeltafoldError:
                state["errors"] += 1
                raise
            completion = stream.completion
            state["done"] += 1
            usage = completion.usage
            state["tokens"] += usage.total_tokens or 0 if usage is not None else 0
            state["correct"] += completion.choices[0].message.content == text
        finally:
            state["open"] -= 1

    async def relay(request: Request) -> StreamingResponse:
        await request.body()
        source = bare() if mode == "bare" else fold()
        return StreamingResponse(source, media_type="text/event-stream")

    async def stats(request: Request) -> JSONResponse:
        tasks = len(asyncio.all_tasks())
        return JSONResponse(
            {**state, "cpu": time.process_time(), "sys": os.times().system, "gc": gc_clock.seconds,
             "rss": _rss(),
             "tasks": tasks, "sockets": _sockets()}
        )

    app = Starlette(routes=[Route("/relay", relay, methods=["POST"]), Route("/stats", stats)])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
        lifespan="off", http="h11", loop="asyncio", backlog=4096,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        task = asyncio.ensure_future(server.serve())
        deadline = time.monotonic() + START_BOUND
        while not server.started and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(json.dumps({"url": f"http://127.0.0.1:{port}"}), flush=True)
        await task

    if profile is None:
        asyncio.run(main())
        return
    import cProfile
    import signal

    # uvicorn re-raises the SIGTERM that stops it once it has shut down: exit cleanly then.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile()
    try:
        with profiler:  # the whole relay: start-up, warm-up and the run
            asyncio.run(main())
    finally:
        profiler.dump_stats(profile)


# --- the clients (this process) -----------------------------------------------------


def start(args: list[str], quiet: bool = False) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None, text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        child.kill()
        raise RuntimeError(f"{args[0]} did not start")
    return child, json.loads(line)["url"]


def stop(child: subprocess.Popen[str]) -> None:
    child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(10)


async def run_clients(relay: str, n: int, expected: bytes) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    timeout = httpx.Timeout(120, connect=60, pool=60)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        outcome = {"exact": 0, "wrong": 0, "failed": 0}
        peak = {"per_stream": 0.0, "open": 0, "rss": 0}

        async def client() -> None:
            try:
                async with http.stream("POST", f"{relay}/relay", json=REQUEST) as response:
                    got = b"".join([piece async for piece in response.aiter_bytes()])
                outcome["exact" if got == expected else "wrong"] += 1
            except httpx.HTTPError:
                outcome["failed"] += 1

        async def watch(scope: anyio.CancelScope) -> None:
            async with httpx.AsyncClient(timeout=RUN_BOUND) as probe:
                while not scope.cancel_called:
                    try:
                        now = (await probe.get(f"{relay}/stats")).json()
                    except httpx.HTTPError:  # a relay too busy to answer: no sample this time
                        continue
                    if now["open"] >= peak["open"] and now["open"]:
                        grown = now["rss"] - before["rss"]
                        peak.update(open=now["open"], rss=grown, per_stream=grown / now["open"])
                    await anyio.sleep(0.05)

        with anyio.fail_after(RUN_BOUND):  # warm up: imports, code paths, the first buffers
            async with anyio.create_task_group() as warm:
                for _ in range(WARM_UP):
                    warm.start_soon(client)
        warmed = dict(outcome)
        outcome.update(exact=0, wrong=0, failed=0)
        await anyio.sleep(0.2)
        before = (await http.get(f"{relay}/stats")).json()
        started = time.perf_counter()
        with anyio.fail_after(RUN_BOUND):
            async with anyio.create_task_group() as watchers:
                watchers.start_soon(watch, watchers.cancel_scope)
                async with anyio.create_task_group() as clients:
                    for _ in range(n):
                        clients.start_soon(client)
                watchers.cancel_scope.cancel()
        wall = time.perf_counter() - started
    await anyio.sleep(0.5)  # the relay notices the closed connections
    async with httpx.AsyncClient() as probe:
        after = (await probe.get(f"{relay}/stats")).json()
    if warmed["exact"] != WARM_UP:
        raise RuntimeError(f"the warm-up streams went wrong: {warmed}")
    return {"before": before, "after": after, "outcome": outcome, "peak": peak, "wall": wall}


def one_run(
    mode: str, n: int, events: int, upstream: str, profile: Path | None = None
) -> dict[str, Any]:
    extra = ["--profile", str(profile / f"relay-{mode}-{n}.prof")] if profile else []
    relay, url = start(["--role", "relay", "--mode", mode, "--upstream", upstream,
                        "--events", str(events), *extra])
    try:
        result = anyio.run(run_clients, url, n, body(events)[0])
    finally:
        stop(relay)
    before, after = result["before"], result["after"]
    chunks = n * (events + 3)  # role, tokens, finish, usage; [DONE] and the comment not counted
    cpu = after["cpu"] - before["cpu"]
    return {
        "mode": mode,
        "n": n,
        "cpu_per_1000": cpu / chunks * 1000,
        "sys_per_1000": (after["sys"] - before["sys"]) / chunks * 1000,
        "gc_per_1000": (after["gc"] - before["gc"]) / chunks * 1000,
        "kb_per_stream": result["peak"]["per_stream"] / 1024,
        "open_at_peak": result["peak"]["open"],
        "wall": result["wall"],
        "exact": result["outcome"]["exact"],
        "wrong": result["outcome"]["wrong"],
        "failed": result["outcome"]["failed"],
        "relay_done": after["done"] - before["done"],
        "relay_correct": after["correct"] - before["correct"],
        "relay_errors": after["errors"],
        "usage_tokens": after["tokens"] - before["tokens"],
        "left_open": after["open"],
        "tasks_left": after["tasks"] - before["tasks"],
        "sockets_left": after["sockets"] - before["sockets"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--pace", type=float, default=0.01, help="seconds between events")
    parser.add_argument("--json", type=Path, help="write the runs here")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR",
        help="run each relay under cProfile and keep the last run's of each mode and N in DIR "
        "(slows the relay: for where the time goes, not for the numbers)",
    )
    parser.add_argument("--role", choices=["upstream", "relay"], help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--upstream", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "upstream":
        serve_upstream(args.events, args.pace)
        return
    if args.role == "relay":
        serve_relay(args.mode, args.upstream, args.events, args.profile)
        return

    upstream, url = start(["--role", "upstream", "--events", str(args.events),
                           "--pace", str(args.pace)], quiet=True)
    # quiet: the upstream logs "socket.send() raised exception." when a relay closes at
    # [DONE] before its last (empty) write; every byte is checked by the clients anyway.
    runs: list[dict[str, Any]] = []
    try:
        for n in args.n:
            for _ in range(args.runs):
                for mode in MODES:
                    run = one_run(mode, n, args.events, url, args.profile)
                    runs.append(run)
                    print(json.dumps(run), flush=True)
    finally:
        stop(upstream)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    report(runs, args.events)


def report(runs: list[dict[str, Any]], events: int) -> None:
    per_mode = len(runs) // (len(MODES) * len({r["n"] for r in runs}))
    print(f"\n{events + 3} chunks per stream; best of {per_mode} runs per mode "
          "(spread: worst / best); memory: RSS growth / open streams")
    header = (
        f"{'N':>6} {'mode':>9} {'CPU s / 1k chunks':>18} {'spread':>7} {'of it sys':>9} {'GC':>7}"
        f" {'KB / open stream':>17} {'exact':>6} {'leaks (streams, tasks, sockets)':>32}"
    )
    print(header)
    for n in sorted({r["n"] for r in runs}):
        best: dict[str, float] = {}
        for mode in MODES:
            mine = [r for r in runs if r["n"] == n and r["mode"] == mode]
            cpus = [r["cpu_per_1000"] for r in mine]
            best[mode] = min(cpus)
            top = min(mine, key=lambda r: r["cpu_per_1000"])
            kb = min(r["kb_per_stream"] for r in mine)
            exact = min(r["exact"] for r in mine)
            leaks = max((r["left_open"], r["tasks_left"], r["sockets_left"]) for r in mine)
            print(f"{n:>6} {mode:>9} {best[mode]:>18.4f} {max(cpus) / min(cpus):>7.2f}"
                  f" {top.get('sys_per_1000', 0.0):>9.4f} {top.get('gc_per_1000', 0.0):>7.4f}"
                  f" {kb:>17.1f} {exact:>6} {leaks!s:>32}")
        print(f"{n:>6} CPU over bare: fold {best['fold'] / best['bare']:.2f}x, "
              f"fold-idle {best['fold-idle'] / best['bare']:.2f}x")


if __name__ == "__main__":
    main()
