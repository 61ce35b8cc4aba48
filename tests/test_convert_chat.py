"""The chat format's side of conversion: ``ChatReader`` (chunks to neutral steps) and
``ChatWriter`` (neutral steps to chunks), each rule alone, then every recording read and
written back, folded by ``deltafold.assemble`` and compared with the original's fold."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import deltafold
from deltafold import ChatCompletionChunk, ConversionError, IncompleteStreamError, StreamError
from deltafold._limits import Limits
from deltafold._sse import ServerSentEvent
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
from deltafold.convert._read_chat import ChatReader
from deltafold.convert._source import items_of
from deltafold.convert._write_chat import ChatWriter
from recordings import read_recording, recording_params

SIG = "EqQBCkYIBxgCKkDsig=="
def call(index: int, id: str, name: str, arguments: str) -> dict[str, Any]:
    """A tool call's first fragment."""
    return {"index": index, "id": id, "type": "function",
            "function": {"name": name, "arguments": arguments}}


HEAD = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "m"}


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any
) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {**HEAD, "choices": choices, **top}


def read_all(items: list[Any], choice: int | None = None) -> list[Step]:
    reader = ChatReader(choice=choice)
    steps = [step for item in items for step in reader.read(item)]
    return steps + reader.close()


def write_all(steps: list[Step]) -> list[dict[str, Any]]:
    writer = ChatWriter()
    return [event for step in steps for event in writer.write(step)]


def convert(items: list[Any], choice: int | None = None) -> list[dict[str, Any]]:
    """Chat through ChatReader then ChatWriter (not the same-format pass-through)."""
    reader = ChatReader(choice=choice)
    writer = ChatWriter()
    out = [event for item in items for step in reader.read(item) for event in writer.write(step)]
    return out + [event for step in reader.close() for event in writer.write(step)]


def shape(steps: list[Step]) -> list[tuple[Any, ...]]:
    """Each step as (class, block, kind), for the block boundaries."""
    out: list[tuple[Any, ...]] = []
    for step in steps:
        if isinstance(step, Open):
            out.append(("Open", step.block, step.kind))
        elif isinstance(step, Close):
            out.append(("Close", step.block, step.final.kind))
        elif isinstance(step, Delta):
            out.append(("Delta", step.block))
        else:
            out.append((type(step).__name__,))
    return out


