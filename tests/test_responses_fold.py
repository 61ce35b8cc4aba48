"""The Responses fold's rules, one test each, driven with literal events (docs/responses.md)."""

from __future__ import annotations

from typing import Any

import pytest

from deltafold import (
    AnnotationAdded,
    ChunkDecodeError,
    ContentDelta,
    EmptyStreamError,
    IncompleteStreamError,
    LimitExceededError,
    Limits,
    ReasoningDelta,
    RefusalDelta,
    StreamError,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UsageUpdated,
)
from deltafold.responses import (
    Accumulator,
    FunctionCall,
    ImageGenerationCall,
    Message,
    MultipleResponsesError,
    OutputItemAdded,
    OutputItemDone,
    PartialImageAdded,
    Reasoning,
    ResponseStatusChanged,
    SequenceGap,
    assemble,
    assemble_all,
)

RESP = {"id": "resp_1", "object": "response", "model": "m", "status": "in_progress", "output": []}


def created(**fields: Any) -> dict[str, Any]:
    return {"type": "response.created", "response": {**RESP, **fields}}


def completed(**fields: Any) -> dict[str, Any]:
    return {"type": "response.completed", "response": {**RESP, "status": "completed", **fields}}


def added(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def done(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def text_delta(delta: str, index: int = 0, content: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta", "output_index": index, "content_index": content,
        "delta": delta, **extra,
    }


def fold(events: list[dict[str, Any]], strict: bool = True) -> Any:
    return assemble([created(), *events, completed()] if strict else events, strict=strict)


# --- keys ----------------------------------------------------------------------------------


def test_items_are_keyed_by_output_index_never_by_item_id() -> None:
    events = [
        added(0, {"type": "message", "id": "msg_a", "content": []}),
        text_delta("Hel", item_id="msg_x"),
        text_delta("lo", item_id="msg_y"),
    ]
    response = fold(events)
    assert len(response.output) == 1
    assert response.output_text == "Hello"
    assert response.output[0].id == "msg_a"


def test_parts_are_keyed_by_content_index_and_summaries_by_summary_index() -> None:
    events = [
        text_delta("a", content=0), text_delta("b", content=1), text_delta("c", content=0),
        *[
            {"type": "response.reasoning_summary_text.delta", "output_index": 1,
             "summary_index": n, "delta": d}
            for n, d in ((1, "second"), (0, "first"))
        ],
    ]
    response = fold(events)
    assert [p.text for p in response.output[0].content] == ["ac", "b"]
    assert isinstance(response.output[1], Reasoning)
    assert [p.text for p in response.output[1].summary] == ["first", "second"]


# --- deltas and .done ----------------------------------------------------------------------


def test_every_delta_appends_and_a_done_text_is_authoritative() -> None:
    base = [text_delta("draft")]
    assert fold(base).output_text == "draft"
    fixed = {"type": "response.output_text.done", "output_index": 0, "content_index": 0,
             "text": "final"}
    assert fold([*base, fixed]).output_text == "final"


def test_text_that_arrives_only_in_done_events_is_kept() -> None:
    events = [
        {"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": "t"},
        {"type": "response.function_call_arguments.done", "output_index": 1,
         "arguments": '{"a": 1}'},
        {"type": "response.reasoning_summary_text.done", "output_index": 2, "summary_index": 0,
         "text": "s"},
    ]
    response = fold(events)
    assert response.output_text == "t"
    assert isinstance(response.output[1], FunctionCall)
    assert response.output[1].arguments == '{"a": 1}'
    assert response.output[2].summary[0].text == "s"


def test_an_empty_done_text_keeps_the_folded_text() -> None:
    events = [
        text_delta("kept"),
        {"type": "response.output_text.done", "output_index": 0, "content_index": 0, "text": ""},
        done(0, {"type": "message", "status": "completed",
                 "content": [{"type": "output_text", "text": ""}]}),
    ]
    response = fold(events)
    assert response.output_text == "kept"
    assert response.output[0].status == "completed"


def test_item_done_gives_the_final_form_and_wins_for_fields_it_carries() -> None:
    events = [
        added(0, {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f",
                  "arguments": "", "status": "in_progress"}),
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{}"},
        done(0, {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "g",
                 "status": "completed", "extra_field": 1}),
    ]
    item = fold(events).output[0]
    assert (item.name, item.arguments, item.status) == ("g", "{}", "completed")
    assert item.extra == {"extra_field": 1}


def test_refusal_reasoning_text_custom_input_code_and_mcp_arguments_append() -> None:
    events = [
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "No"},
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 0, "delta": "pe"},
        {"type": "response.reasoning_text.delta", "output_index": 1, "content_index": 0,
         "delta": "think"},
        {"type": "response.custom_tool_call_input.delta", "output_index": 2, "delta": "x=1"},
        {"type": "response.code_interpreter_call_code.delta", "output_index": 3, "delta": "pr"},
        {"type": "response.code_interpreter_call_code.delta", "output_index": 3, "delta": "int"},
        {"type": "response.mcp_call_arguments.delta", "output_index": 4, "delta": "{}"},
    ]
    out = fold(events).output
    assert out[0].content[0].refusal == "Nope"
    assert out[1].content[0].text == "think"
    assert (out[2].type, out[2].input) == ("custom_tool_call", "x=1")
    assert (out[3].type, out[3].code) == ("code_interpreter_call", "print")
    assert (out[4].type, out[4].arguments) == ("mcp_call", "{}")


