"""Every input gets a true answer (issue 10, items 1 and 3).

Input that holds no chat-completion chunk raises EmptyStreamError at every entry
point, saying what it held; a wrong argument type raises TypeError naming it,
what is accepted, and the fitting hint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

import deltafold
from deltafold import (
    Accumulator,
    ChatCompletion,
    ChatCompletionChunk,
    ChunkDecodeError,
    DeltafoldError,
    EmptyStreamError,
    IncompleteStreamError,
    assemble,
    assemble_sse,
    from_dict,
    to_dict,
)
from servers import ReplayServer, async_client, sync_client

TIMEOUT = 20
KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"
CHUNK: dict[str, Any] = {
    "id": "gen-1",
    "object": "chat.completion.chunk",
    "model": "m",
    "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
    ],
}
NOT_SSE = "it is not SSE (no 'data:' line), not JSON lines, not a JSON array or object"

# (body, what the message says of it)
BODIES: list[tuple[bytes | str, str]] = [
    (b"", "the input is empty"),
    ("", "the input is empty"),
    (b"\xef\xbb\xbf", "the input is empty"),
    (" \r\n\t\n", "the input is only whitespace"),
    (b"garbage", f"{NOT_SSE}; it starts with b'garbage'"),
    ("<html>502 Bad Gateway</html>", f"{NOT_SSE}; it starts with b'<html>502 Bad Gateway</html>'"),
    (bytes(range(256)), f"{NOT_SSE}; it starts with b'\\x00\\x01"),
    (b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n", "it holds only SSE comments"),
    (b"data: [DONE]\n\n", "it holds only [DONE]"),
    ("data: [DONE]", "it holds only [DONE]"),
    (
        b": OPENROUTER PROCESSING\n\ndata: [DONE]\n\n",
        "it holds only comments (keep-alives) and [DONE]",
    ),
    (b"event: ping\nid: 3\n\n", "its SSE events have no 'data:' line"),
    (b"data:\n\ndata: \n\n", "its SSE events carry no data"),
    ("null", "it is a JSON null, not a chunk"),
    (b" 42\n", "it is a JSON int, not a chunk"),
    ('"a string"', "it is a JSON str, not a chunk"),
]
BODY_IDS = [repr(b)[:30] for b, _ in BODIES]


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)


def check_empty(exc: EmptyStreamError, said: str) -> None:
    assert isinstance(exc, IncompleteStreamError)
    assert isinstance(exc, DeltafoldError)
    assert said in str(exc), str(exc)
    assert "\n" not in str(exc)


# --- item 1: no chunk, at every entry point ------------------------------------------------


@pytest.mark.parametrize(("body", "said"), BODIES, ids=BODY_IDS)
def test_assemble_body_without_a_chunk(body: bytes | str, said: str) -> None:
    with pytest.raises(EmptyStreamError) as info:
        assemble(body)
    check_empty(info.value, f"no chat-completion chunk in the input: {said}")
    assert info.value.partial is None


@pytest.mark.parametrize(("body", "said"), BODIES, ids=BODY_IDS)
def test_assemble_sse_without_a_chunk(body: bytes | str, said: str) -> None:
    for given in (body, [body[i : i + 3] for i in range(0, len(body), 3)]):
        with pytest.raises(EmptyStreamError) as info:
            assemble_sse(given)
        # Text pieces show their start as text, bytes as bytes.
        text_pieces = isinstance(given, list) and isinstance(body, str)
        check_empty(info.value, said.replace(" b'", " '") if text_pieces else said)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ([], "the iterable is empty"),
        (iter(()), "the iterable is empty"),
        (["[DONE]"], "the iterable holds only [DONE]"),
        ([b"[DONE]", CHUNK], "the iterable holds only [DONE]"),
        ("[]", "the body is an empty array"),
        (b'  ["[DONE]"]', "JSON array that holds only [DONE]"),
    ],
)
def test_assemble_items_without_a_chunk(given: Any, said: str) -> None:
    with pytest.raises(EmptyStreamError) as info:
        assemble(given)
    check_empty(info.value, said)


@pytest.mark.parametrize(
    ("given", "keys"),
    [
        ('{"hello": 1}', "it held only 'hello'"),
        ({"hello": 1}, "it held only 'hello'"),
        ([{"foo": 1}], "it held only 'foo'"),
        ([{}, {}], "2 items arrived"),
        (b'{"a": 1}\n{"b": [2]}\n', "they held only 'a', 'b'"),
        (b'data: {"x_other": true}\n\ndata: [DONE]\n\n', "it held only 'x_other'"),
        ([json.dumps({"text": "hi"})], "it held only 'text'"),
    ],
)
def test_items_that_are_not_chat_completion_chunks(given: Any, keys: str) -> None:
    with pytest.raises(EmptyStreamError) as info:
        assemble(given)
    check_empty(info.value, "none carried a chat-completion field")
    assert keys in str(info.value)
    # Nothing is dropped: what arrived is in the partial's extra.
    assert info.value.partial is not None
    if "held only" in keys:
        assert info.value.partial.extra


@pytest.mark.parametrize(
    "chunks",
    [
        [{"usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}}],
        [{"id": "gen-1"}],
        [{"object": "chat.completion.chunk", "choices": []}],
        [{"id": "gen-1", "choices": []}, {"choices": [], "usage": {"total_tokens": 1}}],
    ],
)
def test_chunks_without_choices_still_succeed(chunks: list[dict[str, Any]]) -> None:
    completion = assemble(chunks)
    assert completion.choices == []
    assert assemble_sse(sse(*chunks) + b"data: [DONE]\n\n") == completion
    with pytest.raises(IncompleteStreamError) as info:
        assemble(chunks, strict=True)
    assert not isinstance(info.value, EmptyStreamError)


def test_the_head_is_short_and_scrubbed() -> None:
    body = f"Authorization: Bearer {KEY}\napi_key={KEY[3:]}\n".encode() + b"x" * 1_000_000
    with pytest.raises(EmptyStreamError) as info:
        assemble(body)
    text = str(info.value)
    assert NOT_SSE in text
    assert KEY not in text and KEY[3:] not in text and KEY[10:30] not in text
    assert "Bearer ***" in text
    assert len(text) < 300
    assert info.value.head is not None
    assert KEY[10:30].encode() not in info.value.head  # type: ignore[operator]


def test_key_alone_in_a_body_is_scrubbed() -> None:
    with pytest.raises(EmptyStreamError) as info:
        assemble(f"{KEY}\n")
    assert KEY[8:] not in str(info.value)
    assert "***" in str(info.value)


def test_accumulator_result_without_a_chunk() -> None:
    with pytest.raises(EmptyStreamError, match="no chunk was fed"):
        Accumulator().result()
    acc = Accumulator()
    acc.feed({"note": "not a chunk"})
    with pytest.raises(EmptyStreamError, match="it held only 'note'"):
        acc.result()
    acc = Accumulator()
    acc.feed({"id": "gen-1"})
    assert acc.result().id == "gen-1"


def test_fold_without_a_chunk() -> None:
    for source, said in (([], "the iterable is empty"), (["[DONE]"], "holds only [DONE]")):
        folded = deltafold.fold(source)
        with pytest.raises(EmptyStreamError, match=said.replace("[", r"\[").replace("]", r"\]")):
            folded.until_done()
        # .completion never passes for a finished stream afterwards.
        with pytest.raises(EmptyStreamError):
            _ = folded.completion
    folded = deltafold.fold([{"junk": 1}])
    assert next(folded) == {"junk": 1}  # items pass through; the end raises
    with pytest.raises(EmptyStreamError, match="it held only 'junk'"):
        next(folded)
    with pytest.raises(EmptyStreamError):
        _ = folded.completion


@pytest.mark.anyio
async def test_afold_without_a_chunk() -> None:
    async def nothing() -> AsyncIterator[dict[str, Any]]:
        return
        yield {}

    async def done_only() -> AsyncIterator[str]:
        yield "[DONE]"

    with anyio.fail_after(TIMEOUT):
        with pytest.raises(EmptyStreamError, match="the iterable is empty"):
            await deltafold.afold(nothing()).until_done()
        folded = deltafold.afold(done_only())
        with pytest.raises(EmptyStreamError, match=r"holds only \[DONE\]"):
            async for _ in folded:
                pass
        with pytest.raises(EmptyStreamError):
            _ = folded.completion


# --- over HTTP: a 200 text/event-stream with no chunk ------------------------------------

STREAM_BODIES = [
    (b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: [DONE]\n\n", "[DONE]"),
    (b"data: [DONE]\n\n", "it holds only [DONE]"),
    (b": OPENROUTER PROCESSING\n\n", "it holds only SSE comments"),
    (b"garbage\n\n", NOT_SSE),
    (b'data: {"hello": 1}\n\ndata: [DONE]\n\n', "it held only 'hello'"),
]
REQUEST = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "said"), STREAM_BODIES)
async def test_async_stream_without_a_chunk(replay: ReplayServer, body: bytes, said: str) -> None:
    url = replay.add(body)
    with anyio.fail_after(TIMEOUT):
        async with async_client() as http, deltafold.aconnect_chat(http, url, json=REQUEST) as s:
            with pytest.raises(EmptyStreamError) as info:
                await s.until_done()
            with pytest.raises(EmptyStreamError):
                _ = s.completion
    assert str(info.value).startswith("the stream ended without any chat-completion chunk")
    assert said in str(info.value)


@pytest.mark.parametrize(("body", "said"), STREAM_BODIES)
def test_sync_stream_without_a_chunk(replay: ReplayServer, body: bytes, said: str) -> None:
    url = replay.add(body)
    with sync_client(timeout=TIMEOUT) as http, deltafold.connect_chat(http, url, json=REQUEST) as s:
        with pytest.raises(EmptyStreamError) as info:
            s.until_done()
        with pytest.raises(EmptyStreamError):
            list(s)
    assert said in str(info.value)


def test_sync_stream_with_an_empty_body(replay: ReplayServer) -> None:
    url = replay.add(b"", whole=True)
    with (
        sync_client(timeout=TIMEOUT) as http,
        deltafold.connect_chat(http, url, json=REQUEST) as s,
        pytest.raises(EmptyStreamError, match="the input is empty"),
    ):
        s.until_done()


# --- the CLI and the replay server -------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deltafold", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"", "the input is empty"),
        (b"garbage", NOT_SSE),
        (b"<html>502 Bad Gateway</html>", NOT_SSE),
        (b": OPENROUTER PROCESSING\n\ndata: [DONE]\n\n", "and [DONE]"),
        (b'{"hello": 1}', "it held only 'hello'"),
        (b"[]", "the body is an empty array"),
    ],
)
def test_cli_assemble_and_serve_refuse_input_without_a_chunk(
    tmp_path: Path, body: bytes, said: str
) -> None:
    file = tmp_path / "input.sse"
    file.write_bytes(body)
    for command in ("assemble", "serve"):
        result = run(command, str(file))
        assert result.returncode == 1, result
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"deltafold {command}: {file}: "), lines[0]
        assert said in lines[0]
        assert "Traceback" not in result.stderr


def test_cli_assemble_scrubs_the_head(tmp_path: Path) -> None:
    file = tmp_path / "leak.txt"
    file.write_text(f"curl -H 'Authorization: Bearer {KEY}' https://example.invalid\n")
    result = run("assemble", str(file))
    assert result.returncode == 1
    assert KEY not in result.stderr and KEY[10:] not in result.stderr


@pytest.mark.parametrize(
    "source",
    [b"", b"garbage", b"data: [DONE]\n\n", [], [{"foo": 1}], b"[]", b"{}\n{}\n"],
    ids=repr,
)
def test_replay_app_refuses_a_recording_without_a_chunk(source: Any) -> None:
    with pytest.raises(EmptyStreamError):
        deltafold.replay_app(source)


# --- item 3: one item, and wrong argument types ------------------------------------------


class _Chunk(Mapping[str, Any]):
    """A read-only mapping that is not a dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@pytest.mark.parametrize(
    "one",
    [
        CHUNK,
        types.MappingProxyType(CHUNK),
        _Chunk(CHUNK),
        ChatCompletionChunk.from_dict(CHUNK),
    ],
    ids=["dict", "mappingproxy", "Mapping", "ChatCompletionChunk"],
)
def test_assemble_takes_one_mapping_as_one_item(one: Any) -> None:
    expected = assemble([CHUNK])
    assert assemble(one) == expected
    assert expected.choices[0].message.content == "Hi"
    # Inside an iterable, a non-dict mapping is a chunk too.
    assert assemble([one]) == expected


