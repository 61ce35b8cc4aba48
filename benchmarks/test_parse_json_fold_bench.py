"""The fold with and without ``parse_json`` on the tool-heavy scenario (issue 12: at most 2x).

``tools`` is 8 tool calls of 2,000 argument fragments each (``streams.tools_stream``),
folded from the SSE body (``assemble_sse``) and from the chunk dicts (``assemble``).
One group per input form; ``parse_json`` False and True side by side.
"""

from __future__ import annotations

from typing import Any

import pytest

import deltafold
import streams

_cache: dict[str, streams.Stream] = {}


def _tools() -> streams.Stream:
    if "tools" not in _cache:
        _cache["tools"] = streams.SCENARIOS["tools"]()
    return _cache["tools"]


@pytest.mark.parametrize("form", ["sse", "dicts"])
@pytest.mark.parametrize("parse_json", [False, True], ids=["plain", "parse_json"])
def test_fold_parse_json(benchmark: Any, form: str, parse_json: bool) -> None:
    stream = _tools()
    if form == "sse":
        def run() -> deltafold.ChatCompletion:
            return deltafold.assemble_sse(stream.sse, parse_json=parse_json)
    else:
        def run() -> deltafold.ChatCompletion:
            return deltafold.assemble(stream.chunks, parse_json=parse_json)
    calls = run().choices[0].message.tool_calls
    assert len(calls) == 8
    assert all((c.function.parsed is not None) is parse_json for c in calls)
    benchmark.group = f"parse-json-fold-tools-{form}"
    benchmark.extra_info.update(
        {"suite": "parse_json_fold", "form": form, "parse_json": parse_json}
    )
    benchmark.pedantic(run, rounds=15, iterations=1, warmup_rounds=1)
