"""Arrow batches in, a completions table out: the columnar face of the fold (``arrow`` extra).

Two input layouts, the two that logs have: one row per stream with the recorded
body in ``column`` (string or binary), or one row per chunk with a ``stream_id``
column, an optional ``order`` column and the chunk in ``column`` (JSON text,
binary or a struct). Either way the output has one row per stream: the kept
input columns, then ``BULK_SCHEMA``. Every engine (the local pool, Ray, DuckDB)
calls :func:`assemble_table`, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._bulkrow import COLUMNS, fold_chunks, fold_stream, from_struct
from ._exceptions import BulkError, install_hint
from ._formats import AUTO, format_named

__all__ = [
    "BULK_SCHEMA",
    "ArrowExtraMissing",
    "assemble_table",
    "output_schema",
    "require_arrow",
    "require_column",
]

_INSTALL_HINT = f"bulk assembly needs pyarrow: {install_hint('arrow')}"


class ArrowExtraMissing(ImportError):
    """pyarrow is not installed; the message names the install command."""


def require_arrow() -> Any:
    """The ``pyarrow`` module, or :class:`ArrowExtraMissing` naming the extra."""
    try:
        import pyarrow
    except ImportError as exc:
        raise ArrowExtraMissing(f"{_INSTALL_HINT} ({exc})") from exc
    return pyarrow


pa = require_arrow()

TOOL_CALL = pa.struct(
    [("id", pa.string()), ("name", pa.string()), ("arguments", pa.string())]
)
BULK_SCHEMA = pa.schema(
    [
        ("completion", pa.string()),
        ("error_type", pa.string()),
        ("error_message", pa.string()),
        ("id", pa.string()),
        ("model", pa.string()),
        ("provider", pa.string()),
        ("created", pa.int64()),
        ("n_choices", pa.int32()),
        ("role", pa.string()),
        ("content", pa.string()),
        ("refusal", pa.string()),
        ("reasoning", pa.string()),
        ("finish_reason", pa.string()),
        ("tool_calls", pa.list_(TOOL_CALL)),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("total_tokens", pa.int64()),
        ("reasoning_tokens", pa.int64()),
        ("cached_tokens", pa.int64()),
        ("cost", pa.float64()),
        ("format", pa.string()),
    ]
)
"""The output columns after the kept ones; stable: columns are only ever added at the end.

``completion`` is the lossless result as JSON text (``to_dict()``: a chat
completion, a Responses response or an Anthropic message), or the error's
``.partial``, or null; the flat columns are the format's ``Summary`` of it (first
choice for role ... tool_calls); ``error_type`` is the exception's class name, null
when the stream folded; ``format`` is the wire format (``chat``, ``responses``,
``messages``), null when none was told.
"""
assert tuple(BULK_SCHEMA.names) == COLUMNS


def output_schema(
    schema: Any, *, stream_id: str | None = None, keep: Sequence[str] = ()
) -> Any:
    """The output schema for an input schema: stream id, kept columns, then ``BULK_SCHEMA``."""
    names = _kept(stream_id, keep)
    for name in names:
        require_column(schema, name)
    return pa.schema([schema.field(name) for name in names] + list(BULK_SCHEMA))


def _kept(stream_id: str | None, keep: Sequence[str]) -> list[str]:
    names = [] if stream_id is None else [stream_id]
    return names + [name for name in keep if name not in names]


def assemble_table(
    table: Any,
    *,
    column: str | None = None,
    stream_id: str | None = None,
    order: str | None = None,
    keep: Sequence[str] = (),
    format: str = AUTO,
) -> Any:
    """Fold every stream of ``table`` (a ``pyarrow.Table`` or ``RecordBatch``) into one row each.

    ``column`` holds the body (default ``"body"``) or, with ``stream_id``, the
    chunk (default ``"chunk"``); ``order`` sorts a stream's chunks (input order
    otherwise); ``keep`` names input columns to pass through (with
    ``stream_id``, their value on the stream's first chunk). A bad row never
    raises: it comes back with ``error_type`` set. A missing column raises :class:`BulkError`.
    ``format`` is ``"auto"`` (each stream's wire format told from its first events) or
    ``"chat"``, ``"responses"``, ``"messages"`` (another format's stream is then an
    error row naming ``WrongFormatError``).
    A table of 0 rows gives 0 rows with the same schema as N rows.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise TypeError(f"assemble_table takes a pyarrow Table or RecordBatch, got {table!r:.80}")
    if format != AUTO:
        format_named(format)
    schema = output_schema(table.schema, stream_id=stream_id, keep=keep)
    if stream_id is None:
        name = column or "body"
        require_column(table.schema, name)
        rows = [fold_stream(body, format) for body in table.column(name).to_pylist()]
        kept = {key: table.column(key) for key in _kept(None, keep)}
    else:
        rows, kept = _fold_grouped(table, column or "chunk", stream_id, order, keep, format)
    return _build(schema, kept, rows)


def require_column(schema: Any, name: str) -> None:
    """:class:`BulkError` naming the columns there are, unless ``schema`` has ``name``."""
    if schema.get_field_index(name) < 0:
        names = ", ".join(schema.names) or "none"
        raise BulkError(f"no column {name!r} in the input (its columns: {names})")


def _fold_grouped(
    table: Any, column: str, stream_id: str, order: str | None, keep: Sequence[str], format: str
) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """One row per stream id (nulls group together, as in SQL), in the order ids first appear."""
    require_column(table.schema, column)
    groups: dict[Any, list[int]] = {}
    for index, key in enumerate(table.column(stream_id).to_pylist()):
        groups.setdefault(key, []).append(index)
    if order is not None:
        require_column(table.schema, order)
        ranks = table.column(order).to_pylist()
        for indexes in groups.values():  # stable: equal (or null, last) ranks keep input order
            indexes.sort(key=lambda i: (ranks[i] is None, ranks[i] if ranks[i] is not None else 0))
    chunks = table.column(column)
    structured = pa.types.is_struct(chunks.type)
    values = chunks.to_pylist()
    rows = []
    for indexes in groups.values():
        stream = [values[i] for i in indexes]
        rows.append(
            fold_chunks([from_struct(c) for c in stream] if structured else stream, format)
        )
    firsts = pa.array([indexes[0] for indexes in groups.values()], type=pa.int64())
    kept = {key: table.column(key).take(firsts) for key in _kept(stream_id, keep)}
    return rows, kept


def _build(schema: Any, kept: dict[str, Any], rows: list[tuple[Any, ...]]) -> Any:
    arrays = list(kept.values())
    for position, field in enumerate(BULK_SCHEMA):
        arrays.append(pa.array([row[position] for row in rows], type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)
