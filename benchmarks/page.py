"""The generated blocks of docs/benchmarks.md: the headline, the targets, and the rewrite.

report.py computes every table from one pytest-benchmark run; this module turns them into
the page's blocks and writes each one between its marker pair

    <!-- generated:NAME -->
    ...
    <!-- /generated:NAME -->

leaving everything outside the markers (the hand-written prose) byte for byte as it was.
A second run (``--spread``) is shown next to the first, never mixed into it: the tables
are from the first run, the second only adds its own figure and the difference.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Runs = dict[str, dict[str, dict[str, Any]]]

#: The floors a target is judged against: the strictest of them (the fastest) counts.
FLOORS = ("floor", "floor_split", "floor_framer")
PEER_LABEL = {"openai": "OpenAI SDK", "litellm": "LiteLLM", "langchain": "LangChain"}
PEER_LONG = {
    "openai": "the OpenAI SDK's `ChatCompletionStreamState`",
    "litellm": "LiteLLM's `stream_chunk_builder`",
    "langchain": "LangChain's `ChatOpenAI` streaming",
}
TARGET_FLOOR = 0.6
TARGET_PEER = {"openai": 60.0, "litellm": 30.0}
FLAT = 0.20
#: Without a second run, a ratio this close to its target is called "edge".
EDGE = 0.05
MB = 1024 * 1024
BLOCKS = ("headline", "results", "targets", "scale", "plot", "memory")


class PageError(Exception):
    """The page cannot be rewritten (a marker pair is missing or broken), or the run given
    holds nothing to write it from."""


#: How the headline names each scenario of the suite (benchmarks/streams.py).
SHAPES = {"content": "plain content", "tools": "8 tool calls", "reasoning": "reasoning",
          "n4_logprobs": "`n=4` with logprobs"}


# -- ratios ---------------------------------------------------------------------------


def strictest_floor(runs: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest floor of a scenario: the one the throughput target is judged against."""
    floors = [runs[f] for f in FLOORS if f in runs]
    return min(floors, key=lambda e: e["per_chunk"]) if floors else None


def _floor_ratio(runs: Mapping[str, dict[str, Any]]) -> tuple[float, bool] | None:
    floor, sse = strictest_floor(runs), runs.get("assemble_sse")
    if floor is None or sse is None:
        return None
    return floor["per_chunk"] / sse["per_chunk"], False


def _peer_ratio(peer_path: str) -> Callable[[Mapping[str, dict[str, Any]]], Any]:
    ours_path = "assemble_dicts" if peer_path.endswith("_dicts") else "assemble_sse"

    def ratio(runs: Mapping[str, dict[str, Any]]) -> tuple[float, bool] | None:
        peer, ours = runs.get(peer_path), runs.get(ours_path)
        if peer is None or ours is None:
            return None
        return peer["per_chunk"] / ours["per_chunk"], bool(peer["reduced"])

    return ratio


#: Every per-scenario ratio of the headline and the targets: key -> function of a scenario.
RATIOS: dict[str, Callable[[Mapping[str, dict[str, Any]]], Any]] = {
    "floor": _floor_ratio,
    **{p + s: _peer_ratio(p + s) for s in ("", "_dicts") for p in PEER_LABEL},
}


def ratios(scenarios: Runs, key: str) -> dict[str, tuple[float, bool]]:
    """{scenario: (ratio, measured on a reduced stream)} for one ratio key."""
    out = {}
    for name, runs in scenarios.items():
        value = RATIOS[key](runs)
        if value is not None:
            out[name] = value
    return out


def flatness(scale: Runs, path: str = "assemble_sse") -> float | None:
    """Worst relative distance of the time per chunk from its median over the sizes."""
    values = [scale[s][path]["per_chunk"] for s in scale if path in scale[s]]
    if len(values) < 2:
        return None
    mid = statistics.median(values)
    return float(max(abs(v / mid - 1) for v in values))


# -- formatting -----------------------------------------------------------------------


def num(value: float) -> str:
    """Two significant figures for ratios, as a reader quotes them."""
    if value >= 10:
        return f"{value:.0f}"
    if value >= 1:
        return f"{value:.1f}"
    return f"{value:.2f}"


