"""DataDecoder on named events (the Responses and Messages APIs' ``event:`` + ``data:``).

A region of such events is framed whole (``_sse._named_run``: one split, C calls
over its lines that prove the shape); any other shape goes the per-event way. Either
way the result must be what ``SSEDecoder`` frames, the data as bytes, an ``error``
event as itself.
"""

from __future__ import annotations

import random

import pytest

from deltafold._sse import DataDecoder, ServerSentEvent, SSEDecoder


def expected(body: bytes) -> list[bytes | ServerSentEvent]:
    decoder = SSEDecoder()
    events = [*decoder.feed(body), *decoder.close()]
    return [e if e.event == "error" else e.data.encode() for e in events]


def framed(pieces: list[bytes]) -> list[bytes | ServerSentEvent]:
    decoder = DataDecoder()
    out: list[bytes | ServerSentEvent] = []
    for piece in pieces:
        out += decoder.feed_data(piece)
    return out + decoder.close_data()


NAMED = b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"


@pytest.mark.parametrize(
    "body",
    [
        NAMED,
        b"event: a\ndata: {\"x\": 1}\n\n" * 50,
        b": keep-alive\n\n" + NAMED,
        NAMED + b"event: error\ndata: {\"error\": 1}\n\n" + NAMED,
        NAMED.replace(b"event: b", b"event:  error"),
        NAMED.replace(b"event: b", b"event: error "),
        # the same counts of data and event lines in another order
        b"event: a\nevent: b\n\ndata: 1\ndata: 2\n\n",
        b"event: a\nevent: b\ndata: 1\n\ndata: 2\n\n",
        b"data: 1\nevent: a\n\nevent: b\ndata: 2\n\n",
        b"event: a\ndata: 1\n\nevent: b\nid: 9\n\n",
        b"event: a\ndata: 1\n\n\nevent: b\ndata: 2\n\n",
        b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\nevent: c\ndata: 3\ndata: 4\n\n",
        b"event: a\ndata:1\n\nevent: b\ndata: 2\n\n",
        b"event: a\ndata: 1\r\n\r\nevent: b\ndata: 2\n\n",
        b"event: a\ndata: \n\nevent: b\ndata: 2\n\n",
        b"event: a\n: note\ndata: 1\n\nevent: b\ndata: 2\n\n",
        # a data line where a name belongs, a name where a data line belongs
        b"event: a\ndata: 1\n\ndata: 9\ndata: 2\n\n",
        b"event: a\nevent: c\n\nevent: b\ndata: 2\n\n",
        b"event: a\ndata: 1\n\nevent:error\ndata: 2\n\n",
        b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\nevent: error\ndata: 3\n\n",
        # the words in a payload are data, not fields
        b'event: a\ndata: {"t": "event: error"}\n\nevent: b\ndata: "data: x"\n\n',
    ],
)
def test_named_events_frame_as_sse_decoder_does(body: bytes) -> None:
    want = expected(body)
    assert framed([body]) == want
    assert framed([body[i : i + 1] for i in range(len(body))]) == want
    middle = len(body) // 2
    assert framed([body[:middle], body[middle:]]) == want


def test_named_events_mixed_at_random_frame_as_sse_decoder_does() -> None:
    lines = [b"event: a", b"event: error", b"data: 1", b"data: {}", b"id: 3", b": c", b""]
    rng = random.Random(21)
    for _ in range(2000):
        events = []
        for _ in range(rng.randint(1, 6)):
            shape = [b"event: r", b"data: " + str(rng.random()).encode()]
            if rng.random() < 0.3:
                shape.insert(rng.randint(0, 2), rng.choice(lines))
            events.append(b"\n".join(shape) + b"\n\n")
        body = b"".join(events)
        assert framed([body]) == expected(body), body
        cut = rng.randint(0, len(body))
        assert framed([body[:cut], body[cut:]]) == expected(body), (body, cut)
