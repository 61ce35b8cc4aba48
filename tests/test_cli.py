"""The ``deltafold`` command line, run as ``python -m deltafold`` in a subprocess."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deltafold import (
    ChatCompletion,
    ContentDelta,
    ReasoningDelta,
    assemble,
    from_dict,
    replay_server,
    to_dict,
)
from deltafold._cli import demo_recording
from deltafold._exceptions import install_hint
from deltafold._live import LivePrinter, usage_line
from deltafold._live import use_color as _use_color
from deltafold._server import base_url, bind, make_server
from recordings import (
    find,
    made_and_real,
    read_recording,
    recording_params,
    write_recordings,
)

TIMEOUT = 60
SECRET = "sk-or-v1-test-secret-0123456789abcdef"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "OPENROUTER_BASE_URL", "NO_COLOR")
        and not k.startswith("OPENAI_")
    }
    env.update(extra)
    return env


def run(*args: str, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "deltafold", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(**env),
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )
    return result


def _file(path: str, folder: Path) -> Path:
    """The recording ``path`` (made here or in the real corpus) as a file under ``folder``."""
    (file,) = write_recordings(folder, [find(path)])
    return file


def _source(path: str) -> dict[str, Any]:
    """The completion a generated recording was made from."""
    source: dict[str, Any] = find(path)["source"]
    return source


# --- demo ------------------------------------------------------------------------------------


def test_demo_prints_reasoning_content_tool_call_and_usage() -> None:
    result = run("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("thinking: The user wants to know the weather in Lisbon")
    assert "\nI'll check the current forecast for Lisbon so I can tell you" in out
    assert (
        '\ntool call: get_weather {"city": "Lisbon", "country": "PT", "unit": "celsius", '
        '"include": ["precipitation"]}\n' in out
    )
    assert out.endswith(
        "usage: 412 prompt + 118 completion = 530 tokens (64 reasoning), cost $0.003006\n"
    )
    assert "\x1b[" not in out  # not a terminal: plain text
    assert result.stderr == ""


def test_demo_json_is_the_assembled_recording() -> None:
    result = run("demo", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == to_dict(assemble(demo_recording()))


def test_live_printer_dims_reasoning_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _use_color(Terminal()) and not _use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not _use_color(Terminal())

    out = io.StringIO()
    printer = LivePrinter(out, color=True)
    for event in (ReasoningDelta(0, "hmm"), ContentDelta(0, "Hi"), ContentDelta(1, "other")):
        printer.event(event)
    assert out.getvalue() == "\x1b[2mthinking: \x1b[0m\x1b[2mhmm\x1b[0m\n\nHi"


def test_usage_line_without_usage_or_cost() -> None:
    completion = assemble(demo_recording())
    assert usage_line(completion).startswith("usage: 412 prompt")
    completion.usage = None
    assert usage_line(completion) == "usage: not reported"


# --- assemble ----------------------------------------------------------------------------------


_REAL_FILES = [
    "openai-python/parallel_tool_calls.sse",
    "pydantic-ai/openrouter_streaming_reasoning.sse",
    "vercel-ai/deepseek-reasoning.chunks.jsonl",
    "vercel-ai/mistral-reasoning.chunks.jsonl",
]
_FILES = [
    find(f"generated/{name}")
    for name in (
        "parallel_tool_calls.sse",
        "reasoning_tool_calls.sse",
        "content_logprobs.sse",
        "annotations.sse",
        "usage_every_tool_calls.chunks.jsonl",
    )
]
_FILES += made_and_real(*_REAL_FILES)


@pytest.mark.parametrize("entry", recording_params(_FILES))
def test_assemble_corpus_file(entry: dict[str, Any], tmp_path: Path) -> None:
    file = _file(entry["path"], tmp_path)
    result = run("assemble", str(file))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == to_dict(assemble(file.read_bytes()))
    if "source" in entry:  # and it is the completion the recording was made from
        assert json.loads(result.stdout) == to_dict(from_dict(ChatCompletion, entry["source"]))


@pytest.mark.parametrize(
    "entry",
    recording_params(
        made_and_real("generated/n3_multiple_choices.sse", "openai-python/n3_multiple_choices.sse")
    ),
)
def test_assemble_stdin(entry: dict[str, Any]) -> None:
    body = read_recording(entry)
    result = run("assemble", "-", stdin=body)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == to_dict(assemble(body))
    assert len(json.loads(result.stdout)["choices"]) == 3


def _parallel_calls() -> list[Any]:
    """(recording, tool calls, total tokens, the second call's arguments): made, then real."""
    source = _source("generated/parallel_tool_calls.sse")
    calls = source["choices"][0]["message"]["tool_calls"]
    cases = [
        pytest.param(
            "generated/parallel_tool_calls.sse", len(calls), source["usage"]["total_tokens"],
            calls[1]["function"]["arguments"], id="generated",
        )
    ]
    if made_and_real("openai-python/parallel_tool_calls.sse"):
        cases.append(
            pytest.param(
                "openai-python/parallel_tool_calls.sse", 2, 209,
                '{"ticker": "AAPL", "exchange": "NASDAQ"}', id="corpus",
            )
        )
    return cases


@pytest.mark.parametrize(("path", "calls", "total", "second"), _parallel_calls())
def test_assemble_events_jsonl(
    path: str, calls: int, total: int, second: str, tmp_path: Path
) -> None:
    result = run("assemble", "--events", str(_file(path, tmp_path)))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    types = [r["type"] for r in records]
    assert types[0] == "tool_call_started"
    assert types.count("tool_call_done") == calls
    assert "choice_finished" in types and types[-1] == "usage_updated"
    usage = next(r for r in records if r["type"] == "usage_updated")["usage"]
    assert usage["total_tokens"] == total
    arguments = "".join(
        r["text"]
        for r in records
        if r["type"] == "tool_call_arguments_delta" and r["tool_index"] == 1
    )
    assert arguments == second


BROKEN = (
    b'data: {"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n'
    b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"lo"}}]}\n\n'
    b"data: {not json\n\n"
    b"data: [DONE]\n\n"
)


