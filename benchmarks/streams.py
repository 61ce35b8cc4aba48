"""Deterministic synthetic streams for the benchmarks: chunk dicts and their SSE bytes.

Every stream is a pure function of its arguments (no clock, no randomness),
so two runs, two machines or two libraries see byte-identical input. The
chunks are shaped like OpenRouter's: ``id``, ``provider``, ``model``,
``object``, ``created`` on every chunk; ``role`` on every delta;
``finish_reason``, ``native_finish_reason`` and ``logprobs`` on every choice;
usage in a last chunk whose ``choices`` is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "PROCESSING",
    "REDUCED",
    "SCENARIOS",
    "Stream",
    "content_stream",
    "multi_choice_stream",
    "reasoning_stream",
    "sse_body",
    "tools_stream",
]

#: The keep-alive comment OpenRouter sends while a request waits upstream.
PROCESSING = b": OPENROUTER PROCESSING\n\n"

_ID = "gen-1747000000-Hn3kQw8ZpV"
_CREATED = 1747000000
_WORDS = (
    " the", " quick", " brown", " fox", " jumps", " over", " a", " lazy", " dog", ",",
    " and", " then", " it", " runs", " away", " into", " forest", ".", " Every", " morning",
    " café", " naïve", " 数据", " résumé", " —", " 42", "\n", " {", "}", " ok",
)


def _word(i: int) -> str:
    # A fixed stride through the vocabulary: varied, and the same on every run.
    return _WORDS[(i * 7 + i // len(_WORDS)) % len(_WORDS)]


def _chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": _ID,
        "provider": "OpenAI",
        "model": "openai/gpt-4o",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "choices": choices,
    }
    chunk.update(extra)
    return chunk


def _choice(
    delta: dict[str, Any],
    index: int = 0,
    finish: str | None = None,
    logprobs: Any = None,
) -> dict[str, Any]:
    return {
        "index": index,
        "delta": delta,
        "finish_reason": finish,
        "native_finish_reason": finish,
        "logprobs": logprobs,
    }


def _usage(prompt: int, completion: int, reasoning: int = 0) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": round((prompt * 0.15 + completion * 0.6) / 1e6, 9),
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "cost_details": {"upstream_inference_cost": None},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "image_tokens": 0},
    }


def _usage_chunk(prompt: int, completion: int, reasoning: int = 0) -> dict[str, Any]:
    return _chunk([], usage=_usage(prompt, completion, reasoning))


def content_stream(n: int) -> list[dict[str, Any]]:
    """``n`` chunks in all: ``n - 2`` one-token text deltas, a finish chunk, a usage chunk."""
    if n < 3:
        raise ValueError("a content stream needs at least 3 chunks")
    chunks = [
        _chunk([_choice({"role": "assistant", "content": _word(i)})]) for i in range(n - 2)
    ]
    chunks.append(_chunk([_choice({"role": "assistant", "content": ""}, finish="stop")]))
    chunks.append(_usage_chunk(120, n - 2))
    return chunks


def _arguments(call: int, fragments: int) -> list[str]:
    """``fragments`` pieces that join into one JSON object (the call's arguments)."""
    words = [_word(call * 131 + i).replace("\n", "\\n") for i in range(fragments - 4)]
    return ['{"', 'query": "', *words, f'", "call": {call}', "}"]


def tools_stream(calls: int = 8, fragments: int = 2000) -> list[dict[str, Any]]:
    """``calls`` tool calls in one message, each streamed in ``fragments`` argument pieces.

    As OpenAI and OpenRouter send them: one call after the other, the first
    delta of each carrying ``id``, ``type`` and the name, the rest only the
    ``index`` and an arguments fragment.
    """
    chunks = [_chunk([_choice({"role": "assistant", "content": None})])]
    for call in range(calls):
        for j, piece in enumerate(_arguments(call, fragments)):
            if j == 0:
                item: dict[str, Any] = {
                    "index": call,
                    "id": f"call_{call:02d}_a8Jd93kLqP",
                    "type": "function",
                    "function": {"name": f"search_{call}", "arguments": piece},
                }
            else:
                item = {"index": call, "function": {"arguments": piece}}
            chunks.append(_chunk([_choice({"role": "assistant", "tool_calls": [item]})]))
    chunks.append(_chunk([_choice({"role": "assistant", "content": ""}, finish="tool_calls")]))
    chunks.append(_usage_chunk(300, calls * fragments))
    return chunks


def reasoning_stream(reasoning: int = 5000, content: int = 5000) -> list[dict[str, Any]]:
    """OpenRouter reasoning: ``reasoning`` + ``reasoning_details`` fragments, then content.

    Each reasoning delta carries the text twice, as OpenRouter does: in
    ``reasoning`` and in a ``reasoning.text`` detail at index 0; the last one
    carries the detail's signature.
    """
    chunks = []
    for i in range(reasoning):
        text = _word(i + 3)
        detail: dict[str, Any] = {
            "type": "reasoning.text",
            "text": text,
            "format": "anthropic-claude-v1",
            "index": 0,
        }
        if i == reasoning - 1:
            detail["signature"] = "EqQBCkYIBxgCKkDZ8b3" * 4
        delta = {"role": "assistant", "content": "", "reasoning": text,
                 "reasoning_details": [detail]}
        chunks.append(_chunk([_choice(delta)]))
    for i in range(content):
        delta = {"role": "assistant", "content": _word(i), "reasoning": None}
        chunks.append(_chunk([_choice(delta)]))
    chunks.append(_chunk([_choice({"role": "assistant", "content": ""}, finish="stop")]))
    chunks.append(_usage_chunk(80, reasoning + content, reasoning))
    return chunks


def _logprob(token: str, i: int) -> dict[str, Any]:
    def entry(tok: str, lp: float) -> dict[str, Any]:
        return {"token": tok, "logprob": lp, "bytes": list(tok.encode())}

    top = [entry(token, -0.01 * (i % 97)), entry(_word(i + 11), -1.5 - 0.01 * (i % 13))]
    return {**entry(token, -0.01 * (i % 97)), "top_logprobs": top}


def multi_choice_stream(n: int = 4, per_choice: int = 2500) -> list[dict[str, Any]]:
    """``n`` choices interleaved one per chunk (as OpenAI sends ``n>1``), each with logprobs."""
    chunks = []
    for i in range(per_choice):
        for c in range(n):
            token = _word(i * n + c)
            logprobs = {"content": [_logprob(token, i + c)], "refusal": None}
            delta = {"role": "assistant", "content": token}
            chunks.append(_chunk([_choice(delta, index=c, logprobs=logprobs)]))
    for c in range(n):
        delta = {"role": "assistant", "content": ""}
        chunks.append(_chunk([_choice(delta, index=c, finish="stop")]))
    chunks.append(_usage_chunk(50, n * per_choice))
    return chunks


def sse_body(
    chunks: list[dict[str, Any]], *, comments_every: int = 0, leading_comments: int = 0
) -> bytes:
    """The SSE wire form: one ``data:`` event per chunk, ``[DONE]`` last.

    ``leading_comments`` keep-alive comments come first, and one more after
    every ``comments_every`` events when it is not 0.
    """
    out = [PROCESSING] * leading_comments
    for i, chunk in enumerate(chunks):
        if comments_every and i and i % comments_every == 0:
            out.append(PROCESSING)
        out.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def iter_pieces(body: bytes, size: int = 16384) -> Iterator[bytes]:
    """``body`` cut into ``size``-byte pieces, as a socket read loop hands them over."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


@dataclass
class Stream:
    """One benchmark input: the chunk dicts and the identical SSE body."""

    name: str
    chunks: list[dict[str, Any]]
    sse: bytes = field(repr=False)

    @property
    def n_chunks(self) -> int:
        return len(self.chunks)


def make(name: str, chunks: list[dict[str, Any]], **sse_options: int) -> Stream:
    return Stream(name, chunks, sse_body(chunks, **sse_options))


#: The fixed scenarios of the suite, built on demand (some are large).
SCENARIOS: dict[str, Callable[[], Stream]] = {
    "content": lambda: make("content", content_stream(10_000)),
    "tools": lambda: make("tools", tools_stream(8, 2000)),
    "reasoning": lambda: make(
        "reasoning", reasoning_stream(5000, 5000), leading_comments=10, comments_every=100
    ),
    "n4_logprobs": lambda: make("n4_logprobs", multi_choice_stream(4, 2500)),
}


def scale_stream(n: int) -> Stream:
    """The content stream at ``n`` chunks, for the scale series."""
    return make(f"scale_{n}", content_stream(n))


#: Smaller versions of a scenario for a peer too slow for the full one (same shape).
REDUCED: dict[str, Callable[[], Stream]] = {
    "n4_logprobs": lambda: make("n4_logprobs", multi_choice_stream(4, 250)),
}
