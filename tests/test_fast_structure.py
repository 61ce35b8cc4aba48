"""The generated structuring functions change speed, never results.

``from_dict`` takes a dict of the common shape through a function generated
from each model's fields and falls back to the converter's own path for
anything else. These tests build every model from inputs mixing values of the
right type with wrong types, coercible strings, nulls, odd shapes and unknown
keys, and require exactly what the converter's path alone gives: the same
object, or the same error.
"""

from __future__ import annotations

import math
from typing import Any, get_args, get_type_hints

import attrs
import cattrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltafold
from deltafold import ChatCompletion, ChatCompletionChunk, ChunkDecodeError, Usage, from_dict
from deltafold._convert import _make_converter, wire_names

REFERENCE = _make_converter(fast=False)
"""The converter's own path, without the generated functions."""

MODELS = [getattr(deltafold, name) for name in deltafold._models.__all__]

ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**64, -(2**63) - 1, 2**53 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["12", "0.5", "true", "false", " 7 ", "x", ""]),
    st.text(max_size=5),
    st.just([]),
    st.just({}),
    st.lists(st.integers(min_value=-3, max_value=300), max_size=3),
    st.dictionaries(st.sampled_from(["a", "type", "extra"]), st.integers(), max_size=2),
)


def _model_dict(cls: type[Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts for ``cls``: each wire field absent, well typed, or odd; unknown keys besides."""
    hints = get_type_hints(cls)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name in sorted(wire_names(cls)):
        fields[name] = st.one_of(_value(hints[name], depth), ODD)
    unknown = st.dictionaries(st.sampled_from(["extra", "parsed", "zz", "obfuscation"]), ODD)
    return st.fixed_dictionaries({}, optional=fields).flatmap(
        lambda known: unknown.map(lambda more: {**known, **more})
    )


def _value(tp: Any, depth: int) -> st.SearchStrategy[Any]:
    """A value of the field's own type (models and lists of models recursing, bounded)."""
    args = [arg for arg in get_args(tp) if arg is not type(None)] or [tp]
    options = []
    for arg in args:
        inner = get_args(arg)
        if attrs.has(arg) and depth:
            options.append(_model_dict(arg, depth - 1))
        elif inner and attrs.has(inner[0]) and depth:
            options.append(st.lists(_model_dict(inner[0], depth - 1), max_size=2))
        elif arg is str:
            options.append(st.text(max_size=4))
        elif arg is int:
            options.append(st.integers(min_value=-(2**64), max_value=2**65))
        elif arg is float:
            options.append(st.floats() | st.integers(min_value=-(2**60), max_value=2**60))
        elif arg is bool:
            options.append(st.booleans())
    return st.one_of(options) if options else ODD


def _outcome(structure: Any, data: Any, cls: type[Any]) -> Any:
    """What building ``cls`` gives: every field, the ones off the wire and out of ``repr``
    included (as a repr: NaN-safe), or the error and its paths."""
    try:
        return ("ok", repr(attrs.asdict(structure(data, cls))))
    except Exception as exc:
        return ("error", type(exc).__name__, cattrs.transform_error(exc, path=cls.__name__))


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_model_builds_as_the_converter_path_does(cls: type[Any], data: st.DataObject) -> None:
    value = data.draw(_model_dict(cls, 3))
    assert _outcome(deltafold._convert.converter.structure, value, cls) == _outcome(
        REFERENCE.structure, value, cls
    )


def test_common_chunk_is_built_with_every_field() -> None:
    wire = {
        "id": "gen-1",
        "provider": "OpenAI",
        "model": "m",
        "object": "chat.completion.chunk",
        "created": 7,
        "obfuscation": "x1",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "role": "assistant",
                    "content": "Hi",
                    "tool_calls": [{"index": 0, "function": {"arguments": "{"}}],
                },
                "finish_reason": None,
                "native_finish_reason": None,
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 3, "cost": 0, "is_byok": False},
    }
    chunk = from_dict(ChatCompletionChunk, wire)
    assert chunk.provider == "OpenAI" and chunk.created == 7 and chunk.text == "Hi"
    assert chunk.extra == {"obfuscation": "x1"}
    call = chunk.choices[0].delta.tool_calls[0]  # type: ignore[union-attr,index]
    assert call.index == 0 and call.function.arguments == "{"  # type: ignore[union-attr]
    usage = chunk.usage
    assert usage == Usage(prompt_tokens=3, cost=0.0, is_byok=False)
    assert usage is not None and usage.cost.__class__ is float
    assert from_dict(ChatCompletionChunk, chunk.to_dict()) == chunk


@pytest.mark.parametrize(
    ("wire", "field", "expected", "extra"),
    [
        ({"created": "12"}, "created", 12, {}),  # a coercible string: the converter's rule
        ({"created": 2**64}, "created", 0, {"created": 2**64}),  # kept exactly, in extra
        ({"created": True}, "created", 0, {"created": True}),  # kept in extra (lenient chunk)
        ({"provider": 5}, "provider", None, {"provider": 5}),
        ({"choices": {}}, "choices", [], {}),  # an empty object where a list belongs
    ],
)
def test_odd_chunk_values_take_the_converter_path(
    wire: dict[str, Any], field: str, expected: Any, extra: dict[str, Any]
) -> None:
    chunk = from_dict(ChatCompletionChunk, wire)
    assert getattr(chunk, field) == expected
    assert chunk.extra == extra


def test_strict_model_still_names_the_bad_field() -> None:
    with pytest.raises(ChunkDecodeError, match=r"ChatCompletion\.created"):
        from_dict(ChatCompletion, {"id": "x", "created": [1], "choices": []})
    assert math.isfinite(from_dict(Usage, {"cost": 1}).cost or 0.0)
