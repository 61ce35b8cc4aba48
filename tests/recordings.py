"""The recordings the tests replay: ones the project makes itself, plus a real corpus when present.

A fresh clone has no ``../shared``, and a suite that needs recordings must
still test everything there. So the recordings below are made here, the same
bytes on every run: the bundled demo recording, and ``deltafold.split`` of
completions written in this file, covering parallel tool calls, reasoning
with reasoning details, logprobs of content and of a refusal, n > 1, JSON
content, annotations, ``finish_reason: "length"``, usage (on the last chunk
and on every chunk), JSON-lines chunk logs, and two mid-stream errors (an
error chunk, and an ``event: error``). Each keeps the completion it was made
from (``source``), so a test can check the fold against what was streamed
rather than against deltafold's own answer.

The real corpus (``../shared/corpus`` or ``$DELTAFOLD_CORPUS``, see
``conftest.corpus_dir``) adds its recordings on top. Every recording is an
entry shaped like a MANIFEST.json entry (``path``, ``format``, ``features``,
``events``), read with ``read_recording`` and written into a folder, for
tests that need files, with ``write_recordings``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

import deltafold
from conftest import corpus_entries

CREATED = 1767225600
_MADE_PREFIXES = ("generated/", "deltafold/")


def _usage(prompt: int, completion: int, **extra: Any) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        **extra,
    }


def _completion(name: str, choices: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-made-{name}",
        "object": "chat.completion",
        "created": CREATED,
        "model": "made/model-1",
        "choices": choices,
        **top,
    }


def _choice(index: int = 0, finish: str | None = "stop", **message: Any) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", **message},
        "finish_reason": finish,
    }


def _call(n: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"call_made_{n}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)},
    }


def _logprobs(text: str) -> list[dict[str, Any]]:
    """Log probabilities of tokens that spell ``text`` (cut after spaces), two alternatives each."""
    tokens = [word + " " for word in text.split(" ")]
    tokens[-1] = tokens[-1][:-1]
    entries = []
    for n, token in enumerate(t for t in tokens if t):
        alternatives = [token, f"<alt{n}>"]
        entries.append(
            {
                "token": token,
                "logprob": -0.125 * (n % 5),
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": -0.125 * (n % 5) - k, "bytes": list(t.encode())}
                    for k, t in enumerate(alternatives)
                ],
            }
        )
    return entries


_ANSWER = "Lisbon is mild today: 19 °C, light wind, a 10% chance of rain. Café weather ☕."
_REFUSAL = "I'm sorry, but I can't help with that request."
_REASONING = (
    "The user asks for the weather in two cities and a currency rate. I have a weather "
    "tool and a rates tool; calling them in one turn is fastest."
)


def _sources() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Name -> (completion, how it is streamed). The name says the recording's subject."""
    paris = {"city": "Paris", "unit": "celsius"}
    return {
        "content_plain_stop.sse": (
            _completion("plain", [_choice(content=_ANSWER)], usage=_usage(14, 27)),
            {"chunk_chars": 6},
        ),
        "parallel_tool_calls.sse": (
            _completion(
                "parallel",
                [
                    _choice(
                        finish="tool_calls",
                        content=None,
                        tool_calls=[
                            _call(1, "get_weather", {"city": "Lisbon", "unit": "celsius"}),
                            _call(2, "get_weather", paris),
                            _call(3, "get_rate", {"from": "EUR", "to": "JPY", "day": None}),
                        ],
                    )
                ],
                usage=_usage(82, 71),
                system_fingerprint="fp_made",
            ),
            {"chunk_chars": 7},
        ),
        "reasoning_tool_calls.sse": (
            _completion(
                "reasoning",
                [
                    {
                        **_choice(
                            finish="tool_calls",
                            content="Checking both cities now.",
                            reasoning=_REASONING,
                            reasoning_details=[
                                {
                                    "type": "reasoning.text",
                                    "text": _REASONING,
                                    "signature": "c2lnbmF0dXJlLW1hZGUtaGVyZQ==",
                                    "format": "anthropic-claude-v1",
                                    "index": 0,
                                }
                            ],
                            tool_calls=[
                                _call(4, "get_weather", {"city": "Porto", "days": [1, 2]}),
                                _call(5, "get_rate", {"from": "EUR", "to": "USD"}),
                            ],
                        ),
                        "native_finish_reason": "tool_use",
                    }
                ],
                provider="MadeHere",
                usage=_usage(
                    310, 96, cost=0.00214,
                    completion_tokens_details={"reasoning_tokens": 41},
                    prompt_tokens_details={"cached_tokens": 128},
                ),
            ),
            {"chunk_chars": 9, "seed": 3, "style": "openrouter", "comments_every": 4},
        ),
        "content_logprobs.sse": (
            _completion(
                "logprobs",
                [
                    {
                        **_choice(content=_ANSWER),
                        "logprobs": {"content": _logprobs(_ANSWER), "refusal": None},
                    }
                ],
                usage=_usage(14, 27),
            ),
            {"chunk_chars": 5},
        ),
        "refusal_logprobs.sse": (
            _completion(
                "refusal",
                [
                    {
                        **_choice(content=None, refusal=_REFUSAL),
                        "logprobs": {"content": None, "refusal": _logprobs(_REFUSAL)},
                    }
                ],
                usage=_usage(20, 11),
            ),
            {"chunk_chars": 6},
        ),
        "n3_multiple_choices.sse": (
            _completion(
                "n3",
                [
                    _choice(0, content="Sunny in Lisbon."),
                    _choice(1, content="Lisbon: clear skies, 19 degrees."),
                    _choice(2, finish="length", content="Expect a bright"),
                ],
                usage=_usage(12, 23),
            ),
            {"chunk_chars": 4},  # round robin: choices open in index order, as OpenAI sends them
        ),
        "json_content_n2.sse": (
            _completion(
                "json",
                [
                    _choice(0, content=json.dumps({"city": "Lisbon", "rain": 0.1, "ok": True})),
                    _choice(1, content=json.dumps({"city": "Lisbon", "tags": ["mild", "dry"]})),
                ],
                usage=_usage(30, 40),
            ),
            {"chunk_chars": 5},
        ),
        "annotations.sse": (
            _completion(
                "annotations",
                [
                    _choice(
                        content="Lisbon's forecast is mild [1].",
                        annotations=[
                            {
                                "type": "url_citation",
                                "url_citation": {
                                    "url": "https://example.org/lisbon-weather",
                                    "title": "Lisbon weather",
                                    "start_index": 26,
                                    "end_index": 29,
                                },
                            }
                        ],
                    )
                ],
                provider="MadeHere",
                usage=_usage(9, 8, cost=0.0001),
            ),
            {"chunk_chars": 6, "style": "openrouter"},
        ),
        "finish_length.sse": (
            _completion("length", [_choice(finish="length", content="Lisbon is")],
                        usage=_usage(14, 2)),
            {"chunk_chars": 3},
        ),
        "usage_every_tool_calls.chunks.jsonl": (
            _completion(
                "jsonl",
                [
                    _choice(
                        finish="tool_calls",
                        content=None,
                        tool_calls=[
                            _call(6, "lookup", {"query": "Lisbon, PT", "limit": 3}),
                            _call(7, "lookup", {"query": "Porto", "filters": {"near": [1.5]}}),
                        ],
                    )
                ],
                usage=_usage(40, 30),
            ),
            {"chunk_chars": 8, "usage": "every"},
        ),
    }


