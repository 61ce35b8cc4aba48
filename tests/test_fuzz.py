"""Fuzzing: whatever an upstream sends, the fold returns a completion or a DeltafoldError.

Never TypeError, KeyError, IndexError, AttributeError, RecursionError or a
hang; and any completion that comes back (the result, or an error's
``.partial``) serialises (``to_dict`` then deltafold's JSON writer, the one the
CLI and bulk use) and survives ``from_dict(to_dict(c))``.

Inputs: arbitrary bytes; near-valid SSE (a valid body cut anywhere, line ends
mixed, comments, BOMs, huge lines, bytes flipped or dropped); near-valid
chunks (a realistic chunk with wrong types put in at any path: numbers as
strings, lists as objects, nulls, huge numbers, deep nesting), fed as dicts,
as JSON text and as SSE.

The CI budget is ``max_examples=200`` per property (a few seconds in all).
For a long run::

    DELTAFOLD_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -p no:randomly

(see docs/hardening.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deltafold import (
    Accumulator,
    ChatCompletion,
    ChatCompletionChunk,
    DeltafoldError,
    Limits,
    assemble,
    assemble_sse,
    from_dict,
    to_dict,
)
from deltafold._jsontext import dumps, loads

EXAMPLES = int(os.environ.get("DELTAFOLD_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
SMALL = Limits(
    max_event_bytes=4096,
    max_total_bytes=64 * 1024,
    max_choices=4,
    max_tool_calls=4,
    max_field_chars=512,
)
"""Small limits, so that the fuzzer reaches every limit check too."""


# --- what must hold ----------------------------------------------------------------


def check_completion(completion: ChatCompletion) -> None:
    assert isinstance(completion, ChatCompletion)
    wire = to_dict(completion)
    dumps(wire)
    again = from_dict(ChatCompletion, wire)
    dumps(to_dict(again))


def outcome(run: Callable[[], Any]) -> Any:
    """Run one fold; a DeltafoldError is a fine end, anything else fails the test."""
    try:
        result = run()
    except DeltafoldError as exc:
        if exc.partial is not None:
            check_completion(exc.partial)
        return exc
    if isinstance(result, ChatCompletion):
        check_completion(result)
    return result


def feed_each(chunks: list[Any], limits: Limits | None = None) -> ChatCompletion:
    """Accumulator.feed one by one (the events path), a snapshot after each chunk."""
    acc = Accumulator(limits=limits)
    for chunk in chunks:
        acc.feed(chunk)
        check_completion(acc.snapshot())
        if isinstance(chunk, dict):
            # The typed chunk (what HTTP chunk iteration hands out) never fails where the
            # fold did not. Over HTTP it is built from what the decoder read.
            try:
                wire = loads(dumps(chunk))
            except (TypeError, ValueError):
                continue
            dumps(to_dict(from_dict(ChatCompletionChunk, wire)))
    acc.close()
    return acc.result()


# --- realistic chunks ----------------------------------------------------------------

TOP = {
    "id": "gen-1",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "m",
    "provider": "P",
    "system_fingerprint": "fp",
    "service_tier": "default",
}


def templates() -> list[dict[str, Any]]:
    """One chunk per field the fold knows, plus unknown ones: the seeds of every mutation."""
    token = {
        "token": "a",
        "logprob": -0.5,
        "bytes": [97],
        "top_logprobs": [{"token": "b", "logprob": -1.0, "bytes": [98]}],
    }
    deltas: list[dict[str, Any]] = [
        {"role": "assistant", "content": ""},
        {"content": "Hello"},
        {
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
            ]
        },
        {"refusal": "no"},
        {
            "reasoning": "think",
            "reasoning_details": [
                {"type": "reasoning.text", "index": 0, "text": "t", "format": "f", "id": "r1"}
            ],
        },
        {"reasoning_content": "deep"},
        {
            "reasoning_details": [
                {"type": "reasoning.encrypted", "index": 1, "data": "xx", "signature": "sig"}
            ]
        },
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a":'},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
        {"tool_calls": [{"id": "call_2", "function": {"name": "g", "arguments": {"x": 1}}}]},
        {"function_call": {"name": "legacy", "arguments": "{}"}},
        {
            "annotations": [
                {
                    "type": "url_citation",
                    "url_citation": {
                        "url": "https://e.x",
                        "title": "t",
                        "start_index": 0,
                        "end_index": 3,
                    },
                }
            ]
        },
        {
            "images": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}, "index": 0}
            ]
        },
        {"audio": {"id": "au", "data": "AAA", "transcript": "hi", "expires_at": 17}},
        {"mystery": "x", "nested": {"a": [1, 2], "b": {"c": "d"}}},
    ]
    chunks: list[dict[str, Any]] = [{**TOP, "choices": [{"index": 0, "delta": d}]} for d in deltas]
    chunks += [
        {
            **TOP,
            "choices": [
                {
                    "index": 0,
                    "delta": {},
                    "logprobs": {"content": [token], "refusal": None, "other": 1},
                }
            ],
        },
        {
            **TOP,
            "choices": [
                {
                    "index": 1,
                    "delta": {"content": "second"},
                    "finish_reason": "stop",
                    "native_finish_reason": "end_turn",
                    "weird": [1],
                }
            ],
        },
        {**TOP, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {
            **TOP,
            "choices": [],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 3,
                "total_tokens": 15,
                "cost": 0.01,
                "is_byok": False,
                "prompt_tokens_details": {"cached_tokens": 2},
                "completion_tokens_details": {"reasoning_tokens": 1},
                "cost_details": {"upstream_inference_cost": 0.02},
                "server_tool_use": {"n": 1},
            },
        },
        {**TOP, "choices": [], "obfuscation": "abc"},
    ]
    return chunks


TEMPLATES = templates()


def paths(value: Any, out: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key) slot inside ``value``, down to 12 levels (a mutation may have
    nested a value hundreds of levels deep; the strategy itself must not recurse into it)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > 12:
            continue
        slots = item.items() if isinstance(item, dict) else enumerate(item)
        for key, inner in slots:
            out.append((item, key))
            if isinstance(inner, (dict, list)):
                stack.append((inner, depth + 1))
    return out


class Deep:
    """Stands for ``deep(depth, leaf)`` in drawn examples, so that Hypothesis never has to
    print (recursively) a value hundreds of levels deep; ``realize`` builds it."""

    def __init__(self, depth: int, leaf: Any) -> None:
        self.depth = depth
        self.leaf = leaf

    def __repr__(self) -> str:
        return f"Deep({self.depth}, {self.leaf!r:.40})"


def realize(value: Any, level: int = 0) -> Any:
    """``value`` with every Deep built. Drawn values are shallow, and a Deep is never put
    below 30 levels; anything deeper (an already built value) is returned as it is."""
    if level > 30:
        return value
    if isinstance(value, Deep):
        return deep(value.depth, realize(value.leaf, level + 1))
    if isinstance(value, dict):
        return {key: realize(item, level + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [realize(item, level + 1) for item in value]
    return value


def deep(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


text = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ["\ud83d", "\ude00", "a\ud83d", "\ude00b"]
)
"""Unicode, and lone surrogates (JSON carries them as escapes; json.loads reads them)."""
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.sampled_from([0, -1, 1, 2**63 - 1, 2**64 - 1, -(2**63), 2**64, -(2**63) - 1, 2**100])
    | st.floats()
    | text
    | st.sampled_from(
        [
            "0",
            "1",
            "-1",
            " 3 ",
            "1e300",
            "1e20",
            "inf",
            "-inf",
            "nan",
            "NaN",
            "1.5",
            "",
            "99999999999999999999999",
            "[DONE]",
            "null",
            "true",
            "false",
            "\x00",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)


@st.composite
def confusing(draw: st.DrawFn, current: Any) -> Any:
    """A value of the wrong type for the slot that holds ``current``."""
    kind = draw(st.integers(0, 11))
    if kind == 0:
        return None
    if kind == 1:
        return str(current) if not isinstance(current, str) else draw(scalars)
    if kind == 2:
        return [current]
    if kind == 3:
        if isinstance(current, list):
            return {str(i): item for i, item in enumerate(current)}
        return {"0": current}
    if kind == 4:
        return draw(st.sampled_from([[], {}, "", 0, False, True]))
    if kind == 5:
        return Deep(draw(st.sampled_from([2, 30, 100, 200, 300, 600, 900])), current)
    if kind == 6:
        return draw(st.sampled_from([2**64 - 1, -(2**63), 1e300, -1e300, 5e-324, 2**53 + 1]))
    if kind == 7:
        return "x" * draw(st.sampled_from([1, 600, 5000]))
    if kind == 8 and isinstance(current, str) and current:
        raw = current.encode("utf-8", "surrogatepass")
        return raw[: draw(st.integers(0, len(current)))].decode("utf-8", "replace")
    return draw(json_values)


@st.composite
def mutated_chunk(draw: st.DrawFn) -> dict[str, Any]:
    chunk: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    for _ in range(draw(st.integers(0, 4))):
        slots = paths(chunk, [])
        action = draw(st.integers(0, 9))
        if action == 0:
            key = draw(st.sampled_from(list(chunk)))
            chunk[key] = draw(confusing(chunk[key]))
        elif action == 1 and slots:
            container, key = draw(st.sampled_from(slots))
            if isinstance(container, dict):
                del container[key]
        elif action == 2 and slots:
            container, _ = draw(st.sampled_from(slots))
            if isinstance(container, dict):
                name = draw(
                    st.sampled_from(
                        [
                            "index",
                            "id",
                            "type",
                            "content",
                            "text",
                            "x",
                            "arguments",
                            "usage",
                            "error",
                            "delta",
                        ]
                    )
                )
                container[name] = draw(json_values)
        elif slots:
            container, key = draw(st.sampled_from(slots))
            container[key] = draw(confusing(container[key]))
    return chunk


@st.composite
def crowded_chunk(draw: st.DrawFn) -> dict[str, Any]:
    """A well-typed chunk that pushes on a limit: many choices, calls, details, long fields."""
    index = draw(st.integers(0, 6))
    size = draw(st.sampled_from([1, 100, 300, 600]))
    piece = "x" * size
    field = draw(
        st.sampled_from(
            [
                "content",
                "refusal",
                "reasoning",
                "reasoning_content",
                "tool",
                "detail",
                "audio",
                "unknown",
                "parts",
            ]
        )
    )
    delta: dict[str, Any]
    if field == "tool":
        call = draw(st.integers(0, 6))
        delta = {
            "tool_calls": [
                {"index": call, "id": f"c{call}", "function": {"name": "f", "arguments": piece}}
            ]
        }
    elif field == "detail":
        delta = {
            "reasoning_details": [
                {"type": "reasoning.text", "index": draw(st.integers(0, 3)), "text": piece}
            ]
        }
    elif field == "audio":
        delta = {"audio": {draw(st.sampled_from(["data", "transcript"])): piece}}
    elif field == "unknown":
        delta = {"odd": draw(st.sampled_from([piece, [piece], {"k": piece}]))}
    elif field == "parts":
        delta = {"content": [{"type": "text", "text": piece}]}
    else:
        delta = {field: piece}
    return {"choices": [{"index": index, "delta": delta}]}


chunk_lists = st.lists(
    mutated_chunk() | st.sampled_from(TEMPLATES) | crowded_chunk(), min_size=1, max_size=8
)


def to_json(chunk: Any) -> bytes:
    """JSON text as a provider would send it (Python's encoder for what orjson refuses)."""
    try:
        return dumps(chunk)
    except (TypeError, ValueError):
        return b"{}"


def sse(chunks: list[Any], *, done: bool = True) -> bytes:
    chunks = realize(chunks)
    body = b"".join(b"data: " + to_json(c) + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


# --- near-valid SSE --------------------------------------------------------------------


@st.composite
def cut(draw: st.DrawFn, body: bytes) -> list[bytes]:
    points = sorted(draw(st.lists(st.integers(0, len(body)), max_size=10)))
    bounds = [0, *points, len(body)]
    return [body[a:b] for a, b in pairwise(bounds)]


@st.composite
def near_sse(draw: st.DrawFn) -> list[bytes]:
    """A valid SSE body bent out of shape, then cut into pieces."""
    body = sse(draw(chunk_lists), done=draw(st.booleans()))
    lines = body.split(b"\n")
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(lines)))
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.insert(at, b": keep-alive")
        elif kind == 1:
            lines.insert(at, b"\xef\xbb\xbf" + b"data: {}")
        elif kind == 2:
            lines.insert(at, b"data: " + b"x" * draw(st.sampled_from([100, 5000, 70000])))
        elif kind == 3:
            lines.insert(
                at,
                draw(
                    st.sampled_from(
                        [
                            b"event: error",
                            b"event: ping",
                            b"id: 7",
                            b"retry: 99999999999999999999",
                            b"data: [DONE]",
                            b"data:",
                            b"data",
                            b"",
                            b"\r",
                            b'data: {"error": 1}',
                            b'data: {"choices": [{"delta": {"content": "\\ud800"}}]}',
                            b"data: " + b"[" * 2000 + b"]" * 2000,
                        ]
                    )
                ),
            )
        elif kind == 4 and lines:
            del lines[min(at, len(lines) - 1)]
        elif kind == 5:
            lines.insert(at, draw(st.binary(max_size=40)))
        elif kind == 6 and lines:
            at = min(at, len(lines) - 1)
            line = lines[at]
            if line:
                pos = draw(st.integers(0, len(line) - 1))
                lines[at] = line[:pos] + bytes([draw(st.integers(0, 255))]) + line[pos + 1 :]
    eol = draw(st.sampled_from([b"\n", b"\r\n", b"\r", None]))
    if eol is None:
        body = b"".join(line + draw(st.sampled_from([b"\n", b"\r\n", b"\r"])) for line in lines)
    else:
        body = eol.join(lines)
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return draw(cut(body))


