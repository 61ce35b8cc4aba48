"""Non-streaming completions fold: a choice's ``message`` (no ``delta``) is one complete delta.

``assemble(response)`` of what a provider returns with ``stream: false`` gives back that
completion: ``to_dict()`` equals the input apart from the documented normalisation
(null and empty optional fields left out, ``reasoning_content`` folded into ``reasoning``,
a tool call's ``index`` dropped). And ``to_dict()`` never drops an unknown field whose
name clashes with a known one: it is written under ``"extra." + name``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deltafold
from deltafold import (
    Accumulator,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChoiceFinished,
    ChunkDecodeError,
    ContentDelta,
    Message,
    ToolCall,
    ToolCallDone,
    ToolCallStarted,
    Usage,
    assemble,
    from_dict,
    to_dict,
)

# --- realistic completions ------------------------------------------------------------


def _top(**fields: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-AbC123",
        "object": "chat.completion",
        "created": 1727000000,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_abc123",
        "service_tier": "default",
        **fields,
    }


_USAGE = {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def _token(token: str, logprob: float) -> dict[str, Any]:
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [
            {"token": token, "logprob": logprob, "bytes": list(token.encode())},
            {"token": "x", "logprob": -9.5, "bytes": None},
        ],
    }


PLAIN_LOGPROBS = _top(
    choices=[
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello there!",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": {
                "content": [_token("Hello", -0.01), _token(" there", -0.2), _token("!", -0.5)],
                "refusal": None,
            },
            "finish_reason": "stop",
        }
    ],
    usage=_USAGE,
)

TOOL_CALLS = _top(
    choices=[
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {
                        "id": "call_weather_sf",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "SF"}'},
                    },
                    {
                        "id": "call_weather_nyc",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "NYC"}'},
                    },
                    {
                        "id": "call_time",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": "{}"},
                    },
                ],
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    usage=_USAGE,
)

OPENROUTER_REASONING = {
    "id": "gen-1747000000-Hn3kQw8ZpV",
    "provider": "Anthropic",
    "model": "anthropic/claude-sonnet-4",
    "object": "chat.completion",
    "created": 1747000000,
    "choices": [
        {
            "logprobs": None,
            "finish_reason": "stop",
            "native_finish_reason": "end_turn",
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "The answer is 4.",
                "refusal": None,
                "reasoning": "2 + 2 is 4.",
                "reasoning_details": [
                    {
                        "type": "reasoning.text",
                        "text": "2 + 2 is 4.",
                        "signature": "EqQBCkYIBxgCKkDZ8b3",
                        "format": "anthropic-claude-v1",
                        "index": 0,
                    },
                    {
                        "type": "reasoning.encrypted",
                        "data": "gAAAAABo_ENCRYPTED",
                        "id": "rs_1",
                        "format": "openai-responses-v1",
                        "index": 1,
                    },
                ],
            },
        }
    ],
    "usage": {
        "prompt_tokens": 40,
        "completion_tokens": 30,
        "total_tokens": 70,
        "cost": 0.00057,
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "cost_details": {"upstream_inference_cost": 0.00042},
        "completion_tokens_details": {"reasoning_tokens": 12, "image_tokens": 0},
    },
}

AUDIO = _top(
    model="gpt-4o-audio-preview",
    choices=[
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "audio": {
                    "id": "audio_abc",
                    "data": "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=",
                    "expires_at": 1727003600,
                    "transcript": "Hi! How can I help?",
                },
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    usage=_USAGE,
)

ANNOTATIONS_IMAGES = {
    "id": "gen-1",
    "provider": "Google",
    "model": "google/gemini-2.5-flash-image",
    "object": "chat.completion",
    "created": 1747000001,
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "native_finish_reason": "STOP",
            "message": {
                "role": "assistant",
                "content": "See [example.com](https://example.com). Here is a cat.",
                "refusal": None,
                "annotations": [
                    {
                        "type": "url_citation",
                        "url_citation": {
                            "url": "https://example.com",
                            "title": "Example",
                            "content": "An example page.",
                            "start_index": 4,
                            "end_index": 33,
                        },
                    }
                ],
                "images": [
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
                    }
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1300, "total_tokens": 1305},
}

N3 = _top(
    choices=[
        {
            "index": i,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "logprobs": None,
            "finish_reason": finish,
        }
        for i, (text, finish) in enumerate(
            [("Red.", "stop"), ("Green, and", "length"), ("Blue.", "stop")]
        )
    ],
    usage=_USAGE,
)

REFUSAL = _top(
    choices=[
        {
            "index": 0,
            "message": {"role": "assistant", "content": None, "refusal": "I can't help with that."},
            "logprobs": {"content": None, "refusal": [_token("I", -0.1), _token(" can't", -0.3)]},
            "finish_reason": "stop",
        }
    ],
    usage=_USAGE,
)

LEGACY_FUNCTION = _top(
    choices=[
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "function_call": {"name": "lookup", "arguments": '{"q": "deltafold"}'},
            },
            "finish_reason": "function_call",
        }
    ],
)

UNKNOWN_EVERYWHERE = _top(
    prompt_filter_results=[{"prompt_index": 0, "content_filter_results": {}}],
    choices=[
        {
            "index": 0,
            "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}},
            "message": {
                "role": "assistant",
                "content": "ok",
                "refusal": None,
                "x_null": None,
                "channel": "final",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "x_call": [1, 2],
                        "function": {"name": "f", "arguments": "{}", "x_fn": True},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    usage={
        **_USAGE,
        "queue_time": 0.04,
        "x_null": None,
        "server_tool_use": {"web_search_requests": 1},
    },
)

COMPLETIONS = {
    "plain_logprobs": PLAIN_LOGPROBS,
    "tool_calls": TOOL_CALLS,
    "openrouter_reasoning": OPENROUTER_REASONING,
    "audio": AUDIO,
    "annotations_images": ANNOTATIONS_IMAGES,
    "n3": N3,
    "refusal": REFUSAL,
    "legacy_function": LEGACY_FUNCTION,
    "unknown_everywhere": UNKNOWN_EVERYWHERE,
}

# Fields the wire form always has, even when null (the converter's shape).
_ALWAYS = {
    "top": {"id", "choices", "created", "model", "object"},
    "choice": {"index", "message", "finish_reason"},
    "message": {"role", "content", "refusal"},
}


def normalised(completion: dict[str, Any]) -> dict[str, Any]:
    """The documented normalisation: null and empty known optional fields left out at the
    top, choice and message levels (unknown ones, even null, are kept as sent)."""
    known = {
        level: {a.name for a in attrs.fields(cls)}
        for level, cls in (("top", ChatCompletion), ("choice", Choice), ("message", Message))
    }

    def strip(obj: dict[str, Any], level: str) -> dict[str, Any]:
        return {
            key: value
            for key, value in obj.items()
            if key in _ALWAYS[level] or key not in known[level] or value not in (None, [])
        }

    out = strip(completion, "top")
    out["choices"] = []
    for choice in completion["choices"]:
        stripped = strip(choice, "choice")
        stripped["message"] = strip(choice["message"], "message")
        out["choices"].append(stripped)
    return out


def _forms(completion: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(completion)
    return {
        "bytes": text.encode(),
        "str": text,
        "pretty": json.dumps(completion, indent=2),
        "list_item": [completion],
        "array_body": f"[{text}]".encode(),
    }


@pytest.mark.parametrize("form", ["bytes", "str", "pretty", "list_item", "array_body"])
@pytest.mark.parametrize("name", sorted(COMPLETIONS))
def test_non_streaming_completion_round_trips(name: str, form: str) -> None:
    completion = COMPLETIONS[name]
    before = copy.deepcopy(completion)
    result = assemble(_forms(completion)[form])
    assert result.to_dict() == normalised(completion)
    assert completion == before, "the caller's dict is never touched"
    assert ChatCompletion.from_dict(result.to_dict()) == result


def test_message_fields_land_on_the_typed_model() -> None:
    result = assemble([TOOL_CALLS])
    calls = result.choices[0].message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_weather_sf", "get_weather", '{"city": "SF"}'),
        ("call_weather_nyc", "get_weather", '{"city": "NYC"}'),
        ("call_time", "get_time", "{}"),
    ]
    audio = assemble(json.dumps(AUDIO)).choices[0].message.audio
    assert audio is not None and audio.transcript == "Hi! How can I help?"
    reasoning = assemble(json.dumps(OPENROUTER_REASONING))
    message = reasoning.choices[0].message
    assert message.reasoning == "2 + 2 is 4."
    assert [d.type for d in message.reasoning_details] == ["reasoning.text", "reasoning.encrypted"]
    assert reasoning.usage is not None and reasoning.usage.cost == 0.00057
    assert reasoning.choices[0].native_finish_reason == "end_turn"
    n3 = assemble(json.dumps(N3).encode())
    assert [(c.index, c.message.content, c.finish_reason) for c in n3.choices] == [
        (0, "Red.", "stop"),
        (1, "Green, and", "length"),
        (2, "Blue.", "stop"),
    ]
    assert "message" not in n3.choices[0].extra


def test_reasoning_content_message_folds_into_reasoning() -> None:
    body = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "deepseek-reasoner",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "4", "reasoning_content": "2+2"},
                "finish_reason": "stop",
            }
        ],
    }
    message = assemble(json.dumps(body)).choices[0].message
    assert (message.content, message.reasoning, message.extra) == ("4", "2+2", {})


def _message_calls(calls: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": calls}}]}
    got = assemble([body]).choices[0].message.tool_calls
    return [(c.id, c.function.name, c.function.arguments) for c in got]


def test_message_tool_calls_without_index_or_id_stay_separate_in_order() -> None:
    calls = [
        {"type": "function", "function": {"name": "a", "arguments": '{"n": 1}'}},
        {"type": "function", "function": {"name": "b", "arguments": '{"n": 2}'}},
        {"type": "function", "function": {"name": "c", "arguments": '{"n": 3}'}},
    ]
    assert _message_calls(calls) == [
        ("", "a", '{"n": 1}'),
        ("", "b", '{"n": 2}'),
        ("", "c", '{"n": 3}'),
    ]


def test_message_tool_calls_repeated_ids_or_indexes_stay_separate() -> None:
    calls = [
        {"index": 0, "id": "same", "function": {"name": "a", "arguments": "{}"}},
        {"index": 0, "id": "same", "function": {"name": "b", "arguments": "{}"}},
        {"index": 0, "function": {"name": "c", "arguments": "{}"}},
    ]
    assert _message_calls(calls) == [("same", "a", "{}"), ("same", "b", "{}"), ("", "c", "{}")]


def test_message_tool_calls_mixed_index_and_id() -> None:
    calls = [
        {"id": "x", "function": {"name": "a", "arguments": "{}"}},
        {"function": {"name": "b", "arguments": "[]"}},
        {"index": 7, "id": "z", "function": {"name": "c", "arguments": '{"k": {}}'}},
        {"id": "y", "function": {"name": "d", "arguments": {"as": "object"}}},
    ]
    assert _message_calls(calls) == [
        ("x", "a", "{}"),
        ("", "b", "[]"),
        ("z", "c", '{"k": {}}'),
        ("y", "d", '{"as":"object"}'),
    ]


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(min_size=1, max_size=8)),
            st.text(max_size=10),
            st.text(max_size=30),
        ),
        max_size=6,
    ),
    st.one_of(st.none(), st.text(max_size=40)),
    st.integers(min_value=1, max_value=4),
)
def test_any_message_folds_to_itself(
    calls: list[tuple[str | None, str, str]], content: str | None, n: int
) -> None:
    """Any number of complete tool calls (ids present, missing or repeated) and any text,
    in any number of choices: each comes back as sent."""
    tool_calls = []
    for call_id, name, arguments in calls:
        call: dict[str, Any] = {
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        if call_id is not None:
            call["id"] = call_id
        tool_calls.append(call)
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 5,
        "model": "m",
        "choices": [{"index": i, "message": message, "finish_reason": "stop"} for i in range(n)],
    }
    got = assemble(json.dumps(body)).to_dict()
    for choice in got["choices"]:
        for call in choice["message"].get("tool_calls", []):
            call.setdefault("id", "")
    for call in tool_calls:
        call.setdefault("id", "")
    assert got == body


def test_message_is_one_complete_delta_in_events() -> None:
    acc = Accumulator()
    events = acc.feed(TOOL_CALLS)
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [e.id for e in started] == ["call_weather_sf", "call_weather_nyc", "call_time"]
    finished = [e for e in events if isinstance(e, ChoiceFinished)]
    assert finished == [ChoiceFinished(0, "tool_calls")]
    done = [e for e in acc.close() + events if isinstance(e, ToolCallDone)]
    assert sorted(e.arguments for e in done) == sorted(['{"city": "SF"}', '{"city": "NYC"}', "{}"])
    assert acc.feed(PLAIN_LOGPROBS)[0] == ContentDelta(0, "Hello there!")


# --- a message copy beside the delta (Writer) -------------------------------------------


def _writer_chunk(text: str, so_far: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "w1",
        "object": "chat.completion.chunk",
        "created": 9,
        "model": "palmyra-x5",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": text} if text else {},
                "message": {"role": "assistant", "content": so_far},
                "finish_reason": finish,
            }
        ],
    }


def test_delta_with_message_copy_folds_the_delta_and_keeps_the_last_copy() -> None:
    chunks = [
        _writer_chunk("Hel", "Hel"),
        _writer_chunk("lo", "Hello"),
        _writer_chunk("", "Hello", "stop"),
    ]
    result = assemble(chunks)
    choice = result.choices[0]
    assert choice.message.content == "Hello"
    assert choice.extra["message"] == {"role": "assistant", "content": "Hello"}
    wire = result.to_dict()["choices"][0]
    assert wire["message"]["content"] == "Hello"
    assert wire["extra.message"] == {"role": "assistant", "content": "Hello"}
    # A copy that is not cumulative is still not concatenated: the last one is kept.
    chunks = [_writer_chunk("a", "a"), _writer_chunk("b", "b")]
    assert assemble(chunks).choices[0].extra["message"] == {"role": "assistant", "content": "b"}


def test_empty_delta_beside_message_does_not_fold_the_message() -> None:
    chunk = _writer_chunk("", "already streamed", "stop")
    result = assemble([chunk])
    assert result.choices[0].message.content is None
    assert result.choices[0].extra["message"]["content"] == "already streamed"


@pytest.mark.parametrize(
    ("message", "path"),
    [
        ("text", "choices[0].message"),
        ({"content": 5}, "choices[0].message.content"),
        ({"tool_calls": ["x"]}, "choices[0].message.tool_calls[0]"),
        (
            {"tool_calls": [{"function": {"name": 3}}]},
            "choices[0].message.tool_calls[0].function.name",
        ),
    ],
)
def test_bad_message_names_the_message_path(message: Any, path: str) -> None:
    with pytest.raises(ChunkDecodeError) as info:
        assemble([{"id": "a", "choices": [{"index": 0, "message": message}]}])
    assert info.value.path == path
    assert path in str(info.value)


# --- to_dict never drops an unknown field ----------------------------------------------


def test_clash_written_under_prefixed_key_at_every_level() -> None:
    chunk = ChatCompletionChunk(id="real", extra={"id": "shadow", "model": "m2"})
    assert to_dict(chunk)["id"] == "real"
    assert to_dict(chunk)["extra.id"] == "shadow"
    choice = Choice(message=Message(content="folded"), extra={"message": {"content": "copy"}})
    assert to_dict(choice)["message"]["content"] == "folded"
    assert to_dict(choice)["extra.message"] == {"content": "copy"}
    message = Message(content="real", extra={"content": "shadow", "audio": {"x": 1}})
    out = to_dict(message)
    assert (out["content"], out["extra.content"], out["extra.audio"]) == (
        "real",
        "shadow",
        {"x": 1},
    )
    assert "audio" not in out
    call = ToolCall(id="c1", extra={"id": "c2", "type": "other", "index": 3})
    out = to_dict(call)
    assert (out["id"], out["extra.id"], out["type"], out["extra.type"], out["index"]) == (
        "c1",
        "c2",
        "function",
        "other",
        3,
    )
    usage = Usage(prompt_tokens=3, extra={"prompt_tokens": 5, "queue_time": 0.1})
    out = to_dict(usage)
    assert (out["prompt_tokens"], out["extra.prompt_tokens"], out["queue_time"]) == (3, 5, 0.1)


def test_clash_prefix_repeats_while_taken_and_round_trips() -> None:
    choice = Choice(extra={"message": 1, "extra.message": 2, "extra.extra.message": 3})
    out = to_dict(choice)
    assert (out["extra.message"], out["extra.extra.message"], out["extra.extra.extra.message"]) == (
        2,
        3,
        1,
    )
    again = from_dict(Choice, out)
    assert to_dict(again) == out
    assert again.extra == {
        "extra.message": 2,
        "extra.extra.message": 3,
        "extra.extra.extra.message": 1,
    }


def test_wrong_typed_value_still_stands_in_for_a_default_field() -> None:
    """A lenient class keeps a field of the wrong type in extra under its own key; with the
    field left at its default the value is written back there, so it survives a round trip."""
    usage = from_dict(Usage, {"prompt_tokens": "lots", "total_tokens": 3})
    assert usage.prompt_tokens is None and usage.extra == {"prompt_tokens": "lots"}
    assert to_dict(usage) == {"prompt_tokens": "lots", "total_tokens": 3}


def test_completion_from_dict_with_message_extra_round_trips_losslessly() -> None:
    wire = to_dict(assemble([_writer_chunk("Hi", "Hi", "stop")]))
    assert wire == to_dict(from_dict(ChatCompletion, wire))
    assert deltafold.ChatCompletion.from_dict(wire).choices[0].extra == {
        "extra.message": {"role": "assistant", "content": "Hi"}
    }
