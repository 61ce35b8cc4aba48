"""Bulk input files as Arrow tables: the reading rules every engine shares (local and Ray).

What a file holds decides its rows, never the engine that reads it:

- A ``.parquet`` file: its rows, the needed columns with the file's own types.
- An ``.sse`` file: one stream (``path`` and the body).
- A ``.jsonl`` file: rows, one JSON object a line; or one stream, when its first
  line is a chunk or event (of any wire format) rather than a row. JSON lines carry
  no schema, so the types are fixed by rule, not read from the values: the body or
  chunk is binary (a JSON value as its JSON text) and the stream id and kept
  columns are strings (a JSON string as itself, any other value as its JSON text).
  A column that no row has is an error, as it is in Parquet.
- A file that is gzip (by its first bytes; ``.sse.gz`` and ``.jsonl.gz`` are found in
  folders) reads as the file it holds.

A file with no row gives one empty table with the same columns and types as a
full one, so 0 rows and N rows fold to the same output schema. An ``.sse`` file
is one stream even when empty (it fails with ``EmptyStreamError``, as ``assemble``
of an empty body does).
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from ._arrow import output_schema, pa, require_column
from ._bulk_hints import SNIFF_ROWS, chunk_rows_hint
from ._exceptions import BulkError
from ._format import format_of
from ._formats import AUTO
from ._gunzip import body_limit, gunzip, open_binary, read_bytes
from ._jsontext import JSONDecodeError, dumps, loads

__all__ = [
    "SUFFIXES",
    "BulkOptions",
    "find_inputs",
    "input_kind",
    "input_schema",
    "job_schema",
    "read_batches",
    "read_data",
]

SUFFIXES = (".parquet", ".jsonl", ".sse")
_GZIPPED = (".jsonl.gz", ".sse.gz")
_NAMES = ".parquet, .jsonl or .sse (.jsonl.gz, .sse.gz)"


@attrs.frozen
class BulkOptions:
    """Where the stream is in each input row (the arguments of :func:`assemble_table`)."""

    column: str | None = None
    stream_id: str | None = None
    order: str | None = None
    keep: tuple[str, ...] = ()
    format: str = AUTO
    """The streams' wire format: ``auto`` (each told from its first events) or a name."""

    @property
    def body(self) -> str:
        """The column holding the body (one row per stream) or the chunk (one per chunk)."""
        return self.column or ("body" if self.stream_id is None else "chunk")

    def needed(self) -> list[str]:
        """The input columns the job reads, in output order."""
        names = [self.stream_id, *self.keep, self.body, self.order]
        return list(dict.fromkeys(name for name in names if name is not None))


def input_kind(path: Path) -> str | None:
    """``.parquet``, ``.jsonl`` or ``.sse`` for a file of that kind (gzipped or not), else None."""
    name = path.name
    for suffix in _GZIPPED:
        if name.endswith(suffix):
            return suffix[: -len(".gz")]
    return path.suffix if path.suffix in SUFFIXES else None


def find_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files named by ``inputs`` (files, globs, folders searched for input files).

    Each input must name at least one file: a missing path, a glob that matches
    nothing and a folder without an input file are errors, each saying which.
    """
    if not inputs:
        raise BulkError("no input named")
    found: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if input_kind(p) and p.is_file())
            if not matches:
                raise BulkError(f"{text}: the folder holds no {_NAMES} file")
        elif path.is_file():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matches:
                raise BulkError(f"{text}: no such file, and no file matches it as a glob")
        found.extend(matches)
    for path in found:
        if input_kind(path) is None:
            raise BulkError(f"{path}: not a {_NAMES} file")
    return list(dict.fromkeys(found))


def job_schema(paths: Sequence[Path], options: BulkOptions) -> Any:
    """The output schema of a job: the first file's kept columns, then ``BULK_SCHEMA``."""
    schema = input_schema(paths[0], options)
    with _reading(paths[0]):
        return output_schema(schema, stream_id=options.stream_id, keep=options.keep)


