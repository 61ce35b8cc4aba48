"""The measured paths: deltafold's, the floor, and each peer's, all from the same input.

The floor is the fastest framing of a data-only body we could write (each 256 KiB
window split once on the separator of two data events) plus ``orjson.loads`` of
every payload:
the physical edge ``assemble_sse`` is judged against. ``floor_framer`` is the second
reference: deltafold's own framer (``DataDecoder``, as ``assemble_sse`` frames)
plus ``orjson.loads``. Every peer path that starts from bytes is fed the floor's
framing and decoding, then does what its library does with a decoded chunk, so a
ratio against a peer never flatters deltafold, nor does a ratio against the floor.

Peers are imported lazily: a missing one is skipped by the tests, never faked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from typing import Any

import orjson

import deltafold
from deltafold import Accumulator, ChatCompletionChunk, Limits, SSEDecoder, from_dict
from deltafold._sse import DataDecoder, iter_windows

__all__ = [
    "PEERS",
    "assemble_dicts",
    "assemble_sse",
    "decode_all",
    "feed_events",
    "floor",
    "floor_events",
    "floor_framer",
    "floor_named",
    "floor_split",
    "iter_chunks",
    "iter_named",
    "typed",
]

_MAX_EVENT_BYTES = Limits().max_event_bytes


def _payloads(body: bytes) -> Iterator[bytes]:
    """The floor's framing: every data payload of a data-only body (keep-alives skipped).

    A 256 KiB window at a time (cut after a blank line, so it holds whole events; it
    stays in cache): the window split once on the separator of two data events, the
    leading ``data: `` and trailing blank line sliced off. A window whose line ends
    are not all separators holds comment events: each is cut off the payload it
    trails. Nothing else of SSE is handled: no CR, no multi-line event, no other field.
    """
    for window in iter_windows(body):
        yield from _window_payloads(window)


def _window_payloads(window: bytes) -> list[bytes]:
    """The data payloads of one window: the floor's framing rule, in one place.

    Called once per 256 KiB window, so the floor pays one call per window, not per event.
    """
    while window[:1] == b":":
        window = window[window.find(b"\n\n") + 2 :]
    if not window:
        return []
    run = window[6:-2]
    payloads = run.split(b"\n\ndata: ")
    if run.count(b"\n") != 2 * len(payloads) - 2:
        payloads = [p.split(b"\n\n", 1)[0] if b"\n" in p else p for p in payloads]
    return payloads


def iter_chunks(body: bytes) -> Iterator[dict[str, Any]]:
    """The floor as a generator: :func:`floor`'s framing plus ``orjson.loads``, up to ``[DONE]``.

    What every peer is fed: the fastest framing of a data-only body, so a peer's
    ratio never pays for deltafold's framer.
    """
    loads = orjson.loads
    for payload in _payloads(body):
        if payload == b"[DONE]":
            return
        yield loads(payload)


def decode_all(body: bytes) -> list[dict[str, Any]]:
    """Every chunk of ``body`` as freshly decoded dicts: a peer's dicts-in input for one round."""
    return list(iter_chunks(body))


def floor(body: bytes) -> int:
    """The strictest floor: the fastest framing of a data-only body plus ``orjson.loads``.

    A plain loop over each window's payloads (:func:`_window_payloads`), so the floor
    pays no generator step per event; the payloads are decoded and nothing else is
    done: no byte cap, no error position. The targets are judged against this one.
    """
    loads = orjson.loads
    count = 0
    for window in iter_windows(body):
        for payload in _window_payloads(window):
            if payload == b"[DONE]":
                return count
            loads(payload)
            count += 1
    return count


def floor_split(body: bytes) -> int:
    """The floor as first written: one ``bytes.split`` of the whole body on the blank line,
    ``data: `` sliced off each event, ``orjson.loads`` (a slice per event: slower)."""
    loads = orjson.loads
    count = 0
    for event in body.split(b"\n\n"):
        if event[:6] == b"data: ":
            payload = event[6:]
            if payload == b"[DONE]":
                return count
            loads(payload)
            count += 1
    return count