def test_assemble_error_names_the_event() -> None:
    result = run("assemble", "-", stdin=BROKEN)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("deltafold assemble: -: event 2: invalid JSON")


def test_assemble_error_partial() -> None:
    result = run("assemble", "--partial", "-", stdin=BROKEN)
    assert result.returncode == 1
    assert "event 2" in result.stderr
    partial = json.loads(result.stdout)
    assert partial["choices"][0]["message"]["content"] == "Hello"


def _in_band_errors() -> list[Any]:
    """(recording, what the error line says): made, then real."""
    entry = find("generated/stream_error.sse")
    error = entry["source"]["error"]
    cases = [
        pytest.param(
            entry["path"], f"error at event {entry['error_event']} ({error['code']}): "
            f"{error['message']}", id="generated",
        )
    ]
    if made_and_real("pydantic-ai/openrouter_stream_error.sse"):
        cases.append(
            pytest.param(
                "pydantic-ai/openrouter_stream_error.sse",
                "error at event 3 (400): Token limit reached", id="corpus",
            )
        )
    return cases


@pytest.mark.parametrize(("path", "says"), _in_band_errors())
def test_assemble_in_band_error_with_events_and_partial(
    path: str, says: str, tmp_path: Path
) -> None:
    file = _file(path, tmp_path)
    result = run("assemble", "--events", "--partial", str(file))
    assert result.returncode == 1
    assert says in result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("{")  # the events are one line each, the partial is indented JSON
    events = [json.loads(line) for line in lines[:start]]
    partial = json.loads("\n".join(lines[start:]))
    assert "reasoning_delta" in {e["type"] for e in events}
    assert partial["choices"][0]["message"]["reasoning"]


