"""``deltafold.convert``'s public verbs: what they take, what they give, and the mistakes.

``stream``, ``astream`` (asyncio and trio), the sans-IO ``Converter``, ``to_sse`` /
``ato_sse`` and ``result``, on one recording of each format (tests/convert_samples.py):
every form of source gives the same events (a body as SSE, JSON lines or a JSON
array, bytes or text or a file; a list of dicts; SSE pieces cut anywhere; typed
objects; a finished result); a conversion to the same format passes the events
through as they are; and each mistake a user makes gets its typed error saying what
to do. What a conversion keeps, field by field, is tests/test_convert_roundtrip.py's.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import pytest

import deltafold
import deltafold.messages as m
import deltafold.responses as r
from convert_samples import sample
from convert_views import FORMATS, comparable, data_events, expected_in, folded_view, view
from deltafold import (
    ConversionError,
    EmptyStreamError,
    IncompleteStreamError,
    WrongFormatError,
    convert,
)

ASSEMBLE = {"chat": deltafold.assemble, "responses": r.assemble, "messages": m.assemble}
RESULT = {"chat": deltafold.ChatCompletion, "responses": r.Response, "messages": m.Message}


def pieces(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def typed(fmt: str, events: list[dict[str, Any]]) -> list[Any]:
    """The events as the format's SDK (or deltafold, for chat) types them."""
    if fmt == "chat":
        return [deltafold.from_dict(deltafold.ChatCompletionChunk, e) for e in events]
    if fmt == "responses":
        from openai._models import construct_type
        from openai.types.responses import ResponseStreamEvent

        return [construct_type(type_=ResponseStreamEvent, value=e) for e in events]
    from anthropic._models import construct_type as construct
    from anthropic.types import RawMessageStreamEvent

    return [construct(type_=RawMessageStreamEvent, value=e) for e in events]


def sources(fmt: str) -> dict[str, Any]:
    """Every form of the same stream a conversion takes."""
    body = sample(fmt)
    events = data_events(body)
    return {
        "sse bytes": body,
        "sse text": body.decode(),
        "file": io.BytesIO(body),
        "json lines": b"".join(json.dumps(e).encode() + b"\n" for e in events),
        "json array": json.dumps(events),
        "list of dicts": events,
        "json texts": [json.dumps(e) for e in events],
        "sse pieces of 1 byte": pieces(body, 1),
        "sse pieces of 7 bytes": iter(pieces(body, 7)),
        "typed objects": typed(fmt, events),
    }


FORMS = list(sources("chat"))


