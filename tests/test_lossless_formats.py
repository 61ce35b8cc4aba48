"""Integers beyond 64 bits survive every format: written, framed, folded, read back.

orjson reads such an integer as a float and refuses to write one; the lossless rule
(``_jsontext``) holds for every format, not only chat: each typed number field (a
logprob, a cost, a sampling parameter, a token count) folds from SSE, cut anywhere,
to what the fold of ``json.loads``'s dicts holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import deltafold
import deltafold.messages as dm
import deltafold.responses as dr
from deltafold._chat_format import CHAT
from deltafold.messages._format import MESSAGES
from deltafold.responses._format import RESPONSES
from test_lossless import _drive_pieces

BIG = 123456789012345678901234567890


def _message(value: object) -> dm.Message:
    return dm.Message.from_dict({
        "id": "msg_1", "model": "m", "role": "assistant", "type": "message",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"n": value}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 2},
    })


def test_a_tool_input_keeps_a_big_integer_through_the_messages_stream() -> None:
    body = b"".join(dm.to_sse(dm.split(_message(BIG), chunk_chars=5)))
    block = dm.assemble(body).content[0]
    assert isinstance(block, dm.ToolUseBlock)
    assert block.input == {"n": BIG}
    assert type(block.input["n"]) is int


def test_a_tool_input_that_is_a_float_stays_a_float() -> None:
    body = b"".join(dm.to_sse(dm.split(_message(1.5))))
    block = dm.assemble(body).content[0]
    assert isinstance(block, dm.ToolUseBlock)
    assert block.input == {"n": 1.5}


def test_a_responses_body_with_a_big_integer_field_is_framed_and_read_back() -> None:
    response = dr.Response.from_dict({
        "id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
        "model": "m", "output": [], "metadata": {"n": BIG},
    })
    body = b"".join(dr.to_sse(dr.split(response)))
    assert dr.assemble(body).metadata == {"n": BIG}


# --- every typed number field: the SSE path reads what json.loads reads --------------------

def _chat_events() -> list[dict[str, Any]]:
    top = [{"token": "y", "logprob": -0.4375, "bytes": None}]
    logprobs = {"content": [{"token": "x", "logprob": -0.3125, "bytes": None, "top_logprobs": top}]}
    choice = {"index": 0, "delta": {"role": "assistant", "content": "x"}, "logprobs": logprobs}
    details = {"upstream_inference_cost": 0.5625, "upstream_inference_prompt_cost": 0.6875,
               "upstream_inference_completions_cost": 0.8125}
    usage = {"prompt_tokens": 7001, "completion_tokens": 7002, "total_tokens": 7003,
             "cost": 0.9375, "cost_details": details}
    return [{"id": "gen-1", "model": "m", "created": 1, "choices": [choice]},
            {"id": "gen-1", "choices": [], "usage": usage}]


def _responses_events() -> list[dict[str, Any]]:
    top = [{"token": "ho", "logprob": -0.4375, "bytes": [104, 111]}]
    text = {"type": "output_text", "text": "hi", "annotations": [],
            "logprobs": [{"token": "hi", "logprob": -0.3125, "bytes": [104, 105],
                          "top_logprobs": top}]}
    return dr.split(dr.Response.from_dict({
        "id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
        "model": "m", "temperature": 0.5625, "top_p": 0.6875,
        "output": [{"type": "message", "id": "msg_1", "role": "assistant",
                    "status": "completed", "content": [text]}],
        "usage": {"input_tokens": 7001, "output_tokens": 7002, "total_tokens": 7003},
    }))


def _messages_events() -> list[dict[str, Any]]:
    return dm.split(dm.Message.from_dict({
        "id": "msg_1", "model": "m", "role": "assistant", "type": "message",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 7001, "output_tokens": 7002,
                  "cache_read_input_tokens": 7003},
    }))


_FORMATS: dict[str, tuple[Callable[[], list[dict[str, Any]]], Any, Any, Any]] = {
    "chat": (_chat_events, deltafold.assemble, deltafold.assemble_sse, CHAT),
    "responses": (_responses_events, dr.assemble, dr.assemble_sse, RESPONSES),
    "messages": (_messages_events, dm.assemble, dm.assemble_sse, MESSAGES),
}
_FIELDS = [  # (format, the field, the number standing in for it in the events)
    ("chat", "logprob", "-0.3125"), ("chat", "top logprob", "-0.4375"),
    ("chat", "usage.cost", "0.9375"), ("chat", "cost_details total", "0.5625"),
    ("chat", "cost_details prompt", "0.6875"), ("chat", "cost_details completions", "0.8125"),
    ("chat", "usage.prompt_tokens", "7001"),
    ("responses", "logprob", "-0.3125"), ("responses", "top logprob", "-0.4375"),
    ("responses", "temperature", "0.5625"), ("responses", "top_p", "0.6875"),
    ("responses", "usage.input_tokens", "7001"),
    ("messages", "usage.input_tokens", "7001"), ("messages", "usage.output_tokens", "7002"),
    ("messages", "usage.cache_read_input_tokens", "7003"),
]
_BIG_NUMBERS = [2**64 + 1, 2**64, -(2**63) - 1, 10**30, 2**100]
"""Beyond 64 bits: some exactly a float (a float field takes them), some not (kept as sent)."""


def _numbers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, list):
        return [n for item in value for n in _numbers(item)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


@pytest.mark.parametrize("number", _BIG_NUMBERS)
@pytest.mark.parametrize(("name", "field", "stand_in"), _FIELDS, ids=lambda v: str(v))
def test_a_big_number_in_a_typed_field_folds_the_same_from_sse_and_from_dicts(
    name: str, field: str, stand_in: str, number: int
) -> None:
    make, assemble, assemble_sse, fmt = _FORMATS[name]
    texts = [json.dumps(event) for event in make()]
    assert sum(text.count(stand_in) for text in texts) >= 1, field
    texts = [text.replace(stand_in, str(number)) for text in texts]
    expected = deltafold.to_dict(assemble([json.loads(text) for text in texts]))
    assert number in _numbers(expected)  # exactly that value: an int, or a float equal to it
    named = name != "chat"
    body = b"".join(
        (b"event: " + str(json.loads(t)["type"]).encode() + b"\n" if named else b"")
        + b"data: " + t.encode() + b"\n\n" for t in texts
    ) + (b"" if named else b"data: [DONE]\n\n")
    at = body.index(str(number).encode()) + 10  # inside the digits, neither half a run
    sevens = [body[i : i + 7] for i in range(0, len(body), 7)]
    for pieces in ([body], [body[:at], b"", body[at:]], sevens):
        assert repr(deltafold.to_dict(assemble_sse(pieces))) == repr(expected), field
        assert repr(deltafold.to_dict(_drive_pieces(pieces, fmt))) == repr(expected), field
