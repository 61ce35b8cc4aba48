"""Each extra, installed alone in a fresh venv, runs the example its docs give for it.

    python .ci/extras.py --python PYTHON [--venvs DIR] [EXTRA ...]

Run it with the project's dev environment (it reads the docs through tests/test_docs.py,
so the examples are taken from the pages, never copied here). The extras are those of
pyproject.toml but ``dev``, ``docs`` and ``bench``; each must have an entry in EXAMPLES.

For each extra, a new venv made by PYTHON gets ``pip install "<repo>[EXTRA]"`` and nothing
else of deltafold's, then:

- every other extra's entry point raises an ImportError that says how to install it;
- the extra's examples run, offline, in an empty folder, and print or write what the
  docs say they do. ``otel`` runs a stream with the API alone (no SDK: nothing recorded),
  then adds the SDK and exporter the page tells the reader to install, runs the page's
  setup block against a collector on 127.0.0.1, and the collector must receive the span.

The last line is ``extras alone: N checks ok, N failed``; the exit status is 1 when anything failed.
"""

from __future__ import annotations

import argparse
import http.server
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from deltafold._cli import demo_recording  # noqa: E402
from deltafold._exceptions import install_hint  # noqa: E402
from test_docs import BLOCKS, EXAMPLES, EXPECTED, _offline_env  # noqa: E402

NOT_USER_EXTRAS = {"dev", "docs", "bench"}
RUN_TIMEOUT = 240.0
INSTALL_TIMEOUT = 900.0

OTEL_SDK = ["opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"]
"""What docs/observability.md ("Exporting to a collector") has the reader add to the extra."""

NEEDS = {
    "serve": "with deltafold.replay_server(b'data: [DONE]\\n\\n'):\n    pass",
    "arrow": "deltafold.assemble_table(None)",
    "duckdb": "deltafold.register_duckdb(None)",
    "ray": "deltafold.assemble_dataset(None)",
}
"""A call that needs each extra; without it, the call must raise a missing-extra ImportError.
(``otel`` has none: without it a stream records nothing, by design.)"""

LOGS = """
import pathlib, sys
import pyarrow as pa, pyarrow.parquet as pq
pathlib.Path("logs").mkdir()
body = pathlib.Path(sys.argv[1]).read_bytes()
pq.write_table(pa.table({"request_id": ["r1"], "body": [body]}), "logs/part-0.parquet")
"""
"""Makes ``logs/``, the folder of recorded streams the bulk examples read: the demo recording."""

FOLDED = """
import pathlib, sys
import pyarrow.parquet as pq
rows = pq.read_table(sys.argv[1]).to_pylist()
assert [(r["request_id"], r["error_type"], r["finish_reason"]) for r in rows] == [
    ("r1", None, "tool_calls")
], rows
print("folded:", rows[0]["model"], rows[0]["total_tokens"], "tokens")
"""
"""Checks what the bulk examples wrote: one row, the demo recording folded."""

STREAM = """
import os
import deltafold
question = [{"role": "user", "content": "Weather in Lisbon?"}]
with (
    deltafold.SyncClient(os.environ["CHECK_BASE_URL"]) as client,
    client.stream(model="check/model", messages=question) as stream,
):
    completion = stream.until_done()
print("streamed:", completion.choices[0].finish_reason)
"""
"""A stream through deltafold's client to the check's own server (no serve extra needed)."""


# --- what each extra runs -------------------------------------------------------------


@dataclass
class Run:
    """One program run in an extra's venv, and what it must leave behind."""

    label: str
    argv: Callable[[Path], list[str]]
    expect: list[str] = field(default_factory=list)
    setup: list[str] | None = None
    after: Callable[[Path, Path], list[str]] | None = None
    collector: bool = False


def _blocks(
    page: str, module: str, *, without: tuple[str, ...] = (), fragments: bool = False
) -> list[str]:
    """The python blocks of ``page`` that import ``module`` (at least one), leaving out those
    that also import a module of ``without`` (another extra's) and, unless ``fragments``, the
    blocks the docs tests skip as fragments."""

    def imports(body: str, name: str) -> bool:
        return any(
            line.split()[:2] in (["import", name], ["from", name])
            or line.startswith((f"import {name}.", f"from {name}."))
            for line in body.splitlines()
        )

    found = [
        b.body
        for b in BLOCKS
        if b.page.name == page
        and b.lang == "python"
        and (fragments or not b.skip)
        and imports(b.body, module)
        and not any(imports(b.body, other) for other in without)
    ]
    if not found:
        raise SystemExit(f"extras: no python block of {page} imports {module}")
    return found


