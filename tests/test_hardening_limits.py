"""Limits: safe defaults, set per call, raised promptly with everything before kept in .partial."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from deltafold import (
    Accumulator,
    ChatCompletion,
    DeltafoldError,
    LimitExceededError,
    Limits,
    assemble,
    assemble_sse,
    to_dict,
)

MiB = 1024 * 1024


def one(delta: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return {"id": "gen-1", "model": "m", "choices": [{"index": index, "delta": delta}]}


def raises_limit(chunks: Any, limits: Limits, **kw: Any) -> LimitExceededError:
    with pytest.raises(LimitExceededError) as info:
        sse = kw.pop("sse", None)
        if sse is None:
            sse = isinstance(chunks, (bytes, str))
        if sse:
            assemble_sse(chunks, limits=limits, **kw)
        else:
            assemble(chunks, limits=limits, **kw)
    error = info.value
    assert isinstance(error, DeltafoldError)
    assert error.limit in str(error)
    return error


def message(completion: ChatCompletion | None, index: int = 0) -> Any:
    assert completion is not None
    return completion.choices[index].message


def test_defaults_are_generous_and_unlimited_turns_every_limit_off() -> None:
    limits = Limits()
    assert limits.max_event_bytes == 32 * MiB
    assert limits.max_total_bytes == 1024 * MiB
    assert limits.max_choices == 128
    assert limits.max_tool_calls == 1024
    assert limits.max_field_chars == 256 * MiB
    off = Limits.unlimited()
    assert (off.max_event_bytes, off.max_total_bytes, off.max_choices) == (None, None, None)
    assert (off.max_tool_calls, off.max_field_chars) == (None, None)
    chunks = [one({"content": "x" * 1000}) for _ in range(5)]
    assert len(message(assemble(chunks, limits=Limits(max_field_chars=None))).content) == 5000


# --- max_field_chars: every accumulated field, each on its own counter -------------------

FIELDS = [
    ("content", lambda t: {"content": t}, lambda m: m.content),
    ("content", lambda t: {"content": [{"type": "text", "text": t}]}, lambda m: m.content),
    ("refusal", lambda t: {"refusal": t}, lambda m: m.refusal),
    ("reasoning", lambda t: {"reasoning": t}, lambda m: m.reasoning),
    ("reasoning", lambda t: {"reasoning_content": t}, lambda m: m.reasoning),
    (
        "reasoning",
        lambda t: {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": t}]}]},
        lambda m: m.reasoning,
    ),
    (
        "tool_calls[0].function.arguments",
        lambda t: {"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": t}}]},
        lambda m: m.tool_calls[0].function.arguments,
    ),
    (
        "function_call.arguments",
        lambda t: {"function_call": {"name": "f", "arguments": t}},
        lambda m: m.function_call.arguments,
    ),
    (
        "reasoning_details[0].text",
        lambda t: {"reasoning_details": [{"type": "reasoning.text", "index": 0, "text": t}]},
        lambda m: m.reasoning_details[0].text,
    ),
    (
        "audio.transcript",
        lambda t: {"audio": {"transcript": t}},
        lambda m: m.audio.transcript,
    ),
    ("'odd'", lambda t: {"odd": t}, lambda m: m.extra["odd"]),
]


@pytest.mark.parametrize(("where", "delta", "read"), FIELDS, ids=[f[0] for f in FIELDS])
def test_each_field_is_bounded_and_the_partial_keeps_what_fit(
    where: str, delta: Any, read: Any
) -> None:
    limits = Limits(max_field_chars=100)
    pieces = ["a" * 40, "b" * 40, "c" * 20, "d"]  # 100 fit exactly; the "d" is one too many
    chunks = [one(delta(p)) for p in pieces]
    error = raises_limit(chunks, limits)
    assert (error.limit, error.value, error.maximum) == ("max_field_chars", 101, 100)
    assert where.split(".")[-1].strip("'") in str(error)
    assert read(message(error.partial)) == "a" * 40 + "b" * 40 + "c" * 20
    # At the limit exactly, nothing is raised.
    assert read(message(assemble(chunks[:3], limits=limits))) == "a" * 40 + "b" * 40 + "c" * 20


def test_one_fragment_longer_than_the_limit_is_refused_before_it_is_kept() -> None:
    error = raises_limit(
        [one({"content": "ok"}), one({"content": "x" * 500})], Limits(max_field_chars=100)
    )
    assert error.value == 502
    assert message(error.partial).content == "ok"


def test_unknown_string_fields_are_bounded_at_every_level() -> None:
    limits = Limits(max_field_chars=10)
    top = [{"choices": [], "odd": "x" * 6}, {"choices": [], "odd": "y" * 6}]
    assert raises_limit(top, limits).partial.extra["odd"] == "x" * 6  # type: ignore[union-attr]
    choice = [{"choices": [{"index": 0, "odd": "x" * 11}]}]
    assert raises_limit(choice, limits).value == 11
    nested = [one({"odd": {"inner": "x" * 6}}), one({"odd": {"inner": "y" * 6}})]
    error = raises_limit(nested, limits)
    assert message(error.partial).extra["odd"] == {"inner": "x" * 6}
    tool = [
        one({"tool_calls": [{"index": 0, "id": "c", "odd": "x" * 6}]}),
        one({"tool_calls": [{"index": 0, "odd": "y" * 6}]}),
    ]
    assert raises_limit(tool, limits).limit == "max_field_chars"


def test_fields_and_choices_have_their_own_counters() -> None:
    limits = Limits(max_field_chars=10)
    chunks = [
        one({"content": "c" * 10, "reasoning": "r" * 10, "refusal": "f" * 10}),
        one({"content": "C" * 10}, index=1),
        one({"tool_calls": [{"index": 0, "id": "a", "function": {"arguments": "1" * 10}}]}),
        one({"tool_calls": [{"index": 1, "id": "b", "function": {"arguments": "2" * 10}}]}),
    ]
    result = assemble(chunks, limits=limits)
    assert message(result).content == "c" * 10
    assert message(result, 1).content == "C" * 10
    assert [c.function.arguments for c in message(result).tool_calls] == ["1" * 10, "2" * 10]


def test_equal_repeats_and_full_resends_are_not_counted_twice() -> None:
    limits = Limits(max_field_chars=10)
    # An unknown string repeated as is is kept once, so it never grows.
    repeats = [{"choices": [], "odd": "x" * 8} for _ in range(5)]
    assert assemble(repeats, limits=limits).extra["odd"] == "x" * 8


# --- max_choices / max_tool_calls -------------------------------------------------------


def test_max_choices_counts_distinct_indexes() -> None:
    limits = Limits(max_choices=3)
    chunks = [one({"content": str(i)}, index=i % 3) for i in range(9)]
    assert len(assemble(chunks, limits=limits).choices) == 3
    error = raises_limit([*chunks, one({"content": "x"}, index=7)], limits)
    assert (error.limit, error.value, error.maximum) == ("max_choices", 4, 3)
    assert error.partial is not None and len(error.partial.choices) == 3
    assert [c.message.content for c in error.partial.choices] == ["036", "147", "258"]


def test_max_tool_calls_per_choice() -> None:
    limits = Limits(max_tool_calls=2)

    def call(i: int, index: int = 0) -> dict[str, Any]:
        return one(
            {
                "tool_calls": [
                    {"index": i, "id": f"c{i}", "function": {"name": "f", "arguments": "{}"}}
                ]
            },
            index=index,
        )

    ok = [call(0), call(1), call(0, 1), call(1, 1), call(1)]
    result = assemble(ok, limits=limits)
    assert [len(c.message.tool_calls) for c in result.choices] == [2, 2]
    error = raises_limit([*ok, call(2)], limits)
    assert (error.limit, error.value) == ("max_tool_calls", 3)
    assert len(message(error.partial).tool_calls) == 2


# --- bytes: one event, the whole body -------------------------------------------------------


def sse_event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def test_max_event_bytes_on_sse_and_on_json_lines() -> None:
    limits = Limits(max_event_bytes=200)
    small = sse_event(one({"content": "a"}))
    big = sse_event(one({"content": "x" * 300}))
    error = raises_limit(small + big, limits)
    assert error.limit == "max_event_bytes"
    assert message(error.partial).content == "a"
    lines = orjson.dumps(one({"content": "a"})) + b"\n" + orjson.dumps(one({"content": "x" * 300}))
    assert raises_limit(lines, Limits(max_event_bytes=200), sse=False).limit == "max_event_bytes"


def test_max_total_bytes_on_sse_pieces_and_on_json_bodies() -> None:
    event = sse_event(one({"content": "abcd"}))
    body = event * 10
    limits = Limits(max_total_bytes=len(event) * 5 + 1)
    error = raises_limit([body[i : i + 7] for i in range(0, len(body), 7)], limits, sse=True)
    assert error.limit == "max_total_bytes"
    assert error.value <= len(event) * 5 + 7
    # Everything framed before the limit was folded.
    assert message(error.partial).content == "abcd" * 5
    array = json.dumps([one({"content": "abcd"})] * 10).encode()
    assert raises_limit(array, Limits(max_total_bytes=100), sse=False).limit == "max_total_bytes"


# --- promptness: an endless input stops at the limit ------------------------------------------


def test_endless_chunks_stop_at_the_field_limit_without_reading_further() -> None:
    pulled = 0

    def endless() -> Iterator[dict[str, Any]]:
        nonlocal pulled
        for _ in itertools.count():
            pulled += 1
            yield one({"content": "x" * 1000})

    error = raises_limit(endless(), Limits(max_field_chars=50_000))
    assert pulled == 51
    assert len(message(error.partial).content) == 50_000


def test_endless_sse_body_stops_at_max_total_bytes() -> None:
    pulled = 0
    event = sse_event(one({"content": "y"}))

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        for _ in itertools.count():
            pulled += 1
            yield event * 10

    error = raises_limit(endless(), Limits(max_total_bytes=100_000), sse=True)
    assert error.limit == "max_total_bytes"
    assert pulled * len(event) * 10 <= 100_000 + len(event) * 10
    assert len(message(error.partial).content) > 0


def test_endless_line_stops_at_max_event_bytes() -> None:
    pulled = 0

    def endless() -> Iterator[bytes]:
        nonlocal pulled
        yield sse_event(one({"content": "before"}))
        yield b"data: "
        for _ in itertools.count():
            pulled += 1
            yield b"z" * 4096

    error = raises_limit(endless(), Limits(max_event_bytes=64 * 1024), sse=True)
    assert error.limit == "max_event_bytes"
    assert pulled <= 64 * 1024 // 4096 + 1
    assert message(error.partial).content == "before"


def test_accumulator_feed_takes_limits_too_and_the_partial_serialises() -> None:
    acc = Accumulator(limits=Limits(max_field_chars=5))
    acc.feed(one({"content": "abc"}))
    with pytest.raises(LimitExceededError) as info:
        acc.feed(one({"content": "def"}))
    partial = info.value.partial
    assert partial is not None and message(partial).content == "abc"
    orjson.dumps(to_dict(partial))
