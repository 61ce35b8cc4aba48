"""A folded completion's logprobs are typed on first read, and nobody can tell but the clock.

``result()`` keeps the fold's token dicts and builds the typed ``Logprobs`` when a
field is first read. Every test compares that object with the one ``from_dict``
builds eagerly from the same tokens (the converter's rules: the usual shape typed,
a value of the wrong type kept in its object's ``extra``), through every way a
caller can look at it: the fields, ``==``, ``repr``, ``to_dict``, copying,
pickling, ``attrs`` and a caller's own cattrs converter.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
import threading
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deltafold import (
    Accumulator,
    ChatCompletion,
    Logprobs,
    TokenLogprob,
    TopLogprob,
    assemble,
    assemble_sse,
    from_dict,
    to_dict,
)
from recordings import made_and_real, read_recording, recording_params


def token(text: str, logprob: float = -0.5, tops: int = 1) -> dict[str, Any]:
    encoded = list(text.encode())
    top = {"token": text, "logprob": logprob, "bytes": encoded}
    return {"token": text, "logprob": logprob, "bytes": encoded, "top_logprobs": [top] * tops}


def chunk(
    content: list[Any] | None = None, refusal: list[Any] | None = None, index: int = 0, **extra: Any
) -> dict[str, Any]:
    """A chunk of one choice carrying these logprobs (and unknown logprobs fields)."""
    logprobs = {"content": content, "refusal": refusal, **extra}
    return {"choices": [{"index": index, "delta": {"content": "x"}, "logprobs": logprobs}]}


def eager(chunks: list[dict[str, Any]], index: int = 0) -> Logprobs:
    """The reference: the choice's tokens concatenated, built at once by ``from_dict``."""
    content: list[Any] | None = None
    refusal: list[Any] | None = None
    extra: dict[str, Any] = {}
    for each in chunks:
        for choice in each["choices"]:
            logprobs = choice.get("logprobs")
            if choice["index"] != index or not logprobs:
                continue
            if logprobs.get("content") is not None:
                content = [*(content or []), *logprobs["content"]]
            if logprobs.get("refusal") is not None:
                refusal = [*(refusal or []), *logprobs["refusal"]]
            extra.update((k, v) for k, v in logprobs.items() if k not in ("content", "refusal"))
    return from_dict(Logprobs, {**extra, "content": content, "refusal": refusal})


def folded(chunks: list[dict[str, Any]], index: int = 0) -> Logprobs:
    """A fresh, not yet read ``Logprobs`` of the folded choice."""
    choice = next(c for c in assemble(chunks).choices if c.index == index)
    assert choice.logprobs is not None
    return choice.logprobs


def same(a: Any, b: Any) -> bool:
    """Equal, with nan equal to itself (a Python caller may put nan in an unknown field)."""
    return repr(a) == repr(b) and (a == b or "nan" in repr(a))


# --- the usual shape -------------------------------------------------------------------


USUAL = [chunk([token("Hel")]), chunk([token("lo", -1.25, 2)]), chunk(None, [token("No", 0.0, 0)])]


def test_fields_read_as_typed_lists() -> None:
    logprobs = folded(USUAL)
    content = logprobs.content
    assert type(content) is list
    assert [t.token for t in content] == ["Hel", "lo"]
    assert content[1] == TokenLogprob(
        token="lo",
        logprob=-1.25,
        bytes=[108, 111],
        top_logprobs=[TopLogprob(token="lo", logprob=-1.25, bytes=[108, 111])] * 2,
    )
    assert content[-1:] == content[1:] and len(content) == 2 and bool(content)
    assert logprobs.refusal == [TokenLogprob(token="No", logprob=0.0, bytes=[78, 111])]
    assert logprobs.extra == {}


@pytest.mark.parametrize(
    "look",
    [
        lambda lp: lp.content,
        lambda lp: lp.refusal,
        lambda lp: lp.extra,
        repr,
        to_dict,
        lambda lp: lp.to_dict(),
        copy.copy,
        copy.deepcopy,
        lambda lp: pickle.loads(pickle.dumps(lp)),
        attrs.asdict,
        lambda lp: attrs.evolve(lp),
        lambda lp: cattrs.Converter().unstructure(lp),
        lambda lp: lp == Logprobs(),
    ],
    ids=[
        "content",
        "refusal",
        "extra",
        "repr",
        "to_dict",
        "method",
        "copy",
        "deepcopy",
        "pickle",
        "asdict",
        "evolve",
        "cattrs",
        "eq",
    ],
)
def test_every_first_look_gives_the_eager_object(look: Any) -> None:
    """Whatever is read first, the object is then the eager one, and so is what was read."""
    reference = eager(USUAL)
    logprobs = folded(USUAL)
    seen = look(logprobs)
    assert repr(logprobs) == repr(reference)
    assert logprobs == reference and reference == logprobs
    assert seen == look(reference)


