"""Early hang-ups: the replay server logs one DEBUG line each and nothing louder, and the
cookbook's proxy logs the completion so far when its browser disconnects mid-stream.

Every client is real (sockets and httpx on 127.0.0.1) and every wait is bounded.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

import deltafold
from deltafold._server import base_url, bind, make_server

pytest.importorskip("uvicorn")

REPO = Path(__file__).resolve().parents[1]
PROXY_EXAMPLE = REPO / "docs" / "examples" / "starlette_proxy.py"
HANGUPS = 12
BOUND = 20.0


def long_recording(events: int = 3000) -> bytes:
    """A stream far larger than a socket buffer, so a hang-up comes mid-stream."""
    chunk = {
        "id": "gen-1",
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "w " * 100}}],
    }
    line = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    return line * events + b"data: [DONE]\n\n"


def hang_up_raw(base: str) -> None:
    """Send a streaming request, read the first bytes, and close the socket."""
    host, port = httpx.URL(base).host, httpx.URL(base).port
    assert port is not None
    body = json.dumps({"model": "m", "messages": [], "stream": True}).encode()
    with socket.create_connection((host, port), timeout=BOUND) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def hang_up_httpx(base: str) -> None:
    """What an app does when it stops reading: leave the stream after one chunk."""
    with httpx.Client(timeout=BOUND) as http, deltafold.connect_chat(
        http, f"{base}/chat/completions", json={"model": "m", "messages": []}
    ) as stream:
        for _ in stream:
            break


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_replay_server_logs_one_debug_line_per_hang_up(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with deltafold.replay_server(long_recording()) as base:
        for n in range(HANGUPS):
            (hang_up_raw if n % 2 else hang_up_httpx)(base)

        def hung_up() -> list[logging.LogRecord]:
            return [
                r for r in caplog.records if r.name.startswith("deltafold") and "hung up" in r.msg
            ]

        wait_until(lambda: len(hung_up()) >= HANGUPS, f"{HANGUPS} hang-up lines")
        time.sleep(0.3)  # anything still being written would show up now
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert loud == [], [f"{r.name}: {r.getMessage()}" for r in loud]
        lines = hung_up()
        assert len(lines) == HANGUPS
        assert all(r.levelno == logging.DEBUG and r.name == "deltafold.server" for r in lines)
        assert all("of 3001 events" in r.getMessage() for r in lines)
        # A client that reads to the end is no hang-up.
        with httpx.Client(timeout=BOUND) as http, deltafold.connect_chat(
            http, f"{base}/chat/completions", json={"model": "m", "messages": []}
        ) as stream:
            assert len(stream.until_done().choices[0].message.content or "") == 3000 * 200
        time.sleep(0.2)
        assert len(hung_up()) == HANGUPS


def test_replay_server_prints_nothing_on_hang_ups_at_the_default_level() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_server_logging import hang_up_httpx, hang_up_raw, long_recording
        import deltafold
        with deltafold.replay_server(long_recording()) as base:
            for n in range({HANGUPS}):
                (hang_up_raw if n % 2 else hang_up_httpx)(base)
            import time
            time.sleep(0.5)
        print("done")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    assert result.stderr == ""  # before: socket.send() raised exception. (thousands of times)


# --- the cookbook's proxy --------------------------------------------------------------


def load_proxy_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("starlette_proxy_example", PROXY_EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def proxy() -> Iterator[str]:
    """The cookbook's proxy on 127.0.0.1, in front of a slow replay of its recording."""
    example = load_proxy_example()
    with deltafold.replay_server(example.RECORDING, delay_ms=150) as upstream:
        server = make_server(example.make_app(upstream))
        sock = bind()
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            wait_until(lambda: server.started or not thread.is_alive(), "the proxy to start")
            yield base_url(sock)
        finally:
            server.should_exit = True
            thread.join(BOUND)
            sock.close()


def test_proxy_logs_the_completion_so_far_when_the_browser_disconnects(
    proxy: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proxy")
    full = deltafold.assemble(deltafold.demo_recording())
    question = "Do I need an umbrella in Lisbon?"
    request = {"model": "m", "messages": [{"role": "user", "content": question}]}
    received = deltafold.Accumulator()
    with (
        httpx.Client(timeout=BOUND) as browser,
        browser.stream("POST", f"{proxy}/chat/completions", json=request) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():  # leave once some answer text has arrived
            if line.startswith("data: {"):
                received.feed(json.loads(line.removeprefix("data: ")))
                if received.snapshot().choices[0].message.content:
                    break
    seen = received.snapshot().choices[0].message.content or ""
    assert seen and seen != full.choices[0].message.content

    def disconnects() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "browser disconnected" in r.getMessage()]

    wait_until(lambda: bool(disconnects()), "the proxy's disconnect log line")
    (record,) = disconnects()
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    assert "(CancelledError)" in message or "(GeneratorExit)" in message  # the error
    logged = json.loads(message.split(" so far ", 1)[1])  # snapshot(): the completion so far
    text = logged["choices"][0]["message"]["content"]
    assert text.startswith(seen)
    assert text != full.choices[0].message.content  # cut mid-stream, not the whole answer
    assert logged["choices"][0]["message"]["reasoning"] == full.choices[0].message.reasoning
    assert not any(r.getMessage().startswith("completion ") for r in caplog.records)
