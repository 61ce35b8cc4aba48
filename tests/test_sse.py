from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deltafold._exceptions import LimitExceededError
from deltafold._sse import ServerSentEvent, SSEDecoder, _message, iter_sse

E = ServerSentEvent


def feed_all(pieces: list[bytes] | list[str], **kw: int | None) -> list[ServerSentEvent]:
    decoder = SSEDecoder(**kw)
    out: list[ServerSentEvent] = []
    for piece in pieces:
        out += decoder.feed(piece)
    out += decoder.close()
    return out


def bytewise(body: bytes) -> list[bytes]:
    return [body[i : i + 1] for i in range(len(body))]


def both_ways(body: bytes) -> list[ServerSentEvent]:
    """Parse whole and byte by byte, which exercise the fast and the line paths."""
    whole = feed_all([body])
    assert feed_all(bytewise(body)) == whole
    return whole


# --- line ends ---------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_endings(eol: bytes) -> None:
    body = eol.join([b"data: a", b"data: b", b"", b"event: e", b"data: c", b"", b""])
    assert both_ways(body) == [E(data="a\nb"), E(event="e", data="c")]


def test_mixed_line_endings() -> None:
    assert both_ways(b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r") == [
        E(data="a\nb\nc"),
        E(data="d"),
    ]


def test_crlf_split_across_feeds_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # A second line end here would be a blank line and dispatch.
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r\n") == [E(data="a\nb")]
    assert decoder.feed(b"\n") == []
    assert decoder.close() == []


def test_lone_cr_then_other_byte_across_feeds() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [E(data="a")]
    assert decoder.feed(b"\ndata: b\r\r") == [E(data="b")]


def test_cr_only_skips_one_following_lf() -> None:
    # CR LF LF is one line end then a blank line, not two blank lines.
    assert feed_all([b"data: a\r", b"\n", b"\n", b"data: b\n\n"]) == [E(data="a"), E(data="b")]


# --- BOM ---------------------------------------------------------------------


def test_bom_stripped_whole() -> None:
    assert both_ways(b"\xef\xbb\xbfdata: a\n\n") == [E(data="a")]


def test_bom_stripped_one_byte_per_feed() -> None:
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    for piece in bytewise(b"\xef\xbb\xbfevent: x\ndata: a\n\n"):
        out += decoder.feed(piece)
    assert out == [E(event="x", data="a")]
    assert decoder.bytes_seen == 21


def test_bom_stripped_from_str() -> None:
    assert feed_all(["\ufeffdata: a\n\n"]) == [E(data="a")]


def test_bom_only_at_start() -> None:
    # A second BOM is part of the field name, so the line is an unknown field.
    body = b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: b\n\n"
    assert both_ways(body) == [E(data="b")]
    body = b"data: a\n\n\xef\xbb\xbfdata: b\n\ndata: c\n\n"
    assert both_ways(body) == [E(data="a"), E(data="c")]


def test_partial_bom_is_not_stripped() -> None:
    assert feed_all([b"\xef", b"\xbbdata: a\n\ndata: b\n\n"]) == [E(data="b")]
    assert feed_all([b"\xef\xbb"]) == []


# --- fields ------------------------------------------------------------------


def test_comments_ignored() -> None:
    body = b": OPENROUTER PROCESSING\n\n:\n: x\ndata: a\n: between\ndata: b\n\n"
    assert both_ways(body) == [E(data="a\nb")]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # keep-alives between one-line data events, and one closing the region
        (b"data: a\n\n: ka\n\ndata: b\n\n: ka\n:\n\n\ndata: c\n\n: ka\n\n",
         [E(data="a"), E(data="b"), E(data="c")]),
        # a comment event followed by an event of another kind, then a data event
        (b"data: a\n\n: ka\n\nevent: e\ndata: b\n\ndata: c\n\n",
         [E(data="a"), E(event="e", data="b"), E(data="c")]),
        # a comment inside an event (a multi-line event), then an id field
        (b"data: a\n: mid\n\ndata: b\n\nid: 7\n\ndata: c\n\n",
         [E(data="a"), E(data="b"), E(data="c", id="7")]),
    ],
)
def test_comment_events_between_data_events(body: bytes, expected: list[ServerSentEvent]) -> None:
    """Keep-alives trailing a data event are cut off it; anything else goes the line way."""
    assert both_ways(body) == expected


