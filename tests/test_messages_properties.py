"""Generated Messages: unfold, frame, cut anywhere, fold back equal; the SDK agrees; fuzz."""

from __future__ import annotations

import itertools
import random
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltafold.messages as dm
from deltafold import DeltafoldError
from messages_corpus import sdk_fold

_text = st.text(max_size=40)
_scalar = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=10)
_json = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_citation = st.fixed_dictionaries({
    "type": st.just("web_search_result_location"), "url": st.text(max_size=10),
    "cited_text": _text,
})
_blocks = st.one_of(
    st.builds(lambda t, c: {"type": "text", "text": t, **({"citations": c} if c else {})},
              _text, st.lists(_citation, max_size=2)),
    st.builds(lambda i, n, x: {"type": "tool_use", "id": i, "name": n, "input": x},
              st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8),
              st.dictionaries(st.text(max_size=6), _json, max_size=4)),
    st.builds(lambda t, s: {"type": "thinking", "thinking": t, "signature": s},
              _text, st.text(min_size=1, max_size=20)),
    st.builds(lambda d: {"type": "redacted_thinking", "data": d}, st.text(min_size=1, max_size=20)),
    st.builds(lambda p: {"type": "some_future_block", "payload": p}, _json),
)
_messages = st.builds(
    lambda blocks, stop, usage: {
        "id": "msg_x", "type": "message", "role": "assistant", "model": "claude-test",
        "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage,
    },
    st.lists(_blocks, max_size=5),
    st.sampled_from(["end_turn", "tool_use", "max_tokens", "pause_turn", "a_new_reason"]),
    st.fixed_dictionaries({"input_tokens": st.integers(0, 10**5),
                           "output_tokens": st.integers(0, 10**5)},
                          optional={"cache_read_input_tokens": st.integers(0, 10**5)}),
)


def _cut(body: bytes, rng: random.Random) -> list[bytes]:
    points = sorted(rng.sample(range(len(body) + 1), min(len(body) + 1, rng.randint(0, 12))))
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages, st.integers(1, 9), st.integers(0, 2**16), st.booleans())
def test_split_frame_cut_anywhere_folds_back_equal(
    wire: dict[str, Any], size: int, seed: int, parse_json: bool
) -> None:
    message = dm.Message.from_dict(wire)
    assert message.to_dict() == wire
    events = dm.split(message, chunk_chars=size, seed=seed)
    body = b"".join(dm.to_sse(events))
    pieces = _cut(body, random.Random(seed))
    folded = dm.assemble_sse(pieces, parse_json=parse_json)
    assert folded == message
    assert dm.assemble(events) == message


@pytest.mark.skipif(pytest.importorskip("anthropic") is None, reason="no SDK")
@settings(max_examples=60, deadline=None)
@given(_messages.map(lambda w: {**w, "content": [
    b for b in w["content"] if b["type"] != "some_future_block"]}), st.integers(1, 9))
def test_the_sdk_agrees_on_generated_streams(wire: dict[str, Any], size: int) -> None:
    message = dm.Message.from_dict(wire)
    events = dm.split(message, chunk_chars=size)
    theirs = sdk_fold(orjson.loads(orjson.dumps(events)))
    ours = dm.assemble(events)
    assert ours.text == "".join(b.text for b in theirs.content if b.type == "text")
    for a, b in zip(ours.content, theirs.content, strict=True):
        assert a.type == b.type
        if b.type == "tool_use":
            assert a.input == b.input  # type: ignore[attr-defined]
        elif b.type == "thinking":
            assert (a.thinking, a.signature) == (b.thinking, b.signature)  # type: ignore[attr-defined]
    assert ours.stop_reason == theirs.stop_reason
    assert ours.usage is not None
    assert (ours.usage.input_tokens, ours.usage.output_tokens) == (
        theirs.usage.input_tokens, theirs.usage.output_tokens
    )


def _mutate(events: list[dict[str, Any]], rng: random.Random) -> list[Any]:
    out: list[Any] = [dict(e) for e in events]
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        i = rng.randrange(len(out))
        choice = rng.randrange(7)
        if choice in (2, 4) and not isinstance(out[i], dict):
            choice = 0
        if choice == 0:
            del out[i]
        elif choice == 1:
            out.insert(i, out[rng.randrange(len(out))])
        elif choice == 2:
            key = rng.choice(list(out[i]) or ["type"])
            out[i][key] = rng.choice([None, 5, "x", [], {}, {"type": 3}, True, -1])
        elif choice == 3:
            out[i] = rng.choice([b"{", "nope", 7, [1], b'{"type": "message_start"}', None])
        elif choice == 4:
            out[i]["index"] = rng.choice([-1, 99, 1.5, "0", None])
        elif choice == 5:
            out[i] = {"type": "content_block_delta", "index": 0,
                      "delta": {"type": rng.choice(["text_delta", "input_json_delta",
                                                    "signature_delta", "citations_delta"]),
                                "text": 1, "partial_json": None, "signature": [],
                                "citation": "c"}}
        else:
            out.append({"type": "message_start", "message": rng.choice([{}, [], None, "m"])})
    return out


@settings(max_examples=300, deadline=None)
@given(_messages, st.integers(0, 2**16))
def test_fuzzed_streams_raise_only_deltafold_errors(wire: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    events = _mutate(dm.split(dm.Message.from_dict(wire), chunk_chars=5), rng)
    for parse_json in (False, True):
        try:
            message = dm.assemble(events, parse_json=parse_json, strict=rng.random() < 0.5)
        except DeltafoldError as exc:
            assert str(exc)
            if exc.partial is not None:
                assert isinstance(exc.partial, dm.Message)
        else:
            assert isinstance(message, dm.Message)
            message.to_dict()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_garbage_bytes_raise_only_deltafold_errors(garbage: bytes, sse: bool) -> None:
    body = b"event: message_start\ndata: " + garbage + b"\n\n" if sse else garbage
    try:
        dm.assemble_sse(body) if sse else dm.assemble(body)
    except DeltafoldError as exc:
        assert str(exc)