def test_copies_and_pickles_are_plain_models() -> None:
    reference = eager(USUAL)
    for other in (
        pickle.loads(pickle.dumps(folded(USUAL))),
        copy.deepcopy(folded(USUAL)),
        copy.copy(folded(USUAL)),
    ):
        assert type(other) is Logprobs and other == reference
        assert other.content is not None and type(other.content) is list
    completion = assemble(USUAL)
    assert pickle.loads(pickle.dumps(completion)) == from_dict(ChatCompletion, to_dict(completion))


def test_a_callers_cattrs_converter_round_trips() -> None:
    converter = cattrs.Converter()
    completion = assemble(USUAL)
    data = converter.unstructure(completion)
    json.dumps(data)  # nothing left that JSON cannot write
    assert converter.structure(data, ChatCompletion) == completion
    assert data == converter.unstructure(from_dict(ChatCompletion, to_dict(assemble(USUAL))))


def test_to_dict_round_trip() -> None:
    completion = assemble(USUAL)
    data = completion.to_dict()
    assert data["choices"][0]["logprobs"] == {
        "content": [token("Hel"), token("lo", -1.25, 2)],
        "refusal": [token("No", 0.0, 0)],
    }
    assert from_dict(ChatCompletion, data) == assemble(USUAL)


def test_an_assigned_field_keeps_its_value() -> None:
    logprobs = folded(USUAL)
    logprobs.content = []
    assert logprobs.refusal == eager(USUAL).refusal  # built now; content stays as assigned
    assert logprobs.content == []
    other = folded(USUAL)
    other.extra = {"mine": 1}
    assert other.content == eager(USUAL).content and other.extra == {"mine": 1}


def test_unknown_attributes_and_deleted_fields_raise_as_usual() -> None:
    logprobs = folded(USUAL)
    with pytest.raises(AttributeError, match="'Logprobs' object has no attribute 'nope'"):
        _ = logprobs.nope  # type: ignore[attr-defined]
    assert not hasattr(logprobs, "nope")
    assert logprobs.content is not None  # the failed look-ups built nothing wrong
    del logprobs.content
    with pytest.raises(AttributeError, match="content"):
        _ = logprobs.content
    with pytest.raises(AttributeError, match="'Logprobs' object has no attribute 'nope'"):
        _ = Logprobs().nope  # type: ignore[attr-defined]


def test_a_snapshot_keeps_the_tokens_of_its_moment() -> None:
    acc = Accumulator()
    acc.add(USUAL[0])
    before = acc.snapshot().choices[0].logprobs
    acc.add(USUAL[1])
    acc.add(USUAL[2])
    after = acc.result().choices[0].logprobs
    assert before is not None and after is not None
    assert before == eager(USUAL[:1]) and before.refusal is None
    assert after == eager(USUAL)


def test_concurrent_first_reads_agree() -> None:
    logprobs = folded([chunk([token(str(i)) for i in range(300)])])
    barrier = threading.Barrier(4)
    seen: list[Any] = []

    def read() -> None:
        barrier.wait()
        seen.append((logprobs.content, logprobs.refusal, logprobs.extra))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    reference = eager([chunk([token(str(i)) for i in range(300)])])
    assert seen == [(reference.content, reference.refusal, reference.extra)] * 4


def test_n_choices_each_their_own() -> None:
    chunks = [chunk([token(f"{i}-{c}")], index=c) for i in range(3) for c in range(4)]
    completion = assemble(chunks)
    for c in range(4):
        assert completion.choices[c].logprobs == eager(chunks, c)


# --- odd shapes: the same lenient answer as the eager build --------------------------------


def test_odd_tokens_keep_their_values_in_extra() -> None:
    chunks = [
        chunk([token("a"), {**token("b"), "logprob": "high", "x_rank": 2}]),
        chunk([{**token("c"), "bytes": [300, True]}, {**token("d"), "top_logprobs": ["e"]}]),
    ]
    logprobs = folded(chunks)
    assert logprobs == eager(chunks)
    assert logprobs.content is not None
    odd = logprobs.content[1]
    assert odd.logprob == 0.0 and odd.extra == {"logprob": "high", "x_rank": 2}
    assert logprobs.content[2].bytes is None and logprobs.content[2].extra == {"bytes": [300, True]}
    assert logprobs.content[3].top_logprobs == [] and logprobs.content[3].extra == {
        "top_logprobs": ["e"]
    }
    assert from_dict(Logprobs, to_dict(logprobs)) == logprobs  # nothing dropped


