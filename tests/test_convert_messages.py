"""The Messages side of conversion: its reader (events to neutral steps), its writer (steps
to events), ``Message.to_param``; every recording through both and folded back equal."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltafold.messages as dm
from deltafold import IncompleteStreamError
from deltafold.convert._ops import (
    EXTENSION,
    Begin,
    Block,
    Close,
    Delta,
    Fail,
    Finish,
    Open,
    Step,
    Usage,
)
from deltafold.convert._read_messages import MessagesReader
from deltafold.convert._write_messages import MessagesWriter
from messages_corpus import body, data_events, params, sdk_fold


def _read(events: list[Any]) -> list[Step]:
    reader = MessagesReader(limits=None, choice=None)
    steps: list[Step] = []
    for event in events:
        steps += reader.read(event)
    return steps + reader.close()


def _write(steps: list[Step]) -> list[dict[str, Any]]:
    writer = MessagesWriter()
    out: list[dict[str, Any]] = []
    for step in steps:
        out += writer.write(step)
    return out


def _start(**usage: int) -> dict[str, Any]:
    return {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": usage or {"input_tokens": 3, "output_tokens": 1}}}


def _block(index: int, block: dict[str, Any], *deltas: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "content_block_start", "index": index, "content_block": block},
        *({"type": "content_block_delta", "index": index, "delta": d} for d in deltas),
        {"type": "content_block_stop", "index": index},
    ]


def _end(reason: str | None = "end_turn", **usage: int) -> list[dict[str, Any]]:
    return [{"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
             "usage": usage or {"output_tokens": 7}}, {"type": "message_stop"}]


def _of(steps: list[Step], cls: type) -> list[Any]:
    return [s for s in steps if s.__class__ is cls]


# --- the reader's rules ------------------------------------------------------------------


def test_steps_begin_first_number_blocks_and_close_each_before_finish() -> None:
    events = [_start(), {"type": "ping"},
              *_block(0, {"type": "text", "text": ""}, {"type": "text_delta", "text": "Hi"},
                      {"type": "text_delta", "text": " there"}),
              *_block(1, {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}},
                      {"type": "input_json_delta", "partial_json": '{"x":'},
                      {"type": "input_json_delta", "partial_json": " 1}"}),
              *_end("tool_use")]
    steps = _read(events)
    assert steps[0] == Begin("msg_1", "claude-x", None, {
        "format": "messages", "usage": {"input_tokens": 3, "output_tokens": 1}})
    assert steps[1:4] == [Open(0, "text", carry={}), Delta(0, "Hi"), Delta(0, " there")]
    assert steps[4] == Close(0, Block("text", "Hi there"))
    assert steps[5] == Open(1, "tool", "toolu_a", "f", carry={})
    assert steps[6:8] == [Delta(1, '{"x":'), Delta(1, " 1}")]  # the fragments, as they came
    assert steps[8] == Close(1, Block("tool", '{"x": 1}', id="toolu_a", name="f"))
    finish = steps[9]
    assert isinstance(finish, Finish) and finish.reason == "tool_calls"
    assert finish.carry["stop_reason"] == "tool_use"
    assert len(steps) == 10


def test_a_tool_use_with_no_input_fragment_has_empty_object_arguments() -> None:
    events = [_start(), *_block(0, {"type": "tool_use", "id": "t", "name": "now", "input": {}},
                                {"type": "input_json_delta", "partial_json": ""}), *_end()]
    (close,) = _of(_read(events), Close)
    assert close.final.text == "{}"
    assert _of(_read(events), Delta) == []  # an empty fragment is no delta


def test_thinking_keeps_its_signature_and_redacted_thinking_its_data() -> None:
    events = [_start(),
              *_block(0, {"type": "thinking", "thinking": "", "signature": ""},
                      {"type": "thinking_delta", "thinking": "Let me see."},
                      {"type": "signature_delta", "signature": "EqQBCkYIBx=="}),
              *_block(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va=="}), *_end()]
    steps = _read(events)
    thinking, redacted = (c.final for c in _of(steps, Close))
    assert (thinking.kind, thinking.text, thinking.signature) == (
        "reasoning", "Let me see.", "EqQBCkYIBx==")
    assert not thinking.redacted
    assert (redacted.kind, redacted.redacted, redacted.signature, redacted.text) == (
        "reasoning", True, "EmwKAhgBEgy3va==", "")
    folded = dm.assemble(_write(steps))
    assert folded.content[0] == dm.ThinkingBlock(thinking="Let me see.", signature="EqQBCkYIBx==")
    assert folded.content[1] == dm.RedactedThinkingBlock(data="EmwKAhgBEgy3va==")


def test_cache_reads_and_writes_go_into_the_input_both_ways() -> None:
    events = [_start(input_tokens=10, cache_read_input_tokens=100,
                     cache_creation_input_tokens=20, output_tokens=1),
              *_block(0, {"type": "text", "text": "ok"}), *_end(output_tokens=5)]
    (finish,) = _of(_read(events), Finish)
    usage = finish.usage
    assert (usage.input_tokens, usage.cache_read, usage.cache_write) == (130, 100, 20)
    assert (usage.output_tokens, usage.total_tokens) == (5, 135)
    # written back from another format's usage (no Messages carry): taken out again
    steps = [Begin("chatcmpl-1", "gpt"), Finish("stop", usage=Usage(
        input_tokens=130, output_tokens=5, total_tokens=135, cache_read=100, cache_write=20))]
    out = _write(steps)
    assert out[-2]["usage"] == {"input_tokens": 10, "cache_creation_input_tokens": 20,
                                "cache_read_input_tokens": 100, "output_tokens": 5}
    folded = dm.assemble(out).usage
    assert folded is not None and folded.prompt_tokens == 130  # the total is kept


def test_reasoning_tokens_are_the_thinking_tokens() -> None:
    events = [_start(), *_block(0, {"type": "text", "text": "a"}),
              {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
               "usage": {"output_tokens": 9, "output_tokens_details": {"thinking_tokens": 4}}},
              {"type": "message_stop"}]
    (finish,) = _of(_read(events), Finish)
    assert finish.usage.reasoning_tokens == 4
    out = _write([Begin("r"), Finish("stop", usage=Usage(output_tokens=9, reasoning_tokens=4))])
    assert out[-2]["usage"]["output_tokens_details"] == {"thinking_tokens": 4}


@pytest.mark.parametrize(("raw", "neutral"), [
    ("end_turn", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "refusal"), ("pause_turn", "pause"), ("model_context_window_exceeded", "length"),
])
def test_stop_reasons_map_and_come_back(raw: str, neutral: str) -> None:
    steps = _read([_start(), *_block(0, {"type": "text", "text": "x"}), *_end(raw)])
    (finish,) = _of(steps, Finish)
    assert finish.reason == neutral
    assert dm.assemble(_write(steps)).stop_reason == raw  # the raw reason, carried
    foreign = [Begin("c"), Finish(neutral)]  # from another format: mapped back
    expected = "max_tokens" if neutral == "length" else raw
    assert dm.assemble(_write(foreign)).stop_reason == expected


def test_a_stop_sequence_is_said_and_written_back() -> None:
    events = [_start(), *_block(0, {"type": "text", "text": "x"}),
              {"type": "message_delta", "delta": {"stop_reason": "stop_sequence",
                                                  "stop_sequence": "###"}},
              {"type": "message_stop"}]
    (finish,) = _of(_read(events), Finish)
    assert (finish.reason, finish.stop_sequence) == ("stop", "###")
    folded = dm.assemble(_write([Begin("c"), Finish("stop", "###")]))
    assert (folded.stop_reason, folded.stop_sequence) == ("stop_sequence", "###")
    assert dm.assemble(_write([Begin("c"), Finish("content_filter")])).stop_reason == "refusal"


def test_an_error_event_fails_with_its_blocks_closed_and_comes_back_as_an_error() -> None:
    error = {"type": "overloaded_error", "message": "Overloaded"}
    events = [_start(), *_block(0, {"type": "text", "text": ""},
                                {"type": "text_delta", "text": "par"})[:2],
              {"type": "error", "error": error}]
    reader = MessagesReader(limits=None, choice=None)
    steps = [s for e in events for s in reader.read(e)]
    assert steps[-2] == Close(0, Block("text", "par"))  # the open block, closed first
    fail = steps[-1]
    assert isinstance(fail, Fail)
    assert (fail.message, fail.code) == ("Overloaded", "overloaded_error")
    assert fail.usage is not None and fail.usage.input_tokens == 3
    assert reader.close() == []  # the answer ended at the error: nothing more, no raise
    out = _write(steps)
    assert out[-1] == {"type": "error", "error": error}
    assert _write([Fail("Upstream timed out", "timeout")]) == [
        {"type": "error", "error": {"type": "timeout", "message": "Upstream timed out"}}]
    assert _write([Fail("boom")])[0]["error"]["type"] == "api_error"


def test_a_truncated_stream_raises_with_the_partial_message() -> None:
    events = [_start(), *_block(0, {"type": "text", "text": ""},
                                {"type": "text_delta", "text": "cut "})[:2]]
    reader = MessagesReader(limits=None, choice=None)
    steps = [s for e in events for s in reader.read(e)]
    assert not _of(steps, Finish)
    with pytest.raises(IncompleteStreamError) as caught:
        reader.close()
    partial = caught.value.partial
    assert isinstance(partial, dm.Message) and partial.text == "cut "


def test_a_whole_message_reads_as_one_answer() -> None:
    whole = {"id": "msg_w", "type": "message", "role": "assistant", "model": "m",
             "content": [{"type": "text", "text": "Hello"},
                         {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1]}}],
             "stop_reason": "tool_use", "stop_sequence": None,
             "usage": {"input_tokens": 2, "output_tokens": 3}}
    steps = _read([whole])
    assert [s.__class__ for s in steps] == [Begin, Open, Delta, Close, Open, Close, Finish]
    assert _of(steps, Close)[1].final.text == '{"a":[1]}'
    assert dm.assemble(_write(steps)) == dm.Message.from_dict(whole)


def test_server_tool_blocks_are_other_blocks_and_come_back_whole() -> None:
    use = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
           "input": {"query": "q"}}
    result = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1",
              "content": [{"type": "web_search_result", "url": "https://x.test", "title": "X"}]}
    events = [_start(), *_block(0, {**use, "input": {}},
                                {"type": "input_json_delta", "partial_json": '{"query": "q"}'}),
              *_block(1, result), *_end()]
    steps = _read(events)
    assert [c.final.kind for c in _of(steps, Close)] == ["other", "other"]
    assert [c.final.raw for c in _of(steps, Close)] == [use, result]
    assert not _of(steps, Delta)  # the steps do not stream what they cannot say
    assert dm.assemble(_write(steps)) == dm.assemble(events)


# --- the writer's rules ------------------------------------------------------------------


def test_deltas_are_written_as_they_come_and_a_longer_final_adds_its_tail() -> None:
    writer = MessagesWriter()
    out = writer.write(Begin("chatcmpl-9", "gpt", 1700000000))
    assert [e["type"] for e in out] == ["message_start"]
    out += writer.write(Open(0, "text"))
    assert out[-1]["content_block"] == {"type": "text", "text": ""}
    written = writer.write(Delta(0, "Hel"))
    assert written == [{"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": "Hel"}}]
    out += written + writer.write(Close(0, Block("text", "Hello")))  # "lo" came only at the end
    opened = writer.write(Open(1, "tool", None, "lookup"))  # no id: minted, deterministic
    assert opened[0]["content_block"]["id"] == "toolu_chatcmpl-9_1"
    closed = writer.write(Close(1, Block("tool", '{"q": "x"}', name="lookup")))
    assert closed[0]["delta"] == {"type": "input_json_delta", "partial_json": '{"q": "x"}'}
    out += opened + closed + writer.write(Finish("tool_calls"))
    assert out[-1] == {"type": "message_stop"}
    message = dm.assemble(out)
    assert message.text == "Hello"
    assert message.content[1] == dm.ToolUseBlock(id="toolu_chatcmpl-9_1", name="lookup",
                                                 input={"q": "x"})
    assert message.stop_reason == "tool_use"
    assert message.extra[EXTENSION] == {"created": 1700000000}  # what Messages has no field for


def test_written_streams_fold_in_deltafold_and_in_the_anthropic_sdk() -> None:
    pytest.importorskip("anthropic")
    steps: list[Step] = [
        Begin("chatcmpl-7", "gpt-x", 1700000000),
        Open(0, "reasoning"), Delta(0, "Think"),
        Close(0, Block("reasoning", "Think", signature="s1")),
        Open(1, "text"), Delta(1, "Answer"), Close(1, Block("text", "Answer")),
        Open(2, "tool", "call_1", "f"), Delta(2, '{"a"'),
        Close(2, Block("tool", '{"a": 2}', "call_1", "f")),
        Open(3, "tool", "call_2", "g"), Close(3, Block("tool", "", "call_2", "g")),
        Finish("tool_calls", usage=Usage(input_tokens=50, output_tokens=9, total_tokens=59,
                                          cache_read=40)),
    ]
    out = _write(steps)
    ours, sdk = dm.assemble(out), sdk_fold(out)
    for message in (ours, sdk):
        assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
        assert (message.content[0].thinking, message.content[0].signature) == ("Think", "s1")
        assert message.content[2].input == {"a": 2} and message.content[3].input == {}
        assert [message.content[2].id, message.content[3].id] == ["call_1", "call_2"]
        assert message.stop_reason == "tool_use"
        assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (10, 40)
        assert message.usage.output_tokens == 9


def test_another_formats_carry_rides_in_events_never_in_blocks_and_comes_back() -> None:
    steps: list[Step] = [
        Begin("resp_1", "o4", 1700000001, {"format": "responses", "status": "completed"}),
        Open(0, "reasoning", "rs_1"),
        Delta(0, "Summary."),
        Close(0, Block("reasoning", "Summary.", id="rs_1", summary=True, signature="enc",
                       carry={"format": "responses", "item": "rs_1"})),
        Open(1, "refusal"), Delta(1, "No."), Close(1, Block("refusal", "No.")),
        Open(2, "text"), Delta(2, "See"),
        Close(2, Block("text", "See", annotations=[
            {"type": "url_citation", "url": "https://a.test", "start_index": 0, "end_index": 3}])),
        Open(3, "tool", "call_9", "patch", tool_type="custom",
             carry={"format": "responses", "id": "ctc_1"}),
        Delta(3, 'line "1"\n'), Close(3, Block("tool", 'line "1"\nline 2', "call_9", "patch",
                                               tool_type="custom")),
        Open(4, "other"),
        Close(4, Block("other", raw={"type": "web_search_call", "id": "ws_1"},
                       carry={"format": "responses"})),
        Finish("stop", usage=Usage(input_tokens=5, output_tokens=6, total_tokens=11,
                                   carry={"format": "responses", "x": 1}),
               carry={"format": "responses", "status": "completed"}),
    ]
    out = _write(steps)
    message = dm.assemble(out)
    assert all(EXTENSION not in b.to_dict() for b in message.content)
    assert [b.type for b in message.content] == ["thinking", "text", "text", "tool_use"]
    assert message.content[3].input == {"input": 'line "1"\nline 2'}  # input is an object
    assert message.to_param()["content"][0] == {
        "type": "thinking", "thinking": "Summary.", "signature": "enc"}
    back = _read(out)
    assert back[0] == steps[0]
    finals = [c.final for c in _of(back, Close)]
    assert finals == [s.final for s in _of(steps, Close)]
    assert [o.kind for o in _of(back, Open)] == ["reasoning", "refusal", "text", "tool", "other"]
    assert _of(back, Open)[3].carry == {"format": "responses", "id": "ctc_1"}
    assert back[-1] == steps[-1]


# --- to_param --------------------------------------------------------------------------


def test_to_param_is_the_next_requests_assistant_turn() -> None:
    events = [_start(),
              *_block(0, {"type": "thinking", "thinking": "", "signature": ""},
                      {"type": "thinking_delta", "thinking": "hm"},
                      {"type": "signature_delta", "signature": "sig"}),
              *_block(1, {"type": "redacted_thinking", "data": "opaque"}),
              *_block(2, {"type": "text", "text": "", "citations": None},
                      {"type": "text_delta", "text": "Per the doc"},
                      {"type": "citations_delta", "citation": {
                          "type": "char_location", "cited_text": "c", "document_index": 0,
                          "start_char_index": 0, "end_char_index": 1}}),
              *_block(3, {"type": "text", "text": "", "citations": None}),
              *_block(4, {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {},
                          "caller": None},
                      {"type": "input_json_delta", "partial_json": '{"n": 1}'}),
              *_end("tool_use")]
    param = dm.assemble(events).to_param()
    assert param == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Per the doc", "citations": [{
            "type": "char_location", "cited_text": "c", "document_index": 0,
            "start_char_index": 0, "end_char_index": 1}]},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"n": 1}},
    ]}
    # the same after passing through the reader and the writer
    assert dm.assemble(_write(_read(events))).to_param() == param


# --- every recording, and generated ones: read, written, folded back equal ----------------


def _agree(original: dm.Message, converted: dm.Message) -> None:
    """Text, thinking and signatures, redacted data, tool uses, stop reason and usage agree."""
    assert converted.text == original.text
    assert [b.type for b in converted.content] == [b.type for b in original.content]
    for ours, theirs in zip(converted.content, original.content, strict=True):
        if isinstance(theirs, dm.ThinkingBlock):
            assert (ours.thinking, ours.signature) == (theirs.thinking, theirs.signature)
        elif isinstance(theirs, dm.RedactedThinkingBlock):
            assert ours.data == theirs.data
        elif isinstance(theirs, dm.ToolUseBlock):
            assert (ours.id, ours.name, ours.input) == (theirs.id, theirs.name, theirs.input)
            assert ours.input_json == theirs.input_json  # unparsed input: the same text
    assert (converted.stop_reason, converted.stop_sequence) == (
        original.stop_reason, original.stop_sequence)
    assert converted.usage == original.usage
    assert converted == original  # and everything else the fold compares


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")  # the SDK's, on new blocks
@pytest.mark.parametrize("entry", params())
def test_every_recording_round_trips_through_the_reader_and_writer(entry: dict[str, Any]) -> None:
    events = data_events(body(entry))
    original = dm.assemble(events)
    steps = _read(events)
    assert sum(s.__class__ is Finish for s in steps) == 1
    assert len(_of(steps, Open)) == len(_of(steps, Close)) == len(original.content)
    out = _write(steps)
    _agree(original, dm.assemble(out))
    assert dm.assemble(out).to_dict() == original.to_dict()
    if importlib.util.find_spec("anthropic") is not None:  # the SDK folds them to the same
        sdk = sdk_fold(out)  # (a server block is written whole: the SDK reads all of it too)
        wire = original.to_dict()
        unparsed = [getattr(b, "input_json", None) is not None for b in original.content]
        assert [_no_nulls(b.to_dict()) for b, cut in zip(sdk.content, unparsed, strict=True)
                if not cut] == [
            _no_nulls(b) for b, cut in zip(wire["content"], unparsed, strict=True) if not cut]
        assert (sdk.stop_reason, sdk.usage.output_tokens) == (
            wire["stop_reason"], wire["usage"]["output_tokens"])


def _no_nulls(value: Any) -> Any:
    """``value`` without the null fields (the SDK's models write every field, null or not)."""
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_no_nulls(v) for v in value]
    return value