_ERROR_CHUNK = {"code": 502, "message": "Upstream provider went away mid-stream"}
_ERROR_EVENT = {
    "message": "Tool choice is required, but the model did not call a tool",
    "type": "invalid_request_error",
    "code": "tool_use_failed",
}


def _errors() -> dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]]:
    """Name -> (completion cut short, how it is streamed, the error that ends it, in what shape)."""
    return {
        "stream_error.sse": (
            _completion(
                "error",
                [_choice(finish=None, content="Lisbon today is", reasoning=_REASONING[:60])],
                provider="MadeHere",
            ),
            {"chunk_chars": 8, "style": "openrouter", "usage": "none"},
            _ERROR_CHUNK,
            "chunk",
        ),
        "event_error.sse": (
            _completion("event-error", [_choice(finish=None, content="maybe later")]),
            {"chunk_chars": 4, "usage": "none"},
            _ERROR_EVENT,
            "event",
        ),
    }


def _features(completion: dict[str, Any], options: dict[str, Any]) -> list[str]:
    """The MANIFEST.json feature tags that describe a made recording."""
    tags = set()
    usage = options.get("usage", "final")
    if completion.get("usage") is not None and usage != "none":
        tags.add("usage")
        if usage == "final":
            tags.add("usage_only_final_chunk")
    if len(completion["choices"]) > 1:
        tags.add("n_gt_1")
    if options.get("comments_every"):
        tags.add("comments")
    for choice in completion["choices"]:
        message = choice["message"]
        calls = message.get("tool_calls") or []
        tags |= {"tool_calls"} if calls else set()
        tags |= {"parallel_tool_calls"} if len(calls) > 1 else set()
        tags |= {key for key in ("content", "refusal", "reasoning", "reasoning_details",
                                 "annotations") if message.get(key) is not None}
        tags |= {"logprobs"} if choice.get("logprobs") is not None else set()
        tags |= {"finish_length"} if choice.get("finish_reason") == "length" else set()
    return sorted(tags)