def _block(page: str, module: str) -> str:
    """The one python block of ``page`` that imports ``module`` (a fragment counts: the
    set-up blocks of observability.md and bulk.md's Ray block run only here)."""
    found = _blocks(page, module, fragments=True)
    if len(found) != 1:
        raise SystemExit(f"extras: {len(found)} python blocks of {page} import {module}, not 1")
    return found[0]


def _command(page: str, prefix: str) -> list[str]:
    """The command of ``page`` (a line, or a part between ``&&``) that starts with ``prefix``."""
    for block in BLOCKS:
        if block.page.name != page:
            continue
        for line in block.body.splitlines():
            for part in line.split("&&"):
                if part.strip().startswith(prefix):
                    return shlex.split(part.split("  #")[0])
    raise SystemExit(f"extras: no command starting with {prefix!r} in {page}")


def _python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def _code(code: str) -> Callable[[Path], list[str]]:
    return lambda venv: [_python(venv), "-c", code]


def _folded(path: str) -> Callable[[Path, Path], list[str]]:
    return lambda venv, cwd: [_python(venv), "-c", FOLDED, str(cwd / path)]


def _examples() -> dict[str, list[Run]]:
    quickstart = EXAMPLES / "quickstart_stream.py"
    demo = _command("README.md", "deltafold demo")
    bulk = _command("README.md", "deltafold bulk")
    return {
        "serve": [
            Run(
                "README.md: " + shlex.join(demo),
                lambda v: [str(v / "bin" / demo[0]), *demo[1:]],
                expect=["tool call: get_weather"],
            ),
            Run(
                f"docs/index.md: {quickstart.name}",
                lambda v: [_python(v), str(quickstart)],
                expect=EXPECTED[quickstart.name],
            ),
        ],
        "otel": [
            Run(
                "a stream with the OpenTelemetry API and no SDK",
                _code(STREAM),
                expect=["streamed: tool_calls"],
            ),
            Run(
                "docs/observability.md: the SDK set-up block, then a stream",
                _code(_block("observability.md", "opentelemetry") + "\n" + STREAM),
                expect=["streamed: tool_calls"],
                setup=OTEL_SDK,
                collector=True,
            ),
        ],
        "arrow": [
            *(
                Run(f"docs/bulk.md: pyarrow block {n}", _code(body))
                for n, body in enumerate(
                    _blocks("bulk.md", "pyarrow", without=("duckdb", "ray")), 1
                )
            ),
            Run(
                "README.md: " + shlex.join(bulk),
                lambda v: [str(v / "bin" / bulk[0]), *bulk[1:]],
                after=_folded(bulk[bulk.index("-o") + 1]),
            ),
        ],
        "duckdb": [Run("docs/bulk.md: the duckdb block", _code(_block("bulk.md", "duckdb")))],
        "ray": [
            Run(
                "docs/bulk.md: the ray block",
                _code(_block("bulk.md", "ray")),
                after=_folded("completions"),
            ),
        ],
    }


