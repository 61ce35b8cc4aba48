"""Conversion between wire formats: ``convert.stream`` against folding alone, and LiteLLM.

Issue 23, point 6: converting costs at most +50% over folding alone (``assemble_sse`` of
the same source), and against LiteLLM's chat-to-Anthropic streaming adapter on the same
chunks. Every path runs on the same body in one process, so the ratios of medians hold.

One answer per shape, written once in neutral terms and built in each format by that
format's own ``split`` (4-character deltas):

- ``text``: one answer of 10,000 text deltas;
- ``tools``: 5 tool calls, each's arguments (a JSON object) in 2,000 fragments;
- ``reasoning``: 8,000 reasoning deltas (with a signature), then a 500-delta answer.

Paths, per source format and shape (group ``convert-<source>-<shape>``):

- ``fold``: ``assemble_sse`` of the source's body: folding alone, bytes in;
- ``to-<target>``: every event of ``convert.stream(body, to=target)`` (bytes in, the
  target's event dicts out; the source is folded on the way, as any conversion does);
- ``to-<target>-sse``: the same framed as the target's SSE bytes (``convert.to_sse``),
  what a gateway sends;
- ``litellm`` (chat source, target Anthropic): the floor's framing and decoding
  (``paths.iter_chunks``), each chunk as ``litellm.ModelResponseStream(**chunk)`` (what
  LiteLLM's stream wrapper yields), iterated through
  ``litellm.llms.anthropic.messages.adapters.streaming_iterator.AnthropicStreamWrapper``
  (its ``/v1/messages``-over-chat adapter), every Anthropic event dict taken.

Each path's output is checked (the text, the arguments and the reasoning it carries)
before it is timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

import deltafold
import deltafold.messages as dm
import deltafold.responses as dr
import paths
from deltafold import convert

FORMATS = ("chat", "responses", "messages")
TEXT = 10_000
CALLS, FRAGMENTS = 5, 2_000
THINKING, ANSWER = 8_000, 500
_CHARS = 4
_WORDS = ("the ", "fox ", "runs", " ok ", "café", "数据好 ", "42, ", "\n\n- ", "ünï ", "end.")
SIGNATURE = "EqQBCkgIAxABGAIiQL" * 8
ASSEMBLE_SSE: dict[str, Callable[[bytes], Any]] = {
    "chat": deltafold.assemble_sse, "responses": dr.assemble_sse, "messages": dm.assemble_sse,
}


def _text(n_pieces: int, salt: int = 0) -> str:
    return "".join(_WORDS[(i * 7 + salt) % len(_WORDS)] for i in range(n_pieces))


def _arguments(call: int) -> str:
    body = _text(FRAGMENTS - 6, salt=call).replace("\n", " ").replace('"', "'")
    text = '{"path": "/tmp/f' + str(call) + '", "text": "' + body + '"}'
    return text + " " * (-len(text) % _CHARS)


class Shape:
    """One answer in neutral terms: text, tool calls (name, JSON arguments), reasoning."""

    def __init__(self, text: str, calls: list[tuple[str, str]], thinking: str = "") -> None:
        self.text, self.calls, self.thinking = text, calls, thinking

    def chat(self) -> list[dict[str, Any]]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.calls:
            message["tool_calls"] = [
                {"id": f"call_{n}", "type": "function",
                 "function": {"name": name, "arguments": args}}
                for n, (name, args) in enumerate(self.calls)]
        if self.thinking:
            message["reasoning"] = self.thinking
            message["reasoning_details"] = [{"type": "reasoning.text", "text": self.thinking,
                                             "signature": SIGNATURE, "index": 0}]
        completion = deltafold.ChatCompletion.from_dict({
            "id": "gen-bench", "object": "chat.completion", "created": 1767225600,
            "model": "bench", "usage": {"prompt_tokens": 100, "completion_tokens": 50,
                                        "total_tokens": 150},
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if self.calls else "stop"}],
        })
        return list(deltafold.split(completion, chunk_chars=_CHARS, style="openrouter"))

    def responses(self) -> list[dict[str, Any]]:
        output: list[dict[str, Any]] = []
        if self.thinking:
            output.append({"type": "reasoning", "id": "rs_0", "encrypted_content": SIGNATURE,
                           "summary": [{"type": "summary_text", "text": self.thinking}]})
        if self.text:
            output.append({"type": "message", "id": "msg_0", "role": "assistant",
                           "status": "completed",
                           "content": [{"type": "output_text", "text": self.text,
                                        "annotations": []}]})
        output += [{"type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}",
                    "name": name, "arguments": args, "status": "completed"}
                   for n, (name, args) in enumerate(self.calls)]
        response = dr.Response.from_dict({
            "id": "resp_bench", "object": "response", "created_at": 1767225600,
            "status": "completed", "model": "bench", "output": output,
            "usage": {"input_tokens": 100, "output_tokens": 50, "total_tokens": 150}})
        return dr.split(response, chunk_chars=_CHARS)

    def messages(self) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        if self.thinking:
            content.append({"type": "thinking", "thinking": self.thinking,
                            "signature": SIGNATURE})
        if self.text:
            content.append({"type": "text", "text": self.text})
        content += [{"type": "tool_use", "id": f"toolu_{n}", "name": name,
                     "input": orjson.loads(args)} for n, (name, args) in enumerate(self.calls)]
        message = dm.Message.from_dict({
            "id": "msg_bench", "model": "bench", "content": content,
            "stop_reason": "tool_use" if self.calls else "end_turn",
            "usage": {"input_tokens": 100, "output_tokens": 50}})
        return dm.split(message, chunk_chars=_CHARS)


SHAPES: dict[str, Callable[[], Shape]] = {
    "text": lambda: Shape(_text(TEXT), []),
    "tools": lambda: Shape("", [(f"write_{c}", _arguments(c)) for c in range(CALLS)]),
    "reasoning": lambda: Shape(_text(ANSWER, salt=3), [], _text(THINKING, salt=1)),
}


def _sse(fmt: str, events: list[dict[str, Any]]) -> bytes:
    return b"".join(convert.to_sse(events, fmt))


class Body:
    """One source body and what it carries (to check every path's output)."""

    def __init__(self, source: str, shape: Shape) -> None:
        events = getattr(shape, source)()
        self.sse = _sse(source, events)
        self.n_events = len(events)
        self.shape = shape


_held: dict[tuple[str, str], Body] = {}


def body(source: str, shape: str) -> Body:
    key = (source, shape)
    if key not in _held:
        _held[key] = Body(source, SHAPES[shape]())
    return _held[key]


# --- what each path produces, read back the same way --------------------------------------


def carried(result: Any) -> tuple[str, list[str], str]:
    """The text, the tool arguments and the reasoning text of any format's result."""
    if isinstance(result, deltafold.ChatCompletion):
        m = result.choices[0].message
        return (m.content or "", [c.function.arguments or "" for c in m.tool_calls or []],
                m.reasoning or "")
    if isinstance(result, dr.Response):
        text = "".join(p.text for i in result.output if i.type == "message" for p in i.content)
        args = [i.arguments for i in result.output if i.type == "function_call"]
        thinking = "".join(
            part.text for i in result.output if i.type == "reasoning"
            for part in [*(i.summary or []), *(i.content or [])])
        return text, args, thinking
    blocks = result.content
    return ("".join(b.text for b in blocks if b.type == "text"),
            [orjson.dumps(b.input).decode() for b in blocks if b.type == "tool_use"],
            "".join(b.thinking for b in blocks if b.type == "thinking"))


def expected(shape: Shape, target: str, source: str | None = None) -> tuple[str, list[str], str]:
    args = [a for _, a in shape.calls]
    if "messages" in (source, target):  # Anthropic's input is an object: its JSON re-encoded
        args = [orjson.dumps(orjson.loads(a)).decode() for a in args]
    return shape.text, args, shape.thinking


def drain(source: str, target: str) -> Callable[[bytes], int]:
    def run(sse: bytes) -> int:
        count = 0
        for _ in convert.stream(sse, to=target, source_format=source):
            count += 1
        return count
    return run


def drain_sse(source: str, target: str) -> Callable[[bytes], int]:
    def run(sse: bytes) -> int:
        return sum(len(piece) for piece in convert.to_sse(
            convert.stream(sse, to=target, source_format=source), target))
    return run


def litellm_anthropic(sse: bytes) -> list[dict[str, Any]]:
    """LiteLLM's chat-to-Anthropic streaming adapter over the floor's decoded chunks."""
    import litellm
    from litellm.llms.anthropic.messages.adapters.streaming_iterator import (
        AnthropicStreamWrapper,
    )

    chunks = (litellm.ModelResponseStream(**chunk) for chunk in paths.iter_chunks(sse))
    return list(AnthropicStreamWrapper(completion_stream=_Chunks(chunks), model="bench"))


class _Chunks:
    """The chunk iterator LiteLLM's wrapper takes (it asks for both iteration protocols)."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[Any]:
        return self._chunks

    def __aiter__(self) -> Any:
        raise NotImplementedError("sync only")


def _check(source: str, target: str | None, path: str, sse: bytes, shape: Shape) -> None:
    if path == "fold":
        assert carried(ASSEMBLE_SSE[source](sse)) == expected(shape, source, source)
        return
    assert target is not None
    if path == "litellm":
        events = litellm_anthropic(sse)
        message = dm.assemble(events)
        text, args, _ = carried(message)  # LiteLLM reads no OpenRouter ``reasoning``
        assert (text, args) == expected(shape, "messages", source)[:2], "LiteLLM differs"
        return
    events = list(convert.stream(sse, to=target, source_format=source))
    assert carried(ASSEMBLE[target](events)) == expected(shape, target, source), f"{path} differs"


ASSEMBLE: dict[str, Callable[[Any], Any]] = {
    "chat": deltafold.assemble, "responses": dr.assemble, "messages": dm.assemble,
}


def _cases() -> list[Any]:
    cases = []
    for source in FORMATS:
        for shape in SHAPES:
            cases.append(pytest.param(source, shape, "fold", None, id=f"{source}-{shape}-fold"))
            for target in FORMATS:
                for sse in ("", "-sse"):
                    path = f"to-{target}{sse}"
                    cases.append(pytest.param(source, shape, path, target,
                                              id=f"{source}-{shape}-{path}"))
            if source == "chat":
                cases.append(pytest.param(source, shape, "litellm", "messages",
                                          id=f"{source}-{shape}-litellm"))
    return cases


@pytest.mark.parametrize(("source", "shape", "path", "target"), _cases())
def test_convert(benchmark: Any, source: str, shape: str, path: str, target: str | None) -> None:
    if path == "litellm":
        pytest.importorskip("litellm")
    held = body(source, shape)
    if path == "fold":
        fn: Callable[[bytes], Any] = ASSEMBLE_SSE[source]
    elif path == "litellm":
        fn = litellm_anthropic
    else:
        assert target is not None
        fn = (drain_sse if path.endswith("-sse") else drain)(source, target)
    _check(source, target, path, held.sse, held.shape)
    start = time.perf_counter()
    fn(held.sse)  # warm-up, not timed
    elapsed = max(time.perf_counter() - start, 1e-6)
    benchmark.group = f"convert-{source}-{shape}"
    benchmark.extra_info.update({
        "suite": "convert", "source": source, "shape": shape, "path": path,
        "target": target, "n_events": held.n_events, "sse_bytes": len(held.sse),
    })
    if path == f"to-{target}":
        benchmark.extra_info["alternating"] = alternating(ASSEMBLE_SSE[source], fn, held.sse)
    rounds = max(3, min(50, int((4.0 if path == "litellm" else 1.5) / elapsed)))
    benchmark.pedantic(fn, args=(held.sse,), rounds=rounds, iterations=1)


def alternating(fold: Callable[[bytes], Any], convert: Callable[[bytes], Any], sse: bytes,
                pairs: int = 7) -> float:
    """Converting / folding the same body, each one's least CPU time over ``pairs`` calls
    made in turn: a load that comes and goes weighs on both alike (the medians of two
    benchmarks timed one after the other move by tens of percent on a shared machine)."""
    folds, converts = [], []
    for _ in range(pairs):
        for fn, times in ((fold, folds), (convert, converts)):
            start = time.process_time()
            fn(sse)
            times.append(time.process_time() - start)
    return min(converts) / max(min(folds), 1e-9)
