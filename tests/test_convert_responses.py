"""The Responses side of conversion: its reader's steps, its writer's events, ``to_param``.

The reader and the writer are driven directly (a conversion to the same format passes
the events through untouched, so the ``Converter`` never pairs these two). Every
recording of ../shared/corpus-responses, and the recordings made here, go through the
reader and back through the writer, and the writer's events fold (with
``deltafold.responses.assemble``) to the answer the recording folds to. The writer's
events are also checked against the OpenAI SDK's own event types.
"""

from __future__ import annotations

import functools
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import deltafold.responses as r
from conftest import corpus_entries
from deltafold import IncompleteStreamError, StreamError
from deltafold.convert._ops import (
    EXTENSION,
    Begin,
    Block,
    Close,
    Delta,
    Fail,
    Finish,
    Open,
    Step,
    Usage,
)
from deltafold.convert._read_responses import ResponsesReader
from deltafold.convert._write_responses import ResponsesWriter
from test_responses_corpus import _generated, raw_events

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def read(events: list[Any]) -> list[Step]:
    reader = ResponsesReader(limits=None, choice=None)
    steps: list[Step] = []
    for event in events:
        steps += reader.read(event)
    return steps + reader.close()


def write(steps: list[Step]) -> list[dict[str, Any]]:
    writer = ResponsesWriter()
    out: list[dict[str, Any]] = []
    for step in steps:
        out += writer.write(step)
    return out


def convert(events: list[Any]) -> list[dict[str, Any]]:
    return write(read(events))


@functools.cache
def sdk_classes() -> dict[str, Any]:
    """The OpenAI SDK's class of each Responses stream event, by its ``type``."""
    from openai.types.responses import ResponseStreamEvent

    union = typing.get_args(ResponseStreamEvent)[0]
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls
            for cls in typing.get_args(union)}


def sdk_valid(event: dict[str, Any]) -> bool:
    cls = sdk_classes().get(event["type"])
    if cls is None:
        return False
    try:
        cls.model_validate(event)
    except ValueError:
        return False
    return True


def sdk_check(events: list[dict[str, Any]]) -> None:
    """Each event validates as the OpenAI SDK's event of its type; numbers count up from 0."""
    for number, event in enumerate(events):
        assert event["sequence_number"] == number
        sdk_classes()[event["type"]].model_validate(event)


# --- events of a small stream -----------------------------------------------------------


BASE = {"id": "resp_1", "object": "response", "created_at": 7, "model": "gpt-x", "output": [],
        "tools": [], "tool_choice": "auto", "parallel_tool_calls": True}


def created(**fields: Any) -> dict[str, Any]:
    response = {**BASE, "status": "in_progress", **fields}
    return {"type": "response.created", "response": response}


def terminal(kind: str = "response.completed", **fields: Any) -> dict[str, Any]:
    status = kind.rpartition(".")[2]
    response = {**BASE, "status": status, **fields}
    return {"type": kind, "response": response}


