"""The local bulk engine: files in, one Parquet file of completions out, on a process pool.

The parent reads the inputs a batch at a time (``_bulk_read``: Parquet row
groups, JSON lines a block of lines at a time, an ``.sse`` file as one stream),
hands each batch to a worker process that runs :func:`assemble_table`, and
writes the results in input order with one ``ParquetWriter`` opened up front
with the job's schema, so an input without rows still gives the full schema. At most two batches per
worker are in flight, so memory is bounded by the batch size, not the input
size. Chunk-per-row input is grouped a file at a time: a stream's chunks must
all be in one file (Ray's group-by has no such limit).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from ._arrow import assemble_table, pa
from ._bulk_read import BulkOptions, find_inputs, job_schema, read_batches
from ._exceptions import BulkError

__all__ = ["BulkOptions", "BulkSummary", "Output", "assemble_files"]

BATCH_SIZE = 1024
_IN_FLIGHT_PER_WORKER = 2


@attrs.define
class BulkSummary:
    """What a bulk job did: streams written, error rows by type, files read, wall time."""

    streams: int = 0
    errors: dict[str, int] = attrs.field(factory=dict)
    files: int = 0
    seconds: float = 0.0
    output: str = ""

    @property
    def error_rows(self) -> int:
        """How many output rows have an ``error_type``."""
        return sum(self.errors.values())

    def add(self, table: Any) -> None:
        """Count one output table."""
        self.streams += table.num_rows
        for item in table.column("error_type").value_counts().to_pylist():
            if item["values"] is not None:
                self.errors[item["values"]] = self.errors.get(item["values"], 0) + item["counts"]


def check_output(output: str | os.PathLike[str]) -> None:
    """:class:`BulkError` unless ``output`` is named for what is written: a ``.parquet`` file.

    ``-o out.csv`` would otherwise get Parquet bytes under a CSV name.
    """
    path = Path(os.fspath(output))
    if path.is_dir() or not path.name:
        return  # a folder: ``Output`` says what is wrong with it
    if path.suffix.lower() != ".parquet":
        named = f"ends in {path.suffix!r}" if path.suffix else "has no suffix"
        raise BulkError(
            f"the output {os.fspath(output)!r} {named}, but bulk writes Parquet: name it "
            f"{path.with_suffix('.parquet').name!r} (convert it afterwards if you need another "
            "format, e.g. with duckdb)"
        )


def _fold(table: Any, options: BulkOptions) -> Any:
    """One batch in a worker: the engine-independent rule."""
    return assemble_table(
        table, column=options.body, stream_id=options.stream_id, order=options.order,
        keep=options.keep, format=options.format,
    )


class _Inline(Executor):
    """One worker: fold in this process, no pickling."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def _executor(workers: int) -> Executor:
    if workers == 1:
        return _Inline()
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    # Workers fork from a server that has imported the fold and pyarrow once: they start
    # in milliseconds, not the second or two an import of pyarrow takes in each.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def assemble_files(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    options: BulkOptions | None = None,
    workers: int | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[BulkSummary], object] | None = None,
) -> BulkSummary:
    """Fold every stream of ``inputs`` into the Parquet file ``output`` (the local engine).

    ``workers`` defaults to the cores; ``progress`` is called with the running
    summary after each batch is written. The output appears only when the job
    succeeds (it is written beside it, then renamed). Its schema is the same
    whether the inputs hold rows or none (the first file's columns). A job that
    cannot run raises :class:`BulkError`; bad rows are counted in the summary, never raised.
    """
    options = options or BulkOptions()
    workers = workers or os.cpu_count() or 1
    if workers < 1 or batch_size < 1:
        raise ValueError("workers and batch_size must be >= 1")
    check_output(output)
    paths = find_inputs(inputs)
    summary = BulkSummary(files=len(paths), output=os.fspath(output))
    started = time.perf_counter()
    with Output(output, job_schema(paths, options)) as out, _executor(workers) as pool:
        _run(paths, out, options, pool, workers, batch_size, summary, progress)
    summary.seconds = time.perf_counter() - started
    return summary


class Output:
    """The output file of a job: written beside it as ``.partial``, renamed when the job succeeds.

    Every table written is cast to the job's schema. Errors name the path the
    user gave (a missing folder, a folder in its place), never the ``.partial``.
    """

    def __init__(self, output: str | os.PathLike[str], schema: Any) -> None:
        import pyarrow.parquet as pq

        self.path = Path(output)
        self.partial = Path(f"{os.fspath(output)}.partial")
        self.schema = schema
        if self.path.is_dir():
            raise BulkError(f"{output}: is a folder; name the Parquet file to write")
        if not self.path.parent.is_dir():
            raise BulkError(f"{output}: no folder {os.fspath(self.path.parent)!r} to write it in")
        try:
            self.writer = pq.ParquetWriter(self.partial, schema)
        except OSError as exc:  # said of the path the user gave, not of the .partial
            reason = str(exc).replace(os.fspath(self.partial), os.fspath(output))
            raise BulkError(f"{output}: cannot write it ({reason})") from None

    def __enter__(self) -> Output:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            self.writer.close()
            if error is None:
                self.partial.replace(self.path)
        finally:
            self.partial.unlink(missing_ok=True)

    def write(self, table: Any, path: str | os.PathLike[str], summary: BulkSummary) -> None:
        """Write the folded ``table`` of input ``path`` (nothing for 0 rows), and count it."""
        if table.num_rows == 0:
            return
        if not table.schema.equals(self.schema):
            try:
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                    ValueError) as exc:
                raise BulkError(
                    f"{path}: its columns do not match the first file's ({exc})"
                ) from None
        self.writer.write_table(table)
        summary.add(table)


def _run(
    paths: list[Path],
    out: Output,
    options: BulkOptions,
    pool: Executor,
    workers: int,
    batch_size: int,
    summary: BulkSummary,
    progress: Callable[[BulkSummary], object] | None,
) -> None:
    """Read, fold on ``pool`` with a bounded window, write in order."""
    window: deque[tuple[Path, Future[Any]]] = deque()

    def write_one() -> None:
        path, future = window.popleft()
        out.write(future.result(), path, summary)
        if progress is not None:
            progress(summary)

    try:
        for path in paths:
            for table in read_batches(path, options, batch_size):
                window.append((path, pool.submit(_fold, table, options)))
                while len(window) >= workers * _IN_FLIGHT_PER_WORKER:
                    write_one()
        while window:
            write_one()
    finally:
        for _, future in window:
            future.cancel()
