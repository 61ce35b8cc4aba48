"""Every field of a model is a field the fold and the split know: none lands in ``extra``.

The fold's and the split's known-field sets are derived from the attrs models,
so adding a field to a model cannot be forgotten there. These tests hold the
derivation to the models' fields (read here from attrs itself), minus the
documented differences, and check the behaviour it gives: a known field sent
as null is never kept as an unknown one, an unknown field always is.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from deltafold import _accumulator as fold
from deltafold import _choice as choice
from deltafold import _models as m
from deltafold import _split as split
from deltafold import assemble


def fields(cls: type[Any]) -> set[str]:
    """The wire fields: every attrs field but ``extra`` and those marked as not on the wire."""
    return {a.name for a in attrs.fields(cls) if not a.metadata.get(m.NOT_WIRE)} - {"extra"}


def test_only_the_parsed_values_are_off_the_wire() -> None:
    local = {
        (cls.__name__, a.name)
        for cls in (m.FunctionCall, m.Message, m.ToolCall, m.Choice, m.ChatCompletion)
        for a in attrs.fields(cls)
        if a.metadata.get(m.NOT_WIRE)
    }
    assert local == {
        ("FunctionCall", "parsed"), ("FunctionCall", "parse_error"),
        ("Message", "parsed"), ("Message", "parse_error"),
    }


@pytest.mark.parametrize(
    ("known", "model", "added"),
    [
        (fold._TOP_KNOWN, m.ChatCompletionChunk, set()),
        (fold._CHOICE_KNOWN, m.ChunkChoice, set()),
        (fold._DELTA_KNOWN, m.Delta, set()),
        (choice._TOOL_KNOWN, m.ToolCallDelta, set()),
        (choice._FUNCTION_KNOWN, m.FunctionCallDelta, set()),
        (choice._LOGPROBS_KNOWN, m.Logprobs, set()),
        # A completion's "error" is never re-sent: a chunk carrying one stops the fold.
        (split._TOP_KNOWN, m.ChatCompletion, {"error"}),
        (split._CHOICE_KNOWN, m.Choice, set()),
        (split._MESSAGE_KNOWN, m.Message, set()),
    ],
)
def test_known_fields_are_the_model_fields(
    known: frozenset[str], model: type[Any], added: set[str]
) -> None:
    assert set(known) == fields(model) | added


@pytest.mark.parametrize(
    ("completion_side", "chunk_side"),
    [(m.ChatCompletion, m.ChatCompletionChunk), (m.Message, m.Delta)],
)
def test_a_non_streaming_body_has_no_field_the_fold_does_not_know(
    completion_side: type[Any], chunk_side: type[Any]
) -> None:
    """A non-streaming body is folded with the chunk's rules: its fields must be chunk fields."""
    assert fields(completion_side) <= fields(chunk_side)


def test_the_choice_of_a_body_differs_only_by_message() -> None:
    assert fields(m.Choice) - {"message"} == fields(m.ChunkChoice) - {"delta"}


def test_the_concatenated_detail_texts_are_reasoning_detail_fields() -> None:
    assert set(choice._DETAIL_TEXT) <= fields(m.ReasoningDetail)


def test_a_known_field_sent_as_null_is_not_kept_as_unknown() -> None:
    """At every level, each model field sent as null stays out of ``extra``; an unknown
    field sent as null is kept there (a field the provider sent)."""

    def nulls(model: type[Any], *sent: str) -> dict[str, Any]:
        return dict.fromkeys((fields(model) - set(sent)) | {"zz_unknown"})

    function = {"name": "f", "arguments": "{}", **nulls(m.FunctionCallDelta, "name", "arguments")}
    tool = {"index": 0, "id": "c", "function": function}
    tool.update(nulls(m.ToolCallDelta, *tool))
    delta = {"content": "x", "tool_calls": [tool], **nulls(m.Delta, "content", "tool_calls")}
    logprobs = {"content": [], **nulls(m.Logprobs, "content")}
    entry = {"index": 0, "delta": delta, **nulls(m.ChunkChoice, "index", "delta", "logprobs")}
    entry["logprobs"] = logprobs
    chunk = {"id": "g", "choices": [entry], **nulls(m.ChatCompletionChunk, "id", "choices")}
    completion = assemble([chunk])
    got = completion.choices[0]
    call = got.message.tool_calls[0]
    assert got.logprobs is not None
    for level in (
        completion.extra,
        got.extra,
        got.message.extra,
        call.extra,
        call.function.extra,
        got.logprobs.extra,
    ):
        assert level == {"zz_unknown": None}