def floor_framer(body: bytes) -> int:
    """The second reference: deltafold's own framer plus ``orjson.loads`` of every payload.

    Frames exactly as ``assemble_sse`` does (``DataDecoder`` over 256 KiB windows, a
    plain message as its data bytes, both byte caps), so the gap between this and
    :func:`floor` is the price of a framer that handles any SSE, and the gap between
    ``assemble_sse`` and this one is the fold's.
    """
    decoder = DataDecoder(max_event_bytes=_MAX_EVENT_BYTES)
    loads = orjson.loads
    count = 0
    for piece in iter_windows(body):
        for data in decoder.feed_data(piece):
            if data == b"[DONE]":
                return count
            loads(data)  # type: ignore[arg-type]
            count += 1
    for data in decoder.close_data():
        if data == b"[DONE]":
            return count
        loads(data)  # type: ignore[arg-type]
        count += 1
    return count


def floor_events(body: bytes) -> int:
    """The floor as the previous suite defined it, for comparison: the public
    ``SSEDecoder.feed`` on the whole body (a ``ServerSentEvent`` per event) plus
    ``orjson.loads`` of every payload. Slower than :func:`floor_framer`, which frames as
    ``assemble_sse`` does; the targets are judged against :func:`floor`."""
    decoder = SSEDecoder(max_event_bytes=_MAX_EVENT_BYTES)
    loads = orjson.loads
    count = 0
    for event in [*decoder.feed(body), *decoder.close()]:
        if event.data == "[DONE]":
            break
        loads(event.data)
        count += 1
    return count


def _named_payloads(window: bytes) -> list[bytes]:
    """The data payloads of one window of a named-event body (``data: `` sliced off).

    The Responses and Messages APIs send ``event: NAME``, ``data: JSON`` and a blank
    line per event: split on line ends, every third line is a data line. Its shape is
    checked with C calls over the lines, no pass over the window's bytes (the framer
    of ``assemble_sse`` does the same, and the floor must not frame slower than it):
    every third line blank, and ``data: `` stripped off each data line (``6n`` bytes
    gone). A window not of that shape (a comment, another field) keeps its ``data: ``
    lines by a test of each line.
    """
    lines = window.split(b"\n")
    n = len(lines) // 3
    if len(lines) == 3 * n + 1 and not any(lines[2::3]):
        datas = lines[1::3]
        payloads = list(map(bytes.removeprefix, datas, repeat(b"data: ", n)))
        if sum(map(len, datas)) - sum(map(len, payloads)) == 6 * n:
            return payloads
    return [line[6:] for line in lines if line[:6] == b"data: "]


def _event_windows(body: bytes, size: int = 1 << 18) -> Iterator[bytes]:
    """``body`` in windows of about ``size`` bytes, each cut after a blank line; an event
    longer than a window (a final ``response.completed`` repeats all the text) whole."""
    start, total = 0, len(body)
    while total - start > size:
        cut = body.rfind(b"\n\n", start, start + size)
        if cut < 0:
            cut = body.find(b"\n\n", start + size)
            if cut < 0:
                break
        yield body[start : cut + 2]
        start = cut + 2
    if start < total:
        yield body[start:]


def floor_named(body: bytes) -> int:
    """The floor of a named-event body (``event:`` + ``data:`` lines, as the Responses
    API sends them): each window split once on line ends, the data lines' ``data: ``
    stripped, ``orjson.loads`` of each payload. Nothing else: no byte cap, no CR, no
    multi-line data. The Responses targets are judged against this one.
    """
    loads = orjson.loads
    count = 0
    for window in _event_windows(body):
        for payload in _named_payloads(window):
            loads(payload)
            count += 1
    return count


def iter_named(body: bytes) -> Iterator[dict[str, Any]]:
    """:func:`floor_named` as a generator of the decoded events: what a peer is fed."""
    loads = orjson.loads
    for window in _event_windows(body):
        for payload in _named_payloads(window):
            yield loads(payload)


# --- deltafold ---------------------------------------------------------------


def assemble_sse(body: bytes) -> Any:
    return deltafold.assemble_sse(body)


def assemble_dicts(chunks: list[dict[str, Any]]) -> Any:
    return deltafold.assemble(chunks)