def compact(items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Runs of Deltas of one block counted as one."""
    out: list[tuple[Any, ...]] = []
    for item in items:
        if not (out and item[0] == "Delta" and out[-1] == item):
            out.append(item)
    return out


def fields(completion: deltafold.ChatCompletion, index: int = 0) -> dict[str, Any]:
    """What a conversion must keep of one choice: text, refusal, reasoning (its text and
    tokens), tool calls, finish reason, usage, the top-level identity.

    An empty content or refusal counts as none (``""`` and null say the same in chat),
    and reasoning sent only inside ``reasoning_details`` counts as the reasoning text
    (the writer always streams it as ``reasoning``, as OpenRouter does)."""
    choice = next(c for c in completion.choices if c.index == index)
    message = choice.message
    details = message.reasoning_details
    reasoning = message.reasoning
    if reasoning is None and any(d.text or d.summary for d in details):
        reasoning = "".join(d.text or d.summary or "" for d in details)
    call = message.function_call
    return {
        "content": message.content or None,
        "refusal": message.refusal or None,
        "reasoning": reasoning,
        "tokens": [(d.type, d.signature, d.data) for d in details],
        "tool_calls": [(t.id, t.function.name, t.function.arguments) for t in message.tool_calls],
        "function_call": None if call is None else (call.name, call.arguments),
        "finish_reason": choice.finish_reason,
        "usage": completion.usage,
        "top": (completion.id, completion.model, completion.created, completion.provider,
                completion.system_fingerprint, completion.service_tier),
    }


def folded(events: Any) -> deltafold.ChatCompletion:
    """The fold of a stream; a stream ended by an error gives the fold's partial."""
    try:
        return deltafold.assemble(events)
    except StreamError as exc:
        assert isinstance(exc.partial, deltafold.ChatCompletion)
        return exc.partial


# --- block boundaries ----------------------------------------------------------------


def test_a_block_opens_at_each_change_of_kind_and_each_tool_call() -> None:
    items = [
        chunk({"role": "assistant"}),
        chunk({"reasoning": "think "}),
        chunk({"reasoning": "more"}),
        chunk({"content": "Hello"}),
        chunk({"content": " there"}),
        chunk({"tool_calls": [call(0, "c0", "f", "")]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]}),
        chunk({"tool_calls": [call(1, "c1", "g", "{}")]}),
        chunk({}, "tool_calls"),
        chunk(usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}),
    ]
    steps = read_all(items)
    assert compact(shape(steps)) == [
        ("Begin",),
        ("Open", 0, "reasoning"), ("Delta", 0), ("Close", 0, "reasoning"),
        ("Open", 1, "text"), ("Delta", 1), ("Close", 1, "text"),
        ("Open", 2, "tool"), ("Delta", 2), ("Close", 2, "tool"),
        ("Open", 3, "tool"), ("Delta", 3), ("Close", 3, "tool"),
        ("Finish",),
    ]
    begin = steps[0]
    assert isinstance(begin, Begin) and (begin.id, begin.model, begin.created) == (
        "chatcmpl-1", "m", 1700000000
    )
    opens = [s for s in steps if isinstance(s, Open) and s.kind == "tool"]
    assert [(s.id, s.name) for s in opens] == [("c0", "f"), ("c1", "g")]
    closes = {s.block: s.final for s in steps if isinstance(s, Close)}
    assert closes[0].text == "think more" and closes[1].text == "Hello there"
    assert (closes[2].id, closes[2].name, closes[2].text) == ("c0", "f", '{"a": 1}')
    finish = steps[-1]
    assert isinstance(finish, Finish) and finish.reason == "tool_calls"
    assert finish.usage is not None
    assert (finish.usage.input_tokens, finish.usage.total_tokens) == (3, 7)


def test_each_reasoning_detail_is_its_own_block_with_its_own_signature() -> None:
    """Two Anthropic thinking blocks (OpenRouter: details index 0 and 1), each signed."""
    items = [chunk({"role": "assistant"})]
    for index, text in ((0, "first thought"), (1, "second thought")):
        detail = {"type": "reasoning.text", "format": "anthropic-claude-v1", "index": index}
        items.append(chunk({"reasoning": text, "reasoning_details": [{**detail, "text": text}]}))
        items.append(chunk({"reasoning_details": [{**detail, "signature": f"{SIG}{index}"}]}))
    items += [chunk({"content": "answer"}), chunk({}, "stop")]
    steps = read_all(items)
    finals = [s.final for s in steps if isinstance(s, Close)]
    assert [(f.kind, f.text, f.signature) for f in finals] == [
        ("reasoning", "first thought", f"{SIG}0"),
        ("reasoning", "second thought", f"{SIG}1"),
        ("text", "answer", None),
    ]
    back = deltafold.assemble(write_all(steps)).choices[0].message
    assert [(d.text, d.signature, d.format) for d in back.reasoning_details] == [
        ("first thought", f"{SIG}0", "anthropic-claude-v1"),
        ("second thought", f"{SIG}1", "anthropic-claude-v1"),
    ]
    assert back.reasoning == "first thoughtsecond thought"


def test_details_before_the_reasoning_text_in_a_delta_are_not_read_twice() -> None:
    detail = {"type": "reasoning.text", "index": 0}
    items = [
        chunk({"role": "assistant", "reasoning_details": [{**detail, "text": "ab"}],
               "reasoning": "ab"}),
        chunk({"reasoning_details": [{**detail, "text": "c"}], "reasoning": "c"}),
        chunk({"reasoning_details": [{**detail, "signature": SIG}]}),
        chunk({}, "stop"),
    ]
    steps = read_all(items)
    assert [s.text for s in steps if isinstance(s, Delta)] == ["ab", "c"]
    assert fields(deltafold.assemble(write_all(steps))) == fields(deltafold.assemble(items))


