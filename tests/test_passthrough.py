"""``stream.raw()``: the upstream bytes as received, cut at event ends, folded on the way.

Every test goes over a real socket on 127.0.0.1 (the fault server sends each
``Send`` as one HTTP chunk, so the reads are cut where the script cuts them),
on asyncio, trio and the sync client. The oracle for where the pieces stop is
written here from the SSE rules, not taken from the library.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

import deltafold
from deltafold import (
    ChatCompletion,
    ChunkDecodeError,
    DeltafoldError,
    IdleTimeoutError,
    LimitExceededError,
    Limits,
    StreamError,
    StreamUsageError,
)
from recordings import recording_params
from servers import (
    End,
    FaultServer,
    KeepAlive,
    Reset,
    Send,
    Sleep,
    Stall,
    Step,
    async_client,
    corpus_body,
    sync_client,
)

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
BOUND = 20  # seconds: no stream in this file may take longer
VIA = ["asyncio", "trio", "sync"]


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


class Relayed:
    """What a gateway saw: the pieces, then the completion or the error."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.completion: ChatCompletion | None = None
        self.error: DeltafoldError | None = None

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)


async def _relay_async(url: str, stop_after: int | None, kwargs: dict[str, Any]) -> Relayed:
    out = Relayed()
    with anyio.fail_after(BOUND):
        async with async_client() as http, deltafold.aconnect_chat(
            http, url, json=BODY, **kwargs
        ) as stream:
            try:
                async for piece in stream.raw():
                    out.pieces.append(piece)
                    if len(out.pieces) == stop_after:
                        return out
                out.completion = stream.completion
            except DeltafoldError as exc:
                out.error = exc
    return out


def _relay_sync(url: str, stop_after: int | None, kwargs: dict[str, Any]) -> Relayed:
    out = Relayed()
    with sync_client() as http, deltafold.connect_chat(http, url, json=BODY, **kwargs) as stream:
        try:
            for piece in stream.raw():
                out.pieces.append(piece)
                if len(out.pieces) == stop_after:
                    return out
            out.completion = stream.completion
        except DeltafoldError as exc:
            out.error = exc
    return out


def relay(via: str, url: str, stop_after: int | None = None, **kwargs: Any) -> Relayed:
    kwargs.setdefault("idle_timeout", 5.0)
    if via == "sync":
        return _relay_sync(url, stop_after, kwargs)
    return anyio.run(_relay_async, url, stop_after, kwargs, backend=via)


def cut_randomly(body: bytes, rng: random.Random, most: int = 300) -> list[Step]:
    steps: list[Step] = []
    at = 0
    while at < len(body):
        size = rng.randint(1, most)
        steps.append(Send(body[at : at + size]))
        at += size
    return steps


_BLOCK = re.compile(rb"(?s).*?(?:\r\n|\r|\n)(?:\r\n|\r|\n)")


def blocks(body: bytes) -> list[bytes]:
    """The body cut after each blank line (the oracle's own framing)."""
    found = [m.group() for m in _BLOCK.finditer(body)]
    tail = body[sum(map(len, found)) :]
    return found + ([tail] if tail else [])


def ends_the_stream(block: bytes) -> bool:
    """``[DONE]``, ``event: error``, or a chunk with a top-level ``error``."""
    lines = re.split(rb"\r\n|\r|\n", block)
    datas = [line[5:].strip() for line in lines if line.startswith(b"data:")]
    if b"event: error" in lines or datas == [b"[DONE]"]:
        return True
    try:
        value = json.loads(b"\n".join(datas)) if datas else None
    except ValueError:
        return False
    return isinstance(value, dict) and "error" in value


def expected_pass_through(body: bytes) -> bytes:
    """The body through the block that ends the stream, or all of it."""
    kept = b""
    for block in blocks(body):
        kept += block
        if ends_the_stream(block):
            break
    return kept


# --- every recording, byte for byte --------------------------------------------


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("entry", recording_params())
def test_recording_passes_through_byte_exact(
    faults: FaultServer, entry: dict[str, Any], via: str
) -> None:
    body = corpus_body(entry)
    rng = random.Random(f"{entry['path']}-{via}")
    url, _ = faults.add([*cut_randomly(body, rng), End()])
    got = relay(via, url)

    assert got.body == expected_pass_through(body)
    assert all(piece for piece in got.pieces)
    try:
        expected, expected_error = deltafold.assemble_sse(body), None
    except DeltafoldError as exc:
        expected, expected_error = None, exc
    if expected_error is None:
        assert got.error is None
        assert got.completion == expected
    else:
        assert type(got.error) is type(expected_error)
        assert got.error is not None and got.error.partial == expected_error.partial
        assert got.error.timing is not None