# --- the properties -----------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from([None, SMALL]))
def test_arbitrary_bytes(body: bytes, limits: Limits | None) -> None:
    outcome(lambda: assemble(body, limits=limits))
    outcome(lambda: assemble_sse(body, limits=limits))
    outcome(lambda: feed_each([body], limits))


@FUZZ
@given(st.text(max_size=300), st.sampled_from([None, SMALL]))
def test_arbitrary_text(body: str, limits: Limits | None) -> None:
    outcome(lambda: assemble(body, limits=limits))
    outcome(lambda: assemble_sse(body, limits=limits))


@FUZZ
@given(near_sse(), st.sampled_from([None, SMALL]), st.booleans())
def test_near_valid_sse(pieces: list[bytes], limits: Limits | None, strict: bool) -> None:
    outcome(lambda: assemble_sse(pieces, limits=limits, strict=strict))
    outcome(lambda: assemble(b"".join(pieces), limits=limits, strict=strict))


@FUZZ
@given(chunk_lists, st.sampled_from([None, SMALL]))
def test_near_valid_chunks_as_dicts(chunks: list[dict[str, Any]], limits: Limits | None) -> None:
    chunks = realize(chunks)
    outcome(lambda: assemble(chunks, limits=limits))
    outcome(lambda: feed_each(chunks, limits))


