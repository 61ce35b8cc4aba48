"""Turn a pytest-benchmark JSON file into the tables, the plot and the page of the benchmarks.

    python benchmarks/report.py RUN.json [--spread OTHER.json] [--no-docs] [--no-plot]
                                         [--memory | --no-memory] [--output FILE]

By default the generated blocks of docs/benchmarks.md (between their marker comments)
are rewritten from RUN.json, and the plot docs/img/benchmarks-scale.png is written.

All ratios are of medians from the same run. Times are compared per chunk,
which is the plain ratio of medians except where a peer ran on a reduced
stream (marked). Peak memory is measured here, in a separate pass with
tracemalloc (benchmarks/memory.py), never inside a timed run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import page

OURS = [
    "floor", "floor_split", "floor_framer", "floor_events", "assemble_sse", "assemble_dicts",
    "feed_events", "typed",
]
PEERS = ["openai", "litellm", "langchain"]
#: Each peer's two paths: bytes in (end to end) and dicts in (fold only).
PEER_PATHS = [p + suffix for p in PEERS for suffix in ("", "_dicts")]
PEER_LABEL = {"openai": "OpenAI SDK", "litellm": "LiteLLM", "langchain": "LangChain"}
#: The issue's targets: assemble_sse's throughput vs the floor, and speed-ups vs peers.
TARGET_FLOOR = 0.6
TARGET_PEER = {"openai": 60.0, "litellm": 30.0}
FLAT = 0.20
MB = 1024 * 1024
DEFAULT_PLOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "benchmarks-scale.png"
PARTIAL_JSON_PLOT = DEFAULT_PLOT.with_name("benchmarks-partial-json.png")
DEFAULT_GATEWAY = Path(__file__).resolve().parent / "results" / "gateway-2core.json"

Runs = dict[str, dict[str, dict[str, Any]]]


def load(path: Path) -> tuple[dict[str, Any], Runs, Runs]:
    """Machine info, scenario runs and scale runs: {group: {path: {...}}}."""
    data = json.loads(path.read_text())
    scenarios: Runs = {}
    scale: Runs = {}
    for bench in data["benchmarks"]:
        info = bench["extra_info"]
        if info.get("suite") is not None:
            continue  # another file's benchmarks (partial_json_report.py reads its own)
        entry = {
            "median": bench["stats"]["median"],
            "rounds": bench["stats"]["rounds"],
            "n_chunks": info["n_chunks"],
            "per_chunk": bench["stats"]["median"] / info["n_chunks"],
            "reduced": info.get("reduced", False),
        }
        if info["scenario"] == "scale":
            scale.setdefault(str(info["n_chunks"]), {})[info["path"]] = entry
        else:
            scenarios.setdefault(info["scenario"], {})[info["path"]] = entry
    return data.get("machine_info", {}), scenarios, scale


def _us(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "-"
    mark = "*" if entry["reduced"] else ""
    return f"{entry['per_chunk'] * 1e6:.2f}{mark}"


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def machine(info: dict[str, Any]) -> str:
    cpu = info.get("cpu", {})
    return (
        f"{info.get('system', '?')} {info.get('release', '?')} {info.get('machine', '')}, "
        f"{cpu.get('brand_raw', info.get('processor', '?'))}, {cpu.get('count', '?')} cores, "
        f"{info.get('python_implementation', 'Python')} {info.get('python_version', '?')}"
    )


def _column(path: str) -> str:
    name = path.removesuffix("_dicts")
    if name in PEER_LABEL:
        return f"{name} ({'dicts' if path.endswith('_dicts') else 'bytes'})"
    return path


def table_times(groups: Runs, label: str, columns: list[str]) -> list[str]:
    paths = [p for p in columns if any(p in runs for runs in groups.values())]
    sized = label == "size"  # the size is the chunk count: no second column for it
    lines = [
        f"| {label} |{'' if sized else ' chunks |'} "
        + " | ".join(_column(p) for p in paths) + " |",
        f"|---|{'' if sized else '---:|'}" + "---:|" * len(paths),
    ]
    for name, runs in groups.items():
        chunks = runs["assemble_sse"]["n_chunks"] if "assemble_sse" in runs else "?"
        cells = " | ".join(_us(runs.get(p)) for p in paths)
        lines.append(f"| {name} |{'' if sized else f' {chunks:,} |'} {cells} |")
    return lines


def _speedup(run: dict[str, Any] | None, ours: dict[str, Any], peer: str) -> str:
    if run is None:
        return "-"
    speedup = run["per_chunk"] / ours["per_chunk"]
    mark = "*" if run["reduced"] else ""
    target = TARGET_PEER.get(peer)
    verdict = "" if target is None else " " + _mark(speedup >= target)
    return f"{speedup:.1f}{mark}{verdict}"


def _peer_head(peers: list[str]) -> list[str]:
    return [
        f"x {PEER_LABEL[p]}" + (f" (>= {TARGET_PEER[p]:g})" if p in TARGET_PEER else "")
        for p in peers
    ]


def table_ratios(groups: Runs, label: str) -> list[str]:
    """Bytes in, end to end: ``assemble_sse(bytes)`` vs the floor and vs each peer fed the
    same bytes (framed and decoded as the floor does, then the peer's own work)."""
    peers = [p for p in PEERS if any(p in runs for runs in groups.values())]
    head = [f"{label}", "assemble_sse / strictest floor (time)",
            "throughput vs it (>= 0.6)",
            "vs floor_split", "vs floor_framer", "vs floor_events"]
    head += _peer_head(peers)
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, runs in groups.items():
        sse = runs.get("assemble_sse")
        floor = page.strictest_floor(runs)
        if sse is None or floor is None:
            continue
        throughput = floor["per_chunk"] / sse["per_chunk"]
        cells = [
            name,
            f"{sse['per_chunk'] / floor['per_chunk']:.2f}",
            f"{throughput:.2f} {_mark(throughput >= TARGET_FLOOR)}",
        ]
        for reference in ("floor_split", "floor_framer", "floor_events"):
            ref = runs.get(reference)
            cells.append("-" if ref is None else f"{ref['per_chunk'] / sse['per_chunk']:.2f}")
        cells += [_speedup(runs.get(peer), sse, peer) for peer in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def table_ratios_dicts(groups: Runs, label: str) -> list[str]:
    """Dicts in, fold only: ``assemble(dicts)`` vs each peer fed the same decoded dicts
    (the peer's conversion of each chunk plus its state)."""
    peers = [p for p in PEERS if any(p + "_dicts" in runs for runs in groups.values())]
    head = [f"{label}", "assemble(dicts) µs/chunk", *_peer_head(peers)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, runs in groups.items():
        ours = runs.get("assemble_dicts")
        if ours is None:
            continue
        cells = [name, f"{ours['per_chunk'] * 1e6:.2f}"]
        cells += [_speedup(runs.get(peer + "_dicts"), ours, peer) for peer in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def table_flatness(scale: Runs) -> list[str]:
    sizes = sorted(scale, key=int)
    lines = [
        "| path | " + " | ".join(f"{int(s):,}" for s in sizes) + " | spread vs median |",
        "|---|" + "---:|" * (len(sizes) + 1),
    ]
    for path in OURS + PEER_PATHS:
        values = [scale[s][path]["per_chunk"] for s in sizes if path in scale[s]]
        if not values:
            continue
        mid = statistics.median(values)
        worst = max(abs(v / mid - 1) for v in values)
        cells = [
            f"{scale[s][path]['per_chunk'] / mid:.2f}" if path in scale[s] else "-" for s in sizes
        ]
        verdict = f"±{worst * 100:.0f}%"
        if path in ("assemble_sse", "assemble_dicts", "feed_events"):
            verdict += " " + _mark(worst <= FLAT)
        lines.append(f"| {_column(path)} | " + " | ".join(cells) + f" | {verdict} |")
    return lines


def table_memory(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| chunks | SSE body | final completion | bound (3x + 10 MB) | assemble_sse(bytes) "
        "| assemble_sse(16 KiB pieces) | assemble(dicts) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        bound = row["bound"]
        cells = [
            f"{row['n_chunks']:,}",
            f"{row['sse_bytes'] / MB:.1f} MB",
            f"{row['completion_bytes'] / MB:.2f} MB",
            f"{bound / MB:.1f} MB",
        ]
        for name in ("assemble_sse", "assemble_sse_pieces", "assemble_dicts"):
            cells.append(f"{row[name] / MB:.1f} MB {_mark(row[name] <= bound)}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot(scale: Runs, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    sizes = sorted(scale, key=int)
    styles = {"floor": ":", "openai": "--", "litellm": "--", "langchain": "--"}
    for path in OURS + PEERS:  # peers bytes in: the end-to-end comparison
        if path in ("floor_split", "floor_framer", "floor_events"):
            continue
        points = [(int(s), scale[s][path]["per_chunk"] * 1e6) for s in sizes if path in scale[s]]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        label = (
            f"{PEER_LABEL[path]} (bytes in)" if path in PEER_LABEL
            else "floor" if path == "floor" else "deltafold " + path
        )
        ax.plot(xs, ys, styles.get(path, "-"), marker="o", label=label)
    _save_log_log(
        fig, ax, out, "chunks in the stream", "median time per chunk (µs, log)",
        "Content stream: time per chunk vs stream length",
    )


def plot_partial_json(runs: dict[int, dict[str, dict[str, Any]]], out: Path) -> None:
    """The partial-JSON group: median time for the whole document against its size, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import partial_json_report as pj

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for path in pj.OURS + pj.PEERS:
        points = [(runs[s][path]["chars"], runs[s][path]["median"]) for s in sorted(runs)
                  if path in runs[s]]
        if not points:
            continue
        xs, ys = zip(*points, strict=True)
        label = pj.PEER_LABEL.get(path, f"deltafold PartialJSON ({path})")
        ax.plot(xs, ys, "-" if path in pj.OURS else "--", marker="o", label=label)
    _save_log_log(
        fig, ax, out, "document size (characters), streamed in 4-character fragments",
        "median time for the whole stream (s, log)",
        "Partial JSON: the value after every fragment, time vs size",
    )


def _save_log_log(fig: Any, ax: Any, out: Path, xlabel: str, ylabel: str, title: str) -> None:
    """Both plots' axes (log-log), labels, grid and legend, then the file."""
    import matplotlib.pyplot as plt

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


DEFAULT_DOCS = DEFAULT_PLOT.parents[1] / "benchmarks.md"


def run_of(path: Path) -> dict[str, Any]:
    """One run as the page shows it: where, when, at which commit, and its groups."""
    try:
        data = json.loads(path.read_text())
        info, scenarios, scale = load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise page.PageError(f"{path}: not a pytest-benchmark JSON of this suite "
                             f"({type(exc).__name__}: {exc})") from None
    if not scenarios and not scale:
        raise page.PageError(f"{path}: no benchmark of deltafold's suite in it "
                             "(run `python -m pytest benchmarks --benchmark-only "
                             "--benchmark-json=FILE`)")
    commit = data.get("commit_info") or {}
    sha = str(commit.get("id") or "?")[:7] + (" (dirty tree)" if commit.get("dirty") else "")
    return {
        "source": f"`{path.name}`", "date": str(data.get("datetime", "?"))[:16].replace("T", " ")
        + " UTC", "machine": machine(info), "commit": sha,
        "scenarios": scenarios, "scale": scale,
    }


def _versions() -> str:
    from importlib import metadata

    found = []
    for name in ("deltafold", "orjson", "openai", "litellm", "langchain-core",
                 "langchain-openai"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def section_results(run: dict[str, Any]) -> list[str]:
    """The scenario tables: times per chunk, then the ratios bytes in and dicts in."""
    groups = run["scenarios"]
    return [
        f"Machine: {run['machine']}. Run of {run['date']} ({run['source']}), deltafold at "
        f"commit `{run['commit']}`; installed when the report was made: {_versions()}.", "",
        "Median time per chunk (µs), deltafold and the floor:", "",
        *table_times(groups, "scenario", OURS), "",
        "Median time per chunk (µs), peers. `bytes` = fed the SSE bytes (framed and decoded "
        "as the floor does), `dicts` = fed the decoded chunks, `*` = run on a reduced stream "
        "of the same shape:", "",
        *table_times(groups, "scenario", PEER_PATHS), "",
        "**Bytes in (end to end)**: `assemble_sse(bytes)` against the floors and against each "
        "peer fed the same bytes, ratios of medians per chunk, the targets in brackets:", "",
        *table_ratios(groups, "scenario"), "",
        "**Dicts in (fold only)**: `assemble(dicts)` against each peer fed the same decoded "
        "dicts (the peer's conversion plus its state):", "",
        *table_ratios_dicts(groups, "scenario"),
    ]


def section_scale(scale: Runs) -> list[str]:
    """The scale series: times per chunk by size, and each path's flatness."""
    if not scale:
        return ["This run has no scale series."]
    by_size = {f"{int(k):,}": scale[k] for k in sorted(scale, key=int)}
    return [
        "Median µs per chunk on the content stream:", "",
        *table_times(by_size, "size", OURS + PEER_PATHS), "",
        "Time per chunk relative to each path's median over the sizes. \"Flat\" means "
        "within ±20% of that median:", "",
        *table_flatness(scale),
    ]


def section_memory(rows: list[dict[str, Any]] | None) -> list[str]:
    if rows is None:
        return ["Not measured: the report ran with `--no-memory`."]
    return ["Peak memory (tracemalloc, a separate pass made by the report, input excluded):",
            "", *table_memory(rows)]


def blocks(run: dict[str, Any], other: dict[str, Any] | None,
           memory_rows: list[dict[str, Any]] | None,
           gateway: tuple[str, list[dict[str, Any]]] | None,
           plot_path: Path, docs: Path) -> dict[str, list[str]]:
    """Every generated block of the page, by marker name."""
    try:
        image = plot_path.resolve().relative_to(docs.resolve().parent).as_posix()
    except ValueError:
        image = plot_path.as_posix()
    return {
        "headline": page.headline(run, other, memory_rows, gateway),
        "results": section_results(run),
        "targets": page.targets(run, other, memory_rows),
        "scale": section_scale(run["scale"]),
        "plot": [f"![Time per chunk vs stream length]({image})"],
        "memory": section_memory(memory_rows),
    }


def _plot_or_say(scale: Runs, out: Path, wanted: bool) -> str:
    """Write the plot, or say plainly why not (matplotlib is in the bench extra only)."""
    if not wanted:
        return f"Plot not written (--no-plot); the page keeps {out}"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return f"Plot NOT written: matplotlib is missing (pip install -e '.[bench]'); {out} kept"
    plot(scale, out)
    return f"Plot written to {out}"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="pytest-benchmark --benchmark-json output")
    parser.add_argument("--spread", type=Path, metavar="OTHER.json",
                        help="a second run of the same command: its figures and the "
                             "difference go next to the first run's (the tables stay the "
                             "first run's)")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="PNG to write")
    parser.add_argument("--no-plot", action="store_true", help="do not write the plot")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="measure peak memory over the scale sizes (tracemalloc)")
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS,
                        help="the page whose generated blocks are rewritten")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite the page")
    parser.add_argument("--gateway", type=Path, default=DEFAULT_GATEWAY,
                        help="benchmarks/gateway.py's JSON, shown in the headline if present")
    parser.add_argument("--output", type=Path, help="also write the markdown here")
    args = parser.parse_args(argv)

    run = run_of(args.json)
    other = run_of(args.spread) if args.spread else None
    scale = run["scale"]
    memory_rows = None
    if scale and args.memory:
        import memory

        memory_rows = [memory.measure(int(s)) for s in sorted(scale, key=int)]
    gateway = None
    if args.gateway.is_file():  # another command's result: named in the headline's note
        gateway = (args.gateway.name, json.loads(args.gateway.read_text()))
    made = blocks(run, other, memory_rows, gateway, args.plot, args.docs)
    out = []
    for name, lines in made.items():
        out += [f"## {name}", "", *lines, ""]
    if scale:
        out += [_plot_or_say(scale, args.plot, not args.no_plot)]
    import partial_json_report

    pj = partial_json_report.load(json.loads(args.json.read_text()))
    if pj:
        out += ["", *partial_json_report.section(pj)]
        if not args.no_plot:
            plot_partial_json(pj, args.plot.with_name(PARTIAL_JSON_PLOT.name))
            out += [f"Plot written to {args.plot.with_name(PARTIAL_JSON_PLOT.name)}"]
    if not args.no_docs:
        changed = page.write(args.docs, made)
        out += [f"{args.docs}: generated blocks {'rewritten' if changed else 'unchanged'}"]
    text = "\n".join(out)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except page.PageError as exc:
        sys.exit(f"report.py: {exc}")