# --- framing quirks --------------------------------------------------------------


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> bytes:
    if content is not None:
        delta["content"] = content
    data: dict[str, Any] = {"id": "gen-1", "model": "m", "choices": [{"index": 0, "delta": delta}]}
    if finish:
        data["choices"][0]["finish_reason"] = finish
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    data["usage"] = usage if finish else None
    return json.dumps(data, ensure_ascii=False).encode()


QUIRKY = (
    b"\xef\xbb\xbf: OPENROUTER PROCESSING\r\n\r\n"
    + b"id: 7\r\nretry: 10\r\ndata: " + chunk(role="assistant") + b"\r\n\r\n"
    + b": keep-alive\n\n"
    + b"data: " + chunk("café") + b"\r\r"
    + b"data: " + chunk(" ok") + b"\n\r\n"
    + b"event: message\ndata: " + chunk("", "stop") + b"\r\n\n"
    + b"data: [DONE]\r\n\r\n"
)


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("seed", range(4))
def test_bom_crlf_cr_comments_and_keep_alives_pass_untouched(
    faults: FaultServer, via: str, seed: int
) -> None:
    rng = random.Random(seed)
    steps = cut_randomly(QUIRKY, rng, most=17)
    url, _ = faults.add([*steps, End()])
    got = relay(via, url)
    assert got.error is None
    # [DONE] is dispatched at its blank line's CR: an LF that a later read would bring is
    # after the end, and is not read.
    split_crlf = isinstance(steps[-1], Send) and steps[-1].data == b"\n"
    assert got.body == (QUIRKY[:-1] if split_crlf else QUIRKY)
    assert got.completion == deltafold.assemble_sse(QUIRKY)
    assert got.completion is not None and got.completion.choices[0].message.content == "café ok"
    assert got.completion.usage is not None and got.completion.usage.total_tokens == 5


@pytest.mark.parametrize("via", VIA)
def test_each_piece_ends_at_an_event_end_and_is_folded_already(
    faults: FaultServer, via: str
) -> None:
    """One event cut in three reads comes out once, whole; a keep-alive read is its own piece."""
    first, second = b"data: " + chunk("a", role="assistant") + b"\n\n", b"data: " + chunk("b")
    steps: list[Step] = [Send(first[:5]), Sleep(0.02), Send(first[5:]), Sleep(0.02)]
    steps += [Send(b": ping\n\n"), Sleep(0.02), Send(second[:9]), Sleep(0.02)]
    steps += [Send(second[9:] + b"\n\ndata: " + chunk("", "stop") + b"\n\n"), End()]
    url, _ = faults.add(steps)
    got = relay(via, url)
    assert got.pieces[0] == first
    assert b": ping\n\n" in got.pieces[1:3]
    assert got.body.endswith(b"\n\n") and got.body.count(b"data: ") == 3
    assert got.completion is not None and got.completion.choices[0].message.content == "ab"


@pytest.mark.parametrize("via", VIA)
def test_nothing_after_done_is_passed_through(faults: FaultServer, via: str) -> None:
    head = b"data: " + chunk("x", "stop", role="assistant") + b"\n\n"
    done = b"data: [DONE]\n\n"
    url, record = faults.add([Send(head + done + b"data: " + chunk("AFTER") + b"\n\n"), Stall()])
    got = relay(via, url)
    assert got.body == head + done
    assert got.completion is not None and got.completion.choices[0].message.content == "x"
    assert record.ended.wait(BOUND)


@pytest.mark.parametrize("via", VIA)
def test_an_unterminated_last_event_is_passed_through_at_the_end(
    faults: FaultServer, via: str
) -> None:
    body = b"data: " + chunk("x", role="assistant") + b"\n\ndata: " + chunk("", "stop")
    url, _ = faults.add([Send(body), End()])
    got = relay(via, url)
    assert got.body == body
    assert got.completion == deltafold.assemble_sse(body)


