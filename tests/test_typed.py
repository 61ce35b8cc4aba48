"""Typed results: parse_arguments, parse_content and partial_view, through the public API."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any, Literal, Optional, TypedDict

import attrs
import cattrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltafold
from deltafold import (
    FunctionCall,
    JSONParseError,
    LimitExceededError,
    Message,
    PartialJSON,
    StructuredOutputError,
    partial_view,
)


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@attrs.define
class WeatherArgs:
    city: str
    days: list[int]
    unit: Literal["c", "f"] = "c"
    note: Optional[str] = None  # noqa: UP045 (the typing spelling is what users write too)


@dataclasses.dataclass
class Point:
    x: float
    y: float


@dataclasses.dataclass
class Shape:
    name: str
    points: list[Point]
    unit: Unit = Unit.C


class Row(TypedDict):
    id: int
    tags: list[str]


def call(arguments: str, name: str = "get_weather") -> FunctionCall:
    return FunctionCall(name=name, arguments=arguments)


# --- parse_arguments / parse_content: what fits ----------------------------------------


def test_attrs_class_with_defaults_optional_and_literal() -> None:
    args = call('{"city": "Paris", "days": [1, 2], "unit": "f"}').parse_arguments(WeatherArgs)
    assert args == WeatherArgs(city="Paris", days=[1, 2], unit="f", note=None)


def test_dataclass_nested_list_of_dataclasses_and_enum() -> None:
    text = '{"name": "tri", "points": [{"x": 0, "y": 1.5}, {"x": 2, "y": 3}], "unit": "fahrenheit"}'
    shape = call(text).parse_arguments(Shape)
    assert shape == Shape("tri", [Point(0.0, 1.5), Point(2.0, 3.0)], Unit.F)
    assert type(shape.points[0].x) is float


def test_typed_dict_and_plain_generic_types() -> None:
    assert call('{"id": 7, "tags": ["a", "b"]}').parse_arguments(Row) == {
        "id": 7,
        "tags": ["a", "b"],
    }
    assert call("[[1, 2], []]").parse_arguments(list[list[int]]) == [[1, 2], []]
    assert call('{"a": 1.5}').parse_arguments(dict[str, float]) == {"a": 1.5}


def test_message_content_from_an_assembled_stream() -> None:
    pieces = ['{"id": 7, ', '"tags": ["x', '"]}']
    chunks = [{"id": "c", "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    completion = deltafold.assemble(chunks)
    assert completion.choices[0].message.parse_content(Row) == {"id": 7, "tags": ["x"]}


def test_tool_call_of_an_assembled_stream() -> None:
    delta = {"tool_calls": [{"index": 0, "id": "t", "function": {"name": "get_weather"}}]}
    chunks = [{"id": "c", "choices": [{"index": 0, "delta": delta}]}]
    for piece in ['{"city": "Pa', 'ris", "days"', ": [3]}"]:
        more = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        chunks.append({"id": "c", "choices": [{"index": 0, "delta": more}]})
    tool_call = deltafold.assemble(chunks).choices[0].message.tool_calls[0]
    assert tool_call.function.parse_arguments(WeatherArgs) == WeatherArgs("Paris", [3])


def test_a_number_without_fraction_is_an_int_and_an_int_is_a_float() -> None:
    assert call('{"city": "P", "days": [2.0, 3]}').parse_arguments(WeatherArgs).days == [2, 3]
    assert call('{"x": 1, "y": 10000000000000000000000}').parse_arguments(Point) == Point(1.0, 1e22)


def test_text_orjson_refuses_is_read_as_json_loads_reads_it() -> None:
    text = '[NaN, Infinity, 123456789012345678901234567890, "\\ud800"]'
    got = call(text).parse_arguments(list[Any])
    expected = json.loads(text)
    assert got[2:] == expected[2:] and str(got[:2]) == str(expected[:2])


def test_a_user_converter_is_used() -> None:
    converter = cattrs.Converter()
    converter.register_structure_hook(Point, lambda value, _: Point(*value))
    assert call("[1, 2]").parse_arguments(Point, converter=converter) == Point(1, 2)
    # cattrs' own default (no strict scalars) turns a number into a string:
    lenient = call('{"city": 5, "days": []}').parse_arguments(
        WeatherArgs, converter=cattrs.Converter()
    )
    assert lenient.city == "5"


# --- what does not fit: StructuredOutputError with JSON paths ---------------------------


def test_wrong_types_name_each_json_path() -> None:
    with pytest.raises(StructuredOutputError) as info:
        call('{"city": "Paris", "days": [1, "2", true], "unit": "k"}').parse_arguments(WeatherArgs)
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, deltafold.DeltafoldError)
    assert error.errors == [
        "expected int, got a JSON string @ $.days[1]",
        "expected int, got a JSON boolean @ $.days[2]",
        'expected one of "c", "f", got "k" @ $.unit',
    ]
    assert "WeatherArgs" in str(error) and "get_weather" in str(error)
    assert "$.days[1]" in str(error) and "$.unit" in str(error)
    assert error.raw == '{"city": "Paris", "days": [1, "2", true], "unit": "k"}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"city": 5, "days": []}', "expected str, got a JSON number @ $.city"),
        ('{"city": "P", "days": "1, 2"}', "expected a JSON array, got a JSON string @ $.days"),
        ('{"city": "P", "days": {"0": 1}}', "expected a JSON array, got a JSON object @ $.days"),
        ('{"city": "P", "days": [2.5]}', "expected int, got a JSON number @ $.days[0]"),
        ('{"city": "P", "days": [null]}', "expected int, got a JSON null @ $.days[0]"),
        ('{"days": []}', "required field missing @ $.city"),
        ('{"city": "P", "days": [], "note": 3}', "@ $.note"),
    ],
)
def test_each_kind_of_misfit(text: str, message: str) -> None:
    with pytest.raises(StructuredOutputError) as info:
        call(text).parse_arguments(WeatherArgs)
    assert any(message in line for line in info.value.errors), info.value.errors


def test_nested_paths_enums_and_bools() -> None:
    text = '{"name": "t", "points": [{"x": 1, "y": 2}, {"x": "1"}], "unit": "kelvin"}'
    with pytest.raises(StructuredOutputError) as info:
        call(text).parse_arguments(Shape)
    errors = info.value.errors
    assert "expected float, got a JSON string @ $.points[1].x" in errors
    assert "required field missing @ $.points[1].y" in errors
    assert 'expected one of "celsius", "fahrenheit" (Unit), got "kelvin" @ $.unit' in errors

    @dataclasses.dataclass
    class Flag:
        on: bool

    with pytest.raises(StructuredOutputError, match=r"expected bool, got a JSON string @ \$\.on"):
        call('{"on": "false"}').parse_arguments(Flag)


def test_many_errors_are_all_kept_and_the_message_stays_short() -> None:
    with pytest.raises(StructuredOutputError) as info:
        call(json.dumps([str(i) for i in range(12)])).parse_arguments(list[int])
    assert len(info.value.errors) == 12 and info.value.errors[11].endswith("@ $[11]")
    assert "(and 7 more)" in str(info.value) and "$[5]" not in str(info.value)


def test_a_top_level_misfit() -> None:
    with pytest.raises(StructuredOutputError, match=r"expected int, got a JSON string @ \$"):
        Message(content='"seven"').parse_content(int)


# --- text that is not JSON: JSONParseError with the position ----------------------------


@pytest.mark.parametrize(
    ("text", "position"),
    [('{"city": "Paris", "days": [1', 28), ('{"a": 1} x', 9), ("{'a': 1}", 1)],
)
def test_invalid_json_gives_the_position(text: str, position: int) -> None:
    with pytest.raises(JSONParseError) as info:
        call(text).parse_arguments(WeatherArgs)
    assert info.value.position == position
    assert str(info.value).startswith("the arguments of get_weather: ")


def test_content_none_is_a_parse_error_not_an_empty_success() -> None:
    with pytest.raises(JSONParseError, match="the message content is None") as info:
        Message(content=None, refusal="no").parse_content(Row)
    assert info.value.position == 0


def test_nesting_past_the_limit_is_a_limit_error() -> None:
    with pytest.raises(LimitExceededError):
        call("[" * 600 + "]" * 600).parse_arguments(list[Any])


def test_wrong_argument_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="converter must be a cattrs Converter"):
        call("{}").parse_arguments(Row, converter=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot structure into"):
        call("{}").parse_arguments(42)  # type: ignore[arg-type]


# --- partial_view -----------------------------------------------------------------------


@attrs.define
class Day:
    date: str = ""
    high: float = 0.0
    sky: Literal["sun", "rain"] | None = None


@attrs.define
class Forecast:
    city: str = ""
    unit: Unit = Unit.C
    days: list[Day] = attrs.Factory(list)
    note: str | None = None


FORECAST = json.dumps(
    {
        "city": "Paris",
        "unit": "fahrenheit",
        "days": [{"date": f"2025-01-0{i}", "high": 10.5 + i, "sky": "rain"} for i in range(4)],
        "note": 'dry \u00e9t\u00e9 \\ "quoted"',
    }
)


def test_partial_view_on_every_prefix_ends_at_the_typed_result() -> None:
    parser = PartialJSON()
    views = []
    for ch in FORECAST:
        parser.feed(ch)
        view = partial_view(Forecast, parser.value)
        assert isinstance(view, Forecast)
        views.append(view)
    assert views[-1] == call(FORECAST).parse_arguments(Forecast)
    # it only grows: each day shown is complete or the last one, still being written
    assert [len(v.days) for v in views] == sorted(len(v.days) for v in views)
    assert any(v.unit is Unit.C and v.city == "Paris" for v in views)  # "fahr..." not yet an enum


def test_partial_view_missing_fields_take_defaults_and_misfits_too() -> None:
    assert partial_view(Forecast, {}) == Forecast()
    assert partial_view(Forecast, {"city": "Pa", "unit": "fah"}) == Forecast(city="Pa")
    assert partial_view(Forecast, {"city": 5}) == Forecast()  # a wrong type: the default
    view = partial_view(
        Forecast, {"days": [{"date": "d1", "sky": "rain"}, {"date": "d", "sky": "ra"}]}
    )
    assert view == Forecast(days=[Day("d1", sky="rain"), Day("d")])


def test_partial_view_drops_only_the_last_item_that_does_not_fit() -> None:
    @dataclasses.dataclass
    class Path:
        points: list[Point] = dataclasses.field(default_factory=list)

    assert partial_view(Path, {"points": [{"x": 1, "y": 2}, {"x": 3}]}) == Path([Point(1, 2)])
    # an item before the last that does not fit is not partial: the field takes its default
    assert partial_view(Path, {"points": [{"x": 1}, {"x": 3, "y": 4}]}) == Path()


def test_partial_view_without_a_default_is_none_until_the_field_fits() -> None:
    assert partial_view(WeatherArgs, {}) is None
    assert partial_view(WeatherArgs, {"city": "Pa"}) is None  # days has no default
    assert partial_view(WeatherArgs, {"city": "Pa", "days": [1]}) == WeatherArgs("Pa", [1])
    assert partial_view(Forecast, None) is None
    assert partial_view(Forecast, [1, 2]) is None


def test_partial_view_respects_the_class_validators() -> None:
    @attrs.define
    class Positive:
        n: int = attrs.field(default=1, validator=attrs.validators.gt(0))

    assert partial_view(Positive, {"n": -5}) is None  # the class refuses; nothing to show
    assert partial_view(Positive, {"n": 5}) == Positive(5)


def test_partial_view_needs_a_class() -> None:
    with pytest.raises(TypeError, match="attrs class or a dataclass"):
        partial_view(dict, {})
    with pytest.raises(TypeError, match="converter must be a cattrs Converter"):
        partial_view(Forecast, {}, converter="no")  # type: ignore[arg-type]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["city", "unit", "days", "note", "date", "high", "sky"]), JSON_VALUES
    ),
    st.integers(1, 9),
)
def test_partial_view_never_raises_on_any_prefix(document: dict[str, object], step: int) -> None:
    text = json.dumps(document)
    parser = PartialJSON()
    for i in range(0, len(text), step):
        parser.feed(text[i : i + step])
        view = partial_view(Forecast, parser.value)
        assert view is None or isinstance(view, Forecast)
