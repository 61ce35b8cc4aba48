"""The Ray Data engine (``ray`` extra): the same :func:`assemble_table`, run by Ray.

We build no scheduler: one row per stream is ``map_batches``, one row per chunk
is a group-by on the stream id then ``map_groups``. Whatever ``ray.init`` was
given (a local instance, or ``address=...`` for a cluster) runs it unchanged.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._arrow import BULK_SCHEMA, assemble_table, pa
from ._bulk import BulkOptions, BulkSummary, find_inputs
from ._exceptions import install_hint

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
) -> Any:
    """A ``ray.data.Dataset`` of completions, one row per stream (``assemble_table``'s columns).

    Lazy, like every Ray Data transform: nothing runs until the result is read
    or written (``write_parquet``, ``iter_batches``, ``take``...).
    """
    require_ray()
    fold = functools.partial(
        assemble_table, column=column, stream_id=stream_id, order=order, keep=tuple(keep)
    )
    if stream_id is None:
        return dataset.map_batches(fold, batch_format="pyarrow")
    return dataset.groupby(stream_id).map_groups(fold, batch_format="pyarrow")


def read_dataset(paths: Sequence[Path], options: BulkOptions) -> Any:
    """One dataset of the files: Parquet, JSON lines (Arrow's reader), ``.sse`` (one stream)."""
    data = require_ray()
    kinds: dict[str, list[str]] = {}
    for path in paths:
        kinds.setdefault(path.suffix, []).append(str(path))
    parts = []
    if ".parquet" in kinds:
        parts.append(data.read_parquet(kinds[".parquet"], columns=options.needed()))
    if ".jsonl" in kinds:
        parts.append(data.read_json(kinds[".jsonl"]))
    if ".sse" in kinds:
        files = data.read_binary_files(kinds[".sse"], include_paths=True)
        parts.append(files.rename_columns({"bytes": options.body}))
    dataset = parts[0]
    return dataset.union(*parts[1:]) if len(parts) > 1 else dataset


def ray_assemble_files(
    inputs: Sequence[str],
    output: str,
    *,
    options: BulkOptions,
    progress: Callable[[BulkSummary], object] | None = None,
) -> BulkSummary:
    """The CLI's ``--engine ray``: read with Ray, fold with Ray, write one Parquet file here."""
    import pyarrow.parquet as pq

    paths = find_inputs(inputs)
    started = time.perf_counter()
    summary = BulkSummary(files=len(paths), output=output)
    result = assemble_dataset(
        read_dataset(paths, options), column=options.body, stream_id=options.stream_id,
        order=options.order, keep=options.keep,
    )
    partial = Path(f"{output}.partial")
    writer: Any = None
    try:
        for table in result.iter_batches(batch_format="pyarrow", batch_size=None):
            table = pa.Table.from_batches([table]) if isinstance(table, pa.RecordBatch) else table
            if writer is None:
                writer = pq.ParquetWriter(partial, table.schema)
            writer.write_table(table.cast(writer.schema))
            summary.add(table)
            if progress is not None:
                progress(summary)
        if writer is None:  # no row at all: an empty table of the output columns
            writer = pq.ParquetWriter(partial, BULK_SCHEMA)
        writer.close()
        writer = None
        partial.replace(output)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    return summary
