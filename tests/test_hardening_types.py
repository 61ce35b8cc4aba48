"""Type confusion: coerce where the meaning is clear, else a ChunkDecodeError naming the field.

The policy is the table in docs/hardening.md; each row is a case here. Whatever
happens, the completion built afterwards (result or ``.partial``) never
crashes, serialises (deltafold's JSON writer, as the CLI and bulk write it) and
survives ``from_dict(to_dict(c))``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from deltafold import (
    Accumulator,
    ChatCompletion,
    ChunkDecodeError,
    StreamError,
    Usage,
    assemble,
    assemble_sse,
    from_dict,
    to_dict,
)
from deltafold._jsontext import dumps
from deltafold._jsonvalue import MAX_DEPTH, TOO_DEEP

GOOD = {"choices": [{"index": 0, "delta": {"content": "kept "}}]}
"""The first event of every case: it must survive in .partial whatever comes next.

It has no id or model: those are first-wins, so a later odd one would not be read."""


def chunk(delta: Any = None, *, choice: dict[str, Any] | None = None, **top: Any) -> Any:
    entry: dict[str, Any] = {"index": 0, "delta": {"content": "x"} if delta is None else delta}
    entry.update(choice or {})
    return {"choices": [entry], **top}


def round_trips(completion: ChatCompletion) -> dict[str, Any]:
    wire = to_dict(completion)
    text = dumps(wire)
    result: dict[str, Any] = json.loads(text)
    assert repr(result) == repr(wire)  # repr: a NaN equals itself there
    again = from_dict(ChatCompletion, json.loads(text))
    assert repr(to_dict(again)) == repr(result)
    return result


def fold(second: Any) -> ChatCompletion:
    """GOOD then ``second``, as dicts, as JSON text and as SSE: all three must agree."""
    as_dicts = assemble([GOOD, second])
    assert assemble([json.dumps(GOOD), json.dumps(second)]) == as_dicts
    body = f"data: {json.dumps(GOOD)}\n\ndata: {json.dumps(second)}\n\n"
    assert assemble_sse(body) == as_dicts
    round_trips(as_dicts)
    return as_dicts


def refused(second: Any, path: str) -> ChunkDecodeError:
    body = f"data: {json.dumps(GOOD)}\n\ndata: {json.dumps(second)}\n\n"
    makers: list[Callable[[], ChatCompletion]] = [
        lambda: assemble([GOOD, second]),
        lambda: assemble_sse(body),
    ]
    for make in makers:
        with pytest.raises(ChunkDecodeError) as info:
            make()
        error = info.value
        assert (error.path, error.position) == (path, 1)
        assert path in str(error) and "event 1" in str(error)
        assert error.partial is not None
        content = error.partial.choices[0].message.content
        # The fields of the failing chunk folded before the odd one are kept too.
        assert content is not None and content.startswith("kept ")
        round_trips(error.partial)
    return error


# --- coerced: the meaning is clear ---------------------------------------------------------


def test_index_as_text_or_whole_float_is_coerced() -> None:
    result = fold(chunk({"content": "more"}, choice={"index": "0"}))
    assert result.choices[0].message.content == "kept more"
    result = fold(chunk({"content": "one"}, choice={"index": 1.0}))
    assert [c.index for c in result.choices] == [0, 1]
    calls = fold(chunk({"tool_calls": [{"index": "0", "id": "c", "function": {"name": "f"}}]}))
    assert calls.choices[0].message.tool_calls[0].id == "c"


def test_created_as_text_or_float_is_coerced() -> None:
    assert fold({"choices": [], "created": "123"}).created == 123
    assert fold({"choices": [], "created": 123.0}).created == 123


def test_lone_object_where_a_list_belongs_is_a_list_of_one() -> None:
    result = fold({"choices": {"index": 0, "delta": {"content": "x"}}})
    assert result.choices[0].message.content == "kept x"
    result = fold(chunk({"tool_calls": {"index": 0, "id": "c", "function": {"name": "f"}}}))
    assert result.choices[0].message.tool_calls[0].function.name == "f"
    result = fold(chunk({"content": {"type": "text", "text": "part"}}))
    assert result.choices[0].message.content == "kept part"


def test_empty_object_or_list_where_the_other_belongs_means_nothing() -> None:
    assert fold({"choices": {}}).choices[0].message.content == "kept "
    assert fold(chunk([])).choices[0].message.content == "kept "
    assert fold(chunk({"tool_calls": {}})).choices[0].message.tool_calls == []


def test_arguments_as_an_object_become_json_text() -> None:
    result = fold(
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c", "function": {"name": "f", "arguments": {"a": [1, "x"]}}}
                ]
            }
        )
    )
    assert json.loads(result.choices[0].message.tool_calls[0].function.arguments) == {"a": [1, "x"]}


def test_usage_numbers_as_text_are_coerced_and_odd_values_kept_as_they_came() -> None:
    usage = {
        "prompt_tokens": "12",
        "completion_tokens": 1.5,
        "total_tokens": "many",
        "cost": "0.5",
        "is_byok": "false",
        "prompt_tokens_details": "none",
        "completion_tokens_details": {"reasoning_tokens": "3", "image_tokens": [1]},
    }
    result = fold({"choices": [], "usage": usage})
    typed = result.usage
    assert typed is not None
    assert (typed.prompt_tokens, typed.cost, typed.is_byok) == (12, 0.5, False)
    assert typed.completion_tokens is None and typed.extra["completion_tokens"] == 1.5
    assert typed.extra["total_tokens"] == "many"
    assert typed.extra["prompt_tokens_details"] == "none"
    assert typed.completion_tokens_details is not None
    assert typed.completion_tokens_details.reasoning_tokens == 3
    assert typed.completion_tokens_details.extra == {"image_tokens": [1]}
    wire = round_trips(result)["usage"]
    assert wire["completion_tokens"] == 1.5 and wire["total_tokens"] == "many"
    assert from_dict(Usage, wire) == typed


def test_never_mangled_by_blind_conversion() -> None:
    """str({...}), int(1.5) and bool("false") would each lose or invert data."""
    result = fold(chunk({"annotations": [{"type": {"a": 1}, "url_citation": {"url": 5}}]}))
    annotation = result.choices[0].message.annotations[0]
    assert annotation.type == "" and annotation.extra["type"] == {"a": 1}
    assert annotation.url_citation is not None and annotation.url_citation.extra == {"url": 5}
    usage = fold({"choices": [], "usage": {"is_byok": "no", "prompt_tokens": True}}).usage
    assert usage is not None and usage.is_byok is None and usage.prompt_tokens is None
    assert usage.extra == {"is_byok": "no", "prompt_tokens": True}


def test_metadata_objects_of_the_wrong_shape_are_kept_not_fatal() -> None:
    result = fold(chunk({"annotations": [5], "audio": {"expires_at": "17", "data": "AA"}}))
    message = result.choices[0].message
    assert message.annotations[0].extra == {"value": 5}
    assert message.audio is not None and message.audio.expires_at == 17
    logprobs = fold(chunk(choice={"logprobs": {"content": [5, {"token": "a"}]}}))
    kept = logprobs.choices[0].logprobs
    assert kept is not None and kept.extra["content"] == [5, {"token": "a"}]


# --- refused: no clear meaning ---------------------------------------------------------------

REFUSED = [
    ({"choices": "x"}, "choices"),
    ({"choices": [5]}, "choices[0]"),
    (chunk("x"), "choices[0].delta"),
    (chunk([{"content": "a"}]), "choices[0].delta"),
    (chunk(choice={"index": "first"}), "choices[0].index"),
    (chunk(choice={"index": True}), "choices[0].index"),
    (chunk(choice={"index": 1e300}), "choices[0].index"),
    (chunk({"content": 5}), "choices[0].delta.content"),
    (chunk({"refusal": ["no"]}), "choices[0].delta.refusal"),
    (chunk({"reasoning": {"text": "t"}}), "choices[0].delta.reasoning"),
    (chunk({"role": 1}), "choices[0].delta.role"),
    (chunk({"tool_calls": "call"}), "choices[0].delta.tool_calls"),
    (chunk({"tool_calls": [5]}), "choices[0].delta.tool_calls[0]"),
    (chunk({"tool_calls": [{"index": "x"}]}), "choices[0].delta.tool_calls[0].index"),
    (chunk({"tool_calls": [{"index": 0, "id": 7}]}), "choices[0].delta.tool_calls[0].id"),
    (
        chunk({"tool_calls": [{"index": 0, "function": "f"}]}),
        "choices[0].delta.tool_calls[0].function",
    ),
    (
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": 5}}]}),
        "choices[0].delta.tool_calls[0].function.arguments",
    ),
    (chunk({"reasoning_details": [{"type": 5}]}), "choices[0].delta.reasoning_details[0].type"),
    (
        chunk({"reasoning_details": [{"type": "t", "text": 5}]}),
        "choices[0].delta.reasoning_details[0].text",
    ),
    (chunk({"images": "x"}), "choices[0].delta.images"),
    (chunk({"audio": "x"}), "choices[0].delta.audio"),
    (chunk({"audio": {"data": 5}}), "choices[0].delta.audio.data"),
    (chunk(choice={"finish_reason": 1}), "choices[0].finish_reason"),
    (chunk(choice={"native_finish_reason": {"r": 1}}), "choices[0].native_finish_reason"),
    (chunk(choice={"logprobs": "x"}), "choices[0].logprobs"),
    (chunk(choice={"logprobs": {"content": "x"}}), "choices[0].logprobs.content"),
    ({"choices": [], "usage": "x"}, "usage"),
    ({"choices": [], "usage": [1]}, "usage"),
    ({"choices": [], "id": 5}, "id"),
    ({"choices": [], "model": ["m"]}, "model"),
    ({"choices": [], "provider": {"name": "p"}}, "provider"),
    ({"choices": [], "system_fingerprint": 1}, "system_fingerprint"),
    ({"choices": [], "service_tier": True}, "service_tier"),
    ({"choices": [], "created": "yesterday"}, "created"),
    ({"choices": [], "created": True}, "created"),
    ({"choices": [], "created": "1e300"}, "created"),
    ({"choices": [], "created": [1]}, "created"),
]


@pytest.mark.parametrize(
    ("second", "path"), REFUSED, ids=[p + "-" + str(i) for i, (_, p) in enumerate(REFUSED)]
)
def test_refused_with_field_path_and_event_number(second: Any, path: str) -> None:
    refused(second, path)


def test_an_error_field_of_any_type_is_a_stream_error() -> None:
    for error in ("boom", 5, ["a"], {"message": 5}):
        with pytest.raises(StreamError) as info:
            assemble([GOOD, {"choices": [], "error": error}])
        assert info.value.error == error
        assert info.value.partial is not None
        round_trips(info.value.partial)


# --- shapes no encoder can write back -----------------------------------------------------------


def nest(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def nest_json(depth: int) -> str:
    """``json.dumps(nest(depth))`` without the recursion that json.dumps would need."""
    opening = "".join("[" if level % 2 else '{"k":' for level in reversed(range(depth)))
    closing = "".join("]" if level % 2 else "}" for level in range(depth))
    return opening + '"leaf"' + closing


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, (dict, list)):
        depth += 1
        value = next(iter(value.values() if isinstance(value, dict) else value))
    return depth


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1, 600, 1000])
def test_deep_nesting_is_cut_at_max_depth_and_still_serialises(depth: int) -> None:
    deep = nest_json(depth)
    assert json.loads(nest_json(5)) == nest(5)
    text = (
        f'{{"odd": {deep}, "choices": [{{"index": 0, "odd": {deep}, '
        f'"delta": {{"content": "x", "odd": {deep}}}}}]}}'
    )
    result = assemble([GOOD, text])
    wire = round_trips(result)
    for kept in (wire["odd"], wire["choices"][0]["odd"], wire["choices"][0]["message"]["odd"]):
        assert depth_of(kept) == min(depth, MAX_DEPTH)
        assert (TOO_DEEP in json.dumps(kept)) == (depth > MAX_DEPTH)
    assert result.choices[0].message.content == "kept x"


def test_deep_nesting_in_usage_logprobs_annotations_and_errors_serialises() -> None:
    deep = nest(600)
    chunks = [
        GOOD,
        chunk(
            {"annotations": [deep, {"type": "t", "odd": deep}], "images": [{"odd": deep}]},
            choice={"logprobs": {"content": [{"token": "a", "odd": deep}], "refusal": [deep]}},
            usage={"prompt_tokens": 1, "odd": deep, "prompt_tokens_details": {"odd": deep}},
        ),
    ]
    round_trips(assemble([json.dumps(c) for c in chunks]))
    # Merged twice, deep objects merge key by key only to MERGE_DEPTH, then are replaced.
    twice = assemble(
        [json.dumps(chunk(choice={"odd": deep})), json.dumps(chunk(choice={"odd": nest(601)}))]
    )
    round_trips(twice)
    with pytest.raises(StreamError) as info:
        assemble([GOOD, json.dumps({"choices": [], "error": deep})])
    assert info.value.partial is not None
    round_trips(info.value.partial)


@pytest.mark.parametrize("big", [2**70, -(2**63) - 1, 2**64])
def test_integers_beyond_64_bits_are_refused_as_an_index_or_timestamp_else_kept_exactly(
    big: int,
) -> None:
    refused({"choices": [{"index": big, "delta": {}}]}, "choices[0].index")
    refused({"choices": [], "created": big}, "created")
    refused(
        chunk({"tool_calls": [{"index": big, "id": "c"}]}), "choices[0].delta.tool_calls[0].index"
    )
    result = fold(chunk({"odd": [big]}, usage={"prompt_tokens": big}))
    wire = round_trips(result)
    assert wire["choices"][0]["message"]["odd"] == [big]
    assert wire["usage"]["prompt_tokens"] == big
    assert result.usage is not None and result.usage.extra == {"prompt_tokens": big}


def test_snapshot_after_every_odd_chunk_never_crashes() -> None:
    acc = Accumulator()
    acc.feed(GOOD)
    for second, _ in REFUSED:
        with pytest.raises(ChunkDecodeError):
            acc.feed(second)
        round_trips(acc.snapshot())
    content = acc.result().choices[0].message.content
    assert content is not None and content.startswith("kept ")