def feed_events(chunks: list[dict[str, Any]]) -> Any:
    """The streaming path: ``Accumulator.feed`` per chunk, every event looked at."""
    acc = Accumulator()
    count = 0
    for chunk in chunks:
        for _event in acc.feed(chunk):
            count += 1
    for _event in acc.close():
        count += 1
    return acc.result()


def typed(chunks: list[dict[str, Any]]) -> Any:
    """Typed chunks: ``from_dict(ChatCompletionChunk, d)`` per chunk, each then fed."""
    acc = Accumulator()
    for chunk in chunks:
        acc.feed(from_dict(ChatCompletionChunk, chunk))
    return acc.result()


# --- peers ---------------------------------------------------------------------


def openai_state(body: bytes) -> Any:
    """The OpenAI SDK, bytes in: the floor's framing and decoding, then :func:`openai_dicts`."""
    return openai_dicts(iter_chunks(body))


def openai_dicts(chunks: Iterable[dict[str, Any]]) -> Any:
    """The OpenAI SDK: each chunk built as its ``Stream`` builds it, fed to the stream state.

    ``Stream.__stream__`` hands every decoded payload to ``_process_response_data``,
    which (without strict validation, the default) calls
    ``construct_type(type_=ChatCompletionChunk, value=data)``.
    """
    from openai._models import construct_type
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk as SDKChunk

    state: Any = ChatCompletionStreamState()
    for data in chunks:
        chunk = construct_type(type_=SDKChunk, value=data)
        for _event in state.handle_chunk(chunk):
            pass
    return state.get_final_completion()


def litellm_builder(body: bytes) -> Any:
    """LiteLLM, bytes in: the floor's framing and decoding, then :func:`litellm_dicts`."""
    return litellm_dicts(iter_chunks(body))


def litellm_dicts(chunks: Iterable[dict[str, Any]]) -> Any:
    """LiteLLM: each chunk as the ``ModelResponseStream`` it yields, then its chunk builder.

    It changes the dicts it is given (the tools scenario's), so a dicts-in run gets
    freshly decoded ones every round (``test_bench``).
    """
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    built = [litellm.ModelResponseStream(**data) for data in chunks]
    return litellm.stream_chunk_builder(built)


_LANGCHAIN_MODEL: Any = None


def langchain_sum(body: bytes) -> Any:
    """LangChain, bytes in: the floor's framing and decoding, then :func:`langchain_dicts`."""
    return langchain_dicts(iter_chunks(body))


def langchain_dicts(chunks: Iterable[dict[str, Any]]) -> Any:
    """LangChain: langchain-openai's per-chunk conversion, then ``generate_from_stream``.

    That is what ``ChatOpenAI(streaming=True).invoke`` does with the stream:
    ``_convert_chunk_to_generation_chunk`` per decoded chunk (``AIMessageChunk``
    inside a ``ChatGenerationChunk``), then one sum of them all.
    """
    global _LANGCHAIN_MODEL
    from langchain_core.language_models.chat_models import generate_from_stream
    from langchain_core.messages import AIMessageChunk

    if _LANGCHAIN_MODEL is None:
        from langchain_openai import ChatOpenAI

        _LANGCHAIN_MODEL = ChatOpenAI(model="gpt-4o", api_key="sk-benchmark")  # type: ignore[arg-type]
    model = _LANGCHAIN_MODEL
    convert = model._convert_chunk_to_generation_chunk

    def generations() -> Iterator[Any]:
        default: type = AIMessageChunk
        for data in chunks:
            generation = convert(data, default, {})
            if generation is None:
                continue
            default = generation.message.__class__
            yield generation

    return generate_from_stream(generations())


BytesPath = Callable[[bytes], Any]
DictsPath = Callable[[list[dict[str, Any]]], Any]

#: Peer name -> (module that must import, bytes-in path, dicts-in path).
PEERS: dict[str, tuple[str, BytesPath, DictsPath]] = {
    "openai": ("openai", openai_state, openai_dicts),
    "litellm": ("litellm", litellm_builder, litellm_dicts),
    "langchain": ("langchain_openai", langchain_sum, langchain_dicts),
}
