"""Empty partitions and edge inputs in bulk: 0 rows is 0 streams with the N-row schema.

A daily job's outputs are unioned, so the output schema may depend on the
options and the input's columns only, never on how many rows a file held or
which values they had. Inputs that cannot be folded truthfully (no file, a
column no row has, an output folder that is not there) are a ``BulkError``
naming what the user gave.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

import deltafold  # noqa: E402
from conftest import REPO  # noqa: E402

SSE = (
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},'
    b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)
CHUNKS = [
    {"id": "a", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
    {"id": "a", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
]

STREAM_ROWS = deltafold.BulkOptions(keep=("request_id", "day"))
CHUNK_ROWS = deltafold.BulkOptions(stream_id="stream", order="seq", keep=("request_id", "day"))


def _rows(options: deltafold.BulkOptions) -> list[dict[str, Any]]:
    """Log rows of either layout, with a string and an int column to keep."""
    if options.stream_id is None:
        return [
            {"request_id": "r1", "day": 1, "body": SSE.decode()},
            {"request_id": "r2", "day": 1, "body": "<html>502</html>"},
        ]
    return [
        {"stream": "s1", "seq": seq, "request_id": "r1", "day": 1, "chunk": json.dumps(chunk)}
        for seq, chunk in reversed(list(enumerate(CHUNKS)))
    ]


def _write(path: Path, rows: list[dict[str, Any]], like: list[dict[str, Any]]) -> Path:
    """``rows`` as a Parquet or JSON lines file (Parquet with the schema of ``like``)."""
    if path.suffix == ".parquet":
        schema = pa.Table.from_pylist(like).schema
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _fold(paths: list[Path], output: Path, options: deltafold.BulkOptions) -> Any:
    summary = deltafold.assemble_files(paths, output, options=options, workers=1)
    table = pq.read_table(output)
    assert summary.streams == table.num_rows
    return table


LAYOUTS = [pytest.param(STREAM_ROWS, id="stream-rows"), pytest.param(CHUNK_ROWS, id="chunk-rows")]


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
@pytest.mark.parametrize("options", LAYOUTS)
def test_an_empty_file_folds_to_0_streams_with_the_full_schema(
    tmp_path: Path, suffix: str, options: deltafold.BulkOptions
) -> None:
    rows = _rows(options)
    full = _write(tmp_path / f"full{suffix}", rows, rows)
    empty = _write(tmp_path / f"empty{suffix}", [], rows)
    some = _fold([full], tmp_path / "some.parquet", options)
    none = _fold([empty], tmp_path / "none.parquet", options)
    assert none.num_rows == 0 and some.num_rows > 0
    assert none.schema == some.schema
    kept = [name for name in (options.stream_id, *options.keep) if name]
    assert none.column_names[: len(kept)] == kept
    assert pa.concat_tables([none, some]).num_rows == some.num_rows
    # The empty file beside full ones, first or last: the others still fold, same rows.
    for order in ([empty, full], [full, empty]):
        both = _fold(order, tmp_path / "both.parquet", options)
        assert both.schema == some.schema
        assert both.drop_columns(["completion"]).to_pylist() == (
            some.drop_columns(["completion"]).to_pylist()
        )


def test_json_lines_columns_are_typed_by_rule_not_by_their_values(tmp_path: Path) -> None:
    """Ints, nulls, objects or nothing at all in a kept column: always strings."""
    options = deltafold.BulkOptions(stream_id="stream", keep=("request_id", "day"))
    variants = {
        "values": [{"stream": 1, "request_id": "r", "day": 3, "chunk": CHUNKS[0]}],
        "nulls": [{"stream": None, "request_id": None, "day": None, "chunk": CHUNKS[0]}],
        "objects": [{"stream": {"k": 1}, "request_id": ["x"], "day": 2.5, "chunk": CHUNKS[0]}],
        "blank-lines": [],
    }
    schemas = {}
    for name, rows in variants.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "\n  \n")
        out = _fold([path], tmp_path / f"{name}.parquet", options)
        schemas[name] = out.schema
        if name == "values":
            assert out.select(["stream", "request_id", "day"]).to_pylist() == [
                {"stream": "1", "request_id": "r", "day": "3"}
            ]
        if name == "objects":
            assert out.column("stream").to_pylist() == ['{"k":1}']
    assert len({str(schema) for schema in schemas.values()}) == 1, schemas
    assert schemas["values"].field("day").type == pa.string()


@pytest.mark.parametrize("options", LAYOUTS)
def test_assemble_table_of_0_rows_has_the_n_row_schema(options: deltafold.BulkOptions) -> None:
    table = pa.Table.from_pylist(_rows(options))
    kwargs = {"column": options.column, "stream_id": options.stream_id, "order": options.order,
              "keep": options.keep}
    full = deltafold.assemble_table(table, **kwargs)
    empty = deltafold.assemble_table(table.slice(0, 0), **kwargs)
    batch = deltafold.assemble_table(table.to_batches()[0].slice(0, 0), **kwargs)
    assert empty.num_rows == batch.num_rows == 0
    assert empty.schema == batch.schema == full.schema
    assert pa.concat_tables([empty, full]).equals(full)


@pytest.mark.parametrize("null_type", [pa.null(), pa.binary(), pa.string()])
def test_all_null_bodies_are_rows_that_say_so(tmp_path: Path, null_type: Any) -> None:
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"request_id": ["a", "b"], "body": pa.array([None, None], null_type)}),
                   path)
    out = _fold([path], tmp_path / "out.parquet", deltafold.BulkOptions(keep=("request_id",)))
    assert out.column("request_id").to_pylist() == ["a", "b"]
    with pytest.raises(TypeError) as info:
        deltafold.assemble(None)  # type: ignore[arg-type]
    assert out.column("error_type").to_pylist() == ["TypeError"] * 2
    assert out.column("error_message").to_pylist() == [str(info.value)] * 2


def test_an_empty_sse_file_is_one_stream_that_failed(tmp_path: Path) -> None:
    (tmp_path / "empty.sse").write_bytes(b"")
    (tmp_path / "ok.sse").write_bytes(SSE)
    out = _fold([tmp_path], tmp_path / "out.parquet", deltafold.BulkOptions(keep=("path",)))
    rows = {Path(row["path"]).name: row for row in out.to_pylist()}
    assert rows["empty.sse"]["error_type"] == "EmptyStreamError"
    assert rows["ok.sse"]["error_type"] is None and rows["ok.sse"]["content"] == "Hi"


def test_a_column_that_is_nowhere_is_an_error_naming_file_and_column(tmp_path: Path) -> None:
    rows = _rows(CHUNK_ROWS)
    jsonl = _write(tmp_path / "chunks.jsonl", rows, rows)
    parquet = _write(tmp_path / "chunks.parquet", rows, rows)
    empty = _write(tmp_path / "empty.parquet", [], rows)
    output = tmp_path / "out.parquet"
    for path in (jsonl, parquet, empty):
        for options in (
            deltafold.BulkOptions(stream_id="stream", keep=("user",)),
            deltafold.BulkOptions(stream_id="session"),
            deltafold.BulkOptions(stream_id="stream", column="delta"),
            deltafold.BulkOptions(stream_id="stream", order="position"),
        ):
            missing = {"user", "session", "delta", "position"} & set(options.needed())
            with pytest.raises(deltafold.BulkError) as info:
                deltafold.assemble_files([path], output, options=options, workers=1)
            message = str(info.value)
            assert message.startswith(f"{path}: ") and repr(missing.pop()) in message
            assert "stream" in message  # says which columns there are
    # A body key in no row of a JSON lines file of rows (a wrong --column): not rows of nulls.
    (tmp_path / "rows.jsonl").write_text('{"text": "data: {}"}\n{"text": "x"}\n')
    with pytest.raises(deltafold.BulkError, match=r"rows\.jsonl: no row has a 'body' key.*text"):
        deltafold.assemble_files([tmp_path / "rows.jsonl"], output, workers=1)
    assert not output.exists() and not list(tmp_path.glob("*.partial"))


def test_an_input_that_names_no_file_is_an_error_saying_which(tmp_path: Path) -> None:
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    output = tmp_path / "out.parquet"
    cases = {
        str(tmp_path / "empty-folder"): "holds no",
        str(tmp_path / "other"): "holds no",
        str(tmp_path / "nothing-*.parquet"): "no file matches",
        str(tmp_path / "missing.parquet"): "no such file",
        str(tmp_path / "other" / "notes.txt"): "not a .parquet",
    }
    for given, why in cases.items():
        with pytest.raises(deltafold.BulkError, match=why) as info:
            deltafold.assemble_files([given], output)
        assert str(info.value).startswith(given)
    with pytest.raises(deltafold.BulkError, match="no input"):
        deltafold.assemble_files([], output)
    assert not output.exists()


def _bulk(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "deltafold", "bulk", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd=cwd,
    )


def test_an_output_folder_that_is_not_there_is_named_as_given(tmp_path: Path) -> None:
    rows = _rows(STREAM_ROWS)
    _write(tmp_path / "logs.parquet", rows, rows)
    with pytest.raises(deltafold.BulkError) as info:
        deltafold.assemble_files([tmp_path / "logs.parquet"], tmp_path / "missing/dir/out.parquet")
    assert str(info.value).startswith(f"{tmp_path / 'missing/dir/out.parquet'}: ")
    assert "partial" not in str(info.value) and "missing/dir" in str(info.value)
    done = _bulk("logs.parquet", "-o", "missing/dir/out.parquet", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("deltafold bulk: missing/dir/out.parquet: ")
    assert "partial" not in done.stderr and "Traceback" not in done.stderr
    done = _bulk("logs.parquet", "-o", ".", cwd=tmp_path)
    assert done.returncode == 1 and "deltafold bulk: .: is a folder" in done.stderr
    assert not (tmp_path / "missing").exists() and not list(tmp_path.rglob("*.partial"))


def test_duckdb_registers_twice_and_types_0_rows_like_n(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    con = deltafold.register_duckdb(duckdb.connect())
    assert deltafold.register_duckdb(con) is con
    deltafold.register_duckdb(con, name="fold")
    deltafold.register_duckdb(con, name="fold")
    select = "SELECT deltafold_assemble(body) AS r, fold(body) AS s FROM (VALUES ('x')) t(body)"
    some = con.sql(select)
    none = con.sql(select + " WHERE body = 'y'")
    assert none.types == some.types
    assert none.fetchall() == [] and len(some.fetchall()) == 1
    folded = con.sql(f"SELECT deltafold_assemble('{SSE.decode()}').content").fetchall()
    assert folded == [("Hi",)]
