"""The local bulk engine: files in, one Parquet file of completions out, on a process pool.

The parent reads the inputs a batch at a time (``ParquetFile.iter_batches``,
JSON lines a block of lines at a time, an ``.sse`` file as one stream), hands
each batch to a worker process that runs :func:`assemble_table`, and writes the
results in input order with one ``ParquetWriter``. At most two batches per
worker are in flight, so memory is bounded by the batch size, not the input
size. Chunk-per-row input is grouped a file at a time: a stream's chunks must
all be in one file (Ray's group-by has no such limit).
"""

from __future__ import annotations

import glob
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from ._arrow import assemble_table, output_schema, pa, require_column
from ._exceptions import BulkError
from ._jsontext import JSONDecodeError, dumps, loads

__all__ = ["BulkOptions", "BulkSummary", "assemble_files", "find_inputs", "read_batches"]

SUFFIXES = (".parquet", ".jsonl", ".sse")
BATCH_SIZE = 1024
_IN_FLIGHT_PER_WORKER = 2


@attrs.frozen
class BulkOptions:
    """Where the stream is in each input row (the arguments of :func:`assemble_table`)."""

    column: str | None = None
    stream_id: str | None = None
    order: str | None = None
    keep: tuple[str, ...] = ()

    @property
    def body(self) -> str:
        """The column holding the body (one row per stream) or the chunk (one per chunk)."""
        return self.column or ("body" if self.stream_id is None else "chunk")

    def needed(self) -> list[str]:
        """The input columns the job reads, in output order."""
        names = [self.stream_id, *self.keep, self.body, self.order]
        return list(dict.fromkeys(name for name in names if name is not None))


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