def test_assemble_reads_a_file_object(tmp_path: Path) -> None:
    file = tmp_path / "body.sse"
    file.write_bytes(sse(CHUNK) + b"data: [DONE]\n\n")
    with file.open("rb") as binary, file.open() as text:
        assert assemble(binary) == assemble(text) == assemble([CHUNK])


class AsyncStream:
    """Stands in for openai.AsyncStream: async-iterable only."""

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        raise StopAsyncIteration


async def _agen() -> AsyncIterator[dict[str, Any]]:
    yield CHUNK


@pytest.mark.parametrize("func", [assemble, assemble_sse])
@pytest.mark.parametrize("make", [AsyncStream, _agen], ids=["AsyncStream", "async_generator"])
def test_async_iterables_point_to_afold(func: Any, make: Any) -> None:
    source = make()
    with pytest.raises(TypeError) as info:
        func(source)
    text = str(info.value)
    assert f"{func.__name__}() takes" in text
    assert type(source).__name__ in text
    assert "afold()" in text
    if hasattr(source, "aclose"):
        anyio.run(source.aclose)


@pytest.mark.parametrize("wrong", [None, 5, 1.5, object(), Path("x.sse"), True])
@pytest.mark.parametrize("func", [assemble, assemble_sse, deltafold.fold, deltafold.afold])
def test_wrong_types_name_the_type_and_what_is_accepted(func: Any, wrong: Any) -> None:
    with pytest.raises(TypeError) as info:
        func(wrong)
    text = str(info.value)
    name = "None" if wrong is None else type(wrong).__name__
    assert f"{func.__name__}() takes " in text
    assert f"got {name}" in text or f"got pathlib.{name}" in text, text


