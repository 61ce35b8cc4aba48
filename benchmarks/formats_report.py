"""The benchmark page's tables for the Responses and Messages formats and for conversion.

    python benchmarks/formats_report.py RUN.json [RUN2.json ...] [--no-docs] [--docs PAGE]

Reads the results of ``test_responses_bench.py`` (``extra_info.suite == "responses"``),
``test_messages_bench.py`` (``"messages"``) and ``test_convert_bench.py`` (``"convert"``)
from the files given; for each suite the first file holding it is the run the tables
show, the next one its second run (the ratios of both and their difference are shown).
Every ratio is of two medians of the same run. The page's ``responses``, ``messages``
and ``convert`` generated blocks are rewritten (``page.write``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import page
import report

TARGET_FLOOR = 0.4
TARGET_SDK = 50.0
TARGET_CONVERT = 1.5
"""Converting may cost at most this many times folding the same source alone."""
FLAT = 0.20

#: {group: {path: {"median": s, "info": extra_info}}}
Groups = dict[str, dict[str, dict[str, Any]]]


def load(data: dict[str, Any], suite: str) -> Groups:
    groups: Groups = {}
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if info.get("suite") == suite:
            groups.setdefault(bench["group"], {})[info["path"]] = {
                "median": bench["stats"]["median"], "rounds": bench["stats"]["rounds"],
                "info": info,
            }
    return groups


def _when(data: dict[str, Any], path: Path) -> str:
    return f"{str(data.get('datetime', '?'))[:16].replace('T', ' ')} UTC (`{path.name}`)"


def _ratio(runs: dict[str, dict[str, Any]], num: str, den: str) -> float | None:
    if num not in runs or den not in runs:
        return None
    return float(runs[num]["median"] / runs[den]["median"])


def _x(value: float | None, target: float | None = None) -> str:
    if value is None:
        return "-"
    text = f"{value:.2f}" if value < 10 else f"{value:.0f}"
    return text if target is None else f"{text} {'yes' if value >= target else '**no**'}"


def _diff(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    return f"{(b - a) / a * 100:+.0f}%"


def _us(runs: dict[str, dict[str, Any]], path: str, count: int) -> str:
    return "-" if path not in runs else f"{runs[path]['median'] / count * 1e6:.2f}"


def _shape_rows(first: Groups, second: Groups | None, prefix: str) -> list[str]:
    lines = [
        "| stream | events | floor | floor_framer | assemble_sse | SDK | "
        f"throughput vs floor (>= {TARGET_FLOOR}) | x SDK (>= {TARGET_SDK:g}) | "
        "second run: throughput, x SDK | difference |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for group, runs in first.items():
        if not group.startswith(prefix) or "assemble_sse" not in runs:
            continue
        n = runs["assemble_sse"]["info"]["n_events"]
        thr = _ratio(runs, "floor", "assemble_sse")
        sdk = _ratio(runs, "sdk", "assemble_sse")
        again = (second or {}).get(group, {})
        thr2 = _ratio(again, "floor", "assemble_sse")
        sdk2 = _ratio(again, "sdk", "assemble_sse")
        lines.append(
            f"| {group.removeprefix(prefix)} | {n:,} | {_us(runs, 'floor', n)} | "
            f"{_us(runs, 'floor_framer', n)} | {_us(runs, 'assemble_sse', n)} | "
            f"{_us(runs, 'sdk', n)} | {_x(thr, TARGET_FLOOR)} | {_x(sdk, TARGET_SDK)} | "
            f"{_x(thr2)}, {_x(sdk2)} | {_diff(thr, thr2)}, {_diff(sdk, sdk2)} |")
    return lines


def _flatness(groups: Groups, prefix: str, path: str) -> float | None:
    per = [runs[path]["median"] / runs[path]["info"]["n_events"]
           for group, runs in groups.items() if group.startswith(prefix) and path in runs]
    if len(per) < 2:
        return None
    middle = statistics.median(per)
    return float(max(abs(p - middle) / middle for p in per))


def responses_block(first: Groups, second: Groups | None, when: str, machine: str) -> list[str]:
    if not first:
        return ["No Responses run given."]
    sizes = sorted((g for g in first if g.startswith("responses-scale-")),
                   key=lambda g: int(g.rsplit("-", 1)[1]))
    scale = {g: first[g] for g in sizes}
    shapes = {g: runs for g, runs in first.items() if g not in scale}
    lines = [
        f"Run of {when}; {machine}. Median µs per event; ratios of medians of the same run.", "",
        *_shape_rows(shapes, second, "responses-"), "",
        "Time per event from 1,000 to 1,000,000 events (the long-text shape):", "",
        *_shape_rows(scale, second, "responses-scale-"), "",
    ]
    for path in ("assemble_sse", "floor"):
        flat = _flatness(first, "responses-scale-", path)
        again = None if second is None else _flatness(second, "responses-scale-", path)
        if flat is not None:
            verdict = "flat" if flat <= FLAT else "**not flat**"
            lines.append(
                f"- `{path}`: each size within ±{flat * 100:.0f}% of the sizes' median time "
                f"per event ({verdict}, the bound ±{FLAT * 100:.0f}%)"
                + ("" if again is None else f"; second run ±{again * 100:.0f}%"))
    return lines


def messages_block(first: Groups, second: Groups | None, when: str, machine: str) -> list[str]:
    if not first:
        return ["No Messages run given."]
    lines = [f"Run of {when}; {machine}. Ratios of medians of the same run.", ""]
    text = first.get("messages-long-text", {})
    if "assemble_sse" in text:
        deltas = text["assemble_sse"]["info"]["deltas"]
        again = (second or {}).get("messages-long-text", {})
        thr, sdk = _ratio(text, "floor", "assemble_sse"), _ratio(text, "sdk", "assemble_sse")
        thr2, sdk2 = _ratio(again, "floor", "assemble_sse"), _ratio(again, "sdk", "assemble_sse")
        lines += [
            "| long text | deltas | floor µs/delta | assemble_sse µs/delta | SDK µs/delta | "
            "throughput vs floor | x SDK | second run | difference |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| one text block | {deltas:,} | {_us(text, 'floor', deltas)} | "
            f"{_us(text, 'assemble_sse', deltas)} | {_us(text, 'sdk', deltas)} | {_x(thr)} | "
            f"{_x(sdk)} | {_x(thr2)}, {_x(sdk2)} | {_diff(thr, thr2)}, {_diff(sdk, sdk2)} |", "",
        ]
    lines += [
        "| tool input (`parse_json=True`) | fragments | assemble_sse | ns per byte | SDK | "
        "x SDK | second run x SDK |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in ("10KB", "100KB", "1MB"):
        runs = first.get(f"messages-tool-input-{size}", {})
        if "assemble_sse" not in runs:
            continue
        info = runs["assemble_sse"]["info"]
        ns = runs["assemble_sse"]["median"] / info["bytes"] * 1e9
        sdk_run = runs.get("sdk")
        again = (second or {}).get(f"messages-tool-input-{size}", {})
        lines.append(
            f"| {size} | {info['fragments']:,} | "
            f"{page.num(runs['assemble_sse']['median'] * 1e3)} ms | {ns:.0f} | "
            f"{'-' if sdk_run is None else page.num(sdk_run['median'] * 1e3) + ' ms'} | "
            f"{_x(_ratio(runs, 'sdk', 'assemble_sse'))} | "
            f"{_x(_ratio(again, 'sdk', 'assemble_sse'))} |")
    return lines


def _cost(value: float | None) -> str:
    """A conversion's cost over folding alone, judged against :data:`TARGET_CONVERT`."""
    if value is None:
        return "-"
    return f"{value:.2f} {'yes' if value <= TARGET_CONVERT else '**no**'}"


