"""benchmarks/formats_report.py: the Responses and Messages blocks of the benchmark page.

Two small pytest-benchmark files made here (medians chosen so every ratio is known)
go through the report as the page's "Other wire formats" section says, in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "benchmarks" / "formats_report.py"
PAGE = (
    "# B\n\nprose\n\n<!-- generated:responses -->\nold\n<!-- /generated:responses -->\n\n"
    "middle\n\n<!-- generated:messages -->\nold\n<!-- /generated:messages -->\n\nend\n"
)


def bench(group: str, path: str, median: float, **info: Any) -> dict[str, Any]:
    return {"group": group, "stats": {"median": median, "rounds": 5},
            "extra_info": {"path": path, **info}}


def run_file(tmp: Path, name: str, sse: float) -> Path:
    """A run: the floor 1 s, assemble_sse ``sse`` s, the SDK 100 s, on 1,000 events."""
    rows = []
    for group in ("responses-text", "responses-scale-1000", "responses-scale-10000"):
        n = 10_000 if group.endswith("10000") else 1000
        scale = n / 1000
        for path, median in (("floor", 1.0), ("assemble_sse", sse), ("sdk", 100.0)):
            rows.append(bench(group, path, median * scale, suite="responses", n_events=n))
    rows.append(bench("messages-long-text", "floor", 1.0, suite="messages", deltas=100))
    rows.append(bench("messages-long-text", "assemble_sse", 2.0, suite="messages", deltas=100))
    rows.append(bench("messages-tool-input-10KB", "assemble_sse", 0.01, suite="messages",
                      bytes=10_000, fragments=2500))
    rows.append(bench("chat", "assemble_sse", 1.0, scenario="content", n_chunks=5))
    data = {"datetime": "2026-12-06T17:00:00", "machine_info": {"system": "Linux"},
            "benchmarks": rows}
    path = tmp / name
    path.write_text(json.dumps(data))
    return path


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(REPORT), *args], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


def test_blocks_hold_the_ratios_of_both_runs(tmp_path: Path) -> None:
    page = tmp_path / "bench.md"
    page.write_text(PAGE)
    done = report(str(run_file(tmp_path, "a.json", 2.0)), str(run_file(tmp_path, "b.json", 4.0)),
                  "--docs", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "old" not in text and "prose" in text and "middle" in text
    row = next(line for line in text.splitlines() if line.startswith("| text |"))
    # floor 1 s / assemble_sse 2 s = 0.50 (target 0.4: yes); SDK 100 / 2 = 50 (yes);
    # the second run: 0.25 and 25, each 50% lower.
    assert "| 0.50 yes | 50 yes | 0.25, 25 | -50%, -50% |" in row
    assert "each size within ±0% of the sizes' median time per event (flat" in text
    assert "| one text block | 100 |" in text and "0.50" in text


def test_the_docs_page_has_both_markers() -> None:
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    for name in ("responses", "messages", "convert"):
        assert text.count(f"<!-- generated:{name} -->") == 1
        assert text.count(f"<!-- /generated:{name} -->") == 1


def test_a_file_without_these_suites_is_a_clear_error(tmp_path: Path) -> None:
    other = tmp_path / "chat.json"
    other.write_text(json.dumps({"benchmarks": [bench("c", "floor", 1.0, scenario="c")]}))
    done = report(str(other), "--no-docs")
    assert done.returncode != 0
    assert "no Responses, Messages or conversion benchmark" in done.stderr


def convert_run(tmp: Path, name: str, convert: float) -> Path:
    """A conversion run on 1,000 chat events: folding 1 s, converting ``convert`` s to
    Messages (its SSE 1.25 times that; measured in turn with folding, 1.1 times
    ``convert``), LiteLLM 10 s; the same format 1.1 s (in turn: no figure)."""
    rows = []
    info = {"suite": "convert", "source": "chat", "shape": "text", "n_events": 1000}
    for path, median in (("fold", 1.0), ("to-messages", convert),
                         ("to-messages-sse", convert * 1.25), ("to-chat", 1.1),
                         ("litellm", 10.0)):
        extra = {"alternating": convert * 1.1} if path == "to-messages" else {}
        rows.append(bench("convert-chat-text", path, median, **info, **extra))
    data = {"datetime": "2026-12-07T10:00:00", "machine_info": {"system": "Linux"},
            "benchmarks": rows}
    path = tmp / name
    path.write_text(json.dumps(data))
    return path


def test_the_convert_block_holds_the_cost_over_folding_and_the_litellm_ratio(
    tmp_path: Path,
) -> None:
    page = tmp_path / "bench.md"
    page.write_text("# B\n\n<!-- generated:convert -->\nold\n<!-- /generated:convert -->\n")
    done = report(str(convert_run(tmp_path, "a.json", 1.25)),
                  str(convert_run(tmp_path, "b.json", 2.0)), "--docs", str(page))
    assert done.returncode == 0, done.stderr
    lines = page.read_text().splitlines()
    row = next(line for line in lines if line.startswith("| chat → messages | text | 1000.00"))
    # In turn with folding 1.375 (target 1.5: yes), the second run's 2.2; the medians'
    # ratio 1.25 s / 1 s = 1.25 (yes), the second run 2.00; framed 1.56.
    assert row.endswith(
        "| 1000.00 | 1250.00 | 1.38 yes | 2.20 | 1.25 yes | 2.00 | 1.56 |"), row
    same = next(line for line in lines if line.startswith("| chat → chat |"))
    assert same.endswith("| - | - | 1.10 yes | 1.10 | - |")  # no figure in turn, no SSE run
    litellm = next(line for line in lines if line.startswith("| chat → messages | text | 10000"))
    assert "| 8.00 | 5.00 | -38% |" in litellm  # 10 / 1.25, then 10 / 2
