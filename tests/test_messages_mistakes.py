"""Anthropic Messages edge cases held-out recordings may carry, each with its exact fold.

Where the Anthropic SDK's ``accumulate_event`` defines the behaviour, the fold
agrees with it (checked here on the same events); where it does not, the comment
says why the SDK is wrong.
"""

from __future__ import annotations

from typing import Any

import pytest

import deltafold.messages as dm
from deltafold import ChunkDecodeError, IncompleteStreamError, StreamError
from messages_corpus import sdk_fold


def start(**fields: Any) -> dict[str, Any]:
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "c", "content": [],
               "stop_reason": None, "stop_sequence": None,
               "usage": {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 5}}
    message.update(fields)
    return {"type": "message_start", "message": message}


def block(index: Any, content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": content}


def delta(index: Any, change: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": change}


def stop(index: Any) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


END_TURN = {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 7}}
STOP = {"type": "message_stop"}
USAGE = {"input_tokens": 10, "output_tokens": 7, "cache_read_input_tokens": 5}


def folded(*events: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """The message folded from ``events``, as its wire dict (also through SSE: the same)."""
    message = dm.assemble(list(events), **kw)
    assert dm.assemble_sse(b"".join(dm.to_sse(list(events)))) == message
    return message.to_dict()


def content(*events: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    return folded(start(), *events, END_TURN, STOP, **kw)["content"]  # type: ignore[no-any-return]


def sdk_content(*events: dict[str, Any]) -> list[dict[str, Any]]:
    snapshot = sdk_fold([start(), *events, END_TURN, STOP])
    return [b.to_dict() for b in snapshot.content]


THINK = {"type": "thinking", "thinking": "", "signature": ""}
TOOL = {"type": "tool_use", "id": "t", "name": "f", "input": {}}


@pytest.mark.parametrize("signature_first", [True, False])
def test_signature_before_or_after_the_thinking(signature_first: bool) -> None:
    thinking, signature = delta(0, {"type": "thinking_delta", "thinking": "hm"}), delta(
        0, {"type": "signature_delta", "signature": "S1"})
    events = (signature, thinking) if signature_first else (thinking, signature)
    expected = [{"type": "thinking", "thinking": "hm", "signature": "S1"}]
    assert content(block(0, THINK), *events, stop(0)) == expected
    assert sdk_content(block(0, THINK), *events, stop(0)) == expected


def test_a_second_signature_replaces_never_doubles() -> None:
    events = (block(0, THINK), delta(0, {"type": "signature_delta", "signature": "S1"}),
              delta(0, {"type": "signature_delta", "signature": "S2"}), stop(0))
    assert content(*events) == [{"type": "thinking", "thinking": "", "signature": "S2"}]
    assert content(*events) == sdk_content(*events)


def test_redacted_thinking_is_kept_whole() -> None:
    events = (block(0, {"type": "redacted_thinking", "data": "ENC"}), stop(0))
    expected = [{"type": "redacted_thinking", "data": "ENC"}]
    assert content(*events) == expected == sdk_content(*events)


@pytest.mark.parametrize("parse_json", [False, True])
def test_a_tool_use_without_input_deltas_keeps_its_start_input(parse_json: bool) -> None:
    assert content(block(0, TOOL), stop(0), parse_json=parse_json) == [TOOL]
    assert content(block(0, {**TOOL, "input": {"x": 1}}), stop(0), parse_json=parse_json) == [
        {**TOOL, "input": {"x": 1}}]
    assert sdk_content(block(0, TOOL), stop(0)) == [TOOL]


@pytest.mark.parametrize("parse_json", [False, True])
def test_input_json_split_inside_a_unicode_escape_and_a_surrogate_pair(parse_json: bool) -> None:
    pieces = ['{"a": "\\ud83d', '\\ude00 \\u00', 'e9", "b": "\\', 'u00', 'e8"}']
    events = (block(0, TOOL), *(delta(0, {"type": "input_json_delta", "partial_json": p})
                                for p in pieces), stop(0))
    expected = [{**TOOL, "input": {"a": "\U0001f600 \u00e9", "b": "\u00e8"}}]
    assert content(*events, parse_json=parse_json) == expected == sdk_content(*events)


def test_citations_delta_appends_a_citation() -> None:
    citation = {"type": "char_location", "cited_text": "x", "document_index": 0,
                "start_char_index": 0, "end_char_index": 1}
    events = (block(0, {"type": "text", "text": "", "citations": None}),
              delta(0, {"type": "citations_delta", "citation": citation}),
              delta(0, {"type": "text_delta", "text": "T"}),
              delta(0, {"type": "citations_delta", "citation": {**citation, "cited_text": "y"}}),
              stop(0))
    expected = [{"type": "text", "text": "T",
                 "citations": [citation, {**citation, "cited_text": "y"}]}]
    assert content(*events) == expected == sdk_content(*events)


def test_message_delta_usage_merges_field_by_field() -> None:
    second = {"type": "message_delta", "delta": {},
              "usage": {"output_tokens": 9, "input_tokens": None, "cache_creation_input_tokens": 3}}
    message = folded(start(), END_TURN, second, STOP)
    # output_tokens replaced (cumulative); input kept (null never erases); cache added.
    assert message["usage"] == {"input_tokens": 10, "output_tokens": 9,
                                "cache_creation_input_tokens": 3, "cache_read_input_tokens": 5}
    # The stop reason of the first delta survives a later delta without one. The SDK sets
    # stop_reason from every message_delta, so an empty later delta erases it (its bug).
    assert message["stop_reason"] == "end_turn"
    assert sdk_fold([start(), END_TURN, second, STOP]).stop_reason is None


def test_cache_creation_split_is_kept() -> None:
    usage = {"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 30,
             "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20}}
    message = dm.assemble([start(usage=usage), END_TURN, STOP])
    assert message.to_dict()["usage"] == {**usage, "output_tokens": 7}
    assert message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 20
    assert dm.MESSAGES.summarize(message).input_tokens == 31


def test_an_unknown_delta_type_is_kept_not_raised() -> None:
    odd = delta(0, {"type": "future_delta", "foo": 1})
    message = dm.assemble([start(), block(0, {"type": "text", "text": ""}), odd, stop(0), END_TURN,
                           STOP])
    assert message.to_dict()["content"] == [{"type": "text", "text": "", "foo": 1}]
    assert message.unknown_events == [odd]


def test_an_error_event_mid_stream_raises_with_the_partial() -> None:
    events = [start(), block(0, {"type": "text", "text": ""}),
              delta(0, {"type": "text_delta", "text": "par"}),
              {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}]
    with pytest.raises(StreamError) as info:
        dm.assemble(events)
    assert info.value.code == "overloaded_error"
    assert "event 3" in str(info.value)
    assert info.value.partial.text == "par"


def test_no_message_stop_is_incomplete_with_the_partial() -> None:
    events = [start(), block(0, {"type": "text", "text": ""}),
              delta(0, {"type": "text_delta", "text": "par"}), stop(0), END_TURN]
    with pytest.raises(IncompleteStreamError) as info:
        dm.assemble(events)
    assert info.value.partial.text == "par"
    assert info.value.partial.stop_reason == "end_turn"
    assert dm.assemble(events, strict=False).text == "par"


@pytest.mark.parametrize(
    ("events", "position", "said"),
    [
        ([delta(0, {"type": "text_delta", "text": "x"})], 1, "block 0 was never started"),
        ([block(0, {"type": "text", "text": "a"}), block(0, {"type": "text", "text": "b"})], 2,
         "block 0 was already started"),
        ([block(0, {"type": "text", "text": ""}), stop(0),
          delta(0, {"type": "text_delta", "text": "late"})], 3, "block 0 was stopped"),
        ([block("0", {"type": "text", "text": "a"})], 1, "expected a block index (int), got '0'"),
        ([block(True, {"type": "text", "text": "a"})], 1, "expected a block index (int), got True"),
        ([{"type": "content_block_start", "index": 0}], 1, "expected an object with a type"),
        ([block(0, {"type": "text", "text": ""}), delta(0, {"type": "text_delta", "text": 5})], 2,
         "expected a string"),
        ([start()], 1, "a second message_start before message_stop"),
    ],
    ids=["unstarted", "taken", "after stop", "str index", "bool index", "no block", "int text",
         "second start"],
)
def test_block_faults_are_typed_with_position_path_and_partial(
    events: list[dict[str, Any]], position: int, said: str
) -> None:
    with pytest.raises(ChunkDecodeError) as info:
        dm.assemble([start(), *events, END_TURN, STOP])
    assert said in str(info.value), str(info.value)
    assert info.value.position == position
    assert info.value.path is not None
    assert info.value.partial is not None and info.value.partial.id == "msg_1"


def test_blocks_are_addressed_by_index_not_arrival() -> None:
    # A gap in the indexes: the block keeps its own index; the SDK appends by arrival and a
    # later delta for index 2 would address a block that is not there (its bug).
    events = (block(2, {"type": "text", "text": ""}), delta(2, {"type": "text_delta", "text": "a"}),
              stop(2))
    assert content(*events) == [{"type": "text", "text": "a"}]
    with pytest.raises(IndexError):
        sdk_content(*events)


def test_server_tool_use_and_its_result() -> None:
    result = {"type": "web_search_tool_result", "tool_use_id": "s", "content": [
        {"type": "web_search_result", "url": "u", "title": "t", "encrypted_content": "e"}]}
    events = (block(0, {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}),
              delta(0, {"type": "input_json_delta", "partial_json": '{"query":'}),
              delta(0, {"type": "input_json_delta", "partial_json": ' "q"}'}), stop(0),
              block(1, result), stop(1))
    expected = [{"type": "server_tool_use", "id": "s", "name": "web_search",
                 "input": {"query": "q"}}, result]
    assert content(*events) == expected == sdk_content(*events)
    message = dm.assemble([start(), *events, END_TURN, STOP])
    assert isinstance(message.content[0], dm.ServerToolUseBlock)
    assert isinstance(message.content[1], dm.WebSearchToolResultBlock)


def test_invalid_tool_input_keeps_its_text_and_the_error() -> None:
    events = [start(), block(0, TOOL), delta(0, {"type": "input_json_delta",
                                                  "partial_json": '{"a": 1, "b'}),
              stop(0), END_TURN, STOP]
    call = dm.assemble(events).content[0]
    assert isinstance(call, dm.ToolUseBlock)
    assert call.input == {"a": 1}  # what was read before the fault, as chat's parsed
    assert call.input_json == '{"a": 1, "b'
    assert call.parse_error is not None


def test_pings_and_events_after_message_stop_change_nothing() -> None:
    events = [start(), {"type": "ping"}, block(0, {"type": "text", "text": ""}),
              delta(0, {"type": "text_delta", "text": "a"}), stop(0), END_TURN, STOP,
              {"type": "ping"}]
    assert dm.assemble(events).to_dict() == {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "c",
        "content": [{"type": "text", "text": "a"}], "stop_reason": "end_turn",
        "stop_sequence": None, "usage": USAGE}


def test_several_messages_need_assemble_all() -> None:
    second = start(id="msg_2")
    events = [start(), END_TURN, STOP, second, END_TURN, STOP]
    with pytest.raises(dm.MultipleMessagesError, match=r"deltafold\.messages\.assemble_all"):
        dm.assemble(events)
    assert [m.id for m in dm.assemble_all(events)] == ["msg_1", "msg_2"]