def find_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files named by ``inputs`` (files, globs, folders searched for .parquet/.jsonl/.sse)."""
    found: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        elif path.is_file():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not matches:
            raise BulkError(f"{text}: no such file, or no .parquet/.jsonl/.sse file matches")
        found.extend(matches)
    for path in found:
        if path.suffix not in SUFFIXES:
            raise BulkError(f"{path}: not a .parquet, .jsonl or .sse file")
    return list(dict.fromkeys(found))


def read_batches(path: Path, options: BulkOptions, batch_size: int) -> Iterator[Any]:
    """``path`` as Arrow tables of the needed columns, whole streams each, about ``batch_size``."""
    if path.suffix == ".sse":
        yield _sse_table(path, options)
        return
    if path.suffix == ".jsonl":
        tables: Iterator[Any] = _jsonl_tables(path, options, batch_size)
    else:
        tables = _parquet_tables(path, options, batch_size)
    if options.stream_id is None:
        yield from tables
        return
    whole = pa.concat_tables(list(tables), promote_options="permissive")
    yield from _stream_slices(whole, options.stream_id, batch_size)


def _sse_table(path: Path, options: BulkOptions) -> Any:
    """An ``.sse`` file is one stream: its body, with ``path`` kept when asked for."""
    if options.stream_id is not None:
        raise BulkError(f"{path}: an .sse file is one stream; --stream-id is for chunk rows")
    columns: dict[str, Any] = {"path": pa.array([str(path)], type=pa.string())}
    columns[options.body] = pa.array([path.read_bytes()], type=pa.binary())
    return pa.table(columns)


def _parquet_tables(path: Path, options: BulkOptions, batch_size: int) -> Iterator[Any]:
    import pyarrow.parquet as pq

    reader = pq.ParquetFile(path)
    schema = reader.schema_arrow
    for name in options.needed():
        require_column(schema, name)
    for batch in reader.iter_batches(batch_size=batch_size, columns=options.needed()):
        yield pa.Table.from_batches([batch])


def _jsonl_tables(path: Path, options: BulkOptions, batch_size: int) -> Iterator[Any]:
    """JSON lines of rows; a file whose first line is a chunk (no such column) is one stream."""
    with path.open("rb") as handle:
        lines: list[bytes] = []
        first = True
        for line in handle:
            if not line.strip():
                continue
            if first and _is_recording(line, options):
                yield _recording_table(path, handle, line, options)
                return
            first = False
            lines.append(line)
            if len(lines) >= batch_size:
                yield _rows_table(path, lines, options)
                lines = []
        if lines:
            yield _rows_table(path, lines, options)


def _is_recording(line: bytes, options: BulkOptions) -> bool:
    try:
        first = loads(line)
    except JSONDecodeError:
        return False
    return (
        options.stream_id is None
        and isinstance(first, dict)
        and options.body not in first
        and "choices" in first
    )


def _recording_table(path: Path, handle: Any, first: bytes, options: BulkOptions) -> Any:
    columns: dict[str, Any] = {"path": pa.array([str(path)], type=pa.string())}
    columns[options.body] = pa.array([first + handle.read()], type=pa.binary())
    return pa.table(columns)


def _rows_table(path: Path, lines: list[bytes], options: BulkOptions) -> Any:
    """Rows of one block of lines, the body or chunk as bytes (a JSON value as its JSON text).

    A line that is not a JSON object is a row whose body is the line (a bad row).
    """
    columns: dict[str, list[Any]] = {name: [] for name in options.needed()}
    for line in lines:
        try:
            row = loads(line)
        except JSONDecodeError:
            row = {options.body: line}  # not a row: the line is the body, a bad row
        if not isinstance(row, dict):
            row = {options.body: line}
        for name, values in columns.items():
            value = row.get(name)
            if name == options.body and value is not None:
                value = value.encode() if isinstance(value, str) else _as_bytes(value)
            values.append(value)
    try:
        return pa.table({name: pa.array(values) for name, values in columns.items()})
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise BulkError(f"{path}: a column mixes types ({exc})") from None


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else dumps(value)


def _stream_slices(table: Any, stream_id: str, batch_size: int) -> Iterator[Any]:
    """``table`` cut into tables of about ``batch_size`` rows that never split a stream."""
    groups: dict[Any, list[int]] = {}
    for index, key in enumerate(table.column(stream_id).to_pylist()):
        groups.setdefault(key, []).append(index)
    indexes: list[int] = []
    for rows in groups.values():
        indexes.extend(rows)
        if len(indexes) >= batch_size:
            yield table.take(pa.array(indexes, type=pa.int64()))
            indexes = []
    if indexes:
        yield table.take(pa.array(indexes, type=pa.int64()))


def _fold(table: Any, options: BulkOptions) -> Any:
    """One batch in a worker: the engine-independent rule."""
    return assemble_table(
        table, column=options.body, stream_id=options.stream_id, order=options.order,
        keep=options.keep,
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
    succeeds (it is written beside it, then renamed). A job that cannot run
    raises :class:`BulkError`; bad rows are counted in the summary, never raised.
    """
    options = options or BulkOptions()
    paths = find_inputs(inputs)
    workers = workers or os.cpu_count() or 1
    if workers < 1 or batch_size < 1:
        raise ValueError("workers and batch_size must be >= 1")
    summary = BulkSummary(files=len(paths), output=os.fspath(output))
    started = time.perf_counter()
    partial = Path(f"{os.fspath(output)}.partial")
    try:
        with _executor(workers) as pool:
            _run(paths, partial, options, pool, workers, batch_size, summary, progress)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _run(
    paths: list[Path],
    partial: Path,
    options: BulkOptions,
    pool: Executor,
    workers: int,
    batch_size: int,
    summary: BulkSummary,
    progress: Callable[[BulkSummary], object] | None,
) -> None:
    """Read, fold on ``pool`` with a bounded window, write in order."""
    import pyarrow.parquet as pq

    window: deque[tuple[Path, Future[Any]]] = deque()
    writer: Any = None
    try:
        for path in paths:
            for table in _read(path, options, batch_size):
                window.append((path, pool.submit(_fold, table, options)))
                while len(window) >= workers * _IN_FLIGHT_PER_WORKER:
                    writer = _write(window.popleft(), writer, partial, summary, progress)
        while window:
            writer = _write(window.popleft(), writer, partial, summary, progress)
        if writer is None:  # no row at all: an empty table of the output columns
            schema = output_schema(pa.schema([]), keep=())
            writer = pq.ParquetWriter(partial, schema)
    finally:
        for _, future in window:
            future.cancel()
        if writer is not None:
            writer.close()


def _read(path: Path, options: BulkOptions, batch_size: int) -> Iterator[Any]:
    try:
        yield from read_batches(path, options, batch_size)
    except BulkError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise BulkError(f"{path}: {exc}") from None
    except (OSError, pa.ArrowException) as exc:
        raise BulkError(f"{path}: cannot read it ({exc})") from None


def _write(
    item: tuple[Path, Future[Any]],
    writer: Any,
    partial: Path,
    summary: BulkSummary,
    progress: Callable[[BulkSummary], object] | None,
) -> Any:
    import pyarrow.parquet as pq

    path, future = item
    table = future.result()
    if writer is None:
        writer = pq.ParquetWriter(partial, table.schema)
    if not table.schema.equals(writer.schema):
        try:
            table = table.cast(writer.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
            raise BulkError(f"{path}: its columns do not match the first file's ({exc})") from None
    writer.write_table(table)
    summary.add(table)
    if progress is not None:
        progress(summary)
    return writer