@pytest.mark.parametrize(
    "given",
    [[CHUNK], (CHUNK,), CHUNK, (c for c in [CHUNK]), [ChatCompletionChunk.from_dict(CHUNK)]],
    ids=["list", "tuple", "dict", "generator", "typed list"],
)
def test_assemble_sse_points_decoded_chunks_to_assemble(given: Any) -> None:
    with pytest.raises(TypeError) as info:
        assemble_sse(given)
    assert "assemble_sse() takes an SSE body" in str(info.value)
    assert "go to deltafold.assemble()" in str(info.value)


def test_assemble_sse_names_a_bad_piece() -> None:
    with pytest.raises(TypeError, match="one of its pieces is int"):
        assemble_sse(iter([b"data: [DONE]", 5]))


def test_fold_and_afold_hints() -> None:
    with pytest.raises(TypeError, match=r"got list \(a sync iterable: use deltafold\.fold\(\)"):
        deltafold.afold([CHUNK])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got async_generator \(an async iterable: use .*afold"):
        deltafold.fold(_agen())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"a whole body goes to deltafold\.assemble"):
        deltafold.fold(sse(CHUNK))
    with pytest.raises(TypeError, match=r"got dict \(one chunk or completion goes to .*assemble"):
        deltafold.fold(CHUNK)  # type: ignore[arg-type]