def _entry(name: str, body: bytes, features: Iterable[str], **extra: Any) -> dict[str, Any]:
    jsonl = name.endswith(".chunks.jsonl")
    return {
        "path": f"generated/{name}",
        "format": "chunks-jsonl" if jsonl else "sse",
        "provider": "generated",
        "features": sorted(features),
        "events": sum(1 for line in body.splitlines() if jsonl or line.startswith(b"data:")),
        "bytes": len(body),
        "origin": "generated",
        "body": body,
        **extra,
    }


def _streamed(completion: dict[str, Any], options: dict[str, Any]) -> list[dict[str, Any]]:
    split_options = {k: v for k, v in options.items() if k != "comments_every"}
    return list(deltafold.split(completion, **split_options))


def _made(name: str, completion: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    chunks = _streamed(completion, options)
    if name.endswith(".chunks.jsonl"):
        body = b"".join(json.dumps(c, ensure_ascii=False).encode() + b"\n" for c in chunks)
    else:
        body = b"".join(deltafold.to_sse(chunks, comments_every=options.get("comments_every")))
    return _entry(name, body, _features(completion, options), source=completion)


def _made_error(
    name: str,
    completion: dict[str, Any],
    options: dict[str, Any],
    error: dict[str, Any],
    shape: str,
) -> dict[str, Any]:
    """The stream of an unfinished completion, ended by an error chunk or an ``event: error``."""
    chunks = _streamed(completion, options)
    events = b"".join(deltafold.to_sse(chunks)).removesuffix(b"data: [DONE]\n\n")
    if shape == "event":  # Groq's shape: an SSE error event, and no [DONE]
        tail = b"event: error\ndata: " + json.dumps({"error": error}).encode() + b"\n\n"
        extra = {"no_done"}
    else:  # OpenRouter's shape: a chunk with a top-level error, then [DONE]
        last = {**chunks[0], "error": error}
        last["choices"] = [{"index": 0, "delta": {"content": ""}, "finish_reason": None}]
        tail = b"data: " + json.dumps(last).encode() + b"\n\ndata: [DONE]\n\n"
        extra = set()
    features = {*_features(completion, options), "error", *extra}
    # The partial keeps the error as a top-level field. Events count from 0, as deltafold's
    # messages do: the error follows the chunks.
    partial = {**completion, "error": error}
    return _entry(name, events + tail, features, source=partial, error_event=len(chunks))


@functools.cache
def _made_here() -> tuple[dict[str, Any], ...]:
    demo = (files("deltafold") / "demo_stream.sse").read_bytes()
    made = [
        {
            **_entry("demo_stream.sse", demo, ["comments", "content", "reasoning",
                                               "reasoning_details", "tool_calls", "usage"]),
            "path": "deltafold/demo_stream.sse",
            "provider": "bundled",
            "origin": "bundled",
        }
    ]
    made += [_made(name, *spec) for name, spec in _sources().items()]
    made += [_made_error(name, *spec) for name, spec in _errors().items()]
    return tuple(made)


def made_here() -> list[dict[str, Any]]:
    """The recordings made here: the bundled demo and the generated ones."""
    return [dict(entry) for entry in _made_here()]


def all_recordings() -> list[dict[str, Any]]:
    """Every recording: the ones made here, then the real corpus's (when present)."""
    return [*made_here(), *corpus_entries()]


def recording_params(entries: Iterable[dict[str, Any]] | None = None) -> list[Any]:
    """One pytest param per recording (all of them by default), named by its path."""
    chosen = all_recordings() if entries is None else entries
    return [pytest.param(entry, id=entry["path"]) for entry in chosen]


def find(path: str) -> dict[str, Any]:
    """The recording with this path, made here or in the real corpus."""
    for entry in all_recordings():
        if entry["path"] == path:
            return entry
    raise LookupError(f"no recording {path!r} (made here or in the real corpus)")


def made_and_real(*paths: str) -> list[dict[str, Any]]:
    """The recordings named: the ones made here always, the real ones when the corpus is present.

    A name that the corpus, when present, does not hold raises (a renamed
    recording must not drop its cases silently).
    """
    made = {entry["path"]: entry for entry in made_here()}
    real = {entry["path"]: entry for entry in corpus_entries()}
    chosen = []
    for path in paths:
        entry = made.get(path) or real.get(path)
        if entry is None and (real or path.startswith(_MADE_PREFIXES)):
            raise LookupError(f"no recording {path!r} (made here or in the real corpus)")
        if entry is not None:
            chosen.append(entry)
    return chosen


def read_recording(entry: dict[str, Any]) -> bytes:
    """A recording's bytes, exactly as recorded (or made)."""
    body: bytes | None = entry.get("body")
    return body if body is not None else Path(entry["file"]).read_bytes()


def write_recordings(folder: Path, entries: Iterable[dict[str, Any]]) -> list[Path]:
    """Write recordings under ``folder`` at their paths (for tests that need files)."""
    paths = []
    for entry in entries:
        path = folder / entry["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(read_recording(entry))
        paths.append(path)
    return paths
