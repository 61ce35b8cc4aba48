"""split() and to_sse(): the inverse of the fold, checked by its round trip."""

from __future__ import annotations

import json
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deltafold
from deltafold import (
    Annotation,
    Audio,
    ChatCompletion,
    Choice,
    CompletionTokensDetails,
    CostDetails,
    FunctionCall,
    Image,
    ImageUrl,
    Logprobs,
    Message,
    PromptTokensDetails,
    ReasoningDetail,
    TokenLogprob,
    ToolCall,
    TopLogprob,
    UrlCitation,
    Usage,
    assemble,
    assemble_sse,
    split,
    to_dict,
    to_sse,
)
from recordings import all_recordings, read_recording, recording_params

# --- strategies ---------------------------------------------------------------

_ints = st.integers(min_value=-(2**53), max_value=2**53)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_short = st.text(max_size=6)
_texts = st.text(max_size=40)
_nonempty = st.text(min_size=1, max_size=8)
_maybe_nonempty = st.none() | _nonempty


def _json(*, nulls: bool) -> st.SearchStrategy[Any]:
    scalars: st.SearchStrategy[Any] = st.booleans() | _ints | _floats | _short
    if nulls:
        scalars = st.none() | scalars
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_short, inner, max_size=3),
        max_leaves=5,
    )


# Realistic provider extras plus arbitrary ones; never a name the model or the fold knows.
_keys = st.sampled_from(["citations", "metadata", "x_groq", "prompt_filter_results", "moderation"])
_keys = _keys | _nonempty.map(lambda s: "x_" + s)