def test_reasoning_only_inside_details_is_the_blocks_text() -> None:
    """Snowflake's shape: no ``reasoning`` field, the text in the details alone."""
    detail = {"type": "reasoning.text", "index": 0, "id": "r1"}
    items = [
        chunk({"role": "assistant", "reasoning_details": [{**detail, "text": "15"}]}),
        chunk({"reasoning_details": [{**detail, "text": " * 27"}]}),
        chunk({"content": "405"}),
        chunk({}, "stop"),
    ]
    steps = read_all(items)
    assert [s.text for s in steps if isinstance(s, Delta)] == ["15", " * 27", "405"]
    final = next(s.final for s in steps if isinstance(s, Close))
    assert (final.kind, final.text, final.id) == ("reasoning", "15 * 27", "r1")


def test_encrypted_reasoning_is_the_block_token() -> None:
    """OpenAI's reasoning through OpenRouter: a summary, then its encrypted form (same id)."""
    rid = "rs_1"
    items = [
        chunk({"role": "assistant", "reasoning": "Plan: add.", "reasoning_details": [
            {"type": "reasoning.summary", "summary": "Plan: add.", "id": rid, "index": 0,
             "format": "openai-responses-v1"}]}),
        chunk({"reasoning_details": [{"type": "reasoning.encrypted", "data": "gAAAA==",
                                      "id": rid, "index": 0, "format": "openai-responses-v1"}]}),
        chunk({"content": "4"}),
        chunk({}, "stop"),
    ]
    steps = read_all(items)
    final = next(s.final for s in steps if isinstance(s, Close) and s.final.kind == "reasoning")
    assert (final.text, final.summary, final.signature, final.redacted, final.id) == (
        "Plan: add.", True, "gAAAA==", False, rid
    )
    assert fields(deltafold.assemble(write_all(steps))) == fields(deltafold.assemble(items))


def test_encrypted_reasoning_alone_is_redacted() -> None:
    items = [
        chunk({"role": "assistant", "content": "", "reasoning_details": [
            {"type": "reasoning.encrypted", "data": "opaque", "index": 0}]}),
        chunk({"content": "hi"}),
        chunk({}, "stop"),
    ]
    steps = read_all(items)
    final = next(s.final for s in steps if isinstance(s, Close) and s.final.kind == "reasoning")
    assert (final.text, final.signature, final.redacted) == ("", "opaque", True)


def test_foreign_reasoning_is_written_as_openrouter_writes_it() -> None:
    """A Messages thinking block, a redacted one, and a Responses summary with its
    encrypted content: ``reasoning`` text, and ``reasoning_details`` with the tokens."""
    steps: list[Step] = [Begin("msg_1", "claude", 1, {"format": "messages"})]
    blocks = [
        Block("reasoning", "step by step", signature="sig-a"),
        Block("reasoning", "", signature="redacted-data", redacted=True),
        Block("reasoning", "summary text", id="rs_9", summary=True, signature="enc"),
    ]
    for n, block in enumerate(blocks):
        steps += [Open(n, "reasoning"), Delta(n, block.text), Close(n, block)]
    steps.append(Finish("stop"))
    chunks = write_all(steps)
    message = deltafold.assemble(chunks).choices[0].message
    assert message.reasoning == "step by stepsummary text"
    assert [d.to_dict() for d in message.reasoning_details] == [
        {"type": "reasoning.text", "text": "step by step", "signature": "sig-a", "index": 0},
        {"type": "reasoning.encrypted", "data": "redacted-data", "index": 1},
        {"type": "reasoning.summary", "summary": "summary text", "id": "rs_9", "index": 2},
        {"type": "reasoning.encrypted", "data": "enc", "id": "rs_9", "index": 3},
    ]
    again = [s.final for s in read_all(chunks) if isinstance(s, Close)]
    assert [(f.text, f.signature, f.redacted, f.summary) for f in again] == [
        (b.text, b.signature, b.redacted, b.summary) for b in blocks
    ]


# --- final forms -----------------------------------------------------------------------


