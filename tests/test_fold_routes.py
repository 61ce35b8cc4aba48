"""The fold's short route for a chunk's only choice does exactly what the general route does.

``Accumulator._fold_one`` folds the two common chunks (text alone, tool-call
fragments alone) inline and hands anything else to ``_fold_choice``. Every test
here folds the same chunks twice, once as shipped and once with ``_fold_one``
replaced by a plain call of ``_fold_choice``, and compares the events of each
chunk, the error (type and message) where one is raised, and the completion.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltafold import Accumulator, DeltafoldError, Limits, to_dict
from recordings import recording_params
from test_corpus import raw_chunks


@contextmanager
def general_route() -> Iterator[None]:
    def fold_one(self: Accumulator, choice: Any, events: Any) -> None:
        self._fold_choice(choice, 0, events)

    with mock.patch.object(Accumulator, "_fold_one", fold_one):
        yield


def run(chunks: list[Any], events: bool, **options: Any) -> tuple[list[Any], Any]:
    """Each chunk's events (or its error) and the final completion, as plain values.

    ``events=False`` folds with ``add`` (no events), as ``assemble`` does: some
    routes are taken only then.
    """
    acc = Accumulator(**options)
    trace: list[Any] = []
    for chunk in chunks:
        try:
            # repr: an event may hold an exception, which compares by identity.
            trace.append(repr(acc.feed(chunk)) if events else acc.add(chunk))
        except (DeltafoldError, TypeError) as exc:
            trace.append((type(exc).__name__, str(exc)))
    trace.append(repr(acc.close()))
    return trace, to_dict(acc.snapshot())


def assert_same(chunks: list[Any], **options: Any) -> None:
    for events in (True, False):
        short = run(chunks, events, **options)
        with general_route():
            general = run(chunks, events, **options)
        assert short == general


def test_the_short_route_is_taken() -> None:
    """The common chunks do not reach _fold_choice (else the tests below compare nothing)."""
    acc = Accumulator()
    acc.feed(_start(0))
    logprobs = {"content": [{"token": "Hi", "logprob": -0.5}]}
    with mock.patch.object(Accumulator, "_fold_choice", side_effect=AssertionError):
        acc.feed({"choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": logprobs}]})
        acc.feed({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {}}]}}]})
        acc.add({"choices": [{"delta": {"content": "", "reasoning": "R"}}]})
        detail = {"type": "reasoning.text", "text": "S", "index": 0}
        delta = {"reasoning": "S", "reasoning_details": [detail]}
        events = acc.feed({"choices": [{"delta": delta}]})
    message = acc.result().choices[0].message
    assert (message.content, message.reasoning) == ("Hi", "RS")
    assert [type(event).__name__ for event in events] == ["ReasoningDelta", "ReasoningDetailDelta"]


_DETAIL = {"type": "reasoning.text", "text": "d", "index": 0}


@pytest.mark.parametrize(
    "delta",
    [
        {"reasoning_details": [_DETAIL], "reasoning": "r"},
        {"reasoning": "r", "reasoning_details": [_DETAIL], "content": ""},
        {"reasoning_details": [_DETAIL], "reasoning": "r", "content": None},
        {"content": "", "reasoning_details": [_DETAIL], "reasoning": "", "role": "assistant"},
        {"reasoning": "r", "reasoning_details": [_DETAIL]},
    ],
    ids=repr,
)
def test_a_reasoning_chunk_gives_its_events_in_its_keys_order(delta: dict[str, Any]) -> None:
    """With events the short route gives the text's event, then the details', only when the
    delta holds them in that order; any other order takes the general route."""
    chunk = {"choices": [{"index": 0, "delta": delta}]}
    assert_same([_start(0), chunk, chunk])


@pytest.mark.parametrize("entry", recording_params())
def test_corpus_folds_the_same_both_ways(entry: dict[str, Any]) -> None:
    chunks = raw_chunks(entry)
    assert_same(chunks)
    assert_same(chunks, parse_json="all")


def _odd(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


_text = st.text(max_size=4)
_index = _odd([0, 0, 0, 1, "0", 0.0, True, None, -1, "x"])
_content = st.one_of(_text, _odd([None, "", 5, [{"type": "text", "text": "p"}]]))
_finish = _odd([None, None, "", "stop", 0, False])
_role = _odd([None, "assistant", "", 7])


@st.composite
def deltas(draw: st.DrawFn) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if draw(st.booleans()):
        delta["role"] = draw(_role)
    if draw(st.booleans()):
        delta["content"] = draw(_content)
    if draw(st.booleans()):
        delta["reasoning"] = draw(st.one_of(st.none(), _text))
    if draw(st.booleans()):
        call: dict[str, Any] = {"index": draw(_odd([0, 1, None, "0"]))}
        if draw(st.booleans()):
            call["id"] = draw(_odd(["c1", "c2", "", None]))
        if draw(st.booleans()):
            call["function"] = {"arguments": draw(st.one_of(_text, _odd([None, 3, "{}"])))}
        delta["tool_calls"] = draw(_odd([[call], [call, call], call, None, []]))
    if draw(st.booleans()):
        delta[draw(_odd(["refusal", "x_extra", "annotations", "obfuscation"]))] = draw(
            st.one_of(_text, st.none())
        )
    return delta


@st.composite
def odd_chunks(draw: st.DrawFn) -> dict[str, Any]:
    choice: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        choice["index"] = draw(_index)
    if draw(st.integers(0, 9)):
        choice["delta"] = draw(st.one_of(deltas(), _odd([None, {}, "x", []])))
    for key in ("finish_reason", "native_finish_reason"):
        if draw(st.booleans()):
            choice[key] = draw(_finish)
    if draw(st.booleans()):
        choice["logprobs"] = draw(_odd([None, {"content": []}, {"content": [{"token": "a"}]}]))
    if draw(st.integers(0, 5)) == 0:
        choice[draw(_odd(["text", "x_seen", "message"]))] = draw(_text)
    return {"id": "gen-1", "choices": [choice]}


@st.composite
def common_chunks(draw: st.DrawFn) -> dict[str, Any]:
    """What streams are made of: text, reasoning or one argument fragment, on choice 0 or 1."""
    kind = draw(st.sampled_from(["text", "reasoning", "tool"]))
    if kind == "text":
        delta: dict[str, Any] = {"content": draw(_text)}
    elif kind == "reasoning":
        text = draw(_text)
        detail = {"type": "reasoning.text", "text": text, "format": "f", "index": 0}
        delta = {"content": draw(_odd(["", None])), "reasoning": text}
        if draw(st.booleans()):
            delta["reasoning_details"] = [detail]
    else:
        fragment = {"arguments": draw(_text)}
        delta = {"tool_calls": [{"index": draw(_odd([0, 1])), "function": fragment}]}
    if draw(st.booleans()):
        delta["role"] = "assistant"
    choice = {"index": draw(_odd([0, 0, 1])), "delta": delta, "finish_reason": None}
    return {"id": "gen-1", "choices": [choice]}


_CHANGES: list[tuple[str, str, Any]] = [
    # (where, key, value): one change that may take a common chunk off the short route.
    ("delta", "role", "user"), ("delta", "role", 7), ("delta", "role", ""),
    ("delta", "reasoning", "r"), ("delta", "reasoning", ""), ("delta", "reasoning", None),
    ("delta", "content", None), ("delta", "content", ""), ("delta", "content", 5),
    ("delta", "content", [{"type": "text", "text": "p"}]), ("delta", "refusal", "no"),
    ("delta", "tool_calls", [{"index": 0, "function": {"arguments": "a"}}]),
    ("delta", "tool_calls", {"index": 0, "function": {"arguments": "a"}}),
    ("delta", "reasoning_details", [{"type": "reasoning.text", "text": "d", "index": 0}]),
    ("delta", "reasoning_details", {"type": "reasoning.text", "text": "d"}),
    ("delta", "reasoning_details", None), ("delta", "reasoning_details", "x"),
    ("delta", "reasoning_content", "rc"), ("delta", "x_extra", 1),
    ("delta", "obfuscation", "zz"), ("delta", "annotations", []),
    ("choice", "finish_reason", "stop"), ("choice", "finish_reason", ""),
    ("choice", "native_finish_reason", "end"), ("choice", "logprobs", {"content": []}),
    ("choice", "logprobs", {"content": [{"token": "a", "logprob": -1.0}]}),
    ("choice", "index", "0"), ("choice", "index", 0.0), ("choice", "index", True),
    ("choice", "index", None), ("choice", "index", 2), ("choice", "text", "t"),
    ("choice", "x_seen", 1), ("choice", "delta", None), ("choice", "delta", "x"),
]


@st.composite
def changed_chunks(draw: st.DrawFn) -> dict[str, Any]:
    """A common chunk with one change: the edge of the short route."""
    chunk = draw(common_chunks())
    where, key, value = draw(st.sampled_from(_CHANGES))
    choice = chunk["choices"][0]
    target = choice if where == "choice" else choice["delta"]
    target[key] = value
    return chunk


def _start(index: int) -> dict[str, Any]:
    call = {"index": 0, "id": "c"}
    delta = {"role": "assistant", "content": "", "reasoning": "", "tool_calls": [call]}
    return {"choices": [{"index": index, "delta": delta}]}


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(common_chunks(), changed_chunks(), odd_chunks()), min_size=1, max_size=10),
    st.booleans(),
    _odd([False, "all"]),
)
def test_any_one_choice_chunks_fold_the_same_both_ways(
    items: list[Any], started: bool, parse_json: Any
) -> None:
    """Streams of common chunks with odd ones among them, after a start of both choices or not."""
    if started:
        items = [_start(0), _start(1), *items]
    assert_same(items, parse_json=parse_json)


@pytest.mark.parametrize(
    "delta",
    [
        {"content": "cdefgh"},
        {"content": "", "reasoning": "cdefgh"},
        {"tool_calls": [{"index": 0, "function": {"arguments": "cdefgh"}}]},
    ],
)
def test_a_limit_crossed_on_the_short_route_is_the_same_error(delta: dict[str, Any]) -> None:
    more = {"choices": [{"index": 0, "delta": delta}]}
    assert_same([_start(0), more, more], limits=Limits(max_field_chars=9))


@pytest.mark.parametrize("change", _CHANGES, ids=repr)
@pytest.mark.parametrize("kind", ["text", "reasoning", "tool"])
def test_each_change_to_a_common_chunk_folds_the_same_both_ways(
    change: tuple[str, str, Any], kind: str
) -> None:
    where, key, value = change
    delta: dict[str, Any] = {
        "text": {"content": "x"},
        "reasoning": {"content": "", "reasoning": "r", "reasoning_details": [{"text": "r"}]},
        "tool": {"tool_calls": [{"index": 0, "function": {"arguments": "y"}}]},
    }[kind]
    chunk = {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    changed = copy.deepcopy(chunk)
    choice = changed["choices"][0]
    (choice if where == "choice" else choice["delta"])[key] = value
    assert_same([_start(0), chunk, changed, chunk])
