"""Bulk assembly: Arrow, the local engine, the CLI and DuckDB give assemble's answer per row."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

_EXTRA = "is not installed (pip install -e '.[dev]')"
pa = pytest.importorskip("pyarrow", reason=f"pyarrow {_EXTRA}")
pq = pytest.importorskip("pyarrow.parquet", reason=f"pyarrow {_EXTRA}")

import deltafold  # noqa: E402
from bulk_inputs import actual, broken, chunks_of, expected, recordings, stream_rows  # noqa: E402
from conftest import REPO  # noqa: E402
from deltafold._exceptions import install_hint  # noqa: E402
from recordings import all_recordings, find, made_and_real, write_recordings  # noqa: E402


def _streams_table(binary: bool = True) -> Any:
    rows = stream_rows()
    bodies = [
        body if binary or body is None else body.decode("utf-8", "replace") for _, body in rows
    ]
    return pa.table(
        {
            "request_id": [f"req-{i}" for i in range(len(rows))],
            "name": [name for name, _ in rows],
            "body": pa.array(bodies, type=pa.binary() if binary else pa.string()),
        }
    )


def _check_rows(table: Any, out: Any, body_column: str = "body") -> None:
    assert out.num_rows == table.num_rows
    for body, row in zip(table.column(body_column).to_pylist(), out.to_pylist(), strict=True):
        assert actual(row) == expected(body)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "string"])
def test_each_row_is_what_assemble_gives(binary: bool) -> None:
    table = _streams_table(binary)
    out = deltafold.assemble_table(table, keep=["request_id", "name"])
    _check_rows(table, out)
    assert out.schema == pa.schema(
        [table.schema.field("request_id"), table.schema.field("name"), *deltafold.BULK_SCHEMA]
    )
    assert out.column("request_id").to_pylist() == table.column("request_id").to_pylist()
    names, types = out.column("name").to_pylist(), out.column("error_type").to_pylist()
    errors = dict(zip(names, types, strict=True))
    assert errors["garbage"] == errors["empty"] == "EmptyStreamError"
    assert errors["null"] == "TypeError"
    assert errors["non-streaming"] is None
    in_band = [entry["path"] for entry in all_recordings() if "error" in entry["features"]]
    assert len(in_band) >= 2
    assert all(errors[path] == "StreamError" for path in in_band)


# Parallel tool calls (how many), reasoning with a cost, an in-band error.
_FLAT_SETS = [
    pytest.param(
        [
            "generated/parallel_tool_calls.sse",
            "generated/reasoning_tool_calls.sse",
            "generated/stream_error.sse",
        ],
        len(find("generated/parallel_tool_calls.sse")["source"]["choices"][0]["message"][
            "tool_calls"
        ]),
        id="generated",
    )
]
_REAL_FLAT = [
    "openai-python/parallel_tool_calls.sse",
    "pydantic-ai/openrouter_streaming_reasoning.sse",
    "pydantic-ai/openrouter_stream_error.sse",
]
if made_and_real(*_REAL_FLAT):
    _FLAT_SETS.append(pytest.param(_REAL_FLAT, 2, id="corpus"))


@pytest.mark.parametrize(("names", "calls"), _FLAT_SETS)
def test_flat_columns_are_read_from_the_completion(names: list[str], calls: int) -> None:
    bodies = {path: body for path, body in recordings()}
    table = pa.table({"body": [bodies[n] for n in names] + [broken()[6][1]]})
    for row in deltafold.assemble_table(table).to_pylist():
        completion = row["completion"] and deltafold.from_dict(
            deltafold.ChatCompletion, json.loads(row["completion"])
        )
        assert completion, row
        first = completion.choices[0]
        usage = completion.usage
        assert (row["id"], row["model"], row["provider"], row["created"]) == (
            completion.id, completion.model, completion.provider, completion.created
        )
        assert row["n_choices"] == len(completion.choices)
        assert (row["content"], row["reasoning"], row["finish_reason"]) == (
            first.message.content, first.message.reasoning, first.finish_reason
        )
        assert row["tool_calls"] == [
            {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in first.message.tool_calls
        ]
        assert row["total_tokens"] == (usage.total_tokens if usage else None)
        assert row["cost"] == (usage.cost if usage else None)
    rows = deltafold.assemble_table(table).to_pylist()
    assert len(rows[0]["tool_calls"]) == calls
    assert rows[1]["reasoning"] and rows[1]["cost"] is not None
    assert rows[2]["error_type"] == "StreamError" and rows[2]["completion"] is not None
    assert rows[3]["content"] == "not streamed" and rows[3]["cost"] == 0.5


def _chunk_rows(seed: int = 7) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Every recording exploded to one row per chunk, streams interleaved, with an order column."""
    streams = {path: chunks_of(body) for path, body in recordings()}
    streams["garbage-chunks"] = ["not json", '{"no": "chunk fields"}']
    rows = [
        {"stream": path, "seq": seq, "chunk": chunk, "tag": f"{path}#{seq}"}
        for path, chunks in streams.items()
        for seq, chunk in enumerate(chunks)
    ]
    random.Random(seed).shuffle(rows)
    return rows, streams


