"""PartialJSON: the incremental parser against jiter (partial values) and json.loads (final).

The differential tests compare ``.value`` with jiter's
``from_json(prefix, partial_mode="trailing-strings")`` after every feed of
several cut plans (one of them one character at a time, so every prefix),
on hypothesis documents and on every tool-call argument string of the
recorded corpus, and ``close()`` with ``json.loads``. The counts of documents
and prefixes compared are printed (``-s``).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltafold
from deltafold import (
    JSONParseError,
    LimitExceededError,
    Limits,
    PartialJSON,
    ScalarSet,
    StreamUsageError,
    StringAppended,
    ValueClosed,
    ValueStarted,
)
from recordings import all_recordings, read_recording

jiter = pytest.importorskip("jiter")

COUNTS = {"documents": 0, "prefixes": 0}


# --- helpers -------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal with types: 1, 1.0 and True differ; -0.0 and 0.0 differ; NaN equals NaN.

    Iterative, so documents nested beyond Python's recursion limit compare too.
    """
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            if not ((math.isnan(x) and math.isnan(y)) or repr(x) == repr(y)):
                return False
        elif isinstance(x, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif isinstance(x, dict):
            if x.keys() != y.keys():
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif x != y:
            return False
    return True


def cut_plans(text: str, rng: random.Random) -> Iterator[list[str]]:
    """One character at a time (every prefix), four at a time, and random sizes."""
    yield list(text)
    yield [text[i : i + 4] for i in range(0, len(text), 4)]
    pieces, i = [], 0
    while i < len(text):
        step = rng.choice((0, 1, 2, 3, 5, 8, 13, 40))
        pieces.append(text[i : i + step])
        i += step
    yield pieces


def jiter_partial(prefix: str) -> Any:
    try:
        return jiter.from_json(prefix.encode("utf-8", "surrogatepass"),
                               partial_mode="trailing-strings")
    except ValueError as error:
        if "recursion limit" in str(error):
            return _TOO_DEEP  # jiter stops at 200 levels; PartialJSON goes on (see depth tests)
        return _NOTHING


_NOTHING = object()
_TOO_DEEP = object()


def set_at(root: list[Any], path: tuple[Any, ...], value: Any) -> None:
    """Put ``value`` at ``path`` in the replayed document (root[0] is the top)."""
    target: Any = root
    keys: tuple[Any, ...] = (0, *path)
    for key in keys[:-1]:
        target = target[key]
    last = keys[-1]
    if isinstance(target, list) and last == len(target):
        target.append(value)
    else:
        target[last] = value


def get_at(root: list[Any], path: tuple[Any, ...]) -> Any:
    target: Any = root[0]
    for key in path:
        target = target[key]
    return target


def replay(events: list[Any]) -> Any:
    """Rebuild the value from events alone, checking that every start gets one end."""
    root: list[Any] = [None]
    open_paths: list[tuple[Any, ...]] = []
    for event in events:
        if isinstance(event, ValueStarted):
            open_paths.append(event.path)
            initial = {"object": {}, "array": [], "string": ""}.get(event.kind)
            if initial is not None:
                set_at(root, event.path, initial)
        elif isinstance(event, StringAppended):
            assert open_paths[-1] == event.path
            set_at(root, event.path, get_at(root, event.path) + event.text)
        elif isinstance(event, ScalarSet):
            assert open_paths.pop() == event.path
            set_at(root, event.path, event.value)
        else:
            assert isinstance(event, ValueClosed)
            assert open_paths.pop() == event.path
            assert same(get_at(root, event.path), event.value)
    assert not open_paths
    return root[0]


def check_document(text: str, rng: random.Random) -> None:
    """Every cut plan: .value matches jiter after each feed, close() and replay match json."""
    expected = json.loads(text)
    COUNTS["documents"] += 1
    for plan in cut_plans(text, rng):
        parser = PartialJSON(limits=Limits(max_json_depth=None))
        events: list[Any] = []
        fed = ""
        for piece in plan:
            events += parser.feed(piece)
            fed += piece
            value = parser.value
            theirs = jiter_partial(fed)
            if theirs is _TOO_DEEP:
                continue
            COUNTS["prefixes"] += 1
            if theirs is _NOTHING:  # jiter shows nothing for "", "  ", "tr", "-", "1."
                assert value is None, (fed, value)
            else:
                assert same(value, theirs), (fed, value, theirs)
        final = parser.close(events)
        assert same(final, expected)
        assert parser.complete
        assert same(replay(events), expected)


# --- documents -------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.text(alphabet=st.sampled_from('"\\/\b\f\n\r\t\x00\x1f é€😀𝄞\u2028'))
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=30,
)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """A document in one of several spellings: ASCII escapes (surrogate pairs), raw
    unicode, pretty-printed, compact."""
    value = draw(documents)
    ascii_only = draw(st.booleans())
    indent = draw(st.sampled_from([None, 0, 2, "\t"]))
    separators = draw(st.sampled_from([None, (",", ":"), (" , ", " : ")]))
    return json.dumps(value, ensure_ascii=ascii_only, indent=indent, separators=separators)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=json_texts(), seed=st.integers(0, 2**32))