def test_a_final_that_extends_the_deltas_is_written_as_a_last_delta() -> None:
    """Arguments or text that arrived only in a ``.done`` event are not lost."""
    steps: list[Step] = [
        Begin("r1", "m", 5),
        Open(0, "text"), Delta(0, "Hel"), Close(0, Block("text", "Hello")),
        Open(1, "tool", "call_1", "lookup"),
        Close(1, Block("tool", '{"q": "x"}', "call_1", "lookup")),
        Open(2, "tool", "call_2", "other"), Delta(2, '{"a"'),
        Close(2, Block("tool", '{"a": 2}', "call_2", "other")),
        Finish("tool_calls"),
    ]
    message = deltafold.assemble(write_all(steps)).choices[0].message
    assert message.content == "Hello"
    assert [(t.id, t.function.name, t.function.arguments) for t in message.tool_calls] == [
        ("call_1", "lookup", '{"q": "x"}'), ("call_2", "other", '{"a": 2}'),
    ]


def test_a_piece_the_fold_would_take_for_resent_arguments_is_cut() -> None:
    """Chat's fold takes a piece that starts with all the arguments so far for the whole
    re-sent; the writer cuts such a piece so the text is carried exactly."""
    pieces = ['{"a": ', '{"a": {"a": 1}}', "}"]
    steps: list[Step] = [Begin("r", "m", 1), Open(0, "tool", "c", "f")]
    steps += [Delta(0, piece) for piece in pieces]
    steps += [Close(0, Block("tool", "".join(pieces), "c", "f")), Finish("tool_calls")]
    call = deltafold.assemble(write_all(steps)).choices[0].message.tool_calls[0]
    assert call.function.arguments == "".join(pieces)


def test_resent_arguments_become_their_new_tail() -> None:
    """A provider re-sending the whole arguments: the step carries only what is new."""
    items = [
        chunk({"role": "assistant", "tool_calls": [call(0, "c", "f", '{"a"')]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]}),
        chunk({}, "tool_calls"),
    ]
    steps = read_all(items)
    assert [s.text for s in steps if isinstance(s, Delta)] == ['{"a"', ": 1}"]
    assert fields(deltafold.assemble(write_all(steps))) == fields(deltafold.assemble(items))


def test_a_custom_tool_call_is_a_function_call_in_chat_and_custom_again() -> None:
    steps: list[Step] = [
        Begin("resp", "gpt", 1), Open(0, "tool", "call_c", "grammar", "custom"),
        Delta(0, "free text"), Close(0, Block("tool", "free text", "call_c", "grammar", "custom")),
        Finish("tool_calls"),
    ]
    out = write_all(steps)
    call = deltafold.assemble(out).choices[0].message.tool_calls[0]
    assert (call.type, call.function.name, call.function.arguments) == (
        "function", "grammar", "free text"
    )
    again = read_all(out)
    opened = next(s for s in again if isinstance(s, Open))
    final = next(s.final for s in again if isinstance(s, Close))
    assert (opened.tool_type, final.tool_type, final.text) == ("custom", "custom", "free text")


def test_a_tool_call_without_id_or_name_at_first_gets_them_from_its_final() -> None:
    steps: list[Step] = [
        Begin("r", "m", 1), Open(0, "tool"), Delta(0, "{}"),
        Close(0, Block("tool", "{}", "call_9", "late")), Finish("tool_calls"),
    ]
    call = deltafold.assemble(write_all(steps)).choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("call_9", "late", "{}")


def test_interleaved_tool_calls_raise_a_conversion_error() -> None:
    items = [
        chunk({"role": "assistant", "tool_calls": [call(0, "a", "f", "{")]}),
        chunk({"tool_calls": [call(1, "b", "g", "{")]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}),
    ]
    with pytest.raises(ConversionError, match="interleaved") as caught:
        read_all(items)
    assert isinstance(caught.value.partial, deltafold.ChatCompletion)


# --- choices, errors, ends -------------------------------------------------------------


def _two_choices() -> list[dict[str, Any]]:
    return [
        {**HEAD, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "zero"}}]},
        {**HEAD, "choices": [{"index": 1, "delta": {"role": "assistant", "content": "one"}}]},
        {**HEAD, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"},
                             {"index": 1, "delta": {}, "finish_reason": "length"}]},
    ]