@FUZZ
@given(chunk_lists, st.sampled_from([None, SMALL]), st.data())
def test_near_valid_chunks_as_json_and_sse(
    chunks: list[dict[str, Any]], limits: Limits | None, data: st.DataObject
) -> None:
    texts = [to_json(c) for c in realize(chunks)]
    outcome(lambda: assemble(texts, limits=limits))
    outcome(lambda: feed_each([t.decode("utf-8", "replace") for t in texts], limits))
    body = sse(chunks)
    outcome(lambda: assemble_sse(data.draw(cut(body)), limits=limits))
    outcome(lambda: assemble(body, limits=limits))
    outcome(lambda: assemble(b"[" + b",".join(texts) + b"]", limits=limits))
    outcome(lambda: assemble(b"\n".join(texts), limits=limits))


@FUZZ
@given(st.lists(json_values, min_size=1, max_size=5))
def test_any_json_value_as_a_chunk(values: list[Any]) -> None:
    outcome(lambda: assemble(values))
    outcome(lambda: feed_each(values))
    outcome(lambda: assemble([to_json(v) for v in values]))


# --- regressions: what the fuzzer found, each pinned ----------------------------------------

FOUND = {
    # from_dict(to_dict(c)) failed: a wrong-typed known field was kept in extra under its own
    # key, and to_dict wrote it back where from_dict expects the typed value.
    "top_logprobs item not an object": {
        "choices": [
            {
                "index": 0,
                "delta": {},
                "logprobs": {"content": [{"token": "a", "logprob": -1, "top_logprobs": [5]}]},
            }
        ]
    },
    "logprobs content item not an object": {
        "choices": [{"index": 0, "delta": {}, "logprobs": {"content": [5]}}]
    },
    "usage count as a word": {"choices": [], "usage": {"prompt_tokens": "many"}},
    "image index as a word": {
        "choices": [{"index": 0, "delta": {"images": [{"type": "image_url", "index": "first"}]}}]
    },
    "audio expiry as a list": {"choices": [{"index": 0, "delta": {"audio": {"expires_at": [1]}}}]},
    "citation offsets as text": {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "annotations": [
                        {"type": "url_citation", "url_citation": {"url": "u", "start_index": "x"}}
                    ]
                },
            }
        ]
    },
    # cattrs' blind str()/int()/bool() mangled data; now kept as it came.
    "usage flag as text": {"choices": [], "usage": {"is_byok": "no", "cost": [1]}},
    # orjson cannot write integers beyond 64 bits, nor nesting deeper than 254 levels.
    "timestamp 1e20 as text": {"choices": [], "created": "1e20"},
    "timestamp infinite": {"choices": [], "created": "inf"},
    "index 1e300": {"choices": [{"index": 1e300, "delta": {}}]},
    "unknown field 300 levels deep": {"choices": [], "odd": deep(300)},
    "usage 300 levels deep": {"choices": [], "usage": {"extra": deep(300)}},
    "merged objects 600 levels deep": {"choices": [{"index": 0, "odd": deep(600)}]},
}


def test_found_by_the_fuzzer() -> None:
    for name, chunk in FOUND.items():
        for run in (
            lambda c=chunk: assemble([c, c]),
            lambda c=chunk: feed_each([c, c]),
            lambda c=chunk: assemble_sse(sse([c, c])),
        ):
            result = outcome(run)
            assert isinstance(result, (ChatCompletion, DeltafoldError)), name
