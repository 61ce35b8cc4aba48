"""Debatable provider quirks, decided: per-chunk padding and duplicated ``text`` are left
out of the completion, Groq's ``x_groq.usage`` stands in for a missing ``usage``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from deltafold import Accumulator, ContentDelta, assemble, fold


def _chunk(delta: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}}
    choice.update(fields.pop("choice", {}))
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [choice], **fields}


# --- padding: obfuscation (OpenAI, Azure), p (Mistral) -----------------------------------


@pytest.mark.parametrize("name", ["obfuscation", "p"])
def test_padding_left_out_of_the_completion_at_every_level(name: str) -> None:
    chunks = [
        _chunk({"content": "Hel"}, **{name: "Qup1BsQ3"}),
        _chunk({"content": "lo", name: "xYz"}, choice={name: "abcdef"}),
        _chunk({name: None}, choice={"finish_reason": "stop", name: "0123"}, **{name: "Zz"}),
    ]
    before = copy.deepcopy(chunks)
    completion = assemble(chunks)
    choice = completion.choices[0]
    assert choice.message.content == "Hello"
    assert name not in completion.extra
    assert name not in choice.extra
    assert name not in choice.message.extra
    wire = completion.to_dict()
    assert name not in wire and name not in wire["choices"][0]
    assert name not in wire["choices"][0]["message"]
    assert chunks == before


def test_padding_still_reaches_the_chunks_and_events() -> None:
    chunks = [_chunk({"content": "a"}, obfuscation="pad1"), _chunk({"content": "b"}, p="pad2")]
    with fold(chunks) as stream:
        seen = list(stream)
    assert [c.get("obfuscation") or c.get("p") for c in seen] == ["pad1", "pad2"]
    assert "obfuscation" not in stream.completion.extra and "p" not in stream.completion.extra
    acc = Accumulator()
    assert acc.feed(chunks[0]) == [ContentDelta(0, "a")]


def test_other_unknown_strings_still_concatenate() -> None:
    """Only the padding names are left out: any other unknown field keeps the usual rule."""
    chunks = [_chunk({"content": "a"}, pad="x", obfuscations="y"), _chunk({}, pad="z")]
    completion = assemble(chunks)
    assert completion.extra == {"pad": "xz", "obfuscations": "y"}


def test_padding_in_a_non_streaming_message_left_out() -> None:
    body = {"id": "c", "choices": [{"index": 0, "message": {"content": "ok", "p": "abc"}}]}
    assert assemble([body]).choices[0].message.extra == {}


# --- Groq: usage only in x_groq ------------------------------------------------------------


def test_x_groq_usage_lifted_when_no_top_level_usage() -> None:
    x_usage = {"queue_time": 0.2, "prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}
    chunks = [
        _chunk({"content": "hi"}, x_groq={"id": "req_1"}),
        _chunk({}, choice={"finish_reason": "stop"}, x_groq={"usage": x_usage}),
    ]
    completion = assemble(chunks)
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (50, 7, 57)
    assert usage.extra == {"queue_time": 0.2}
    # The original stays where it was.
    assert completion.extra["x_groq"] == {"id": "req_1", "usage": x_usage}
    assert completion.to_dict()["usage"] == x_usage


def test_x_groq_usage_ignored_when_top_level_usage_arrived() -> None:
    chunks = [
        _chunk({"content": "hi"}, x_groq={"usage": {"prompt_tokens": 1, "total_tokens": 1}}),
        _chunk({}, usage={"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}),
    ]
    usage = assemble(chunks).usage
    assert usage is not None and (usage.prompt_tokens, usage.total_tokens) == (9, 10)


@pytest.mark.parametrize("x_groq", [{"id": "req_1"}, {"usage": None}, {"usage": 5}, "text"])
def test_no_usage_anywhere_stays_none(x_groq: Any) -> None:
    assert assemble([_chunk({"content": "hi"}, x_groq=x_groq)]).usage is None


def test_x_groq_usage_lifted_in_snapshot_and_partial() -> None:
    acc = Accumulator()
    acc.feed(_chunk({"content": "hi"}, x_groq={"usage": {"total_tokens": 3}}))
    snapshot = acc.snapshot()
    assert snapshot.usage is not None and snapshot.usage.total_tokens == 3


# --- choice-level text duplicating the content (Hugging Face router -> Together) ---------


def _together(text: str, content: str | None, **choice: Any) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant", "token_id": 42, "tool_calls": None}
    if content is not None:
        delta["content"] = content
    return _chunk(delta, choice={"text": text, "seed": None, **choice})


def test_choice_text_duplicating_the_delta_content_left_out() -> None:
    chunks = [
        _together("Hel", "Hel"),
        _together("lo", "lo"),
        _together("", "", finish_reason="stop"),
    ]
    completion = assemble(chunks)
    choice = completion.choices[0]
    assert choice.message.content == "Hello"
    assert "text" not in choice.extra
    assert choice.extra == {"seed": None}
    assert "text" not in completion.to_dict()["choices"][0]


def test_choice_text_that_differs_from_the_content_is_kept() -> None:
    chunks = [_together("A", "Hel"), _together("B", None), _together("lo", "lo")]
    completion = assemble(chunks)
    assert completion.choices[0].message.content == "Hello"
    # Kept under the unknown-field rule (strings concatenate), only where it was no copy.
    assert completion.choices[0].extra["text"] == "AB"