def test_from_dict_with_the_arguments_swapped() -> None:
    with pytest.raises(TypeError) as info:
        from_dict(CHUNK, ChatCompletionChunk)  # type: ignore[arg-type]
    text = str(info.value)
    assert "from_dict(cls, data)" in text and "swapped" in text and "got dict as cls" in text
    with pytest.raises(TypeError, match="got None as cls"):
        from_dict(None, CHUNK)  # type: ignore[arg-type]
    assert from_dict(ChatCompletionChunk, CHUNK).id == "gen-1"


@pytest.mark.parametrize("wrong", [CHUNK, 5, None, "text", [ChatCompletion()]])
def test_to_dict_of_a_non_model(wrong: Any) -> None:
    with pytest.raises(TypeError) as info:
        to_dict(wrong)
    name = "None" if wrong is None else type(wrong).__name__
    assert str(info.value).startswith("to_dict() takes a deltafold model")
    assert f"got {name}" in str(info.value)


def test_unreadable_items_keep_their_position() -> None:
    with pytest.raises(ChunkDecodeError) as info:
        assemble([CHUNK, 5])
    assert info.value.position == 1
    assert info.value.partial is not None
    assert info.value.partial.choices[0].message.content == "Hi"


# --- mistakes that deserve a hint (issue 19, point 6) -------------------------------------


def _file_hint_calls() -> list[tuple[str, Any]]:
    """Every entry point that takes a body or JSON text, each given the text ``name``."""

    async def afold_it(name: Any) -> None:
        deltafold.afold(name)

    return [
        ("assemble(str)", lambda name: assemble(name)),
        ("assemble(bytes)", lambda name: assemble(name.encode())),
        ("assemble_sse(str)", lambda name: assemble_sse(name)),
        ("assemble_sse(bytes)", lambda name: assemble_sse(name.encode())),
        ("assemble_sse([str])", lambda name: assemble_sse([name])),
        ("assemble([str])", lambda name: assemble([name])),
        ("fold(str)", lambda name: list(deltafold.fold(name))),
        ("fold([str])", lambda name: list(deltafold.fold([name]))),
        ("afold(str)", lambda name: anyio.run(afold_it, name)),
        ("Accumulator.feed(str)", lambda name: Accumulator().feed(name)),
    ]


FILE_HINT_CALLS = _file_hint_calls()


