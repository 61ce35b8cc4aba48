"""to_dict / from_dict: fields always written, unknown fields put back, round trips."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from deltafold import (
    Annotation,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkDecodeError,
    FunctionCall,
    Logprobs,
    Message,
    TokenLogprob,
    ToolCall,
    Usage,
    from_dict,
    to_dict,
)

#: A completion with every field the models know set, plus unknown fields at every level.
FULL: dict[str, Any] = {
    "id": "chatcmpl-9",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hi",
                "refusal": None,
                "reasoning": "thought",
                "reasoning_details": [
                    {
                        "type": "reasoning.text",
                        "text": "t",
                        "signature": "s",
                        "id": "r1",
                        "format": "f",
                        "index": 0,
                        "x_detail": 1,
                    }
                ],
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}", "x_fn": True},
                        "x_call": [1],
                    }
                ],
                "function_call": {"name": "legacy", "arguments": '{"a":1}'},
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "url": "https://a",
                            "title": "A",
                            "content": "c",
                            "start_index": 0,
                            "end_index": 2,
                            "x_cite": "y",
                        },
                    }
                ],
                "images": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:,", "detail": "low"},
                        "index": 0,
                    }
                ],
                "audio": {"id": "au", "data": "AAA", "transcript": "hi", "expires_at": 9},
                "x_message": {"nested": [1, {"a": None}]},
            },
            "finish_reason": "stop",
            "native_finish_reason": "end_turn",
            "logprobs": {
                "content": [
                    {
                        "token": "Hi",
                        "logprob": -0.25,
                        "bytes": [72, 105],
                        "top_logprobs": [{"token": "Hi", "logprob": -0.25, "bytes": None}],
                    }
                ],
                "refusal": None,
            },
            "x_choice": "c",
        }
    ],
    "created": 1700000000,
    "model": "gpt-x",
    "object": "chat.completion",
    "system_fingerprint": "fp",
    "service_tier": "default",
    "provider": "OpenAI",
    "usage": {
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "total_tokens": 3,
        "cost": 0.5,
        "is_byok": False,
        "prompt_tokens_details": {
            "cached_tokens": 0,
            "cache_write_tokens": 1,
            "audio_tokens": 0,
            "x_ptd": 1,
        },
        "completion_tokens_details": {
            "reasoning_tokens": 1,
            "image_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
        "cost_details": {
            "upstream_inference_cost": 0.1,
            "upstream_inference_prompt_cost": 0.05,
            "upstream_inference_completions_cost": 0.05,
        },
        "x_usage": {"server_tool_use": 1},
    },
    "x_top": None,
}


def test_wire_dict_round_trips_exactly() -> None:
    original = copy.deepcopy(FULL)
    completion = from_dict(ChatCompletion, FULL)
    assert to_dict(completion) == FULL
    assert original == FULL, "from_dict must not mutate its input"


def test_from_dict_of_to_dict_is_identity() -> None:
    completion = from_dict(ChatCompletion, FULL)
    assert from_dict(ChatCompletion, to_dict(completion)) == completion
    assert ChatCompletion.from_dict(completion.to_dict()) == completion


def test_unknown_fields_land_in_extra_and_come_back_out() -> None:
    completion = from_dict(ChatCompletion, FULL)
    choice = completion.choices[0]
    assert completion.extra == {"x_top": None}
    assert choice.extra == {"x_choice": "c"}
    assert choice.message.extra == {"x_message": {"nested": [1, {"a": None}]}}
    assert choice.message.tool_calls[0].extra == {"x_call": [1]}
    assert choice.message.tool_calls[0].function.extra == {"x_fn": True}
    assert choice.message.reasoning_details[0].extra == {"x_detail": 1}
    assert completion.usage is not None
    assert completion.usage.extra == {"x_usage": {"server_tool_use": 1}}
    out = to_dict(completion)
    assert out["x_top"] is None
    assert out["choices"][0]["message"]["x_message"] == {"nested": [1, {"a": None}]}


def test_extra_never_shadows_a_set_known_field() -> None:
    message = Message(content="real", extra={"content": "shadow", "other": 1})
    out = to_dict(message)
    assert out["content"] == "real"
    assert out["other"] == 1


def test_required_fields_written_as_null() -> None:
    out = to_dict(ChatCompletion(choices=[Choice()]))
    assert out == {
        "id": "",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": None},
                "finish_reason": None,
            }
        ],
        "created": 0,
        "model": "",
        "object": "chat.completion",
    }


def test_tool_call_and_logprob_shapes_are_complete() -> None:
    call = to_dict(ToolCall(id="c", function=FunctionCall(name="f")))
    assert call == {"id": "c", "type": "function", "function": {"name": "f", "arguments": ""}}
    assert to_dict(Logprobs()) == {"content": None, "refusal": None}
    assert to_dict(TokenLogprob(token="a")) == {
        "token": "a",
        "logprob": 0.0,
        "bytes": None,
        "top_logprobs": [],
    }


def test_empty_optionals_left_out() -> None:
    out = to_dict(Message(content="x"))
    assert set(out) == {"role", "content", "refusal"}
    assert "usage" not in to_dict(ChatCompletion())
    assert to_dict(Usage(prompt_tokens=0, is_byok=False)) == {"prompt_tokens": 0, "is_byok": False}


def test_falsy_but_set_values_are_kept() -> None:
    message = from_dict(
        Message, {"role": "assistant", "content": "", "refusal": "", "reasoning": ""}
    )
    assert to_dict(message) == {"role": "assistant", "content": "", "refusal": "", "reasoning": ""}


def test_chunk_round_trips_with_content_as_parts() -> None:
    chunk = {
        "id": "c",
        "choices": [
            {
                "index": 0,
                "delta": {"content": [{"type": "text", "text": "a"}], "x_delta": 1},
                "finish_reason": None,
            }
        ],
        "created": 1,
        "model": "m",
        "object": "chat.completion.chunk",
        "error": {"code": 1, "message": "m"},
    }
    typed = from_dict(ChatCompletionChunk, chunk)
    assert typed.choices[0].delta is not None
    assert typed.choices[0].delta.content == [{"type": "text", "text": "a"}]
    assert to_dict(typed) == chunk
    assert from_dict(ChatCompletionChunk, to_dict(typed)) == typed


def test_from_dict_wrong_type_raises_chunk_decode_error_naming_the_class() -> None:
    with pytest.raises(ChunkDecodeError) as info:
        from_dict(ChatCompletion, {"choices": [{"message": "not an object"}]})
    assert "ChatCompletion" in str(info.value)
    with pytest.raises(ChunkDecodeError):
        from_dict(Annotation, ["not", "a", "dict"])
