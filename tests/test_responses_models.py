"""The Responses models: typed by item type, lossless, exact round trip, ``output_text``."""

from __future__ import annotations

from typing import Any

import pytest

import deltafold
from deltafold.responses import (
    Annotation,
    FunctionCall,
    Item,
    Message,
    OutputText,
    Part,
    Reasoning,
    Refusal,
    Response,
    ResponseUsage,
)

BODY: dict[str, Any] = {
    "id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed",
    "model": "gpt-x", "error": None, "incomplete_details": None, "instructions": None,
    "tools": [], "metadata": {}, "temperature": 1.0, "usage": {
        "input_tokens": 10, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 17, "cost": 0.01,
    },
    "output": [
        {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "S"}],
         "encrypted_content": "enc"},
        {"type": "message", "id": "m", "status": "completed", "role": "assistant", "phase": "x",
         "content": [
             {"type": "output_text", "text": "Hi ", "annotations": [
                 {"type": "url_citation", "url": "https://a.test", "start_index": 0,
                  "end_index": 2, "title": "A"}], "logprobs": []},
             {"type": "refusal", "refusal": "no"},
             {"type": "output_text", "text": "there"},
             {"type": "future_part", "blob": 1},
         ]},
        {"type": "function_call", "id": "fc", "call_id": "c", "name": "f", "arguments": "{}",
         "status": "completed"},
        {"type": "tool_search_call", "id": "ts", "arguments": {"q": 1}, "execution": "server"},
    ],
    "future_field": {"nested": [1, None]},
}


def test_round_trip_is_exact() -> None:
    assert Response.from_dict(BODY).to_dict() == BODY
    assert deltafold.to_dict(deltafold.from_dict(Response, BODY)) == BODY


def test_items_and_parts_are_typed_by_their_type() -> None:
    response = Response.from_dict(BODY)
    reasoning, message, call, unknown = response.output
    assert isinstance(reasoning, Reasoning) and reasoning.summary_text == "S"
    assert isinstance(message, Message)
    assert [type(p) for p in message.content] == [OutputText, Refusal, OutputText, Part]
    first = message.content[0]
    assert isinstance(first, OutputText) and isinstance(first.annotations[0], Annotation)
    assert first.annotations[0].url == "https://a.test"
    assert isinstance(call, FunctionCall) and call.call_id == "c"
    assert type(unknown) is Item and unknown.type == "tool_search_call"
    assert unknown.extra == {"arguments": {"q": 1}, "execution": "server"}
    assert message.extra == {"phase": "x"}
    assert isinstance(response.usage, ResponseUsage)
    assert response.usage.output_tokens_details is not None
    assert response.usage.output_tokens_details.reasoning_tokens == 3
    assert response.usage.extra == {"cost": 0.01}
    assert response.extra == {"future_field": {"nested": [1, None]}}


def test_output_text_joins_the_output_text_parts_of_messages() -> None:
    assert Response.from_dict(BODY).output_text == "Hi there"
    assert Response().output_text == ""


def test_a_field_of_the_wrong_type_is_kept_in_extra_and_written_back() -> None:
    body = {"id": "r", "object": "response", "output": [], "created_at": "yesterday",
            "usage": {"input_tokens": "many"}}
    response = Response.from_dict(body)
    assert response.created_at is None and response.extra == {"created_at": "yesterday"}
    assert response.usage is not None and response.usage.extra == {"input_tokens": "many"}
    assert response.to_dict() == body


def test_models_built_in_code_write_their_type() -> None:
    call = FunctionCall(call_id="c", name="f", arguments="{}")
    assert call.to_dict() == {"type": "function_call", "call_id": "c", "name": "f",
                              "arguments": "{}"}
    assert Response(id="r").to_dict() == {"id": "r", "object": "response", "output": []}


@pytest.mark.parametrize("empty", [None, [], "", {}])
def test_empty_values_come_back_as_they_were_sent(empty: Any) -> None:
    body = {"id": "r", "object": "response", "output": [], "instructions": empty, "tools": empty}
    assert Response.from_dict(body).to_dict() == body
