"""The wire formats meet each other sensibly: each event says which format it is, and a
fold given another format's stream names the function that folds it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

import deltafold
from deltafold._chat_format import CHAT
from deltafold._format import FORMAT_NAMES, format_of

MESSAGES_BODY = [
    {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [], "stop_reason": None, "usage": {"input_tokens": 5, "output_tokens": 1},
    }},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
    {"type": "message_stop"},
]
RESPONSES_BODY = [
    {"type": "response.created", "sequence_number": 0,
     "response": {"id": "resp_1", "object": "response", "status": "in_progress", "output": []}},
    {"type": "response.output_text.delta", "sequence_number": 1, "output_index": 0,
     "content_index": 0, "item_id": "msg_1", "delta": "Hi"},
    {"type": "response.completed", "sequence_number": 2,
     "response": {"id": "resp_1", "object": "response", "status": "completed", "output": []}},
]


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"choices": []}, "chat"),
        ({"object": "chat.completion.chunk", "id": "x"}, "chat"),
        ({"object": "chat.completion", "id": "x"}, "chat"),
        ({"type": "response.output_text.delta"}, "responses"),
        ({"type": "response.some_future_event"}, "responses"),
        ({"object": "response", "output": []}, "responses"),
        ({"type": "message_start"}, "messages"),
        ({"type": "content_block_delta"}, "messages"),
        ({"type": "message", "role": "assistant", "content": []}, "messages"),
        ({"type": "ping"}, None),
        ({"type": "error", "error": {}}, None),
        ({"id": "x"}, None),
        ({"type": 3}, None),
    ],
)
def test_an_event_says_which_format_it_is(item: dict[str, Any], expected: str | None) -> None:
    assert format_of(item) == expected
    assert expected is None or expected in FORMAT_NAMES


@pytest.mark.parametrize(
    ("events", "found", "function"),
    [
        (MESSAGES_BODY, "messages", "deltafold.messages.assemble"),
        (RESPONSES_BODY, "responses", "deltafold.responses.assemble"),
    ],
)
@pytest.mark.parametrize("form", ["dicts", "sse", "json lines"])
def test_chat_assemble_names_the_fold_of_another_format(
    events: list[dict[str, Any]], found: str, function: str, form: str
) -> None:
    src: Any = {
        "dicts": events,
        "sse": _sse(events),
        "json lines": b"\n".join(orjson.dumps(e) for e in events),
    }[form]
    with pytest.raises(deltafold.WrongFormatError) as caught:
        deltafold.assemble(src)
    assert caught.value.found == found
    assert caught.value.expected == "chat"
    assert function in str(caught.value)
    # It is still the "no chunk of this format" error code already catches.
    assert isinstance(caught.value, deltafold.EmptyStreamError)


def test_a_foreign_event_after_chat_chunks_is_kept_as_an_unknown_field() -> None:
    # Only a stream that has not shown a choice yet is judged: a chat chunk with a
    # provider's own ``type`` field later on folds as before, the field kept.
    chunks = [
        {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {"id": "c", "type": "message_delta", "choices": []},
    ]
    completion = deltafold.assemble(chunks)
    assert completion.choices[0].message.content == "Hi"
    assert deltafold.to_dict(completion)["type"] == "message_delta"


def test_the_chat_format_is_what_the_core_drives() -> None:
    fold = CHAT.new_fold(None, False)
    fold.add({"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}}]})
    summary = CHAT.summarize(fold.result())
    assert (summary.id, summary.content, summary.n_choices) == ("c", "Hi", 1)
    assert summary.output_messages == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hi"}], "finish_reason": ""}
    ]
    typed = CHAT.structure({"id": "c", "choices": []})
    assert isinstance(typed, deltafold.ChatCompletionChunk)


def test_the_chat_namespace_is_the_top_level_chat_api() -> None:
    import deltafold.chat as chat

    for name in chat.__all__:
        if hasattr(deltafold, name):
            assert getattr(chat, name) is getattr(deltafold, name), name
    assert chat.CHAT is CHAT
    assert chat.assemble(deltafold.demo_recording()).choices[0].finish_reason == "tool_calls"