def test_several_choices_need_a_choice() -> None:
    with pytest.raises(ConversionError, match=r"choice=") as caught:
        read_all(_two_choices())
    partial = caught.value.partial
    assert isinstance(partial, deltafold.ChatCompletion) and len(partial.choices) == 2


def test_choice_picks_one_choice() -> None:
    for index, text, reason in ((0, "zero", "stop"), (1, "one", "length")):
        steps = read_all(_two_choices(), choice=index)
        assert [s.text for s in steps if isinstance(s, Delta)] == [text]
        assert isinstance(steps[-1], Finish) and steps[-1].reason == reason


def test_a_choice_the_stream_does_not_hold_is_an_error_at_the_end() -> None:
    reader = ChatReader(choice=4)
    for item in _two_choices():
        assert not any(isinstance(s, (Open, Delta)) for s in reader.read(item))
    with pytest.raises(ConversionError, match=r"choice=4.*no choice 4"):
        reader.close()


ERROR = {"code": 502, "message": "Upstream went away"}


def test_an_error_chunk_is_a_fail_step_and_an_error_chunk_again() -> None:
    items = [
        chunk({"role": "assistant", "content": "partial "}),
        chunk({"content": "text"}),
        {**chunk({"content": ""}), "error": ERROR},
    ]
    reader = ChatReader()
    steps = [step for item in items for step in reader.read(item)]
    assert reader.read(chunk({"content": "after"})) == []
    assert reader.close() == []
    assert shape(steps)[-2:] == [("Close", 0, "text"), ("Fail",)]
    fail = steps[-1]
    assert isinstance(fail, Fail) and (fail.message, fail.code) == ("Upstream went away", "502")
    out = write_all(steps)
    assert out[-1]["error"] == ERROR
    with pytest.raises(StreamError) as caught:
        deltafold.assemble(out)
    assert (caught.value.message, caught.value.code) == ("Upstream went away", 502)
    assert isinstance(caught.value.partial, deltafold.ChatCompletion)
    assert caught.value.partial.choices[0].message.content == "partial text"


def test_a_fail_from_another_format_is_openrouters_error_chunk() -> None:
    steps: list[Step] = [
        Begin("msg_1", "claude", 9),
        Fail("Overloaded", "overloaded_error", Usage(10, 2), {"format": "messages", "x": 1}),
    ]
    last = write_all(steps)[-1]
    assert last["error"] == {"message": "Overloaded", "code": "overloaded_error"}
    assert last["choices"] == [{"index": 0, "delta": {}, "finish_reason": "error"}]
    assert last[EXTENSION] == {"fail": {"format": "messages", "x": 1}}
    assert last["usage"] == {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    assert (last["id"], last["model"], last["created"]) == ("msg_1", "claude", 9)


def test_a_truncated_stream_raises_incomplete_with_the_partial() -> None:
    reader = ChatReader()
    for item in [chunk({"role": "assistant", "content": "cut "}), chunk({"content": "off"})]:
        reader.read(item)
    with pytest.raises(IncompleteStreamError) as caught:
        reader.close()
    partial = caught.value.partial
    assert isinstance(partial, deltafold.ChatCompletion)
    assert partial.choices[0].message.content == "cut off"


def test_no_chunk_at_all_is_an_empty_stream() -> None:
    with pytest.raises(deltafold.EmptyStreamError):
        ChatReader().close()


def test_done_ends_the_answer_and_usage_after_the_finish_reason_is_kept() -> None:
    reader = ChatReader()
    steps = reader.read(chunk({"role": "assistant", "content": "ok"}))
    steps += reader.read(chunk({}, "stop"))
    assert not any(isinstance(s, Finish) for s in steps)  # usage may still come
    steps += reader.read(json.dumps(chunk(usage={"prompt_tokens": 1, "completion_tokens": 1,
                                                 "total_tokens": 2})))
    end = reader.read("[DONE]")
    assert isinstance(end[-1], Finish) and end[-1].usage == Usage(1, 1, 2)
    assert reader.read(chunk({"content": "late"})) == [] and reader.close() == []


def test_a_stream_without_finish_reason_but_with_its_usage_finished() -> None:
    """Snowflake sends no finish_reason: its last chunk, the usage, says it ended."""
    items = [chunk({"role": "assistant", "content": "x"}),
             chunk(usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})]
    finish = read_all(items)[-1]
    assert isinstance(finish, Finish) and finish.reason is None and finish.usage is not None


