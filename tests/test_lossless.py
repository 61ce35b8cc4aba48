"""Lossless numbers and text: every input path folds to what ``json.loads`` reads.

The wire here is JSON text as servers send it: integers beyond 64 bits (orjson
would read them as rounded floats), ``NaN`` / ``Infinity`` / ``-Infinity``
logprobs and lone surrogate escapes (orjson refuses both), and surrogate pairs
split between two chunks (a UTF-16 gateway). The oracle is ``json.loads`` of
each chunk handed to ``assemble`` as dicts; every other path (JSON text and
bytes, SSE cut anywhere, the sans-IO stream core, typed chunks, JSON bodies,
the CLI, bulk) must give the same completion, and the JSON written back must
read as the same values. Comparisons go through ``repr`` where a NaN may be:
a NaN is not equal to itself.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deltafold
from deltafold import ChatCompletion, ChatCompletionChunk, assemble, assemble_sse, from_dict
from deltafold import to_dict as to_wire
from deltafold._chat_format import CHAT
from deltafold._core import END, NEED_INPUT, StreamCore
from deltafold._jsontext import JSONDecodeError, RunWatch, dumps, loads, paired, rounds_ints

BIG = 123456789012345678901234567890
"""30 digits: orjson reads it as 1.2345678901234568e+29."""
NEG = -(2**63) - 1
"""19 digits, one below the i64 range: the shortest integer orjson rounds."""
U64 = 2**64
"""20 digits, one above the u64 range."""
EMOJI = "\U0001f600"
HIGH, LOW = "\ud83d", "\ude00"


def _chunk(delta: dict[str, Any], **top: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta, **top.pop("choice", {})}
    return {"id": "gen-1", "model": "m", "created": 1, "choices": [choice], **top}


def _logprob(token: str, value: Any) -> dict[str, Any]:
    return {"token": token, "logprob": value, "bytes": None, "top_logprobs": []}


def _wire_chunks() -> list[dict[str, Any]]:
    """The stream, as Python values; :func:`_texts` writes them as a server would."""
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    return [
        _chunk({"role": "assistant", "content": "a" + HIGH}, odd=BIG),
        _chunk(
            {"content": LOW + " lone " + HIGH + "!", "reasoning": "r" + HIGH},
            choice={"logprobs": {"content": [_logprob("a", -math.inf), _logprob("b", BIG)]}},
        ),
        _chunk(
            {"reasoning": LOW, "refusal": "no" + HIGH, "extra_text": "x" + HIGH},
            choice={"logprobs": {"content": [_logprob("c", math.nan), _logprob("d", math.inf)]}},
        ),
        _chunk({"refusal": LOW, "extra_text": LOW, "tool_calls": [call]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"n": ' + str(NEG)}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ', "e": "' + HIGH}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": LOW + '", "x": NaN}'}}]}),
        _chunk({}, choice={"finish_reason": "tool_calls"}, odd=-BIG, big=U64),
        {"id": "gen-1", "choices": [], "usage": {"prompt_tokens": BIG, "total_tokens": NEG,
                                                 "completion_tokens": 5, "cost": math.inf}},
    ]


def _texts() -> list[str]:
    """Each chunk as JSON text: json.dumps writes NaN, Infinity and ``\\ud83d`` escapes."""
    return [json.dumps(chunk) for chunk in _wire_chunks()]


def _sse(texts: list[str]) -> bytes:
    return b"".join(b"data: " + text.encode() + b"\n\n" for text in texts) + b"data: [DONE]\n\n"


def _same(a: Any, b: Any) -> bool:
    return repr(a) == repr(b)


@pytest.fixture(scope="module")
def oracle() -> ChatCompletion:
    return assemble([json.loads(text) for text in _texts()])


def test_the_oracle_holds_json_loads_values(oracle: ChatCompletion) -> None:
    message = oracle.choices[0].message
    assert message.content == "a" + EMOJI + " lone " + HIGH + "!"
    assert message.reasoning == "r" + EMOJI
    assert message.refusal == "no" + EMOJI
    assert message.extra["extra_text"] == "x" + EMOJI
    arguments = message.tool_calls[0].function.arguments
    assert arguments == f'{{"n": {NEG}, "e": "{EMOJI}", "x": NaN}}'
    parsed = json.loads(arguments)
    assert parsed["n"] == NEG and parsed["e"] == EMOJI and math.isnan(parsed["x"])
    assert oracle.extra == {"odd": -BIG, "big": U64}  # a later non-null value replaces
    assert oracle.usage is not None
    assert oracle.usage.extra == {"prompt_tokens": BIG, "total_tokens": NEG}
    assert oracle.usage.completion_tokens == 5 and oracle.usage.cost == math.inf
    logprobs = oracle.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    values = [entry.logprob for entry in logprobs.content]
    assert values[0] == -math.inf and math.isnan(values[2]) and values[3] == math.inf
    assert logprobs.content[1].extra == {"logprob": BIG}  # not exactly a float: kept as sent
    wire = to_wire(oracle)
    assert wire["usage"]["prompt_tokens"] == BIG
    assert wire["choices"][0]["logprobs"]["content"][1]["logprob"] == BIG


def _by_path() -> dict[str, Any]:
    texts = _texts()
    body = _sse(texts)
    return {
        "json text": lambda: assemble(texts),
        "json bytes": lambda: assemble([t.encode() for t in texts]),
        "sse body": lambda: assemble_sse(body),
        "sse text": lambda: assemble_sse(body.decode()),
        "sse in one-byte pieces": lambda: assemble_sse([body[i : i + 1] for i in range(len(body))]),
        "assemble of sse": lambda: assemble(body),
        "json array": lambda: assemble(b"[" + ",".join(texts).encode() + b"]"),
        "json lines": lambda: assemble("\n".join(texts)),
        "stream core": lambda: _drive(body, 7),
        "typed chunks": lambda: assemble(_typed_chunks(body)),
        "pydantic-like": lambda: assemble([_Dumpable(json.loads(t)) for t in texts]),
    }


class _Dumpable:
    """An object with ``model_dump()``, as the OpenAI SDK's chunks are."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def model_dump(self, **_: Any) -> dict[str, Any]:
        return self.data