def test_assemble_strict_and_missing_file(tmp_path: Path) -> None:
    unfinished = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    assert run("assemble", "-", stdin=unfinished).returncode == 0
    strict = run("assemble", "--strict", "-", stdin=unfinished)
    assert strict.returncode == 1 and "no finish_reason" in strict.stderr
    missing = run("assemble", str(tmp_path / "nope.sse"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("deltafold assemble: cannot read ")
    assert len(missing.stderr.splitlines()) == 1


# --- stream --------------------------------------------------------------------------------------


def test_stream_against_a_local_server() -> None:
    with replay_server(demo_recording()) as base:
        result = run("stream", "--model", "m", "--base-url", base, "--api-key", SECRET, "Hi")
        from_env = run(
            "stream", "-m", "m", "--json", "Hi", OPENROUTER_API_KEY=SECRET, OPENROUTER_BASE_URL=base
        )
    assert result.returncode == 0, result.stderr
    assert "I'll check the current forecast for Lisbon" in result.stdout
    assert "tool call: get_weather {" in result.stdout
    assert "cost $0.003006" in result.stdout
    assert from_env.returncode == 0, from_env.stderr
    assert json.loads(from_env.stdout) == to_dict(assemble(demo_recording()))
    assert SECRET not in result.stdout + result.stderr + from_env.stdout + from_env.stderr


@pytest.fixture
def echo_401() -> Iterator[tuple[str, list[str]]]:
    """A server that rejects every key and echoes the Authorization header in its error body."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    seen: list[str] = []

    async def reject(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        seen.append(auth)
        error = {"message": f"Invalid credentials: {auth}", "code": 401}
        return JSONResponse({"error": error, "echo": auth}, status_code=401)

    app = Starlette(routes=[Route("/v1/chat/completions", reject, methods=["POST"])])
    server = make_server(app)
    sock = bind()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(2000):
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.005)
    try:
        yield base_url(sock), seen
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_stream_never_prints_the_key(echo_401: tuple[str, list[str]]) -> None:
    base, seen = echo_401
    flag = run("stream", "--model", "m", "--base-url", base, "--api-key", SECRET, "Hi")
    env = run("stream", "--model", "m", "Hi", OPENAI_API_KEY=SECRET, OPENAI_BASE_URL=base)
    assert seen == [f"Bearer {SECRET}"] * 2  # the key did reach the server, and came back
    for result in (flag, env):
        assert result.returncode == 1
        assert "401" in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert SECRET not in result.stdout + result.stderr
        assert SECRET[:20] not in result.stdout + result.stderr


def test_stream_without_a_key() -> None:
    result = run("stream", "--model", "m", "Hi")
    assert result.returncode == 1
    assert "no API key" in result.stderr and "OPENROUTER_API_KEY" in result.stderr


def test_stream_unreachable_endpoint() -> None:
    sock = bind()
    url = base_url(sock)
    sock.close()  # nothing listens there any more
    result = run(
        "stream",
        "--model",
        "m",
        "--base-url",
        url,
        "--idle-timeout",
        "5",
        "Hi",
        OPENROUTER_API_KEY=SECRET,
    )
    assert result.returncode == 1
    assert "could not get a response" in result.stderr
    assert SECRET not in result.stderr


# --- serve ---------------------------------------------------------------------------------


def test_serve_prints_its_url_and_replays(tmp_path: Path) -> None:
    file = tmp_path / "completion.json"
    file.write_text(json.dumps(to_dict(assemble(demo_recording()))))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deltafold", "serve", str(file), "--delay-ms", "0", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None

    def read() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        url = None
        for _ in range(5):
            line = lines.get(timeout=TIMEOUT)
            found = re.search(r"Listening on (http://127\.0\.0\.1:\d+/v1) ", line)
            if found:
                url = found.group(1)
                break
        assert url is not None
        models = httpx.get(f"{url}/models", timeout=TIMEOUT).json()
        assert models["data"][0]["id"] == "anthropic/claude-sonnet-4.5"
        streamed = httpx.post(
            f"{url}/chat/completions", json={"model": "m", "stream": True}, timeout=TIMEOUT
        )
        assert streamed.headers["content-type"].startswith("text/event-stream")
        assert assemble(streamed.content) == assemble(demo_recording())
    finally:
        proc.terminate()
        proc.wait(timeout=TIMEOUT)


def test_serve_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sse"
    bad.write_bytes(b"data: {oops\n\n")
    result = run("serve", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith(f"deltafold serve: {bad}: ")
    assert len(result.stderr.splitlines()) == 1


def test_serve_without_the_extra_names_the_install_command(tmp_path: Path) -> None:
    file = tmp_path / "demo.sse"
    file.write_bytes(demo_recording())
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "from deltafold._cli import main\n"
        f"raise SystemExit(main(['serve', {str(file)!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, env=_env()
    )
    assert result.returncode == 1
    assert install_hint("serve") in result.stderr


# --- help ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "demo"),
        (("demo",), "--json"),
        (("assemble",), "--partial"),
        (("stream",), "--base-url"),
        (("serve",), "--delay-ms"),
    ],
)
def test_help(command: tuple[str, ...], expected: str) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: deltafold")
    assert expected in result.stdout


def test_no_command_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2
    assert "usage: deltafold" in result.stderr


def test_stream_stats_summary_on_stderr() -> None:
    with replay_server(demo_recording(), first_delay_ms=100) as base:
        shown = run("stream", "--model", "m", "--base-url", base, "--stats", "Hi")
        quiet = run("stream", "--model", "m", "--base-url", base, "Hi")  # stderr is a pipe
    assert shown.returncode == 0 and quiet.returncode == 0, shown.stderr + quiet.stderr
    [line] = [x for x in shown.stderr.splitlines() if "chunks" in x]
    assert re.fullmatch(
        r"deltafold stream: 43 chunks, headers \d+ms, first chunk (\d{3,})ms, first token \d+ms, "
        r"total \d+(ms|\.\d+s), gaps p50 \d+ms p99 \d+ms max \d+ms, [\d.]+ tok/s",
        line,
    ), line
    assert int(re.search(r"first chunk (\d+)ms", line).group(1)) >= 100  # type: ignore[union-attr]
    assert "chunks" not in quiet.stderr
    assert shown.stdout == quiet.stdout


# --- mistakes that deserve a hint (issue 19, point 6) ------------------------------------


def _subcommands() -> list[str]:
    from deltafold._cli import build_parser

    parser = build_parser()
    [action] = [a for a in parser._subparsers._group_actions]  # type: ignore[union-attr]
    return sorted(action.choices)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", _subcommands())
def test_every_help_ends_with_examples_of_its_command(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    head, _, examples = result.stdout.rpartition("\nexamples:\n")
    assert head, f"deltafold {command} --help has no examples section:\n{result.stdout}"
    lines = [line.strip() for line in examples.splitlines() if line.strip()]
    assert lines and all(line.startswith(("deltafold ", "curl ", "OPENROUTER_")) for line in lines)
    assert any(line.startswith(f"deltafold {command}") or f"| deltafold {command}" in line
               or f" deltafold {command} " in line for line in lines), lines


def test_assemble_help_names_every_form_it_reads() -> None:
    text = " ".join(run("assemble", "--help").stdout.split())
    for form in ("SSE", "JSON lines", "a JSON array of chunks", "non-streamed completion"):
        assert form in text, form


def test_stream_without_a_key_names_the_option_and_the_variable() -> None:
    result = run("stream", "-m", "m", "Hi")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "deltafold stream: no API key for https://openrouter.ai/api/v1: "
        "set OPENROUTER_API_KEY or pass --api-key"
    )
    elsewhere = run("stream", "-m", "m", "--base-url", "https://llm.example.com/v1", "Hi",
                    OPENAI_API_KEY=SECRET)
    assert elsewhere.returncode == 1 and SECRET not in elsewhere.stderr
    assert "pass --api-key (--api-key '' for a server that needs none)" in elsewhere.stderr
    assert "api_key" not in elsewhere.stderr.replace("OPENAI_API_KEY", "")


def test_serve_without_a_file_replays_the_demo_recording() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "deltafold", "serve", "--port", "0", "--delay-ms", "0"],
        stdout=subprocess.PIPE, text=True, env=_env(),
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()
        url = re.search(r"Listening on (\S+)", server.stdout.readline())
        assert banner == "Replaying the demo recording (anthropic/claude-sonnet-4.5, 47 events)\n"
        assert url, banner
        request = {"model": "m", "stream": True}
        reply = httpx.post(f"{url.group(1)}/chat/completions", json=request, timeout=30)
        assert reply.content == demo_recording()
    finally:
        server.terminate()
        server.wait(10)


def _chunk_rows(folder: Path) -> list[Path]:
    """One chunk per row, in .parquet and .jsonl (chunk as text and as an object)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    chunks = [
        {"id": "a", "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"id": "a", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
    ]
    rows = [{"request_id": "r1", "seq": n, "payload": json.dumps(c)} for n, c in enumerate(chunks)]
    pq.write_table(pa.Table.from_pylist(rows), folder / "rows.parquet")
    (folder / "text.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "objects.jsonl").write_text(
        "".join(json.dumps({**r, "payload": c}) + "\n" for r, c in zip(rows, chunks, strict=True))
    )
    return [folder / "rows.parquet", folder / "text.jsonl", folder / "objects.jsonl"]


def test_bulk_suggests_stream_id_for_chunk_rows(tmp_path: Path) -> None:
    for source in _chunk_rows(tmp_path):
        result = run("bulk", str(source), "-o", str(tmp_path / "out.parquet"))
        assert result.returncode == 1, (source.name, result.stdout)
        message = result.stderr
        assert message.startswith(f"deltafold bulk: {source}: no ")
        assert "look like one chunk each (in 'payload')" in message, message
        assert "--stream-id" in message and "e.g. --stream-id request_id" in message
        assert "--column payload" in message
        assert not (tmp_path / "out.parquet").exists()
    right = run("bulk", str(tmp_path / "rows.parquet"), "-o", str(tmp_path / "out.parquet"),
                "--stream-id", "request_id", "--order", "seq", "--column", "payload")
    assert right.returncode == 0, right.stderr
    assert right.stdout.startswith("1 stream from 1 file in ")  # and proper plurals
    assert "; 0 error rows -> " in right.stdout


@pytest.mark.parametrize("name", ["out.csv", "out.json", "completions.jsonl", "out"])
def test_bulk_refuses_an_output_named_for_another_format(tmp_path: Path, name: str) -> None:
    pytest.importorskip("pyarrow")
    source = tmp_path / "one.sse"
    source.write_bytes(demo_recording())
    result = run("bulk", str(source), "-o", str(tmp_path / name))
    assert result.returncode == 1
    assert "but bulk writes Parquet" in result.stderr
    assert f"name it '{Path(name).stem}.parquet'" in result.stderr
    assert not (tmp_path / name).exists() and result.stdout == ""


def test_cli_output_counts_are_plural_only_when_not_one(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    (tmp_path / "in").mkdir()
    for n in (1, 2):
        (tmp_path / "in" / f"s{n}.sse").write_bytes(demo_recording())
        result = run("bulk", str(tmp_path / "in"), "-o", str(tmp_path / f"o{n}.parquet"))
        assert result.returncode == 0, result.stderr
        words = "1 stream from 1 file" if n == 1 else "2 streams from 2 files"
        assert result.stdout.startswith(words + " in "), result.stdout
        assert not re.search(r"\b1 (streams|files|chunks|events|error rows)\b(?!/s)", result.stdout)
