"""The Ray Data engine on one local Ray instance (2 CPUs, started once): the same rows."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_EXTRA = "is not installed (pip install -e '.[dev]')"
pa = pytest.importorskip("pyarrow", reason=f"pyarrow {_EXTRA}")
pq = pytest.importorskip("pyarrow.parquet", reason=f"pyarrow {_EXTRA}")
ray = pytest.importorskip("ray", reason=f"ray {_EXTRA}")

import deltafold  # noqa: E402
from bulk_inputs import actual, chunks_of, expected, recordings, stream_rows  # noqa: E402
from conftest import REPO  # noqa: E402

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[str]:
    """A local Ray instance with 2 CPUs for this module; yields its address."""
    context = ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    address = context.address_info["gcs_address"]
    assert address.startswith("127.0.0.1:"), f"Ray left loopback: {address}"
    try:
        yield address
    finally:
        ray.shutdown()


def test_map_batches_gives_each_row_what_assemble_gives(local_ray: str, tmp_path: Path) -> None:
    rows = stream_rows()
    table = pa.table({"rid": list(range(len(rows))), "body": [body for _, body in rows]})
    half = len(rows) // 2
    pq.write_table(table.slice(0, half), tmp_path / "a.parquet", row_group_size=8)
    pq.write_table(table.slice(half), tmp_path / "b.parquet", row_group_size=8)
    dataset = ray.data.read_parquet(str(tmp_path))
    out = deltafold.assemble_dataset(dataset, keep=["rid"]).to_arrow_refs()
    result = pa.concat_tables(ray.get(out)).sort_by("rid")
    assert result.schema == pa.schema([table.schema.field("rid"), *deltafold.BULK_SCHEMA])
    assert result.column("rid").to_pylist() == list(range(len(rows)))
    for (_, body), row in zip(rows, result.to_pylist(), strict=True):
        assert actual(row) == expected(body)


def _chunk_files(tmp_path: Path) -> dict[str, list[str]]:
    """Chunk rows of every recording, shuffled and split over three files (streams span files)."""
    streams = {path: chunks_of(body) for path, body in recordings()}
    rows: list[dict[str, Any]] = [
        {"stream": path, "seq": seq, "chunk": chunk}
        for path, chunks in streams.items()
        for seq, chunk in enumerate(chunks)
    ]
    random.Random(5).shuffle(rows)
    third = len(rows) // 3 + 1
    for n in range(3):
        part = pa.Table.from_pylist(rows[n * third : (n + 1) * third])
        pq.write_table(part, tmp_path / f"chunks-{n}.parquet")
    return streams


def test_group_by_stream_folds_chunks_spread_over_files(local_ray: str, tmp_path: Path) -> None:
    streams = _chunk_files(tmp_path)
    dataset = ray.data.read_parquet(str(tmp_path))
    result = deltafold.assemble_dataset(dataset, stream_id="stream", order="seq").take_all()
    assert sorted(row["stream"] for row in result) == sorted(streams)
    for row in result:
        assert actual(row) == expected(streams[row["stream"]]), row["stream"]


def test_cli_ray_engine_on_a_running_instance(local_ray: str, tmp_path: Path) -> None:
    streams = _chunk_files(tmp_path)
    output = tmp_path / "out.parquet"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "RAY_ADDRESS": local_ray}
    done = subprocess.run(
        [sys.executable, "-m", "deltafold", "bulk", str(tmp_path), "-o", str(output),
         "--engine", "ray", "--stream-id", "stream", "--order", "seq"],
        capture_output=True, text=True, env=env, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(streams)} streams from 3 files" in done.stdout
    out = pq.read_table(output)
    assert out.column_names[0] == "stream"
    for row in out.to_pylist():
        assert json.loads(row["completion"]) == expected(streams[row["stream"]])["completion"]


def test_ray_engine_empty_files_and_json_lines_match_the_local_engine(
    local_ray: str, tmp_path: Path
) -> None:
    """0-row Parquet and JSON lines files: 0 streams, the same schema as N rows and as local."""
    from deltafold._bulk_ray import ray_assemble_files

    streams = {path: chunks_of(body) for path, body in recordings()[:3]}
    rows = [
        {"stream": path, "seq": seq, "rid": f"{path}#{seq}", "chunk": chunk}
        for path, chunks in streams.items()
        for seq, chunk in enumerate(chunks)
    ]
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "full.parquet")
    pq.write_table(table.slice(0, 0), tmp_path / "empty.parquet")
    (tmp_path / "full.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "empty.jsonl").write_text("")
    options = deltafold.BulkOptions(stream_id="stream", order="seq", keep=("rid",))
    for kind in ("parquet", "jsonl"):
        outputs = {}
        for name, inputs in {
            "none": [f"empty.{kind}"], "some": [f"empty.{kind}", f"full.{kind}"],
        }.items():
            out = tmp_path / f"{kind}-{name}.parquet"
            summary = ray_assemble_files([str(tmp_path / i) for i in inputs], str(out),
                                         options=options)
            outputs[name] = pq.read_table(out)
            assert summary.streams == outputs[name].num_rows
        local = tmp_path / f"{kind}-local.parquet"
        deltafold.assemble_files([tmp_path / f"full.{kind}"], local, options=options, workers=1)
        expected_schema = pq.read_schema(local)
        assert outputs["none"].num_rows == 0 and outputs["some"].num_rows == len(streams)
        assert outputs["none"].schema == outputs["some"].schema == expected_schema
        assert pa.concat_tables(list(outputs.values())).num_rows == len(streams)
        for row in outputs["some"].to_pylist():
            assert actual(row) == expected(streams[row["stream"]])
            assert row["rid"] == f"{row['stream']}#0"
    (tmp_path / "bad.jsonl").write_text('{"stream": "a", "chunk": "{}"}\n')
    with pytest.raises(deltafold.BulkError, match=r"bad\.jsonl: no row has a 'rid' key"):
        ray_assemble_files([str(tmp_path / "bad.jsonl")], str(tmp_path / "bad.parquet"),
                           options=options)
    assert not list(tmp_path.glob("*.partial")) and not (tmp_path / "bad.parquet").exists()
