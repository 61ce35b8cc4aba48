"""The types users' checkers see: the docs type-check as written, the public API is complete.

- Every ``docs/examples/*.py`` and every python block the docs run passes
  ``mypy --strict`` and pyright in strict mode (the checker behind VS Code), so
  code copied from the docs into a strictly checked project stays clean. A
  block that imports a library shipping no types (pyarrow, duckdb, ray) is
  checked in pyright's standard mode: strict mode would only report that
  library's unknown types.
- ``pyright --verifytypes deltafold`` scores the public API's type
  completeness: every name a user reaches, through signatures too, has a
  declared type.

Both checkers run against the deltafold these tests import.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import deltafold
from test_docs import EXAMPLE_FILES, PYTHON_BLOCKS

REPO = Path(__file__).resolve().parents[1]
SOURCE_ROOT = Path(deltafold.__file__).resolve().parents[1]
"""The folder holding the deltafold under test (``src`` of this checkout, or site-packages)."""
UNTYPED_LIBRARY = re.compile(r"^\s*(?:import|from)\s+(?:pyarrow|duckdb|ray)\b", re.M)
MIN_COMPLETENESS = 0.98
TIMEOUT = 300


def _docs_code(folder: Path) -> list[Path]:
    """Copies of the examples and of the docs' runnable python blocks, one file each."""
    files = []
    for path in EXAMPLE_FILES:
        copy = folder / path.name
        copy.write_bytes(path.read_bytes())
        files.append(copy)
    for block in PYTHON_BLOCKS:
        if block.skip:
            continue
        body = block.body
        if UNTYPED_LIBRARY.search(body):
            body = "# pyright: standard\n" + body
        copy = folder / (re.sub(r"\W", "_", block.id) + ".py")
        copy.write_text(body)
        files.append(copy)
    assert len(files) > len(EXAMPLE_FILES), "no python block found in the docs"
    return files


def _pyright() -> list[str]:
    pytest.importorskip("pyright", reason="pyright is not installed (pip install -e '.[dev]')")
    if shutil.which("node") is None:
        pytest.skip("pyright needs Node.js, which is not on PATH")
    return [sys.executable, "-m", "pyright", "--pythonpath", sys.executable]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MYPYPATH=str(SOURCE_ROOT), PYTHONPATH=str(SOURCE_ROOT))
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def test_docs_code_passes_pyright_strict(tmp_path: Path) -> None:
    command = _pyright()
    files = _docs_code(tmp_path)
    config = {
        "typeCheckingMode": "strict",
        "pythonVersion": "3.11",
        "extraPaths": [str(SOURCE_ROOT)],
    }
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    result = _run([*command, "--outputjson", *map(str, files)], tmp_path)
    report = json.loads(result.stdout)
    errors = [
        f"{Path(d['file']).name}:{d['range']['start']['line'] + 1}: {d['message']}"
        for d in report["generalDiagnostics"]
        if d["severity"] == "error"
    ]
    assert not errors, "pyright strict on the docs' code:\n" + "\n".join(errors)
    assert report["summary"]["filesAnalyzed"] == len(files)


def test_pyright_strict_check_catches_a_mistake(tmp_path: Path) -> None:
    """The check above proves something: an Optional used as a number is an error."""
    command = _pyright()
    (tmp_path / "pyrightconfig.json").write_text(json.dumps({"typeCheckingMode": "strict"}))
    app = tmp_path / "app.py"
    app.write_text(
        "import deltafold\n\n\ndef ms(timing: deltafold.Timing) -> float:\n"
        "    return timing.time_to_first_token * 1000\n"
    )
    result = _run([*command, "--outputjson", str(app)], tmp_path)
    report = json.loads(result.stdout)
    rules = {d.get("rule") for d in report["generalDiagnostics"]}
    assert "reportOptionalOperand" in rules, result.stdout


def test_docs_code_passes_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    files = _docs_code(tmp_path)
    config = REPO / "pyproject.toml"  # its python_version and its ignored untyped libraries
    result = _run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file",
         str(config), *map(str, files)],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"in {len(files)} source files" in result.stdout


def test_public_api_type_completeness(tmp_path: Path) -> None:
    """``pyright --verifytypes``: at least 98 % of the public symbols have known types."""
    command = _pyright()
    result = _run(
        [*command, "--verifytypes", "deltafold", "--ignoreexternal", "--outputjson"], tmp_path
    )
    report = json.loads(result.stdout)
    completeness = report["typeCompleteness"]
    assert Path(completeness["packageRootDirectory"]).resolve() == SOURCE_ROOT / "deltafold"
    score = completeness["completenessScore"]
    ambiguous = [
        f"{s['name']}: {d['message']}"
        for s in completeness["symbols"]
        if not s["isTypeKnown"] or s["isTypeAmbiguous"]
        for d in s["diagnostics"]
    ]
    assert score >= MIN_COMPLETENESS, f"type completeness {score:.1%}:\n" + "\n".join(ambiguous)