def input_schema(path: Path, options: BulkOptions) -> Any:
    """The needed columns of ``path`` as read, with their types (the file's rows are not read)."""
    with _reading(path):
        kind = input_kind(path)
        if kind == ".parquet":

            return _parquet_schema(path, options)
        if kind == ".sse":
            return _recording_schema(path, options)
        with open_binary(path) as handle:
            first = next((line for line in handle if line.strip()), None)
        if first is not None and _is_recording(first, options):
            return _recording_schema(path, options)
        return _jsonl_schema(options)


def read_batches(path: Path, options: BulkOptions, batch_size: int) -> Iterator[Any]:
    """``path`` as Arrow tables of the needed columns, whole streams each, about ``batch_size``.

    At least one table, empty when the file holds no row. An unreadable file or a
    missing column raises :class:`BulkError` naming ``path``.
    """
    with _reading(path):
        kind = input_kind(path)
        if kind == ".parquet":
            tables = _parquet_tables(path, options, batch_size)
        elif kind == ".sse":
            tables = iter([_sse_table(path, read_bytes(path), options)])
        else:
            tables = _jsonl_file(path, options, batch_size)
        yield from _whole_streams(tables, options, batch_size)


def read_data(name: str, data: bytes, options: BulkOptions) -> Any:
    """One ``.jsonl`` or ``.sse`` file's bytes (read by another engine) as one table."""
    path = Path(name)
    with _reading(path):
        whole = gunzip(data)
        if input_kind(path) == ".sse":
            return _sse_table(path, whole, options)
        tables = list(_jsonl_tables(path, io.BytesIO(whole), options, 1 << 20))
        return tables[0] if len(tables) == 1 else pa.concat_tables(
            tables, promote_options="permissive"
        )


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Any error reading ``path`` as a :class:`BulkError` that starts with ``path``."""
    try:
        yield
    except BulkError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise BulkError(f"{path}: {exc}") from None
    except (OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raise BulkError(f"{path}: cannot read it ({exc})") from None


def _whole_streams(tables: Iterator[Any], options: BulkOptions, batch_size: int) -> Iterator[Any]:
    """Chunk rows regrouped so that no table splits a stream (a file at a time)."""
    if options.stream_id is None:
        yield from tables
        return
    parts = list(tables)
    whole = parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="permissive")
    if whole.num_rows == 0:
        yield whole
        return
    yield from _stream_slices(whole, options.stream_id, batch_size)


def _needed_schema(schema: Any, options: BulkOptions) -> Any:
    for name in options.needed():
        require_column(schema, name)
    return pa.schema([schema.field(name) for name in options.needed()])


def _parquet_schema(path: Path, options: BulkOptions, reader: Any = None) -> Any:
    """The needed columns of a Parquet file; a missing one is an error, with the
    ``--stream-id`` hint when its first rows look like chunks."""
    import pyarrow.parquet as pq

    reader = reader or pq.ParquetFile(path)
    try:
        return _needed_schema(reader.schema_arrow, options)
    except BulkError as exc:
        first = next(reader.iter_batches(batch_size=SNIFF_ROWS), None)
        rows = first.to_pylist() if first is not None else []
        raise BulkError(f"{exc}{chunk_rows_hint(rows, options)}") from None


def _recording_schema(path: Path, options: BulkOptions) -> Any:
    """A file that is one stream: its ``path`` and its body."""
    if options.stream_id is not None:
        raise BulkError(f"{path}: the file is one stream; --stream-id is for chunk rows")
    return pa.schema([("path", pa.string()), (options.body, pa.binary())])


def _sse_table(path: Path, data: bytes, options: BulkOptions) -> Any:
    """An ``.sse`` file is one stream: its body, with ``path`` kept when asked for."""
    return pa.table([[str(path)], [data]], schema=_recording_schema(path, options))


def _parquet_tables(path: Path, options: BulkOptions, batch_size: int) -> Iterator[Any]:
    import pyarrow.parquet as pq

    reader = pq.ParquetFile(path)
    schema = _parquet_schema(path, options, reader)
    empty = True
    for batch in reader.iter_batches(batch_size=batch_size, columns=options.needed()):
        empty = False
        yield pa.Table.from_batches([batch])
    if empty:
        yield schema.empty_table()


def _jsonl_schema(options: BulkOptions) -> Any:
    """The types of JSON lines rows, fixed by rule (see the module docstring)."""
    passed = {options.stream_id, *options.keep}
    fields = []
    for name in options.needed():
        if name == options.body:
            fields.append(pa.field(name, pa.binary()))
        elif name in passed:
            fields.append(pa.field(name, pa.string()))
        else:  # the order column: sorted by its values, typed by them
            fields.append(pa.field(name, pa.null()))
    return pa.schema(fields)


def _jsonl_file(path: Path, options: BulkOptions, batch_size: int) -> Iterator[Any]:
    with open_binary(path) as handle:
        yield from _jsonl_tables(path, handle, options, batch_size)


def _jsonl_tables(
    path: Path, handle: Any, options: BulkOptions, batch_size: int
) -> Iterator[Any]:
    """JSON lines of rows; a file whose first line is a chunk (no such column) is one stream."""
    schema = _jsonl_schema(options)
    seen = _Seen(options)
    lines: list[bytes] = []
    first = True
    for line in handle:
        if not line.strip():
            continue
        if first and _is_recording(line, options):
            limit = body_limit()  # a body over the limit fails as one stream, read no further
            rest = handle.read() if limit is None else handle.read(limit)
            yield _sse_table(path, line + rest, options)
            return
        first = False
        lines.append(line)
        if len(lines) >= batch_size:
            yield _rows_table(path, lines, schema, options.body, seen)
            lines = []
    if lines or first:
        yield _rows_table(path, lines, schema, options.body, seen)
    seen.check()


def _is_recording(line: bytes, options: BulkOptions) -> bool:
    try:
        first = loads(line)
    except JSONDecodeError:
        return False
    return (
        options.stream_id is None
        and isinstance(first, dict)
        and options.body not in first
        and format_of(first) is not None  # a chunk or event of any wire format
    )


class _Seen:
    """Which needed columns the object rows of a JSON lines file had, for the error if one never."""

    def __init__(self, options: BulkOptions) -> None:
        self.options = options
        self.missing = set(options.needed())
        self.keys: dict[str, None] = {}
        self.objects = 0
        self.samples: list[dict[str, Any]] = []
        """The first rows, for the ``--stream-id`` hint of the error."""

    def add(self, row: dict[str, Any]) -> None:
        """Called for object rows while a needed column is still missing (not after)."""
        self.objects += 1
        self.missing.difference_update(row)
        if len(self.keys) < 20:
            self.keys.update(dict.fromkeys(row))
        if len(self.samples) < SNIFF_ROWS:
            self.samples.append(row)

    def check(self) -> None:
        if self.objects and self.missing:
            name = sorted(self.missing)[0]
            keys = ", ".join(list(self.keys)[:20]) or "none"
            hint = chunk_rows_hint(self.samples, self.options)
            raise BulkError(f"no row has a {name!r} key (the rows' keys: {keys}){hint}")


def _rows_table(path: Path, lines: list[bytes], schema: Any, body: str, seen: _Seen) -> Any:
    """Rows of one block of lines, typed by ``schema`` (``_jsonl_schema``).

    A line that is not a JSON object is a row whose body is the line (a bad row).
    """
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    for line in lines:
        try:
            row = loads(line)
        except JSONDecodeError:
            row = None
        if row.__class__ is dict:
            if seen.missing:
                seen.add(row)
        else:
            row = {body: line}  # not a row: the line is the body, a bad row
        for name, values in columns.items():
            values.append(row.get(name))
    arrays = []
    for field in schema:
        values = columns[field.name]
        if field.name == body:
            arrays.append(_array(values, pa.binary(), _as_bytes))
        elif pa.types.is_string(field.type):  # the stream id and kept columns
            arrays.append(_array(values, pa.string(), _as_text))
        else:
            try:
                arrays.append(pa.array(values))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise BulkError(f"{path}: column {field.name!r} mixes types ({exc})") from None
    return pa.Table.from_arrays(arrays, names=schema.names)


def _array(values: list[Any], kind: Any, convert: Callable[[Any], Any]) -> Any:
    """``values`` as an array of ``kind``; values of other JSON types through ``convert``."""
    try:
        return pa.array(values, type=kind)  # the usual case: every value already fits
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([convert(value) for value in values], type=kind)


def _as_bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else dumps(value)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return dumps(value).decode()


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