def test_space_after_colon_optional_and_only_one_removed() -> None:
    assert both_ways(b"data:x\n\ndata: x\n\ndata:  x\n\ndata:\n\n") == [
        E(data="x"),
        E(data="x"),
        E(data=" x"),
        E(data=""),
    ]


def test_line_without_colon_is_field_with_empty_value() -> None:
    assert both_ways(b"data\ndata\n\n") == [E(data="\n")]
    assert both_ways(b"event\ndata: a\n\n") == [E(data="a")]


def test_value_may_contain_colons() -> None:
    assert both_ways(b'data: {"a": "b:c"}\n\n') == [E(data='{"a": "b:c"}')]


def test_multiline_data_joined() -> None:
    assert both_ways(b"data: a\ndata:\ndata: c\n\n") == [E(data="a\n\nc")]


def test_event_id_retry() -> None:
    body = (
        b"event: start\nid: 1\nretry: 1500\ndata: a\n\n"
        b"data: b\n\n"
        b"id: 2\nevent:\ndata: c\n\n"
        b"id\ndata: d\n\n"
    )
    assert both_ways(body) == [
        E(event="start", data="a", id="1", retry=1500),
        E(data="b", id="1"),
        E(data="c", id="2"),
        E(data="d", id=""),
    ]


def test_id_with_nul_ignored() -> None:
    assert both_ways(b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n") == [
        E(data="a", id="1"),
        E(data="b", id="1"),
    ]


@pytest.mark.parametrize("value", [b"", b"12a", b"  5", b"-1", b"1.5", b"\xd9\xa3"])
def test_retry_must_be_ascii_digits(value: bytes) -> None:
    assert both_ways(b"retry:" + value + b"\ndata: a\n\n") == [E(data="a")]


def test_huge_retry_ignored_not_raised() -> None:
    assert both_ways(b"retry: " + b"9" * 6000 + b"\ndata: a\n\n") == [E(data="a")]


def test_unknown_fields_ignored() -> None:
    assert both_ways(b"foo: bar\nDATA: x\ndata : y\ndata: a\n\n") == [E(data="a")]


def test_fields_reset_between_events_but_id_persists() -> None:
    body = b"event: e\nretry: 5\nid: 7\ndata: a\n\ndata: b\n\n"
    assert both_ways(body) == [E(event="e", data="a", id="7", retry=5), E(data="b", id="7")]


# --- dispatch ----------------------------------------------------------------


def test_blank_events_not_dispatched() -> None:
    assert both_ways(b"\n\n\n\r\n\r\rdata: a\n\n\n\n") == [E(data="a")]


def test_event_without_data_not_dispatched_and_type_reset() -> None:
    body = b"event: ping\n\nid: 3\n\nretry: 9\n\ndata: a\n\n"
    assert both_ways(body) == [E(data="a", id="3")]


def test_event_with_only_event_line_not_dispatched_at_close() -> None:
    assert feed_all([b"data: a\n\nevent: x\n"]) == [E(data="a")]
    assert feed_all([b"data: a\n\nevent: x"]) == [E(data="a")]


def test_close_flushes_unterminated_event() -> None:
    assert feed_all([b"data: a\ndata: b\n"]) == [E(data="a\nb")]
    assert feed_all([b"event: e\ndata: a\ndata: b"]) == [E(event="e", data="a\nb")]
    assert feed_all([b"data: a\r"]) == [E(data="a")]


def test_close_is_idempotent_and_feed_after_close_fails() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a")
    assert decoder.close() == [E(data="a")]
    assert decoder.close() == []
    with pytest.raises(RuntimeError):
        decoder.feed(b"data: b\n\n")


def test_events_returned_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b") == [E(data="a")]
    assert decoder.feed(b"\n\n") == [E(data="b")]


def test_first_part_continues_pending_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: e\n") == []
    assert decoder.feed(b"data: a\n\ndata: b\n\n") == [E(event="e", data="a"), E(data="b")]
    decoder = SSEDecoder()
    assert decoder.feed(b": comment\n") == []
    assert decoder.feed(b"data: a\n\ndata: b\n\n") == [E(data="a"), E(data="b")]


