"""``deltafold bulk``: files of recorded streams to one Parquet table of completions.

The command's parser and its run; ``_cli`` only registers it. A progress bar
(tqdm, on stderr when it is a terminal) shows streams done, streams/s and error
rows; a summary line ends the run. Bad rows are counted and written, never a
failure: the exit code is non-zero only when the job itself cannot run.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ._exceptions import install_hint
from ._plural import plural

__all__ = ["add_bulk", "run_bulk"]

_PROGRESS_HINT = f"the progress bar needs tqdm: {install_hint('arrow')}"


def add_bulk(commands: Any, positive_int: Any, add_format_option: Any) -> None:
    """Register ``bulk`` on the subcommands of ``deltafold`` (with the CLI's shared options)."""
    bulk = commands.add_parser(
        "bulk",
        help="fold files of recorded streams (.parquet/.jsonl/.sse) into a Parquet table",
        description=(
            "Fold every stream in INPUT (files, globs or folders of .parquet, .jsonl and .sse) "
            "into OUTPUT, one row per stream: the result as JSON (a chat completion, a "
            "Responses response or an Anthropic message: each stream's wire format is told "
            "from its first events, or named with --format), its format, flat columns, and "
            "error_type/error_message for a stream that failed. Bad rows are counted and "
            "written; the exit code is 1 only when the job cannot run. Needs the arrow extra "
            "(and the ray extra for --engine ray)."
        ),
        epilog="examples:\n"
        "  deltafold bulk logs/ -o completions.parquet --keep request_id\n"
        "  deltafold bulk chunks.parquet -o completions.parquet --stream-id request_id "
        "--order seq\n"
        "  deltafold bulk anthropic-logs/ -o messages.parquet --format messages",
    )
    bulk.add_argument("inputs", metavar="INPUT", nargs="+", help="files, globs or folders")
    bulk.add_argument(
        "-o", "--output", required=True, help="the Parquet file to write (name.parquet)"
    )
    bulk.add_argument(
        "--column",
        help='the column holding the body (default "body"), or the chunk with --stream-id '
        '(default "chunk")',
    )
    bulk.add_argument("--stream-id", help="one row per chunk: the column naming its stream")
    bulk.add_argument("--order", help="one row per chunk: the column to sort a stream's chunks by")
    bulk.add_argument(
        "--keep", action="append", default=[], metavar="COLUMN",
        help="an input column to pass through (repeat, or comma-separated); "
        '"path" names the file of an .sse input',
    )
    add_format_option(
        bulk, "the streams' wire format (with one named, another format's stream is an error row)"
    )
    bulk.add_argument("--engine", choices=["local", "ray"], default="local", help="default local")
    bulk.add_argument(
        "--workers", type=positive_int, help="local engine: processes (default: the cores)"
    )
    bulk.add_argument(
        "--batch-size", type=positive_int, default=1024, help="streams per batch (default 1024)"
    )
    bulk.set_defaults(run=run_bulk)


class _Progress:
    """A tqdm bar on a terminal, nothing otherwise."""

    def __init__(self) -> None:
        self.bar: Any = None
        if not sys.stderr.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError as exc:
            raise ImportError(_PROGRESS_HINT) from exc
        self.bar = tqdm(unit=" streams", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, summary: Any) -> None:
        if self.bar is not None:
            self.bar.update(summary.streams - self.bar.n)
            self.bar.set_postfix(errors=summary.error_rows, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_bulk(args: argparse.Namespace) -> int:
    """Run the job and print the summary line; a job that cannot run is one line on stderr."""
    try:
        return _run(args)
    except (ImportError, OSError) as exc:  # a missing extra, an unwritable output
        print(f"deltafold bulk: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from ._arrow import require_arrow

    require_arrow()
    from ._bulk import BulkOptions, assemble_files

    keep = tuple(name for item in args.keep for name in item.split(",") if name)
    options = BulkOptions(
        column=args.column, stream_id=args.stream_id, order=args.order, keep=keep,
        format=args.format,
    )
    progress = _Progress()
    try:
        if args.engine == "ray":
            summary = _run_ray(args, options, progress)
        else:
            summary = assemble_files(
                args.inputs, args.output, options=options, workers=args.workers,
                batch_size=args.batch_size, progress=progress,
            )
    finally:
        progress.close()
    rate = summary.streams / summary.seconds if summary.seconds else 0.0
    errors = ", ".join(f"{name} {count}" for name, count in sorted(summary.errors.items()))
    print(
        f"{plural(summary.streams, 'stream')} from {plural(summary.files, 'file')} "
        f"in {summary.seconds:.2f} s ({rate:,.0f} streams/s); "
        f"{plural(summary.error_rows, 'error row')}"
        + (f" ({errors})" if errors else "")
        + f" -> {os.fspath(args.output)}"
    )
    return 0


def _run_ray(args: argparse.Namespace, options: Any, progress: _Progress) -> Any:
    from ._bulk_ray import ray_assemble_files, require_ray

    require_ray()
    import ray

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False)
    return ray_assemble_files(args.inputs, args.output, options=options, progress=progress)