def test_differential_against_jiter_on_generated_documents(text: str, seed: int) -> None:
    check_document(text, random.Random(seed))


def test_differential_on_deep_and_exotic_documents() -> None:
    rng = random.Random(7)
    texts = [
        "[" * 190 + "]" * 190,
        "[" * 400 + "]" * 400,
        '{"a":' * 190 + '"x\\u00e9"' + "}" * 190,
        json.dumps({"big": 10**300, "neg": -(10**200), "e": [1e-300, 2.5e300, -0.0, 1e22]}),
        '[1E5, 1e+5, 1e-5, 0.5e0, -0, 0, 123456789012345678901234567890.5e-10]',
        '"\\ud83d\\ude00\\ud834\\udd1e \\u00e9\\\\\\"\\/\\b\\f\\n\\r\\t"',
        '  {"k" :\n\t[ true , false , null ] }  ',
        '"abc"', "42", "true", "[]", "{}", '""', "-1.5e-3",
    ]
    for text in texts:
        check_document(text, rng)


def corpus_json_strings() -> list[str]:
    """Every tool-call argument string (and JSON content) of the recordings that is valid JSON."""
    found = []
    for entry in all_recordings():
        body = read_recording(entry)
        try:
            completion = (
                deltafold.assemble_sse(body) if entry["format"] == "sse"
                else deltafold.assemble(body)
            )
        except deltafold.StreamError as error:
            assert error.partial is not None
            completion = error.partial
        for choice in completion.choices:
            texts = [call.function.arguments for call in choice.message.tool_calls]
            texts.append(choice.message.content or "")
            for text in texts:
                try:
                    json.loads(text)
                except ValueError:
                    continue
                found.append(text)
    return found


def test_differential_on_corpus_tool_arguments() -> None:
    texts = corpus_json_strings()
    assert len(texts) >= 10, "the corpus has tool calls with JSON arguments"
    rng = random.Random(12)
    for text in texts:
        check_document(text, rng)