def added(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def done(index: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def text_delta(text: str, index: int = 0, item_id: str = "msg_1") -> dict[str, Any]:
    return {"type": "response.output_text.delta", "output_index": index, "content_index": 0,
            "item_id": item_id, "delta": text}


MESSAGE = {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress",
           "content": []}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
        "arguments": "", "status": "in_progress"}


def of(steps: list[Step], cls: type) -> list[Any]:
    return [step for step in steps if isinstance(step, cls)]


# --- the reader's rules -----------------------------------------------------------------


def test_arguments_only_in_the_done_event_are_in_the_close_and_in_the_written_stream() -> None:
    events = [
        created(), added(0, CALL),
        {"type": "response.function_call_arguments.done", "output_index": 0,
         "item_id": "fc_1", "arguments": '{"city": "Paris"}'},
        done(0, {**CALL, "status": "completed"}),  # a lean gateway: no arguments here
        terminal(output=[]),
    ]
    steps = read(events)
    assert of(steps, Delta) == []
    [close] = of(steps, Close)
    assert (close.final.text, close.final.id, close.final.name) == (
        '{"city": "Paris"}', "call_1", "get_weather")
    assert of(steps, Finish)[0].reason == "tool_calls"
    out = convert(events)
    deltas = [e["delta"] for e in out if e["type"] == "response.function_call_arguments.delta"]
    assert deltas == ['{"city": "Paris"}']  # the tail the deltas lacked, sent as a delta
    [call] = r.assemble(out).output
    assert isinstance(call, r.FunctionCall)
    assert (call.call_id, call.arguments, call.id) == ("call_1", '{"city": "Paris"}', "fc_1")


def test_reasoning_summary_parts_and_encrypted_content_survive() -> None:
    item = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "ENC=="}
    where = {"output_index": 0, "item_id": "rs_1"}
    events = [created(), added(0, item)]
    for n, text in enumerate(["First **part**.", "Second part."]):
        events += [
            {"type": "response.reasoning_summary_part.added", **where, "summary_index": n,
             "part": {"type": "summary_text", "text": ""}},
            {"type": "response.reasoning_summary_text.delta", **where, "summary_index": n,
             "delta": text},
        ]
    summary = [{"type": "summary_text", "text": "First **part**."},
               {"type": "summary_text", "text": "Second part."}]
    events += [done(0, {**item, "summary": summary}), terminal(output=[])]
    steps = read(events)
    assert [s.text for s in of(steps, Delta)] == ["First **part**.", "\n\n", "Second part."]
    [open_] = of(steps, Open)
    assert open_.kind == "reasoning" and open_.id == "rs_1"
    [close] = of(steps, Close)
    assert close.final.summary is True
    assert close.final.signature == "ENC=="
    assert close.final.text == "First **part**.\n\nSecond part."
    out = convert(events)
    sdk_check(out)
    [reasoning] = r.assemble(out).output
    assert isinstance(reasoning, r.Reasoning)
    assert [p.text for p in reasoning.summary] == ["First **part**.", "Second part."]
    assert reasoning.encrypted_content == "ENC==" and reasoning.id == "rs_1"


@pytest.mark.parametrize(("reason", "neutral"), [
    ("max_output_tokens", "length"), ("content_filter", "content_filter"),
])
def test_incomplete_gives_its_reason_and_keeps_usage(reason: str, neutral: str) -> None:
    usage = {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 4},
             "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 1},
             "total_tokens": 15}
    events = [created(), added(0, MESSAGE), text_delta("Hel"),
              terminal("response.incomplete", incomplete_details={"reason": reason},
                       usage=usage)]
    steps = read(events)
    [finish] = of(steps, Finish)
    assert finish.reason == neutral
    assert finish.usage == Usage(12, 3, 15, cache_read=4, reasoning_tokens=1,
                                 carry={"format": "responses"})
    assert [type(s).__name__ for s in steps] == ["Begin", "Open", "Delta", "Close", "Finish"]
    out = convert(events)
    assert out[-1]["type"] == "response.incomplete"
    folded = r.assemble(out)
    assert folded.incomplete_details is not None
    assert folded.incomplete_details.reason == reason
    assert folded.output_text == "Hel"
    assert folded.to_dict()["usage"] == usage


def test_a_foreign_finish_maps_to_the_terminal_event() -> None:
    for reason, kind, detail in [
        ("stop", "response.completed", None), ("tool_calls", "response.completed", None),
        ("length", "response.incomplete", "max_output_tokens"),
        ("refusal", "response.incomplete", "content_filter"),
        ("pause", "response.completed", None),
    ]:
        out = write([Begin("resp_9", "m", 1), Finish(reason)])  # type: ignore[arg-type]
        assert out[-1]["type"] == kind
        details = out[-1]["response"]["incomplete_details"]
        assert (details and details["reason"]) == (detail or None)


