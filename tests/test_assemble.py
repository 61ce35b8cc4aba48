"""``assemble`` / ``assemble_sse`` input forms: every way of holding a stream gives one result."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deltafold import (
    Accumulator,
    ChatCompletion,
    ChatCompletionChunk,
    ChunkDecodeError,
    EmptyStreamError,
    assemble,
    assemble_sse,
    from_dict,
)

CHUNKS: list[dict[str, Any]] = [
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": "Hé"}, "finish_reason": None}
        ],
    },
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "llo ✓"}, "finish_reason": None}],
    },
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": 1}'},
                        }
                    ]
                },
                "finish_reason": "tool_calls",
            }
        ],
    },
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    },
]


def check(result: ChatCompletion) -> None:
    """The completion CHUNKS stand for, checked field by field."""
    assert result.id == "chatcmpl-1"
    assert result.created == 7
    [choice] = result.choices
    assert choice.message.content == "Héllo ✓"
    assert [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls] == [
        ("call_1", "f", '{"a": 1}')
    ]
    assert choice.finish_reason == "tool_calls"
    assert result.usage is not None
    assert result.usage.total_tokens == 7


def sse(chunks: list[dict[str, Any]], newline: str = "\n", done: bool = True) -> str:
    body = "".join(f"data: {json.dumps(c, ensure_ascii=False)}{newline}{newline}" for c in chunks)
    return body + (f"data: [DONE]{newline}{newline}" if done else "")


def jsonl(chunks: list[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(c, ensure_ascii=False) for c in chunks)


# --- iterables of chunks --------------------------------------------------------


def test_assemble_dicts() -> None:
    check(assemble(CHUNKS))


def test_assemble_json_strings() -> None:
    check(assemble([json.dumps(c) for c in CHUNKS]))


def test_assemble_json_bytes_bytearray_memoryview() -> None:
    raw = [json.dumps(c).encode() for c in CHUNKS]
    check(assemble(raw))
    check(assemble([bytearray(raw[0]), memoryview(raw[1]), raw[2], bytearray(raw[3])]))


def test_assemble_typed_chunks() -> None:
    typed = [from_dict(ChatCompletionChunk, c) for c in CHUNKS]
    assert all(isinstance(t, ChatCompletionChunk) for t in typed)
    check(assemble(typed))


def test_assemble_pydantic_chunks_from_openai_sdk() -> None:
    pytest.importorskip("openai")
    from openai.types.chat import ChatCompletionChunk as SDKChunk

    check(assemble([SDKChunk.model_validate(c) for c in CHUNKS]))


def test_assemble_foreign_object_with_model_dump() -> None:
    class Foreign:
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

        def model_dump(self) -> dict[str, Any]:
            return self.data

    check(assemble([Foreign(c) for c in CHUNKS]))


def test_assemble_mixed_forms() -> None:
    mixed: list[Any] = [
        json.dumps(CHUNKS[0]),
        from_dict(ChatCompletionChunk, CHUNKS[1]),
        json.dumps(CHUNKS[2]).encode(),
        CHUNKS[3],
    ]
    check(assemble(mixed))


def test_assemble_done_item_ends_the_stream() -> None:
    after = {"choices": [{"index": 0, "delta": {"content": "IGNORED"}}]}
    check(assemble([*CHUNKS, "[DONE]", after]))
    check(assemble([*CHUNKS, b"[DONE]\n", after]))


def test_assemble_generator_consumed_once() -> None:
    check(assemble(c for c in CHUNKS))


def test_assemble_every_form_gives_an_equal_completion() -> None:
    expected = assemble(CHUNKS)
    assert assemble([json.dumps(c) for c in CHUNKS]) == expected
    assert assemble([from_dict(ChatCompletionChunk, c) for c in CHUNKS]) == expected
    assert assemble(sse(CHUNKS)) == expected
    assert assemble(jsonl(CHUNKS)) == expected
    assert assemble(json.dumps(CHUNKS)) == expected


# --- whole bodies ------------------------------------------------------------------


@pytest.mark.parametrize("as_bytes", [False, True])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(sse(CHUNKS), id="sse"),
        pytest.param(sse(CHUNKS, "\r\n"), id="sse-crlf"),
        pytest.param(sse(CHUNKS, done=False), id="sse-no-done"),
        pytest.param(": keep-alive\n\n" + sse(CHUNKS), id="sse-comment"),
        pytest.param(jsonl(CHUNKS), id="jsonl-no-final-newline"),
        pytest.param(jsonl(CHUNKS) + "\n", id="jsonl"),
        pytest.param(jsonl(CHUNKS).replace("\n", "\r\n\r\n"), id="jsonl-crlf-blank-lines"),
        pytest.param(json.dumps(CHUNKS), id="json-array"),
        pytest.param(json.dumps(CHUNKS, indent=2), id="json-array-pretty"),
        pytest.param("\ufeff" + sse(CHUNKS), id="sse-bom"),
        pytest.param("\ufeff" + jsonl(CHUNKS), id="jsonl-bom"),
        pytest.param("\ufeff" + json.dumps(CHUNKS), id="json-array-bom"),
        pytest.param("\n  " + json.dumps(CHUNKS), id="json-array-leading-space"),
    ],
)
def test_assemble_whole_body(body: str, as_bytes: bool) -> None:
    check(assemble(body.encode() if as_bytes else body))


def test_assemble_single_pretty_printed_object_body() -> None:
    whole = {
        "id": "x",
        "choices": [{"index": 0, "delta": {"content": "one"}, "finish_reason": "stop"}],
    }
    result = assemble(json.dumps(whole, indent=2))
    assert result.choices[0].message.content == "one"


def test_assemble_jsonl_with_done_line() -> None:
    check(assemble(jsonl(CHUNKS) + "\n[DONE]\n"))


def test_assemble_sse_text_bytes_and_pieces() -> None:
    body = sse(CHUNKS).encode()
    check(assemble_sse(body))
    check(assemble_sse(body.decode()))
    check(assemble_sse([body[i : i + 5] for i in range(0, len(body), 5)]))
    check(assemble_sse(body[i : i + 1] for i in range(len(body))))


def test_assemble_sse_event_lines_and_multiline_data() -> None:
    first = json.dumps(CHUNKS[0], indent=1).replace("\n", "\ndata: ")
    body = f"event: message\nid: 1\ndata: {first}\n\n" + sse(CHUNKS[1:])
    check(assemble_sse(body))


def test_assemble_empty_inputs_raise() -> None:
    # Empty input is no completion: it raises instead of an empty success (issue 10).
    with pytest.raises(EmptyStreamError, match="the iterable is empty"):
        assemble([])
    with pytest.raises(EmptyStreamError, match="the input is empty"):
        assemble_sse(b"")


# --- decode errors ------------------------------------------------------------------


def test_decode_error_position_in_jsonl_body() -> None:
    lines = [json.dumps(c) for c in CHUNKS]
    lines[2] = lines[2][:-5]
    with pytest.raises(ChunkDecodeError) as info:
        assemble("\n".join(lines))
    assert info.value.position == 2
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "Héllo ✓"


def test_decode_error_position_in_sse_body_counts_events() -> None:
    body = sse(CHUNKS[:2], done=False) + "data: {broken\n\n" + sse(CHUNKS[2:])
    with pytest.raises(ChunkDecodeError) as info:
        assemble_sse(": comment\n\n" + body)
    assert info.value.position == 2
    assert b"{broken" in (
        info.value.raw if isinstance(info.value.raw, bytes) else info.value.raw.encode()
    )
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "Héllo ✓"


def test_decode_error_for_a_non_object_chunk() -> None:
    with pytest.raises(ChunkDecodeError) as info:
        assemble([CHUNKS[0], "[1, 2]"])
    assert info.value.position == 1
    with pytest.raises(ChunkDecodeError):
        assemble([object()])


# --- the accumulator takes the same forms ---------------------------------------------


def test_accumulator_feed_accepts_every_form() -> None:
    acc = Accumulator()
    acc.feed(json.dumps(CHUNKS[0]))
    acc.feed(json.dumps(CHUNKS[1]).encode())
    acc.feed(from_dict(ChatCompletionChunk, CHUNKS[2]))
    acc.feed(CHUNKS[3])
    assert acc.chunks_folded == 4
    check(acc.result())


def test_broken_json_array_body_raises_chunk_decode_error() -> None:
    with pytest.raises(ChunkDecodeError) as info:
        assemble(json.dumps(CHUNKS)[:-3])
    assert info.value.raw


def test_done_item_as_memoryview_ends_the_stream() -> None:
    check(assemble([*CHUNKS, memoryview(b"[DONE]"), "not json"]))


def test_assemble_sse_reads_bad_utf8_in_a_payload_as_replacement_characters() -> None:
    """The fold reads a payload's raw bytes; bytes that are not UTF-8 still read as U+FFFD,
    as the framer decodes any event, in one-line and multi-line events alike, whole or cut."""
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"a\xff"}}]}\n\n'
        b'data: {"choices":[{"index":0,\ndata: "delta":{"content":"\xe2\x82b"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"c"},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    for pieces in ([body], [body[i : i + 7] for i in range(0, len(body), 7)]):
        result = assemble_sse(pieces)
        assert result.choices[0].message.content == "a\ufffd\ufffdbc"
        assert result.choices[0].finish_reason == "stop"