# --- decoding ----------------------------------------------------------------


def test_utf8_char_split_across_feeds() -> None:
    body = "data: h\u00e9 \u20ac \U0001f600\n\n".encode()
    assert feed_all(bytewise(body)) == [E(data="h\u00e9 \u20ac \U0001f600")]
    cut = body.index(b"\xf0") + 2
    assert feed_all([body[:cut], body[cut:]]) == [E(data="h\u00e9 \u20ac \U0001f600")]


def test_invalid_utf8_replaced() -> None:
    assert both_ways(b"event: \xff\ndata: a\xc3\ndata: \xe2\x82\n\n") == [
        E(event="\ufffd", data="a\ufffd\n\ufffd")
    ]


def test_str_input() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("data: \u00e9") == []
    assert decoder.feed("\r") == []
    assert decoder.feed(b"\n\r\n") == [E(data="\u00e9")]
    assert decoder.bytes_seen == len("data: \u00e9\r\n\r\n".encode())


def test_bytes_seen_counts_everything() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"\xef\xbb\xbf: hi\n")
    decoder.feed(b"data: x")
    decoder.feed(b"")
    assert decoder.bytes_seen == 15


# --- iter_sse ----------------------------------------------------------------


def test_iter_sse_bytes_str_and_iterables() -> None:
    body = "data: a\n\nevent: e\ndata: \u00e9"
    expected = [E(data="a"), E(event="e", data="\u00e9")]
    assert list(iter_sse(body)) == expected
    assert list(iter_sse(body.encode())) == expected
    assert list(iter_sse([body[:3], body[3:].encode()])) == expected
    assert list(iter_sse(iter(bytewise(body.encode())))) == expected
    assert list(iter_sse([])) == []


def test_iter_sse_is_lazy() -> None:
    pulled: list[int] = []

    def pieces() -> Iterator[str]:
        for i in range(3):
            pulled.append(i)
            yield f"data: {i}\n\n"

    it = iter_sse(pieces())
    assert next(it) == E(data="0")
    assert pulled == [0]


def test_iter_sse_max_event_bytes() -> None:
    with pytest.raises(LimitExceededError):
        list(iter_sse([b"data: " + b"x" * 100], max_event_bytes=50))


# --- max_event_bytes ---------------------------------------------------------


def test_limit_raised_with_fields() -> None:
    decoder = SSEDecoder(max_event_bytes=20)
    with pytest.raises(LimitExceededError) as info:
        decoder.feed(b"data: " + b"x" * 30 + b"\n\n")
    err = info.value
    assert err.limit == "max_event_bytes"
    assert err.maximum == 20
    assert err.value == 36
    # The decoder stays failed.
    with pytest.raises(LimitExceededError):
        decoder.feed(b"data: a\n\n")
    with pytest.raises(LimitExceededError):
        decoder.close()


def test_limit_counts_all_lines_of_event() -> None:
    decoder = SSEDecoder(max_event_bytes=20)
    assert decoder.feed(b"data: 12345\n") == []
    with pytest.raises(LimitExceededError) as info:
        decoder.feed(b"data: 67890\n")
    assert info.value.value == 22


def test_limit_resets_per_event_and_allows_exact_size() -> None:
    body = b"data: 12345678\n\n" * 50
    assert len(feed_all([body], max_event_bytes=14)) == 50
    assert len(feed_all(bytewise(body), max_event_bytes=14)) == 50
    with pytest.raises(LimitExceededError):
        feed_all([body], max_event_bytes=13)


def test_limit_raised_promptly_on_incomplete_line() -> None:
    decoder = SSEDecoder(max_event_bytes=1000)
    decoder.feed(b"data: a\n")
    with pytest.raises(LimitExceededError) as info:
        for _ in range(10_000):
            decoder.feed(b"x" * 10)
    assert 1000 < info.value.value <= 1010
    assert decoder.bytes_seen <= 1010


def test_limit_one_byte_at_a_time_raises_just_past_limit() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(LimitExceededError) as info:
        for piece in bytewise(b"event: e\n" + b"data: " + b"y" * 1000):
            decoder.feed(piece)
    assert info.value.value == 101
    assert decoder.bytes_seen == 102


