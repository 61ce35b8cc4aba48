"""A user's mistakes with the Responses and Messages entry points, and Responses edge cases.

Every wrong input gets a typed error that says what was wrong (and, mid-stream,
where, with ``.partial``), naming the function of the format called; never an empty
success. The Responses cases are the fold rules of docs/responses.md met in shapes
held-out recordings carry: item ids that change, text only in ``.done``, terminal
output empty, replays, several responses in one body.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import deltafold.messages as dm
import deltafold.responses as dr
from deltafold import (
    ChunkDecodeError,
    DeltafoldError,
    EmptyStreamError,
    IncompleteStreamError,
    MultipleResponsesError,
    WrongFormatError,
)

RESP: list[dict[str, Any]] = [
    {"type": "response.created", "sequence_number": 0,
     "response": {"id": "r1", "object": "response", "status": "in_progress", "output": []}},
    {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
     "item": {"type": "message", "id": "m1", "role": "assistant", "content": []}},
    {"type": "response.output_text.delta", "sequence_number": 2, "output_index": 0,
     "content_index": 0, "item_id": "m1", "delta": "Hi"},
    {"type": "response.completed", "sequence_number": 3,
     "response": {"id": "r1", "object": "response", "status": "completed", "output": []}},
]
MSG: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
     "content": [], "model": "c", "usage": {"input_tokens": 1, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}},
    {"type": "message_stop"},
]
CHAT = {"id": "g", "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "x"}}]}
RESPONSE_OBJECT = {"id": "r1", "object": "response", "status": "completed", "output": [
    {"type": "message", "id": "m", "role": "assistant",
     "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}]}
MESSAGE_OBJECT = {"id": "msg_1", "type": "message", "role": "assistant",
                  "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
                  "usage": {"input_tokens": 1, "output_tokens": 1}}
# (module, its events, its whole object, the other format's events, text of the answer)
FORMATS = {
    "responses": (dr, RESP, RESPONSE_OBJECT, MSG),
    "messages": (dm, MSG, MESSAGE_OBJECT, RESP),
}
IDS = list(FORMATS)


def sse(events: list[Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


def text_of(result: Any) -> str:
    return result.output_text if isinstance(result, dr.Response) else result.text


def name(module: Any) -> str:
    return module.__name__


# --- wrong argument types -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", IDS)
@pytest.mark.parametrize(
    "wrong", [None, 5, 1.5, True, object(), Path("x.sse")], ids=lambda w: type(w).__name__
)
@pytest.mark.parametrize("func", ["assemble", "assemble_sse", "assemble_all", "fold"])
def test_wrong_types_name_the_format_function(fmt: str, wrong: Any, func: str) -> None:
    module = FORMATS[fmt][0]
    with pytest.raises(TypeError) as info:
        getattr(module, func)(wrong)
    text = str(info.value)
    assert text.startswith(f"{name(module)}.{func}() takes "), text
    assert "got " in text
    assert "deltafold.assemble()" not in text  # never chat's function to this format's user


@pytest.mark.parametrize("fmt", IDS)
def test_hints_point_to_this_format(fmt: str) -> None:
    module, events, whole, _ = FORMATS[fmt]
    with pytest.raises(TypeError, match=rf"go to {name(module)}\.assemble\(\)"):
        module.assemble_sse(events)
    with pytest.raises(TypeError, match=rf"go to {name(module)}\.assemble\(\)"):
        module.assemble_sse(whole)
    with pytest.raises(TypeError, match=rf"goes to {name(module)}\.assemble\(\)"):
        module.fold(whole)
    with pytest.raises(TypeError, match=rf"a whole body goes to {name(module)}\.assemble"):
        module.fold(sse(events))
    with pytest.raises(TypeError, match=rf"use {name(module)}\.fold\(\)"):
        module.afold(events)


@pytest.mark.parametrize("fmt", IDS)
def test_a_file_path_a_path_and_a_file_object(fmt: str, tmp_path: Path) -> None:
    module, events, _, _ = FORMATS[fmt]
    file = tmp_path / "rec.sse"
    file.write_bytes(sse(events))
    for func in (module.assemble, module.assemble_sse, module.assemble_all):
        with pytest.raises(EmptyStreamError, match="names a file, not its content"):
            func(str(file))
        with pytest.raises(TypeError, match="read the file first"):
            func(file)
    with file.open("rb") as binary, file.open() as text:
        assert text_of(module.assemble(binary)) == text_of(module.assemble(text)) == "Hi"
    # fold iterates a file by lines: JSON lines fold, SSE lines are not events.
    lines = tmp_path / "rec.jsonl"
    lines.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    with lines.open() as text:
        assert text_of(module.fold(text).until_done()) == "Hi"
    with file.open("rb") as binary, pytest.raises(ChunkDecodeError, match="event 0: invalid JSON"):
        module.fold(binary).until_done()


# --- bodies without an event of the format --------------------------------------------------

EMPTY_BODIES: list[tuple[bytes | str, str]] = [
    (b"", "the input is empty"),
    ("", "the input is empty"),
    (" \r\n\t\n", "the input is only whitespace"),
    (b"data: [DONE]\n\n", "it holds only [DONE]"),
    (b": keepalive\n\n: keepalive\n\n", "it holds only SSE comments"),
    (b"garbage", "it is not SSE"),
]


@pytest.mark.parametrize("fmt", IDS)
@pytest.mark.parametrize(
    ("body", "said"), EMPTY_BODIES, ids=[repr(b)[:20] for b, _ in EMPTY_BODIES]
)
def test_bodies_without_an_event(fmt: str, body: bytes | str, said: str) -> None:
    module = FORMATS[fmt][0]
    for func in (module.assemble, module.assemble_sse, module.assemble_all):
        with pytest.raises(EmptyStreamError) as info:
            func(body)
        assert said in str(info.value), str(info.value)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("fmt", IDS)
def test_only_pings_is_empty_and_says_one_event(fmt: str) -> None:
    module = FORMATS[fmt][0]
    body = b'event: ping\ndata: {"type":"ping"}\n\n'
    with pytest.raises(EmptyStreamError, match=r"1 event arrived but none was"):
        module.assemble(body)


@pytest.mark.parametrize("fmt", IDS)
def test_gzip_is_named(fmt: str) -> None:
    module, events, _, _ = FORMATS[fmt]
    packed = gzip.compress(sse(events))
    for func in (module.assemble, module.assemble_sse, module.assemble_all):
        with pytest.raises(EmptyStreamError, match=r"it is gzip-compressed: decompress it first"):
            func(packed)
    assert text_of(module.assemble(gzip.decompress(packed))) == "Hi"


@pytest.mark.parametrize("fmt", IDS)
def test_json_given_as_sse_is_named(fmt: str) -> None:
    module, events, _, _ = FORMATS[fmt]
    lines = b"\n".join(json.dumps(e).encode() for e in events)
    with pytest.raises(EmptyStreamError, match=r"it is JSON lines, not SSE .*assemble\(\) reads"):
        module.assemble_sse(lines)
    with pytest.raises(EmptyStreamError, match=r"it is a JSON array, not SSE"):
        module.assemble_sse(json.dumps(events))
    # assemble reads both, and a list of JSON bytes or text.
    assert text_of(module.assemble(lines)) == text_of(module.assemble(json.dumps(events))) == "Hi"
    assert text_of(module.assemble([json.dumps(e).encode() for e in events])) == "Hi"
    assert text_of(module.assemble([json.dumps(e) for e in events])) == "Hi"


@pytest.mark.parametrize("fmt", IDS)
def test_other_formats_are_refused_with_the_right_function(fmt: str) -> None:
    module, _, _, other = FORMATS[fmt]
    other_name = "deltafold.messages" if fmt == "responses" else "deltafold.responses"
    for given in (sse([CHAT]), [CHAT], CHAT):
        with pytest.raises(WrongFormatError, match=r"fold it with deltafold\.assemble\(\)"):
            module.assemble(given)
    for given in (sse(other), other, json.dumps(other)):
        with pytest.raises(WrongFormatError, match=rf"fold it with {other_name}\.assemble\(\)"):
            module.assemble(given)
    whole = MESSAGE_OBJECT if fmt == "responses" else RESPONSE_OBJECT
    with pytest.raises(WrongFormatError, match=rf"{other_name}\.assemble"):
        module.assemble(whole)
    acc = module.Accumulator()
    with pytest.raises(WrongFormatError):
        acc.feed(CHAT)


@pytest.mark.parametrize("fmt", IDS)
def test_one_whole_object_is_the_whole_answer(fmt: str) -> None:
    module, _, whole, _ = FORMATS[fmt]
    result = module.assemble(whole)
    assert text_of(result) == "Hi"
    assert result.to_dict() == whole
    assert module.assemble_all(whole) == [result]
    assert module.assemble(json.dumps(whole)) == result
    acc = module.Accumulator()
    acc.feed(whole)
    assert acc.result() == result


# --- mid-stream faults: where, and the partial ----------------------------------------------


@pytest.mark.parametrize("fmt", IDS)
@pytest.mark.parametrize(
    ("bad", "said"),
    [
        (b"data: {bad\n\n", "event 2: invalid JSON"),
        (b"data: [1,2]\n\n", "event 2: expected a JSON object"),
        (b"data: 7\n\n", "event 2: expected a JSON object"),
    ],
)
def test_a_bad_event_mid_stream_names_its_position_with_the_partial(
    fmt: str, bad: bytes, said: str
) -> None:
    module, events, _, _ = FORMATS[fmt]
    body = sse(events[:2]) + bad + sse(events[2:])
    for func in (module.assemble, module.assemble_sse, module.assemble_all):
        with pytest.raises(ChunkDecodeError) as info:
            func(body)
        assert said in str(info.value)
        assert info.value.position == 2
        assert info.value.partial is not None


@pytest.mark.parametrize("fmt", IDS)
def test_a_truncated_last_event(fmt: str) -> None:
    module, events, _, _ = FORMATS[fmt]
    body = sse(events)
    with pytest.raises(ChunkDecodeError, match=r"invalid JSON") as info:
        module.assemble(body[:-12])
    assert info.value.position == len(events) - 1
    assert text_of(info.value.partial) == "Hi"
    # Cut at an event boundary: no terminal event, the partial says what came.
    cut = sse(events[:-1])
    with pytest.raises(IncompleteStreamError) as incomplete:
        module.assemble(cut)
    assert text_of(incomplete.value.partial) == "Hi"
    assert text_of(module.assemble(cut, strict=False)) == "Hi"


@pytest.mark.parametrize("fmt", IDS)
def test_feed_names_what_is_not_an_event(fmt: str) -> None:
    module, events, _, _ = FORMATS[fmt]
    for wrong in (None, 5, [events[0]], object()):
        acc = module.Accumulator()
        with pytest.raises(ChunkDecodeError, match="event 0: cannot read"):
            acc.feed(wrong)
    with pytest.raises(ChunkDecodeError, match=r"event 0: invalid JSON .*it is SSE text"):
        module.Accumulator().feed(sse(events))
    acc = module.Accumulator()
    acc.feed(events[0])
    with pytest.raises(ChunkDecodeError) as info:
        acc.feed("{not json")
    assert info.value.position == 1 and "invalid JSON" in str(info.value)


@pytest.mark.parametrize("fmt", IDS)
def test_fold_passes_items_and_raises_at_the_end(fmt: str) -> None:
    module, events, _, _ = FORMATS[fmt]
    folded = module.fold(iter(events[:-1]))
    passed = []
    with pytest.raises(IncompleteStreamError) as info:
        for item in folded:
            passed.append(item)
    assert passed == events[:-1]  # every item passed through before the end was checked
    assert text_of(info.value.partial) == "Hi"
    with pytest.raises(EmptyStreamError, match="the iterable is empty"):
        module.fold([]).until_done()
    with pytest.raises(EmptyStreamError, match=r"holds only \[DONE\]"):
        module.fold(["[DONE]"]).until_done()
    assert text_of(module.fold(events).until_done()) == "Hi"


@pytest.mark.anyio
@pytest.mark.parametrize("fmt", IDS)
async def test_afold_the_same(fmt: str) -> None:
    module, events, _, other = FORMATS[fmt]

    async def source(items: list[Any]) -> Any:
        for item in items:
            yield item

    assert text_of(await module.afold(source(events)).until_done()) == "Hi"
    with pytest.raises(WrongFormatError) as info:
        await module.afold(source(other)).until_done()
    assert isinstance(info.value, DeltafoldError)
    with pytest.raises(TypeError, match=rf"{name(module)}\.afold\(\) takes"):
        module.afold(5)


# --- Responses fold-rule edge cases ---------------------------------------------------------


def created(rid: str = "r1") -> dict[str, Any]:
    return {"type": "response.created",
            "response": {"id": rid, "object": "response", "status": "in_progress", "output": []}}


def completed(rid: str = "r1", **fields: Any) -> dict[str, Any]:
    return {"type": "response.completed",
            "response": {"id": rid, "object": "response", "status": "completed", **fields}}


def added(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def text_delta(text: str, index: int = 0, part: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "response.output_text.delta", "output_index": index, "content_index": part,
            "delta": text, **extra}


MESSAGE_ITEM = {"type": "message", "id": "a", "role": "assistant", "content": []}


def output(*events: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    response = dr.assemble(list(events), **kw)
    assert dr.assemble_sse(b"".join(dr.to_sse(list(events)))) == response
    return response.to_dict()["output"]  # type: ignore[no-any-return]


def sdk_output(*events: dict[str, Any]) -> list[dict[str, Any]]:
    """The OpenAI SDK's ResponseStreamState on the same events (its final snapshot)."""
    from openai import omit
    from openai._models import construct_type
    from openai.lib.streaming.responses._responses import ResponseStreamState
    from openai.types.responses import ResponseStreamEvent

    state: Any = ResponseStreamState(input_tools=[], text_format=omit)
    snapshot = None
    for n, event in enumerate(events):
        typed = construct_type(type_=ResponseStreamEvent, value={"sequence_number": n, **event})
        state.handle_event(typed)
        snapshot = state._ResponseStreamState__current_snapshot
    return [item.to_dict() for item in snapshot.output]  # type: ignore[union-attr]