def _drive(body: bytes, size: int) -> ChatCompletion:
    """The sans-IO core the HTTP streams drive, fed ``size``-byte reads."""
    return _drive_pieces([body[i : i + size] for i in range(0, len(body), size)])


def _drive_pieces(reads: list[bytes], fmt: Any = CHAT) -> Any:
    """The core of ``fmt`` (chat's unless told) fed ``reads``, then the end of input."""
    core = StreamCore(fmt)
    pieces = iter(reads)
    for _ in range(sum(map(len, reads)) + 10):
        step = core.drain()
        if step is END:
            return core.completion
        assert step is NEED_INPUT
        piece = next(pieces, None)
        core.feed(piece) if piece is not None else core.feed_eof()
    raise AssertionError("the core never ended")


def _typed_chunks(body: bytes) -> list[ChatCompletionChunk]:
    """The typed chunks HTTP iteration hands out (built from what the core decoded)."""
    core = StreamCore(CHAT)
    core.feed(body)
    chunks = []
    for _ in range(100):
        step = core.next_chunk()
        if step is END:
            return chunks
        assert isinstance(step, ChatCompletionChunk)
        chunks.append(step)
    raise AssertionError("the core never ended")


@pytest.mark.parametrize("path", list(_by_path()))
def test_every_input_path_folds_to_the_oracle(path: str, oracle: ChatCompletion) -> None:
    assert _same(to_wire(_by_path()[path]()), to_wire(oracle))


def test_sse_cut_at_every_offset_folds_to_the_oracle(oracle: ChatCompletion) -> None:
    body = _sse(_texts())
    expected = repr(to_wire(oracle))
    for cut in range(1, len(body)):
        assert repr(to_wire(assemble_sse([body[:cut], body[cut:]]))) == expected, cut
    for size in (1, 2, 3, 5, 64):
        assert repr(to_wire(_drive(body, size))) == expected, size


def test_raw_hands_out_the_bytes_exactly_while_folding(oracle: ChatCompletion) -> None:
    body = _sse(_texts())
    core = StreamCore(CHAT)
    core.claim_raw()
    out: list[bytes] = []
    reads = iter([body[i : i + 11] for i in range(0, len(body), 11)])
    for _ in range(len(body) + 10):
        piece = core.next_piece()
        if piece is END:
            break
        if piece is NEED_INPUT:
            read = next(reads, None)
            core.feed(read) if read is not None else core.feed_eof()
            continue
        out.append(piece)  # type: ignore[arg-type]
    assert b"".join(out) == body
    assert _same(to_wire(core.completion), to_wire(oracle))


