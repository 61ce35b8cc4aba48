"""Every wire format through one door: ``assemble_any``, ``deltafold assemble``, bulk, serve.

The bodies are made here (each format's ``split`` + ``to_sse``), so the tests run without
../shared; the real Responses and Messages corpora add their recordings when present.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import deltafold
from conftest import corpus_entries
from deltafold import messages, responses
from deltafold._cli import main
from deltafold._format import Summary

CHAT_RESULT = deltafold.ChatCompletion.from_dict({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-x",
    "choices": [{
        "index": 0, "finish_reason": "tool_calls",
        "message": {
            "role": "assistant", "content": "Checking the weather.",
            "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'},
            }],
        },
    }],
    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
})
RESPONSE = responses.Response.from_dict({
    "id": "resp_1", "object": "response", "created_at": 1700000001, "status": "completed",
    "model": "gpt-r",
    "output": [
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "Rain is likely.", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_r", "name": "umbrella",
         "arguments": '{"open": true}', "status": "completed"},
    ],
    "usage": {"input_tokens": 21, "output_tokens": 9, "total_tokens": 30,
              "input_tokens_details": {"cached_tokens": 4},
              "output_tokens_details": {"reasoning_tokens": 2}},
})
MESSAGE = messages.Message.from_dict({
    "id": "msg_a", "type": "message", "role": "assistant", "model": "claude-x",
    "content": [
        {"type": "text", "text": "Bring a coat."},
        {"type": "tool_use", "id": "toolu_1", "name": "coat", "input": {"size": "M"}},
    ],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 30, "output_tokens": 12, "cache_read_input_tokens": 5},
})


def chat_body() -> bytes:
    return b"".join(deltafold.to_sse(deltafold.split(CHAT_RESULT, seed=1)))


def responses_body() -> bytes:
    return b"".join(responses.to_sse(responses.split(RESPONSE, chunk_chars=3, seed=2)))


def messages_body() -> bytes:
    return b"".join(messages.to_sse(messages.split(MESSAGE, chunk_chars=3, seed=3)))


BODIES = {"chat": chat_body, "responses": responses_body, "messages": messages_body}
FOLD = {"chat": deltafold.assemble, "responses": responses.assemble,
        "messages": messages.assemble}
RESULTS = {"chat": CHAT_RESULT, "responses": RESPONSE, "messages": MESSAGE}
SUMMARIZE = {"chat": deltafold._chat_format.summarize_chat,
             "responses": responses._format.summarize_response,
             "messages": messages._format.summarize_message}


def _real(corpus: str) -> list[Any]:
    return [pytest.param(e, id=str(e["path"])) for e in corpus_entries(corpus)]


# --- detection and assemble_any ---------------------------------------------------------


@pytest.mark.parametrize("name", BODIES)
def test_each_made_body_folds_back_to_its_result(name: str) -> None:
    body = BODIES[name]()
    assert deltafold.detect_format(body) == name
    assert deltafold.detect_format(body.decode()) == name
    result = deltafold.assemble_any(body)
    assert type(result) is type(RESULTS[name])
    assert result.to_dict() == FOLD[name](body).to_dict()


@pytest.mark.parametrize("name", BODIES)
def test_events_as_items_json_lines_and_an_iterator_are_detected(name: str) -> None:
    events = [json.loads(e.data) for e in deltafold.iter_sse([BODIES[name]()])
              if e.data and e.data != "[DONE]"]
    lines = b"\n".join(json.dumps(e).encode() for e in events)
    assert deltafold.detect_format(lines) == name
    assert deltafold.detect_format(events) == name
    want = FOLD[name](events).to_dict()
    assert deltafold.assemble_any(iter(events)).to_dict() == want  # the events read come back
    assert deltafold.assemble_any(lines).to_dict() == want


def test_a_result_object_says_its_format() -> None:
    assert deltafold.detect_format(RESPONSE.to_dict()) == "responses"
    assert deltafold.detect_format(MESSAGE.to_dict()) == "messages"
    assert deltafold.detect_format(CHAT_RESULT) == "chat"


def test_a_format_named_refuses_another_formats_stream() -> None:
    with pytest.raises(deltafold.WrongFormatError, match=r"deltafold\.messages\.assemble"):
        deltafold.assemble_any(messages_body(), format="chat")
    with pytest.raises(ValueError, match=r"auto.*chat, responses, messages"):
        deltafold.assemble_any(chat_body(), format="gemini")


def test_undetectable_input_lists_the_formats() -> None:
    with pytest.raises(deltafold.EmptyStreamError, match="chat, responses, messages") as caught:
        deltafold.assemble_any(b'data: {"hello": 1}\n\n')
    assert not isinstance(caught.value, deltafold.WrongFormatError)
    with pytest.raises(deltafold.EmptyStreamError, match="chat, responses, messages"):
        deltafold.detect_format([{"hello": 1}, "ping"])


def test_a_stream_naming_no_format_is_folded_as_chat() -> None:
    usage_only = [{"id": "x", "model": "m", "usage": {"prompt_tokens": 3}}]
    with pytest.raises(deltafold.EmptyStreamError):
        deltafold.detect_format(usage_only)
    assert deltafold.assemble_any(usage_only).to_dict() == deltafold.assemble(usage_only).to_dict()


def test_detection_reads_past_events_that_say_nothing() -> None:
    body = b"event: ping\ndata: {\"type\": \"ping\"}\n\n" * 10 + messages_body()
    assert deltafold.detect_format(body) == "messages"


@pytest.mark.parametrize("entry", _real("corpus-responses") + _real("corpus-messages"))
def test_every_real_recording_is_detected_and_folds_as_its_format(entry: dict[str, Any]) -> None:
    raw = Path(entry["file"]).read_bytes()
    name = "responses" if entry["origin"] == "corpus-responses" else "messages"
    assert deltafold.detect_format(raw) == name
    try:
        want: Any = FOLD[name](raw).to_dict()
    except deltafold.DeltafoldError as exc:
        with pytest.raises(type(exc)):
            deltafold.assemble_any(raw)
    else:
        assert deltafold.assemble_any(raw).to_dict() == want


# --- deltafold assemble ---------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("zipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", BODIES)
def test_cli_assemble_detects_and_folds_each_format(
    name: str, zipped: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = BODIES[name]()
    path = tmp_path / "recording.sse"
    path.write_bytes(gzip.compress(body) if zipped else body)
    code, out, err = _cli(capsys, "assemble", str(path))
    assert code == 0, err
    assert json.loads(out) == FOLD[name](body).to_dict()
    if name == "chat":
        assert err == ""
    else:
        assert err.strip() == f"deltafold assemble: {path}: a {name} stream"


@pytest.mark.parametrize("name", BODIES)
def test_cli_events_work_for_every_format(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "recording.sse"
    path.write_bytes(BODIES[name]())
    code, out, _ = _cli(capsys, "assemble", str(path), "--events")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    types = {record["type"] for record in records}
    assert "content_delta" in types
    text = "".join(r["text"] for r in records if r["type"] == "content_delta")
    assert text == SUMMARIZE[name](RESULTS[name]).content


def test_cli_undetectable_body_exits_1_listing_the_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"hello": 1}\n{"world": 2}\n')
    code, out, err = _cli(capsys, "assemble", str(path))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "EmptyStream" not in err and "chat, responses, messages" in err


def test_cli_a_named_format_refuses_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "anthropic.sse"
    path.write_bytes(messages_body())
    code, _, err = _cli(capsys, "assemble", str(path), "--format", "chat")
    assert code == 1
    assert "deltafold.messages.assemble" in err
    code, out, _ = _cli(capsys, "assemble", str(path), "--format", "messages")
    assert code == 0 and json.loads(out)["id"] == "msg_a"


# --- bulk -----------------------------------------------------------------------------


pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _mixed_folder(folder: Path) -> dict[str, str]:
    files = {}
    for name, make in BODIES.items():
        files[name] = f"{name}.sse"
        (folder / files[name]).write_bytes(make())
    lines = [json.dumps({"body": b.decode()}) for b in (responses_body(), messages_body())]
    (folder / "more.jsonl").write_text("\n".join(lines) + "\n")
    events = [e.data for e in deltafold.iter_sse([responses_body()]) if e.data]
    (folder / "events.jsonl").write_text("\n".join(events) + "\n")  # one stream as JSON lines
    return files


def _expected_row(name: str) -> dict[str, Any]:
    summary: Summary = SUMMARIZE[name](FOLD[name](BODIES[name]()))
    calls = [
        {"id": c["id"], "name": c["name"],
         "arguments": c["arguments"] if isinstance(c["arguments"], str)
         else json.dumps(c["arguments"], separators=(",", ":"))}
        for c in summary.tool_calls or ()
    ]
    return {
        "format": name, "error_type": None, "id": summary.id, "model": summary.model,
        "provider": summary.provider, "content": summary.content,
        "finish_reason": summary.finish_reason, "tool_calls": calls,
        "prompt_tokens": summary.input_tokens, "completion_tokens": summary.output_tokens,
        "total_tokens": summary.total_tokens, "cached_tokens": summary.cached_tokens,
    }


def test_bulk_folds_a_mixed_folder_into_one_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _mixed_folder(folder)
    out = tmp_path / "out.parquet"
    code, _, err = _cli(capsys, "bulk", str(folder), "-o", str(out), "--workers", "1")
    assert code == 0, err
    rows = pq.read_table(out).to_pylist()
    assert sorted(row["format"] for row in rows) == sorted(
        ["chat", "messages", "messages", "responses", "responses", "responses"]
    )
    for row in rows:
        want = _expected_row(row["format"])
        assert {key: row[key] for key in want} == want
        name = row["format"]
        assert json.loads(row["completion"]) == FOLD[name](BODIES[name]()).to_dict()
    assert _expected_row("messages")["tool_calls"] == [
        {"id": "toolu_1", "name": "coat", "arguments": '{"size":"M"}'}
    ]
    assert _expected_row("responses")["cached_tokens"] == 4


def test_bulk_with_a_named_format_makes_error_rows_of_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.sse").write_bytes(messages_body())
    (tmp_path / "b.sse").write_bytes(chat_body())
    out = tmp_path / "out.parquet"
    code, stdout, _ = _cli(capsys, "bulk", str(tmp_path / "a.sse"), str(tmp_path / "b.sse"),
                           "-o", str(out), "--workers", "1", "--format", "chat")
    assert code == 0 and "WrongFormatError 1" in stdout
    bad, good = pq.read_table(out).to_pylist()
    assert bad["error_type"] == "WrongFormatError" and bad["format"] == "chat"
    assert "deltafold.messages.assemble" in bad["error_message"]
    assert good["error_type"] is None and good["content"] == "Checking the weather."


def test_bulk_schema_ends_with_the_format_column() -> None:
    assert deltafold.BULK_SCHEMA.names[-1] == "format"
    assert str(deltafold.BULK_SCHEMA.field("format").type) == "string"


def test_the_duckdb_function_detects_the_format() -> None:
    duckdb = pytest.importorskip("duckdb")
    con = deltafold.register_duckdb(duckdb.connect())
    bodies = pa.table({"body": [b.decode() for b in (chat_body(), responses_body(),
                                                   messages_body())]})
    con.register("bodies", bodies)
    got = con.execute(
        "SELECT deltafold_assemble(body).format, deltafold_assemble(body).content FROM bodies"
    ).fetchall()
    assert got == [("chat", "Checking the weather."), ("responses", "Rain is likely."),
                   ("messages", "Bring a coat.")]


# --- serve ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["responses", "messages"])
def test_serve_replays_at_the_formats_path(name: str) -> None:
    pytest.importorskip("starlette")
    body = BODIES[name]()
    path = f"/{name}"
    with deltafold.replay_server(body) as url, httpx.Client(timeout=10) as http:
        assert url.startswith("http://127.0.0.1:")
        with http.stream("POST", f"{url}{path}", json={"stream": True}) as answer:
            assert answer.status_code == 200
            got = b"".join(answer.iter_bytes())
        assert got == body
        assert FOLD[name](got).to_dict() == FOLD[name](body).to_dict()
        whole = http.post(f"{url}{path}", json={"stream": False})
        assert whole.json() == FOLD[name](body).to_dict()
        wrong = http.post(f"{url}/chat/completions", json={"stream": True})
        assert wrong.status_code == 404
        assert f"/v1{path}" in wrong.json()["error"]["message"]


def test_serve_splits_a_result_json_of_each_format(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from deltafold._server import load_recording

    for name, result in (("responses", RESPONSE), ("messages", MESSAGE)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(result.to_dict()))
        recording = load_recording(path, chunk_chars=2, seed=5)
        assert recording.format.name == name
        assert recording.completion.to_dict() == result.to_dict()
        assert len(recording.events) > 4


def test_the_official_sdks_stream_from_the_replay_server() -> None:
    pytest.importorskip("starlette")
    anthropic = pytest.importorskip("anthropic")
    openai = pytest.importorskip("openai")
    with deltafold.replay_server(messages_body()) as url:
        client = anthropic.Anthropic(base_url=url.removesuffix("/v1"), api_key="unused")
        with client.messages.stream(
            model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            message = stream.get_final_message()
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"size": "M"}
    with deltafold.replay_server(responses_body()) as url:
        client = openai.OpenAI(base_url=url, api_key="unused")
        with client.responses.stream(model="gpt-r", input="hi") as stream:
            response = stream.get_final_response()
    assert response.output_text == "Rain is likely."