@pytest.mark.parametrize("failure", [
    terminal("response.failed", error={"code": "server_error", "message": "boom"}),
    {"type": "error", "code": "server_error", "message": "boom", "param": None},
])
def test_a_failure_is_a_fail_step_and_a_response_failed(failure: dict[str, Any]) -> None:
    events = [created(), added(0, MESSAGE), text_delta("Part")]
    steps = read([*events, failure])
    assert [type(s).__name__ for s in steps] == ["Begin", "Open", "Delta", "Close", "Fail"]
    fail = steps[-1]
    assert isinstance(fail, Fail)
    assert (fail.message, fail.code) == ("boom", "server_error")
    out = convert([*events, failure])
    assert out[-1]["type"] == "response.failed"
    assert out[-1]["response"]["error"]["code"] == "server_error"
    with pytest.raises(StreamError, match="boom") as caught:
        r.assemble(out)
    assert caught.value.partial is not None
    assert caught.value.partial.output_text == "Part"  # type: ignore[union-attr]


def test_events_after_the_terminal_are_read_without_steps() -> None:
    reader = ResponsesReader(limits=None, choice=None)
    for event in [created(), added(0, MESSAGE), text_delta("Hi"), terminal()]:
        reader.read(event)
    assert reader.read({"type": "keepalive"}) == []
    assert reader.read(text_delta("late")) == []
    assert reader.read({"type": "error", "message": "late"}) == []
    assert reader.close() == []


def test_a_truncated_stream_raises_with_the_partial() -> None:
    reader = ResponsesReader(limits=None, choice=None)
    steps: list[Step] = []
    for event in [created(), added(0, MESSAGE), text_delta("Hal")]:
        steps += reader.read(event)
    assert of(steps, Finish) == []
    with pytest.raises(IncompleteStreamError, match="without a terminal event") as caught:
        reader.close()
    partial = caught.value.partial
    assert isinstance(partial, r.Response) and partial.output_text == "Hal"


def test_an_item_id_changing_on_every_event_is_one_block() -> None:
    events = [created(), added(0, MESSAGE)]
    events += [text_delta(t, item_id=f"x{n}") for n, t in enumerate(["He", "ll", "o"])]
    events += [{"type": "response.output_text.done", "output_index": 0, "content_index": 0,
                "item_id": "x9", "text": "Hello"}, terminal()]
    steps = read(events)
    assert len(of(steps, Open)) == 1
    assert {d.block for d in of(steps, Delta)} == {0}
    assert of(steps, Close)[0].final.text == "Hello"
    assert r.assemble(convert(events)).output_text == "Hello"


def test_a_custom_tool_call_is_a_custom_tool_block() -> None:
    item = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_7", "name": "sql",
            "input": "", "status": "in_progress"}
    events = [created(), added(0, item),
              {"type": "response.custom_tool_call_input.delta", "output_index": 0,
               "item_id": "ctc_1", "delta": "SELECT 1"},
              done(0, {**item, "input": "SELECT 1", "status": "completed"}), terminal()]
    steps = read(events)
    [open_] = of(steps, Open)
    assert (open_.kind, open_.tool_type) == ("tool", "custom")
    assert (open_.id, open_.name) == ("call_7", "sql")
    assert of(steps, Close)[0].final.tool_type == "custom"
    assert of(steps, Finish)[0].reason == "tool_calls"
    out = convert(events)
    sdk_check(out)
    [call] = r.assemble(out).output
    assert isinstance(call, r.CustomToolCall)
    assert (call.call_id, call.name, call.input) == ("call_7", "sql", "SELECT 1")