def test_content_parts_annotations_and_logprobs() -> None:
    cite = {"type": "url_citation", "url": "https://x.test", "start_index": 0, "end_index": 2}
    events = [
        {"type": "response.content_part.added", "output_index": 0, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": []}},
        text_delta("Hi", logprobs=[{"token": "Hi", "logprob": -0.1, "top_logprobs": []}]),
        {"type": "response.output_text.annotation.added", "output_index": 0, "content_index": 0,
         "annotation_index": 0, "annotation": cite},
    ]
    part = fold(events).output[0].content[0]
    assert part.annotations[0].url == "https://x.test"
    assert part.logprobs[0].token == "Hi"


def test_shell_commands_append_by_command_index() -> None:
    events = [
        added(0, {"type": "shell_call", "call_id": "c", "action": {"commands": []}}),
        {"type": "response.shell_call_command.added", "output_index": 0, "command_index": 0,
         "command": ""},
        {"type": "response.shell_call_command.delta", "output_index": 0, "command_index": 0,
         "delta": "l"},
        {"type": "response.shell_call_command.delta", "output_index": 0, "command_index": 0,
         "delta": "s"},
        {"type": "response.shell_call_command.delta", "output_index": 0, "command_index": 1,
         "delta": "pwd"},
    ]
    assert fold(events).output[0].action["commands"] == ["ls", "pwd"]


def test_partial_images_are_kept_in_order() -> None:
    events = [
        added(0, {"type": "image_generation_call", "status": "in_progress"}),
        *[
            {"type": "response.image_generation_call.partial_image", "output_index": 0,
             "partial_image_index": n, "partial_image_b64": b}
            for n, b in ((1, "BBB"), (0, "AAA"))
        ],
        done(0, {"type": "image_generation_call", "status": "completed", "result": "FINAL"}),
    ]
    item = fold(events).output[0]
    assert isinstance(item, ImageGenerationCall)
    assert (item.result, item.partial_images) == ("FINAL", ["AAA", "BBB"])
    assert "partial_images" not in item.to_dict()


def test_progress_events_set_a_status_the_item_has() -> None:
    events = [
        added(0, {"type": "web_search_call", "status": "in_progress"}),
        {"type": "response.web_search_call.searching", "output_index": 0},
        added(1, {"type": "mcp_list_tools", "server_label": "s", "tools": []}),
        {"type": "response.mcp_list_tools.completed", "output_index": 1},
    ]
    out = fold(events).output
    assert out[0].status == "searching"
    assert "status" not in out[1].to_dict()


# --- response level ------------------------------------------------------------------------


def test_lifecycle_events_update_fields_and_null_does_not_erase() -> None:
    events = [
        created(instructions="be brief", temperature=0.5),
        {"type": "response.in_progress",
         "response": {**RESP, "instructions": None, "temperature": 0.7}},
    ]
    response = assemble(events, strict=False)
    assert (response.instructions, response.temperature) == ("be brief", 0.7)


def test_terminal_sets_status_usage_and_reconciles_its_output() -> None:
    usage = {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8,
             "input_tokens_details": {"cached_tokens": 1},
             "output_tokens_details": {"reasoning_tokens": 2}}
    final_item = {"type": "message", "id": "m", "status": "completed",
                  "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}
    events = [created(), text_delta("Hel"), completed(usage=usage, output=[final_item])]
    response = assemble(events)
    assert response.status == "completed"
    assert response.usage is not None and response.usage.input_tokens_details is not None
    assert response.usage.input_tokens_details.cached_tokens == 1
    assert response.output_text == "Hello"
    assert response.output[0].id == "m"


def test_an_empty_or_missing_terminal_output_keeps_the_folded_items() -> None:
    for terminal in (completed(output=[]), {"type": "response.completed", "response": {}}):
        response = assemble([created(), text_delta("kept"), terminal])
        assert response.output_text == "kept"


def test_a_terminal_item_of_another_type_replaces_the_folded_one() -> None:
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    response = assemble([created(), text_delta("x"), completed(output=[call])])
    assert isinstance(response.output[0], FunctionCall)


def test_incomplete_is_a_result_with_its_reason() -> None:
    terminal = {"type": "response.incomplete", "response": {
        **RESP, "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}
    response = assemble([created(), text_delta("cut"), terminal])
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_failed_raises_stream_error_with_the_partial() -> None:
    terminal = {"type": "response.failed", "response": {
        **RESP, "status": "failed", "error": {"code": "server_error", "message": "boom"}}}
    with pytest.raises(StreamError) as info:
        assemble([created(), text_delta("so far"), terminal])
    assert info.value.code == "server_error" and info.value.message == "boom"
    assert info.value.partial is not None
    assert info.value.partial.output_text == "so far"  # type: ignore[attr-defined]


def test_an_error_event_raises_stream_error_with_the_partial() -> None:
    error = {"type": "error", "code": "rate_limit_exceeded", "message": "slow down",
             "param": None, "sequence_number": 3}
    with pytest.raises(StreamError) as info:
        assemble([created(), text_delta("a"), error])
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.partial.output_text == "a"  # type: ignore[union-attr]


def test_a_stream_without_terminal_event_is_incomplete_with_the_partial() -> None:
    with pytest.raises(IncompleteStreamError) as info:
        assemble([created(), text_delta("half")])
    assert not isinstance(info.value, EmptyStreamError)
    assert info.value.partial.output_text == "half"  # type: ignore[union-attr]
    assert assemble([created(), text_delta("half")], strict=False).output_text == "half"


def test_no_event_at_all_is_an_empty_stream() -> None:
    for src in ([], b"", b": keep-alive\n\n", [{"type": "something.else"}]):
        with pytest.raises(EmptyStreamError):
            assemble(src)  # type: ignore[arg-type]


def test_events_after_the_terminal_one_are_tolerated() -> None:
    late = [{"type": "keepalive", "sequence_number": 9},
            {"type": "response.rate_limits.updated", "rate_limits": []}]
    response = assemble([created(), text_delta("x"), completed(), *late])
    assert response.output_text == "x"
    assert response.unknown_events == [late[1]]


def test_a_second_response_needs_assemble_all() -> None:
    two = [created(), text_delta("one"), completed(),
           created(id="resp_2"), text_delta("two"), completed(id="resp_2")]
    with pytest.raises(MultipleResponsesError, match="assemble_all"):
        assemble(two)
    first, second = assemble_all(two)
    assert (first.id, first.output_text) == ("resp_1", "one")
    assert (second.id, second.output_text) == ("resp_2", "two")


def test_sequence_numbers_drop_replays_and_note_gaps() -> None:
    events = [{**created(), "sequence_number": 0}, text_delta("a", sequence_number=1),
              text_delta("a", sequence_number=1), text_delta("b", sequence_number=4),
              {**completed(), "sequence_number": 5}]
    acc = Accumulator()
    seen = [e for event in events for e in acc.feed(event)]
    response = acc.result()
    assert response.output_text == "ab"
    assert response.sequence_gaps == [(1, 4)]
    assert acc.replayed == 1
    assert SequenceGap(1, 4) in seen


def test_unknown_event_types_are_kept_as_they_came() -> None:
    odd = {"type": "response.future_thing.delta", "output_index": 0, "delta": "?"}
    assert fold([text_delta("x"), odd]).unknown_events == [odd]


# --- typed events --------------------------------------------------------------------------


def test_events_reuse_the_chat_classes_where_the_meaning_is_the_same() -> None:
    acc = Accumulator()
    events = [
        created(),
        added(0, {"type": "function_call", "call_id": "c1", "name": "f", "arguments": ""}),
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{"},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "}"},
        done(0, {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}),
        text_delta("Hi", index=1),
        {"type": "response.refusal.delta", "output_index": 1, "content_index": 1, "delta": "no"},
        {"type": "response.reasoning_summary_text.delta", "output_index": 2, "delta": "hm"},
        {"type": "response.output_text.annotation.added", "output_index": 1,
         "content_index": 0, "annotation": {"type": "url_citation", "url": "u"}},
        completed(usage={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3,
                         "output_tokens_details": {"reasoning_tokens": 1}}),
    ]
    out = [e for event in events for e in acc.feed(event)]
    kinds = [type(e) for e in out]
    assert kinds[0] is ResponseStatusChanged
    assert ToolCallStarted(0, 0, "c1", "f") in out
    assert ToolCallArgumentsDelta(0, 0, "{") in out
    assert ToolCallDone(0, 0, "c1", "f", "{}") in out
    assert ContentDelta(0, "Hi") in out and RefusalDelta(0, "no") in out
    assert ReasoningDelta(0, "hm") in out
    assert AnnotationAdded(0, {"type": "url_citation", "url": "u"}) in out
    usage = next(e for e in out if isinstance(e, UsageUpdated)).usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (1, 2)
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 1
    assert {OutputItemAdded, OutputItemDone} <= set(kinds)
    assert isinstance(next(e for e in out if isinstance(e, OutputItemDone)).item, FunctionCall)
    assert acc.close() == []  # the call was done already


def test_close_finishes_calls_that_never_got_their_done() -> None:
    acc = Accumulator()
    acc.feed({"type": "response.function_call_arguments.delta", "output_index": 3, "delta": "{}"})
    assert acc.close() == [ToolCallDone(0, 3, "", "", "{}")]
    assert acc.close() == []


def test_partial_image_event() -> None:
    event = {"type": "response.image_generation_call.partial_image", "output_index": 2,
             "partial_image_index": 0, "partial_image_b64": "AA"}
    assert Accumulator().feed(event) == [PartialImageAdded(2, 0, "AA")]


# --- bad input -----------------------------------------------------------------------------


def test_a_malformed_event_is_a_chunk_decode_error_with_the_partial() -> None:
    acc = Accumulator()
    acc.feed(text_delta("ok"))
    with pytest.raises(ChunkDecodeError) as info:
        acc.feed(text_delta(5))  # type: ignore[arg-type]
    assert info.value.position == 1 and info.value.path == "delta"
    assert info.value.partial.output_text == "ok"  # type: ignore[union-attr]
    with pytest.raises(ChunkDecodeError, match="invalid JSON"):
        acc.feed(b"{not json")


def test_max_field_chars_bounds_a_text() -> None:
    acc = Accumulator(limits=Limits(max_field_chars=4))
    acc.feed(text_delta("abc"))
    with pytest.raises(LimitExceededError) as info:
        acc.feed(text_delta("de"))
    assert info.value.partial.output_text == "abc"  # type: ignore[union-attr]


def test_the_message_text_property_and_types() -> None:
    response = fold([text_delta("a"), text_delta("b", content=1)])
    assert isinstance(response.output[0], Message)
    assert response.output[0].text == "ab" == response.output_text
