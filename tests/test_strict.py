"""Strict typed parsing: every type cattrs can structure reads JSON by one table, or says why not.

The property tests generate attrs classes and dataclasses with fields drawn
from a pool of types, and JSON objects for them, and compare what
``parse_arguments`` and ``partial_view`` give with ``ORACLE``: a small
table written here, independently of deltafold's converter, that says for
each type which JSON values it accepts and what they become.
"""

# ruff: noqa: UP007, UP045 (users write Union and Optional as well as X | Y: both are tested)
from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import decimal
import enum
import json
import pathlib
import re
import uuid
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, NewType, Optional, TypedDict, Union

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltafold
from deltafold import FunctionCall, JSONParseError, Message, StructuredOutputError, partial_view


def parse(text: str, cls: Any, **kwargs: Any) -> Any:
    return FunctionCall(name="tool", arguments=text).parse_arguments(cls, **kwargs)


def errors_of(text: str, cls: Any) -> list[str]:
    with pytest.raises(StructuredOutputError) as info:
        parse(text, cls)
    return info.value.errors


def holder(name: str, tp: Any) -> Any:
    """An attrs class ``Holder`` with one field of type ``tp`` (resolved, unlike a local class
    under ``from __future__ import annotations``)."""
    return attrs.make_class("Holder", {name: attrs.field(type=tp)})


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``1 == 1.0 == True`` is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (set, frozenset)):
        return sorted(map(repr, a)) == sorted(map(repr, b))
    if attrs.has(type(a)) or dataclasses.is_dataclass(a):
        names = [f.name for f in dataclasses.fields(a)] if dataclasses.is_dataclass(a) else [
            f.name for f in attrs.fields(type(a))
        ]
        return all(same(getattr(a, n), getattr(b, n)) for n in names)
    return bool(a == b)


