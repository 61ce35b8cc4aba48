"""The DuckDB engine (``duckdb`` extra): ``deltafold_assemble(body)`` in SQL.

The function is an Arrow UDF: DuckDB hands it a column vector at a time and it
runs :func:`assemble_table` on it, so SQL gets the same rows as every other
engine. It returns a STRUCT of ``BULK_SCHEMA``'s columns, so one call gives
the completion JSON and every flat column: ``deltafold_assemble(body).content``,
or ``unnest(deltafold_assemble(body))`` for all of them.
"""

from __future__ import annotations

from typing import Any

from ._arrow import BULK_SCHEMA, assemble_table, pa
from ._exceptions import install_hint

__all__ = ["DuckDBExtraMissing", "register_duckdb"]

_INSTALL_HINT = f"the DuckDB function needs duckdb and numpy: {install_hint('duckdb')}"
_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "double": "DOUBLE"}


class DuckDBExtraMissing(ImportError):
    """duckdb is not installed; the message names the install command."""


def _sql_type(arrow_type: Any) -> str:
    """The DuckDB type of an Arrow type of ``BULK_SCHEMA``."""
    if pa.types.is_list(arrow_type):
        return _sql_type(arrow_type.value_type) + "[]"
    if pa.types.is_struct(arrow_type):
        fields = ", ".join(f'"{f.name}" {_sql_type(f.type)}' for f in arrow_type)
        return f"STRUCT({fields})"
    return _SQL_TYPES[str(arrow_type)]


RESULT_TYPE = _sql_type(pa.struct(list(BULK_SCHEMA)))
"""``deltafold_assemble``'s return type in DuckDB's SQL."""


def _assemble_vector(bodies: Any) -> Any:
    """One DuckDB vector of bodies (VARCHAR, BLOB, anything) to a struct array of results."""
    table = assemble_table(pa.table({"body": bodies}))
    return pa.StructArray.from_arrays(
        [column.combine_chunks() for column in table.columns], fields=list(BULK_SCHEMA)
    )


def register_duckdb(connection: Any, name: str = "deltafold_assemble") -> Any:
    """Register ``name(body)`` on a DuckDB connection; returns the connection.

    ``body`` is a VARCHAR or BLOB column of recorded streams; a NULL body gives
    NULL (SQL's rule), any other bad body a struct with ``error_type`` set.
    Registering again on the same connection is harmless: the function is
    replaced by the same one (DuckDB itself refuses a second function of a name).
    """
    try:
        import duckdb
        import numpy  # noqa: F401  (duckdb returns an Arrow UDF's result through numpy)
    except ImportError as exc:
        raise DuckDBExtraMissing(f"{_INSTALL_HINT} ({exc})") from exc

    def create() -> None:
        connection.create_function(
            name, _assemble_vector, None, duckdb.type(RESULT_TYPE), type="arrow"
        )

    try:
        create()
    except duckdb.NotImplementedException:  # "already created": ours from an earlier call
        connection.remove_function(name)
        create()
    return connection