def test_report_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: prints what the differential tests compared."""
    with capsys.disabled():
        print(f"\nPartialJSON differential: {COUNTS['documents']} documents, "
              f"{COUNTS['prefixes']} prefixes compared with jiter")


# --- splits at every offset --------------------------------------------------------------------

SPLIT_CASES = [
    '"\\u00e9"', '"\\ud83d\\ude00"', '"a\\\\b"', '"\\"x\\""', '"\\ud800"', '"\\ud800x"',
    '"\\ud800\\n"', '"\\ud800\\u0041"', '"\\ud800\\ud83d\\ude00"', '"\\udc00\\ud800"',
    "-12.5e+3", "0", "-0.0", "1E-7", "123456789012345678901234567890", '[-1,2.0,3e1]',
    '{"\\u00e9\\n": "\\/"}', "NaN", "-Infinity", '[Infinity,null,true,false]',
]


@pytest.mark.parametrize("text", SPLIT_CASES)
def test_every_escape_and_number_split_at_every_offset(text: str) -> None:
    expected = json.loads(text)
    for a in range(len(text) + 1):
        for b in range(a, len(text) + 1):
            parser = PartialJSON()
            for piece in (text[:a], text[a:b], text[b:]):
                parser.feed(piece)
                parser.value  # noqa: B018  reading must never disturb the parse
            assert same(parser.close(), expected), (a, b)


# --- the contract, case by case ------------------------------------------------------------------


def test_value_follows_trailing_strings_semantics() -> None:
    parser = PartialJSON()
    steps = [
        ('{"na', {}), ('me"', {}), (": ", {}), ('"Par', {"name": "Par"}), ("is\\u00", {"name":
        "Paris"}), ('e9", "n": 1', {"name": "Parisé", "n": 1}), ("2", {"name": "Parisé", "n": 12}),
        (".", {"name": "Parisé"}), ("5, ", {"name": "Parisé", "n": 12.5}), ('"ok": tr', {"name":
        "Parisé", "n": 12.5}), ("ue}", {"name": "Parisé", "n": 12.5, "ok": True}),
    ]
    for piece, expected in steps:
        parser.feed(piece)
        assert parser.value == expected, piece
    assert parser.complete
    assert parser.close() == {"name": "Parisé", "n": 12.5, "ok": True}


def test_containers_are_live_and_value_is_the_same_object() -> None:
    parser = PartialJSON()
    parser.feed('{"items": [1, ')
    first = parser.value
    parser.feed('2, {"x": "y"}]}')
    assert parser.value is first
    assert first == {"items": [1, 2, {"x": "y"}]}


def test_events_name_paths_and_what_happened() -> None:
    parser = PartialJSON()
    events = parser.feed('{"a": [1, "x')
    assert events == [
        ValueStarted((), "object"),
        ValueStarted(("a",), "array"),
        ValueStarted(("a", 0), "number"),
        ScalarSet(("a", 0), 1),
        ValueStarted(("a", 1), "string"),
        StringAppended(("a", 1), "x"),
    ]
    assert parser.feed("y") == [StringAppended(("a", 1), "y")]
    assert parser.feed("") == []
    assert parser.feed('"]}') == [
        ValueClosed(("a", 1), "xy"),
        ValueClosed(("a",), [1, "xy"]),
        ValueClosed((), {"a": [1, "xy"]}),
    ]
    # Two kinds of event with equal fields are not equal.
    scalar: object = ScalarSet((), 1)
    assert scalar != ValueClosed((), 1)
    assert len({ScalarSet((), 1), ValueClosed((), 1)}) == 2


def test_top_level_scalars_and_completeness() -> None:
    number = PartialJSON()
    number.feed("42")
    assert number.value == 42
    assert not number.complete  # "42" may go on: "420"
    number.feed(" ")
    assert number.complete
    for text, expected in [('"abc"', "abc"), ("true", True), ("null", None)]:
        parser = PartialJSON()
        parser.feed(text)
        assert parser.complete
        assert parser.close() == expected
    parser = PartialJSON()
    parser.feed("7")
    assert parser.close() == 7
    assert parser.close() == 7  # close() again returns the value again


def test_whitespace_after_complete_is_fine_more_text_is_an_error() -> None:
    parser = PartialJSON()
    parser.feed("[1] ")
    parser.feed("\n\t ")
    with pytest.raises(JSONParseError) as raised:
        parser.feed("  x")
    assert raised.value.position == 9
    assert "extra data" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("[1,]", 3, "expected a value"),
        ('{"a" 1}', 5, "expected ':'"),
        ("[01]", 2, "expected ',' or ']'"),
        ("[1.]", 3, "a digit after '.'"),
        ("[1e+]", 4, "a digit in the exponent"),
        ('"\\x"', 2, "an escape"),
        ('"\\u12g4"', 5, "a hex digit"),
        ('"a\x01"', 2, "control characters"),
        ("[trux]", 4, "'true'"),
        ("\ufeff[1]", 0, "byte order mark"),
        ('{"a":1,}', 7, "a key"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("-NaN", 1, "a digit after '-'"),
    ],
)
def test_invalid_text_raises_at_the_feed_that_makes_it_invalid(
    text: str, position: int, words: str
) -> None:
    with pytest.raises(ValueError):  # json.loads agrees that it is invalid
        json.loads(text)
    parser = PartialJSON()
    for i, c in enumerate(text):
        if i < position:
            parser.feed(c)
            continue
        with pytest.raises(JSONParseError) as raised:
            parser.feed(c)
        break
    error = raised.value
    assert isinstance(error, deltafold.DeltafoldError)
    assert error.position == position
    assert words in str(error)
    assert f"character {position}" in str(error)
    # Refused from then on, with the same error; the value read before stays readable.
    with pytest.raises(JSONParseError) as again:
        parser.feed("1")
    assert again.value is error
    with pytest.raises(JSONParseError):
        parser.close()
    parser.value  # noqa: B018


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty text"), ("[", "a value or ']'"), ('"ab', "closing the string"),
     ('{"a":', "a value"), ("tru", "'true'"), ("-", "a digit"), ("1.", "a digit"),
     ("[1", "',' or ']'"), ('{"a"', "':'"), ('"\\u00', "closing the string")],
)
def test_truncated_text_raises_at_close_with_the_end_position(text: str, words: str) -> None:
    parser = PartialJSON()
    parser.feed(text)
    with pytest.raises(JSONParseError) as raised:
        parser.close()
    assert raised.value.position == len(text)
    assert words in str(raised.value)


def test_big_int_beyond_python_limit_is_a_typed_error() -> None:
    parser = PartialJSON()
    parser.feed("[" + "9" * 5000)
    assert parser.value == []  # not shown: Python cannot make it an int
    with pytest.raises(LimitExceededError):
        parser.feed("]")


def test_depth_limit() -> None:
    parser = PartialJSON(limits=Limits(max_json_depth=3))
    parser.feed("[[[")
    with pytest.raises(LimitExceededError) as raised:
        parser.feed('{"a": 1}')
    assert raised.value.limit == "max_json_depth"
    assert raised.value.value == 4
    assert "max_json_depth" in str(raised.value)
    with pytest.raises(LimitExceededError):
        parser.feed("]")
    assert Limits().max_json_depth == 512
    deep = PartialJSON()
    deep.feed("[" * 512)
    with pytest.raises(LimitExceededError):
        deep.feed("[")
    unlimited = PartialJSON(limits=Limits.unlimited())
    unlimited.feed("[" * 5000 + "]" * 5000)
    assert unlimited.complete


def test_wrong_argument_types_and_feed_after_close() -> None:
    parser = PartialJSON()
    with pytest.raises(TypeError, match="decode the bytes"):
        parser.feed(b"[1]")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PartialJSON(limits=5)  # type: ignore[arg-type]
    parser.feed("[1]")
    parser.close()
    with pytest.raises(StreamUsageError):
        parser.feed(" ")


# --- fuzz: any text, any cuts: a value or a typed error, never another exception ---------------

#: JSON-ish tokens (pieces of escapes, numbers and literals included), joined in any order.
JSONISH = st.lists(
    st.sampled_from([*'{}[]:,"\\ \n-+.0123456789eEtrufalsnINy', "\\u", "d83d", "\\ude00",
                     "\x00", "é", "😀", "true", "null", '"k":', "NaN", "Infinity", "1e5"])
).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=JSONISH | st.text(), cuts=st.lists(st.integers(0, 60), max_size=20))
def test_fuzz_any_text_gives_a_value_or_a_typed_error(text: str, cuts: list[int]) -> None:
    check_any_text(text, cuts)


def check_any_text(text: str, cuts: list[int]) -> None:
    """Fed in pieces: json.loads's value, or a typed error where json.loads fails too."""
    parser = PartialJSON(limits=Limits(max_json_depth=8))
    pieces, i = [], 0
    for cut in cuts:
        pieces.append(text[i : i + cut])
        i += cut
    pieces.append(text[i:])
    try:
        for piece in pieces:
            parser.feed(piece)
            parser.value  # noqa: B018
        result = parser.close()
    except LimitExceededError:
        return
    except JSONParseError as error:
        assert 0 <= error.position <= len(text)
        parser.value  # noqa: B018  still never raises
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            return
        raise AssertionError(f"json.loads accepts {text!r}, PartialJSON said {error}") from None
    assert same(result, json.loads(text))


@st.composite
def near_json(draw: st.DrawFn) -> str:
    """A valid document with one character deleted, replaced or inserted."""
    text = draw(json_texts())
    at = draw(st.integers(0, len(text)))
    new = draw(st.sampled_from([*list('{}[]:,"\\ 0-.eE'), "x", "\x01"]))
    edit = draw(st.sampled_from(["delete", "replace", "insert"]))
    if edit == "delete":
        return text[:at] + text[at + 1 :]
    if edit == "replace":
        return text[:at] + new + text[at + 1 :]
    return text[:at] + new + text[at:]


@settings(max_examples=300, deadline=None)
@given(text=near_json(), cuts=st.lists(st.integers(0, 9), max_size=30))
def test_fuzz_near_json_agrees_with_json_loads(text: str, cuts: list[int]) -> None:
    check_any_text(text, cuts)