def test_the_converter_builds_this_reader_and_writer() -> None:
    from deltafold.convert._converter import _reader, _writer

    assert isinstance(_reader("messages", None, 3), MessagesReader)
    assert isinstance(_writer("messages"), MessagesWriter)


_json = st.recursive(  # 64-bit integers: split writes them with orjson
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10,
)
_blocks = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=30)),
    st.builds(lambda t, s: {"type": "thinking", "thinking": t, "signature": s},
              st.text(max_size=30), st.text(min_size=1, max_size=12)),
    st.builds(lambda d: {"type": "redacted_thinking", "data": d}, st.text(min_size=1, max_size=12)),
    st.builds(lambda i, x: {"type": "tool_use", "id": f"toolu_{i}", "name": "f", "input": x},
              st.integers(0, 99), st.dictionaries(st.text(max_size=5), _json, max_size=3)),
    st.builds(lambda x: {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
                         "input": x}, st.dictionaries(st.text(max_size=5), _json, max_size=2)),
)
_messages = st.builds(
    lambda blocks, stop, usage: dm.Message.from_dict({
        "id": "msg_g", "type": "message", "role": "assistant", "model": "claude-g",
        "content": blocks, "stop_reason": stop[0], "stop_sequence": stop[1], "usage": usage}),
    st.lists(_blocks, max_size=5),
    st.sampled_from([("end_turn", None), ("stop_sequence", "\n\nHuman:"), ("max_tokens", None),
                     ("tool_use", None), ("refusal", None), ("something_new", None)]),
    st.fixed_dictionaries({"input_tokens": st.integers(0, 10**6),
                           "output_tokens": st.integers(0, 10**6)},
                          optional={"cache_read_input_tokens": st.integers(0, 10**6),
                                    "cache_creation_input_tokens": st.integers(0, 10**6)}),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_messages, st.integers(1, 9), st.integers(0, 2**16))
def test_generated_messages_round_trip(message: dm.Message, size: int, seed: int) -> None:
    events = dm.split(message, chunk_chars=size, seed=seed)
    _agree(dm.assemble(events), dm.assemble(_write(_read(events))))
    (finish,) = _of(_read(events), Finish)
    usage = message.usage
    assert usage is not None and finish.usage is not None
    assert finish.usage.input_tokens == usage.prompt_tokens  # cache reads and writes inside
    assert finish.usage.total_tokens == (usage.prompt_tokens or 0) + (usage.output_tokens or 0)