def test_a_hosted_tool_item_is_an_other_block_with_its_final_dict() -> None:
    search = {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}
    final = {**search, "status": "completed", "action": {"type": "search", "query": "q"}}
    events = [created(), added(0, search),
              {"type": "response.web_search_call.searching", "output_index": 0,
               "item_id": "ws_1"}, done(0, final), terminal()]
    steps = read(events)
    [close] = of(steps, Close)
    assert close.final.kind == "other" and close.final.raw == final
    assert of(steps, Finish)[0].reason == "stop"
    assert r.assemble(convert(events)).to_dict()["output"] == [final]


# --- the writer, from another format's steps --------------------------------------------


FOREIGN: list[Step] = [
    Begin("abc", "claude-x", 5, carry={"format": "messages", "service_tier": "standard"}),
    Open(0, "reasoning"), Delta(0, "think"),
    Close(0, Block("reasoning", "think", signature="SIG", carry={"format": "messages"})),
    Open(1, "text"), Delta(1, "Hi"),
    Close(1, Block("text", "Hi there", annotations=[
        {"type": "url_citation", "url_citation": {"url": "https://a", "title": "A",
                                                  "start_index": 0, "end_index": 2}},
        {"type": "web_search_result_location", "url": "https://b", "cited_text": "x"},
    ])),
    Open(2, "tool", id="toolu_1", name="f"), Delta(2, '{"a":'),
    Close(2, Block("tool", '{"a": 1}', id="toolu_1", name="f")),
    Open(3, "other"), Close(3, Block("other", raw={"type": "server_tool_use", "id": "s"})),
    Open(4, "tool", name="g"), Close(4, Block("tool", "{}", name="g")),
    Finish("tool_calls", usage=Usage(100, 20, None, cache_read=30, cache_write=40)),
]


def test_the_writer_streams_another_formats_answer_as_openai_does() -> None:
    out = write(FOREIGN)
    sdk_check(out)
    kinds = [e["type"] for e in out]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    folded = r.assemble(out)
    assert (folded.id, folded.model, folded.created_at) == ("abc", "claude-x", 5)
    reasoning, message, call, nameless = folded.output
    assert isinstance(reasoning, r.Reasoning)
    assert reasoning.content is not None and reasoning.content[0].to_dict()["text"] == "think"
    assert reasoning.encrypted_content == "SIG"
    assert isinstance(message, r.Message) and message.text == "Hi there"
    assert [a.url for a in message.content[0].annotations] == ["https://a"]  # type: ignore[attr-defined]
    assert isinstance(call, r.FunctionCall)
    assert (call.call_id, call.arguments, call.id) == ("toolu_1", '{"a": 1}', "fc_abc_2")
    assert isinstance(nameless, r.FunctionCall) and nameless.call_id == "call_abc_4"
    usage = folded.to_dict()["usage"]
    assert usage["input_tokens_details"] == {"cached_tokens": 30, "cache_write_tokens": 40}
    assert usage["total_tokens"] == 120
    extension = folded.extra[EXTENSION]
    assert extension["format"] == "messages" and extension["service_tier"] == "standard"
    assert "blocks" not in extension
    # A block Responses has no item for rides on the next item's added event, in its place;
    # citations of another format on their message's done event, by content index.
    added = [e for e in out if e["type"] == "response.output_item.added"]
    assert [EXTENSION in e for e in added] == [False, False, False, True]
    assert added[3][EXTENSION] == {"before": [{"raw": {"type": "server_tool_use", "id": "s"}}]}
    message_done = next(e for e in out if e["type"] == "response.output_item.done"
                        and e["output_index"] == 1)
    notes = message_done[EXTENSION]["parts"]["0"]["annotations"]
    assert notes[0]["type"] == "web_search_result_location"
    for item in folded.to_dict()["output"]:
        assert EXTENSION not in item
    closes = of(read(out), Close)  # read back: every block in its place, citations whole
    assert [c.final.kind for c in closes] == ["reasoning", "text", "tool", "other", "tool"]
    assert [a["type"] for a in closes[1].final.annotations] == [
        "url_citation", "web_search_result_location"]


