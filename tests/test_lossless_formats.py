"""Integers beyond 64 bits survive the Responses and Messages formats: written, framed, folded.

orjson reads such an integer as a float and refuses to write one; the lossless rule
(``_jsontext``) holds for every format, not only chat.
"""

from __future__ import annotations

import deltafold.messages as dm
import deltafold.responses as dr

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