@pytest.mark.parametrize("form", ["typed", "json", "bytes", "sse"])
def test_every_input_assemble_takes_gives_the_same_steps(form: str) -> None:
    items = [
        chunk({"role": "assistant", "reasoning": "r"}),
        chunk({"content": "a"}),
        chunk({"tool_calls": [call(0, "c", "f", "{}")]}),
        chunk({}, "tool_calls", usage={"prompt_tokens": 1, "completion_tokens": 2,
                                       "total_tokens": 3}),
    ]
    if form == "typed":
        given_items: list[Any] = [ChatCompletionChunk.from_dict(item) for item in items]
    elif form == "json":
        given_items = [json.dumps(item) for item in items]
    elif form == "bytes":
        given_items = [json.dumps(item).encode() for item in items]
    else:
        given_items = [ServerSentEvent(data=json.dumps(item)) for item in items]
    assert read_all(given_items) == read_all(items)


# --- finish, usage, carry ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("neutral", "chat"),
    [("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"),
     ("content_filter", "content_filter"), ("refusal", "content_filter"), ("pause", "stop")],
)
def test_neutral_finish_reasons_in_chat(neutral: Any, chat: str) -> None:
    out = write_all([Begin("r", "m", 1), Finish(neutral)])
    assert deltafold.assemble(out).choices[0].finish_reason == chat


def test_chat_finish_reasons_read_and_written_back() -> None:
    for raw, neutral in (("stop", "stop"), ("function_call", "tool_calls"), ("eos", "stop"),
                         ("length", "length")):
        items = [chunk({"role": "assistant", "content": "x"}), chunk({}, raw)]
        steps = read_all(items)
        assert isinstance(steps[-1], Finish) and steps[-1].reason == neutral
        assert deltafold.assemble(write_all(steps)).choices[0].finish_reason == raw