def test_limit_earlier_events_in_same_feed_are_delivered() -> None:
    decoder = SSEDecoder(max_event_bytes=10)
    assert decoder.feed(b"data: a\n\ndata: b\n\ndata: " + b"z" * 50) == [
        E(data="a"),
        E(data="b"),
    ]
    with pytest.raises(LimitExceededError):
        decoder.close()


def test_limit_raised_by_feed_on_single_unterminated_piece() -> None:
    decoder = SSEDecoder(max_event_bytes=50)
    with pytest.raises(LimitExceededError) as info:
        decoder.feed(b"data: " + b"x" * 100)
    assert info.value.value == 106


def test_invalid_limit_rejected() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_event_bytes=-1)


# --- size and speed ----------------------------------------------------------


def test_multi_megabyte_event_one_byte_at_a_time() -> None:
    payload = bytes(range(32, 127)) * (2_000_000 // 95)
    body = b"data: " + payload + b"\r\ndata: end\r\n\r\n"
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    feed = decoder.feed
    for i in range(len(body)):
        out += feed(body[i : i + 1])
    out += decoder.close()
    assert out == [E(data=payload.decode() + "\nend")]
    assert decoder.bytes_seen == len(body)


def test_many_lines_one_byte_at_a_time() -> None:
    body = b"".join(b"data: %d\n" % i for i in range(20_000)) + b"\n"
    out = feed_all(bytewise(body))
    assert out == [E(data="\n".join(str(i) for i in range(20_000)))]


def test_fast_path_realistic_body() -> None:
    chunks = [
        {"id": "gen-1", "choices": [{"index": 0, "delta": {"content": f"tok{i}\n"}}]}
        for i in range(1000)
    ]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    out = feed_all([body.encode()])
    assert [json.loads(e.data) for e in out[:-1]] == chunks
    assert out[-1] == E(data="[DONE]")
    assert feed_all([body.encode()[i : i + 97] for i in range(0, len(body), 97)]) == out


def test_fast_path_carries_last_id() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"id: 5\n\n") == []
    assert decoder.feed(b"data: a\n\ndata: b\n\n") == [E(data="a", id="5"), E(data="b", id="5")]


def test_fast_constructor_matches_attrs() -> None:
    assert _message("x", "1") == ServerSentEvent("message", "x", "1")
    assert _message("x", None) == ServerSentEvent(data="x")
    assert repr(_message("x", None)) == repr(ServerSentEvent(data="x"))


# --- properties --------------------------------------------------------------

EOLS = [b"\n", b"\r\n", b"\r"]

# Surrogates cannot be encoded as UTF-8, so no SSE body can carry them.
event_st = st.tuples(
    st.one_of(
        st.none(),
        st.text(
            st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=8
        ),
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)


@st.composite
def rendered_streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    events = draw(st.lists(event_st, max_size=8))
    chunks: list[bytes] = []
    last_eol = [b""]
    expected: list[ServerSentEvent] = []
    if draw(st.booleans()):
        chunks.append(b"\xef\xbb\xbf")

    def eol() -> bytes:
        last_eol[0] = draw(st.sampled_from(EOLS))
        return last_eol[0]

    def line(field: bytes, value: bytes) -> None:
        sep = b" " if value.startswith(b" ") else draw(st.sampled_from([b"", b" "]))
        chunks.append(field + b":" + sep + value + eol())
        if draw(st.integers(0, 4)) == 0:
            chunks.append(b": comment" + eol())

    for name, data in events:
        if name is not None:
            line(b"event", name.encode())
        normalized = data.replace("\r\n", "\n").replace("\r", "\n")
        for part in normalized.split("\n"):
            line(b"data", part.encode())
        # After a CR, an LF would merge with it into one CRLF line end.
        chunks.append(draw(st.sampled_from(EOLS[1:] if last_eol[0] == b"\r" else EOLS)))
        expected.append(E(event=name or "message", data=normalized))
    return b"".join(chunks), expected


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(rendered_streams(), st.data())
def test_property_roundtrip_any_cuts(
    stream: tuple[bytes, list[ServerSentEvent]], data: st.DataObject
) -> None:
    body, expected = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=20)))
    bounds = [0, *cuts, len(body)]
    pieces = [body[a:b] for a, b in itertools.pairwise(bounds)]
    whole = feed_all([body])
    assert whole == expected
    assert feed_all(pieces) == whole
    assert feed_all(bytewise(body)) == whole
    assert list(iter_sse(pieces)) == whole


