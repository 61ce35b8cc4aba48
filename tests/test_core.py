"""The sans-IO stream core driven alone, as h11's tests drive its Connection.

Literal bytes go in through ``feed``/``feed_eof``, chunks, events and outcomes come
out; no socket, no event loop. What the HTTP drivers add on top (transport errors,
timeouts, cancellation, closing the response) is tested over sockets in
tests/test_stream_*.py and tests/test_hardening_http.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import pytest

from deltafold import (
    Accumulator,
    ChatCompletion,
    ChatCompletionChunk,
    ContentDelta,
    EmptyStreamError,
    IncompleteStreamError,
    LimitExceededError,
    Limits,
    StreamUsageError,
    assemble,
    from_dict,
    to_dict,
)
from deltafold._chat_format import CHAT
from deltafold._core import CHUNKS, END, EVENTS, NEED_INPUT, Mode, Phase, StreamCore
from deltafold._exceptions import ChunkDecodeError, DeltafoldError, StreamError

MAX_STEPS = 100_000
"""Bound on the steps of one drive: no loop here can spin forever."""


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "gen-1", "model": "m", "created": 1, "choices": [choice], **extra}


USAGE = {"id": "gen-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
CHUNKS_OF_BODY = [
    chunk("Hel"),
    chunk("lo, café 数据"),
    chunk(None, "stop"),
    USAGE,
]
COMMENT = b": OPENROUTER PROCESSING\n\n"


def event(value: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(value) + b"\n\n"


DONE_EVENT = b"data: [DONE]\n\n"
SEGMENTS: list[tuple[str, bytes, dict[str, Any] | None]] = [
    ("comment", COMMENT, None),
    *[("chunk", event(c), c) for c in CHUNKS_OF_BODY],
    ("done", DONE_EVENT, None),
]
BODY = b"".join(raw for _, raw, _ in SEGMENTS)


def drive(
    pieces: Iterable[bytes],
    limits: Limits | None = None,
    *,
    step: Callable[[StreamCore], Any] = StreamCore.drain,
    core: StreamCore | None = None,
) -> ChatCompletion:
    """Feed ``pieces`` whenever the core asks, then the end of input; return the completion."""
    core = core or StreamCore(CHAT, limits)
    source = iter(pieces)
    for _ in range(MAX_STEPS):
        item = step(core)
        if item is END:
            return core.completion
        if item is NEED_INPUT:
            piece = next(source, None)
            if piece is None:
                core.feed_eof()
            else:
                core.feed(piece)
    raise AssertionError("the core never reached END")


def outcome(run: Callable[[], ChatCompletion]) -> tuple[str, dict[str, Any] | None]:
    """("ok", completion) or (error type, its .partial), both as dicts."""
    try:
        return "ok", to_dict(run())
    except DeltafoldError as exc:
        partial = exc.partial
        return type(exc).__name__, None if partial is None else to_dict(partial)


def folded(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    return to_dict(assemble(chunks))


# --- cut points and end of input -----------------------------------------------------


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_every_cut_point_gives_the_same_completion(line_end: bytes) -> None:
    body = b"\xef\xbb\xbf" + BODY.replace(b"\n", line_end)
    whole = to_dict(drive([body]))
    assert whole == folded(CHUNKS_OF_BODY)
    for cut in range(len(body) + 1):
        assert to_dict(drive([body[:cut], body[cut:]])) == whole, cut
    assert to_dict(drive([body[i : i + 1] for i in range(len(body))])) == whole


def expected_at_eof(prefix_len: int) -> tuple[str, dict[str, Any] | None]:
    """What the documented end rules say of BODY cut off after ``prefix_len`` bytes.

    Complete events count; an unterminated last event is still framed (its whole
    ``data:`` line, with or without its line end); a last event cut inside its data
    is a truncation (IncompleteStreamError). ``[DONE]`` ends normally; without it the
    end is normal only if every choice has a finish_reason, and no chunk at all is
    an EmptyStreamError.
    """
    got: list[dict[str, Any]] = []
    done = truncated = False
    start = 0
    for kind, raw, value in SEGMENTS:
        end = start + len(raw)
        if prefix_len >= end:
            part = raw
        elif prefix_len > start:
            part = raw[: prefix_len - start]
        else:
            break
        start = end
        whole_line = part in (raw, raw[:-1], raw[:-2])
        if kind == "comment" or (not whole_line and len(part) <= len(b"data: ")):
            continue
        if not whole_line:
            truncated = True
        elif kind == "done":
            done = True
        else:
            assert value is not None
            got.append(value)
    if truncated:
        return "IncompleteStreamError", folded(got) if got else None
    if done:
        return "ok", folded(got)
    if not got:
        return "EmptyStreamError", None
    if any(c.get("choices") and c["choices"][0]["finish_reason"] for c in got):
        return "ok", folded(got)
    return "IncompleteStreamError", folded(got)


def test_end_of_input_at_every_offset_follows_the_end_rules() -> None:
    seen = set()
    for cut in range(len(BODY) + 1):
        got = outcome(lambda: drive([BODY[:cut]]))  # noqa: B023 - called at once
        assert got == expected_at_eof(cut), cut
        seen.add(got[0])
    assert seen == {"ok", "IncompleteStreamError", "EmptyStreamError"}


def test_a_truncated_tail_event_is_a_truncation_not_bad_json() -> None:
    good = event(chunk("Hi"))
    with pytest.raises(IncompleteStreamError, match="ended in the middle of an event") as info:
        drive([good + b'data: {"choi'])
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "Hi"
    # The same bad event followed by more input is bad JSON, not a truncation.
    with pytest.raises(ChunkDecodeError, match="invalid JSON") as bad:
        drive([good + b'data: {"choi\n\n' + event(chunk("!", "stop"))])
    assert bad.value.partial is not None and bad.value.partial.choices[0].message.content == "Hi"


def test_input_after_done_is_never_read() -> None:
    head = event(chunk("Hi")) + DONE_EVENT
    garbage = b"data: not json\n\ndata: {\"choices\": 5}\n\n: x\n\n"
    expected = folded([chunk("Hi")])
    # In the same piece as [DONE], in later pieces, and as a truncated tail.
    assert to_dict(drive([head + garbage])) == expected
    assert to_dict(drive([head, garbage, b"data: {"])) == expected
    core = StreamCore(CHAT)
    core.feed(head)
    assert core.drain() is END
    assert core.phase is Phase.FINISHED
    core.feed(garbage)
    core.feed_eof()
    assert core.drain() is END and to_dict(core.completion) == expected
    # [DONE] ends the stream even when no choice has a finish_reason (not strict).
    assert core.completion.choices[0].finish_reason is None


# --- byte caps ------------------------------------------------------------------------


def test_max_total_bytes_folds_every_event_complete_within_the_budget() -> None:
    for budget in range(len(BODY) + 1):
        limits = Limits(max_total_bytes=budget)
        fitting = BODY[:budget]
        within = [v for k, raw, v in SEGMENTS if k == "chunk" and v and raw in fitting]
        for size in (len(BODY), 7, 1):
            pieces = [BODY[i : i + size] for i in range(0, len(BODY), size)]
            got = outcome(lambda: drive(pieces, limits))  # noqa: B023 - called at once
            if budget == len(BODY) or DONE_EVENT in fitting:
                assert got == ("ok", folded(within)), (budget, size)
            else:
                partial = folded(within) if within else None
                assert got == ("LimitExceededError", partial), (budget, size)


def test_max_total_bytes_error_says_which_limit() -> None:
    with pytest.raises(LimitExceededError) as info:
        drive([BODY[:50], BODY[50:]], Limits(max_total_bytes=60))
    error = info.value
    assert (error.limit, error.value, error.maximum) == ("max_total_bytes", len(BODY), 60)
    assert str(error) == f"max_total_bytes exceeded: {len(BODY)} > 60"


def test_max_event_bytes_folds_the_events_before_the_long_one() -> None:
    small = event(chunk("ok"))
    long = event(chunk("x" * 200))
    limits = Limits(max_event_bytes=len(small))
    cut = long[: len(small) + 1]
    for pieces in ([small + small + long], [small, small, long], [small + small, cut]):
        with pytest.raises(LimitExceededError) as info:
            drive([*pieces, DONE_EVENT], limits)
        error = info.value
        assert error.limit == "max_event_bytes" and error.maximum == len(small)
        assert error.partial is not None
        assert error.partial.choices[0].message.content == "okok"
    # An endless line is cut as it arrives, without being buffered first.
    with pytest.raises(LimitExceededError):
        drive(itertools.repeat(b"data: " + b"y" * 100), limits)


def test_a_cap_crossed_after_some_events_raises_right_after_them() -> None:
    """The deferred error comes once the events before it are out, not at the next read."""
    small = event(chunk("a"))
    core = StreamCore(CHAT, Limits(max_event_bytes=len(small)))
    core.feed(small + small + b"data: " + b"z" * 500)
    assert isinstance(core.next_chunk(), ChatCompletionChunk)
    assert isinstance(core.next_chunk(), ChatCompletionChunk)
    with pytest.raises(LimitExceededError):
        core.next_chunk()
    assert core.phase is Phase.FAILED and core.chunks_received == 2


# --- iteration modes ------------------------------------------------------------------


def test_chunks_mode_gives_each_chunk_typed() -> None:
    core = StreamCore(CHAT)
    core.claim(CHUNKS)
    core.feed(BODY)
    got = [core.next_chunk() for _ in CHUNKS_OF_BODY]
    assert got == [from_dict(ChatCompletionChunk, c) for c in CHUNKS_OF_BODY]
    assert core.next_chunk() is END
    assert core.next_chunk() is END
    assert (core.mode, core.chunks_received, core.events_received) == (Mode.CHUNKS, 4, 5)


CONTENT_OF = b'{"choices": [{"index": 0, "delta": {"content": '
# Each form an event's data can take, as the framer hands it over: what the core makes of
# it must be what event_to_chunk says of its text (plain objects skip that function).
EVENT_FORMS: list[tuple[str, bytes]] = [
    ("object", event(chunk("Hi"))),
    ("object, spaced", b"data:   " + orjson.dumps(chunk("Hi")) + b"  \n\n"),
    ("multi-line data", b"data: " + orjson.dumps(chunk("a"))[:5] + b"\ndata: "
     + orjson.dumps(chunk("a"))[5:] + b"\n\n"),
    ("invalid utf-8 in a string", b"data: " + CONTENT_OF + b'"a\xff\xfeb"}}]}\n\n'),
    ("utf-8 cut in a string", b"data: " + CONTENT_OF + b'"\xe6\x95"}}]}\n\n'),
    ("whitespace only", b"data:  \t \n\n"),
    ("DONE with spaces", b"data:  [DONE] \n\n"),
    ("array", b"data: [1, 2]\n\n"),
    ("number", b"data: 5\n\n"),
    ("bad json", b"data: {bad\n\n"),
    ("error event", b'event: error\ndata: {"error": {"message": "overloaded"}}\n\n'),
    ("named event", b"event: delta\ndata: " + orjson.dumps(chunk("Hi")) + b"\n\n"),
]


@pytest.mark.parametrize("raw", [raw for _, raw in EVENT_FORMS], ids=[n for n, _ in EVENT_FORMS])
def test_every_event_form_gives_what_event_to_chunk_says(raw: bytes) -> None:
    from deltafold._decode import DONE, event_to_chunk
    from deltafold._sse import SSEDecoder

    first = event(chunk("x"))
    (sse,) = SSEDecoder().feed(raw)
    try:
        expected: Any = event_to_chunk(sse.event, sse.data, 1)
    except ChunkDecodeError as exc:
        expected = exc
    core = StreamCore(CHAT)
    core.timing.read()
    core.feed(first + raw)
    assert core.next_chunk() == from_dict(ChatCompletionChunk, chunk("x"))
    if isinstance(expected, ChunkDecodeError):
        with pytest.raises(ChunkDecodeError) as info:
            core.next_chunk()
        assert (info.value.message, info.value.raw) == (expected.message, expected.raw)
        assert info.value.partial is not None and core.phase is Phase.FAILED
        return
    try:
        got: Any = core.next_chunk()
    except DeltafoldError as exc:  # an in-band error: the fold's, with what came before
        assert expected is not None and "error" in expected and exc.partial is not None
        return
    if expected is None:  # nothing to fold: the core asks for more
        assert got is NEED_INPUT
    elif expected is DONE:
        assert got is END and core.completion.choices[0].message.content == "x"
    else:
        assert got == from_dict(ChatCompletionChunk, expected)
        assert core.chunks_received == core.timing.chunks == 2


def test_the_core_stamps_the_chunks_it_hands_out() -> None:
    """Each step settles the timing of what it folded, whoever drives the core."""
    for step in (StreamCore.next_chunk, StreamCore.next_events, StreamCore.drain):
        core = StreamCore(CHAT)
        core.timing.read(10.0)
        core.feed(event(chunk("a")) + event(chunk("b")))
        step(core)
        assert core.timing.first_chunk_at == 10.0
        assert core.timing.chunks == core.chunks_received >= 1
        core.timing.read(12.5)
        core.feed(event(chunk("c", "stop")))
        for _ in range(3):
            step(core)
        assert core.timing.chunks == core.chunks_received == 3
        assert core.timing.last_chunk_at == 12.5


def test_events_mode_gives_the_fold_events_then_end() -> None:
    core = StreamCore(CHAT)
    core.claim(EVENTS)
    core.feed(COMMENT + event(chunk("Hi")) + event(chunk(" there", "stop")))
    events: list[Any] = []
    for _ in range(MAX_STEPS):
        item = core.next_events()
        if item is END:
            break
        if item is NEED_INPUT:
            core.feed_eof()
            continue
        events += item
    texts = [e.text for e in events if isinstance(e, ContentDelta)]
    assert texts == ["Hi", " there"]
    assert core.completion.choices[0].message.content == "Hi there"
    assert core.events_received == 2  # the keep-alive comment is not an event


def test_next_event_hands_out_one_event_at_a_time() -> None:
    core = StreamCore(CHAT)
    core.claim(EVENTS)
    core.feed(event(chunk("a", "stop")) + DONE_EVENT)
    got: list[Any] = []
    for _ in range(MAX_STEPS):
        item = core.next_event()
        if item is END:
            break
        got.append(item)
    acc = Accumulator()
    assert got == acc.feed(chunk("a", "stop")) + acc.close()
    assert len(got) > 1 and any(isinstance(e, ContentDelta) and e.text == "a" for e in got)
    assert core.next_event() is END


def test_one_iteration_mode_per_stream() -> None:
    core = StreamCore(CHAT)
    assert core.mode is Mode.UNBOUND
    core.claim(EVENTS)
    core.claim(EVENTS)  # the same style may resume
    with pytest.raises(StreamUsageError, match="already iterated with events"):
        core.claim(CHUNKS)
    other = StreamCore(CHAT)
    other.claim(CHUNKS)
    with pytest.raises(StreamUsageError, match="already iterated as chunks"):
        other.claim(EVENTS)
    assert other.mode is Mode.CHUNKS


# --- phases ---------------------------------------------------------------------------


def test_phases_of_a_stream_that_ends_normally() -> None:
    core = StreamCore(CHAT)
    assert core.phase is Phase.OPEN and not core.ended
    assert core.drain() is NEED_INPUT
    with pytest.raises(StreamUsageError, match="not ended yet"):
        _ = core.completion
    core.feed(event(chunk("Hi", "stop")))
    core.feed_eof()
    assert core.phase is Phase.INPUT_ENDED and not core.ended
    assert core.drain() is END
    assert core.phase is Phase.FINISHED and core.ended
    core.mark_closed()
    assert core.phase is Phase.CLOSED
    core.check_open()  # a finished stream that was closed still gives what it had
    assert core.drain() is END and core.completion.choices[0].message.content == "Hi"
    core.fail(StreamError("late"))  # a finished stream never fails afterwards
    assert core.error is None and core.phase is Phase.CLOSED


def test_a_stream_closed_before_its_end_refuses_to_go_on() -> None:
    core = StreamCore(CHAT)
    core.feed(event(chunk("Hi")))
    core.mark_closed()
    core.mark_closed()
    assert core.phase is Phase.CLOSED and core.ended
    with pytest.raises(StreamUsageError, match="closed"):
        core.check_open()
    with pytest.raises(StreamUsageError, match="closed before it ended"):
        _ = core.completion
    with pytest.raises(StreamUsageError, match="closed"):
        core.feed(b"data: {}\n\n")
    assert core.snapshot().choices == []  # nothing was handed out


def test_a_failure_is_raised_again_by_every_later_call() -> None:
    core = StreamCore(CHAT)
    core.feed(event(chunk("Hi")) + b"data: {bad\n\n" + event(chunk("!")))
    core.next_chunk()
    with pytest.raises(ChunkDecodeError) as info:
        core.next_chunk()
    error = info.value
    assert core.phase is Phase.FAILED and core.error is error
    assert error.partial is not None and error.partial.choices[0].message.content == "Hi"
    for call in (core.check_open, lambda: core.completion, lambda: core.feed(b"x")):
        with pytest.raises(ChunkDecodeError) as again:
            call()
        assert again.value is error
    core.mark_closed()  # closing keeps the failure
    assert core.phase is Phase.FAILED
    assert core.fail(StreamError("second")).partial is not None
    assert core.error is error  # only the first failure is kept


def test_a_stream_with_chunks_keeps_no_sample_of_its_start() -> None:
    """The start of the body only describes a stream without a chunk: once one is folded
    it is let go (a relay holds thousands of open streams), and such errors still show it."""
    core = StreamCore(CHAT)
    pieces = [COMMENT, event(chunk("a")), event(chunk("b")), event(chunk(None, "stop"))]
    assert drive(pieces, core=core).choices[0].message.content == "ab"
    assert core.acc._input is not None and not core.acc._input.sample

    odd = [event({"weird": i}) for i in range(40)]  # chunks, but none a chat-completion one
    with pytest.raises(EmptyStreamError, match="none carried") as info:
        drive(odd)
    assert info.value.head is not None and info.value.head.startswith(b"data: {")


def test_no_chunk_at_all_is_an_empty_stream() -> None:
    for body in (b"", COMMENT, COMMENT + DONE_EVENT, b"event: ping\nid: 3\n\n"):
        with pytest.raises(EmptyStreamError):
            drive([body])
