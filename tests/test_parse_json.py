"""``parse_json`` in the fold: tool arguments and content parsed while they stream.

Through the public API only: ``assemble``, ``assemble_sse``, ``Accumulator``, ``fold``,
``Client``/``SyncClient``/``connect_chat`` against the replay server on 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltafold
from deltafold import (
    Accumulator,
    ContentDelta,
    JSONDelta,
    JSONInvalid,
    JSONParseError,
    ScalarSet,
    StringAppended,
    ToolCallArgumentsDelta,
    ValueClosed,
    ValueStarted,
    assemble,
    assemble_sse,
    split,
    to_sse,
)
from recordings import all_recordings, read_recording, recording_params

# --- helpers ----------------------------------------------------------------------------


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": index, "delta": delta}
    if finish is not None:
        choice["finish_reason"] = finish
    return {"id": "c1", "model": "m", "choices": [choice]}


def args_chunk(text: str, *, tool: int = 0, first: bool = False) -> dict[str, Any]:
    call: dict[str, Any] = {"index": tool, "function": {"arguments": text}}
    if first:
        call.update(id=f"call_{tool}", type="function")
        call["function"]["name"] = "f"
    return chunk({"tool_calls": [call]})


def _set(root: list[Any], path: tuple[Any, ...], value: Any) -> None:
    """Put ``value`` at ``path`` inside ``root[0]`` (the path's parent exists)."""
    if not path:
        root[0] = value
        return
    parent = root[0]
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if isinstance(parent, list) and last == len(parent):
        parent.append(value)
    else:
        parent[last] = value


def _get(root: list[Any], path: tuple[Any, ...]) -> Any:
    value = root[0]
    for part in path:
        value = value[part]
    return value


def rebuild(events: list[Any]) -> dict[tuple[int, int | None], Any]:
    """The values the JSONDelta events describe, per (choice, tool index), built from them only.

    A re-sent whole arguments (``replaced``) starts that target again.
    """
    values: dict[tuple[int, int | None], list[Any]] = {}
    for event in events:
        if isinstance(event, ToolCallArgumentsDelta) and event.replaced:
            values.pop((event.index, event.tool_index), None)
        if not isinstance(event, JSONDelta):
            continue
        root = values.setdefault((event.index, event.tool_index), [None])
        for item in event.events:
            if isinstance(item, ValueStarted):
                if item.kind in ("object", "array", "string"):
                    empty = {"object": {}, "array": [], "string": ""}[item.kind]
                    _set(root, item.path, empty)
            elif isinstance(item, StringAppended):
                _set(root, item.path, _get(root, item.path) + item.text)
            elif isinstance(item, ScalarSet):
                _set(root, item.path, item.value)
            elif isinstance(item, ValueClosed) and not isinstance(item.value, (dict, list)):
                assert _get(root, item.path) == item.value
    return {key: root[0] for key, root in values.items()}


def targets(completion: deltafold.ChatCompletion) -> list[tuple[str, Any, Any]]:
    """(text, parsed, parse_error) of every content and tool call of a completion."""
    out = []
    for choice in completion.choices:
        message = choice.message
        out.append((message.content, message.parsed, message.parse_error))
        functions = [call.function for call in message.tool_calls]
        if message.function_call is not None:
            functions.append(message.function_call)
        out.extend((f.arguments, f.parsed, f.parse_error) for f in functions)
    return out


def check_parsed(text: str | None, parsed: Any, error: JSONParseError | None) -> None:
    """The rule: valid JSON text gives its value; any other text gives an error; none, nothing."""
    if not text:
        assert parsed is None and error is None
        return
    try:
        expected = json.loads(text)
    except ValueError:
        assert isinstance(error, JSONParseError), text[:80]
        assert 0 <= error.position <= len(text)
        return
    assert error is None, error
    assert parsed == expected or (_has_nan(expected) and repr(parsed) == repr(expected))


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nan(v) for v in value)
    return False


# --- the corpus ---------------------------------------------------------------------------


def _body(entry: dict[str, Any]) -> bytes:
    return read_recording(entry)