@pytest.mark.parametrize(
    "call", [c for _, c in FILE_HINT_CALLS], ids=[n for n, _ in FILE_HINT_CALLS]
)
@pytest.mark.parametrize("form", ["relative", "absolute", "padded"])
def test_text_naming_a_file_says_to_read_the_file(
    call: Any, form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``assemble("rec.sse")`` folds seven characters: the error names the file to read."""
    recording = tmp_path / "logs" / "stream-0042.jsonl"
    recording.parent.mkdir()
    recording.write_bytes(sse(CHUNK))
    monkeypatch.chdir(tmp_path)
    name = {"relative": "logs/stream-0042.jsonl", "absolute": str(recording)}.get(
        form, " logs/stream-0042.jsonl\n"
    )
    with pytest.raises((DeltafoldError, TypeError)) as info:
        call(name)
    text = str(info.value)
    shown = name.strip()
    assert f"{shown!r} names a file, not its content" in text, text
    assert f"Path({shown!r}).read_bytes()" in text


def test_text_naming_no_file_gets_no_file_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.sse").mkdir()  # a folder is not a file to read
    for name in ("missing.sse", "folder.sse", "logs/none.jsonl"):
        with pytest.raises(EmptyStreamError) as info:
            assemble(name)
        assert "names a file" not in str(info.value)
        assert NOT_SSE in str(info.value)


NO_SCHEME = [
    ("localhost:8000/v1/chat/completions", "http://localhost:8000/v1/chat/completions"),
    ("127.0.0.1:9/chat/completions", "http://127.0.0.1:9/chat/completions"),
    ("api.example.com/v1/chat/completions", "https://api.example.com/v1/chat/completions"),
    ("//api.example.com/v1/chat/completions", "https://api.example.com/v1/chat/completions"),
]


@pytest.mark.parametrize(("url", "meant"), NO_SCHEME)
def test_stream_url_without_a_scheme_gets_did_you_mean(url: str, meant: str) -> None:
    """The same rule as Client's base_url, for aconnect_chat and connect_chat, before a request."""
    with sync_client() as http, pytest.raises(deltafold.EndpointError) as sync_info:
        deltafold.connect_chat(http, url, json={"model": "m"})
    assert str(sync_info.value) == f"url={url!r} has no scheme; did you mean {meant}?"

    async def main() -> None:
        async with async_client() as http:
            with pytest.raises(deltafold.EndpointError) as info:
                deltafold.aconnect_chat(http, url, json={"model": "m"})
            assert str(info.value) == str(sync_info.value)

    anyio.run(main)
    base = url.rsplit("/chat/completions", 1)[0]
    with pytest.raises(deltafold.EndpointError) as client_info:
        deltafold.Client(base, api_key="")
    assert f"did you mean {meant.rsplit('/chat/completions', 1)[0]}?" in str(client_info.value)


def test_stream_url_errors_show_no_query_string() -> None:
    with sync_client() as http:
        for url in (f"localhost:8000/v1/chat/completions?key={KEY}", f"ftp://h/v1?key={KEY}"):
            with pytest.raises(deltafold.EndpointError) as info:
                deltafold.connect_chat(http, url, json={})
            assert KEY not in str(info.value) and "?..." in str(info.value)
        with pytest.raises(deltafold.EndpointError, match="has no host"):
            deltafold.connect_chat(http, "http:///v1/chat/completions", json={})


def test_a_relative_url_is_fine_with_a_base_url(replay: ReplayServer) -> None:
    path = replay.add(sse(CHUNK)).removeprefix(replay.url)
    with (
        sync_client(base_url=replay.url) as http,
        deltafold.connect_chat(http, path, json=REQUEST, idle_timeout=TIMEOUT) as stream,
    ):
        assert stream.until_done().choices[0].message.content == "Hi"


def test_dir_lists_the_public_api_only() -> None:
    names = dir(deltafold)
    assert "TYPE_CHECKING" not in names and "annotations" not in names
    assert not [n for n in names if n.startswith("_") and n != "__version__"]
    assert set(deltafold.__all__) <= set(names)
    assert {"assemble_table", "BulkOptions", "demo_recording"} <= set(names)


def test_counts_in_messages_are_plural_only_when_not_one() -> None:
    one = [{"id": "c", "choices": [{"index": 0, "delta": {"content": "x"}}]}]
    with pytest.raises(IncompleteStreamError, match=r"after 1 chunk but"):
        assemble(one, strict=True)
    with pytest.raises(IncompleteStreamError, match=r"after 2 chunks but"):
        assemble(one * 2, strict=True)
    with deltafold.fold(iter(one)) as chunks:
        for _ in chunks:
            pass
    assert chunks.timing.summary().startswith("1 chunk,")
