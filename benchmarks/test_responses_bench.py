"""OpenAI Responses: ``deltafold.responses.assemble_sse`` against the SDK's way and the floor.

Issue 21, point 7. Every path runs on the same body in one process, so the ratios of
medians hold:

- ``assemble_sse``: deltafold's fold, bytes in;
- ``floor``: ``paths.floor_named``, the fastest framing of the named-event body
  (``event:`` + ``data:`` lines, as OpenAI sends them) plus ``orjson.loads`` per event;
- ``floor_framer``: deltafold's own framer (``DataDecoder``) plus ``orjson.loads``: the
  gap to ``assemble_sse`` is the fold's, the gap to ``floor`` the framer's;
- ``sdk``: the OpenAI SDK's way, fed the floor's decoding: per event
  ``construct_type(type_=ResponseStreamEvent, value=event)`` (what its ``Stream`` does
  with each payload), then ``ResponseStreamState.handle_event`` (what its
  ``ResponseStream`` does), the result its completed response.

Three shapes (long text, many function-call fragments, reasoning summaries) and a
scale series of the long text from 1,000 to 1,000,000 events (time per event flat).
The bodies are built by ``deltafold.responses.split`` + ``to_sse`` from a Response made
here, with the ``item_id`` OpenAI puts on every item event and ``logprobs`` on text
deltas (the SDK reads both).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

import deltafold.responses as dr
import paths

#: The scale series (events in the long-text body): DELTAFOLD_BENCH_RESPONSES_SIZES.
SIZES = [
    int(size)
    for size in os.environ.get(
        "DELTAFOLD_BENCH_RESPONSES_SIZES", "1000,10000,100000,1000000"
    ).split(",")
    if size.strip()
]
#: The SDK takes tens of microseconds per event: run up to this many.
SDK_MAX = 100_000
_CHARS = 4
_WORDS = ("the ", "fox ", "runs", " ok ", "café", "数据好 ", "42, ", "\n\n- ", "ünï ", "end.")


def _text(n_pieces: int, salt: int = 0) -> str:
    return "".join(_WORDS[(i * 7 + salt) % len(_WORDS)] for i in range(n_pieces))


def _response(output: list[dict[str, Any]], output_tokens: int) -> dr.Response:
    return dr.Response.from_dict({
        "id": "resp_bench", "object": "response", "created_at": 1747000000,
        "status": "completed", "model": "gpt-bench", "output": output,
        "usage": {"input_tokens": 100, "output_tokens": output_tokens,
                  "total_tokens": 100 + output_tokens,
                  "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens_details": {"reasoning_tokens": 0}},
    })


def _message(text: str, n: int = 0) -> dict[str, Any]:
    return {"type": "message", "id": f"msg_{n}", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def long_text(deltas: int) -> dr.Response:
    """One message of ``deltas`` 4-character text deltas."""
    return _response([_message(_text(deltas))], deltas)


def function_calls(calls: int = 5, fragments: int = 4000) -> dr.Response:
    """``calls`` function calls, each's arguments (a JSON object) in ``fragments`` deltas."""
    output = []
    for c in range(calls):
        body = _text(fragments - 6, salt=c).replace("\n", " ").replace('"', "'")
        arguments = '{"path": "/tmp/f' + str(c) + '", "text": "' + body + '"}'
        arguments += " " * (-len(arguments) % _CHARS)
        output.append({"type": "function_call", "id": f"fc_{c}", "call_id": f"call_{c}",
                       "name": f"write_{c}", "arguments": arguments, "status": "completed"})
    return _response(output, calls * fragments)


def reasoning(parts: int = 2, per_part: int = 5000, answer: int = 200) -> dr.Response:
    """A reasoning item of ``parts`` summary parts in ``per_part`` deltas, then a short answer."""
    summary = [{"type": "summary_text", "text": _text(per_part, salt=p)} for p in range(parts)]
    item = {"type": "reasoning", "id": "rs_0", "summary": summary}
    return _response([item, _message(_text(answer), 1)], parts * per_part + answer)


