"""Responses streams on the one core: parse_json, fold/afold and the sans-IO StreamCore."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import deltafold
import deltafold.responses as r
from deltafold._core import END, NEED_INPUT, StreamCore
from deltafold._events import ContentDelta, JSONDelta, JSONInvalid, ToolCallDone


@attrs.define
class Weather:
    city: str
    days: list[int]


def _response(arguments: str = '{"city": "Paris", "days": [1, 2]}', text: str = "Hi") -> Any:
    return r.Response(
        id="resp_1", status="completed", model="m", created_at=1,
        output=[
            r.FunctionCall(
                id="fc_1", call_id="call_1", name="get_weather", arguments=arguments,
                status="completed",
            ),
            r.Message(id="msg_1", content=[r.OutputText(text=text)]),
        ],
    )


def _events_of(acc: r.Accumulator, events: list[dict[str, Any]]) -> list[Any]:
    out: list[Any] = []
    for event in events:
        out += acc.feed(event)
    return out + acc.close()


def test_parse_json_parses_function_arguments_as_they_stream() -> None:
    events = r.split(_response())
    acc = r.Accumulator(parse_json=True)
    seen = _events_of(acc, events)
    deltas = [e for e in seen if isinstance(e, JSONDelta)]
    assert deltas and all(e.tool_index == 0 for e in deltas)
    done = next(e for e in seen if isinstance(e, ToolCallDone))
    assert seen.index(done) > seen.index(deltas[-1])
    result = acc.result()
    call = result.output[0]
    assert isinstance(call, r.FunctionCall)
    assert call.parsed == {"city": "Paris", "days": [1, 2]}
    assert call.parse_error is None
    assert result.parsed is None  # the text is not parsed with parse_json=True
    assert acc.partial_json(0, 0) is not None
    assert acc.partial_json(0, None) is None


def test_the_partial_value_grows_while_the_arguments_stream() -> None:
    events = r.split(_response(arguments='{"city": "Paris", "days": [1, 2, 3]}'))
    acc = r.Accumulator(parse_json="arguments")
    values = []
    for event in events:
        acc.feed(event)
        parser = acc.partial_json(0, 0)
        if parser is not None:
            values.append(repr(parser.value))
    assert len(set(values)) > 2  # seen partial: {}, {"city": "Pa"...}, ..., whole
    assert acc.result().output[0].parsed == {"city": "Paris", "days": [1, 2, 3]}


def test_content_and_all_parse_the_output_text() -> None:
    response = _response(text='{"answer": [1, {"b": null}]}')
    for option in ("content", "all"):
        got = r.assemble(r.split(response), parse_json=option)
        assert got.parsed == {"answer": [1, {"b": None}]}
        assert (got.output[0].parsed is None) is (option == "content")
    assert r.assemble(r.split(response), parse_json=False).parsed is None


def test_invalid_arguments_report_once_and_keep_the_text() -> None:
    events = r.split(_response(arguments='{"city": Paris}'))
    acc = r.Accumulator(parse_json=True)
    seen = _events_of(acc, events)
    invalid = [e for e in seen if isinstance(e, JSONInvalid)]
    assert len(invalid) == 1 and invalid[0].tool_index == 0
    call = acc.result().output[0]
    assert call.arguments == '{"city": Paris}'
    assert isinstance(call.parse_error, deltafold.JSONParseError)


def test_text_that_ends_early_is_invalid_at_close() -> None:
    events = r.split(_response(text='{"a": [1'))
    acc = r.Accumulator(parse_json="content")
    seen = _events_of(acc, events)
    assert [e for e in seen if isinstance(e, JSONInvalid)]
    assert acc.result().parse_error is not None


def test_a_done_event_with_other_arguments_restarts_the_parser() -> None:
    events = [
        {"type": "response.created", "response": {"id": "r", "status": "in_progress"}},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"type": "function_call", "call_id": "c", "name": "f", "arguments": ""}},
        {"type": "response.function_call_arguments.delta", "output_index": 0, "delta": '{"x"'},
        {"type": "response.function_call_arguments.done", "output_index": 0,
         "arguments": '{"y": 2}'},
        {"type": "response.completed", "response": {"id": "r", "status": "completed"}},
    ]
    got = r.assemble(events, parse_json=True)
    assert got.output[0].arguments == '{"y": 2}'
    assert got.output[0].parsed == {"y": 2}


def test_parse_arguments_and_parse_content_are_strict() -> None:
    got = r.assemble(r.split(_response(text='{"city": "Oslo", "days": []}')))
    assert got.output[0].parse_arguments(Weather) == Weather("Paris", [1, 2])
    assert got.parse_content(Weather) == Weather("Oslo", [])
    bad = r.assemble(r.split(_response(arguments='{"city": 5, "days": []}')))
    with pytest.raises(deltafold.StructuredOutputError, match=r"\$\.city"):
        bad.output[0].parse_arguments(Weather)


def test_parse_json_takes_only_its_values() -> None:
    with pytest.raises(TypeError, match="parse_json"):
        r.Accumulator(parse_json="everything")  # type: ignore[arg-type]


def test_fold_passes_items_through_and_folds_them() -> None:
    events = r.split(_response())
    with r.fold(iter(events)) as folding:
        passed = list(folding)
    assert passed == events
    assert folding.completion.output_text == "Hi"
    with pytest.raises(deltafold.IncompleteStreamError) as caught:
        r.fold(iter(events[:-1])).until_done()
    assert caught.value.partial.output_text == "Hi"


@pytest.mark.anyio
async def test_afold_folds_an_async_source() -> None:
    events = r.split(_response())

    async def source() -> Any:
        for event in events:
            yield event

    folding = r.afold(source())
    texts = [e async for e in folding]
    assert len(texts) == len(events)
    assert folding.completion.output[0].arguments == '{"city": "Paris", "days": [1, 2]}'


def test_the_stream_core_drives_a_responses_body_without_sockets() -> None:
    body = b"".join(r.to_sse(r.split(_response(text="Hello there"))))
    core = StreamCore(r.RESPONSES)
    texts: list[str] = []
    step: Any = NEED_INPUT
    for start in range(0, len(body), 7):
        core.feed(body[start:start + 7])
        while (step := core.next_events()) not in (NEED_INPUT, END):
            texts += [e.text for e in step if isinstance(e, ContentDelta)]
    core.feed_eof()
    while (step := core.next_events()) is not END:
        texts += [e.text for e in step if isinstance(e, ContentDelta)]
    assert "".join(texts) == "Hello there"
    assert core.completion.output_text == "Hello there"
    assert r.RESPONSES.summarize(core.completion).tool_calls == [
        {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris", "days": [1, 2]}'}
    ]


def test_a_done_marker_does_not_excuse_a_missing_terminal_event() -> None:
    events = r.split(_response())[:-1]  # no response.completed
    body = b"".join(r.to_sse(events)) + b"data: [DONE]\n\n"
    core = StreamCore(r.RESPONSES)
    core.feed(body)
    core.feed_eof()
    with pytest.raises(deltafold.IncompleteStreamError):
        core.drain()
