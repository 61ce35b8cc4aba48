"""Real HTTP servers on 127.0.0.1 for the streaming tests.

``ReplayServer``: uvicorn serving a tiny raw-ASGI app in a background thread;
it replays registered SSE bodies event by event with small sleeps and
records each request and whether the client disconnected before the end.

``FaultServer``: a plain socket listener in threads that plays a script of
steps (send, sleep, close, reset, stall, keep-alive) to reproduce the broken
upstreams that a well-behaved server framework cannot.

Both bind an ephemeral port on 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from recordings import read_recording

_STALL_LIMIT = 30.0
"""No server-side wait lasts longer than this, whatever the client does."""


_SSL = ssl.create_default_context()


def async_client(**kwargs: Any) -> httpx.AsyncClient:
    """An AsyncClient that reuses one SSL context: building one per client costs ~70 ms."""
    return httpx.AsyncClient(verify=_SSL, **kwargs)


def sync_client(**kwargs: Any) -> httpx.Client:
    return httpx.Client(verify=_SSL, **kwargs)


def corpus_body(entry: dict[str, Any]) -> bytes:
    """A recording as an SSE body: ``.sse`` as is, ``.chunks.jsonl`` as ``data:`` events."""
    raw = read_recording(entry)
    if entry["format"] == "sse":
        return raw
    return b"".join(b"data: " + line + b"\n\n" for line in raw.splitlines() if line.strip())


def sse_body(chunks: Iterable[dict[str, Any]], *, done: bool = True) -> bytes:
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


def split_events(body: bytes) -> list[bytes]:
    """The body cut after each blank line, the way a server flushes events."""
    normalized = body.replace(b"\r\n", b"\n")
    pieces = [p + b"\n\n" for p in normalized.split(b"\n\n")]
    pieces[-1] = pieces[-1][:-2]
    return [p for p in pieces if p]


@dataclass
class Record:
    """One request as the server saw it, and how its response ended."""

    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    outcome: str = ""
    ended: threading.Event = field(default_factory=threading.Event)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def finish(self, outcome: str) -> None:
        if not self.ended.is_set():
            self.outcome = outcome
            self.ended.set()


@dataclass
class _Reply:
    pieces: list[bytes]
    status: int
    content_type: str
    headers: list[tuple[str, str]]
    pace: float


class ReplayServer:
    """uvicorn on 127.0.0.1:<ephemeral> replaying registered bodies."""

    def __init__(self) -> None:
        self._replies: dict[str, _Reply] = {}
        self.records: dict[str, list[Record]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            ws="none",
            http="h11",
            loop="asyncio",
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the replay server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()

    def add(
        self,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "text/event-stream",
        headers: Iterable[tuple[str, str]] = (),
        pace: float = 0.0005,
        every: int = 4,
        whole: bool = False,
    ) -> str:
        """Register a body; returns the URL that replays it.

        Events go out ``every`` per write, with ``pace`` seconds between writes.
        """
        path = f"/r/{next(self._ids)}/chat/completions"
        events = [body] if whole else split_events(body)
        pieces = [b"".join(events[i : i + every]) for i in range(0, len(events), every)]
        with self._lock:
            self._replies[path] = _Reply(pieces, status, content_type, list(headers), pace)
            self.records[path] = []
        return self.url + path

    def records_for(self, url: str) -> list[Record]:
        return self.records[url.removeprefix(self.url)]

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        record = Record(
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]}, body=body
        )
        path = scope["path"]
        reply = self._replies.get(path)
        if reply is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"no such reply"})
            return
        self.records[path].append(record)
        headers = [(b"content-type", reply.content_type.encode())]
        headers += [(k.encode(), v.encode()) for k, v in reply.headers]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        disconnected = asyncio.Event()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        watcher = asyncio.ensure_future(watch())
        try:
            for piece in reply.pieces:
                if disconnected.is_set():
                    record.finish("disconnected")
                    return
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                await asyncio.sleep(reply.pace)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            record.finish("complete")
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            record.finish("disconnected")


# --- the fault server -------------------------------------------------------------


@dataclass
class Send:
    data: bytes


@dataclass
class Sleep:
    seconds: float


@dataclass
class Close:
    """Close the socket (FIN) wherever the script is."""


@dataclass
class Reset:
    """Close with SO_LINGER 0: the client sees a connection reset."""


@dataclass
class Stall:
    """Send nothing more until the client closes (or the server stops)."""


@dataclass
class KeepAlive:
    """Send an SSE comment every ``interval`` seconds until the client closes."""

    interval: float = 0.05


@dataclass
class End:
    """Finish the body properly (the chunked terminator) and close."""


Step = Send | Sleep | Close | Reset | Stall | KeepAlive | End


def sse_head(*, chunked: bool = True, content_type: str = "text/event-stream") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
    return head.encode() + b"\r\n"


def full_response(
    status: int, body: bytes, *, content_type: str, headers: Iterable[tuple[str, str]] = ()
) -> bytes:
    lines = [f"HTTP/1.1 {status} Status", f"Content-Type: {content_type}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class _Script:
    head: bytes
    steps: list[Step]
    chunked: bool
    record: Record


class FaultServer:
    """Raw TCP on 127.0.0.1:<ephemeral>; each registered path plays one script."""

    def __init__(self) -> None:
        self._scripts: dict[str, _Script] = {}
        self._ids = itertools.count()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(256)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FaultServer:
        self._accept.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accept.join(5)
        for thread in self._threads:
            thread.join(5)
        self._sock.close()

    def add(
        self, steps: list[Step], *, head: bytes | None = None, chunked: bool = True
    ) -> tuple[str, Record]:
        """Register a script; returns its URL and the record of the request it serves.

        ``head`` (status line and headers) goes first, unframed; by default the
        SSE head matching ``chunked``. With ``chunked`` each ``Send`` becomes
        one HTTP chunk, so one client read.
        """
        path = f"/f/{next(self._ids)}/chat/completions"
        record = Record()
        if head is None:
            head = sse_head(chunked=chunked)
        self._scripts[path] = _Script(head, list(steps), chunked, record)
        return self.url + path, record

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                script = self._read_request(conn)
            except OSError:
                return
            if script is None:
                conn.sendall(full_response(404, b"no script", content_type="text/plain"))
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self._play(conn, script)
            except OSError:
                script.record.finish("client closed")

    def _read_request(self, conn: socket.socket) -> _Script | None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                raise OSError("no request")
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            piece = conn.recv(65536)
            if not piece:
                break
            body += piece
        script = self._scripts.get(path)
        if script is not None:
            script.record.headers = headers
            script.record.body = body
        return script

    def _client_closed(self, conn: socket.socket, wait: float) -> bool:
        """Wait up to ``wait`` s for the client to close its side."""
        conn.settimeout(wait)
        try:
            return conn.recv(1) == b""
        except TimeoutError:
            return False
        except OSError:
            return True
        finally:
            conn.settimeout(10)

    def _play(self, conn: socket.socket, script: _Script) -> None:
        record = script.record
        if script.head:
            conn.sendall(script.head)
        for step in script.steps:
            if isinstance(step, Send):
                data = step.data
                if script.chunked:
                    data = f"{len(data):x}\r\n".encode() + data + b"\r\n"
                conn.sendall(data)
            elif isinstance(step, Sleep):
                if self._stop.wait(step.seconds):
                    return
            elif isinstance(step, Close):
                record.finish("closed")
                return
            elif isinstance(step, Reset):
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                record.finish("reset")
                return
            elif isinstance(step, Stall):
                deadline = time.monotonic() + _STALL_LIMIT
                while not self._stop.is_set() and time.monotonic() < deadline:
                    if self._client_closed(conn, 0.05):
                        record.finish("client closed")
                        return
                record.finish("stall ended")
                return
            elif isinstance(step, KeepAlive):
                deadline = time.monotonic() + _STALL_LIMIT
                while not self._stop.is_set() and time.monotonic() < deadline:
                    comment = b": keep-alive\n\n"
                    if script.chunked:
                        comment = f"{len(comment):x}\r\n".encode() + comment + b"\r\n"
                    conn.sendall(comment)
                    if self._client_closed(conn, step.interval):
                        record.finish("client closed")
                        return
                record.finish("keep-alive ended")
                return
            elif isinstance(step, End):
                if script.chunked:
                    conn.sendall(b"0\r\n\r\n")
                record.finish("complete")
                return
        record.finish("script ended")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
