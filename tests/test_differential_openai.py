"""deltafold against the OpenAI SDK's own accumulator, where the SDK's rules are right.

The SDK (``ChatCompletionStreamState``) is a second, independent
implementation: on the OpenAI-shaped recordings (the ones made in
tests/recordings.py, and openai-python's when the real corpus is present) and on generated
OpenAI-shaped streams (choices and tool calls appearing in index order, id
and name sent once, usage on the last chunk) both must agree on content,
refusal, tool calls, logprobs, usage and finish reasons.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

import pytest

pytest.importorskip("openai")

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk as SDKChunk

import test_corpus as corpus
from deltafold import ChatCompletion, assemble, assemble_sse
from recordings import all_recordings, read_recording, recording_params


def sdk_fold(chunks: list[dict[str, Any]]) -> Any:
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(SDKChunk.model_validate(chunk))
    # The snapshot, not get_final_completion(): that one raises on finish_reason "length".
    return state.current_completion_snapshot


def sdk_view(completion: Any) -> dict[str, Any]:
    """What both implementations must agree on, from the SDK's completion."""
    choices = []
    for choice in completion.choices:
        message = choice.message
        choices.append(
            {
                "index": choice.index,
                "content": message.content,
                "refusal": message.refusal,
                "tool_calls": [
                    (call.id, call.type, call.function.name, call.function.arguments)
                    for call in message.tool_calls or []
                ],
                "logprobs": None if choice.logprobs is None else choice.logprobs.model_dump(),
                "finish_reason": choice.finish_reason,
            }
        )
    usage = None if completion.usage is None else completion.usage.model_dump(exclude_none=True)
    return {"choices": choices, "usage": usage}


def our_view(completion: ChatCompletion) -> dict[str, Any]:
    out = completion.to_dict()
    choices = []
    for choice, wire in zip(completion.choices, out["choices"], strict=True):
        message = choice.message
        choices.append(
            {
                "index": choice.index,
                "content": message.content,
                "refusal": message.refusal,
                "tool_calls": [
                    (call.id, call.type, call.function.name, call.function.arguments)
                    for call in message.tool_calls
                ],
                "logprobs": wire.get("logprobs"),
                "finish_reason": choice.finish_reason,
            }
        )
    return {"choices": choices, "usage": out.get("usage")}


def _openai_shaped(entry: dict[str, Any]) -> bool:
    """openai-python's recordings, and the ones made here in OpenAI's shape without an error."""
    if entry["path"].startswith("openai-python/"):
        return True
    if entry["origin"] != "generated" or entry["format"] != "sse":
        return False
    return "error" not in entry["features"] and entry["source"].get("provider") is None


@pytest.mark.parametrize("entry", recording_params(filter(_openai_shaped, all_recordings())))
def test_openai_recordings_agree_with_sdk(entry: dict[str, Any]) -> None:
    chunks = corpus.raw_chunks(entry)
    ours = assemble_sse(read_recording(entry))
    assert our_view(ours) == sdk_view(sdk_fold(chunks))


# --- generated OpenAI-shaped streams ------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def token_logprob(token: str, logprob: float) -> dict[str, Any]:
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": token, "logprob": logprob, "bytes": list(token.encode())}],
    }


@st.composite
def split_text(draw: st.DrawFn, whole: str) -> list[str]:
    """``whole`` cut at arbitrary points (empty pieces allowed)."""
    cuts = sorted(draw(st.lists(st.integers(0, len(whole)), max_size=5)))
    bounds = [0, *cuts, len(whole)]
    return [whole[a:b] for a, b in pairwise(bounds)]


@st.composite
def choice_deltas(draw: st.DrawFn, index: int) -> list[dict[str, Any]]:
    """The choice entries (delta + logprobs) one choice sends, in order, after its first."""
    kind = draw(st.sampled_from(["content", "refusal", "tools", "content+tools"]))
    with_logprobs = draw(st.booleans())
    entries: list[dict[str, Any]] = []
    if kind in ("content", "refusal", "content+tools"):
        field = "refusal" if kind == "refusal" else "content"
        for piece in draw(st.lists(text, max_size=6)):
            entry: dict[str, Any] = {"index": index, "delta": {field: piece}}
            if with_logprobs:
                lp = draw(st.floats(-20, 0))
                entry["logprobs"] = {field: [token_logprob(piece, lp)]}
            entries.append(entry)
    if kind in ("tools", "content+tools"):
        for k in range(draw(st.integers(1, 3))):
            arguments = json.dumps(
                draw(st.dictionaries(st.text(max_size=4), json_value, max_size=3))
            )
            pieces = draw(split_text(arguments))
            so_far = ""
            for n, piece in enumerate(pieces):
                # A later piece starting with all text so far reads as a full re-send (spec rule).
                assume(n == 0 or not so_far or not piece.startswith(so_far))
                so_far += piece
            name = draw(st.sampled_from(["get_weather", "lookup", "f"]))
            entries.append(
                {
                    "index": index,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": k,
                                "id": f"call_{index}_{k}",
                                "type": "function",
                                "function": {"name": name, "arguments": pieces[0]},
                            }
                        ]
                    },
                }
            )
            entries.extend(
                {
                    "index": index,
                    "delta": {"tool_calls": [{"index": k, "function": {"arguments": p}}]},
                }
                for p in pieces[1:]
            )
    return entries


@st.composite
def openai_streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 3))
    top = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x"}
    first = {
        **top,
        "choices": [
            {"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            for i in range(n)
        ],
    }
    queues = [draw(choice_deltas(i)) for i in range(n)]
    body: list[dict[str, Any]] = []
    while any(queues):
        live = [q for q in queues if q]
        queue = live[draw(st.integers(0, len(live) - 1))]
        body.append({**top, "choices": [queue.pop(0)]})
    reasons = ["stop", "length", "tool_calls", "content_filter"]
    finals = [
        {
            **top,
            "choices": [{"index": i, "delta": {}, "finish_reason": draw(st.sampled_from(reasons))}],
        }
        for i in draw(st.permutations(range(n)))
    ]
    chunks = [first, *body, *finals]
    if draw(st.booleans()):
        chunks.append(
            {
                **top,
                "choices": [],
                "usage": {
                    "prompt_tokens": draw(st.integers(0, 999)),
                    "completion_tokens": draw(st.integers(0, 999)),
                    "total_tokens": draw(st.integers(0, 2000)),
                    "completion_tokens_details": {"reasoning_tokens": draw(st.integers(0, 99))},
                },
            }
        )
    return chunks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(openai_streams())
def test_generated_streams_agree_with_sdk(chunks: list[dict[str, Any]]) -> None:
    assert our_view(assemble(chunks)) == sdk_view(sdk_fold(chunks))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(openai_streams())
def test_sdk_pydantic_chunks_fold_like_dicts(chunks: list[dict[str, Any]]) -> None:
    typed = [SDKChunk.model_validate(chunk) for chunk in chunks]
    assert assemble(typed) == assemble(chunks)
