"""Fuzzing the Responses and Messages folds: a result or a DeltafoldError, nothing else.

Valid event streams of each format (from ``split`` of a rich result) are mutated:
events dropped, duplicated, swapped; a value anywhere replaced by the wrong type
(strings where objects go, nulls, lists, huge, negative and missing indexes);
unknown event, item and block types put in. Whatever comes (the events unchanged), the fold (and
``assemble_sse`` of the same events, and ``feed`` event by event) ends in a
result or a :class:`DeltafoldError` (its ``.partial`` serialising), never
TypeError, KeyError, IndexError or a hang: every input is bounded in size. Events
that are merely of an unknown type are kept (lossless), not raised.

CI budget: ``max_examples=150`` per property; ``DELTAFOLD_FUZZ_EXAMPLES`` raises it.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltafold.messages as dm
import deltafold.responses as dr
from deltafold import DeltafoldError
from deltafold._jsontext import dumps

EXAMPLES = int(os.environ.get("DELTAFOLD_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

RESPONSE = dr.Response.from_dict({
    "id": "r1", "object": "response", "status": "completed", "model": "m",
    "output": [
        {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "think"}],
         "encrypted_content": "gAAA"},
        {"type": "message", "id": "m1", "role": "assistant", "status": "completed", "content": [
            {"type": "output_text", "text": "Hello there", "annotations": [
                {"type": "url_citation", "url": "u", "start_index": 0, "end_index": 5,
                 "title": "t"}]},
            {"type": "refusal", "refusal": "no"}]},
        {"type": "function_call", "id": "fc", "call_id": "c1", "name": "f",
         "arguments": '{"a": [1, 2]}', "status": "completed"},
        {"type": "web_search_call", "id": "ws", "status": "completed"},
    ],
    "usage": {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12,
              "input_tokens_details": {"cached_tokens": 1},
              "output_tokens_details": {"reasoning_tokens": 2}},
})
MESSAGE = dm.Message.from_dict({
    "id": "msg_1", "type": "message", "role": "assistant", "model": "c",
    "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "SIG"},
        {"type": "redacted_thinking", "data": "ENC"},
        {"type": "text", "text": "Hi there", "citations": [
            {"type": "char_location", "cited_text": "x", "document_index": 0,
             "start_char_index": 0, "end_char_index": 1}]},
        {"type": "tool_use", "id": "t", "name": "f", "input": {"city": "Paris", "n": [1, 2]}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 2},
})
FORMATS = {
    "responses": (dr, [dict(e) for e in dr.split(RESPONSE, chunk_chars=3)]),
    "messages": (dm, [dict(e) for e in dm.split(MESSAGE, chunk_chars=3)]),
}
WRONG = st.sampled_from([
    None, "", "x", 0, -1, 1, 2**63, -(2**40), 1.5, True, [], [1], {}, {"type": "x"},
    {"type": None}, "\ud800", "0",
])
"""Values put in where another type belongs: every index, type, text and object field."""
UNKNOWN = st.sampled_from([
    {"type": "response.future_event", "x": 1},
    {"type": "content_block_future", "index": 0},
    {"type": "response.output_item.added", "output_index": 9, "item": {"type": "future_item"}},
    {"type": "content_block_start", "index": 9, "content_block": {"type": "future_block"}},
    {"type": "ping"},
    {"type": "keepalive"},
])


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value`` (dict keys and list positions), deepest included."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found += paths(item, (*prefix, n))
    return found


def put(event: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = event
    for step in path[:-1]:
        target = target[step]
    if value is _DROP:
        del target[path[-1]]
    else:
        target[path[-1]] = value


_DROP = object()


@st.composite
def mutated(draw: st.DrawFn, fmt: str) -> tuple[Any, list[Any]]:
    module, events = FORMATS[fmt]
    stream = copy.deepcopy(events)
    for _ in range(draw(st.integers(0, 4))):
        if not stream:
            break
        n = draw(st.integers(0, len(stream) - 1))
        action = draw(st.sampled_from(["drop", "dup", "swap", "wrong", "remove", "unknown"]))
        if action == "drop":
            del stream[n]
        elif action == "dup":
            stream.insert(n, copy.deepcopy(stream[n]))
        elif action == "swap":
            m = draw(st.integers(0, len(stream) - 1))
            stream[n], stream[m] = stream[m], stream[n]
        elif action == "unknown":
            stream.insert(n, copy.deepcopy(draw(UNKNOWN)))
        else:
            where = paths(stream[n])
            if not where:
                continue
            path = draw(st.sampled_from(where))
            put(stream[n], path, _DROP if action == "remove" else copy.deepcopy(draw(WRONG)))
    return module, stream


def check(result: Any) -> None:
    dumps(result.to_dict())
    type(result).from_dict(result.to_dict())


def outcome(run: Any) -> Any:
    try:
        result = run()
    except DeltafoldError as exc:
        if exc.partial is not None:
            check(exc.partial)
        return exc
    for one in result if isinstance(result, list) else [result]:
        check(one)
    return result


def fold_every_way(module: Any, stream: list[Any]) -> None:
    given_events = copy.deepcopy(stream)
    outcome(lambda: module.assemble(stream))
    outcome(lambda: module.assemble_all(stream))
    try:
        body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in stream)
    except (TypeError, ValueError):
        body = None
    if body is not None:
        outcome(lambda: module.assemble_sse(body))

    def feed() -> Any:
        acc = module.Accumulator(parse_json=True)
        for event in stream:
            acc.feed(event)
            check(acc.snapshot())
        acc.close()
        return acc.result(strict=False)

    outcome(feed)
    assert stream == given_events  # the fold never changes the caller's events


@FUZZ
@given(mutated("responses"))
def test_mutated_responses_streams(case: tuple[Any, list[Any]]) -> None:
    fold_every_way(*case)


@FUZZ
@given(mutated("messages"))
def test_mutated_messages_streams(case: tuple[Any, list[Any]]) -> None:
    fold_every_way(*case)


@FUZZ
@given(st.sampled_from(list(FORMATS)), st.data())
def test_unknown_events_are_kept_not_raised(fmt: str, data: st.DataObject) -> None:
    module, events = FORMATS[fmt]
    prefix = "response." if fmt == "responses" else ""
    odd = {"type": f"{prefix}x_{data.draw(st.text('abc', min_size=1, max_size=5))}",
           "payload": data.draw(WRONG)}
    at = data.draw(st.integers(1, len(events) - 1))
    stream = [*events[:at], odd, *events[at:]]
    result = module.assemble(stream)
    plain = module.assemble(events)
    assert result.unknown_events == [odd]
    result.unknown_events = plain.unknown_events
    assert result == plain


def test_the_seeds_fold_back_to_their_results() -> None:
    # The mutations start from streams that fold exactly (else the fuzzing proves little).
    assert dr.assemble(FORMATS["responses"][1]) == RESPONSE
    assert dm.assemble(FORMATS["messages"][1]) == MESSAGE