def test_the_writer_never_buffers_text() -> None:
    writer = ResponsesWriter()
    writer.write(Begin("x"))
    writer.write(Open(0, "text"))
    [event] = writer.write(Delta(0, "Hel"))
    assert event["type"] == "response.output_text.delta" and event["delta"] == "Hel"
    assert (event["item_id"], event["output_index"], event["content_index"]) == ("msg_x_0", 0, 0)


def test_steps_read_back_from_the_writers_events_are_the_same_answer() -> None:
    out = write(FOREIGN)
    closes = {c.block: c.final for c in of(read(out), Close)}
    assert closes[0].signature == "SIG" and closes[0].text == "think"
    assert closes[2].text == '{"a": 1}' and closes[2].id == "toolu_1"
    begin = read(out)[0]
    assert isinstance(begin, Begin) and begin.carry["format"] == "messages"


# --- to_param ---------------------------------------------------------------------------


def test_to_param_gives_the_output_back_as_input_items() -> None:
    response = r.Response(id="resp_1", output=[
        r.Reasoning(id="rs_1", summary=[r.SummaryText(text="s")], encrypted_content="ENC"),
        r.Message(id="msg_1", status="completed", content=[
            r.OutputText(text="Hi", logprobs=[r.Logprob(token="Hi")]),
            r.Refusal(refusal="no")]),
        r.FunctionCall(id="fc_1", call_id="call_1", name="f", arguments='{"a": 1}',
                       status="completed", parsed={"a": 1}),
    ])
    reasoning, message, call = response.to_param()
    assert reasoning == {"type": "reasoning", "id": "rs_1", "encrypted_content": "ENC",
                         "summary": [{"type": "summary_text", "text": "s"}]}
    assert message == {"type": "message", "id": "msg_1", "role": "assistant",
                       "status": "completed", "content": [
                           {"type": "output_text", "text": "Hi", "annotations": []},
                           {"type": "refusal", "refusal": "no"}]}
    assert call == {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f",
                    "arguments": '{"a": 1}', "status": "completed"}


def test_to_param_after_a_conversion_keeps_the_signature_and_call_ids() -> None:
    items = r.assemble(write(FOREIGN)).to_param()
    assert items[0]["encrypted_content"] == "SIG"
    assert [i["call_id"] for i in items if i["type"] == "function_call"] == [
        "toolu_1", "call_abc_4"]
    assert all(EXTENSION not in item for item in items)


# --- round trips: the recordings and generated responses --------------------------------


def _entries() -> list[Any]:
    entries = _generated() + corpus_entries("corpus-responses")
    return [pytest.param(e, id=str(e["path"])) for e in entries]


