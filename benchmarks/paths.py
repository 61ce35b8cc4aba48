"""The measured paths: deltafold's, the floor, and each peer's, all from the same input.

Every path that starts from bytes frames them with deltafold's ``SSEDecoder``
and decodes each payload with ``orjson.loads`` (the floor); a peer then does
what its library does with a decoded chunk. That gives each peer the fastest
framing and JSON available, so a ratio against a peer never flatters deltafold.

Peers are imported lazily: a missing one is skipped by the tests, never faked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import orjson

import deltafold
from deltafold import Accumulator, ChatCompletionChunk, Limits, SSEDecoder, from_dict

__all__ = [
    "PEERS",
    "assemble_dicts",
    "assemble_sse",
    "feed_events",
    "floor",
    "iter_chunks",
    "typed",
]

_MAX_EVENT_BYTES = Limits().max_event_bytes


def iter_chunks(body: bytes) -> Iterator[dict[str, Any]]:
    """The floor as a generator: SSE framing plus ``orjson.loads``, up to ``[DONE]``."""
    decoder = SSEDecoder(max_event_bytes=_MAX_EVENT_BYTES)
    loads = orjson.loads
    for event in decoder.feed(body):
        data = event.data
        if data == "[DONE]":
            return
        yield loads(data)
    for event in decoder.close():
        if event.data == "[DONE]":
            return
        yield loads(event.data)


def floor(body: bytes) -> int:
    """SSE framing and ``orjson.loads`` of every payload, nothing else: the lower bound."""
    count = 0
    for _ in iter_chunks(body):
        count += 1
    return count


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
    """The OpenAI SDK: each chunk built as its ``Stream`` builds it, fed to the stream state.

    ``Stream.__stream__`` hands every decoded payload to ``_process_response_data``,
    which (without strict validation, the default) calls
    ``construct_type(type_=ChatCompletionChunk, value=data)``.
    """
    from openai._models import construct_type
    from openai.lib.streaming.chat import ChatCompletionStreamState
    from openai.types.chat import ChatCompletionChunk as SDKChunk

    state: Any = ChatCompletionStreamState()
    for data in iter_chunks(body):
        chunk = construct_type(type_=SDKChunk, value=data)
        for _event in state.handle_chunk(chunk):
            pass
    return state.get_final_completion()


def litellm_builder(body: bytes) -> Any:
    """LiteLLM: each chunk as the ``ModelResponseStream`` it yields, then its chunk builder."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    chunks = [litellm.ModelResponseStream(**data) for data in iter_chunks(body)]
    return litellm.stream_chunk_builder(chunks)


_LANGCHAIN_MODEL: Any = None


def langchain_sum(body: bytes) -> Any:
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
        for data in iter_chunks(body):
            generation = convert(data, default, {})
            if generation is None:
                continue
            default = generation.message.__class__
            yield generation

    return generate_from_stream(generations())


#: Peer name -> (module that must import, path function).
PEERS: dict[str, tuple[str, Callable[[bytes], Any]]] = {
    "openai": ("openai", openai_state),
    "litellm": ("litellm", litellm_builder),
    "langchain": ("langchain_openai", langchain_sum),
}