def test_usage_maps_cache_and_reasoning_and_keeps_the_rest() -> None:
    usage = {
        "prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140, "cost": 0.01,
        "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 20, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    items = [chunk({"role": "assistant", "content": "x"}, "stop"), chunk(usage=usage)]
    finish = read_all(items)[-1]
    assert isinstance(finish, Finish) and finish.usage is not None
    got = finish.usage
    assert (got.input_tokens, got.output_tokens, got.total_tokens) == (100, 40, 140)
    assert (got.cache_read, got.cache_write, got.reasoning_tokens) == (60, 20, 30)
    assert got.carry == {"format": "chat", "cost": 0.01,
                         "prompt_tokens_details": {"audio_tokens": 0}}
    assert write_all(read_all(items))[-1]["usage"] == usage


def test_foreign_usage_gets_a_total_and_its_carry_rides_the_extension() -> None:
    usage = Usage(50, 5, None, 30, 10, None, {"format": "messages", "service_tier": "standard"})
    out = write_all([Begin("m", "claude", 1), Finish("stop", None, usage)])
    assert out[-1]["usage"] == {
        "prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55,
        "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 10},
    }
    finish = read_all(out)[-1]
    assert isinstance(finish, Finish)
    assert finish.usage == Usage(50, 5, 55, 30, 10, None, usage.carry)


def test_another_formats_carry_round_trips_through_the_extension() -> None:
    begin = {"format": "responses", "status": "in_progress", "instructions": None}
    opened = {"format": "responses", "item_id": "fc_1"}
    finish = {"format": "responses", "status": "completed"}
    steps: list[Step] = [
        Begin("resp_1", "gpt", 3, begin),
        Open(0, "tool", "call_1", "f", carry=opened), Delta(0, "{}"),
        Close(0, Block("tool", "{}", "call_1", "f", carry=opened)),
        Open(1, "other"), Close(1, Block("other", raw={"type": "web_search_call", "id": "ws"})),
        Finish("tool_calls", "END", None, finish),
    ]
    out = write_all(steps)
    assert out[0][EXTENSION] == {"begin": begin}
    completion = deltafold.assemble(out)
    assert completion.extra[EXTENSION]["begin"] == begin  # the chat fold keeps each apart
    again = read_all(out)
    assert isinstance(again[0], Begin) and again[0].carry == begin
    tool_open = next(s for s in again if isinstance(s, Open) and s.kind == "tool")
    assert tool_open.carry == opened
    other = next(s.final for s in again if isinstance(s, Close) and s.final.kind == "other")
    assert other.raw == {"type": "web_search_call", "id": "ws"}
    end = again[-1]
    assert isinstance(end, Finish) and (end.reason, end.stop_sequence, end.carry) == (
        "tool_calls", "END", finish
    )


def test_consecutive_blocks_of_one_kind_with_a_carry_stay_apart() -> None:
    """Two Responses message items in a row: chat cannot tell them apart, their carry does."""
    steps: list[Step] = [Begin("resp", "gpt", 1)]
    for n, (text, item) in enumerate((("one", "msg_1"), ("two", "msg_2"))):
        carry = {"format": "responses", "item_id": item}
        steps += [Open(n, "text", carry=carry), Delta(n, text),
                  Close(n, Block("text", text, carry=carry))]
    steps.append(Finish("stop"))
    again = [s for s in read_all(write_all(steps)) if isinstance(s, Close)]
    assert [(s.block, s.final.text, s.final.carry["item_id"]) for s in again] == [
        (0, "one", "msg_1"), (1, "two", "msg_2"),
    ]


def test_chat_fields_the_steps_cannot_say_come_back() -> None:
    items = [
        chunk({"role": "assistant", "content": "x"}, provider="P", system_fingerprint="fp"),
        chunk({"annotations": [{"type": "url_citation", "url_citation": {"url": "https://a"}}]},
              service_tier="flex"),
        {**chunk({}, "stop"), "choices": [{"index": 0, "delta": {}, "finish_reason": "stop",
                                           "native_finish_reason": "end_turn"}]},
    ]
    original = deltafold.assemble(items)
    back = deltafold.assemble(convert(items))
    assert (back.provider, back.system_fingerprint, back.service_tier) == ("P", "fp", "flex")
    assert back.choices[0].native_finish_reason == "end_turn"
    assert back.choices[0].message.annotations == original.choices[0].message.annotations


def test_the_chunks_are_ones_the_openai_sdk_accepts() -> None:
    openai = pytest.importorskip("openai")
    items = [
        chunk({"role": "assistant", "reasoning": "r"}),
        chunk({"content": "a"}),
        chunk({"tool_calls": [call(0, "c", "f", "{}")]}),
        chunk({}, "tool_calls"),
        chunk(usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}),
    ]
    for event in convert(items):
        parsed = openai.types.chat.ChatCompletionChunk.model_validate(event)
        assert parsed.id == "chatcmpl-1" and parsed.object == "chat.completion.chunk"


# --- every recording, there and back -------------------------------------------------------


def _choices_of(entry: dict[str, Any]) -> list[int | None]:
    """None (the one choice) for a stream of one choice, else each choice's index."""
    if "n_gt_1" not in entry["features"]:
        return [None]
    return [choice.index for choice in folded(read_recording(entry)).choices]


@pytest.mark.parametrize("entry", recording_params())
def test_every_recording_round_trips_through_reader_and_writer(entry: dict[str, Any]) -> None:
    """...and each chunk written is one the OpenAI SDK's model takes (when installed)."""
    try:
        from openai.types import chat as sdk
    except ImportError:
        sdk = None
    body = read_recording(entry)
    items = list(items_of(body, Limits()))
    original = folded(body)
    for choice in _choices_of(entry):
        out = convert(items, choice)
        back = folded(out)
        assert fields(back) == fields(original, choice or 0), entry["path"]
        if "error" in entry["features"]:
            assert "error" in out[-1]
            with pytest.raises(StreamError):
                deltafold.assemble(out)
            out = out[:-1]  # OpenRouter's error chunk says finish_reason "error": not OpenAI's
        if sdk is not None:
            for event in out:
                sdk.ChatCompletionChunk.model_validate(event)