def _extra(*, nulls: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Unknown fields. ``nulls=False`` where the fold skips nulls (message, usage, details)."""
    values = _json(nulls=nulls)
    if not nulls:
        values = values.filter(lambda v: v is not None)
    return st.dictionaries(_keys, values, max_size=2)


_top_logprob = st.builds(
    TopLogprob,
    token=_short,
    logprob=_floats,
    bytes=st.none() | st.lists(st.integers(0, 255), max_size=3),
    extra=_extra(),
)
_token_logprob = st.builds(
    TokenLogprob,
    token=_short,
    logprob=_floats,
    bytes=st.none() | st.lists(st.integers(0, 255), max_size=3),
    top_logprobs=st.lists(_top_logprob, max_size=2),
    extra=_extra(),
)
# An empty Logprobs (both lists null, no extra) folds to None: nothing on the wire tells them apart.
_logprobs = st.builds(
    Logprobs,
    content=st.none() | st.lists(_token_logprob, max_size=4),
    refusal=st.none() | st.lists(_token_logprob, max_size=2),
    extra=_extra(),
).filter(lambda lp: lp.content is not None or lp.refusal is not None or bool(lp.extra))

_detail = st.builds(
    ReasoningDetail,
    type=st.sampled_from(["reasoning.text", "reasoning.summary", "reasoning.encrypted", ""]),
    text=st.none() | _texts,
    summary=st.none() | _texts,
    data=st.none() | _texts,
    signature=_maybe_nonempty,  # the fold drops signature "" (Anthropic's placeholder)
    id=st.none() | _short,
    format=st.none() | _short,
    index=st.none() | st.integers(0, 3),
    extra=_extra(nulls=False),
)
# Details with an index merge by (type, index) in the fold, so those pairs are unique.
_details = st.lists(
    _detail,
    max_size=3,
    unique_by=lambda d: (d.type, d.index) if d.index is not None else object(),
)
_function = st.builds(FunctionCall, name=_short, arguments=_texts, extra=_extra())
_tool_call = st.builds(
    ToolCall,
    id=_short,
    type=st.sampled_from(["function", "custom"]),
    function=_function,
    extra=_extra(),
)
_annotation = st.builds(
    Annotation,
    type=st.sampled_from(["url_citation", "file"]),
    url_citation=st.none()
    | st.builds(
        UrlCitation,
        url=_short,
        title=st.none() | _short,
        content=st.none() | _short,
        start_index=st.none() | st.integers(0, 99),
        end_index=st.none() | st.integers(0, 99),
        extra=_extra(),
    ),
    extra=_extra(),
)
_image = st.builds(
    Image,
    type=st.just("image_url"),
    image_url=st.none() | st.builds(ImageUrl, url=_short, detail=st.none() | _short),
    index=st.none() | st.integers(0, 3),
    extra=_extra(),
)
_audio = st.builds(
    Audio,
    id=_maybe_nonempty,
    data=st.none() | _texts,
    transcript=st.none() | _texts,
    expires_at=st.none() | st.integers(0, 2**40),
    extra=_extra(nulls=False),
)


def _unique(items: list[Any]) -> bool:
    keys = [orjson.dumps(to_dict(item), option=orjson.OPT_SORT_KEYS) for item in items]
    return len(set(keys)) == len(keys)


_message = st.builds(
    Message,
    role=st.just("assistant") | _nonempty,
    content=st.none() | _texts,
    refusal=st.none() | _texts,
    reasoning=st.none() | _texts,
    reasoning_details=_details,
    # A tool-call id names one call in the fold (providers that reuse index 0), so ids are unique.
    tool_calls=st.lists(_tool_call, max_size=3, unique_by=lambda c: c.id or object()),
    function_call=st.none() | _function,
    # Equal annotations (and images) are sent once by some providers, so the fold dedups them.
    annotations=st.lists(_annotation, max_size=2).filter(_unique),
    images=st.lists(_image, max_size=2).filter(_unique),
    audio=st.none() | _audio,
    extra=_extra(nulls=False),
)
_finish = st.none() | st.sampled_from(["stop", "length", "tool_calls"]) | _nonempty
_choice = st.builds(
    Choice,
    message=_message,
    finish_reason=_finish,
    native_finish_reason=_maybe_nonempty,
    logprobs=st.none() | _logprobs,
    extra=_extra(),
)
_counts = st.none() | st.integers(0, 10**6)
_usage = st.builds(
    Usage,
    prompt_tokens=_counts,
    completion_tokens=_counts,
    total_tokens=_counts,
    cost=st.none() | st.floats(0, 10, allow_nan=False),
    is_byok=st.none() | st.booleans(),
    prompt_tokens_details=st.none()
    | st.builds(PromptTokensDetails, cached_tokens=_counts, extra=_extra(nulls=False)),
    completion_tokens_details=st.none()
    | st.builds(CompletionTokensDetails, reasoning_tokens=_counts, extra=_extra(nulls=False)),
    cost_details=st.none()
    | st.builds(
        CostDetails, upstream_inference_cost=st.none() | _floats, extra=_extra(nulls=False)
    ),
    # Usage merges as "latest non-null wins", so a null anywhere inside it is dropped.
    extra=st.dictionaries(_keys, _json(nulls=False).filter(lambda v: v is not None), max_size=2),
)


@st.composite
def completions(draw: st.DrawFn) -> ChatCompletion:
    indexes = sorted(draw(st.sets(st.integers(0, 5), max_size=3)))
    choices = [attrs.evolve(draw(_choice), index=i) for i in indexes]
    return ChatCompletion(
        id=draw(_short),
        choices=choices,
        created=draw(st.integers(0, 2**40)),
        model=draw(_short),
        system_fingerprint=draw(_maybe_nonempty),
        service_tier=draw(_maybe_nonempty),
        provider=draw(_maybe_nonempty),
        usage=draw(st.none() | _usage),
        extra=draw(_extra()),
    )


_options = st.fixed_dictionaries(
    {
        "chunk_chars": st.integers(1, 9),
        "seed": st.none() | st.integers(0, 2**32),
        "usage": st.sampled_from(["final", "none", "every"]),
        "style": st.sampled_from(["openai", "openrouter"]),
    }
)


def _expected(completion: ChatCompletion, options: dict[str, Any]) -> ChatCompletion:
    return attrs.evolve(completion, usage=None) if options["usage"] == "none" else completion


# --- the round trip -----------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completions(), _options)
def test_assemble_inverts_split(completion: ChatCompletion, options: dict[str, Any]) -> None:
    chunks = list(split(completion, **options))
    result = assemble(chunks)
    expected = _expected(completion, options)
    assert to_dict(result) == to_dict(expected)
    assert result == expected


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(completions(), _options, st.none() | st.integers(1, 4))
def test_assemble_sse_inverts_to_sse(
    completion: ChatCompletion, options: dict[str, Any], comments_every: int | None
) -> None:
    body = b"".join(to_sse(split(completion, **options), comments_every=comments_every))
    assert assemble_sse(body) == _expected(completion, options)
    # The recorded-body entry point detects SSE the same way.
    assert assemble(body) == _expected(completion, options)


@pytest.mark.parametrize(
    "entry", recording_params(e for e in all_recordings() if "error" not in e["features"])
)
def test_corpus_round_trip(entry: dict[str, Any]) -> None:
    completion = assemble(read_recording(entry))
    for style in ("openai", "openrouter"):
        for seed in (None, 7):
            chunks = list(split(completion, style=style, seed=seed))
            assert assemble(chunks) == completion
            assert assemble_sse(b"".join(to_sse(chunks, comments_every=2))) == completion


# --- the shape of the chunks --------------------------------------------------


def _rich() -> ChatCompletion:
    """A completion with a bit of everything, as OpenRouter would return it non-streamed."""
    return ChatCompletion.from_dict(
        {
            "id": "gen-1",
            "provider": "Anthropic",
            "model": "anthropic/claude-sonnet-4.5",
            "object": "chat.completion",
            "created": 1765000000,
            "x_top": {"a": [1, None]},
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls",
                    "native_finish_reason": "tool_use",
                    "x_choice": None,
                    "message": {
                        "role": "assistant",
                        "content": "Let me look that up for you.",
                        "refusal": None,
                        "reasoning": "The user wants the weather in Paris.",
                        "reasoning_details": [
                            {
                                "type": "reasoning.text",
                                "text": "The user wants the weather in Paris.",
                                "signature": "sig-abc",
                                "format": "anthropic-claude-v1",
                                "index": 0,
                            }
                        ],
                        "tool_calls": [
                            {
                                "id": "toolu_1",
                                "type": "function",
                                "function": {
                                    "name": "get_weather",
                                    "arguments": '{"city": "Paris", "unit": "celsius"}',
                                },
                            }
                        ],
                        "x_message": "kept",
                    },
                }
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 40,
                "total_tokens": 52,
                "cost": 0.01,
            },
        }
    )


def _deltas(chunks: list[dict[str, Any]], index: int = 0) -> list[dict[str, Any]]:
    return [c["delta"] for chunk in chunks for c in chunk["choices"] if c["index"] == index]


def test_chunk_order_role_first_then_pieces() -> None:
    chunks = list(split(_rich(), chunk_chars=5))
    deltas = _deltas(chunks)
    assert deltas[0]["role"] == "assistant"
    assert deltas[0]["x_message"] == "kept"
    assert chunks[0]["x_top"] == {"a": [1, None]}
    assert chunks[0]["choices"][0]["x_choice"] is None
    content = [d["content"] for d in deltas if d.get("content")]
    assert all(len(piece) == 5 for piece in content[:-1])
    assert "".join(content) == "Let me look that up for you."
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert calls[0]["id"] == "toolu_1"
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""}
    assert all(set(c) == {"index", "function"} for c in calls[1:])
    assert (
        "".join(c["function"]["arguments"] for c in calls) == '{"city": "Paris", "unit": "celsius"}'
    )
    finish = [c for chunk in chunks for c in chunk["choices"] if c["finish_reason"]]
    assert [c["finish_reason"] for c in finish] == ["tool_calls"]
    # OpenAI's include_usage shape: null usage until a last chunk without choices.
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["cost"] == 0.01


def test_pieces_deterministic_without_seed_random_with_one() -> None:
    completion = _rich()
    assert list(split(completion)) == list(split(completion))
    assert list(split(completion, seed=3)) == list(split(completion, seed=3))
    sizes = {
        len(d["content"])
        for d in _deltas(list(split(completion, chunk_chars=4, seed=3)))
        if d.get("content")
    }
    assert len(sizes) > 1 and max(sizes) <= 6


def test_openrouter_style() -> None:
    chunks = list(split(_rich(), style="openrouter", chunk_chars=6))
    assert all(chunk["provider"] == "Anthropic" for chunk in chunks)
    assert all("native_finish_reason" in c for chunk in chunks for c in chunk["choices"])
    fragments = [d["reasoning_details"][0] for d in _deltas(chunks) if "reasoning_details" in d]
    assert len(fragments) > 2
    assert all(f["index"] == 0 and f["type"] == "reasoning.text" for f in fragments)
    # Each fragment rides with the same reasoning text, as OpenRouter streams it.
    paired = [
        d
        for d in _deltas(chunks)
        if "reasoning_details" in d and "text" in d["reasoning_details"][0]
    ]
    assert all(d["reasoning"] == d["reasoning_details"][0]["text"] for d in paired)
    assert fragments[-1]["signature"] == "sig-abc"
    assert chunks[-1] == {
        "id": "gen-1",
        "provider": "Anthropic",
        "object": "chat.completion.chunk",
        "created": 1765000000,
        "model": "anthropic/claude-sonnet-4.5",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 40, "total_tokens": 52, "cost": 0.01},
    }


def test_usage_modes() -> None:
    completion = _rich()
    every = list(split(completion, usage="every"))
    tokens = [chunk["usage"]["completion_tokens"] for chunk in every]
    assert tokens == sorted(tokens) and tokens[-1] == 40 and tokens[0] < 40
    assert all(chunk["choices"] for chunk in every)
    none = list(split(completion, usage="none"))
    assert all(chunk.get("usage") is None for chunk in none)
    assert assemble(none).usage is None


def test_several_choices_interleave() -> None:
    base = _rich()
    second = attrs.evolve(base.choices[0], index=1)
    completion = attrs.evolve(base, choices=[base.choices[0], second])
    order = [chunk["choices"][0]["index"] for chunk in split(completion) if chunk["choices"]]
    assert order[:4] == [0, 1, 0, 1]
    seeded = [
        chunk["choices"][0]["index"] for chunk in split(completion, seed=1) if chunk["choices"]
    ]
    assert set(seeded) == {0, 1} and seeded != sorted(seeded)
    assert assemble(split(completion, seed=1)) == completion


def test_arguments_never_look_like_a_resent_whole() -> None:
    """A piece that repeats everything so far would be taken as a replacement by the fold."""
    completion = ChatCompletion(
        choices=[
            Choice(
                message=Message(
                    tool_calls=[ToolCall(id="c", function=FunctionCall("f", "aaaaaaaaab"))]
                )
            )
        ]
    )
    for size in range(1, 6):
        assert assemble(split(completion, chunk_chars=size)) == completion


def test_accepts_a_wire_dict() -> None:
    assert assemble(split(to_dict(_rich()))) == _rich()


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="chunk_chars"):
        list(split(_rich(), chunk_chars=0))
    with pytest.raises(ValueError, match="usage"):
        list(split(_rich(), usage="sometimes"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="style"):
        list(split(_rich(), style="anthropic"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="comments_every"):
        list(to_sse([], comments_every=0))


def test_to_sse_framing() -> None:
    chunks = list(split(_rich(), chunk_chars=50))
    events = list(to_sse(chunks, comments_every=2))
    assert events[0] == b": OPENROUTER PROCESSING\n\n"
    assert events[-1] == b"data: [DONE]\n\n"
    data = [e for e in events if e.startswith(b"data: {")]
    assert [json.loads(e[6:]) for e in data] == chunks
    assert all(e.endswith(b"\n\n") and e.count(b"\n") == 2 for e in data)
    assert events.count(b": OPENROUTER PROCESSING\n\n") == (len(chunks) + 1) // 2
    typed = b'{"id":"x","choices":[],"created":0,"model":"","object":"chat.completion.chunk"}'
    assert list(to_sse([deltafold.ChatCompletionChunk(id="x")])) == [
        b"data: " + typed + b"\n\n",
        b"data: [DONE]\n\n",
    ]


def test_official_openai_models_accept_the_chunks() -> None:
    """The OpenAI SDK validates every chunk and its own accumulator ends at the same message."""
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk as OpenAIChunk

    completion = _rich()
    for style in ("openai", "openrouter"):
        state: Any = ChatCompletionStreamState()
        for chunk in split(completion, style=style, seed=5):
            state.handle_chunk(OpenAIChunk.model_validate(chunk))
        final = state.get_final_completion()
        message = final.choices[0].message
        assert message.content == "Let me look that up for you."
        assert message.tool_calls[0].function.arguments == '{"city": "Paris", "unit": "celsius"}'
        assert final.choices[0].finish_reason == "tool_calls"
        assert final.usage.total_tokens == 52
