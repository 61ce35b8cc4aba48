"""The PartialJSON tables: median times, speed-ups over the peers, time per byte, spread.

    python benchmarks/partial_json_report.py RUN.json [RUN2.json ...]

Reads pytest-benchmark JSON files holding ``test_partial_json_bench`` results
(``extra_info.suite == "partial_json"``). Ratios are of medians from the same
run (the first file); with several files, the spread of deltafold's medians
across runs is shown too. ``benchmarks/report.py`` prints the same section
when its input holds these results.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

OURS = ["deltafold", "deltafold_events"]
PEERS = ["jiter", "openai_stream_state", "pydantic_core", "partial_json_parser", "langchain"]
PEER_LABEL = {
    "jiter": "jiter partial_mode=True per chunk (OpenAI SDK)",
    "pydantic_core": "pydantic-core trailing-strings per chunk",
    "partial_json_parser": "partial-json-parser per chunk",
    "langchain": "LangChain parse_partial_json per chunk",
    "openai_stream_state": "OpenAI SDK ChatCompletionStreamState, strict tool",
}
#: The issue's targets: >= 100x the OpenAI SDK's way at 100 KB; 1 MB vs 10 KB per byte <= 1.3.
TARGET_JITER = (100_000, 100.0)
TARGET_FLAT = 1.3

#: {size: {path: entry}}
Runs = dict[int, dict[str, dict[str, Any]]]


def load(data: dict[str, Any]) -> Runs:
    runs: Runs = {}
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if info.get("suite") != "partial_json":
            continue
        runs.setdefault(info["size"], {})[info["path"]] = {
            "median": bench["stats"]["median"],
            "rounds": bench["stats"]["rounds"],
            "chars": info["chars"],
            "fragments": info["fragments"],
        }
    return runs


def _time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.1f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.0f} µs"


def section(runs: Runs, others: list[Runs] | None = None) -> list[str]:
    """The markdown lines of the PartialJSON section; empty when there is nothing."""
    if not runs:
        return []
    sizes = sorted(runs)
    paths = [p for p in OURS + PEERS if any(p in runs[s] for s in sizes)]
    out = [
        "PartialJSON: the whole document streamed in 4-character fragments, the partial "
        "value read after every fragment; median time per document (- = not run at that "
        "size: the peer re-parses everything per chunk and would take minutes):",
        "",
        "| path | " + " | ".join(f"{s:,} B" for s in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for path in paths:
        cells = [_time(runs[s][path]["median"]) if path in runs[s] else "-" for s in sizes]
        out.append(f"| {PEER_LABEL.get(path, path)} | " + " | ".join(cells) + " |")
    out += ["", "Speed-up of `deltafold` (feed + value per fragment) over each peer "
            f"(target: >= {TARGET_JITER[1]:g}x jiter at {TARGET_JITER[0]:,} B):", "",
            "| peer | " + " | ".join(f"{s:,} B" for s in sizes) + " |",
            "|---|" + "---:|" * len(sizes)]
    for peer in PEERS:
        if not any(peer in runs[s] for s in sizes):
            continue
        cells = []
        for s in sizes:
            if peer not in runs[s] or "deltafold" not in runs[s]:
                cells.append("-")
                continue
            ratio = runs[s][peer]["median"] / runs[s]["deltafold"]["median"]
            verdict = ""
            if peer == "jiter" and s == TARGET_JITER[0]:
                verdict = " yes" if ratio >= TARGET_JITER[1] else " **no**"
            cells.append(f"{ratio:.{0 if ratio >= 10 else 1}f}x{verdict}")
        out.append(f"| {PEER_LABEL[peer]} | " + " | ".join(cells) + " |")
    out += ["", "Time per character (ns) and relative to 10,000 B "
            f"(flat: 1 MB within {TARGET_FLAT}x of 10 KB):", "",
            "| path | " + " | ".join(f"{s:,} B" for s in sizes) + " | 1 MB / 10 KB |",
            "|---|" + "---:|" * (len(sizes) + 1)]
    for path in paths:
        per = {s: runs[s][path]["median"] / runs[s][path]["chars"] for s in sizes
               if path in runs[s]}
        cells = [f"{per[s] * 1e9:.0f}" if s in per else "-" for s in sizes]
        if 1_000_000 in per and 10_000 in per:
            flat = per[1_000_000] / per[10_000]
            verdict = "yes" if flat <= TARGET_FLAT else "**no**"
            cells.append(f"{flat:.2f} {verdict}" if path in OURS else f"{flat:.2f}")
        else:
            cells.append("-")
        out.append(f"| {path} | " + " | ".join(cells) + " |")
    if others:
        every = [runs, *others]
        out += ["", f"Spread of the medians across {len(every)} runs (min-max, and "
                "the speed-up over jiter per run):", "",
                "| size | path | medians | x jiter |", "|---:|---|---|---|"]
        for s in sizes:
            for path in OURS:
                medians = [r[s][path]["median"] for r in every if s in r and path in r[s]]
                if not medians:
                    continue
                ratios = [
                    f"{r[s]['jiter']['median'] / r[s][path]['median']:.0f}x"
                    for r in every
                    if s in r and path in r[s] and "jiter" in r[s]
                ]
                spread = max(medians) / min(medians) - 1
                out.append(
                    f"| {s:,} | {path} | {', '.join(_time(m) for m in medians)} "
                    f"(±{spread * 100 / 2:.0f}% around the middle, median "
                    f"{_time(statistics.median(medians))}) | {', '.join(ratios) or '-'} |"
                )
    return out


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    runs = [load(json.loads(Path(arg).read_text())) for arg in argv]
    print("\n".join(section(runs[0], runs[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