# --- the collector and chat server the otel check talks to ----------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    received: dict[str, bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/chat/completions"):
            payload, kind = demo_recording(), "text/event-stream"
        else:
            self.received[self.path] = self.received.get(self.path, b"") + body
            payload, kind = b"", "application/x-protobuf"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A server on 127.0.0.1: the demo recording at /v1/chat/completions, OTLP at the rest."""
    received: dict[str, bytes] = {}
    handler = type("Handler", (_Handler,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


# --- running ------------------------------------------------------------------------


@dataclass
class Tally:
    passed: int = 0
    failed: list[str] = field(default_factory=list)

    def report(self, ok: bool, label: str, seconds: float, detail: str = "") -> None:
        print(f"{'ok  ' if ok else 'FAIL'} {label} ({seconds:.1f} s)", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed.append(label)
            print("     " + detail.strip().replace("\n", "\n     ")[-4000:], flush=True)


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return -1, f"timed out after {timeout:.0f} s: {exc.stdout!r:.2000}"
    return done.returncode, done.stdout + done.stderr


def _extras() -> dict[str, list[str]]:
    """Each user extra and the extras it includes (``deltafold[arrow]`` in its list)."""
    optional = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    includes: dict[str, list[str]] = {}
    for name, requirements in optional.items():
        if name in NOT_USER_EXTRAS:
            continue
        own = [r for r in requirements if r.startswith("deltafold[")]
        includes[name] = [e.strip() for r in own for e in r[10:].split("]")[0].split(",")]
    return includes


def _closure(extra: str, includes: dict[str, list[str]]) -> set[str]:
    found = {extra}
    for other in includes[extra]:
        found |= _closure(other, includes)
    return found


def _env(venv: Path) -> dict[str, str]:
    env = _offline_env()
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # a local Ray instance stays on loopback
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _pip(venv: Path, requirements: list[str], tally: Tally, label: str) -> bool:
    started = time.monotonic()
    code, out = _run(
        [
            _python(venv),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements,
        ],
        REPO,
        {**os.environ, "PIP_NO_INPUT": "1"},
        INSTALL_TIMEOUT,
    )
    # pip warns of every package missing from this machine's local extra index: not news.
    out = "\n".join(line for line in out.splitlines() if "is ignored: it is neither" not in line)
    tally.report(code == 0, label, time.monotonic() - started, out)
    return code == 0


def _missing(extra: str, venv: Path, includes: dict[str, list[str]], tally: Tally) -> None:
    """Each extra this venv lacks: its entry point raises an ImportError naming an extra."""
    have = _closure(extra, includes)
    for other, call in NEEDS.items():
        if other in have:
            continue
        hints = [install_hint(e) for e in sorted(_closure(other, includes) - have)]
        code = (
            f"import deltafold\ntry:\n    {call.replace(chr(10), chr(10) + '    ')}\n"
            "except ImportError as exc:\n    print(type(exc).__name__, exc)\n"
            "else:\n    raise SystemExit('no ImportError')\n"
        )
        started = time.monotonic()
        status, out = _run([_python(venv), "-c", code], REPO, _env(venv), RUN_TIMEOUT)
        ok = status == 0 and any(hint in out for hint in hints)
        tally.report(
            ok,
            f"{extra}: without {other}, {call.splitlines()[0]} says how to install it",
            time.monotonic() - started,
            out,
        )


def _check_run(run: Run, extra: str, venv: Path, tally: Tally) -> None:
    label = f"{extra}: {run.label}"
    if run.setup and not _pip(venv, run.setup, tally, f"{extra}: + {' '.join(run.setup)}"):
        return
    with tempfile.TemporaryDirectory(prefix=f"extra-{extra}-") as tmp, _server() as (url, got):
        cwd = Path(tmp)
        env = _env(venv)
        env["CHECK_BASE_URL"] = f"{url}/v1"
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = url
        recording = cwd / "demo.sse"
        recording.write_bytes(demo_recording())
        started = time.monotonic()
        status, out = 0, ""
        if run.after is not None:  # the bulk examples read logs/
            status, out = _run([_python(venv), "-c", LOGS, str(recording)], cwd, env, RUN_TIMEOUT)
        if status == 0:
            status, out = _run(run.argv(venv), cwd, env, RUN_TIMEOUT)
        missing = [text for text in run.expect if text not in out]
        if status == 0 and run.after is not None:
            status, more = _run(run.after(venv, cwd), cwd, env, RUN_TIMEOUT)
            out += more
        if status == 0 and run.collector:
            spans = got.get("/v1/traces", b"")
            if b"chat check/model" not in spans:
                status, out = 1, out + f"\nthe collector got no span 'chat check/model': {got}"
        ok = status == 0 and not missing
        detail = out + (f"\nmissing from the output: {missing}" if missing else "")
        tally.report(ok, label, time.monotonic() - started, detail)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="the interpreter that makes the venvs")
    parser.add_argument("--venvs", type=Path, help="where to make them (default: a temp dir)")
    parser.add_argument("extras", nargs="*", help="default: every extra but dev, docs, bench")
    args = parser.parse_args()
    includes = _extras()
    examples = _examples()
    unknown = set(includes) ^ set(examples)
    if unknown:
        raise SystemExit(f"extras: pyproject.toml and EXAMPLES disagree on {sorted(unknown)}")
    chosen = args.extras or list(includes)
    root = args.venvs or Path(tempfile.mkdtemp(prefix="extras-"))
    tally = Tally()
    for extra in chosen:
        venv = root / extra
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        status, out = _run([args.python, "-m", "venv", str(venv)], REPO, dict(os.environ), 120)
        tally.report(status == 0, f"{extra}: venv", time.monotonic() - started, out)
        installed = status == 0 and _pip(
            venv, [f"{REPO}[{extra}]"], tally, f'{extra}: pip install ".[{extra}]"'
        )
        if not installed:
            continue
        _missing(extra, venv, includes, tally)
        for run in examples[extra]:
            _check_run(run, extra, venv, tally)
        if args.venvs is None:
            shutil.rmtree(venv, ignore_errors=True)
    for label in tally.failed:
        print(f"failed: {label}")
    # Not pytest's closing-line form, so CI's reader of the test run's last line is not misled.
    print(f"extras alone: {tally.passed} checks ok, {len(tally.failed)} failed", flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
