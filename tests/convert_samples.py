"""Recordings of all three formats made here, for the conversion tests on any clone.

Chat's are ``tests/recordings.py``'s (``deltafold.split`` of completions written
there) plus the few below that it has no need of (a cache write, a reasoning
signature beside encrypted reasoning, a content filter); the Responses and
Messages ones are their format's ``split`` of results written below, framed as
SSE, covering what a conversion must carry: reasoning with its signature or
encrypted content, redacted thinking, parallel and custom tool calls, cache reads
and writes, each finish (stop, length, tool calls, refusal, content filter,
stop sequence, pause), a server tool's blocks, and an error mid-stream. Each is
an entry shaped like a corpus MANIFEST.json entry, with its source ``format``
(read its bytes with ``recordings.read_recording``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import deltafold
import deltafold.messages as m
import deltafold.responses as r
from conftest import corpus_entries
from recordings import made_here, read_recording

CORPORA = {"chat": "corpus", "responses": "corpus-responses", "messages": "corpus-messages"}
"""Each format's real corpus (conftest.CORPUS_ENV's names)."""

_SIGNATURE = "RXF0Q2lnQVNpZ25hdHVyZUZyb21Bbm50aHJvcGlj"
_ENCRYPTED = "gAAAAABo-encrypted-reasoning-made-here=="


def _chat() -> dict[str, dict[str, Any]]:
    base = {"object": "chat.completion", "created": 1767225600, "model": "made/model-2"}
    return {
        "reasoning-signature-encrypted-cache-write.sse": {
            **base,
            "id": "gen-made-cache",
            "provider": "MadeHere",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Pack an umbrella.",
                    "reasoning": "Rain is likely after 3 pm.",
                    "reasoning_details": [
                        {"type": "reasoning.text", "text": "Rain is likely after 3 pm.",
                         "signature": _SIGNATURE, "format": "anthropic-claude-v1", "index": 0},
                        {"type": "reasoning.encrypted", "data": "cmVkYWN0ZWQtbWFkZS1oZXJl",
                         "format": "anthropic-claude-v1", "index": 1},
                    ],
                },
                "finish_reason": "stop",
                "native_finish_reason": "end_turn",
            }],
            "usage": {
                "prompt_tokens": 1200, "completion_tokens": 40, "total_tokens": 1240,
                "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 150},
                "completion_tokens_details": {"reasoning_tokens": 12},
            },
        },
        "content-filter.sse": {
            **base,
            "id": "chatcmpl-made-filter",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "I can"},
                         "finish_reason": "content_filter"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
        },
    }


def _usage(inp: int, out: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": inp, "output_tokens": out, "total_tokens": inp + out,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens_details": {"reasoning_tokens": reasoning},
    }


def _call(n: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function_call", "id": f"fc_made_{n}", "call_id": f"call_made_{n}",
            "name": name, "arguments": json.dumps(args), "status": "completed"}


def _text(n: int, text: str, status: str = "completed") -> dict[str, Any]:
    return {"type": "message", "id": f"msg_made_{n}", "role": "assistant", "status": status,
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def _responses() -> dict[str, dict[str, Any]]:
    base = {"object": "response", "created_at": 1767225600, "model": "gpt-made"}
    return {
        "summary-encrypted-call.sse": {
            **base, "id": "resp_made_1", "status": "completed",
            "output": [
                {"type": "reasoning", "id": "rs_made_1", "encrypted_content": _ENCRYPTED,
                 "summary": [{"type": "summary_text", "text": "**Weather** first."},
                             {"type": "summary_text", "text": "Then the rate."}]},
                _text(2, "Checking both."),
                _call(3, "get_weather", {"city": "Lisbon", "days": [1, 2]}),
            ],
            "usage": _usage(900, 120, cached=512, reasoning=64),
        },
        "parallel-calls.sse": {
            **base, "id": "resp_made_2", "status": "completed",
            "output": [_call(1, "get_weather", {"city": "Paris"}),
                       _call(2, "get_weather", {"city": "Porto", "unit": None})],
            "usage": _usage(80, 40),
        },
        "custom-tool.sse": {
            **base, "id": "resp_made_3", "status": "completed",
            "output": [{"type": "custom_tool_call", "id": "ctc_made_1", "call_id": "call_c1",
                        "name": "run_sql", "input": "SELECT 1;\n", "status": "completed"}],
            "usage": _usage(30, 9),
        },
        "reasoning-text.sse": {
            **base, "id": "resp_made_4", "status": "completed",
            "output": [
                {"type": "reasoning", "id": "rs_made_4", "summary": [],
                 "content": [{"type": "reasoning_text", "text": "Short question, short answer."}]},
                _text(5, "Yes."),
            ],
            "usage": _usage(20, 12, reasoning=6),
        },
        "refusal-incomplete.sse": {
            **base, "id": "resp_made_5", "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "output": [{"type": "message", "id": "msg_made_5", "role": "assistant",
                        "status": "incomplete",
                        "content": [{"type": "refusal", "refusal": "I can't help with"}]}],
            "usage": _usage(15, 5),
        },
        "content-filter.sse": {
            **base, "id": "resp_made_6", "status": "incomplete",
            "incomplete_details": {"reason": "content_filter"},
            "output": [_text(6, "Here is", "incomplete")],
            "usage": _usage(15, 2),
        },
        "web-search.sse": {
            **base, "id": "resp_made_7", "status": "completed",
            "output": [
                {"type": "web_search_call", "id": "ws_made_7", "status": "completed",
                 "action": {"type": "search", "query": "Lisbon weather"}},
                _text(8, "Mild and dry."),
            ],
            "usage": _usage(300, 20, cached=100),
        },
        "failed.sse": {
            **base, "id": "resp_made_8", "status": "failed",
            "output": [_text(9, "Lisbon is", "incomplete")],
            "error": {"code": "server_error", "message": "The model crashed mid-answer"},
        },
    }


def _messages() -> dict[str, dict[str, Any]]:
    base = {"type": "message", "role": "assistant", "model": "claude-made"}

    def usage(inp: int, out: int, read: int = 0, write: int = 0) -> dict[str, Any]:
        return {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read,
                "cache_creation_input_tokens": write}

    tool = {"type": "tool_use", "id": "toolu_made_1", "name": "get_weather",
            "input": {"city": "Lisbon", "days": [1, 2]}}
    return {
        "thinking-text-tool-cache.sse": {
            **base, "id": "msg_made_1", "stop_reason": "tool_use",
            "content": [
                {"type": "thinking", "thinking": "Need the forecast.", "signature": _SIGNATURE},
                {"type": "text", "text": "Let me check."},
                tool,
                {"type": "tool_use", "id": "toolu_made_2", "name": "get_rate",
                 "input": {"from": "EUR", "to": "USD"}},
            ],
            "usage": usage(12, 80, read=2000, write=300),
        },
        "redacted-thinking.sse": {
            **base, "id": "msg_made_2", "stop_reason": "end_turn",
            "content": [{"type": "redacted_thinking", "data": "RWRhY3RlZC1tYWRlLWhlcmU="},
                        {"type": "text", "text": "Done."}],
            "usage": usage(40, 7),
        },
        "max-tokens.sse": {
            **base, "id": "msg_made_3", "stop_reason": "max_tokens",
            "content": [{"type": "text", "text": "Lisbon is"}], "usage": usage(10, 3),
        },
        "stop-sequence.sse": {
            **base, "id": "msg_made_4", "stop_reason": "stop_sequence", "stop_sequence": "END",
            "content": [{"type": "text", "text": "One, two, "}], "usage": usage(10, 4),
        },
        "refusal.sse": {
            **base, "id": "msg_made_5", "stop_reason": "refusal",
            "content": [{"type": "text", "text": "I can't help with that."}],
            "usage": usage(10, 6),
        },
        "pause-server-tool.sse": {
            **base, "id": "msg_made_6", "stop_reason": "pause_turn",
            "content": [
                {"type": "text", "text": "Searching."},
                {"type": "server_tool_use", "id": "srvtoolu_made_1", "name": "web_search",
                 "input": {"query": "Lisbon weather"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_made_1",
                 "content": [{"type": "web_search_result", "url": "https://example.org/",
                              "title": "Weather", "encrypted_content": "enc"}]},
            ],
            "usage": usage(500, 30, read=100),
        },
    }


def _messages_error() -> bytes:
    """A message cut by an ``overloaded_error`` event after its first text block."""
    message = m.Message.from_dict({
        "type": "message", "role": "assistant", "model": "claude-made", "id": "msg_made_err",
        "content": [{"type": "text", "text": "Lisbon is"}],
        "usage": {"input_tokens": 10, "output_tokens": 3},
    })
    events = m.split(message)[:-2]  # no message_delta, no message_stop
    events.append({"type": "error",
                   "error": {"type": "overloaded_error", "message": "Overloaded"}})
    return b"".join(m.to_sse(events))


def _entry(fmt: str, name: str, body: bytes, **extra: Any) -> dict[str, Any]:
    return {"path": f"generated-{fmt}/{name}", "format": fmt, "origin": "generated",
            "body": body, **extra}


@functools.cache
def _generated() -> tuple[dict[str, Any], ...]:
    out = []
    for name, chat in _chat().items():
        body = b"".join(deltafold.to_sse(deltafold.split(chat, chunk_chars=5,
                                                         style="openrouter")))
        out.append(_entry("chat", name, body))
    for name, response in _responses().items():
        events = r.split(r.Response.from_dict(response), chunk_chars=6)
        out.append(_entry("responses", name, b"".join(r.to_sse(events))))
    for name, message in _messages().items():
        events = m.split(m.Message.from_dict(message), chunk_chars=6)
        out.append(_entry("messages", name, b"".join(m.to_sse(events))))
    out.append(_entry("messages", "overloaded-error.sse", _messages_error()))
    return tuple(out)


def recordings(fmt: str) -> list[dict[str, Any]]:
    """Every recording of ``fmt``: made here (chat's from tests/recordings.py too), then
    the real corpus's when present, each with its ``format``."""
    made = [dict(e) for e in _generated() if e["format"] == fmt]
    if fmt == "chat":
        made = [{**e, "format": "chat"} for e in made_here()] + made
    real = [{**e, "format": fmt} for e in corpus_entries(CORPORA[fmt])]
    return made + real


SAMPLE = {
    "chat": "deltafold/demo_stream.sse",
    "responses": "generated-responses/summary-encrypted-call.sse",
    "messages": "generated-messages/thinking-text-tool-cache.sse",
}
"""One recording of each format with text, reasoning (signed) and tool calls."""


def sample(fmt: str) -> bytes:
    """The bytes of ``fmt``'s :data:`SAMPLE` recording."""
    return read_recording(next(e for e in recordings(fmt) if e["path"] == SAMPLE[fmt]))