def _fold(entry: dict[str, Any], **options: Any) -> deltafold.ChatCompletion:
    fold_body = assemble_sse if entry["format"] == "sse" else assemble
    try:
        return fold_body(_body(entry), **options)
    except deltafold.StreamError as exc:
        assert exc.partial is not None
        return exc.partial


@pytest.mark.parametrize("entry", recording_params())
def test_every_corpus_recording_parses_to_json_loads(entry: dict[str, Any]) -> None:
    completion = _fold(entry, parse_json="all")
    plain = _fold(entry)
    assert completion == plain  # the raw text is the same with or without parsing
    for text, parsed, error in targets(completion):
        check_parsed(text, parsed, error)
    for choice in completion.choices:
        if choice.finish_reason is not None:
            for call in choice.message.tool_calls:
                assert call.function.parsed == json.loads(call.function.arguments)
    for _text, parsed, error in targets(plain):
        assert parsed is None and error is None


@pytest.mark.parametrize("entry", recording_params())
def test_corpus_events_rebuild_the_parsed_values(entry: dict[str, Any]) -> None:
    acc = Accumulator(parse_json="all")
    events: list[Any] = []
    try:
        for item in deltafold.fold(_chunks(entry)):
            events.extend(acc.feed(item))
    except deltafold.StreamError:
        pass
    events.extend(acc.close())
    completion = acc.snapshot()
    rebuilt = rebuild(events)
    for choice in completion.choices:
        if choice.message.parse_error is None and choice.message.parsed is not None:
            assert rebuilt[(choice.index, None)] == choice.message.parsed
        for position, call in enumerate(choice.message.tool_calls):
            if call.function.parse_error is None and call.function.parsed is not None:
                assert rebuilt[(choice.index, position)] == call.function.parsed
    invalid = [e for e in events if isinstance(e, JSONInvalid)]
    errors = [error for _, _, error in targets(completion) if error is not None]
    assert len(invalid) == len(errors)


def _chunks(entry: dict[str, Any]) -> list[Any]:
    """The recording's chunks as dicts, by deltafold's own framer (events of the SSE body)."""
    if entry["format"] != "sse":
        return [json.loads(line) for line in _body(entry).splitlines() if line.strip()]
    out: list[Any] = []
    for event in deltafold.iter_sse([_body(entry)]):
        if event.data.strip() == "[DONE]":
            break
        try:
            item = json.loads(event.data)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def test_the_corpus_has_tool_calls_to_parse() -> None:
    entries = all_recordings()
    calls = sum(len(c.message.tool_calls) for e in entries for c in _fold(e).choices)
    assert calls >= 5