TRAILERS = [
    b"",
    b": after\n\n",
    b"\n\n\n",
    b"id: 9\n\n: x\n\n",
    b"data: " + chunk("AFTER") + b"\n\n",
    b": x\n\ndata: " + chunk("AFTER") + b"\n\n: y\n\n",
    b"data: [DONE]\n\n",
]


@pytest.mark.parametrize("via", ["asyncio", "sync"])
@pytest.mark.parametrize("trailer", TRAILERS)
@pytest.mark.parametrize("entry", recording_params())
def test_a_whole_body_in_one_read_stops_after_its_ending_event(
    faults: FaultServer, entry: dict[str, Any], via: str, trailer: bytes
) -> None:
    """A busy relay reads many events at once: the piece still stops where the stream ends.

    Whatever follows the ending event in the same read (comments, blank lines,
    more events, a second [DONE]) is not passed through.
    """
    body = corpus_body(entry) + trailer
    url, _ = faults.add([Send(body), End()])
    got = relay(via, url)
    assert got.body == expected_pass_through(body)
    try:
        expected = deltafold.assemble_sse(expected_pass_through(body))
    except DeltafoldError as exc:
        assert type(got.error) is type(exc) and got.error.partial == exc.partial
    else:
        assert got.error is None and got.completion == expected


@pytest.mark.parametrize("via", VIA)
@pytest.mark.parametrize("trailer", TRAILERS)
def test_bom_and_the_ending_event_in_one_read(
    faults: FaultServer, via: str, trailer: bytes
) -> None:
    body = b"\xef\xbb\xbfdata: " + chunk("x", "stop", role="assistant") + b"\n\ndata: [DONE]\n\n"
    url, _ = faults.add([Send(body + trailer), End()])
    got = relay(via, url)
    assert got.body == body
    assert got.completion is not None and got.completion.choices[0].message.content == "x"


@pytest.mark.parametrize("via", VIA)
def test_an_event_over_a_cap_after_done_in_the_same_read_is_not_passed(
    faults: FaultServer, via: str
) -> None:
    """The framer stops at a cap; the piece still ends at [DONE], not at the read's end."""
    head = b"data: " + chunk("x", "stop", role="assistant") + b"\n\ndata: [DONE]\n\n"
    huge = b"data: " + chunk("y" * 5000) + b"\n\n"
    for limits in (Limits(max_total_bytes=len(head) + 100), Limits(max_event_bytes=2000)):
        url, _ = faults.add([Send(head + huge + b": z\n\n"), End()])
        got = relay(via, url, limits=limits)
        assert got.body == head
        assert got.completion is not None and got.completion.choices[0].message.content == "x"


# --- failures: the bytes through the failing event, then the error --------------

GOOD = b"data: " + chunk("one ", role="assistant") + b"\n\n" + b"data: " + chunk("two") + b"\n\n"
ERROR_EVENT = b'event: error\ndata: {"error": {"message": "overloaded", "code": 529}}\n\n'


def assert_partial_two(error: DeltafoldError | None) -> None:
    assert error is not None and error.partial is not None
    assert error.partial.choices[0].message.content == "one two"
    assert error.timing is not None and error.timing.chunks >= 2


@pytest.mark.parametrize("via", VIA)
def test_an_upstream_error_event_is_forwarded_then_raised(faults: FaultServer, via: str) -> None:
    after = b"data: " + chunk("never") + b"\n\n"
    url, _ = faults.add([Send(GOOD[:40]), Send(GOOD[40:] + ERROR_EVENT + after), End()])
    got = relay(via, url)
    assert got.body == GOOD + ERROR_EVENT
    assert isinstance(got.error, StreamError) and "overloaded" in str(got.error)
    assert_partial_two(got.error)


@pytest.mark.parametrize("via", VIA)
def test_bad_json_is_forwarded_then_raised(faults: FaultServer, via: str) -> None:
    bad = b"data: {not json\n\n"
    url, _ = faults.add([Send(GOOD + bad + b": later\n\n"), End()])
    got = relay(via, url)
    assert got.body == GOOD + bad
    assert isinstance(got.error, ChunkDecodeError)
    assert_partial_two(got.error)


