"""Property: any completion, cut into chunks any way, assembles back to itself.

The expected completion is built from its wire dict with ``from_dict``, never
by the fold, and the stream is derived from that same dict: content, refusal,
reasoning and tool arguments split anywhere, fields and choices interleaved,
usage on its own chunk or riding on another. The SSE rendering of the stream,
cut into arbitrary byte pieces, must give the same result.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from deltafold import ChatCompletion, assemble, assemble_sse, from_dict

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
some_text = st.none() | text
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


def token(t: str) -> dict[str, Any]:
    return {"token": t, "logprob": -1.5, "bytes": list(t.encode()), "top_logprobs": []}


@st.composite
def completions(draw: st.DrawFn) -> dict[str, Any]:
    """A completion's wire dict: content, refusal, reasoning, tool calls, logprobs, usage."""
    indexes = sorted(draw(st.sets(st.integers(0, 6), min_size=1, max_size=3)))
    choices = []
    for index in indexes:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": draw(some_text),
            "refusal": draw(some_text),
        }
        reasoning = draw(some_text)
        if reasoning is not None:
            message["reasoning"] = reasoning
        calls = []
        for k in range(draw(st.integers(0, 3))):
            arguments = json.dumps(
                draw(st.dictionaries(st.text(max_size=5), json_value, max_size=4)),
                ensure_ascii=draw(st.booleans()),
            )
            calls.append(
                {
                    "id": f"call_{index}_{k}",
                    "type": "function",
                    "function": {
                        "name": draw(st.sampled_from(["a", "lookup", "get_weather"])),
                        "arguments": arguments,
                    },
                }
            )
        if calls:
            message["tool_calls"] = calls
        choice: dict[str, Any] = {
            "index": index,
            "message": message,
            "finish_reason": draw(st.none() | st.sampled_from(["stop", "length", "tool_calls"])),
        }
        if draw(st.booleans()):
            choice["logprobs"] = {
                "content": [token(t) for t in draw(st.lists(text, max_size=4))],
                "refusal": None,
            }
        choices.append(choice)
    completion: dict[str, Any] = {
        "id": "chatcmpl-prop",
        "choices": choices,
        "created": 1700000000,
        "model": "m-1",
        "object": "chat.completion",
    }
    if draw(st.booleans()):
        completion["usage"] = {
            "prompt_tokens": draw(st.integers(0, 10**5)),
            "completion_tokens": draw(st.integers(0, 10**5)),
            "total_tokens": draw(st.integers(0, 10**5)),
            "completion_tokens_details": {"reasoning_tokens": draw(st.integers(0, 99))},
        }
    return completion


@st.composite
def pieces(draw: st.DrawFn, whole: str) -> list[str]:
    """``whole`` cut at arbitrary points; empty pieces allowed, at least one piece."""
    cuts = sorted(draw(st.lists(st.integers(0, len(whole)), max_size=6)))
    bounds = [0, *cuts, len(whole)]
    return [whole[a:b] for a, b in pairwise(bounds)]


