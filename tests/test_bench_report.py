"""benchmarks/report.py rewrites the benchmark page's generated blocks from one real run.

The run is a trimmed copy of a committed pytest-benchmark result (every scenario, the scale
series cut to 1k and 10k chunks), so the report runs on real data in about a second. The
report runs as the README says, in a subprocess; no bench extra is needed (--no-plot).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "report.py"
RESULTS = ROOT / "benchmarks" / "results"
RUN = RESULTS / "trimmed-for-tests.json"
RERUN = RESULTS / "2core-cpython3.11-scenarios-rerun.json"
BLOCKS = ("headline", "results", "targets", "scale", "plot", "memory")

PROSE = ["# Benchmarks\n\nHand-written intro, kept as written.\n"]
for _name in BLOCKS:
    PROSE.append(f"\n## {_name}\n\nProse before {_name}: *untouched* | not a table.\n\n"
                 f"<!-- generated:{_name} -->\nstale {_name} numbers\n"
                 f"<!-- /generated:{_name} -->\n\nProse after {_name}.\n")
PAGE = "".join(PROSE)


def report(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if "--gateway" not in args:  # the gateway's JSON is another command's: kept out here
        args = (*args, "--gateway", str(page.with_name("no-gateway.json")))
    return subprocess.run(
        [sys.executable, str(REPORT), str(RUN), "--no-plot", "--docs", str(page), *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=dict(os.environ),
    )


def outside(text: str) -> str:
    """The page with every generated block's body cut out: what the report must not touch."""
    return re.sub(r"(<!-- generated:\w+ -->).*?(<!-- /generated:\w+ -->)", r"\1\2", text,
                  flags=re.DOTALL)


def block(text: str, name: str) -> str:
    found = re.search(f"<!-- generated:{name} -->(.*?)<!-- /generated:{name} -->", text,
                      re.DOTALL)
    assert found is not None, name
    return found.group(1)


def test_headline_rows_are_the_runs_ranges(tmp_path: Path) -> None:
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    done = report(page)
    assert done.returncode == 0, done.stderr
    head = block(page.read_text(), "headline")
    # Ranges over the four scenarios of the committed run (hand-checked against its JSON).
    assert "| the OpenAI SDK's `ChatCompletionStreamState` | 51–76× faster |" in head
    assert "| LiteLLM's `stream_chunk_builder` | 28–47× faster (n4_logprobs 8.8×) |" in head
    assert "0.52–0.62× its throughput (n4_logprobs 0.20×)" in head
    assert "| the OpenAI SDK | 119–204× faster |" in head
    assert "| of 1,000 to 10,000 chunks | itself | the same time per chunk (±6%) |" in head
    assert re.search(r"\| of 10,000 chunks \(3 MB of SSE\) \| its own completion "
                     r"\(0\.0 MB\) \| \d+\.\d MB peak memory \|", head), head
    assert "2026-11-26 10:50 UTC" in head and "2 cores" in head  # the run's date, machine
    assert "second run" not in head
    assert "stale" not in page.read_text()


def test_rewrite_is_idempotent_and_leaves_prose(tmp_path: Path) -> None:
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    assert report(page, "--no-memory").returncode == 0
    first = page.read_text()
    assert outside(first) == outside(PAGE)
    assert "Machine: " in block(first, "results")
    assert "| content | 10,000 |" in block(first, "results")
    assert "Not measured" in block(first, "memory")
    again = report(page, "--no-memory")
    assert again.returncode == 0 and "unchanged" in again.stdout
    assert page.read_text() == first


def test_missing_marker_is_an_error_naming_it(tmp_path: Path) -> None:
    page = tmp_path / "bench.md"
    broken = PAGE.replace("<!-- /generated:targets -->\n", "")
    page.write_text(broken)
    done = report(page, "--no-memory")
    assert done.returncode != 0
    assert "'targets'" in done.stderr and "<!-- /generated:targets -->" in done.stderr
    assert page.read_text() == broken  # nothing half-written


def test_no_docs_leaves_the_page(tmp_path: Path) -> None:
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    done = report(page, "--no-memory", "--no-docs")
    assert done.returncode == 0, done.stderr
    assert page.read_text() == PAGE
    assert "51–76× faster" in done.stdout


def test_spread_shows_the_second_run_apart(tmp_path: Path) -> None:
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    done = report(page, "--no-memory", "--spread", str(RERUN))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    head = block(text, "headline")
    assert "| deltafold is | second run | spread |" in head
    # First run's range, then the rerun's, then the largest per-scenario difference.
    assert "| 51–76× faster | 48–70× | ±32% |" in head
    assert "`2core-cpython3.11-scenarios-rerun.json`" in head
    targets = block(text, "targets")
    assert "edge: 0.62 (0.55)" in targets  # met in the first run, missed in the second
    assert "**no**: 0.55 (0.53)" in targets
    assert "yes: 75 (70)" in targets


def test_the_docs_page_has_every_marker(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    real = (ROOT / "docs" / "benchmarks.md").read_text()
    page.write_text(real)
    done = report(page, "--no-memory")
    assert done.returncode == 0, done.stderr
    assert outside(page.read_text()) == outside(real)


def test_gateway_rows_only_when_its_json_is_there(tmp_path: Path) -> None:
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    rows = [
        {"mode": "bare", "n": 100, "cpu_per_1000": 0.08, "kb_per_stream": 50.0},
        {"mode": "bare", "n": 100, "cpu_per_1000": 0.05, "kb_per_stream": 52.0},  # best
        {"mode": "fold", "n": 100, "cpu_per_1000": 0.06, "kb_per_stream": 70.0},
    ]
    gateway = tmp_path / "gw.json"
    gateway.write_text(json.dumps(rows))
    assert report(page, "--no-memory", "--gateway", str(gateway)).returncode == 0
    head = block(page.read_text(), "headline")
    assert ("| relayed by a gateway, 100 streams at once | the same relay passing the bytes "
            "through | +20% CPU (0.0600 vs 0.0500 s per 1,000 chunks), 70 vs 52 KB per open "
            "stream |") in head
    assert "`gw.json`" in head
    assert report(page, "--no-memory", "--gateway", str(tmp_path / "none.json")).returncode == 0
    assert "gateway" not in block(page.read_text(), "headline")


def test_a_file_that_is_no_run_is_a_clear_error(tmp_path: Path) -> None:
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    for body in ("not json", json.dumps({"benchmarks": []}), json.dumps({"x": 1})):
        bad = tmp_path / "bad.json"
        bad.write_text(body)
        done = subprocess.run(
            [sys.executable, str(REPORT), str(bad), "--no-plot", "--docs", str(page)],
            capture_output=True, text=True, timeout=60, cwd=ROOT, env=dict(os.environ),
        )
        assert done.returncode != 0 and "bad.json" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
        assert page.read_text() == PAGE