@settings(max_examples=300)
@given(st.binary(max_size=300), st.data())
def test_property_arbitrary_bytes_never_raise(body: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=20)))
    bounds = [0, *cuts, len(body)]
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    for a, b in itertools.pairwise(bounds):
        out += decoder.feed(body[a:b])
    out += decoder.close()
    assert all(isinstance(e, ServerSentEvent) and e.data is not None for e in out)
    assert out == feed_all(bytewise(body))
    assert decoder.bytes_seen == len(body)


@settings(max_examples=200)
@given(st.lists(st.sampled_from([b"data: ", b"data:", b"x", b"\n", b"\r", b": c", b"id: 1"])))
def test_property_sse_alphabet_cuts_agree(tokens: list[bytes]) -> None:
    body = b"".join(tokens)
    assert feed_all(tokens) == feed_all([body]) == feed_all(bytewise(body))


def test_max_total_bytes_frames_what_fits_then_raises() -> None:
    body = b"data: a\n\ndata: b\n\ndata: c\n\n"
    decoder = SSEDecoder(max_total_bytes=20)
    assert decoder.feed(body) == [E(data="a"), E(data="b")]
    error = decoder.error
    assert error is not None and (error.limit, error.value, error.maximum) == (
        "max_total_bytes",
        len(body),
        20,
    )
    for call in (lambda: decoder.feed(b"x"), decoder.close):
        with pytest.raises(LimitExceededError) as info:
            call()
        assert info.value is error
    # No event complete within the budget: raised at once. A str piece counts characters.
    with pytest.raises(LimitExceededError):
        SSEDecoder(max_total_bytes=5).feed("data: é\n\n")
    assert SSEDecoder(max_total_bytes=9).feed("data: é\n\n") == [E(data="é")]
    with pytest.raises(ValueError, match="max_total_bytes"):
        SSEDecoder(max_total_bytes=-1)


# --- one event per read (a live stream's reads) ---------------------------------------


def after_blank_lines(body: bytes) -> list[bytes]:
    """The body cut after every blank line, as a server writing one event per write is read."""
    return [piece for piece in re.split(rb"(?<=\n\n)", body) if piece]


@pytest.mark.parametrize(
    "body",
    [
        b"data: \n\n",
        b"data: a\rdata: b\n\n",
        b"data: a\r\n\r\ndata: b\n\n",
        b"id: 7\n\ndata: x\n\ndata: y\n\n",
        b"event: e\n\ndata: x\n\n",
        b"event: e\ndata: x\n\ndata: y\n\n",
        b"data: x\ndata: y\n\ndata: z\n\n",
        b"data:x\n\ndata: y\n\n",
        b"\xef\xbb\xbfdata: x\n\ndata: y\n\n",
        b"data: x\r\rdata: y\n\n",
        b"data: caf\xc3\n\ndata: \xa9\n\n",
        b": ping\n\ndata: x\n\n",
        b"data: x",
    ],
)
def test_one_event_per_feed_frames_as_the_whole_body(body: bytes) -> None:
    assert feed_all(after_blank_lines(body)) == both_ways(body)


def test_one_event_per_feed_keeps_the_event_cap() -> None:
    body = b"data: 12345\n\ndata: " + b"x" * 20 + b"\n\ndata: 6\n\n"
    for pieces in ([body], after_blank_lines(body)):
        decoder = SSEDecoder(max_event_bytes=11)
        out: list[ServerSentEvent] = []
        with pytest.raises(LimitExceededError):  # at once, or deferred behind the first event
            for piece in pieces:
                out += decoder.feed(piece)
            decoder.close()
        assert out == [E(data="12345")]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(rendered_streams())
def test_property_one_event_per_feed(stream: tuple[bytes, list[ServerSentEvent]]) -> None:
    body, expected = stream
    assert feed_all(after_blank_lines(body)) == expected