@st.composite
def choice_entries(draw: st.DrawFn, choice: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunk-choice entries that rebuild one choice, fields interleaved in any order."""
    index = choice["index"]
    message = choice["message"]
    streams: list[list[dict[str, Any]]] = []
    for field in ("content", "refusal", "reasoning"):
        if message.get(field) is not None:
            names = ["reasoning", "reasoning_content"] if field == "reasoning" else [field]
            streams.append(
                [
                    {field_name: piece}
                    for piece in draw(pieces(message[field]))
                    for field_name in [draw(st.sampled_from(names))]
                ]
            )
    for k, call in enumerate(message.get("tool_calls", [])):
        parts = draw(pieces(call["function"]["arguments"]))
        so_far = ""
        for n, part in enumerate(parts):
            # A later fragment starting with everything so far is a full re-send (spec rule).
            assume(n == 0 or not so_far or not part.startswith(so_far))
            so_far += part
        first = {
            "tool_calls": [
                {
                    "index": k,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": parts[0]},
                }
            ]
        }
        streams.append(
            [first]
            + [
                {"tool_calls": [{"index": k, "function": {"arguments": part}}]}
                for part in parts[1:]
            ]
        )
    deltas: list[dict[str, Any]] = [{"role": "assistant"}] if draw(st.booleans()) else []
    # Calls keep the order in which they start, so call k may start only after call k-1 did.
    first_call = len(streams) - len(message.get("tool_calls", []))
    started = [n < first_call for n in range(len(streams))]
    while any(streams):
        live = [
            n
            for n, s in enumerate(streams)
            if s and (started[n] or n == first_call or started[n - 1])
        ]
        n = live[draw(st.integers(0, len(live) - 1))]
        started[n] = True
        deltas.append(streams[n].pop(0))
    entries: list[dict[str, Any]] = [{"index": index, "delta": d} for d in deltas]
    if not entries:
        entries.append({"index": index, "delta": {}})
    tokens = (choice.get("logprobs") or {}).get("content")
    if tokens is not None:
        chunks_of_tokens = draw(pieces_of_list(tokens, len(entries)))
        for entry, group in zip(entries, chunks_of_tokens, strict=True):
            if group is not None:
                entry["logprobs"] = {"content": group, "refusal": None}
    finish = choice["finish_reason"]
    if finish is not None:
        if entries and draw(st.booleans()):
            entries[-1]["finish_reason"] = finish
        else:
            entries.append({"index": index, "delta": {}, "finish_reason": finish})
    return entries


@st.composite
def pieces_of_list(draw: st.DrawFn, items: list[Any], slots: int) -> list[list[Any] | None]:
    """``items`` spread in order over ``slots`` entries; None where an entry gets none.

    An empty ``items`` still goes on the first entry: ``"content": []`` must come back.
    """
    cuts = sorted(
        draw(st.lists(st.integers(0, len(items)), min_size=slots - 1, max_size=slots - 1))
    )
    bounds = [0, *cuts, len(items)]
    groups: list[list[Any] | None] = [items[a:b] or None for a, b in pairwise(bounds)]
    if not items:
        groups[0] = []
    return groups


@st.composite
def streams(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A completion and one way of streaming it."""
    completion = draw(completions())
    queues = [draw(choice_entries(c)) for c in completion["choices"]]
    top = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
    }
    chunks: list[dict[str, Any]] = []
    while any(queues):
        live = [q for q in queues if q]
        group = []
        for _ in range(draw(st.integers(1, 3))):
            queue = live[draw(st.integers(0, len(live) - 1))]
            if queue:
                group.append(queue.pop(0))
        chunks.append({**top, "choices": group})
    usage = completion.get("usage")
    if usage is not None:
        if chunks and draw(st.booleans()):
            at = draw(st.integers(0, len(chunks) - 1))
            chunks[at] = {**chunks[at], "usage": usage}
        else:
            at = draw(st.integers(0, len(chunks)))
            chunks.insert(at, {**top, "choices": [], "usage": usage})
    if not chunks:
        chunks.append({**top, "choices": []})
    return completion, chunks


def sse_body(chunks: list[dict[str, Any]]) -> bytes:
    events = [f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in chunks]
    return ("".join(events) + "data: [DONE]\n\n").encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_any_chunking_assembles_back_to_the_completion(
    case: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    completion, chunks = case
    result = assemble(chunks)
    assert result == from_dict(ChatCompletion, completion)
    assert result.to_dict() == completion


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.data())
def test_sse_body_cut_into_any_byte_pieces_gives_the_same_result(
    case: tuple[dict[str, Any], list[dict[str, Any]]], data: st.DataObject
) -> None:
    completion, chunks = case
    body = sse_body(chunks)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=12)))
    bounds = [0, *cuts, len(body)]
    byte_pieces = [body[a:b] for a, b in pairwise(bounds)]
    assert assemble_sse(byte_pieces) == assemble(chunks)
    assert assemble_sse(body).to_dict() == completion
