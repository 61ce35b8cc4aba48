"""Every Messages recording folds, round-trips, and agrees with the Anthropic SDK's fold."""

from __future__ import annotations

from typing import Any

import pytest

import deltafold.messages as dm
from messages_corpus import body, data_events, entries, made, params, real_entries, sdk_fold

pytest.importorskip("anthropic")


def _agree(message: dm.Message, sdk: Any, features: list[str]) -> None:
    """Same text, tool inputs, thinking and signatures, usage and stop reason as the SDK."""
    assert message.id == sdk.id and message.model == sdk.model
    assert message.stop_reason == sdk.stop_reason
    assert message.stop_sequence == sdk.stop_sequence
    assert len(message.content) == len(sdk.content)
    for ours, theirs in zip(message.content, sdk.content, strict=True):
        assert ours.type == theirs.type
        if isinstance(ours, dm.TextBlock):
            assert ours.text == theirs.text
            cited = [c if isinstance(c, dict) else c.to_dict() for c in theirs.citations or []]
            assert (ours.citations or []) == cited
        elif isinstance(ours, dm.ThinkingBlock):
            assert (ours.thinking, ours.signature) == (theirs.thinking, theirs.signature)
            assert ours.signature  # a signature_delta always came: never lost
        elif isinstance(ours, dm.RedactedThinkingBlock):
            assert ours.data == theirs.data
        elif isinstance(ours, (dm.ToolUseBlock, dm.ServerToolUseBlock)):
            assert (ours.id, ours.name) == (theirs.id, theirs.name)
            if ours.parse_error is None:
                assert ours.input == theirs.input
            else:  # truncated at max_tokens: the SDK keeps a partial parse, we the text too
                assert "tool_json_unparsed" in features
                assert ours.input_json
    usage, theirs_usage = message.usage, sdk.usage
    assert usage is not None
    for name in (
        "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
    ):
        assert getattr(usage, name) == getattr(theirs_usage, name), name
    if theirs_usage.server_tool_use is not None:
        assert usage.server_tool_use is not None
        assert usage.server_tool_use.web_search_requests == (
            theirs_usage.server_tool_use.web_search_requests
        )


@pytest.mark.parametrize("entry", params())
def test_recording_folds_and_agrees_with_the_sdk(entry: dict[str, Any]) -> None:
    raw = body(entry)
    message = dm.assemble_sse(raw)
    assert message.id.startswith("msg_")
    assert message.content, "every recording has at least one block"
    events = data_events(raw)
    assert sum(e.get("type") == "content_block_start" for e in events) == len(message.content)
    _agree(message, sdk_fold(events), entry["features"])
    # The same body as decoded events, and with parse_json: the same message.
    assert dm.assemble(events) == message
    parsed = dm.assemble_sse(raw, parse_json=True)
    assert parsed == message
    for a, b in zip(parsed.content, message.content, strict=True):
        assert getattr(a, "input_json", None) == getattr(b, "input_json", None)


@pytest.mark.parametrize("entry", params())
def test_recording_round_trips(entry: dict[str, Any]) -> None:
    message = dm.assemble_sse(body(entry))
    wire = message.to_dict()
    again = dm.Message.from_dict(wire)
    assert again == message and again.to_dict() == wire
    replayed = dm.assemble_sse(b"".join(dm.to_sse(dm.split(message, chunk_chars=5, seed=3))))
    assert replayed == message


@pytest.mark.parametrize("entry", params())
def test_usage_and_stop_reason_read_from_the_bytes(entry: dict[str, Any]) -> None:
    """Facts read from the raw events, not from the fold: the last stop_reason and
    output_tokens sent, and every feature the manifest lists is in the message."""
    events = data_events(body(entry))
    deltas = [e for e in events if e.get("type") == "message_delta"]
    message = dm.assemble(events)
    assert message.stop_reason == deltas[-1]["delta"]["stop_reason"]
    assert message.usage is not None
    assert message.usage.output_tokens == deltas[-1]["usage"]["output_tokens"]
    for feature in entry["features"]:
        if feature.startswith("stop:"):
            assert message.stop_reason == feature[5:]
        elif feature in ("thinking", "redacted_thinking", "tool_use", "server_tool_use"):
            assert any(block.type == feature for block in message.content)
        elif feature == "citations":
            assert any(getattr(b, "citations", None) for b in message.content)


def test_corpus_count() -> None:
    """Every recording folds to a finished message: the 45 real ones, or the ones made here."""
    found = entries()
    passed = sum(dm.assemble_sse(body(e)).stop_reason is not None for e in found)
    expected = 45 if real_entries() else len(made())
    assert passed == len(found) == expected