def test_chunk_rows_fold_per_stream_in_order() -> None:
    rows, streams = _chunk_rows()
    table = pa.Table.from_pylist(rows)
    out = deltafold.assemble_table(table, stream_id="stream", order="seq", keep=["tag"])
    assert out.column_names[:2] == ["stream", "tag"]
    assert sorted(out.column("stream").to_pylist()) == sorted(streams)
    for row in out.to_pylist():
        assert actual(row) == expected(streams[row["stream"]]), row["stream"]
        assert row["tag"] == f"{row['stream']}#0"  # kept: the value on the first chunk
    bad = next(r for r in out.to_pylist() if r["stream"] == "garbage-chunks")
    assert bad["error_type"] == "ChunkDecodeError"


_STRUCT_SETS = [
    pytest.param(
        ["generated/reasoning_tool_calls.sse", "generated/usage_every_tool_calls.chunks.jsonl"],
        id="generated",
    )
]
_REAL_STRUCT = ["openai-python/single_tool_call.sse", "vercel-ai/deepseek-reasoning.chunks.jsonl"]
if made_and_real(*_REAL_STRUCT):
    _STRUCT_SETS.append(pytest.param(_REAL_STRUCT, id="corpus"))


@pytest.mark.parametrize("names", _STRUCT_SETS)
def test_struct_chunks_fold_like_their_json_text(names: list[str]) -> None:
    bodies = dict(recordings())
    rows = [
        {"stream": name, "chunk": json.loads(chunk)}
        for name in names
        for chunk in chunks_of(bodies[name])
    ]
    table = pa.Table.from_pylist(rows)
    assert pa.types.is_struct(table.schema.field("chunk").type)
    out = deltafold.assemble_table(table, stream_id="stream")
    for row in out.to_pylist():
        assert row["error_type"] is None
        assert json.loads(row["completion"]) == expected(chunks_of(bodies[row["stream"]]))[
            "completion"
        ]


def test_missing_column_and_wrong_argument_are_clear() -> None:
    table = pa.table({"text": [b"data: {}"]})
    with pytest.raises(deltafold.BulkError, match=r"no column 'body'.*its columns: text"):
        deltafold.assemble_table(table)
    with pytest.raises(deltafold.BulkError, match="'rid'"):
        deltafold.assemble_table(table, column="text", keep=["rid"])
    with pytest.raises(TypeError, match="pyarrow Table or RecordBatch"):
        deltafold.assemble_table([b"data: {}"])


# --- the local engine --------------------------------------------------------------------


def _write_parts(tmp_path: Path) -> tuple[list[Path], Any]:
    """The stream rows in two Parquet files, several small row groups each."""
    table = _streams_table()
    half = table.num_rows // 2
    paths = [tmp_path / "logs" / "a.parquet", tmp_path / "logs" / "b.parquet"]
    paths[0].parent.mkdir()
    pq.write_table(table.slice(0, half), paths[0], row_group_size=5)
    pq.write_table(table.slice(half), paths[1], row_group_size=7)
    return paths, table


@pytest.mark.parametrize("workers", [1, 2])
def test_local_engine_writes_the_rows_in_input_order(tmp_path: Path, workers: int) -> None:
    _, table = _write_parts(tmp_path)
    output = tmp_path / "out.parquet"
    seen: list[int] = []
    summary = deltafold.assemble_files(
        [tmp_path / "logs"], output, options=deltafold.BulkOptions(keep=("request_id",)),
        workers=workers, batch_size=4, progress=lambda s: seen.append(s.streams),
    )
    out = pq.read_table(output)
    assert out.column("request_id").to_pylist() == table.column("request_id").to_pylist()
    _check_rows(table, out)
    assert summary.streams == table.num_rows and summary.files == 2
    assert summary.error_rows == sum(e is not None for e in out.column("error_type").to_pylist())
    assert seen == sorted(seen) and seen[-1] == table.num_rows and len(seen) > 2
    assert not list(tmp_path.glob("*.partial"))