def _openai_events(response: dr.Response) -> list[dict[str, Any]]:
    """``split``'s events with the fields OpenAI adds: ``item_id``, text ``logprobs``."""
    ids = [item.get("id") for item in response.to_dict()["output"]]
    events = dr.split(response, chunk_chars=_CHARS)
    for event in events:
        if "output_index" in event:
            event["item_id"] = ids[event["output_index"]]
        if event["type"].startswith("response.output_text.d"):
            event["logprobs"] = []
    return events


class Body:
    """One input: the SSE body, its event count and what its fold must give."""

    def __init__(self, response: dr.Response) -> None:
        events = _openai_events(response)
        self.n_events = len(events)
        self.sse = b"".join(dr.to_sse(events))
        del events
        self.expected = _summary(response)


SHAPES: dict[str, Callable[[], dr.Response]] = {
    "text": lambda: long_text(20_000),
    "tools": function_calls,
    "reasoning": reasoning,
}

_held: dict[str, Body] = {}


def _body(key: str, build: Callable[[], dr.Response]) -> Body:
    if key not in _held:
        _held.clear()  # one body at a time: the 1M-event one is 170 MB
        gc.collect()
        _held[key] = Body(build())
    return _held[key]


def _summary(result: Any) -> list[tuple[str, Any]]:
    """What each output item holds, read the same way from deltafold's and the SDK's result."""
    out: list[tuple[str, Any]] = []
    for item in result.output:
        if item.type == "message":
            out.append(("message", "".join(part.text for part in item.content)))
        elif item.type == "function_call":
            out.append(("function_call", item.arguments))
        else:
            out.append((item.type, [part.text for part in item.summary]))
    return out


def sdk(body: bytes) -> Any:
    """The OpenAI SDK's way, bytes in: the floor's framing and decoding, then per event
    ``construct_type`` + ``ResponseStreamState.handle_event``; its completed response."""
    from openai import omit
    from openai._models import construct_type
    from openai.lib.streaming.responses._responses import ResponseStreamState
    from openai.types.responses import ResponseStreamEvent

    state: Any = ResponseStreamState(input_tools=omit, text_format=omit)
    for data in paths.iter_named(body):
        event = construct_type(type_=ResponseStreamEvent, value=data)
        for _fired in state.handle_event(event):
            pass
    return state._completed_response  # what get_final_response() returns


PATHS: dict[str, Callable[[bytes], Any]] = {
    "floor": paths.floor_named,
    "floor_framer": paths.floor_framer,
    "assemble_sse": dr.assemble_sse,
    "sdk": sdk,
}


def _run(benchmark: Any, path: str, body: Body, group: str, scenario: str) -> None:
    if path == "sdk":
        pytest.importorskip("openai")
    fn = PATHS[path]
    start = time.perf_counter()
    result = fn(body.sse)  # warm-up and check, not timed
    elapsed = max(time.perf_counter() - start, 1e-6)
    if path.startswith("floor"):
        assert result == body.n_events
    else:
        assert _summary(result) == body.expected, f"{path} folded {scenario} differently"
    del result
    budget = 4.0 if path == "sdk" else 2.0
    rounds = max(2 if path == "sdk" else 3, min(100, int(budget / elapsed)))
    benchmark.group = group
    benchmark.extra_info.update({
        "suite": "responses", "scenario": scenario, "path": path,
        "n_events": body.n_events, "sse_bytes": len(body.sse),
    })
    benchmark.pedantic(fn, args=(body.sse,), rounds=rounds, iterations=1)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_responses_shape(benchmark: Any, shape: str, path: str) -> None:
    body = _body(shape, SHAPES[shape])
    _run(benchmark, path, body, f"responses-{shape}", shape)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("size", SIZES)
def test_responses_scale(benchmark: Any, size: int, path: str) -> None:
    if path == "sdk" and size > SDK_MAX:
        pytest.skip(f"the SDK is run up to {SDK_MAX:,} events (minutes per round beyond)")
    # split adds 8 events around the deltas (created, in_progress, item and part events).
    body = _body(f"scale-{size}", lambda: long_text(size - 8))
    _run(benchmark, path, body, f"responses-scale-{size}", "scale")