# --- generated answers ---------------------------------------------------------------------

_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_arguments = st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=8), max_size=3)


@st.composite
def completions(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant"}
    if draw(st.booleans()):
        reasoning = draw(_texts.filter(bool))
        message["reasoning"] = reasoning
        if draw(st.booleans()):
            message["reasoning_details"] = [{"type": "reasoning.text", "text": reasoning,
                                             "signature": draw(_texts.filter(bool)), "index": 0,
                                             "format": "anthropic-claude-v1"}]
    if draw(st.booleans()):
        message["content"] = draw(_texts.filter(bool))
    elif draw(st.booleans()):
        message["refusal"] = draw(_texts.filter(bool))
    calls = draw(st.lists(_arguments, max_size=3))
    if calls:
        message["tool_calls"] = [
            {"id": f"call_{n}", "type": "function",
             "function": {"name": f"tool_{n}", "arguments": json.dumps(args)}}
            for n, args in enumerate(calls)
        ]
    finish = "tool_calls" if calls else draw(st.sampled_from(["stop", "length", "content_filter"]))
    prompt, completion = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
    return {
        "id": "chatcmpl-gen", "object": "chat.completion", "created": 1700000000, "model": "gen",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": draw(st.integers(0, prompt))}},
    }


@given(completions(), st.integers(0, 2**16), st.sampled_from(["openai", "openrouter"]),
       st.integers(1, 12))
def test_generated_answers_cut_anywhere_round_trip(
    completion: dict[str, Any], seed: int, style: Any, size: int
) -> None:
    original = deltafold.ChatCompletion.from_dict(completion)
    items = list(deltafold.split(completion, chunk_chars=size, seed=seed, style=style))
    assert fields(deltafold.assemble(convert(items))) == fields(original)


# --- to_param ----------------------------------------------------------------------------


def test_to_param_gives_the_assistant_message_with_calls_and_signed_reasoning() -> None:
    completion = deltafold.ChatCompletion.from_dict({
        "id": "x", "created": 1, "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": None, "reasoning": "think",
                "reasoning_details": [{"type": "reasoning.text", "text": "think",
                                       "signature": SIG, "index": 0}],
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "f", "arguments": '{"a": 1}'}}],
                "annotations": [{"type": "url_citation", "url_citation": {"url": "https://a"}}],
            }},
            {"index": 1, "finish_reason": "stop", "message": {"role": "assistant",
                                                              "content": "plain"}},
        ],
    })
    assert completion.to_param() == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "f", "arguments": '{"a": 1}'}}],
        "reasoning_details": [{"type": "reasoning.text", "text": "think", "signature": SIG,
                               "index": 0}],
    }
    assert completion.to_param(choice=1) == {"role": "assistant", "content": "plain"}
    assert completion.choices[1].message.to_param() == completion.to_param(1)
    with pytest.raises(ValueError, match=r"choice=2.*\[0, 1\]"):
        completion.to_param(choice=2)


def test_to_param_of_an_empty_or_refused_message() -> None:
    assert deltafold.Message().to_param() == {"role": "assistant", "content": ""}
    refused = deltafold.Message(refusal="no")
    assert refused.to_param() == {"role": "assistant", "content": None, "refusal": "no"}


@pytest.mark.parametrize("entry", recording_params())
def test_to_param_is_the_same_after_a_conversion(entry: dict[str, Any]) -> None:
    body = read_recording(entry)
    items = list(items_of(body, Limits()))
    for choice in _choices_of(entry):
        before = folded(body).to_param(choice or 0)
        after = folded(convert(items, choice)).to_param()
        for param in (before, after):
            param["content"] = param["content"] or None
            for detail in param.get("reasoning_details", ()):
                detail.pop("text", None)  # detail text is the reasoning text, checked above
        assert after == before, entry["path"]
