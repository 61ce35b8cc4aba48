"""The Ray Data engine (``ray`` extra): the same :func:`assemble_table`, run by Ray.

We build no scheduler: one row per stream is ``map_batches``, one row per chunk
is a group-by on the stream id then ``map_groups``. Whatever ``ray.init`` was
given (a local instance, or ``address=...`` for a cluster) runs it unchanged.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._arrow import assemble_table, pa
from ._bulk import BulkSummary, Output, check_output
from ._bulk_read import BulkOptions, find_inputs, input_kind, input_schema, job_schema, read_data
from ._exceptions import BulkError, install_hint
from ._formats import AUTO

__all__ = [
    "RayExtraMissing", "assemble_dataset", "ray_assemble_files", "read_dataset", "require_ray",
]

_INSTALL_HINT = f"the Ray engine needs Ray Data: {install_hint('ray')}"


class RayExtraMissing(ImportError):
    """Ray Data is not installed; the message names the install command."""


def require_ray() -> Any:
    """The ``ray.data`` module, or :class:`RayExtraMissing` naming the extra."""
    try:
        import ray.data
    except ImportError as exc:
        raise RayExtraMissing(f"{_INSTALL_HINT} ({exc})") from exc
    return ray.data


def assemble_dataset(
    dataset: Any,
    *,
    column: str | None = None,
    stream_id: str | None = None,
    order: str | None = None,
    keep: Sequence[str] = (),
    format: str = AUTO,
) -> Any:
    """A ``ray.data.Dataset`` of completions, one row per stream (``assemble_table``'s columns).

    Lazy, like every Ray Data transform: nothing runs until the result is read
    or written (``write_parquet``, ``iter_batches``, ``take``...).
    """
    require_ray()
    fold = functools.partial(
        assemble_table, column=column, stream_id=stream_id, order=order, keep=tuple(keep),
        format=format,
    )
    if stream_id is None:
        return dataset.map_batches(fold, batch_format="pyarrow")
    return dataset.groupby(stream_id).map_groups(fold, batch_format="pyarrow")


def read_dataset(paths: Sequence[Path], options: BulkOptions) -> Any:
    """One dataset of the files, read by the rules of ``_bulk_read`` (the local engine's).

    Parquet through ``read_parquet`` (files with no row left out: Ray reads one
    as a block without columns); ``.jsonl`` and ``.sse`` files (gzipped or not)
    as bytes, each turned into rows by :func:`read_data`. None when no file is left.
    """
    data = require_ray()
    import pyarrow.parquet as pq

    parquet, other = [], []
    for path in paths:
        if input_kind(path) != ".parquet":
            other.append(str(path))
        elif pq.read_metadata(path).num_rows:
            parquet.append(str(path))
    parts = []
    if parquet:
        parts.append(data.read_parquet(parquet, columns=options.needed()))
    if other:
        files = data.read_binary_files(other, include_paths=True)
        parts.append(files.map_batches(
            functools.partial(_read_files, options=options), batch_format="pyarrow", batch_size=1
        ))
    if not parts:
        return None
    return parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]


def _read_files(files: Any, *, options: BulkOptions) -> Any:
    """A batch of ``read_binary_files`` rows (path, bytes) as the files' rows."""
    tables = [
        read_data(name, data, options)
        for name, data in zip(files.column("path").to_pylist(),
                              files.column("bytes").to_pylist(), strict=True)
    ]
    return tables[0] if len(tables) == 1 else pa.concat_tables(
        tables, promote_options="permissive"
    )


def ray_assemble_files(
    inputs: Sequence[str],
    output: str,
    *,
    options: BulkOptions,
    progress: Callable[[BulkSummary], object] | None = None,
) -> BulkSummary:
    """The CLI's ``--engine ray``: read with Ray, fold with Ray, write one Parquet file here.

    The output schema is the local engine's (the first file's columns), rows or none.
    """
    check_output(output)
    paths = find_inputs(inputs)
    for path in paths:  # every column check before Ray starts work, each naming its file
        input_schema(path, options)
    started = time.perf_counter()
    summary = BulkSummary(files=len(paths), output=output)
    with Output(output, job_schema(paths, options)) as out:
        dataset = read_dataset(paths, options)
        if dataset is not None:
            result = assemble_dataset(
                dataset, column=options.body, stream_id=options.stream_id,
                order=options.order, keep=options.keep, format=options.format,
            )
            try:
                for table in result.iter_batches(batch_format="pyarrow", batch_size=None):
                    out.write(_as_table(table), "an input file", summary)
                    if progress is not None:
                        progress(summary)
            except Exception as exc:
                raise _bulk_cause(exc) or exc from None
    summary.seconds = time.perf_counter() - started
    return summary


def _as_table(batch: Any) -> Any:
    return pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch


def _bulk_cause(exc: BaseException) -> BulkError | None:
    """The :class:`BulkError` a Ray task raised (None if none), found under Ray's wrappers.

    Ray wraps a task's error (``RayTaskError``, ``UserCodeException``) and may keep
    the original only in the traceback text, so the text is read when the chain ends.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "cause", None)  # a RayTaskError holds the task's error
        if isinstance(inner, BaseException):
            current = inner
        elif isinstance(current, BulkError):
            return current
        else:
            current = current.__cause__
    found = _RAISED.search(str(exc))
    return None if found is None else BulkError(found.group(1))


_RAISED = re.compile(r"\b_exceptions\.BulkError: (.+)")