def test_json_written_back_reads_as_the_same_values(oracle: ChatCompletion) -> None:
    wire = to_wire(oracle)
    text = dumps(wire)
    assert b"NaN" in text and b"-Infinity" in text and str(BIG).encode() in text
    assert b'"a\\ud83d\\ude00 lone \\ud83d!"' in text  # lone surrogate: escaped, text stays UTF-8
    assert _same(json.loads(text), wire)
    again = from_dict(ChatCompletion, json.loads(text))
    assert _same(to_wire(again), wire)
    assert _same(to_wire(from_dict(ChatCompletion, wire)), wire)
    pretty = dumps(wire, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    assert pretty.startswith(b'{\n  "big": 18446744073709551616,\n  "choices": [\n')
    assert _same(json.loads(pretty), json.loads(json.dumps(wire, sort_keys=True)))


def test_parse_json_and_typed_parsing_keep_the_numbers() -> None:
    folded = assemble([json.loads(t) for t in _texts()], parse_json=True)
    function = folded.choices[0].message.tool_calls[0].function
    assert _same(function.parsed, json.loads(function.arguments))
    assert function.parsed["n"] == NEG and function.parsed["e"] == EMOJI
    assert function.parse_arguments(dict) == function.parsed | {"x": function.parsed["x"]}
    typed = deltafold.FunctionCall(name="f", arguments=f'{{"a": {BIG}, "b": [{-BIG}]}}')
    assert typed.parse_arguments(dict[str, Any]) == {"a": BIG, "b": [-BIG]}


def test_cli_assemble_writes_the_exact_values(tmp_path: Path, oracle: ChatCompletion) -> None:
    recording = tmp_path / "numbers.sse"
    recording.write_bytes(_sse(_texts()))
    result = subprocess.run(
        [sys.executable, "-m", "deltafold", "assemble", str(recording)],
        capture_output=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _same(json.loads(result.stdout), to_wire(oracle))
    events = subprocess.run(
        [sys.executable, "-m", "deltafold", "assemble", "--events", str(recording)],
        capture_output=True, timeout=60, check=False,
    )
    assert events.returncode == 0, events.stderr
    records = [json.loads(line) for line in events.stdout.splitlines()]
    usage = [r for r in records if r["type"] == "usage_updated"]
    assert usage and usage[-1]["usage"]["prompt_tokens"] == BIG


def test_bulk_keeps_the_completion_exact_and_the_flat_columns_arrow_safe(
    tmp_path: Path, oracle: ChatCompletion
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    texts = _texts()
    out = deltafold.assemble_table(pa.table({"body": pa.array([_sse(texts)], pa.binary())}))
    (row,) = out.to_pylist()
    assert _same(json.loads(row["completion"]), to_wire(oracle))
    assert row["error_type"] is None
    assert row["prompt_tokens"] is None and row["total_tokens"] is None  # beyond int64: null
    assert row["completion_tokens"] == 5 and row["cost"] == math.inf
    assert row["content"] == "a" + EMOJI + " lone \ufffd!"  # UTF-8 cannot hold a lone surrogate
    chunks = pa.table({"stream": ["s"] * len(texts), "chunk": texts})
    (grouped,) = deltafold.assemble_table(chunks, stream_id="stream").to_pylist()
    assert grouped["completion"] == row["completion"]
    lines = tmp_path / "rows.jsonl"
    lines.write_text("".join(
        json.dumps({"stream": "s", "seq": i, "chunk": json.loads(t)}) + "\n"
        for i, t in enumerate(texts)
    ))
    deltafold.assemble_files(
        [lines], tmp_path / "out.parquet", workers=1,
        options=deltafold.BulkOptions(stream_id="stream", order="seq"),
    )
    (from_file,) = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert from_file["completion"] == row["completion"]


def test_a_u64_count_fits_the_model_but_not_an_int64_column() -> None:
    pa = pytest.importorskip("pyarrow")
    usage = {"id": "x", "choices": [], "usage": {"prompt_tokens": 2**63, "completion_tokens": 1}}
    body = _sse([json.dumps(_chunk({"content": "hi"})), json.dumps(usage)])
    completion = assemble_sse(body)
    assert completion.usage is not None and completion.usage.prompt_tokens == 2**63
    (row,) = deltafold.assemble_table(pa.table({"body": [body]})).to_pylist()
    assert row["prompt_tokens"] is None and row["completion_tokens"] == 1
    assert json.loads(row["completion"])["usage"]["prompt_tokens"] == 2**63


# --- the JSON text rules themselves -------------------------------------------------------

WIRE_VALUES = [
    b"123456789012345678901234567890",
    b"-123456789012345678901234567890",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551615",
    b"18446744073709551616",
    b"[NaN, Infinity, -Infinity, 1e400, -1e400]",
    b'"\\ud83d"',
    b'"\\ude00\\ud83d\\ude00"',
    b'{"a": "12345678901234567890123", "b": 0.12345678901234567890123}',
    b'{"nested": [[{"n": 99999999999999999999}]]}',
    "\u00e9 is not JSON".encode(),
]


@pytest.mark.parametrize("raw", WIRE_VALUES, ids=lambda raw: raw.decode()[:30])
def test_loads_gives_what_json_loads_gives(raw: bytes) -> None:
    try:
        expected = json.loads(raw.decode())
    except ValueError:
        with pytest.raises(JSONDecodeError):
            loads(raw)
        with pytest.raises(JSONDecodeError):
            loads(raw.decode())
        return
    assert _same(loads(raw), expected) and _same(loads(raw.decode()), expected)


def test_loads_keeps_orjson_s_error_and_refuses_what_json_loads_refuses() -> None:
    with pytest.raises(JSONDecodeError, match="unexpected character"):
        loads(b"{nope}")
    with pytest.raises(JSONDecodeError):
        loads(b"\xff{}")  # not UTF-8: the standard library would guess an encoding instead
    with pytest.raises(JSONDecodeError):
        loads(b"1" * 5000)  # json.loads refuses an integer of more than 4300 digits
    nested = b"[" * 1000 + b"9" * 25 + b"]" * 1000  # orjson reads 1024 levels
    deep = loads(nested)
    for _ in range(999):
        (deep,) = deep
    try:  # the standard library reads that deep from Python 3.13 on, not before
        json.loads(nested)
    except RecursionError:
        assert deep == [float("9" * 25)]  # orjson's reading, the only one there is
    else:
        assert deep == [int("9" * 25)]  # exact, as json.loads reads it


def test_rounds_ints_finds_every_integer_orjson_rounds() -> None:
    assert not rounds_ints(b'{"created": 1700000000, "n": -922337203685477580}')
    assert not rounds_ints(b'{"p": -0.35000000000000003, "q": 0.00012345678901234567}')
    for edge in (-(2**63), 2**64 - 1):  # 19 and 20 digits: checked, and orjson was exact
        raw = str(edge).encode()
        assert rounds_ints(raw) and loads(raw) == edge == orjson.loads(raw)
    for value in (-(2**63) - 1, 2**64, BIG, -BIG, 10**20, -(10**19)):
        raw = orjson.dumps({"v": 0}).replace(b"0", str(value).encode())
        assert rounds_ints(raw) and rounds_ints(raw.decode())
        assert orjson.loads(raw)["v"].__class__ is float  # what the check is for
        assert loads(raw) == {"v": value}
    long = b" " * (3 << 20) + str(BIG).encode()  # found past the first window too
    assert rounds_ints(long) and loads(long) == BIG
    seam = b" " * ((1 << 20) - 10) + b"1" * 19
    assert rounds_ints(seam)


def test_run_watch_sees_a_run_across_an_empty_piece() -> None:
    """A reader may hand out an empty piece: it must not forget the digit before it."""
    for kind in (bytes, str):
        def piece(raw: bytes, kind: type = kind) -> Any:
            return raw if kind is bytes else raw.decode()

        watch = RunWatch()
        assert not watch.feed(piece(b'data: {"n": 1234567890'))
        assert not watch.feed(piece(b""))
        assert watch.feed(piece(b'123456789}\n\n'))  # 19 digits in a row, in two pieces
        assert not watch.feed(piece(b'data: {"n": 1}\n\n'))
        watch = RunWatch()
        assert watch.feed(piece(b'data: {"n": 1234567890123456789'))  # left half read
        assert watch.feed(piece(b""))
        assert watch.feed(piece(b"}\n\n"))  # the event it completes is still checked


def test_a_big_cost_cut_around_an_empty_piece_folds_as_json_loads_reads_it() -> None:
    """The case the property found once: ``usage.cost`` of 2**64 + 1 (not exactly a float).

    orjson reads it as the float 2**64; ``json.loads`` as the integer, which the float
    field does not take, so it stays in ``extra`` exactly. An empty piece between the
    two halves of its digits used to hide the run from ``RunWatch``.
    """
    cost = 2**64 + 1
    texts = [json.dumps(_chunk({"content": "x"})),
             json.dumps({"id": "gen-1", "choices": [], "usage": {"cost": cost}})]
    expected = to_wire(assemble([json.loads(text) for text in texts]))
    assert expected["usage"] == {"cost": cost} and type(expected["usage"]["cost"]) is int
    body = _sse(texts)
    at = body.index(str(cost).encode()) + 10
    pieces = [body[:at], b"", body[at:]]
    assert repr(to_wire(assemble_sse(pieces))) == repr(expected)
    assert repr(to_wire(assemble_sse([p.decode() for p in pieces]))) == repr(expected)
    assert repr(to_wire(_drive_pieces(pieces))) == repr(expected)


def test_dumps_is_orjson_unless_orjson_cannot_write_the_value() -> None:
    common = {"a": [1, 2.5, None, "x\u00e9", True], "b": {"c": 2**64 - 1}}
    assert dumps(common) == orjson.dumps(common)
    assert dumps(common, orjson.OPT_SORT_KEYS) == orjson.dumps(common, option=orjson.OPT_SORT_KEYS)
    assert dumps({"n": BIG, "m": [-BIG]}) == b'{"n":' + str(BIG).encode() + b',"m":[-' + str(
        BIG
    ).encode() + b"]}"
    assert dumps([math.nan, math.inf, -math.inf, None]) == b"[NaN,Infinity,-Infinity,null]"
    hiding: list[Any] = [{"b": [1, 2, -math.inf]}, ["x", {"y": (math.nan,)}], [[], [0.5, math.inf]]]
    for hidden in hiding:
        assert dumps(hidden) == json.dumps(hidden, separators=(",", ":")).encode()
    assert dumps({"s": "\u00e9" + HIGH}) == b'{"s":"\\u00e9\\ud83d"}'
    assert dumps({"s": "\u00e9", "n": BIG}) == f'{{"s":"\u00e9","n":{BIG}}}'.encode()
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_paired_joins_only_a_high_then_low_surrogate() -> None:
    assert paired("abc") == "abc"
    assert paired(HIGH + LOW) == EMOJI
    assert paired(LOW + HIGH) == LOW + HIGH
    assert paired(HIGH + HIGH + LOW + LOW) == HIGH + EMOJI + LOW
    assert paired("\u00e9" + EMOJI + HIGH) == "\u00e9" + EMOJI + HIGH


def test_a_pair_split_at_a_block_seam_is_joined() -> None:
    """The fold joins fragments into blocks every 4096 chars: a pair cut at the seam too."""
    fragments = ["\u00e9" * 4095 + HIGH, LOW + "\u00e9", "x" * 5000 + HIGH, LOW]
    chunks = [_chunk({"content": f}) for f in fragments]
    content = assemble(chunks).choices[0].message.content
    assert content == "\u00e9" * 4095 + EMOJI + "\u00e9" + "x" * 5000 + EMOJI
    acc = deltafold.Accumulator()
    seen = []
    for chunk in chunks:
        acc.feed(chunk)
        seen.append(acc.snapshot().choices[0].message.content)
    assert seen[-1] == content and seen[0] == "\u00e9" * 4095 + HIGH


# --- the property: the SSE path against json.loads ------------------------------------------

numbers = (
    st.integers()
    | st.integers(min_value=2**63, max_value=2**200)
    | st.integers(min_value=-(2**200), max_value=-(2**63))
    | st.floats()
)
texts = st.text(max_size=6) | st.sampled_from([HIGH, LOW, "a" + HIGH, LOW + "b", EMOJI])
values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                  max_size=3),
    max_leaves=8,
)


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    chunks = []
    for _ in range(draw(st.integers(1, 6))):
        delta: dict[str, Any] = {}
        for field in draw(st.sets(st.sampled_from(["content", "reasoning", "refusal"]))):
            delta[field] = draw(texts)
        if draw(st.booleans()):
            delta["tool_calls"] = [{"index": 0, "function": {"arguments": draw(texts)}}]
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if draw(st.booleans()):
            choice["logprobs"] = {"content": [_logprob(draw(texts), draw(numbers))]}
        chunk: dict[str, Any] = {"id": "g", "choices": [choice]}
        if draw(st.booleans()):
            chunk["odd"] = draw(values)
        if draw(st.booleans()):
            chunk["usage"] = {"prompt_tokens": draw(numbers), "cost": draw(numbers)}
        chunks.append(chunk)
    return chunks


@settings(max_examples=150, deadline=None)
@given(streams(), st.data())
def test_sse_folds_as_the_dict_path_with_json_loads(
    chunks: list[dict[str, Any]], data: st.DataObject
) -> None:
    texts = [json.dumps(chunk) for chunk in chunks]
    expected = to_wire(assemble([json.loads(text) for text in texts]))
    body = _sse(texts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=4)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert repr(to_wire(assemble_sse(pieces))) == repr(expected)
    assert repr(to_wire(_drive_pieces(pieces))) == repr(expected)
    assert repr(to_wire(assemble(texts))) == repr(expected)
    assert repr(json.loads(dumps(expected))) == repr(expected)
