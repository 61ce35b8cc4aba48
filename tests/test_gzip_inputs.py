"""Gzipped recordings read like plain ones: ``deltafold assemble`` (file or stdin) and bulk files.

A file is gzip by its first bytes, whatever its name; decompressing never
yields more than the fold's byte limit plus one, so a bomb fails like an
oversize body instead of filling memory.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from deltafold._gunzip import gunzip

SSE = (
    b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},'
    b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)


def _assemble(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "deltafold", "assemble", *args],
        input=stdin, capture_output=True, env=env, timeout=60, check=False,
    )


def test_cli_assemble_reads_gzip_from_a_file_and_from_stdin(tmp_path: Path) -> None:
    plain = tmp_path / "a.sse"
    plain.write_bytes(SSE)
    renamed = tmp_path / "a.log"  # gzip by its bytes, not its name
    renamed.write_bytes(gzip.compress(SSE))
    expected = _assemble(str(plain))
    assert expected.returncode == 0 and json.loads(expected.stdout)["choices"][0]["message"][
        "content"
    ] == "Hi"
    for done in (_assemble(str(renamed)), _assemble("-", stdin=gzip.compress(SSE))):
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected.stdout


def test_cli_assemble_names_cut_or_bad_gzip(tmp_path: Path) -> None:
    cut = tmp_path / "cut.sse.gz"
    cut.write_bytes(gzip.compress(SSE)[:20])
    done = _assemble(str(cut))
    assert done.returncode == 1
    assert done.stderr.decode().strip() == f"deltafold assemble: cannot read {cut}: " + (
        "gzip data is cut short"
    )
    bad = gzip.compress(SSE)[:10] + b"\x00" * 40
    done = _assemble("-", stdin=bad)
    assert done.returncode == 1 and "bad gzip data" in done.stderr.decode()


def test_gunzip_is_bounded_and_reads_every_member() -> None:
    bomb = gzip.compress(b"a" * 5_000_000)
    assert len(gunzip(bomb, limit=1000)) == 1000
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd")) == b"abcd"
    assert gunzip(b"not gzip") == b"not gzip"
    with pytest.raises(OSError, match="cut short"):
        gunzip(gzip.compress(b"abc" * 100)[:-9])


def test_bulk_reads_gzipped_sse_and_jsonl_like_the_plain_files(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    import deltafold

    rows = [{"rid": "r1", "body": SSE.decode()}, {"rid": "r2", "body": "garbage"}]
    text = "".join(json.dumps(row) + "\n" for row in rows).encode()
    plain, zipped = tmp_path / "plain", tmp_path / "zipped"
    for folder, pack, suffix in ((plain, bytes, ""), (zipped, gzip.compress, ".gz")):
        folder.mkdir()
        (folder / f"rows.jsonl{suffix}").write_bytes(pack(text))
        (folder / f"one.sse{suffix}").write_bytes(pack(SSE))
        (folder / f"empty.sse{suffix}").write_bytes(pack(b""))
    options = deltafold.BulkOptions(keep=("path",))
    with pytest.raises(deltafold.BulkError, match=r"rows\.jsonl: no row has a 'path' key"):
        deltafold.assemble_files([plain], tmp_path / "x.parquet", options=options)
    outs = []
    for folder in (plain, zipped):
        sse_out = tmp_path / f"{folder.name}-sse.parquet"
        summary = deltafold.assemble_files(
            sorted(folder.glob("*.sse*")), sse_out, options=options, workers=1
        )
        assert summary.files == 2
        rows_out = tmp_path / f"{folder.name}-rows.parquet"
        deltafold.assemble_files(
            list(folder.glob("rows.jsonl*")), rows_out,
            options=deltafold.BulkOptions(keep=("rid",)), workers=1,
        )
        outs.append((pq.read_table(sse_out).drop_columns(["path"]), pq.read_table(rows_out)))
    assert outs[0][0].equals(outs[1][0]) and outs[0][1].equals(outs[1][1])
    assert outs[1][0].column("error_type").to_pylist() == ["EmptyStreamError", None]
    assert outs[1][1].column("rid").to_pylist() == ["r1", "r2"]
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(text)[:-9])
    with pytest.raises(deltafold.BulkError, match=r"cut\.jsonl\.gz: cannot read it"):
        deltafold.assemble_files([cut], tmp_path / "cut.parquet", workers=1)