def test_an_item_that_is_no_object_keeps_the_whole_list_in_extra() -> None:
    chunks = [chunk([token("a")]), chunk(["b"]), chunk(None, [token("r")], x_meta={"k": 1})]
    logprobs = folded(chunks)
    assert logprobs == eager(chunks)
    assert logprobs.content is None and logprobs.extra["content"] == [token("a"), "b"]
    assert logprobs.refusal == eager(chunks).refusal and logprobs.extra["x_meta"] == {"k": 1}
    assert to_dict(logprobs)["content"] == [token("a"), "b"]


def test_a_python_caller_s_nan_and_tuples_are_kept() -> None:
    chunks = [chunk([{**token("a"), "logprob": math.nan}, {**token("b"), "bytes": (98,)}])]
    logprobs = folded(chunks)
    assert same(logprobs, eager(chunks))
    # A NaN is a float, as json.loads reads one: typed, not kept aside.
    assert logprobs.content is not None and math.isnan(logprobs.content[0].logprob)
    assert logprobs.content[0].extra == {}


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=4)
)
ODD = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
BYTES = st.none() | st.lists(st.integers(0, 255), max_size=4)


@st.composite
def tokens(draw: st.DrawFn, top: bool = False) -> Any:
    """A token of the usual shape, or one bent in one place: a wrong value, a key more or
    less, or no object at all."""
    item: dict[str, Any] = {
        "token": draw(st.text(max_size=4)),
        "logprob": draw(st.floats(-50, 0)),
        "bytes": draw(BYTES),
    }
    if not top:
        item["top_logprobs"] = draw(st.lists(tokens(top=True), max_size=2))
    bend = draw(st.sampled_from(["none", "none", "value", "drop", "add", "item"]))
    if bend == "value":
        item[draw(st.sampled_from(sorted(item)))] = draw(ODD)
    elif bend == "drop":
        del item[draw(st.sampled_from(sorted(item)))]
    elif bend == "add":
        item[draw(st.sampled_from(["x_rank", "token2", "extra"]))] = draw(ODD)
    elif bend == "item" and draw(st.integers(0, 3)) == 0:
        return draw(ODD.filter(lambda v: v.__class__ is not dict))
    return item


TOKEN_LISTS = st.none() | st.lists(tokens(), max_size=3)


@given(
    st.lists(st.tuples(TOKEN_LISTS, TOKEN_LISTS), min_size=1, max_size=4),
    st.none() | st.dictionaries(st.sampled_from(["x_meta", "x_model"]), ODD, max_size=2),
)
def test_folded_logprobs_equal_the_eager_build(
    pieces: list[tuple[list[Any] | None, list[Any] | None]], unknown: dict[str, Any] | None
) -> None:
    chunks = [chunk(content, refusal) for content, refusal in pieces]
    if unknown:
        chunks[0]["choices"][0]["logprobs"].update(unknown)
    completion = assemble(chunks)
    reference = eager(chunks)
    logprobs = completion.choices[0].logprobs
    if logprobs is None:  # nothing came: the eager build has nothing either
        assert reference == Logprobs()
        return
    assert repr(logprobs) == repr(reference)
    assert logprobs == reference
    assert to_dict(assemble(chunks))["choices"][0]["logprobs"] == to_dict(reference)
    assert pickle.loads(pickle.dumps(assemble(chunks).choices[0].logprobs)) == reference
    assert from_dict(ChatCompletion, to_dict(completion)) == completion


# --- recordings --------------------------------------------------------------------------


_WITH_LOGPROBS = made_and_real(
    "generated/content_logprobs.sse",
    "generated/refusal_logprobs.sse",
    "openai-python/content_logprobs.sse",
    "openai-python/refusal_logprobs.sse",
)


@pytest.mark.parametrize("entry", recording_params(_WITH_LOGPROBS))
def test_recorded_streams_with_logprobs(entry: dict[str, Any]) -> None:
    body = read_recording(entry)
    chunks = [
        json.loads(line[6:])
        for line in body.decode().splitlines()
        if line.startswith("data: {")
    ]
    completion = assemble_sse(body)
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs == eager(chunks)
    tokens_read = logprobs.content or logprobs.refusal or []
    text = completion.choices[0].message.content or completion.choices[0].message.refusal
    assert "".join(t.token for t in tokens_read) == text
    assert from_dict(ChatCompletion, assemble_sse(body).to_dict()) == completion
