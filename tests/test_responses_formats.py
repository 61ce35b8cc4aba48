"""A body of another wire format, or several responses, gets a typed error naming the way."""

from __future__ import annotations

import pytest

from deltafold import EmptyStreamError
from deltafold.responses import (
    MultipleResponsesError,
    WrongFormatError,
    assemble,
    assemble_all,
    assemble_sse,
)

CHAT_SSE = (
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n'
)
MESSAGES_SSE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"type":"message","role":"assistant","content":[],"usage":{"input_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":3}}\n\n'
)


def _response(rid: str, text: str) -> bytes:
    return (
        b'event: response.created\ndata: {"type":"response.created","response":{"id":"'
        + rid.encode() + b'","status":"in_progress","output":[]},"sequence_number":0}\n\n'
        b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
        b'"output_index":0,"content_index":0,"delta":"' + text.encode()
        + b'","sequence_number":1}\n\n'
        b'event: response.completed\ndata: {"type":"response.completed","response":{"id":"'
        + rid.encode() + b'","status":"completed","output":[]},"sequence_number":2}\n\n'
    )


@pytest.mark.parametrize("fold", [assemble, assemble_sse])
def test_a_chat_body_names_deltafold_assemble(fold: object) -> None:
    with pytest.raises(WrongFormatError, match=r"deltafold\.assemble") as info:
        fold(CHAT_SSE)  # type: ignore[operator]
    assert (info.value.found, info.value.use) == ("chat", "deltafold.assemble")
    assert isinstance(info.value, EmptyStreamError)


@pytest.mark.parametrize("fold", [assemble, assemble_sse])
def test_an_anthropic_messages_body_names_deltafold_messages(fold: object) -> None:
    with pytest.raises(WrongFormatError, match=r"deltafold\.messages") as info:
        fold(MESSAGES_SSE)  # type: ignore[operator]
    assert info.value.found == "messages"


def test_chat_chunks_as_dicts_are_refused_too() -> None:
    with pytest.raises(WrongFormatError, match=r"deltafold\.assemble"):
        assemble([{"object": "chat.completion.chunk", "choices": []}])


def test_several_responses_in_one_body() -> None:
    body = _response("resp_a", "one") + _response("resp_b", "two")
    with pytest.raises(MultipleResponsesError, match=r"assemble_all") as info:
        assemble_sse(body)
    assert info.value.partial is not None
    assert [(r.id, r.output_text) for r in assemble_all(body)] == [
        ("resp_a", "one"), ("resp_b", "two")
    ]


def test_a_body_that_is_one_response_object() -> None:
    body = b'{"id":"r","object":"response","status":"completed","output":[{"type":"message",' \
        b'"content":[{"type":"output_text","text":"whole"}]}]}'
    assert assemble(body).output_text == "whole"


def test_an_empty_body_says_so() -> None:
    with pytest.raises(EmptyStreamError, match="the input is empty"):
        assemble_sse(b"")
    with pytest.raises(EmptyStreamError, match="none was a response"):
        assemble_sse(b'data: {"type":"ping"}\n\n')


def test_done_ends_the_body() -> None:
    body = _response("resp_a", "one") + b"data: [DONE]\n\n" + b"data: {garbage\n\n"
    assert assemble_sse(body).output_text == "one"