def _stable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events without a Responses ``created_at`` stamped at conversion time (a Messages
    source has no creation time, and the Responses object must have one)."""
    out = []
    for event in events:
        response = event.get("response")
        if isinstance(response, dict) and "created_at" in response:
            event = {**event, "response": {**response, "created_at": 0}}
        out.append(event)
    return out


# --- stream: any source, same format and across --------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_format_passes_every_event_through(fmt: str) -> None:
    body = sample(fmt)
    out = list(convert.stream(body, to=fmt))
    assert out == data_events(body)
    assert ASSEMBLE[fmt](out) == ASSEMBLE[fmt](body)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_every_form_of_a_source_converts_the_same(fmt: str, target: str, form: str) -> None:
    """A body, events, pieces cut anywhere or typed objects: the same target events.

    (Typed chat chunks are read as their ``to_dict``, which leaves out null fields: the
    same answer, not the same bytes.)
    """
    want = _stable(list(convert.stream(data_events(sample(fmt)), to=target)))
    assert want, "the conversion gave no event"
    got = _stable(list(convert.stream(sources(fmt)[form], to=target)))
    if form == "typed objects" and fmt == "chat":
        assert folded_view(got, target) == folded_view(want, target)
    else:
        assert got == want


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_a_finished_result_is_its_split(fmt: str, target: str) -> None:
    folded = ASSEMBLE[fmt](sample(fmt))
    out = list(convert.stream(folded, to=target))
    if fmt == target:
        assert ASSEMBLE[fmt](out) == folded
    want = expected_in(view(folded), target)
    got = comparable(folded_view(out, target), target, view(folded))
    assert got.text == want.text and got.calls == want.calls and got.finish == want.finish
    assert got.signatures == want.signatures and got.usage == want.usage


def test_source_format_given_skips_detection() -> None:
    events = data_events(sample("messages"))
    assert list(convert.stream(events, to="chat", source_format="messages")) == list(
        convert.stream(events, to="chat")
    )


def test_events_that_name_no_format_wait_for_one_that_does() -> None:
    """A Messages stream may open with ``ping``: it is held until ``message_start`` says the
    format, then both pass (in a conversion to the same format)."""
    events = data_events(sample("messages"))
    converter = convert.Converter(to="messages")
    assert converter.feed({"type": "ping"}) == []
    assert converter.source_format is None
    assert converter.feed(events[0]) == [{"type": "ping"}, events[0]]
    assert converter.source_format == "messages"


# --- astream and ato_sse ----------------------------------------------------------------


async def _aiter(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


@pytest.mark.anyio
@pytest.mark.parametrize("target", FORMATS)
async def test_astream_reads_sse_pieces_off_a_socket(target: str, anyio_backend: str) -> None:
    body = sample("chat")
    want = list(convert.stream(body, to=target))
    got = [e async for e in convert.astream(_aiter(pieces(body, 5)), to=target)]
    assert got == want
    events = data_events(body)
    assert [e async for e in convert.astream(_aiter(events), to=target)] == want
    assert [e async for e in convert.astream(body, to=target)] == want  # a sync source too


@pytest.mark.anyio
@pytest.mark.parametrize("target", FORMATS)
async def test_ato_sse_frames_as_to_sse_does(target: str, anyio_backend: str) -> None:
    events = list(convert.stream(sample("messages"), to=target))
    framed = b"".join([piece async for piece in convert.ato_sse(_aiter(events), target)])
    assert framed == b"".join(convert.to_sse(events, target))


@pytest.mark.anyio
async def test_astream_raises_what_stream_raises(anyio_backend: str) -> None:
    events = data_events(sample("messages"))[:-1]  # no message_stop
    with pytest.raises(IncompleteStreamError):
        [e async for e in convert.astream(_aiter(events), to="messages")]


# --- Converter ----------------------------------------------------------------------------


@pytest.mark.parametrize("target", FORMATS)
def test_converter_feed_and_close_give_what_stream_gives(target: str) -> None:
    events = data_events(sample("responses"))
    converter = convert.Converter("responses", target)
    out = []
    for event in events:
        out += converter.feed(event)
    out += converter.close()
    assert out == list(convert.stream(events, to=target))
    assert converter.closed
    assert converter.finished or target == "responses"  # same format: no Finish step
    assert converter.close() == []


def test_a_closed_converter_refuses_more() -> None:
    converter = convert.Converter(to="chat")
    for event in data_events(sample("chat")):
        converter.feed(event)
    converter.close()
    with pytest.raises(ValueError, match="closed"):
        converter.feed({"choices": []})


def test_events_after_an_error_event_are_not_written() -> None:
    """An error event ends the conversion: it passes (as the target's error), nothing after."""
    start = data_events(sample("messages"))[:3]
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    converter = convert.Converter(to="messages")
    out = [e for event in [*start, error] for e in converter.feed(event)]
    assert out == [*start, error] and converter.finished
    assert converter.feed(start[1]) == []


# --- to_sse -----------------------------------------------------------------------------


@pytest.mark.parametrize("target", FORMATS)
def test_to_sse_frames_as_the_targets_server(target: str) -> None:
    events = list(convert.stream(sample("chat"), to=target))
    framed = list(convert.to_sse(events, target))
    body = b"".join(framed)
    assert data_events(body) == events
    if target == "chat":
        assert framed[-1] == b"data: [DONE]\n\n" and b"event:" not in body
    else:
        assert len(framed) == len(events) and b"[DONE]" not in body
        for piece, event in zip(framed, events, strict=True):
            assert piece.startswith(f"event: {event['type']}\ndata: ".encode())
    assert ASSEMBLE[target](body) == ASSEMBLE[target](events)


# --- result -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_result_converts_a_finished_answer(fmt: str, target: str) -> None:
    folded = ASSEMBLE[fmt](sample(fmt))
    converted = convert.result(folded, to=target)
    assert isinstance(converted, RESULT[target])
    if fmt == target:
        assert converted is folded
    want = expected_in(view(folded), target)
    got = view(converted)
    assert (got.text, got.calls, got.signatures, got.finish) == (
        want.text, want.calls, want.signatures, want.finish
    )


def test_result_refuses_what_is_not_a_result() -> None:
    with pytest.raises(TypeError, match=r"convert.stream\(\)") as info:
        convert.result({"id": "x", "choices": []}, to="messages")
    assert "dict" in str(info.value)
    with pytest.raises(ValueError, match="'chat', 'responses', 'messages'"):
        convert.result(deltafold.assemble(sample("chat")), to="anthropic")


# --- the mistakes a user makes --------------------------------------------------------------


@pytest.mark.parametrize("given", FORMATS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_wrong_source_format_names_the_right_one(fmt: str, given: str) -> None:
    if given == fmt:
        return
    for target in FORMATS:
        with pytest.raises(WrongFormatError) as info:
            list(convert.stream(sample(fmt), to=target, source_format=given))
        assert info.value.found == fmt
        assert f"{fmt} stream" in str(info.value)
        assert f"pass source_format={fmt!r}" in str(info.value)  # a conversion's advice
        assert "assemble" not in str(info.value)


@pytest.mark.parametrize(
    "source",
    [b"", b": keep-alive\n\n", [{"type": "ping"}] * 3, [{}], b"data: [DONE]\n\n"],
    ids=["empty", "comments only", "pings only", "empty object", "only [DONE]"],
)
def test_a_stream_that_names_no_format_is_an_empty_stream(source: Any) -> None:
    with pytest.raises(EmptyStreamError, match="source_format="):
        list(convert.stream(source, to="messages"))


def test_unknown_format_names_list_the_names() -> None:
    with pytest.raises(ValueError, match="'chat', 'responses', 'messages'") as info:
        list(convert.stream(sample("chat"), to="anthropic"))
    assert "to='anthropic'" in str(info.value)
    with pytest.raises(ValueError, match="source_format='openai'"):
        convert.Converter("openai", "chat")
    with pytest.raises(ValueError, match="format='sse'"):
        list(convert.to_sse([], "sse"))


def test_a_source_that_is_no_stream_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"convert\.stream"):
        list(convert.stream(42, to="chat"))


@pytest.mark.parametrize("target", FORMATS)
def test_a_truncated_stream_raises_with_its_partial(target: str) -> None:
    """A Messages stream cut before ``message_stop``: the conversion never invents an end."""
    events = data_events(sample("messages"))
    cut = [e for e in events if e["type"] not in ("message_delta", "message_stop")]
    with pytest.raises(IncompleteStreamError) as info:
        list(convert.stream(cut, to=target))
    assert isinstance(info.value.partial, m.Message)
    assert view(info.value.partial).text == "Let me check."


def test_several_choices_into_one_answer_is_a_conversion_error() -> None:
    completion = {
        "id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": f"answer {i}"},
             "finish_reason": "stop"} for i in range(2)
        ],
    }
    chunks = list(deltafold.split(completion))
    for target in ("responses", "messages"):
        with pytest.raises(ConversionError, match="choice="):
            list(convert.stream(chunks, to=target))
        picked = ASSEMBLE[target](convert.stream(chunks, to=target, choice=1))
        assert view(picked).text == "answer 1"
    assert len(deltafold.assemble(convert.stream(chunks, to="chat")).choices) == 2


def test_closing_a_stream_closes_its_source() -> None:
    """``convert.stream`` closes as a generator does: the source is closed with it (a
    gateway whose client left), and nothing more is read."""
    closed: list[bool] = []
    lines = sample("messages").splitlines(keepends=True)

    def source() -> Iterator[bytes]:
        try:
            yield from lines
        finally:
            closed.append(True)

    with contextlib.closing(convert.stream(source(), to="chat")) as events:
        assert next(events)["object"] == "chat.completion.chunk"
        assert not closed
    assert closed == [True]
    assert list(events) == []
