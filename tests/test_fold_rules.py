"""One or more focused tests per rule of the fold spec (issue 2), chunks written out literally."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deltafold import (
    Accumulator,
    AnnotationAdded,
    ChatCompletion,
    ChoiceFinished,
    ChunkDecodeError,
    ContentDelta,
    ImageAdded,
    IncompleteStreamError,
    Limits,
    LogprobsDelta,
    ReasoningDelta,
    ReasoningDetailDelta,
    RefusalDelta,
    StreamError,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UsageUpdated,
    assemble,
    from_dict,
)


def one(delta: dict[str, Any], index: int = 0, finish: str | None = None) -> dict[str, Any]:
    """A chunk with one choice: keeps the literal chunks below short."""
    return {"choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def wire(completion: ChatCompletion) -> dict[str, Any]:
    return completion.to_dict()


# --- choices ------------------------------------------------------------------


def test_choices_keyed_by_index_any_order_sorted() -> None:
    chunks = [
        {"choices": [{"index": 2, "delta": {"content": "c"}}]},
        {
            "choices": [
                {"index": 0, "delta": {"content": "a"}},
                {"index": 1, "delta": {"content": "b"}},
            ]
        },
        {"choices": [{"index": 1, "delta": {"content": "B"}}]},
        {"choices": [{"index": 2, "delta": {"content": "C"}, "finish_reason": "stop"}]},
        {"choices": [{"index": 0, "delta": {"content": "A"}, "finish_reason": "length"}]},
    ]
    result = assemble(chunks)
    assert [c.index for c in result.choices] == [0, 1, 2]
    assert [c.message.content for c in result.choices] == ["aA", "bB", "cC"]
    assert [c.finish_reason for c in result.choices] == ["length", None, "stop"]


def test_choices_any_first_index() -> None:
    result = assemble(
        [
            {"choices": [{"index": 3, "delta": {"content": "x"}}]},
            {"choices": [{"index": 5, "delta": {"content": "y"}}]},
        ]
    )
    assert [(c.index, c.message.content) for c in result.choices] == [(3, "x"), (5, "y")]


# --- role ---------------------------------------------------------------------


def test_role_first_non_empty_wins_repeats_never_concatenate() -> None:
    result = assemble(
        [
            one({"role": "", "content": "a"}),
            one({"role": "assistant", "content": "b"}),
            one({"role": "assistant"}),
            one({"role": "tool"}),
        ]
    )
    assert result.choices[0].message.role == "assistant"


def test_role_defaults_to_assistant() -> None:
    result = assemble([one({"content": "hi"}, finish="stop")])
    assert result.choices[0].message.role == "assistant"
    assert wire(result)["choices"][0]["message"]["role"] == "assistant"


# --- content and refusal -------------------------------------------------------------


def test_content_fragments_concatenated() -> None:
    result = assemble(
        [
            one({"role": "assistant", "content": ""}),
            one({"content": "Hel"}),
            one({"content": None}),
            one({"content": "lo"}),
            one({"content": ", world"}, finish="stop"),
        ]
    )
    assert result.choices[0].message.content == "Hello, world"


def test_content_stays_null_if_no_string_arrived() -> None:
    result = assemble(
        [
            one({"role": "assistant", "content": None}),
            one(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}
                    ]
                }
            ),
            one({}, finish="tool_calls"),
        ]
    )
    assert result.choices[0].message.content is None
    assert wire(result)["choices"][0]["message"]["content"] is None


def test_content_empty_string_arrived_is_empty_string() -> None:
    result = assemble([one({"role": "assistant", "content": ""}, finish="stop")])
    assert result.choices[0].message.content == ""


def test_refusal_fragments_concatenated() -> None:
    result = assemble(
        [
            one({"role": "assistant", "refusal": ""}),
            one({"refusal": "I can't "}),
            one({"refusal": None}),
            one({"refusal": "help with that."}, finish="stop"),
        ]
    )
    message = result.choices[0].message
    assert message.refusal == "I can't help with that."
    assert message.content is None


def test_refusal_null_when_absent() -> None:
    result = assemble([one({"content": "ok"}, finish="stop")])
    assert result.choices[0].message.refusal is None
    assert wire(result)["choices"][0]["message"]["refusal"] is None


def test_content_fold_does_not_mutate_input_chunks() -> None:
    chunks = [one({"content": "a"}), one({"content": "b"}, finish="stop")]
    before = json.dumps(chunks)
    assemble(chunks)
    assemble(chunks)
    assert json.dumps(chunks) == before


def test_content_list_parts_text_to_content_thinking_to_reasoning() -> None:
    result = assemble(
        [
            one({"role": "assistant", "content": ""}),
            one(
                {
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "Let me "}]}
                    ]
                }
            ),
            one(
                {
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "think."}]}
                    ]
                }
            ),
            one({"content": [{"type": "text", "text": "The "}]}),
            one({"content": "answer"}),
            one({"content": [{"type": "text", "text": " is 4."}]}, finish="stop"),
        ]
    )
    message = result.choices[0].message
    assert message.content == "The answer is 4."
    assert message.reasoning == "Let me think."


def test_content_list_parts_nothing_dropped() -> None:
    odd_part = {"type": "reference", "reference_ids": [1, 2]}
    result = assemble(
        [
            one({"content": [{"type": "text", "text": "see"}, odd_part]}),
            one({"content": " [1]"}, finish="stop"),
        ]
    )
    message = result.choices[0].message
    assert message.content == "see [1]"
    assert odd_part in _all_values(wire(result))


def _all_values(value: Any) -> list[Any]:
    """Every nested value of a JSON document, to find a kept part wherever it was put."""
    found = [value]
    if isinstance(value, dict):
        for item in value.values():
            found.extend(_all_values(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_all_values(item))
    return found


# --- reasoning ------------------------------------------------------------------------


def test_reasoning_and_reasoning_content_fold_into_reasoning() -> None:
    result = assemble(
        [
            one({"reasoning_content": "step 1; "}),
            one({"reasoning": "step 2; "}),
            one({"reasoning_content": "step 3"}),
            one({"content": "done"}, finish="stop"),
        ]
    )
    message = result.choices[0].message
    assert message.reasoning == "step 1; step 2; step 3"
    assert "reasoning_content" not in wire(result)["choices"][0]["message"]


def test_reasoning_same_text_in_both_fields_counts_once() -> None:
    result = assemble(
        [
            one({"reasoning": "Hmm", "reasoning_content": "Hmm"}),
            one({"reasoning_content": ", ok", "reasoning": ", ok"}),
            one({"content": "x"}, finish="stop"),
        ]
    )
    assert result.choices[0].message.reasoning == "Hmm, ok"


def test_reasoning_null_when_absent() -> None:
    result = assemble([one({"content": "x", "reasoning": None}, finish="stop")])
    assert result.choices[0].message.reasoning is None
    assert "reasoning" not in wire(result)["choices"][0]["message"]


# --- reasoning_details ---------------------------------------------------------------


def test_reasoning_details_same_type_index_merge_text() -> None:
    result = assemble(
        [
            one({"reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "Fir"}]}),
            one({"reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "st"}]}),
            one({"reasoning_details": [{"type": "reasoning.summary", "index": 0, "summary": "S"}]}),
            one(
                {"reasoning_details": [{"type": "reasoning.summary", "index": 0, "summary": "um"}]}
            ),
            one({"reasoning_details": [{"type": "reasoning.encrypted", "index": 0, "data": "ab"}]}),
            one({"reasoning_details": [{"type": "reasoning.encrypted", "index": 0, "data": "cd"}]}),
        ]
    )
    details = result.choices[0].message.reasoning_details
    assert [(d.type, d.text, d.summary, d.data) for d in details] == [
        ("reasoning.text", "First", None, None),
        ("reasoning.summary", None, "Sum", None),
        ("reasoning.encrypted", None, None, "abcd"),
    ]


def test_reasoning_details_first_non_null_id_and_format() -> None:
    result = assemble(
        [
            one(
                {
                    "reasoning_details": [
                        {
                            "type": "reasoning.text",
                            "index": 0,
                            "text": "a",
                            "id": None,
                            "format": None,
                        }
                    ]
                }
            ),
            one(
                {
                    "reasoning_details": [
                        {
                            "type": "reasoning.text",
                            "index": 0,
                            "text": "b",
                            "id": "rs_1",
                            "format": "fmt-1",
                        }
                    ]
                }
            ),
            one(
                {
                    "reasoning_details": [
                        {
                            "type": "reasoning.text",
                            "index": 0,
                            "text": "c",
                            "id": "rs_2",
                            "format": "fmt-2",
                        }
                    ]
                }
            ),
        ]
    )
    [detail] = result.choices[0].message.reasoning_details
    assert (detail.text, detail.id, detail.format) == ("abc", "rs_1", "fmt-1")


def test_reasoning_details_last_non_empty_signature_signature_only_fragment_survives() -> None:
    result = assemble(
        [
            one(
                {
                    "reasoning_details": [
                        {"type": "reasoning.text", "index": 0, "text": "think", "signature": None}
                    ]
                }
            ),
            one(
                {
                    "reasoning_details": [
                        {"type": "reasoning.text", "index": 0, "signature": "sig-A"}
                    ]
                }
            ),
            one(
                {
                    "reasoning_details": [
                        {"type": "reasoning.text", "index": 0, "text": "", "signature": ""}
                    ]
                }
            ),
        ]
    )
    [detail] = result.choices[0].message.reasoning_details
    assert detail.text == "think"
    assert detail.signature == "sig-A"

    later = assemble(
        [
            one(
                {"reasoning_details": [{"type": "reasoning.text", "index": 0, "signature": "one"}]}
            ),
            one(
                {"reasoning_details": [{"type": "reasoning.text", "index": 0, "signature": "two"}]}
            ),
        ]
    )
    assert later.choices[0].message.reasoning_details[0].signature == "two"


def test_reasoning_details_items_without_index_appended() -> None:
    result = assemble(
        [
            one({"reasoning_details": [{"type": "reasoning.encrypted", "data": "x"}]}),
            one({"reasoning_details": [{"type": "reasoning.encrypted", "data": "y"}]}),
        ]
    )
    details = result.choices[0].message.reasoning_details
    assert [d.data for d in details] == ["x", "y"]


def test_reasoning_details_order_of_first_appearance() -> None:
    result = assemble(
        [
            one({"reasoning_details": [{"type": "reasoning.text", "index": 1, "text": "B"}]}),
            one(
                {
                    "reasoning_details": [
                        {"type": "reasoning.text", "index": 0, "text": "A"},
                        {"type": "reasoning.text", "index": 1, "text": "b"},
                    ]
                }
            ),
            one({"reasoning_details": [{"type": "reasoning.encrypted", "index": 1, "data": "E"}]}),
            one({"reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "a"}]}),
        ]
    )
    details = result.choices[0].message.reasoning_details
    assert [(d.type, d.index, d.text or d.data) for d in details] == [
        ("reasoning.text", 1, "Bb"),
        ("reasoning.text", 0, "Aa"),
        ("reasoning.encrypted", 1, "E"),
    ]


def test_reasoning_details_unknown_fields_kept() -> None:
    result = assemble(
        [
            one(
                {"reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "a", "x": 1}]}
            ),
        ]
    )
    out = wire(result)["choices"][0]["message"]["reasoning_details"][0]
    assert out["x"] == 1
    assert out["text"] == "a"


# --- tool calls -------------------------------------------------------------------


def _calls(result: ChatCompletion, choice: int = 0) -> list[tuple[str, str, str, str]]:
    return [
        (c.id, c.type, c.function.name, c.function.arguments)
        for c in result.choices[choice].message.tool_calls
    ]


def test_tool_call_merge_by_index() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_a",
                            "type": "function",
                            "function": {"name": "get", "arguments": ""},
                        }
                    ]
                }
            ),
            one(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "put", "arguments": '{"y"'},
                        }
                    ]
                }
            ),
            one({"tool_calls": [{"index": 0, "function": {"arguments": '{"x":'}}]}),
            one({"tool_calls": [{"index": 1, "function": {"arguments": ": 2}"}}]}),
            one(
                {"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]},
                finish="tool_calls",
            ),
        ]
    )
    assert _calls(result) == [
        ("call_a", "function", "get", '{"x": 1}'),
        ("call_b", "function", "put", '{"y": 2}'),
    ]


def test_tool_call_new_id_at_same_index_starts_new_call() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "a", "arguments": '{"n": 1}'},
                        }
                    ]
                }
            ),
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "b", "arguments": '{"n":'},
                        }
                    ]
                }
            ),
            one(
                {"tool_calls": [{"index": 0, "function": {"arguments": " 2}"}}]},
                finish="tool_calls",
            ),
        ]
    )
    assert _calls(result) == [
        ("call_1", "function", "a", '{"n": 1}'),
        ("call_2", "function", "b", '{"n": 2}'),
    ]


def test_tool_call_same_id_repeated_at_same_index_is_same_call() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "[1"}}
                    ]
                }
            ),
            one({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": ",2]"}}]}),
            one({"tool_calls": [{"index": 0, "id": "", "function": {"arguments": ""}}]}),
        ]
    )
    assert _calls(result) == [("call_1", "function", "f", "[1,2]")]


def test_tool_call_without_index_matches_known_id() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {"id": "call_a", "function": {"name": "a", "arguments": '{"p":'}},
                        {"id": "call_b", "function": {"name": "b", "arguments": '{"q":'}},
                    ]
                }
            ),
            one({"tool_calls": [{"id": "call_a", "function": {"arguments": " 1}"}}]}),
            one({"tool_calls": [{"id": "call_b", "function": {"arguments": " 2}"}}]}),
        ]
    )
    assert _calls(result) == [
        ("call_a", "function", "a", '{"p": 1}'),
        ("call_b", "function", "b", '{"q": 2}'),
    ]


def test_tool_call_without_index_continues_most_recent_call() -> None:
    result = assemble(
        [
            one({"tool_calls": [{"id": "call_a", "function": {"name": "a", "arguments": "{}"}}]}),
            one({"tool_calls": [{"id": "call_b", "function": {"name": "b", "arguments": '{"k"'}}]}),
            one({"tool_calls": [{"function": {"arguments": ": true}"}}]}),
        ]
    )
    assert _calls(result) == [
        ("call_a", "function", "a", "{}"),
        ("call_b", "function", "b", '{"k": true}'),
    ]


def test_tool_call_without_index_or_id_starts_one_when_none() -> None:
    result = assemble(
        [
            one({"tool_calls": [{"function": {"name": "f", "arguments": '{"a"'}}]}),
            one({"tool_calls": [{"function": {"arguments": ": 0}"}}]}),
        ]
    )
    assert _calls(result) == [("", "function", "f", '{"a": 0}')]


def test_tool_call_id_type_name_first_non_empty_wins() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "",
                            "type": "",
                            "function": {"name": "", "arguments": ""},
                        }
                    ]
                }
            ),
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": "{"},
                        }
                    ]
                }
            ),
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "lookup", "arguments": "}"},
                        }
                    ]
                }
            ),
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "",
                            "type": "",
                            "function": {"name": "", "arguments": ""},
                        }
                    ]
                }
            ),
        ]
    )
    assert _calls(result) == [("call_1", "function", "lookup", "{}")]
    out = wire(result)["choices"][0]["message"]["tool_calls"][0]
    assert out["id"] == "call_1"
    assert out["function"]["name"] == "lookup"


def test_tool_call_arguments_concatenated() -> None:
    pieces = ['{"', "city", '": "', "Par", "is", '"}']
    result = assemble(
        [one({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "w", "arguments": ""}}]})]
        + [one({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces]
    )
    arguments = result.choices[0].message.tool_calls[0].function.arguments
    assert arguments == "".join(pieces)
    assert json.loads(arguments) == {"city": "Paris"}


def test_tool_call_full_arguments_resent_replaces() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"a": 1'}}
                    ]
                }
            ),
            one({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1, "b": 2}'}}]}),
            one({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1, "b": 2}'}}]}),
        ]
    )
    assert _calls(result) == [("c", "function", "f", '{"a": 1, "b": 2}')]


def test_tool_call_index_may_start_at_1_or_skip() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {"index": 1, "id": "c1", "function": {"name": "a", "arguments": "{"}}
                    ]
                }
            ),
            one(
                {
                    "tool_calls": [
                        {"index": 4, "id": "c4", "function": {"name": "b", "arguments": "["}}
                    ]
                }
            ),
            one({"tool_calls": [{"index": 1, "function": {"arguments": "}"}}]}),
            one(
                {"tool_calls": [{"index": 4, "function": {"arguments": "]"}}]}, finish="tool_calls"
            ),
        ]
    )
    assert _calls(result) == [("c1", "function", "a", "{}"), ("c4", "function", "b", "[]")]


def test_tool_call_several_calls_in_one_chunk() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c0",
                            "type": "function",
                            "function": {"name": "a", "arguments": '{"x'},
                        },
                        {
                            "index": 1,
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "b", "arguments": '{"y'},
                        },
                        {"index": 0, "function": {"arguments": '": 0}'}},
                    ]
                }
            ),
            one(
                {"tool_calls": [{"index": 1, "function": {"arguments": '": 1}'}}]},
                finish="tool_calls",
            ),
        ]
    )
    assert _calls(result) == [
        ("c0", "function", "a", '{"x": 0}'),
        ("c1", "function", "b", '{"y": 1}'),
    ]


def test_tool_call_whole_call_in_one_chunk() -> None:
    result = assemble(
        [
            {
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "delta": {
                            "role": "assistant",
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_z",
                                    "type": "function",
                                    "function": {"name": "now", "arguments": "{}"},
                                }
                            ],
                        },
                    }
                ]
            },
        ]
    )
    assert _calls(result) == [("call_z", "function", "now", "{}")]
    assert result.choices[0].finish_reason == "tool_calls"


def test_tool_call_unknown_fields_kept() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c",
                            "extra_content": {"google": {"sig": "s"}},
                            "function": {"name": "f", "arguments": "{}", "strict": True},
                        }
                    ]
                }
            ),
        ]
    )
    out = wire(result)["choices"][0]["message"]["tool_calls"][0]
    assert out["extra_content"] == {"google": {"sig": "s"}}
    assert out["function"]["strict"] is True


def test_legacy_function_call_folds_the_same_way() -> None:
    result = assemble(
        [
            one({"role": "assistant", "function_call": {"name": "lookup", "arguments": ""}}),
            one({"function_call": {"name": "lookup", "arguments": '{"q":'}}),
            one({"function_call": {"name": "", "arguments": ' "x"}'}}),
            one({}, finish="function_call"),
        ]
    )
    call = result.choices[0].message.function_call
    assert call is not None
    assert (call.name, call.arguments) == ("lookup", '{"q": "x"}')
    assert result.choices[0].message.tool_calls == []


def test_legacy_function_call_full_arguments_resent_replaces() -> None:
    result = assemble(
        [
            one({"function_call": {"name": "f", "arguments": '{"a"'}}),
            one({"function_call": {"arguments": '{"a": 1}'}}),
        ]
    )
    call = result.choices[0].message.function_call
    assert call is not None
    assert call.arguments == '{"a": 1}'


# --- logprobs ----------------------------------------------------------------------


def _lp(token: str) -> dict[str, Any]:
    return {"token": token, "logprob": -0.5, "bytes": list(token.encode()), "top_logprobs": []}


def test_logprobs_content_and_refusal_lists_extended() -> None:
    result = assemble(
        [
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": "a"},
                        "logprobs": {"content": [_lp("a")], "refusal": None},
                    }
                ]
            },
            {
                "choices": [
                    {"index": 0, "delta": {"content": "b"}, "logprobs": {"content": [_lp("b")]}}
                ]
            },
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"refusal": "n"},
                        "logprobs": {"content": None, "refusal": [_lp("n")]},
                    }
                ]
            },
            {
                "choices": [
                    {"index": 0, "delta": {"refusal": "o"}, "logprobs": {"refusal": [_lp("o")]}}
                ]
            },
        ]
    )
    logprobs = result.choices[0].logprobs
    assert logprobs is not None
    assert [t.token for t in logprobs.content or []] == ["a", "b"]
    assert [t.token for t in logprobs.refusal or []] == ["n", "o"]
    assert logprobs.content is not None
    assert logprobs.content[0].bytes == [97]


def test_logprobs_null_ignored() -> None:
    result = assemble(
        [
            {"choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": None}]},
            {
                "choices": [
                    {"index": 0, "delta": {"content": "b"}, "logprobs": {"content": [_lp("b")]}}
                ]
            },
            {"choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]},
        ]
    )
    logprobs = result.choices[0].logprobs
    assert logprobs is not None
    assert [t.token for t in logprobs.content or []] == ["b"]
    assert logprobs.refusal is None
    assert assemble([one({"content": "x"})]).choices[0].logprobs is None


# --- annotations, images, audio ------------------------------------------------------


def test_annotations_appended_in_order_exact_duplicates_dropped() -> None:
    a = {
        "type": "url_citation",
        "url_citation": {"url": "https://a", "title": "A", "start_index": 0, "end_index": 3},
    }
    b = {"type": "url_citation", "url_citation": {"url": "https://b", "title": "B"}}
    a_other_span = {
        "type": "url_citation",
        "url_citation": {"url": "https://a", "title": "A", "start_index": 5, "end_index": 9},
    }
    result = assemble(
        [
            one({"annotations": [a]}),
            one({"annotations": [a, b]}),
            one({"annotations": [dict(a), a_other_span]}),
        ]
    )
    out = wire(result)["choices"][0]["message"]["annotations"]
    assert out == [a, b, a_other_span]


def test_images_appended_in_order_exact_duplicates_dropped() -> None:
    one_img = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}, "index": 0}
    two_img = {"type": "image_url", "image_url": {"url": "data:image/png;base64,BBB"}, "index": 1}
    result = assemble(
        [
            one({"images": [one_img]}),
            one({"images": [one_img, two_img]}),
            one({"images": [two_img]}, finish="stop"),
        ]
    )
    out = wire(result)["choices"][0]["message"]["images"]
    assert out == [one_img, two_img]


def test_audio_id_first_data_transcript_concatenated_expires_at_last() -> None:
    result = assemble(
        [
            one(
                {"audio": {"id": "audio_1", "data": "AAA", "transcript": "Hel", "expires_at": 100}}
            ),
            one({"audio": {"id": "audio_2", "data": "BBB", "transcript": "lo"}}),
            one({"audio": {"data": "CC", "transcript": None, "expires_at": 200}}),
            one({"audio": {"id": "", "transcript": "!"}}, finish="stop"),
        ]
    )
    audio = result.choices[0].message.audio
    assert audio is not None
    assert (audio.id, audio.data, audio.transcript, audio.expires_at) == (
        "audio_1",
        "AAABBBCC",
        "Hello!",
        200,
    )


# --- usage -----------------------------------------------------------------------


USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def test_usage_on_chunk_with_empty_choices() -> None:
    result = assemble(
        [
            one({"content": "hi"}, finish="stop"),
            {"choices": [], "usage": USAGE},
        ]
    )
    assert result.usage is not None
    assert wire(result)["usage"] == USAGE
    assert result.choices[0].finish_reason == "stop"


def test_usage_on_finishing_chunk() -> None:
    result = assemble(
        [
            one({"content": "hi"}),
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": USAGE},
        ]
    )
    assert wire(result)["usage"] == USAGE


def test_usage_cumulative_on_every_chunk_never_summed() -> None:
    result = assemble(
        [
            {
                **one({"content": "a"}),
                "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
            },
            {
                **one({"content": "b"}),
                "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
            },
            {
                **one({"content": "c"}, finish="stop"),
                "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
            },
        ]
    )
    assert wire(result)["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "total_tokens": 13,
    }


def test_usage_never_erased_by_later_null_or_missing_field() -> None:
    result = assemble(
        [
            {
                **one({"content": "a"}),
                "usage": {
                    "prompt_tokens": 7,
                    "completion_tokens": 1,
                    "prompt_tokens_details": {"cached_tokens": 3},
                },
            },
            {**one({"content": "b"}), "usage": None},
            {
                **one({"content": "c"}, finish="stop"),
                "usage": {
                    "prompt_tokens": None,
                    "completion_tokens": 2,
                    "total_tokens": 9,
                    "prompt_tokens_details": None,
                },
            },
        ]
    )
    assert wire(result)["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 2,
        "total_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 3},
    }


def test_usage_merged_field_by_field_details_too() -> None:
    result = assemble(
        [
            {
                "choices": [],
                "usage": {"prompt_tokens": 4, "completion_tokens_details": {"reasoning_tokens": 2}},
            },
            {
                "choices": [],
                "usage": {"completion_tokens": 6, "completion_tokens_details": {"audio_tokens": 0}},
            },
        ]
    )
    usage = result.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (4, 6)
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 2
    assert usage.completion_tokens_details.audio_tokens == 0


def test_usage_keeps_cost_byok_details_and_unknown_fields() -> None:
    usage = {
        "prompt_tokens": 20,
        "completion_tokens": 30,
        "total_tokens": 50,
        "cost": 0.0012,
        "is_byok": False,
        "cost_details": {
            "upstream_inference_cost": None,
            "upstream_inference_prompt_cost": 0.0002,
            "upstream_inference_completions_cost": 0.001,
        },
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "cache_write_tokens": 5},
        "completion_tokens_details": {"reasoning_tokens": 12, "image_tokens": 0},
        "server_tool_use": {"web_search_requests": 1},
        "queue_time": 0.25,
    }
    result = assemble([one({"content": "x"}, finish="stop"), {"choices": [], "usage": usage}])
    expected = dict(usage)
    expected["cost_details"] = {k: v for k, v in usage["cost_details"].items() if v is not None}
    assert wire(result)["usage"] == expected
    assert result.usage is not None
    assert result.usage.is_byok is False
    assert result.usage.cost == pytest.approx(0.0012)


def test_usage_on_error_chunk_kept_in_partial() -> None:
    with pytest.raises(StreamError) as info:
        assemble(
            [
                one({"content": "par"}),
                {
                    "choices": [
                        {"index": 0, "delta": {"content": "tial"}, "finish_reason": "error"}
                    ],
                    "usage": USAGE,
                    "error": {"code": 502, "message": "upstream died"},
                },
            ]
        )
    partial = info.value.partial
    assert partial is not None
    assert partial.usage is not None
    assert wire(partial)["usage"] == USAGE


# --- finish reasons ----------------------------------------------------------------


def test_finish_reason_last_non_null_non_empty_wins() -> None:
    result = assemble(
        [
            one({"content": "a"}, finish="length"),
            one({}, finish=None),
            one({}, finish=""),
            one({}, finish="stop"),
            one({}, finish=None),
        ]
    )
    assert result.choices[0].finish_reason == "stop"


def test_native_finish_reason_last_non_null_non_empty_wins() -> None:
    result = assemble(
        [
            {
                "choices": [
                    {"index": 0, "delta": {"content": "a"}, "native_finish_reason": "MAX_TOKENS"}
                ]
            },
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {},
                        "native_finish_reason": "end_turn",
                        "finish_reason": "stop",
                    }
                ]
            },
            {"choices": [{"index": 0, "delta": {}, "native_finish_reason": ""}]},
            {"choices": [{"index": 0, "delta": {}, "native_finish_reason": None}]},
        ]
    )
    assert result.choices[0].native_finish_reason == "end_turn"
    assert wire(result)["choices"][0]["native_finish_reason"] == "end_turn"


# --- top level ---------------------------------------------------------------------


def test_top_level_first_non_empty_value_wins() -> None:
    result = assemble(
        [
            {
                "id": "",
                "object": "",
                "created": 0,
                "model": "",
                "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            },
            {
                "id": "chatcmpl-1",
                "created": 111,
                "model": "gpt-x",
                "system_fingerprint": "fp_1",
                "service_tier": "default",
                "provider": "OpenAI",
                **one({"content": "a"}),
            },
            {
                "id": "chatcmpl-2",
                "created": 222,
                "model": "gpt-y",
                "system_fingerprint": "fp_2",
                "service_tier": "flex",
                "provider": "Azure",
                **one({"content": "b"}, finish="stop"),
            },
        ]
    )
    assert (result.id, result.created, result.model) == ("chatcmpl-1", 111, "gpt-x")
    assert (result.system_fingerprint, result.service_tier, result.provider) == (
        "fp_1",
        "default",
        "OpenAI",
    )


def test_result_object_is_chat_completion() -> None:
    result = assemble([{"object": "chat.completion.chunk", **one({"content": "a"}, finish="stop")}])
    assert result.object == "chat.completion"
    assert wire(result)["object"] == "chat.completion"


# --- unknown fields ------------------------------------------------------------------


def test_unknown_fields_kept_at_chunk_choice_delta_and_tool_level() -> None:
    result = assemble(
        [
            {
                "x_groq": {"id": "req_1"},
                "choices": [
                    {
                        "index": 0,
                        "matched_stop": 42,
                        "delta": {
                            "content": "a",
                            "executed_tools": [{"name": "search"}],
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "c",
                                    "google_sig": "s",
                                    "function": {"name": "f", "arguments": "{}"},
                                }
                            ],
                        },
                    }
                ],
            },
        ]
    )
    out = wire(result)
    assert out["x_groq"] == {"id": "req_1"}
    assert out["choices"][0]["matched_stop"] == 42
    assert out["choices"][0]["message"]["executed_tools"] == [{"name": "search"}]
    assert out["choices"][0]["message"]["tool_calls"][0]["google_sig"] == "s"
    assert result.choices[0].message.extra["executed_tools"] == [{"name": "search"}]


def test_unknown_fields_equal_repeats_kept_once() -> None:
    result = assemble(
        [
            {
                "citations": ["https://a", "https://b"],
                "note": "n",
                "meta": {"k": 1},
                **one({"content": "a"}),
            },
            {
                "citations": ["https://a", "https://b"],
                "note": "n",
                "meta": {"k": 1},
                **one({"content": "b"}),
            },
        ]
    )
    out = wire(result)
    assert out["citations"] == ["https://a", "https://b"]
    assert out["note"] == "n"
    assert out["meta"] == {"k": 1}


def test_unknown_fields_strings_concat_lists_extend_dicts_merge_others_last_wins() -> None:
    result = assemble(
        [
            {"s": "ab", "l": [1], "d": {"x": "p", "n": 1, "keep": True}, "v": 1, **one({})},
            {"s": "cd", "l": [2, 3], "d": {"x": "q", "n": 2}, "v": 2.5, **one({})},
            {"s": None, "l": None, "d": None, "v": None, **one({})},
        ]
    )
    out = wire(result)
    assert out["s"] == "abcd"
    assert out["l"] == [1, 2, 3]
    assert out["d"] == {"x": "pq", "n": 2, "keep": True}
    assert out["v"] == 2.5


def test_unknown_fields_round_trip_through_to_dict_and_from_dict() -> None:
    result = assemble(
        [
            {
                "sla": {"ttft": 1},
                "choices": [
                    {
                        "index": 0,
                        "stop_reason": None,
                        "token_ids": [1],
                        "delta": {"content": "a", "thought": "t"},
                    }
                ],
            },
            {
                "choices": [
                    {
                        "index": 0,
                        "token_ids": [2],
                        "delta": {"content": "b"},
                        "finish_reason": "stop",
                    }
                ]
            },
        ]
    )
    out = wire(result)
    assert out["sla"] == {"ttft": 1}
    assert out["choices"][0]["token_ids"] == [1, 2]
    assert out["choices"][0]["message"]["thought"] == "t"
    assert from_dict(ChatCompletion, out) == result


# --- errors ---------------------------------------------------------------------------


def test_error_chunk_folded_first_then_raises_stream_error() -> None:
    error = {"code": 429, "message": "Rate limited", "metadata": {"provider_name": "X"}}
    with pytest.raises(StreamError) as info:
        assemble(
            [
                {"id": "gen-1", **one({"role": "assistant", "content": "Hello"})},
                {
                    "id": "gen-1",
                    "error": error,
                    "choices": [
                        {"index": 0, "delta": {"content": " wor"}, "finish_reason": "error"}
                    ],
                },
                one({"content": "never folded"}),
            ]
        )
    exc = info.value
    assert exc.code == 429
    assert exc.message and "Rate limited" in exc.message
    assert exc.metadata == {"provider_name": "X"}
    assert exc.partial is not None
    assert exc.partial.id == "gen-1"
    assert exc.partial.choices[0].message.content == "Hello wor"
    assert exc.partial.choices[0].finish_reason == "error"


def test_error_chunk_string_code_without_choices() -> None:
    with pytest.raises(StreamError) as info:
        assemble(
            [
                one({"content": "a"}),
                {"error": {"code": "tool_use_failed", "message": "bad tool"}},
            ]
        )
    assert info.value.code == "tool_use_failed"
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "a"


def test_error_chunk_string_error() -> None:
    with pytest.raises(StreamError) as info:
        assemble([one({"content": "a"}), {"choices": [], "error": "overloaded"}])
    assert info.value.code is None
    assert "overloaded" in info.value.message
    assert info.value.partial is not None


def test_error_chunk_with_choices_no_finish_reason() -> None:
    with pytest.raises(StreamError) as info:
        assemble(
            [
                {
                    "choices": [{"index": 0, "delta": {"content": "xy"}}],
                    "error": {"message": "boom", "code": 500},
                },
            ]
        )
    assert info.value.code == 500
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "xy"
    assert info.value.partial.choices[0].finish_reason is None


def test_error_chunk_raises_from_accumulator_feed() -> None:
    acc = Accumulator()
    acc.feed(one({"content": "a"}))
    with pytest.raises(StreamError) as info:
        acc.feed({"error": {"code": 400, "message": "bad"}, **one({"content": "b"})})
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "ab"


def test_chunk_decode_error_has_raw_and_position() -> None:
    with pytest.raises(ChunkDecodeError) as info:
        assemble([one({"content": "a"}), '{"choices": [', one({"content": "b"})])
    exc = info.value
    assert exc.position == 1
    assert exc.raw in ('{"choices": [', b'{"choices": [')
    assert exc.partial is not None
    assert exc.partial.choices[0].message.content == "a"


def test_chunk_decode_error_on_first_chunk_position_zero() -> None:
    with pytest.raises(ChunkDecodeError) as info:
        assemble([b"not json"])
    assert info.value.position == 0
    assert info.value.raw == b"not json"


def test_error_after_first_chunk_carries_partial_with_failing_chunk_data() -> None:
    with pytest.raises(ChunkDecodeError) as info:
        assemble(
            [
                one({"content": "a"}),
                {
                    "choices": [
                        {"index": 0, "delta": {"content": "b"}},
                        {"index": 1, "delta": {"content": 5}},
                    ]
                },
            ]
        )
    exc = info.value
    assert exc.position == 1
    assert exc.partial is not None
    assert exc.partial.choices[0].message.content == "ab"


# --- incomplete streams --------------------------------------------------------------


def test_assemble_unfinished_choice_has_null_finish_reason() -> None:
    result = assemble(
        [
            {
                "choices": [
                    {"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"},
                    {"index": 1, "delta": {"content": "b"}},
                ]
            },
        ]
    )
    assert [c.finish_reason for c in result.choices] == ["stop", None]
    assert wire(result)["choices"][1]["finish_reason"] is None


def test_assemble_strict_raises_incomplete_stream_error() -> None:
    chunks = [
        {
            "choices": [
                {"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"},
                {"index": 1, "delta": {"content": "b"}},
            ]
        },
    ]
    with pytest.raises(IncompleteStreamError) as info:
        assemble(chunks, strict=True)
    assert info.value.partial is not None
    assert info.value.partial.choices[1].message.content == "b"
    finished = assemble([one({"content": "a"}, finish="stop")], strict=True)
    assert finished.choices[0].finish_reason == "stop"


def test_incomplete_choices_names_the_unfinished_ones_as_the_stream_goes() -> None:
    acc = Accumulator()
    assert acc.incomplete_choices() == []
    acc.feed(one({"content": "a"}, index=2))
    acc.feed({"choices": [{"index": 0, "delta": {"content": "b"}}]})
    assert acc.incomplete_choices() == [0, 2]
    acc.feed(one({}, index=2, finish="length"))
    assert acc.incomplete_choices() == [0]
    acc.feed(one({}, index=0, finish="stop"))
    assert acc.incomplete_choices() == []
    assert [c.finish_reason for c in acc.result(strict=True).choices] == ["stop", "length"]


# --- non-standard chunks ------------------------------------------------------------


def test_chunk_without_choices_or_usage_kept() -> None:
    filter_results = [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False}}}]
    result = assemble(
        [
            {
                "id": "",
                "object": "",
                "created": 0,
                "model": "",
                "choices": [],
                "prompt_filter_results": filter_results,
            },
            {"id": "x", **one({"content": "ok"}, finish="stop")},
        ]
    )
    assert wire(result)["prompt_filter_results"] == filter_results
    assert result.choices[0].message.content == "ok"


def test_choice_without_delta_never_crashes() -> None:
    result = assemble(
        [
            {"choices": [{"index": 0, "finish_reason": None, "content_filter_results": {"a": 1}}]},
            one({"content": "x"}),
            {"choices": [{"index": 0, "finish_reason": "stop"}]},
        ]
    )
    assert result.choices[0].message.content == "x"
    assert result.choices[0].finish_reason == "stop"
    assert wire(result)["choices"][0]["content_filter_results"] == {"a": 1}


def test_object_chat_completion_done_never_crashes() -> None:
    result = assemble(
        [
            {
                "id": "p",
                "object": "chat.completion.chunk",
                "citations": ["u"],
                **one({"content": "a"}),
            },
            {
                "id": "p",
                "object": "chat.completion.done",
                "citations": ["u"],
                "usage": USAGE,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "a"},
                        "delta": {"role": "assistant", "content": ""},
                        "finish_reason": "stop",
                    }
                ],
            },
        ]
    )
    assert result.object == "chat.completion"
    assert result.choices[0].message.content == "a"
    out = wire(result)
    assert out["citations"] == ["u"]
    assert out["choices"][0]["message"]["content"] == "a"
    assert out["usage"] == USAGE


# --- to_dict shape ---------------------------------------------------------------


def test_to_dict_always_has_role_content_refusal_and_finish_reason() -> None:
    out = wire(assemble([{"choices": [{"index": 0, "delta": {}}]}]))
    choice = out["choices"][0]
    assert choice["finish_reason"] is None
    assert choice["message"] == {"role": "assistant", "content": None, "refusal": None}


def test_to_dict_leaves_out_empty_optionals() -> None:
    out = wire(assemble([one({"content": "a"}, finish="stop")]))
    assert set(out) == {"id", "choices", "created", "model", "object"}
    assert set(out["choices"][0]) == {"index", "message", "finish_reason"}


def test_from_dict_of_to_dict_round_trips() -> None:
    result = assemble(
        [
            {"id": "r", "model": "m", "created": 5, **one({"role": "assistant", "reasoning": "r"})},
            one(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ]
                }
            ),
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": "t"},
                        "logprobs": {"content": [_lp("t")]},
                        "finish_reason": "tool_calls",
                    }
                ],
                "usage": USAGE,
            },
        ]
    )
    assert from_dict(ChatCompletion, wire(result)) == result


# --- events ---------------------------------------------------------------------------


def test_events_content_refusal_reasoning_deltas() -> None:
    acc = Accumulator()
    events = acc.feed(
        one({"role": "assistant", "content": "He", "refusal": "No", "reasoning": "R"})
    )
    events += acc.feed(one({"content": "llo", "reasoning_content": "S"}))
    events += acc.feed(one({"content": ""}))
    assert [e for e in events if isinstance(e, ContentDelta)] == [
        ContentDelta(0, "He"),
        ContentDelta(0, "llo"),
    ]
    assert [e for e in events if isinstance(e, RefusalDelta)] == [RefusalDelta(0, "No")]
    assert [e for e in events if isinstance(e, ReasoningDelta)] == [
        ReasoningDelta(0, "R"),
        ReasoningDelta(0, "S"),
    ]


def test_events_reasoning_detail_delta() -> None:
    acc = Accumulator()
    fragment = {"type": "reasoning.text", "index": 0, "text": "a"}
    events = acc.feed(one({"reasoning_details": [fragment]}))
    events += acc.feed(
        one({"reasoning_details": [{"type": "reasoning.text", "index": 0, "text": "b"}]})
    )
    details = [e for e in events if isinstance(e, ReasoningDetailDelta)]
    assert len(details) == 2
    assert details[0] == ReasoningDetailDelta(0, 0, fragment)
    assert details[1].position == 0


def test_events_tool_call_started_arguments_delta_done() -> None:
    acc = Accumulator()
    events = acc.feed(
        one(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get", "arguments": '{"a"'},
                    }
                ]
            }
        )
    )
    events += acc.feed(one({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}))
    events += acc.feed(one({}, finish="tool_calls"))
    assert [e for e in events if isinstance(e, ToolCallStarted)] == [
        ToolCallStarted(0, 0, "c1", "get")
    ]
    assert [e for e in events if isinstance(e, ToolCallArgumentsDelta)] == [
        ToolCallArgumentsDelta(0, 0, '{"a"'),
        ToolCallArgumentsDelta(0, 0, ": 1}"),
    ]
    assert [e for e in events if isinstance(e, ToolCallDone)] == [
        ToolCallDone(0, 0, "c1", "get", '{"a": 1}'),
    ]
    done_at = next(i for i, e in enumerate(events) if isinstance(e, ToolCallDone))
    finished_at = next(i for i, e in enumerate(events) if isinstance(e, ChoiceFinished))
    assert done_at < finished_at
    assert acc.close() == []


def test_events_tool_call_arguments_replaced_flag() -> None:
    acc = Accumulator()
    acc.feed(
        one(
            {
                "tool_calls": [
                    {"index": 0, "id": "c", "function": {"name": "f", "arguments": '{"a"'}}
                ]
            }
        )
    )
    events = acc.feed(one({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 2}'}}]}))
    assert [e for e in events if isinstance(e, ToolCallArgumentsDelta)] == [
        ToolCallArgumentsDelta(0, 0, '{"a": 2}', replaced=True),
    ]


def test_events_every_tool_call_exactly_one_done() -> None:
    acc = Accumulator()
    events = acc.feed(
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "a", "function": {"name": "fa", "arguments": "{}"}},
                            {"index": 1, "id": "b", "function": {"name": "fb", "arguments": "{}"}},
                        ]
                    },
                },
                {"index": 1, "delta": {"function_call": {"name": "legacy", "arguments": "{}"}}},
            ]
        }
    )
    events += acc.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    events += acc.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    events += acc.close()
    events += acc.close()
    done = [e for e in events if isinstance(e, ToolCallDone)]
    assert sorted((e.index, e.tool_index, e.id, e.name) for e in done) == [
        (0, 0, "a", "fa"),
        (0, 1, "b", "fb"),
        (1, -1, "", "legacy"),
    ]
    acc.result()
    assert acc.close() == []


def test_events_tool_call_done_fires_on_close_when_choice_never_finishes() -> None:
    acc = Accumulator()
    acc.feed(
        one(
            {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "[1]"}}]}
        )
    )
    events = acc.close()
    assert events == [ToolCallDone(0, 0, "c", "f", "[1]")]


def test_events_logprobs_annotation_image_usage_choice_finished() -> None:
    acc = Accumulator()
    annotation = {"type": "url_citation", "url_citation": {"url": "https://x"}}
    image = {"type": "image_url", "image_url": {"url": "data:,"}}
    events = acc.feed(
        {
            "choices": [
                {
                    "index": 2,
                    "delta": {"content": "a", "annotations": [annotation], "images": [image]},
                    "logprobs": {"content": [_lp("a")]},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
    )
    events += acc.feed({"choices": [{"index": 2, "delta": {"annotations": [annotation]}}]})
    assert LogprobsDelta(2, [_lp("a")], None) in events
    assert [e for e in events if isinstance(e, AnnotationAdded)] == [AnnotationAdded(2, annotation)]
    assert [e for e in events if isinstance(e, ImageAdded)] == [ImageAdded(2, image)]
    usage_events = [e for e in events if isinstance(e, UsageUpdated)]
    assert len(usage_events) == 1
    assert usage_events[0].usage.total_tokens == 15
    assert [e for e in events if isinstance(e, ChoiceFinished)] == [ChoiceFinished(2, "stop")]


def test_events_carry_only_the_new_fragment() -> None:
    acc = Accumulator()
    texts = []
    for piece in ["x" * 50] * 20:
        for event in acc.feed(one({"content": piece})):
            assert isinstance(event, ContentDelta)
            texts.append(event.text)
    assert texts == ["x" * 50] * 20


def test_events_feed_matches_assemble_result() -> None:
    chunks = [
        one({"role": "assistant", "content": "a"}),
        one(
            {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}
        ),
        {"choices": [], "usage": USAGE},
        one({}, finish="tool_calls"),
    ]
    acc = Accumulator()
    for chunk in chunks:
        acc.feed(chunk)
    assert acc.result() == assemble(chunks)


def test_tool_call_known_id_at_reused_index_returns_to_its_call() -> None:
    result = assemble(
        [
            one(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "function": {"name": "fa", "arguments": '{"x":'}}
                    ]
                }
            ),
            one(
                {
                    "tool_calls": [
                        {"index": 0, "id": "b", "function": {"name": "fb", "arguments": "{}"}}
                    ]
                }
            ),
            one({"tool_calls": [{"index": 0, "id": "a", "function": {"arguments": " 1}"}}]}),
        ]
    )
    assert _calls(result) == [("a", "function", "fa", '{"x": 1}'), ("b", "function", "fb", "{}")]


def test_tool_call_known_id_arriving_with_new_index_is_same_call() -> None:
    result = assemble(
        [
            one({"tool_calls": [{"id": "a", "function": {"name": "fa", "arguments": '{"x":'}}]}),
            one({"tool_calls": [{"index": 0, "id": "a", "function": {"arguments": " 1"}}]}),
            one({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}),
        ]
    )
    assert _calls(result) == [("a", "function", "fa", '{"x": 1}')]


def test_annotation_with_wrong_typed_known_field_loses_nothing() -> None:
    odd = {"type": "file", "url_citation": "not-an-object", "x": 1}
    result = assemble([one({"content": "a", "annotations": [odd]})])
    assert wire(result)["choices"][0]["message"]["annotations"] == [odd]
    assert result.choices[0].message.annotations[0].type == "file"


def test_unknown_choice_field_named_like_a_known_one_never_replaces_it() -> None:
    result = assemble(
        [
            {
                "choices": [
                    {"index": 0, "delta": {"content": "real"}, "message": {"content": "other"}}
                ]
            },
        ]
    )
    assert wire(result)["choices"][0]["message"]["content"] == "real"


def test_content_list_odd_thinking_part_kept_not_fatal() -> None:
    odd = {"type": "thinking", "thinking": None, "signature": "s"}
    result = assemble([one({"content": [odd, {"type": "text", "text": "ok"}]})])
    assert result.choices[0].message.content == "ok"
    assert odd in _all_values(wire(result))


def test_unknown_delta_field_sent_as_null_is_kept_and_a_later_value_wins() -> None:
    only_null = assemble([{"choices": [{"index": 0, "delta": {"content": "a", "hint": None}}]}])
    message = only_null.choices[0].message
    assert message.extra == {"hint": None}
    assert "hint" in only_null.to_dict()["choices"][0]["message"]
    later = assemble(
        [
            {"choices": [{"index": 0, "delta": {"hint": None, "refusal": None}}]},
            {"choices": [{"index": 0, "delta": {"hint": "x"}, "finish_reason": "stop"}]},
            {"choices": [{"index": 0, "delta": {"hint": None}}]},
        ]
    )
    assert later.choices[0].message.extra == {"hint": "x"}


def test_stream_error_message_is_the_providers_own() -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "x"}}]},
        {"error": {"code": 429, "message": "slow down", "metadata": {"retry": 2}}, "choices": []},
    ]
    with pytest.raises(StreamError) as caught:
        assemble(chunks)
    assert caught.value.message == "slow down"
    assert caught.value.code == 429
    assert caught.value.metadata == {"retry": 2}
    assert "event 1" in str(caught.value) and "slow down" in str(caught.value)
    with pytest.raises(StreamError) as plain:
        assemble([{"error": "boom"}])
    assert plain.value.message == "boom"
    assert plain.value.code is None


def test_add_folds_like_feed_and_fills_a_given_event_list() -> None:
    chunks = [
        {"id": "a", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"id": "a", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
    ]
    quiet, loud = Accumulator(), Accumulator()
    events: list[Any] = []
    for chunk in chunks:
        quiet.add(chunk)
        loud.add(chunk, events)
    assert quiet.result() == loud.result()
    assert quiet.result().choices[0].message.content == "Hello"
    assert [type(e).__name__ for e in events] == ["ContentDelta", "ContentDelta", "ChoiceFinished"]


def test_limits_are_readable() -> None:
    limits = Limits(max_choices=3)
    assert Accumulator(limits=limits).limits is limits
    assert Accumulator().limits == Limits()