def span(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return num(low) if num(low) == num(high) else f"{num(low)}–{num(high)}"


def _outlier(values: Mapping[str, tuple[float, bool]]) -> str | None:
    """The scenario far below all others (under 0.75x the next), named apart in a range."""
    if len(values) < 3:
        return None
    ordered = sorted(values, key=lambda k: values[k][0])
    return ordered[0] if values[ordered[0]][0] < 0.75 * values[ordered[1]][0] else None


def describe(values: Mapping[str, tuple[float, bool]], unit: str, tail: str = "") -> str:
    """A range over the scenarios, the outlier named apart, ``*`` on reduced streams."""
    if not values:
        return "-"
    odd = _outlier(values)
    rest = [v for k, (v, _) in values.items() if k != odd]
    text = f"{span(rest)}{unit}{tail}"
    if odd is not None:
        value, reduced = values[odd]
        text += f" ({odd} {num(value)}{'*' if reduced else ''}{unit})"
    return text


def spread(first: Mapping[str, tuple[float, bool]],
           second: Mapping[str, tuple[float, bool]]) -> float | None:
    """Largest relative difference of one ratio between two runs, over shared scenarios."""
    shared = [k for k in first if k in second]
    if not shared:
        return None
    return max(abs(second[k][0] / first[k][0] - 1) for k in shared)


# -- the headline ---------------------------------------------------------------------


def _headline_rows() -> list[tuple[str, str, str, str]]:
    """(ratio key, what you fold, compared with, words after the range) per ratio row."""
    rows = [("floor", "from the SSE bytes",
             "only reading the stream (the strictest floor: framing + `orjson.loads`)",
             " its throughput")]
    rows += [(p, "from the SSE bytes (end to end)", PEER_LONG[p], " faster") for p in PEER_LONG]
    rows += [(p + "_dicts", "from decoded chunk dicts", f"the {PEER_LABEL[p]}"
              if p == "openai" else PEER_LABEL[p], " faster") for p in PEER_LONG]
    return rows


def headline(run: dict[str, Any], other: dict[str, Any] | None,
             memory_rows: list[dict[str, Any]] | None,
             gateway: tuple[str, list[dict[str, Any]]] | None) -> list[str]:
    """The "What you gain" table: ranges over the scenarios of one run (and a second's)."""
    names = [SHAPES.get(n, n) for n in run["scenarios"]]
    lines = [
        f"From the run of {run['date']} ({run['source']}), {run['machine']}. Ranges over "
        f"the {len(names)} stream shapes of the run ({', '.join(names)}); \"×\" is how many "
        "times faster deltafold folds the same stream; `*` = the peer ran on a reduced "
        "stream of the same shape.",
    ]
    head = "| You fold a stream... | compared with | deltafold is |"
    rule = "|---|---|---:|"
    if other is not None:
        lines[0] += (f" The last two columns are a second run of the same command "
                     f"({other['date']}, {other['source']}) and the largest difference of "
                     "one scenario's ratio between the two runs.")
        if other["machine"] != run["machine"]:
            lines[0] += f" The second run was on another machine: {other['machine']}."
        head += " second run | spread |"
        rule += "---:|---:|"
    lines += ["", head, rule]
    for key, what, against, tail in _headline_rows():
        values = ratios(run["scenarios"], key)
        if not values:
            continue
        cells = [what, against, describe(values, "×", tail)]
        if other is not None:
            again = ratios(other["scenarios"], key)
            gap = spread(values, again)
            cells += [describe(again, "×"), "-" if gap is None else f"±{gap * 100:.0f}%"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += _headline_scale(run, other, memory_rows)
    lines += gateway_rows(gateway[1] if gateway else None, other is not None)
    notes = []
    if memory_rows:
        notes.append("Peak memory is measured by the report itself, in a tracemalloc pass "
                     "after the run.")
    if gateway:
        notes.append(f"The gateway rows are from `{gateway[0]}` (`python "
                     "benchmarks/gateway.py`, its best run per N; see \"A gateway on "
                     "loopback\").")
    return lines + (["", " ".join(notes)] if notes else [])


def _headline_scale(run: dict[str, Any], other: dict[str, Any] | None,
                    memory_rows: list[dict[str, Any]] | None) -> list[str]:
    pad = " - | - |" if other is not None else ""
    lines = []
    if memory_rows:
        top = memory_rows[-1]
        lines.append(
            f"| of {top['n_chunks']:,} chunks ({top['sse_bytes'] / MB:.0f} MB of SSE) | its "
            f"own completion ({top['completion_bytes'] / MB:.1f} MB) | "
            f"{top['assemble_sse'] / MB:.1f} MB peak memory |{pad}")
    flat = flatness(run["scale"])
    if flat is not None:
        sizes = sorted(run["scale"], key=int)
        again = flatness(other["scale"]) if other is not None else None
        extra = (f" ±{again * 100:.0f}% | - |" if again is not None else pad)
        lines.append(
            f"| of {int(sizes[0]):,} to {int(sizes[-1]):,} chunks | itself | the same time "
            f"per chunk (±{flat * 100:.0f}%) |{extra}")
    return lines


def gateway_best(rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """Best (least CPU) run per (mode, N) of benchmarks/gateway.py's JSON."""
    best: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (row["mode"], int(row["n"]))
        if key not in best or row["cpu_per_1000"] < best[key]["cpu_per_1000"]:
            best[key] = row
    return best


def gateway_rows(rows: list[dict[str, Any]] | None, wide: bool) -> list[str]:
    """Headline rows of the gateway benchmark: what folding adds to a bare relay, per N."""
    if not rows:
        return []
    best = gateway_best(rows)
    pad = " - | - |" if wide else ""
    lines = []
    for n in sorted({n for _, n in best}):
        bare, fold = best.get(("bare", n)), best.get(("fold", n))
        if bare is None or fold is None:
            continue
        added = fold["cpu_per_1000"] / bare["cpu_per_1000"] - 1
        lines.append(
            f"| relayed by a gateway, {n:,} streams at once | the same relay passing the "
            f"bytes through | +{added * 100:.0f}% CPU ({fold['cpu_per_1000']:.4f} vs "
            f"{bare['cpu_per_1000']:.4f} s per 1,000 chunks), "
            f"{fold['kb_per_stream']:.0f} vs {bare['kb_per_stream']:.0f} KB per open "
            f"stream |{pad}")
    return lines


# -- the targets ----------------------------------------------------------------------


def verdict(value: float, target: float, again: float | None) -> str:
    """yes / no / edge: edge when two runs disagree, or one run lands within 5%."""
    met = value >= target
    if again is not None:
        if (again >= target) != met:
            return "edge"
    elif abs(value / target - 1) <= EDGE:
        return "edge"
    return "yes" if met else "**no**"


TARGETS = [
    ("floor", TARGET_FLOOR, "`assemble_sse` ≥ 0.6× the strictest floor's throughput"),
    ("openai", 60.0, "≥ 60× the OpenAI SDK, bytes in"),
    ("litellm", 30.0, "≥ 30× LiteLLM, bytes in"),
    ("openai_dicts", 60.0, "≥ 60× the OpenAI SDK, dicts in"),
    ("litellm_dicts", 30.0, "≥ 30× LiteLLM, dicts in"),
]


def targets(run: dict[str, Any], other: dict[str, Any] | None,
            memory_rows: list[dict[str, Any]] | None) -> list[str]:
    """Issue 15's targets per scenario, each cell the measured value and its verdict."""
    names = list(run["scenarios"])
    lines = [
        "Verdicts of the run of " + run["date"]
        + ("" if other is None else f", with the second run's figure ({other['date']}) in "
           "brackets; edge = met in one run and missed in the other")
        + ("" if other is not None else "; edge = within 5% of the target") + ".",
        "",
        "| target | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, target, label in TARGETS:
        first = ratios(run["scenarios"], key)
        if not first:
            continue  # no peer of this target in the run
        second = ratios(other["scenarios"], key) if other is not None else {}
        cells = []
        for name in names:
            if name not in first:
                cells.append("-")
                continue
            value, reduced = first[name]
            again = second.get(name)
            star = "*" if reduced else ""
            text = f"{verdict(value, target, again and again[0])}: {num(value)}{star}"
            if again is not None:
                text += f" ({num(again[0])}{'*' if again[1] else ''})"
            cells.append(text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", *_length_targets(run, memory_rows)]
    return lines


def _length_targets(run: dict[str, Any], memory_rows: list[dict[str, Any]] | None) -> list[str]:
    """The targets over the stream length (content stream): flat time and bounded memory."""
    lines = ["| target (content stream) | measured | holds |", "|---|---|---|"]
    scale = run["scale"]
    for path in ("assemble_sse", "assemble_dicts", "feed_events"):
        flat = flatness(scale, path)
        if flat is not None:
            sizes = sorted(scale, key=int)
            lines.append(
                f"| `{path}` time per chunk flat within ±20%, {int(sizes[0]):,} to "
                f"{int(sizes[-1]):,} chunks | ±{flat * 100:.0f}% | "
                f"{'yes' if flat <= FLAT else '**no**'} |")
    if memory_rows:
        worst = max(memory_rows, key=lambda r: r["assemble_sse"] / r["bound"])
        ok = all(r[p] <= r["bound"] for r in memory_rows
                 for p in ("assemble_sse", "assemble_sse_pieces", "assemble_dicts"))
        lines.append(
            f"| peak memory ≤ 3× the completion + 10 MB, every size | "
            f"{worst['assemble_sse'] / MB:.1f} MB of {worst['bound'] / MB:.1f} MB at "
            f"{worst['n_chunks']:,} chunks (closest) | {'yes' if ok else '**no**'} |")
    else:
        lines.append("| peak memory ≤ 3× the completion + 10 MB | not measured (--no-memory) "
                     "| - |")
    return lines


# -- the rewrite ----------------------------------------------------------------------


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"


def rewrite(text: str, blocks: Mapping[str, Sequence[str]]) -> str:
    """``text`` with each block's lines put between its marker pair, nothing else changed.

    A missing, repeated or out-of-order pair is a PageError naming it: a block is never
    skipped in silence.
    """
    for name, lines in blocks.items():
        start, end = _markers(name)
        found = (text.count(start), text.count(end))
        if found != (1, 1):
            raise PageError(
                f"docs page: marker pair for block {name!r} must appear once each: "
                f"{start} x{found[0]}, {end} x{found[1]}")
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        if pattern.search(text) is None:
            raise PageError(f"docs page: {end} comes before {start}")
        found_at = pattern.search(text)
        assert found_at is not None
        body = "\n".join([start, "", *lines, "", end])
        text = text[:found_at.start()] + body + text[found_at.end():]
    return text


def write(path: Path, blocks: Mapping[str, Sequence[str]]) -> bool:
    """Rewrite the page in place; True when its text changed."""
    old = path.read_text(encoding="utf-8")
    new = rewrite(old, blocks)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old