def _alternating(runs: dict[str, Any], target: str) -> float | None:
    """The conversion's cost measured in turn with folding (``test_convert_bench.alternating``)."""
    value = runs.get(f"to-{target}", {}).get("info", {}).get("alternating")
    return value if isinstance(value, float) else None


def _convert_rows(first: Groups, second: Groups | None, pairs: list[tuple[str, str]],
                  ) -> list[str]:
    lines = [
        "| source → target | shape | fold µs/event | convert µs/event | "
        f"in turn, least CPU (<= {TARGET_CONVERT}) | second run | ratio of medians | "
        "second run | with SSE framing / fold |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for source, target in pairs:
        for group, runs in first.items():
            info = runs.get("fold", {}).get("info", {})
            if info.get("source") != source or f"to-{target}" not in runs:
                continue
            n = info["n_events"]
            again = (second or {}).get(group, {})
            lines.append(
                f"| {source} → {target} | {info['shape']} | {_us(runs, 'fold', n)} | "
                f"{_us(runs, f'to-{target}', n)} | {_cost(_alternating(runs, target))} | "
                f"{_x(_alternating(again, target))} | "
                f"{_cost(_ratio(runs, f'to-{target}', 'fold'))} | "
                f"{_x(_ratio(again, f'to-{target}', 'fold'))} | "
                f"{_x(_ratio(runs, f'to-{target}-sse', 'fold'))} |")
    return lines


def convert_block(first: Groups, second: Groups | None, when: str, machine: str) -> list[str]:
    if not first:
        return ["No conversion run given."]
    names = ("chat", "responses", "messages")
    crossed = [(s, t) for s in names for t in names if s != t]
    lines = [
        f"Run of {when}; {machine}. Median µs per source event (a body holds about 10,000 "
        "events, 8,500 for reasoning). The cost over folding alone: measured in turn with "
        "folding the same body (the steady figure), and as the ratio of the two medians of "
        "the same run.", "",
        *_convert_rows(first, second, crossed), "",
        "The same format (the events pass through, folded on the way):", "",
        *_convert_rows(first, second, [(n, n) for n in names]), "",
        "| chat → messages | shape | LiteLLM µs/event | deltafold µs/event | x LiteLLM | "
        "second run | difference |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for group, runs in first.items():
        if "litellm" not in runs or "to-messages" not in runs:
            continue
        n = runs["fold"]["info"]["n_events"]
        times = _ratio(runs, "litellm", "to-messages")
        again = _ratio((second or {}).get(group, {}), "litellm", "to-messages")
        lines.append(
            f"| chat → messages | {runs['fold']['info']['shape']} | {_us(runs, 'litellm', n)} | "
            f"{_us(runs, 'to-messages', n)} | {_x(times)} | {_x(again)} | "
            f"{_diff(times, again)} |")
    return lines


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="pytest-benchmark JSON files")
    parser.add_argument("--docs", type=Path, default=report.DEFAULT_DOCS)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args(argv)
    found: dict[str, list[tuple[Groups, str, str]]] = {
        "responses": [], "messages": [], "convert": []}
    for path in args.runs:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise page.PageError(f"{path}: not a pytest-benchmark JSON ({exc})") from None
        for suite, runs in found.items():
            groups = load(data, suite)
            if groups:
                runs.append((groups, _when(data, path), report.machine(data["machine_info"])))
    if not any(found.values()):
        raise page.PageError("no Responses, Messages or conversion benchmark in the files given")
    blocks: dict[str, list[str]] = {}
    makers = (("responses", responses_block), ("messages", messages_block),
              ("convert", convert_block))
    for suite, make in makers:
        if found[suite]:
            groups, when, machine = found[suite][0]
            second = found[suite][1][0] if len(found[suite]) > 1 else None
            if second is not None:
                when += f", second run {found[suite][1][1]}"
            blocks[suite] = make(groups, second, when, machine)
    for name, lines in blocks.items():
        print(f"## {name}\n\n" + "\n".join(lines) + "\n")
    if not args.no_docs:
        changed = page.write(args.docs, blocks)
        print(f"{args.docs}: {', '.join(blocks)} {'rewritten' if changed else 'unchanged'}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except page.PageError as exc:
        sys.exit(f"formats_report.py: {exc}")
