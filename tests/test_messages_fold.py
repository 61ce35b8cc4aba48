"""The Messages fold rules (docs/messages.md), one test each, and the input mistakes."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import deltafold
import deltafold.messages as dm
from deltafold import (
    ChunkDecodeError,
    ContentDelta,
    EmptyStreamError,
    IncompleteStreamError,
    JSONDelta,
    JSONInvalid,
    ReasoningDelta,
    StreamError,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UsageUpdated,
    WrongFormatError,
)
from deltafold.messages import MultipleMessagesError


def start(**message: Any) -> dict[str, Any]:
    base = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1}}
    return {"type": "message_start", "message": {**base, **message}}


def block(index: int, **fields: Any) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": fields}


def delta(index: int, **fields: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": fields}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


END = [
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"output_tokens": 7}},
    {"type": "message_stop"},
]


def text_stream(*pieces: str) -> list[dict[str, Any]]:
    return [start(), block(0, type="text", text=""),
            *(delta(0, type="text_delta", text=p) for p in pieces), stop(0), *END]


def test_message_start_gives_the_message_with_its_content() -> None:
    first = start(content=[{"type": "text", "text": "kept"}], container={"id": "c1"})
    message = dm.assemble([first, block(1, type="text", text=""),
                           delta(1, type="text_delta", text=" new"), stop(1), *END])
    assert [b.text for b in message.content] == ["kept", " new"]  # type: ignore[attr-defined]
    assert message.container == {"id": "c1"} and message.model == "claude-x"


def test_a_whole_message_object_folds_and_is_complete() -> None:
    whole = start(content=[{"type": "text", "text": "Hi"}], stop_reason="end_turn")["message"]
    assert dm.assemble(whole).text == "Hi"
    assert dm.assemble(whole).to_dict() == whole


def test_text_deltas_append() -> None:
    assert dm.assemble(text_stream("Hel", "lo", "", "!")).text == "Hello!"


def test_blocks_are_addressed_by_index_not_by_arrival() -> None:
    events = [start(), block(1, type="text", text=""), block(0, type="text", text=""),
              delta(1, type="text_delta", text="second"), delta(0, type="text_delta", text="first"),
              stop(0), stop(1), *END]
    texts = [b.text for b in dm.assemble(events).content]  # type: ignore[attr-defined]
    assert texts == ["first", "second"]


@pytest.mark.parametrize(("events", "problem"), [
    ([start(), delta(0, type="text_delta", text="x")], "block 0 was never started"),
    ([start(), stop(3)], "block 3 was never started"),
    ([start(), block(0, type="text", text=""), block(0, type="text", text="")],
     "block 0 was already started"),
    ([start(), block(0, type="text", text=""), stop(0), delta(0, type="text_delta", text="x")],
     "block 0 was stopped"),
    ([start(), block(0, type="text", text=""), delta(0, type="text_delta", text=5)],
     "expected a string"),
    ([start(), block("0", type="text")], "expected a block index"),
])
def test_block_index_mistakes_are_typed_errors_with_the_partial(
    events: list[dict[str, Any]], problem: str
) -> None:
    with pytest.raises(ChunkDecodeError, match=problem) as caught:
        dm.assemble(events)
    error = caught.value
    assert error.position == len(events) - 1 and error.path
    assert isinstance(error.partial, dm.Message) and error.partial.id == "msg_1"


def test_thinking_appends_and_the_signature_is_set_once() -> None:
    events = [start(), block(0, type="thinking", thinking="", signature=""),
              delta(0, type="thinking_delta", thinking="Let me "),
              delta(0, type="thinking_delta", thinking="think."),
              delta(0, type="signature_delta", signature="sig=="), stop(0), *END]
    acc = dm.Accumulator()
    seen = [e for event in events for e in acc.feed(event)]
    thinking = acc.result().content[0]
    assert isinstance(thinking, dm.ThinkingBlock)
    assert (thinking.thinking, thinking.signature) == ("Let me think.", "sig==")
    assert ReasoningDelta(0, "think.") in seen and dm.SignatureAdded(0, "sig==") in seen
    # A snapshot twice, and the result, never double the signature or the text.
    assert acc.snapshot().content[0] == acc.snapshot().content[0] == thinking


def test_citations_delta_appends_a_citation() -> None:
    cite = {"type": "web_search_result_location", "url": "https://a.example", "cited_text": "x"}
    events = [start(), block(0, type="text", text="", citations=[]),
              delta(0, type="citations_delta", citation=cite),
              delta(0, type="text_delta", text="A fact."),
              delta(0, type="citations_delta", citation={**cite, "url": "https://b.example"}),
              stop(0), *END]
    text = dm.assemble(events).content[0]
    assert isinstance(text, dm.TextBlock) and text.text == "A fact."
    assert [c["url"] for c in text.citations or []] == ["https://a.example", "https://b.example"]


def tool_stream(*fragments: str, input: Any = None) -> list[dict[str, Any]]:
    given = {} if input is None else input
    first = block(0, type="tool_use", id="toolu_1", name="get", input=given)
    pieces = [delta(0, type="input_json_delta", partial_json=f) for f in fragments]
    return [start(), first, *pieces, stop(0), *END]


@pytest.mark.parametrize("parse_json", [False, True])
def test_input_json_fragments_become_the_parsed_input(parse_json: bool) -> None:
    events = tool_stream("", '{"city": "Pa', 'ris", "days": [1', ', 2], "deep": {"a": null}}')
    call = dm.assemble(events, parse_json=parse_json).content[0]
    assert isinstance(call, dm.ToolUseBlock)
    assert call.input == {"city": "Paris", "days": [1, 2], "deep": {"a": None}}
    assert call.input_json is None and call.parse_error is None


def test_an_empty_input_buffer_keeps_the_starts_input() -> None:
    assert dm.assemble(tool_stream("", " ")).content[0].input == {}  # type: ignore[attr-defined]
    kept = dm.assemble(tool_stream(input={"q": 1})).content[0]
    assert kept.input == {"q": 1}  # type: ignore[attr-defined]


@pytest.mark.parametrize("parse_json", [False, True])
def test_invalid_input_keeps_the_text_and_reports_the_error(parse_json: bool) -> None:
    call = dm.assemble(tool_stream('{"a": 1,', ' oops}'), parse_json=parse_json).content[0]
    assert isinstance(call, dm.ToolUseBlock)
    assert call.input_json == '{"a": 1, oops}'
    assert call.parse_error is not None and call.parse_error.position == 9
    assert call.input == {"a": 1}  # what was read before the fault, as chat's ``parsed``
    with pytest.raises(deltafold.JSONParseError, match="the input of get"):
        call.parse_input(dict)


def test_parse_json_gives_the_live_partial_input_and_events() -> None:
    acc = dm.Accumulator(parse_json=True)
    out: list[Any] = []
    for event in tool_stream('{"city": "Pa', 'ris"}')[:3]:
        out += acc.feed(event)
    parser = acc.partial_json(0, 0)
    assert parser is not None and parser.value == {"city": "Pa"}
    assert acc.snapshot().content[0].input == {"city": "Pa"}  # type: ignore[attr-defined]
    assert ToolCallStarted(0, 0, "toolu_1", "get") in out
    assert ToolCallArgumentsDelta(0, 0, '{"city": "Pa') in out
    assert any(isinstance(e, JSONDelta) and e.tool_index == 0 for e in out)
    for event in tool_stream('{"city": "Pa', 'ris"}')[3:]:
        out += acc.feed(event)
    assert ToolCallDone(0, 0, "toolu_1", "get", '{"city": "Paris"}') in out
    assert dm.Accumulator().partial_json(0, 0) is None


def test_invalid_input_with_parse_json_reports_json_invalid_once() -> None:
    acc = dm.Accumulator(parse_json=True)
    events = [e for ev in tool_stream("[1,", "x", "y]") for e in acc.feed(ev)]
    assert sum(isinstance(e, JSONInvalid) for e in events) == 1


def test_parse_input_structures_into_a_class() -> None:
    @attrs.define
    class Weather:
        city: str
        days: int

    call = dm.assemble(tool_stream('{"city": "Oslo", "days": 3}')).content[0]
    assert call.parse_input(Weather) == Weather("Oslo", 3)  # type: ignore[attr-defined]
    bad = dm.assemble(tool_stream('{"city": "Oslo", "days": "3"}')).content[0]
    with pytest.raises(deltafold.StructuredOutputError, match="days"):
        bad.parse_input(Weather)  # type: ignore[attr-defined]


def test_message_delta_merges_field_by_field() -> None:
    events = [start(usage={"input_tokens": 5, "cache_read_input_tokens": 100, "output_tokens": 1}),
              {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None,
                                                  "container": {"id": "c"}, "novel": 1},
               "usage": {"output_tokens": 3}, "context_management": {"applied_edits": []}},
              {"type": "message_delta", "delta": {"stop_reason": None},
               "usage": {"output_tokens": 9, "input_tokens": 6,
                         "server_tool_use": {"web_search_requests": 2}}},
              {"type": "message_stop"}]
    acc = dm.Accumulator()
    seen = [e for event in events for e in acc.feed(event)]
    message = acc.result()
    assert message.stop_reason == "tool_use"  # a null never erases
    assert message.container == {"id": "c"} and message.extra == {"novel": 1}
    assert message.context_management == {"applied_edits": []}
    usage = message.usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == (6, 9, 100)
    assert usage.server_tool_use == dm.ServerToolUsage(web_search_requests=2)
    assert deltafold.ChoiceFinished(0, "tool_use") in seen
    last = [e for e in seen if isinstance(e, UsageUpdated)][-1].usage
    assert (last.prompt_tokens, last.completion_tokens, last.total_tokens) == (106, 9, 115)


def test_ping_is_ignored_and_unknown_events_and_deltas_are_kept() -> None:
    events = [start(), {"type": "ping"}, block(0, type="compaction", content=None),
              delta(0, type="compaction_delta", content="summary"), stop(0),
              {"type": "future_event", "x": 1}, *END]
    message = dm.assemble(events)
    assert message.content[0] == dm.Block(type="compaction", extra={"content": "summary"})
    assert [e["type"] for e in message.unknown_events] == ["content_block_delta", "future_event"]


@pytest.mark.parametrize("event", [
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    {"error": {"type": "overloaded_error", "message": "Overloaded"}},  # the core's event: error
])
def test_an_error_event_raises_stream_error_with_the_partial(event: dict[str, Any]) -> None:
    with pytest.raises(StreamError, match="Overloaded") as caught:
        dm.assemble([*text_stream("Hi")[:3], event])
    assert caught.value.code == "overloaded_error"
    assert caught.value.partial.text == "Hi"


def test_an_sse_error_event_raises_stream_error() -> None:
    body = b"".join(dm.to_sse(text_stream("Hi")[:3])) + (
        b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n'
    )
    with pytest.raises(StreamError, match="boom") as caught:
        dm.assemble_sse(body)
    assert caught.value.partial.text == "Hi"


def test_no_message_stop_is_incomplete_unless_strict_is_off() -> None:
    cut = text_stream("Hi", " there")[:4]
    match = r"without message_stop; blocks \[0\]"
    with pytest.raises(IncompleteStreamError, match=match) as caught:
        dm.assemble(cut)
    assert caught.value.partial.text == "Hi there"
    partial = dm.assemble(cut, strict=False)
    assert partial.text == "Hi there" and partial.stop_reason is None


def test_several_messages_need_assemble_all() -> None:
    two = [*text_stream("one"), *text_stream("two")]
    with pytest.raises(MultipleMessagesError, match=r"deltafold\.messages\.assemble_all") as caught:
        dm.assemble(two)
    assert caught.value.partial.text == "one"
    body = b"".join(dm.to_sse(two))
    assert [m.text for m in dm.assemble_all(body)] == ["one", "two"]
    assert [m.text for m in dm.assemble_all(two)] == ["one", "two"]
    assert [m.text for m in dm.assemble_all(text_stream("solo"))] == ["solo"]


def test_a_second_message_start_before_the_stop_is_an_error() -> None:
    with pytest.raises(ChunkDecodeError, match="second message_start"):
        dm.assemble([*text_stream("one")[:4], start()])


@pytest.mark.parametrize(("item", "names"), [
    ({"id": "c", "object": "chat.completion.chunk", "choices": []}, "deltafold.assemble()"),
    ({"type": "response.created", "response": {}}, "deltafold.responses.assemble()"),
])
def test_another_formats_stream_is_refused_naming_its_function(
    item: dict[str, Any], names: str
) -> None:
    with pytest.raises(WrongFormatError, match=names.replace("(", r"\(").replace(")", r"\)")):
        dm.assemble([item])


def test_a_messages_stream_given_to_chat_names_this_package() -> None:
    with pytest.raises(WrongFormatError, match=r"deltafold\.messages\.assemble"):
        deltafold.assemble(text_stream("x"))


@pytest.mark.parametrize("src", [b"", b"   ", [], b": keep-alive\n\n", [{"type": "ping"}]])
def test_empty_input_is_a_clear_error(src: Any) -> None:
    with pytest.raises(EmptyStreamError, match="no Messages event"):
        dm.assemble(src)


def test_events_for_a_text_and_tool_stream() -> None:
    acc = dm.Accumulator()
    out = [e for event in text_stream("a", "b") for e in acc.feed(event)]
    kinds = [type(e).__name__ for e in out]
    assert kinds == ["UsageUpdated", "BlockStarted", "ContentDelta", "ContentDelta",
                     "BlockStopped", "UsageUpdated", "ChoiceFinished"]
    assert out[2] == ContentDelta(0, "a")
    tool_acc = dm.Accumulator()
    tools = [e for event in tool_stream('{"a"', ": 1}") for e in tool_acc.feed(event)]
    stopped = next(e for e in tools if isinstance(e, dm.BlockStopped))
    assert stopped.block.input == {"a": 1}  # type: ignore[attr-defined]


def test_a_block_never_stopped_is_finished_at_the_end() -> None:
    events = tool_stream('{"a": [1, 2]}')
    del events[3]  # the content_block_stop
    acc = dm.Accumulator()
    for event in events:
        acc.add(event)
    assert acc.close()[-1] == ToolCallDone(0, 0, "toolu_1", "get", '{"a": [1, 2]}')
    assert acc.result().content[0].input == {"a": [1, 2]}  # type: ignore[attr-defined]


def test_limits_hold_for_text() -> None:
    with pytest.raises(deltafold.LimitExceededError) as caught:
        dm.assemble(text_stream("abc", "def"), limits=deltafold.Limits(max_field_chars=4))
    assert caught.value.partial.text == "abcdef"  # with the event that crossed it, as for chat


def test_fold_passes_events_through_and_folds_them() -> None:
    events = text_stream("Hi")
    folding = dm.fold(iter(events))
    assert list(folding) == events
    assert folding.completion.text == "Hi"


@pytest.mark.anyio
async def test_afold_folds_an_async_source() -> None:
    async def source() -> Any:
        for event in text_stream("a", "sync"):
            yield event

    folding = dm.afold(source())
    assert await folding.until_done() == dm.assemble(text_stream("a", "sync"))


def test_summary_counts_tokens_the_openai_way() -> None:
    message = dm.assemble([
        start(usage={"input_tokens": 5, "cache_read_input_tokens": 100,
                     "cache_creation_input_tokens": 20, "output_tokens": 1}),
        *text_stream("x")[1:],
    ])
    summary = dm.MESSAGES.summarize(message)
    assert (summary.input_tokens, summary.output_tokens, summary.cached_tokens) == (125, 7, 100)
    assert summary.finish_reason == "end_turn" and summary.content == "x"
    assert summary.provider == "anthropic"


def test_model_round_trip_keeps_nulls_unknown_fields_and_unknown_blocks() -> None:
    wire = {"id": "m", "type": "message", "role": "assistant", "model": "x", "content": [
        {"type": "text", "text": "", "citations": None},
        {"type": "tool_use", "id": "t", "name": "n", "input": {}, "caller": {"type": "direct"}},
        {"type": "thinking", "thinking": "t", "signature": "s"},
        {"type": "redacted_thinking", "data": "zz"},
        {"type": "mcp_tool_result", "tool_use_id": "t", "is_error": False, "content": [{}]},
        {"type": "brand_new", "payload": [1, 2]},
        {"type": "text", "text": 5},
    ], "stop_reason": None, "stop_sequence": None, "container": None,
        "usage": {"input_tokens": 1, "output_tokens": 2, "cache_creation":
                  {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 3},
                  "service_tier": "standard", "inference_geo": "us"}, "novel": True}
    message = dm.Message.from_dict(wire)
    assert message.to_dict() == wire
    kinds = [type(b).__name__ for b in message.content]
    assert kinds == ["TextBlock", "ToolUseBlock", "ThinkingBlock", "RedactedThinkingBlock",
                     "MCPToolResultBlock", "Block", "TextBlock"]
    assert message.content[6].extra == {"text": 5}  # a wrong type is kept, not dropped
    assert message.usage is not None and message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 3
    assert deltafold.to_dict(message) == wire
