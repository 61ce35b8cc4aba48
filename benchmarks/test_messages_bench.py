"""Anthropic Messages: ``deltafold.messages.assemble_sse`` against the SDK's way and the floor.

Two inputs (issue 22), every path in one run so the ratios hold:

- long text: one text block of 20,000 deltas; the SDK's way (``construct_type`` +
  ``accumulate_event`` per event, after the floor's framing and decoding),
  ``assemble_sse``, and the floor (``paths.floor``: framing + ``orjson.loads``);
- a tool input of 10 KB, 100 KB and 1 MB in 4-character ``input_json_delta``
  fragments, folded with ``parse_json=True`` (time per byte flat); the SDK re-parses
  its whole buffer per fragment, so it runs at 10 KB and 100 KB only.

Bodies are data-only SSE (``data:`` lines, as the floor reads them); the fold reads each
event's ``type`` from its data, never the ``event:`` line.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import deltafold.messages as dm
import paths

TEXT_DELTAS = 20_000
TOOL_SIZES = {"10KB": 10_000, "100KB": 100_000, "1MB": 1_000_000}
SDK_TOOL_SIZES = ("10KB", "100KB")


def _text_events() -> list[dict[str, Any]]:
    message = dm.Message.from_dict({
        "id": "msg_bench", "model": "claude-bench", "stop_reason": "end_turn",
        "content": [{"type": "text", "text": "word " * (TEXT_DELTAS // 5 * 4)}],
        "usage": {"input_tokens": 10, "output_tokens": TEXT_DELTAS},
    })
    return dm.split(message, chunk_chars=4)


def _tool_events(size: int) -> list[dict[str, Any]]:
    rows = []
    total = 0
    while total < size:
        row = {"line": len(rows), "text": "lorem ipsum dolor sit amet", "ok": True}
        rows.append(row)
        total += len(orjson.dumps(row)) + 1
    message = dm.Message.from_dict({
        "id": "msg_tool", "model": "claude-bench", "stop_reason": "tool_use",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "write_file",
                     "input": {"path": "big.json", "rows": rows}}],
        "usage": {"input_tokens": 10, "output_tokens": 1},
    })
    return dm.split(message, chunk_chars=4)


def data_only_body(events: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(event) + b"\n\n" for event in events)


_cache: dict[str, tuple[list[dict[str, Any]], bytes]] = {}


def _stream(name: str) -> tuple[list[dict[str, Any]], bytes]:
    if name not in _cache:
        events = _text_events() if name == "text" else _tool_events(TOOL_SIZES[name])
        _cache[name] = (events, data_only_body(events))
    return _cache[name]


def sdk(body: bytes) -> Any:
    """The SDK's way, bytes in: the floor's framing and decoding, then per event
    ``construct_type`` and ``accumulate_event``."""
    from anthropic._models import construct_type
    from anthropic.lib.streaming._messages import accumulate_event
    from anthropic.types import RawMessageStreamEvent

    snapshot = None
    buffers: dict[int, bytes] = {}
    for decoded in paths.iter_chunks(body):
        event = construct_type(type_=RawMessageStreamEvent, value=decoded)
        snapshot = accumulate_event(
            event=event, current_snapshot=snapshot, json_bufs=buffers  # type: ignore[arg-type]
        )
    return snapshot


def _check_text(result: Any) -> None:
    assert len(result.content[0].text) == TEXT_DELTAS // 5 * 4 * 5


@pytest.mark.parametrize("path", ["floor", "assemble_sse", "sdk"])
def test_messages_long_text(benchmark: Any, path: str) -> None:
    _, body = _stream("text")
    if path == "sdk":
        pytest.importorskip("anthropic")
        run: Any = lambda: sdk(body)  # noqa: E731
    elif path == "floor":
        run = lambda: paths.floor(body)  # noqa: E731
    else:
        run = lambda: dm.assemble_sse(body)  # noqa: E731
    result = run()
    if path != "floor":
        _check_text(result)
    benchmark.group = "messages-long-text"
    benchmark.extra_info.update({"suite": "messages", "path": path, "deltas": TEXT_DELTAS})
    benchmark.pedantic(run, rounds=5 if path == "sdk" else 15, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("size", list(TOOL_SIZES))
@pytest.mark.parametrize("path", ["assemble_sse", "sdk"])
def test_messages_tool_input(benchmark: Any, path: str, size: str) -> None:
    events, body = _stream(size)
    if path == "sdk":
        if size not in SDK_TOOL_SIZES:
            pytest.skip("the SDK re-parses its whole buffer per fragment: quadratic at 1 MB")
        pytest.importorskip("anthropic")
        run: Any = lambda: sdk(body)  # noqa: E731
    else:
        run = lambda: dm.assemble_sse(body, parse_json=True)  # noqa: E731
    expected = dm.assemble(events).content[0].input
    assert run().content[0].input == expected
    benchmark.group = f"messages-tool-input-{size}"
    benchmark.extra_info.update({
        "suite": "messages", "path": path, "bytes": len(orjson.dumps(expected)),
        "fragments": sum(e["type"] == "content_block_delta" for e in events),
    })
    rounds = 3 if path == "sdk" else (5 if size == "1MB" else 15)
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1 if size != "1MB" else 0)
