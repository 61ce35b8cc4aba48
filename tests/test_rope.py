"""Rope, the growing string under every streamed text field, tested alone and through the fold.

The fold inlines ``Rope.add``'s common case on its two hottest paths (content
fragments, tool-call argument fragments); the property tests check that the
inline copies and ``Rope.add`` agree: same text, same limit, same error.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltafold
from deltafold import Accumulator, LimitExceededError, Limits
from deltafold._merge import BLOCK_CHARS, Rope

PATH = "choices[0].message.content"


def test_a_rope_joins_its_fragments_when_read() -> None:
    rope = Rope("a", PATH)
    for text in ("b", "", "cd"):
        rope.add(text)
    assert rope.length == 4
    assert rope.value() == "abcd"
    assert rope.value() == "abcd"  # reading twice is the same
    rope.add("e")
    assert rope.value() == "abcde"


def test_replace_starts_over() -> None:
    rope = Rope("abc", PATH)
    rope.add("d")
    rope.replace("xyz")
    assert (rope.value(), rope.length) == ("xyz", 3)
    rope.add("!")
    assert rope.value() == "xyz!"


def test_fragments_are_compacted_into_blocks() -> None:
    """One-character fragments are joined about every BLOCK_CHARS characters, so the rope
    holds a few blocks and fewer than BLOCK_CHARS fragments, never one object per token."""
    rope = Rope("", PATH)
    pieces = [chr(ord("a") + i % 26) for i in range(5 * BLOCK_CHARS + 7)]
    for piece in pieces:
        rope.add(piece)
        assert len(rope.parts) <= rope.blocks + BLOCK_CHARS
    assert rope.blocks == 5
    assert len(rope.parts) == 5 + 8  # five blocks, then the fragments since the last join
    assert all(len(block) >= BLOCK_CHARS - 1 for block in rope.parts[:5])
    assert rope.value() == "".join(pieces)
    assert rope.parts == ["".join(pieces)]


def test_the_limit_names_the_field() -> None:
    rope = Rope("abc", PATH, limit=5)
    rope.add("de")  # exactly at the limit is allowed
    with pytest.raises(LimitExceededError) as info:
        rope.add("f")
    error = info.value
    assert (error.limit, error.value, error.maximum) == ("max_field_chars", 6, 5)
    assert PATH in str(error)
    assert rope.value() == "abcde"  # the failed fragment was not kept


@pytest.mark.parametrize(
    "build", [lambda: Rope("x" * 6, PATH, 5), lambda: Rope("", PATH, 5).replace("y" * 6)]
)
def test_a_first_or_replacing_text_over_the_limit_raises(build: Any) -> None:
    with pytest.raises(LimitExceededError, match=r"max_field_chars exceeded at 'choices\[0\]"):
        build()


def _content(fragments: list[str]) -> list[dict[str, Any]]:
    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    chunks += [{"choices": [{"index": 0, "delta": {"content": text}}]} for text in fragments]
    return chunks


def _fold(chunks: list[dict[str, Any]], events: bool) -> deltafold.ChatCompletion:
    acc = Accumulator()
    for chunk in chunks:
        if events:
            acc.feed(chunk)
        else:
            acc.add(chunk)
    return acc.result()


def _arguments(fragments: list[str]) -> list[dict[str, Any]]:
    opening = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    chunks = [{"choices": [{"index": 0, "delta": {"tool_calls": [opening]}}]}]
    chunks += [
        {"choices": [{"index": 0, "delta": {"tool_calls": [fragment]}}]}
        for fragment in ({"index": 0, "function": {"arguments": text}} for text in fragments)
    ]
    return chunks


def _resent_rule(fragments: list[str]) -> str:
    """The arguments rule: a piece at least as long as the text so far that starts with it is
    the whole re-sent (it replaces); any other piece is appended."""
    text = ""
    for piece in fragments:
        if text and len(piece) >= len(text) and piece.startswith(text):
            text = piece
        else:
            text += piece
    return text


_fragments = st.lists(st.text(alphabet="ab{}\"é数", max_size=300), max_size=60)


@settings(max_examples=60, deadline=None)
@given(fragments=_fragments, events=st.booleans())
def test_content_through_the_fold_is_the_joined_fragments(
    fragments: list[str], events: bool
) -> None:
    content = _fold(_content(fragments), events).choices[0].message.content
    assert content == ("".join(fragments) if fragments else None)


@settings(max_examples=60, deadline=None)
@given(fragments=_fragments, events=st.booleans())
def test_arguments_through_the_fold_follow_the_rule(fragments: list[str], events: bool) -> None:
    call = _fold(_arguments(fragments), events).choices[0].message.tool_calls[0]
    assert call.function.arguments == _resent_rule(fragments)


@settings(max_examples=60, deadline=None)
@given(
    fragments=_fragments, limit=st.integers(0, 6000), field=st.sampled_from(["content", "args"])
)
def test_the_inline_paths_hold_the_limit_as_rope_does(
    fragments: list[str], limit: int, field: str
) -> None:
    """Folding raises exactly when the field would pass max_field_chars, and keeps what fit."""
    chunks = _content(fragments) if field == "content" else _arguments(fragments)
    expected = "".join(fragments) if field == "content" else _resent_rule(fragments)
    try:
        completion = deltafold.assemble(chunks, limits=Limits(max_field_chars=limit))
    except LimitExceededError as exc:
        # The field only grows (a re-sent whole is at least as long), so it fails at the end.
        assert len(expected) > limit
        assert (exc.limit, exc.maximum) == ("max_field_chars", limit)
        assert exc.value > limit
        assert exc.partial is not None
        message = exc.partial.choices[0].message
        kept = message.content if field == "content" else message.tool_calls[0].function.arguments
        assert len(kept or "") <= limit
        assert field == "args" or expected.startswith(kept or "")
    else:
        assert len(expected) <= limit
        message = completion.choices[0].message
        got = message.content if field == "content" else message.tool_calls[0].function.arguments
        assert (got or "") == expected
