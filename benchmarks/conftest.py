"""Benchmark configuration: kept apart from the test suite (pyproject's testpaths is tests/).

Run with ``python -m pytest benchmarks --benchmark-only --benchmark-json=PATH``
(docs/benchmarks.md). LiteLLM is told to use its bundled cost map before it
can be imported anywhere, so no run reaches the network.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The project-wide 120 s per-test timeout is for unit tests; a 1M-chunk round is not one.
    for item in items:
        item.add_marker(pytest.mark.timeout(1800))


def pytest_configure(config: pytest.Config) -> None:
    # LiteLLM's pydantic models warn about TypedDict ReadOnly items on import; not ours to fix.
    config.addinivalue_line(
        "filterwarnings", "ignore:Item .* is using the `ReadOnly` qualifier:UserWarning"
    )