class Pri(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(str, enum.Enum):  # noqa: UP042 (the mixin users write, not StrEnum)
    FAST = "fast"
    SAFE = "safe"


class Level(int, enum.Enum):
    ONE = 1
    TWO = 2


class Mixed(enum.Enum):
    ONE = 1
    HALF = 1.5
    NAME = "one"
    NOTHING = None


class Ratio(float, enum.Enum):
    WHOLE = 1.0
    HALF = 0.5


class Perm(enum.Flag):
    READ = 1
    WRITE = 2
    RUN = 4


class Bits(enum.IntFlag):
    A = 1
    B = 2


class Meters(float):
    pass


class Tag(str):
    pass


# --- the case ---------------------------------------------------------------------


@attrs.define
class Args:
    pri: Pri
    mode: Mode


def test_int_and_str_enums_give_members_and_refuse_other_values() -> None:
    got = parse('{"pri": 2, "mode": "safe"}', Args)
    assert got.pri is Pri.HIGH and got.mode is Mode.SAFE
    assert errors_of('{"pri": 7, "mode": "warp"}', Args) == [
        "expected one of 1, 2 (Pri), got 7 @ $.pri",
        'expected one of "fast", "safe" (Mode), got "warp" @ $.mode',
    ]
    assert partial_view(Args, {"pri": 2, "mode": "safe"}) == Args(Pri.HIGH, Mode.SAFE)
    assert partial_view(Args, {"pri": 7, "mode": "safe"}) is None
    with pytest.raises(StructuredOutputError):
        Message(content='{"pri": 1, "mode": "fas"}').parse_content(Args)


# --- enums of every base ------------------------------------------------------------------

ENUM_CASES: list[tuple[Any, str, Any]] = [
    # (the enum, the JSON text, the member, or None when it is refused)
    (Pri, "1", Pri.LOW), (Pri, "true", None), (Pri, "1.0", None), (Pri, '"1"', None),
    (Pri, "3", None), (Mode, '"fast"', Mode.FAST), (Mode, '"FAST"', None),
    (Mode, '"fas"', None), (Mode, "1", None), (Level, "2", Level.TWO), (Level, "false", None),
    (Mixed, "1", Mixed.ONE), (Mixed, "1.5", Mixed.HALF), (Mixed, '"one"', Mixed.NAME),
    (Mixed, "null", Mixed.NOTHING), (Mixed, "1.0", None), (Mixed, "true", None),
    (Mixed, '"ONE"', None), (Ratio, "1", Ratio.WHOLE), (Ratio, "1.0", Ratio.WHOLE),
    (Ratio, "0.5", Ratio.HALF), (Ratio, '"0.5"', None), (Perm, "3", Perm.READ | Perm.WRITE),
    (Perm, "0", Perm(0)), (Perm, "8", None), (Perm, "-1", None), (Perm, "true", None),
    (Perm, "1.0", None), (Bits, "3", Bits.A | Bits.B), (Bits, "4", None),
]  # fmt: skip


class Shade(enum.StrEnum):
    DARK = "dark"


ENUM_CASES += [(Shade, '"dark"', Shade.DARK), (Shade, '"light"', None), (Shade, "0", None)]


@pytest.mark.parametrize(("tp", "text", "member"), ENUM_CASES)
def test_every_enum_base(tp: Any, text: str, member: Any) -> None:
    Holder = holder("items", list[tp])
    document = f'{{"items": [{text}]}}'
    if member is None:
        (error,) = errors_of(document, Holder)
        assert error.endswith(f"got {text} @ $.items[0]")
        assert tp.__name__ in error
        assert partial_view(Holder, json.loads(document)) == Holder([])  # the last, unfinished
    else:
        (got,) = parse(document, Holder).items
        assert got is member or (got == member and type(got) is tp)


def test_enum_errors_list_the_allowed_values() -> None:
    assert errors_of('"two"', Mixed) == [
        'expected one of 1, 1.5, "one", null (Mixed), got "two" @ $'
    ]
    (flag,) = errors_of("8", Perm)
    assert flag == (
        "expected a JSON integer made of the bits of Perm: 1 (READ), 2 (WRITE), 4 (RUN); got 8 @ $"
    )


# --- Literal --------------------------------------------------------------------------------

LITERAL_CASES: list[tuple[Any, str, Any]] = [
    (Literal[1], "1", 1), (Literal[1], "true", None), (Literal[1], "1.0", None),
    (Literal[1], '"1"', None), (Literal[True], "true", True), (Literal[True], "1", None),
    (Literal[False], "0", None), (Literal[False], "false", False), (Literal[None], "null", None),
    (Literal["a", "b"], '"b"', "b"), (Literal["a", "b"], '"c"', None),
    (Literal[1, True], "true", True), (Literal[1, True], "1", 1),
    (Literal[Pri.HIGH], "2", Pri.HIGH), (Literal[Pri.HIGH], "1", None),
    (Literal[Mode.FAST, 0], '"fast"', Mode.FAST), (Literal[Mode.FAST, 0], "0", 0),
    (Literal[Mode.FAST, 0], "false", None),
]  # fmt: skip


@pytest.mark.parametrize(("tp", "text", "value"), LITERAL_CASES)
def test_literal_of_every_scalar(tp: Any, text: str, value: Any) -> None:
    if value is None and text != "null":
        (error,) = errors_of(text, tp)
        assert error.startswith("expected ") and error.endswith(f"got {text} @ $")
    else:
        assert same(parse(text, tp), value)


def test_the_literal_error_shows_json() -> None:
    assert errors_of("true", Literal[1]) == ["expected 1, got true @ $"]
    assert errors_of('"x"', Literal["a", None]) == ['expected one of "a", null, got "x" @ $']


# --- exact scalar hooks ---------------------------------------------------------------------


def test_scalar_hooks_take_exactly_their_type() -> None:
    assert errors_of("true", int) == ["expected int, got a JSON boolean @ $"]
    assert errors_of("1", bool) == ["expected bool, got a JSON number @ $"]
    assert errors_of("1", str) == ["expected str, got a JSON number @ $"]
    assert errors_of("false", float) == ["expected float, got a JSON boolean @ $"]
    assert same(parse("2.0", int), 2) and same(parse("2", float), 2.0)
    assert same(parse("2", Meters), Meters(2.0)) and same(parse('"x"', Tag), Tag("x"))
    assert errors_of("1", Tag) == ["expected str, got a JSON number @ $"]
    assert same(parse("5", NewType("UserId", int)), 5)
    assert errors_of('"5"', NewType("UserId", int)) == ["expected int, got a JSON string @ $"]
    assert errors_of("1", type(None)) == ["expected null, got a JSON number @ $"]


# --- unions and Optional --------------------------------------------------------------------


@attrs.define
class Circle:
    radius: float


@attrs.define
class Box:
    width: float = 1.0
    height: float = 1.0


def test_unions() -> None:
    assert same(parse('"1"', Union[int, str]), "1") and same(parse("1", Union[str, int]), 1)
    assert errors_of("true", Union[int, str]) == ["expected int | str, got true @ $"]
    assert same(parse("2", float | int), 2) and same(parse("2.0", int | float), 2.0)
    assert same(parse("2", Union[Literal[2], str]), 2)
    assert same(parse('"x"', Union[Mode, str]), "x")
    assert parse('"fast"', Union[Mode, str]) is Mode.FAST
    assert same(parse("null", Optional[int]), None)
    assert errors_of('"1"', Optional[int]) == ["expected int, got a JSON string @ $"]
    # of the classes that accept an object, the one that reads most of its keys
    assert same(parse('{"width": 2, "height": 3}', Union[Circle, Box]), Box(2.0, 3.0))
    assert same(parse('{"radius": 2}', Union[Box, Circle]), Circle(2.0))
    # the one member that took the object keeps the inner path
    assert errors_of('{"shape": {"radius": "2"}}', dict[str, Circle | int]) == [
        "expected float, got a JSON string @ $['shape'].radius"
    ]


# --- containers -----------------------------------------------------------------------------


class Pair(NamedTuple):
    left: int
    right: str


class Row(TypedDict):
    id: int
    mode: Mode


@dataclasses.dataclass
class Item:
    mode: Mode
    pri: Pri = Pri.LOW


@attrs.define
class Order:
    items: list[Item]


def test_containers_take_only_their_json_shape() -> None:
    assert errors_of('"ab"', list[str]) == ["expected a JSON array, got a JSON string @ $"]
    for tp in (set[str], frozenset[str], tuple[str, ...], collections.deque[str], Pair):
        assert errors_of('"ab"', tp) == ["expected a JSON array, got a JSON string @ $"], tp
    assert same(parse("[1, 1, 2]", set[int]), {1, 2})
    assert same(parse('["fast"]', frozenset[Mode]), frozenset({Mode.FAST}))
    assert same(parse("[1, 2.0]", tuple[int, ...]), (1, 2))
    assert same(parse('[1, "a"]', tuple[int, str]), (1, "a"))
    assert errors_of('[1, "a", 3]', tuple[int, str]) == [
        "expected a JSON array of 2 items, got 3 @ $"
    ]
    assert errors_of('["a", "a"]', tuple[int, str]) == ["expected int, got a JSON string @ $[0]"]
    assert same(parse('[1, "a"]', Pair), Pair(1, "a"))
    assert errors_of('[["a", 1]]', dict[str, int]) == [
        "expected a JSON object, got a JSON array @ $"
    ]
    assert same(parse('{"a": "safe"}', dict[str, Mode]), {"a": Mode.SAFE})
    assert same(parse('{"fast": 1}', dict[Mode, int]), {Mode.FAST: 1})
    assert errors_of('{"slow": 1}', dict[Mode, int])[0].startswith('expected one of "fast"')
    assert same(parse('{"id": 1, "mode": "fast"}', Row), {"id": 1, "mode": Mode.FAST})
    assert errors_of('{"id": 1, "mode": "x"}', Row)[0].endswith('got "x" @ $.mode')
    for tp in (Row, Item, Order, Circle):
        assert errors_of("[1]", tp) == ["expected a JSON object, got a JSON array @ $"], tp


def test_error_paths_reach_into_nested_containers() -> None:
    text = json.dumps({"items": [{"mode": "fast"}, {"mode": "safe", "pri": 2}, {"mode": "warp"}]})
    assert errors_of(text, Order) == [
        'expected one of "fast", "safe" (Mode), got "warp" @ $.items[2].mode'
    ]
    assert errors_of('{"items": [{"mode": "fast", "pri": true}]}', Order) == [
        "expected one of 1, 2 (Pri), got true @ $.items[0].pri"
    ]
    assert errors_of('{"a": [[1, "x"]]}', dict[str, list[tuple[int, int]]]) == [
        "expected int, got a JSON string @ $['a'][0][1]"
    ]


# --- types JSON does not have -----------------------------------------------------------------


@attrs.define
class Event:
    name: str
    at: datetime.datetime | None = None


NEEDS_CONVERTER = [
    (datetime.datetime, '"2025-01-02T03:04:05"', "datetime.fromisoformat(value)"),
    (datetime.date, '"2025-01-02"', "date.fromisoformat(value)"),
    (decimal.Decimal, '"1.10"', "Decimal(value)"),
    (uuid.UUID, '"12345678-1234-5678-1234-567812345678"', "UUID(value)"),
    (pathlib.Path, '"/tmp/x"', "Path(value)"),
    (bytes, '"aGk="', "base64.b64decode(value)"),
]


@pytest.mark.parametrize(("tp", "text", "build"), NEEDS_CONVERTER)
def test_a_type_json_lacks_says_which_converter_to_pass(tp: Any, text: str, build: str) -> None:
    Holder = holder("value", list[tp])
    with pytest.raises(TypeError) as info:
        parse(f'{{"value": [{text}]}}', Holder)
    message = str(info.value)
    assert message.startswith("cannot structure into Holder at $.value[0]: ")
    assert f"{tp.__name__} is not a JSON type" in message
    assert "converter = deltafold.typed_converter()" in message
    assert f"register_structure_hook({tp.__name__}, lambda value, _: {build})" in message
    assert "Register a structure hook" not in message  # not cattrs' own words
    with pytest.raises(TypeError, match="is not a JSON type"):
        partial_view(Holder, {"value": [json.loads(text)]})
    # the fix the message gives works
    converter = deltafold.typed_converter()
    namespace = {"value": json.loads(text), tp.__name__: tp, "base64": base64}
    hook = eval(f"lambda value, _: {build}", namespace)
    converter.register_structure_hook(tp, hook)
    assert isinstance(parse(f'{{"value": [{text}]}}', Holder, converter=converter).value[0], tp)
    # and the converter is still strict
    with pytest.raises(StructuredOutputError):
        parse('["1"]', list[int], converter=converter)


def test_a_type_json_lacks_is_only_reported_when_a_value_comes() -> None:
    assert parse('{"name": "x", "at": null}', Event) == Event("x")
    with pytest.raises(TypeError, match=r"at \$\.at: datetime is not a JSON type"):
        parse('{"name": "x", "at": "2025-01-01"}', Event)


def test_dict_keys_are_strings() -> None:
    with pytest.raises(TypeError, match="JSON object keys are strings, not int"):
        parse('{"1": "a"}', dict[int, str])
    assert parse("{}", dict[int, str]) == {}


# --- empty arguments --------------------------------------------------------------------------


@attrs.define
class NoParameters:
    verbose: bool = False


def test_empty_arguments_are_the_empty_object() -> None:
    for text in ("", "  ", "{}"):
        assert parse(text, NoParameters) == NoParameters()
    assert parse("", dict[str, int]) == {}
    with pytest.raises(StructuredOutputError) as info:
        parse("", Args)
    assert str(info.value).startswith(
        "Args does not accept the arguments of tool, empty and read as {}: required field missing"
    )
    assert info.value.errors == [
        "required field missing @ $.pri", "required field missing @ $.mode"
    ]
    with pytest.raises(StructuredOutputError, match="expected a JSON array, got a JSON object"):
        parse("", list[int])
    with pytest.raises(JSONParseError):  # content is not arguments: empty text is no JSON
        Message(content="").parse_content(NoParameters)


# --- property tests against an independent table ----------------------------------------------

NO = object()
"""The oracle's answer for a value the type refuses."""


def _scalar(check: Callable[[Any], bool], make: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: make(v) if check(v) else NO


def _is_int(v: Any) -> bool:
    return type(v) is int or (type(v) is float and v.is_integer())


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def read(v: Any) -> Any:
        if type(v) is not list:
            return NO
        items = [item(x) for x in v]
        return NO if any(x is NO for x in items) else items

    return read


def _optional(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else inner(v)


ORACLE: dict[Any, Callable[[Any], Any]] = {
    str: _scalar(lambda v: type(v) is str, str),
    int: _scalar(_is_int, int),
    float: _scalar(lambda v: type(v) in (int, float), float),
    bool: _scalar(lambda v: type(v) is bool, bool),
    Pri: _scalar(lambda v: type(v) is int and v in (1, 2), Pri),
    Mode: _scalar(lambda v: type(v) is str and v in ("fast", "safe"), Mode),
    Mixed: lambda v: NO if type(v) in (list, dict) else {
        (int, 1): Mixed.ONE, (float, 1.5): Mixed.HALF, (str, "one"): Mixed.NAME,
        (type(None), None): Mixed.NOTHING,
    }.get((type(v), v), NO),
    Ratio: _scalar(lambda v: type(v) in (int, float) and v in (1, 0.5), Ratio),
    Perm: _scalar(lambda v: type(v) is int and 0 <= v <= 7, Perm),
    Literal[1]: _scalar(lambda v: type(v) is int and v == 1, int),
    Literal[True]: _scalar(lambda v: v is True, bool),
    Literal["fast", None]: _scalar(lambda v: v is None or v == "fast", lambda v: v),
    Optional[int]: _optional(_scalar(_is_int, int)),
    Union[int, str]: lambda v: int(v) if _is_int(v) else v if type(v) is str else NO,
    list[Pri]: _list_of(_scalar(lambda v: type(v) is int and v in (1, 2), Pri)),
    list[Literal[1]]: _list_of(_scalar(lambda v: type(v) is int and v == 1, int)),
    dict[str, Mode]: lambda v: NO if type(v) is not dict else (
        NO if any(ORACLE[Mode](x) is NO for x in v.values()) else {k: Mode(x) for k, x in v.items()}
    ),
    tuple[int, str]: lambda v: (int(v[0]), v[1])
    if type(v) is list and len(v) == 2 and _is_int(v[0]) and type(v[1]) is str else NO,
}  # fmt: skip
POOL = list(ORACLE)
SCALARS = st.sampled_from(
    [0, 1, 2, 3, 7, -1, 1.0, 2.0, 0.5, 1.5, True, False, None, "", "1", "fast", "safe", "one",
     "warp"]
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["fast", "a", "1"]), inner, max_size=2),
    max_leaves=6,
)


def _partial_oracle(tp: Any, v: Any) -> Any:
    """What partial_view takes for a finished value: a list also drops a last item that does
    not fit (it may be the one still being written)."""
    got = ORACLE[tp](v)
    if got is NO and tp in (list[Pri], list[Literal[1]]) and type(v) is list and v:
        return ORACLE[tp](v[:-1])
    return got


@st.composite
def classes_and_values(draw: st.DrawFn) -> tuple[Any, dict[str, Any], list[tuple[Any, bool]]]:
    fields = draw(st.lists(st.tuples(st.sampled_from(POOL), st.booleans()), min_size=1, max_size=4))
    names = [f"f{i}" for i in range(len(fields))]
    if draw(st.booleans()):
        cls = attrs.make_class(
            "Generated",
            {
                name: attrs.field(type=tp, **({"default": f"default {name}"} if has else {}))
                for name, (tp, has) in zip(names, fields, strict=False)
            },
            kw_only=True,
        )
    else:
        cls = dataclasses.make_dataclass(
            "Generated",
            [
                (name, tp, dataclasses.field(default=f"default {name}"))
                if has
                else (name, tp)
                for name, (tp, has) in zip(names, fields, strict=False)
            ],
            kw_only=True,
        )
    document = {}
    for name, (_tp, _) in zip(names, fields, strict=False):
        if draw(st.integers(0, 4)):  # mostly present
            document[name] = draw(JSON)
    return cls, document, fields


@settings(max_examples=400, deadline=None)
@given(classes_and_values())
def test_parse_arguments_follows_the_table(case: tuple[Any, dict[str, Any], Any]) -> None:
    cls, document, fields = case
    expected: dict[str, Any] = {}
    failing = set()
    for i, (tp, has_default) in enumerate(fields):
        name = f"f{i}"
        got = ORACLE[tp](document[name]) if name in document else NO
        if got is not NO:
            expected[name] = got
        elif name in document or not has_default:
            failing.add(f"$.{name}")
    text = json.dumps(document)
    if failing:
        with pytest.raises(StructuredOutputError) as info:
            parse(text, cls)
        paths = [error.rsplit(" @ ", 1)[1] for error in info.value.errors]
        named = {re.match(r"\$\.f\d+", path) for path in paths}
        assert {match.group() for match in named if match} == failing, info.value.errors
    else:
        assert same(parse(text, cls), cls(**expected))


@settings(max_examples=400, deadline=None)
@given(classes_and_values())
def test_partial_view_follows_the_table(case: tuple[Any, dict[str, Any], Any]) -> None:
    cls, document, fields = case
    expected: dict[str, Any] = {}
    complete = True
    for i, (tp, has_default) in enumerate(fields):
        name = f"f{i}"
        got = _partial_oracle(tp, document[name]) if name in document else NO
        if got is not NO:
            expected[name] = got
        elif not has_default:
            complete = False
    view = partial_view(cls, document)
    if complete:
        assert same(view, cls(**expected)), (view, expected)
    else:
        assert view is None