@pytest.mark.parametrize("via", VIA)
def test_the_byte_caps_fail_where_they_do_today(faults: FaultServer, via: str) -> None:
    huge = b"data: " + chunk("x" * 5000) + b"\n\n"
    url, _ = faults.add([Send(GOOD + huge[:3000]), Send(huge[3000:]), End()])
    got = relay(via, url, limits=Limits(max_event_bytes=2000))
    assert got.body == GOOD
    assert isinstance(got.error, LimitExceededError)
    assert_partial_two(got.error)

    url, _ = faults.add([Send(GOOD[:50]), Send(GOOD[50:] + huge), End()])
    got = relay(via, url, limits=Limits(max_total_bytes=len(GOOD) + 100))
    assert got.body == GOOD
    assert isinstance(got.error, LimitExceededError)
    assert_partial_two(got.error)


@pytest.mark.parametrize("via", VIA)
def test_idle_timeout_and_keep_alives(faults: FaultServer, via: str) -> None:
    url, _ = faults.add([Send(GOOD + b"data: {\"id\": "), Stall()])
    got = relay(via, url, idle_timeout=0.3)
    assert got.body == GOOD  # the cut-off event is not forwarded
    assert isinstance(got.error, IdleTimeoutError)
    assert_partial_two(got.error)

    url, record = faults.add([Send(GOOD), KeepAlive(0.02)])
    got = relay(via, url, idle_timeout=0.3)
    assert got.body.startswith(GOOD + b": keep-alive\n\n")
    assert set(got.body[len(GOOD) :].split(b"\n\n")) == {b": keep-alive", b""}
    assert isinstance(got.error, IdleTimeoutError)
    assert record.ended.wait(BOUND) and record.outcome == "client closed"


@pytest.mark.parametrize("via", VIA)
def test_a_reset_mid_event_forwards_only_whole_events(faults: FaultServer, via: str) -> None:
    url, _ = faults.add([Send(GOOD + b"data: {\"id\""), Sleep(0.05), Reset()])
    got = relay(via, url)
    assert got.body == GOOD
    assert got.error is not None and not isinstance(got.error, StreamUsageError)
    assert_partial_two(got.error)


# --- early exit and the one-style rule -------------------------------------------


@pytest.mark.parametrize("via", VIA)
def test_leaving_early_closes_the_upstream(faults: FaultServer, via: str) -> None:
    url, record = faults.add([Send(GOOD), Sleep(0.05), KeepAlive(0.02)])
    got = relay(via, url, stop_after=1, idle_timeout=None)
    assert got.body == GOOD
    assert record.ended.wait(BOUND) and record.outcome == "client closed"


def test_break_resumes_and_until_done_finishes(faults: FaultServer) -> None:
    tail = b"data: " + chunk("", "stop") + b"\n\ndata: [DONE]\n\n"
    url, _ = faults.add([Send(GOOD), Sleep(0.03), Send(tail), End()])
    with sync_client() as http, deltafold.connect_chat(http, url, json=BODY) as stream:
        for piece in stream.raw():
            assert piece == GOOD
            break
        assert stream.snapshot().choices[0].message.content == "one two"
        assert b"".join(stream.raw()) == tail
        assert stream.completion.choices[0].finish_reason == "stop"

    url, _ = faults.add([Send(GOOD), Sleep(0.03), Send(tail), End()])
    with sync_client() as http, deltafold.connect_chat(http, url, json=BODY) as stream:
        assert next(stream.raw()) == GOOD
        assert stream.until_done().choices[0].message.content == "one two"


@pytest.mark.anyio
async def test_one_style_per_stream(faults: FaultServer) -> None:
    url, _ = faults.add([Send(GOOD), Sleep(0.03), Send(b"data: [DONE]\n\n"), End()])
    with anyio.fail_after(BOUND):
        async with async_client() as http, deltafold.aconnect_chat(http, url, json=BODY) as s:
            async for _ in s:
                break
            with pytest.raises(StreamUsageError, match=r"raw\(\) must be the first"):
                s.raw()
        async with async_client() as http, deltafold.aconnect_chat(http, url, json=BODY) as s:
            pieces = s.raw()
            assert await pieces.__anext__() == GOOD
            with pytest.raises(StreamUsageError, match=r"passed through with raw\(\)"):
                s.events()
            with pytest.raises(StreamUsageError, match=r"passed through with raw\(\)"):
                async for _ in s:
                    pass
            assert s.raw() is pieces