def test_a_new_item_id_on_every_event_is_one_item() -> None:
    events = [
        created(), added(0, MESSAGE_ITEM),
        {"type": "response.content_part.added", "output_index": 0, "content_index": 0,
         "item_id": "b", "part": {"type": "output_text", "text": "", "annotations": []}},
        text_delta("He", item_id="c"), text_delta("llo", item_id="d"),
        {"type": "response.output_text.done", "output_index": 0, "content_index": 0,
         "item_id": "e", "text": "Hello"},
        completed(output=[]),
    ]
    expected = [{"type": "message", "id": "a", "role": "assistant",
                 "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}]
    assert output(*events) == expected
    assert sdk_output(*events[:-1]) == expected  # keyed by output_index too


def test_text_only_in_done_and_an_item_only_in_item_done() -> None:
    assert output(created(), added(0, MESSAGE_ITEM),
                  {"type": "response.output_text.done", "output_index": 0, "content_index": 0,
                   "text": "Never streamed"}, completed()) == [
        {"type": "message", "id": "a", "role": "assistant",
         "content": [{"type": "output_text", "text": "Never streamed"}]}]
    call = {"type": "function_call", "id": "fc", "call_id": "c1", "name": "f",
            "arguments": '{"a":1}', "status": "completed"}
    assert output(created(), {"type": "response.output_item.done", "output_index": 0,
                              "item": call}, completed()) == [call]


def test_incomplete_keeps_the_partial_output_with_its_reason() -> None:
    response = dr.assemble([
        created(), added(0, MESSAGE_ITEM), text_delta("Part"),
        {"type": "response.incomplete", "response": {
            "id": "r1", "status": "incomplete", "output": [],
            "incomplete_details": {"reason": "max_output_tokens"}}}])
    assert (response.status, response.output_text) == ("incomplete", "Part")
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


def test_sequence_replays_are_dropped_and_gaps_noted() -> None:
    events = [{**created(), "sequence_number": 0},
              {**added(0, MESSAGE_ITEM), "sequence_number": 1},
              {**text_delta("A"), "sequence_number": 2},
              {**text_delta("A"), "sequence_number": 2},
              {**text_delta("B"), "sequence_number": 5},
              {**completed(), "sequence_number": 6}]
    response = dr.assemble(events)
    assert response.output_text == "AB"
    assert response.sequence_gaps == [(2, 5)]


def test_keepalives_after_the_terminal_event_are_tolerated() -> None:
    response = dr.assemble([created(), added(0, MESSAGE_ITEM), text_delta("A"), completed(),
                            {"type": "keepalive"}, {"type": "response.rate_limits.updated"}])
    assert response.output_text == "A"
    assert response.status == "completed"


def test_several_responses_in_one_body() -> None:
    events = [created(), completed(), created("r2"), completed("r2")]
    named = r"deltafold\.responses\.assemble_all\(\)"
    with pytest.raises(MultipleResponsesError, match=named) as info:
        dr.assemble(events)
    assert info.value.partial is not None and info.value.partial.id == "r1"
    assert [r.id for r in dr.assemble_all(events)] == ["r1", "r2"]
    assert [r.id for r in dr.assemble_all(sse(events))] == ["r1", "r2"]


def test_content_and_output_index_gaps_keep_what_came() -> None:
    assert output(created(), added(0, MESSAGE_ITEM), text_delta("third", part=2), completed()) == [
        {"type": "message", "id": "a", "role": "assistant",
         "content": [{"type": "output_text", "text": "third"}]}]
    assert output(created(), added(3, MESSAGE_ITEM), completed()) == [MESSAGE_ITEM]


def test_annotations_logprobs_and_refusal_parts() -> None:
    logprob = {"token": "X", "logprob": -0.1, "top_logprobs": []}
    note = {"type": "url_citation", "url": "u", "start_index": 0, "end_index": 1, "title": "t"}
    assert output(
        created(), added(0, MESSAGE_ITEM), text_delta("X", logprobs=[logprob]),
        {"type": "response.output_text.annotation.added", "output_index": 0, "content_index": 0,
         "annotation_index": 0, "annotation": note},
        {"type": "response.refusal.delta", "output_index": 0, "content_index": 1, "delta": "No"},
        {"type": "response.refusal.done", "output_index": 0, "content_index": 1, "refusal": "No."},
        completed(),
    ) == [{"type": "message", "id": "a", "role": "assistant", "content": [
        {"type": "output_text", "text": "X", "annotations": [note], "logprobs": [logprob]},
        {"type": "refusal", "refusal": "No."}]}]


def test_reasoning_with_encrypted_content_only() -> None:
    item = {"type": "reasoning", "id": "rs", "summary": [], "encrypted_content": "gAAA"}
    assert output(created(), added(0, {"type": "reasoning", "id": "rs", "summary": []}),
                  {"type": "response.output_item.done", "output_index": 0, "item": item},
                  completed()) == [item]


@pytest.mark.parametrize("parse_json", [False, True])
def test_a_function_call_with_empty_arguments(parse_json: bool) -> None:
    call = {"type": "function_call", "id": "fc", "call_id": "c", "name": "f", "arguments": ""}
    response = dr.assemble([created(), added(0, call),
                            {"type": "response.function_call_arguments.done", "output_index": 0,
                             "arguments": ""}, completed()], parse_json=parse_json)
    assert response.to_dict()["output"] == [call]


def test_the_terminal_output_fills_what_the_events_left_empty() -> None:
    # A terminal item with empty text never erases the streamed text; one with text fills a
    # part the events never streamed.
    empty = {"type": "message", "id": "a", "role": "assistant",
             "content": [{"type": "output_text", "text": "", "annotations": []}]}
    assert output(created(), added(0, MESSAGE_ITEM), text_delta("Streamed"),
                  completed(output=[empty]))[0]["content"][0]["text"] == "Streamed"
    full = {**empty, "content": [{"type": "output_text", "text": "Whole", "annotations": []}]}
    assert output(created(), added(0, MESSAGE_ITEM), completed(output=[full])) == [full]
