"""Shared test fixtures: the recorded corpus and the async backends."""

from __future__ import annotations

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
CORPUS = REPO.parent / "shared" / "corpus"


def corpus_entries() -> list[dict[str, Any]]:
    """MANIFEST.json entries of ../shared/corpus, or [] when it is absent."""
    manifest = CORPUS / "MANIFEST.json"
    if not manifest.is_file():
        return []
    entries: list[dict[str, Any]] = json.loads(manifest.read_text())
    return entries


def corpus_params() -> list[Any]:
    """One pytest param per recording, or one skipped param when ../shared is absent."""
    entries = corpus_entries()
    if not entries:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    return [pytest.param(entry, id=entry["path"]) for entry in entries]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on asyncio and on trio."""
    backend: str = request.param
    return backend