def _stripped(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recording with its terminal ``output`` emptied: the fold of its events alone."""
    return [{**e, "response": {**e["response"], "output": []}} if e["type"] in TERMINAL else e
            for e in events]


def essence(response: r.Response) -> dict[str, Any]:
    """What a conversion must keep: text, refusals, reasoning and its signature, calls,
    other items, status and reason, usage, the response's own fields."""
    wire = response.to_dict()
    items = []
    for item in response.output:
        if isinstance(item, r.Message):
            items.append(("message", item.id, [_part(p) for p in item.content]))
        elif isinstance(item, r.Reasoning):
            items.append(("reasoning", [p.text for p in item.summary],
                          [_part(p) for p in item.content or []]))
        elif isinstance(item, r.FunctionCall):
            items.append((item.type, item.id, item.call_id, item.name, item.arguments, item.status))
        elif isinstance(item, r.CustomToolCall):
            items.append((item.type, item.id, item.call_id, item.name, item.input, item.status))
        else:  # its blob is checked with the reasoning's: see signatures()
            items.append((item.type, {k: v for k, v in item.to_dict().items()
                                      if k != "encrypted_content"}))
    return {"output_text": response.output_text, "items": items,
            "top": {k: v for k, v in wire.items() if k != "output"}}


def _part(part: r.Part) -> Any:
    if isinstance(part, r.OutputText):
        return ("output_text", part.text, [a.to_dict() for a in part.annotations],
                [lp.to_dict() for lp in part.logprobs])
    if isinstance(part, r.Refusal):
        return ("refusal", part.refusal)
    if isinstance(part, r.ReasoningText):
        return ("reasoning_text", part.text)
    return part.to_dict()


def signatures(response: r.Response) -> list[tuple[str | None, Any]]:
    """Each reasoning item's id and blob, and any other item's blob (a compaction's)."""
    return [(i.id, i.to_dict().get("encrypted_content")) for i in response.output
            if isinstance(i, r.Reasoning) or "encrypted_content" in i.extra]


LOGPROBS_NOT_CARRIED = {"pydantic-ai/text-logprobs-gpt-4o-mini.sse"}
"""Log probabilities have no neutral field: the round trip gives the text without them."""


@pytest.mark.parametrize("entry", _entries())
def test_a_recording_comes_back_through_reader_and_writer(entry: dict[str, Any]) -> None:
    events = raw_events(Path(entry["file"]))
    out = convert(events)
    again = r.assemble(out)
    original = r.assemble(events)
    expected, got = essence(original), essence(again)
    if entry["path"] in LOGPROBS_NOT_CARRIED:
        for items in (expected["items"], got["items"]):
            for n, item in enumerate(items):
                if item[0] == "message":
                    items[n] = (*item[:2], [p[:3] for p in item[2]])
    assert got == expected
    # The reasoning's id and blob as its item's done event gave them (a terminal object
    # may carry a freshly encrypted blob, or a new id: both valid, see test_responses_corpus).
    assert signatures(again) == signatures(r.assemble(_stripped(events)))
    assert [e["sequence_number"] for e in out] == list(range(len(out)))


@pytest.mark.parametrize("entry", _entries())
def test_a_recording_converted_validates_as_the_sdks_events(entry: dict[str, Any]) -> None:
    events = raw_events(Path(entry["file"]))
    out = convert(events)
    valid: dict[str, bool] = {}  # per event type: every event of the recording validates
    for event in events:
        valid[event["type"]] = valid.get(event["type"], True) and sdk_valid(event)
    checked = [e for e in out if valid.get(e["type"])]
    assert checked or not any(valid.values())
    for event in checked:
        sdk_classes()[event["type"]].model_validate(event)  # never worse than the source


def _responses() -> st.SearchStrategy[r.Response]:
    text = st.text(min_size=0, max_size=30)
    reasoning = st.builds(
        lambda parts, enc, n: r.Reasoning(
            id=f"rs_{n}", summary=[r.SummaryText(text=p) for p in parts], encrypted_content=enc),
        st.lists(st.text(min_size=1, max_size=20), max_size=3),
        st.none() | st.text(alphabet="abcXYZ=", min_size=1, max_size=12), st.integers(0, 9))
    message = st.builds(
        lambda t, refusal, n: r.Message(id=f"msg_{n}", status="completed", content=[
            r.Refusal(refusal=t) if refusal else r.OutputText(text=t)]),
        text, st.booleans(), st.integers(0, 9))
    call = st.builds(
        lambda args, n: r.FunctionCall(id=f"fc_{n}", call_id=f"call_{n}", name="f",
                                       arguments=args, status="completed"),
        text, st.integers(0, 9))
    return st.builds(
        lambda output, incomplete, tokens: r.Response(
            id="resp_h", created_at=3, model="m", output=output,
            status="incomplete" if incomplete else "completed",
            incomplete_details=r.IncompleteDetails(reason="max_output_tokens")
            if incomplete else None,
            usage=r.ResponseUsage(input_tokens=tokens, output_tokens=2,
                                  total_tokens=tokens + 2)),
        st.lists(st.one_of(reasoning, message, call), max_size=4), st.booleans(),
        st.integers(0, 1000))


@given(_responses(), st.integers(0, 2**16), st.booleans())
def test_generated_responses_round_trip(response: r.Response, seed: int, lean: bool) -> None:
    events = r.split(response, chunk_chars=3, seed=seed, lean=lean)
    assert essence(r.assemble(convert(events))) == essence(r.assemble(events))


@given(_responses(), st.integers(0, 2**16), st.data())
def test_a_stream_cut_anywhere_before_its_end_raises_at_close(
    response: r.Response, seed: int, data: st.DataObject
) -> None:
    events = r.split(response, chunk_chars=3, seed=seed)
    cut = data.draw(st.integers(1, len(events) - 1))
    reader = ResponsesReader(limits=None, choice=None)
    steps: list[Step] = []
    for event in events[:cut]:
        steps += reader.read(event)
    assert of(steps, Finish) == []
    opened = {s.block for s in of(steps, Open)}
    assert {s.block for s in of(steps, Delta)} <= opened
    with pytest.raises(IncompleteStreamError) as caught:
        reader.close()
    assert isinstance(caught.value.partial, r.Response)


def test_a_reasoning_item_with_only_its_id_survives_chat_and_messages() -> None:
    """OpenAI's reasoning item without a summary or encrypted content (``store`` keeps it,
    and the next turn names it by id) comes back whole from either other format; in chat
    it is an empty ``reasoning_details`` entry that holds the id, as OpenRouter writes it."""
    from deltafold import assemble, convert

    item = {"type": "reasoning", "id": "rs_1", "summary": []}
    message = {**MESSAGE, "status": "completed",
               "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}
    events = [created(), added(0, item), done(0, item), added(1, MESSAGE), text_delta("Hi", 1),
              done(1, message), terminal(output=[item, message])]
    source = r.assemble(events)
    chat = list(convert.stream(events, to="chat"))
    details = assemble(chat).choices[0].message.reasoning_details or []
    assert [(detail.id, detail.text) for detail in details] == [("rs_1", "")]
    for target in ("chat", "messages"):
        there = list(convert.stream(events, to=target))
        back = r.assemble(list(convert.stream(there, to="responses")))
        assert [i.to_dict() for i in back.output] == [i.to_dict() for i in source.output], target


@pytest.mark.parametrize("signed", [False, True])
def test_a_reasoning_item_that_ends_after_the_message_comes_back_once(signed: bool) -> None:
    """OpenRouter's Responses stream ends the reasoning item after the message. Through chat
    its details arrive after the answer's text: they repeat what the reasoning streamed and
    open no third item, and the message keeps its own id; a token they hold (the
    encrypted content) is kept, in a reasoning item of its own after the message."""
    from deltafold import convert

    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "content": []}
    final = {**reasoning, "content": [{"type": "reasoning_text", "text": "Think."}]}
    if signed:
        final["encrypted_content"] = "gAAA-token"
    message = {**MESSAGE, "status": "completed",
               "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}
    events = [
        created(), added(0, reasoning),
        {"type": "response.reasoning_text.delta", "output_index": 0, "content_index": 0,
         "item_id": "rs_1", "delta": "Think."},
        added(1, MESSAGE), text_delta("Hi", 1), done(1, message), done(0, final),
        terminal(output=[final, message]),
    ]
    chat = list(convert.stream(events, to="chat"))
    back = r.assemble(list(convert.stream(chat, to="responses")))
    kinds = [(item.type, item.id) for item in back.output]
    if not signed:
        assert kinds == [("reasoning", "rs_1"), ("message", "msg_1")]
        assert back.output[0].to_dict() == final
    else:
        assert kinds == [("reasoning", "rs_1"), ("message", "msg_1"), ("reasoning", "rs_1")]
        assert back.output[2].to_dict().get("encrypted_content") == "gAAA-token"
    assert back.output[1].to_dict() == message