def test_local_engine_reads_jsonl_rows_sse_files_and_chunk_logs(tmp_path: Path) -> None:
    rows, streams = _chunk_rows(seed=3)
    with (tmp_path / "chunks.jsonl").open("w") as handle:
        for row in rows:
            handle.write(json.dumps({**row, "chunk": json.loads(row["chunk"])}
                                    if row["chunk"].startswith("{") else row) + "\n")
    out_path = tmp_path / "chunks.parquet"
    deltafold.assemble_files(
        [tmp_path / "chunks.jsonl"], out_path, workers=1, batch_size=8,
        options=deltafold.BulkOptions(stream_id="stream", order="seq"),
    )
    out = pq.read_table(out_path)
    assert sorted(out.column("stream").to_pylist()) == sorted(streams)
    for row in out.to_pylist():
        assert actual(row) == expected([json.loads(c) if c.startswith("{") else c
                                        for c in streams[row["stream"]]])
    (sse,) = write_recordings(tmp_path, [find("generated/refusal_logprobs.sse")])
    sse = sse.rename(tmp_path / "one.sse")
    deltafold.assemble_files([str(tmp_path / "*.sse")], tmp_path / "sse.parquet",
                             options=deltafold.BulkOptions(keep=("path",)), workers=1)
    (row,) = pq.read_table(tmp_path / "sse.parquet").to_pylist()
    assert row["path"] == str(sse) and actual(row) == expected(sse.read_bytes())


def test_a_job_that_cannot_run_raises_and_leaves_no_output(tmp_path: Path) -> None:
    paths, _ = _write_parts(tmp_path)
    output = tmp_path / "out.parquet"
    with pytest.raises(deltafold.BulkError, match="no such file"):
        deltafold.assemble_files([tmp_path / "nothing-*.parquet"], output)
    with pytest.raises(deltafold.BulkError, match=r"a\.parquet: .*no column 'missing'"):
        deltafold.assemble_files(paths, output, options=deltafold.BulkOptions(keep=("missing",)))
    assert not output.exists() and not list(tmp_path.glob("*.partial"))


# --- the command line -----------------------------------------------------------------------


def _bulk(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "deltafold", "bulk", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


def test_cli_counts_bad_rows_and_exits_zero(tmp_path: Path) -> None:
    _, table = _write_parts(tmp_path)
    output = tmp_path / "out.parquet"
    done = _bulk(tmp_path / "logs", "-o", output, "--keep", "request_id,name", "--workers", "2")
    assert done.returncode == 0, done.stderr
    out = pq.read_table(output)
    types = [e for e in out.column("error_type").to_pylist() if e is not None]
    counts = ", ".join(f"{name} {types.count(name)}" for name in sorted(set(types)))
    assert f"{table.num_rows} streams from 2 files" in done.stdout
    assert f"; {len(types)} error rows ({counts}) -> {output}" in done.stdout
    assert out.column_names[:2] == ["request_id", "name"]
    _check_rows(table, out)


def test_cli_fails_only_when_the_job_cannot_run(tmp_path: Path) -> None:
    paths, _ = _write_parts(tmp_path)
    done = _bulk(tmp_path / "none", "-o", tmp_path / "o.parquet")
    assert done.returncode == 1
    assert "deltafold bulk: " in done.stderr and "no such file" in done.stderr
    done = _bulk(paths[0], "-o", tmp_path / "o.parquet", "--column", "text")
    assert done.returncode == 1 and "no column 'text'" in done.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_missing_extra_names_the_install_command() -> None:
    code = (
        "import sys; sys.modules['pyarrow'] = None\n"
        "import deltafold\n"
        "try:\n    deltafold.assemble_table\nexcept ImportError as e:\n    print(e)\n"
        "from deltafold._cli import main\n"
        "sys.exit(main(['bulk', 'x.parquet', '-o', 'y.parquet']))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert done.returncode == 1
    assert install_hint("arrow") in done.stdout
    assert f"deltafold bulk: bulk assembly needs pyarrow: {install_hint('arrow')}" in done.stderr


# --- DuckDB ------------------------------------------------------------------------------


def test_duckdb_function_gives_the_same_rows(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason=f"duckdb {_EXTRA}")
    paths, table = _write_parts(tmp_path)
    con = deltafold.register_duckdb(duckdb.connect())
    glob = str(tmp_path / "logs" / "*.parquet")
    result = con.sql(
        f"SELECT request_id, deltafold_assemble(body) AS r FROM '{glob}' ORDER BY request_id"
    ).fetchall()
    ids, bodies = table.column("request_id").to_pylist(), table.column("body").to_pylist()
    by_id = dict(zip(ids, bodies, strict=True))
    assert len(result) == table.num_rows
    for request_id, row in result:
        if by_id[request_id] is None:
            assert row is None  # SQL's rule: NULL in, NULL out
            continue
        assert actual(row) == expected(by_id[request_id])
    as_text = con.sql(
        f"SELECT deltafold_assemble(body::VARCHAR).content FROM '{paths[0]}' "
        "WHERE request_id = 'req-0'"
    ).fetchall()
    assert len(as_text) == 1
    unnested = con.sql(f"SELECT unnest(deltafold_assemble(body)) FROM '{paths[0]}' LIMIT 1")
    assert unnested.columns == list(deltafold.BULK_SCHEMA.names)
