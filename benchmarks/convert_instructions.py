"""Conversion against folding alone in instructions executed: a measure the load cannot move.

The timed benchmark (``test_convert_bench.py``) gives medians that move by up to 40%
between two runs on a shared 2-core machine. Valgrind's callgrind counts the machine
instructions one call executes, which is the same from run to run, so the ratio
"converting / folding the same source" is steady to a few parts in a thousand. It
weighs every instruction alike (a cache miss or an allocation costs no more than an
add), so it is a second figure beside the timed one, not a replacement.

Each count is one call, made in a process of its own after two warm-up calls, and
collected only inside ``functools.reduce`` (``--toggle-collect=functools_reduce``): the
one C function the measured call runs under, so start-up, imports and the warm-up are
not counted. It needs ``valgrind`` and a CPython whose symbols are not stripped (the
pyenv builds have them)::

    python benchmarks/convert_instructions.py            # prints, rewrites the page's block
    python benchmarks/convert_instructions.py --no-docs  # prints only

The bodies are the timed benchmark's (``test_convert_bench.body``): the same answers.
"""

from __future__ import annotations

import argparse
import functools
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import page
import report

FORMATS = ("chat", "responses", "messages")
SHAPES = ("text", "tools", "reasoning")
TARGET = 1.5
_COLLECTED = re.compile(r"Collected : (\d+)")


def _child(mode: str, source: str, target: str, path: str) -> None:
    """In the measured process: warm up, then one call under ``functools.reduce``."""
    import deltafold
    import deltafold.messages as dm
    import deltafold.responses as dr
    from deltafold import convert

    body = Path(path).read_bytes()
    folds = {"chat": deltafold.assemble_sse, "responses": dr.assemble_sse,
             "messages": dm.assemble_sse}

    def converted(sse: bytes) -> int:
        count = 0
        for _ in convert.stream(sse, to=target, source_format=source):
            count += 1
        return count

    run = folds[source] if mode == "fold" else converted
    run(body)
    run(body)
    functools.reduce(lambda _, __: run(body), [0], 0)


def _count(mode: str, source: str, target: str, path: Path) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               "--toggle-collect=functools_reduce", sys.executable, __file__, "--child",
               mode, source, target, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode or found is None or not int(found.group(1)):
        tail = done.stderr.strip().splitlines()[-3:]
        raise SystemExit(f"callgrind gave no count for {mode} {source} -> {target}: "
                         f"{' / '.join(tail) or 'no output'} (is this python's symbols table "
                         "stripped? functools_reduce must be found)")
    return int(found.group(1))


def measure(workdir: Path, jobs: int) -> list[tuple[str, str, str, int, int, int]]:
    """(source, target, shape, events, fold instructions, convert instructions) per cell."""
    import test_convert_bench as bench

    cells: dict[tuple[str, str, str], tuple[str, str, str, Path]] = {}
    events: dict[tuple[str, str], int] = {}
    for source in FORMATS:
        for shape in SHAPES:
            body = bench.body(source, shape)
            path = workdir / f"{source}-{shape}.sse"
            path.write_bytes(body.sse)
            events[(source, shape)] = body.n_events
            cells[(source, "", shape)] = ("fold", source, "chat", path)
            for target in FORMATS:
                if target != source:
                    cells[(source, target, shape)] = ("convert", source, target, path)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        found = pool.map(lambda args: _count(*args), cells.values())
        counts = dict(zip(cells, found, strict=True))
    return [
        (source, target, shape, events[(source, shape)], counts[(source, "", shape)], count)
        for (source, target, shape), count in counts.items() if target
    ]


def block(rows: list[tuple[str, str, str, int, int, int]], machine: str) -> list[str]:
    lines = [
        f"Instructions executed (callgrind), one call each; {machine}. Ratios are exact to "
        "the instruction: they do not move with the load.", "",
        "| source → target | shape | fold instructions/event | convert instructions/event | "
        f"convert / fold (<= {TARGET}) |",
        "|---|---|---:|---:|---:|",
    ]
    for source, target, shape, events, fold, convert in sorted(
        rows, key=lambda r: (FORMATS.index(r[0]), FORMATS.index(r[1]), SHAPES.index(r[2]))
    ):
        ratio = convert / fold
        verdict = "yes" if ratio <= TARGET else "**no**"
        lines.append(f"| {source} → {target} | {shape} | {fold / events:,.0f} | "
                     f"{convert / events:,.0f} | {ratio:.3f} {verdict} |")
    met = sum(1 for row in rows if row[5] / row[4] <= TARGET)
    lines += ["", f"{met} of {len(rows)} conversions within {TARGET}x."]
    return lines


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        _child(*argv[1:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=report.DEFAULT_DOCS)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind processes at once")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt install valgrind)")
    import platform

    machine = (f"{platform.system()} {platform.machine()}, "
               f"{platform.python_implementation()} {platform.python_version()}")
    with tempfile.TemporaryDirectory() as workdir:
        lines = block(measure(Path(workdir), args.jobs), machine)
    print("\n".join(lines))
    if not args.no_docs:
        changed = page.write(args.docs, {"instructions": lines})
        print(f"{args.docs}: instructions {'rewritten' if changed else 'unchanged'}")


if __name__ == "__main__":
    main(sys.argv[1:])
