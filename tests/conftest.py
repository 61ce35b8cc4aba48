"""Shared test set-up: where the real corpora are, the report header, the async backends."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Ray binds a local instance to the machine's reachable address unless it believes it
# is on a laptop; tests talk to 127.0.0.1 only, so every Ray instance they start (and
# the CLI subprocesses, which inherit this) stays on loopback. Read when ray is imported.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

# CI machines are small and shared: no per-example deadline, and a fixed seed so a
# red run can be replayed. Locally, Hypothesis explores new examples on every run.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

REPO = Path(__file__).resolve().parents[1]

CORPUS_ENV = {
    "corpus": "DELTAFOLD_CORPUS",
    "corpus-responses": "DELTAFOLD_CORPUS_RESPONSES",
    "corpus-messages": "DELTAFOLD_CORPUS_MESSAGES",
}
"""Each real-recording corpus and the environment variable that names its folder."""


def corpus_dir(name: str) -> Path | None:
    """The folder of the real corpus ``name`` (a key of CORPUS_ENV), or None when it is absent.

    Its environment variable wins; else ``<repo>/../shared/<name>``. A folder counts
    only with its MANIFEST.json. A variable naming a folder without one is a mistake,
    not an absent corpus: it raises, so a run never falls back silently.
    """
    variable = CORPUS_ENV[name]
    named = os.environ.get(variable, "")
    folder = Path(named).expanduser().resolve() if named else REPO.parent / "shared" / name
    if (folder / "MANIFEST.json").is_file():
        return folder
    if named:
        raise pytest.UsageError(f"{variable}={named}: no MANIFEST.json in {folder}")
    return None


def corpus_entries(name: str = "corpus") -> list[dict[str, Any]]:
    """The MANIFEST.json entries of a real corpus, each with its ``file``; [] when absent."""
    return [dict(entry) for entry in _entries(name)]


@functools.cache
def _entries(name: str) -> tuple[dict[str, Any], ...]:
    folder = corpus_dir(name)
    if folder is None:
        return ()
    entries: list[dict[str, Any]] = json.loads((folder / "MANIFEST.json").read_text())
    return tuple({**entry, "origin": name, "file": folder / entry["path"]} for entry in entries)


def pytest_configure(config: pytest.Config) -> None:
    for name in CORPUS_ENV:  # a variable that names no corpus stops the run before collection
        corpus_dir(name)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which recordings this run replays: the ones made here, and each real corpus found."""
    return _corpus_lines()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """``-q`` hides the header: then the same lines close the report."""
    if config.get_verbosity() < 0:
        for line in _corpus_lines():
            terminalreporter.write_line(line)


def _corpus_lines() -> list[str]:
    from recordings import made_here  # not at the top: recordings imports this module

    made = made_here()
    generated = sum(entry["origin"] == "generated" for entry in made)
    here = f"{len(made)} made here (bundled demo + {generated} generated, tests/recordings.py)"
    lines = []
    for name, variable in CORPUS_ENV.items():
        folder = corpus_dir(name)
        if folder is None:
            line = f"deltafold {name}: not found (set {variable})"
            line += f"; {here}" if name == "corpus" else ""
        else:
            line = f"deltafold {name}: {folder} ({len(corpus_entries(name))} recordings)"
            line += f" + {here}" if name == "corpus" else ""
        lines.append(line)
    return lines


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on asyncio and on trio."""
    backend: str = request.param
    return backend