# --- cut anywhere ------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _completion(arguments: list[str], content: str) -> dict[str, Any]:
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": f"f{i}", "arguments": text}}
        for i, text in enumerate(arguments)
    ]
    message = {"role": "assistant", "content": content, "tool_calls": calls}
    return {
        "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }


def _cut(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(body[start:point])
        start = point
    pieces.append(body[start:])
    return pieces


@settings(max_examples=60, deadline=None)
@given(
    args=st.lists(JSON_VALUES, min_size=1, max_size=3),
    content=JSON_VALUES,
    indent=st.sampled_from([None, 0, 2]),
    chunk_chars=st.integers(min_value=1, max_value=9),
    seed=st.integers(min_value=0, max_value=2**16),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=12),
)
def test_cut_anywhere_the_fold_parses_the_same_values(
    args: list[Any], content: Any, indent: int | None, chunk_chars: int, seed: int, cuts: list[int]
) -> None:
    texts = [json.dumps(value, indent=indent, ensure_ascii=seed % 2 == 0) for value in args]
    content_text = json.dumps(content, indent=indent)
    chunks = list(split(_completion(texts, content_text), chunk_chars=chunk_chars, seed=seed))
    whole = assemble(chunks, parse_json="all")
    body = b"".join(to_sse(chunks))
    cut = assemble_sse(_cut(body, cuts), parse_json="all")
    for completion in (whole, cut):
        message = completion.choices[0].message
        assert message.parsed == content and message.parse_error is None
        assert [c.function.parsed for c in message.tool_calls] == args
        assert all(c.function.parse_error is None for c in message.tool_calls)
    acc = Accumulator(parse_json="all")
    events = [event for item in chunks for event in acc.feed(item)] + acc.close()
    rebuilt = rebuild(events)
    assert rebuilt[(0, None)] == content
    assert [rebuilt[(0, i)] for i in range(len(args))] == args


# --- failures ------------------------------------------------------------------------------


def test_invalid_arguments_report_once_and_the_stream_goes_on() -> None:
    acc = Accumulator(parse_json=True)
    events = acc.feed(args_chunk('{"a": 1', first=True))
    assert isinstance(events[-1], JSONDelta)
    bad = acc.feed(args_chunk(",, "))
    invalid = [e for e in bad if isinstance(e, JSONInvalid)]
    assert len(invalid) == 1 and invalid[0].tool_index == 0 and invalid[0].index == 0
    assert invalid[0].error.position == len('{"a": 1,')
    later = acc.feed(args_chunk('"b": 2}')) + acc.feed(chunk({"content": "ok"}, "tool_calls"))
    assert not [e for e in later if isinstance(e, (JSONDelta, JSONInvalid))]
    assert acc.close() == [] or not [e for e in acc.close() if isinstance(e, JSONInvalid)]
    result = acc.result()
    function = result.choices[0].message.tool_calls[0].function
    assert function.arguments == '{"a": 1,, "b": 2}'
    assert function.parsed == {"a": 1}
    assert function.parse_error is invalid[0].error
    assert result.choices[0].message.content == "ok"
    assert result.choices[0].finish_reason == "tool_calls"


def test_arguments_cut_off_at_the_end_keep_the_partial_value() -> None:
    acc = Accumulator(parse_json="arguments")
    acc.feed(args_chunk('{"city": "Par', first=True))
    acc.feed(args_chunk('is", "days": [1, 2'))
    end = acc.close()
    invalid = [e for e in end if isinstance(e, JSONInvalid)]
    assert len(invalid) == 1
    function = acc.result().choices[0].message.tool_calls[0].function
    assert function.parsed == {"city": "Paris", "days": [1, 2]}
    assert function.parse_error is invalid[0].error
    assert function.parse_error.position == len('{"city": "Paris", "days": [1, 2')
    assert "ended" in str(function.parse_error)


def test_content_that_is_not_json_is_reported_and_kept() -> None:
    completion = assemble(
        [chunk({"content": "Sure! "}), chunk({"content": '{"a": 1}'}, "stop")], parse_json="content"
    )
    message = completion.choices[0].message
    assert message.content == 'Sure! {"a": 1}'
    assert isinstance(message.parse_error, JSONParseError) and message.parse_error.position == 0
    assert message.parsed is None


def test_a_top_level_number_ends_at_the_end() -> None:
    acc = Accumulator(parse_json="content")
    acc.feed(chunk({"content": "4"}))
    acc.feed(chunk({"content": "2"}, "stop"))
    assert acc.snapshot().choices[0].message.parsed == 42
    end = acc.close()
    assert [e for e in end if isinstance(e, JSONDelta)] == [
        JSONDelta(0, None, (ScalarSet((), 42),))
    ]
    assert acc.result().choices[0].message.parsed == 42


def test_re_sent_whole_arguments_restart_the_parser() -> None:
    acc = Accumulator(parse_json=True)
    acc.feed(args_chunk('{"a": [1', first=True))
    events = acc.feed(args_chunk('{"a": [1, 2], "b": null}'))
    assert isinstance(events[0], ToolCallArgumentsDelta) and events[0].replaced
    assert isinstance(events[1], JSONDelta)
    assert events[1].events[0] == ValueStarted((), "object")
    assert acc.result().choices[0].message.tool_calls[0].function.parsed == {"a": [1, 2], "b": None}


def test_legacy_function_call_is_parsed_at_tool_index_minus_one() -> None:
    chunks = [
        chunk({"function_call": {"name": "f", "arguments": '{"x": '}}),
        chunk({"function_call": {"arguments": "true}"}}, "function_call"),
    ]
    acc = Accumulator(parse_json=True)
    events = [e for c in chunks for e in acc.feed(c)]
    assert {e.tool_index for e in events if isinstance(e, JSONDelta)} == {-1}
    assert acc.partial_json(0, -1) is not None
    assert acc.result().choices[0].message.function_call.parsed == {"x": True}


def test_nesting_over_the_limit_is_a_parse_error_not_a_dead_stream() -> None:
    limits = deltafold.Limits(max_json_depth=3)
    completion = assemble(
        [args_chunk("[[[[1]]]]", first=True), chunk({}, "tool_calls")], parse_json=True,
        limits=limits,
    )
    function = completion.choices[0].message.tool_calls[0].function
    assert function.arguments == "[[[[1]]]]"
    assert isinstance(function.parse_error, JSONParseError)
    assert "max_json_depth" in str(function.parse_error)


# --- live values and the switch -------------------------------------------------------------


def test_partial_json_grows_while_streaming() -> None:
    text = json.dumps({"city": "Paris", "days": [1, 2, 3], "note": "a longer note here"})
    acc = Accumulator(parse_json=True)
    assert acc.partial_json(0, 0) is None
    seen = []
    for i in range(0, len(text), 3):
        acc.feed(args_chunk(text[i : i + 3], first=i == 0))
        parser = acc.partial_json(0, 0)
        assert parser is not None
        seen.append(copy.deepcopy(parser.value))
        snap = acc.snapshot().choices[0].message.tool_calls[0].function.parsed
        assert snap == parser.value
    sizes = [len(json.dumps(v)) if v is not None else 0 for v in seen]
    assert sizes == sorted(sizes) and len(set(sizes)) > 5
    assert seen[-1] == json.loads(text)


def test_a_snapshot_keeps_its_value_while_the_stream_goes_on() -> None:
    acc = Accumulator(parse_json=True)
    acc.feed(args_chunk('{"a": [1', first=True))
    early = acc.snapshot().choices[0].message.tool_calls[0].function.parsed
    acc.feed(args_chunk(', 2, 3], "b": "x"}'))
    assert early == {"a": [1]}
    assert acc.snapshot().choices[0].message.tool_calls[0].function.parsed == {
        "a": [1, 2, 3], "b": "x"
    }


def test_without_parse_json_nothing_is_parsed_and_no_json_event_comes() -> None:
    chunks = list(split(_completion(['{"a": 1}'], '{"b": 2}'), chunk_chars=3))
    acc = Accumulator()
    events = [e for c in chunks for e in acc.feed(c)] + acc.close()
    assert not [e for e in events if isinstance(e, (JSONDelta, JSONInvalid))]
    for _, parsed, error in targets(acc.result()):
        assert parsed is None and error is None
    assert acc.partial_json(0, None) is None and acc.partial_json(0, 0) is None


def test_arguments_only_leave_the_content_alone() -> None:
    chunks = list(split(_completion(['{"a": 1}'], '{"b": 2}'), chunk_chars=3))
    acc = Accumulator(parse_json="arguments")
    events = [e for c in chunks for e in acc.feed(c)]
    assert {e.tool_index for e in events if isinstance(e, JSONDelta)} == {0}
    message = acc.result().choices[0].message
    assert message.parsed is None and message.tool_calls[0].function.parsed == {"a": 1}
    content_only = assemble(chunks, parse_json="content").choices[0].message
    assert content_only.parsed == {"b": 2} and content_only.tool_calls[0].function.parsed is None


def test_json_delta_follows_its_text_event() -> None:
    acc = Accumulator(parse_json="all")
    events = acc.feed(chunk({"content": '{"k": "v'}))
    assert isinstance(events[0], ContentDelta) and isinstance(events[1], JSONDelta)
    assert events[1].tool_index is None
    assert events[1].events == (
        ValueStarted((), "object"), ValueStarted(("k",), "string"), StringAppended(("k",), "v")
    )
    acc.feed(chunk({"content": '"'}))
    assert acc.feed(chunk({"content": " "})) == [ContentDelta(0, " ")]  # no JSON change


@pytest.mark.parametrize("value", [1, "yes", "ARGUMENTS", None, 0.5])
def test_parse_json_takes_only_its_values(value: Any) -> None:
    with pytest.raises(TypeError, match="parse_json"):
        Accumulator(parse_json=value)
    with pytest.raises(TypeError, match="parse_json"):
        assemble([chunk({"content": "x"})], parse_json=value)


def test_parsed_values_are_off_the_wire() -> None:
    completion = assemble(
        [args_chunk('{"a": 1}', first=True), chunk({"content": "[1]"}, "tool_calls")],
        parse_json="all",
    )
    message = completion.choices[0].message
    assert message.parsed == [1] and message.tool_calls[0].function.parsed == {"a": 1}
    wire = completion.to_dict()
    assert "parsed" not in wire["choices"][0]["message"]
    assert "parsed" not in wire["choices"][0]["message"]["tool_calls"][0]["function"]
    again = deltafold.ChatCompletion.from_dict(wire)
    assert again == completion and again.choices[0].message.parsed is None


def test_fold_and_afold_take_parse_json() -> None:
    chunks = list(split(_completion(['{"a": [true]}'], "{}"), chunk_chars=2))
    with deltafold.fold(chunks, parse_json="all") as folding:
        for _ in folding:
            pass
        assert folding.partial_json(0, 0) is not None
    assert folding.completion.choices[0].message.tool_calls[0].function.parsed == {"a": [True]}
    assert folding.completion.choices[0].message.parsed == {}


# --- the network streams: True upgraded by the request's response_format --------------------


@pytest.fixture(scope="module")
def json_url() -> Any:
    recording = _completion(['{"q": "weather", "n": 3}'], '{"answer": "sunny", "t": 21.5}')
    with deltafold.replay_server(recording, chunk_chars=3) as base:
        yield base


@pytest.mark.parametrize(
    ("response_format", "content"),
    [
        ({"type": "json_object"}, {"answer": "sunny", "t": 21.5}),
        ({"type": "json_schema", "json_schema": {"name": "a", "schema": {}}},
         {"answer": "sunny", "t": 21.5}),
        ({"type": "text"}, None),
        (None, None),
    ],
)
def test_sync_client_upgrades_true_for_a_json_response_format(
    json_url: str, response_format: Any, content: Any
) -> None:
    params = {} if response_format is None else {"response_format": response_format}
    with (
        deltafold.SyncClient(base_url=json_url, api_key="k") as client,
        client.stream(model="m", messages=[], parse_json=True, **params) as stream,
    ):
        for _ in stream:
            pass
        message = stream.completion.choices[0].message
    assert message.parsed == content
    assert message.tool_calls[0].function.parsed == {"q": "weather", "n": 3}


def test_connect_chat_upgrades_and_exposes_the_live_parser(json_url: str) -> None:
    body = {"model": "m", "messages": [], "response_format": {"type": "json_object"}}
    with httpx.Client() as http:
        with deltafold.connect_chat(
            http, json_url + "/chat/completions", json=body, parse_json=True
        ) as stream:
            values = []
            for event in stream.events():
                if isinstance(event, JSONDelta) and event.tool_index is None:
                    parser = stream.partial_json()
                    assert parser is not None
                    values.append(copy.deepcopy(parser.value))
            assert values[-1] == {"answer": "sunny", "t": 21.5}
            assert len(values) > 3
        explicit = {"model": "m", "messages": []}
        with deltafold.connect_chat(
            http, json_url + "/chat/completions", json=explicit, parse_json="content"
        ) as stream:
            stream.until_done()
            assert stream.completion.choices[0].message.parsed == {"answer": "sunny", "t": 21.5}
            assert stream.completion.choices[0].message.tool_calls[0].function.parsed is None


@pytest.mark.anyio
async def test_async_client_upgrades_true(json_url: str) -> None:
    async with deltafold.Client(base_url=json_url, api_key="k") as client, client.stream(
        model="m", messages=[], parse_json=True, response_format={"type": "json_object"}
    ) as stream:
        completion = await stream.until_done()
    assert completion.choices[0].message.parsed == {"answer": "sunny", "t": 21.5}
    assert "parse_json" not in json.dumps(completion.to_dict())
