"""Every recording assembles and agrees with facts read from its raw bytes.

The recordings are the ones made in tests/recordings.py plus the real corpus
(../shared/corpus or $DELTAFOLD_CORPUS) when present. The expected values are
computed here from the raw recording with a tiny parser of our own, so a bug
in deltafold's SSE framing or fold shows up as a disagreement rather than
being compared against itself; a generated recording is also checked against
the completion it was made from.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from deltafold import ChatCompletion, StreamError, assemble, assemble_sse, from_dict
from recordings import all_recordings, made_here, read_recording, recording_params


def raw_chunks(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunk objects of a recording, parsed independently of deltafold (SSE or JSON lines)."""
    body = read_recording(entry).decode("utf-8")
    if entry["format"] != "sse":
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    chunks: list[dict[str, Any]] = []
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    for block in body.split("\n\n"):
        kind = "message"
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        text = "\n".join(data)
        if not data or not text.strip():
            continue
        if text.strip() == "[DONE]":
            break
        value = json.loads(text)
        if kind == "error" and "error" not in value:
            value = {"error": value}
        chunks.append(value)
    return chunks


def fold_recording(entry: dict[str, Any]) -> tuple[ChatCompletion, StreamError | None]:
    """The completion (or the partial of the StreamError) of one recording."""
    body = read_recording(entry)
    try:
        if entry["format"] == "sse":
            return assemble_sse(body), None
        return assemble(body), None
    except StreamError as exc:
        assert exc.partial is not None, "a StreamError must carry the partial completion"
        return exc.partial, exc


def expected_content(chunks: list[dict[str, Any]]) -> dict[int, str | None]:
    """Per choice index: the text deltas concatenated (text parts of part lists included)."""
    out: dict[int, str | None] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            index = choice.get("index", 0)
            out.setdefault(index, None)
            content = (choice.get("delta") or {}).get("content")
            if isinstance(content, str):
                out[index] = (out[index] or "") + content
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and part.get("type") == "text":
                        out[index] = (out[index] or "") + part["text"]
    return out


def expected_reasoning(chunks: list[dict[str, Any]]) -> dict[int, str | None]:
    """Per choice index: reasoning / reasoning_content (once when equal) and thinking parts."""
    out: dict[int, str | None] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            index = choice.get("index", 0)
            delta = choice.get("delta") or {}
            texts = [delta.get("reasoning"), delta.get("reasoning_content")]
            if texts[0] == texts[1]:
                texts = texts[:1]
            content = delta.get("content")
            for part in content if isinstance(content, list) else []:
                if isinstance(part, dict) and part.get("type") == "thinking":
                    texts.extend(p["text"] for p in part["thinking"])
            for text in texts:
                if isinstance(text, str):
                    out[index] = (out.get(index) or "") + text
    return out


def expected_usage(chunks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last reported value of every usage field (nested objects field by field)."""

    def latest(target: dict[str, Any], update: dict[str, Any]) -> None:
        for key, value in update.items():
            if isinstance(value, dict):
                latest(target.setdefault(key, {}), value)
            elif value is not None:
                target[key] = value

    usage: dict[str, Any] | None = None
    for chunk in chunks:
        if isinstance(chunk.get("usage"), dict):
            usage = {} if usage is None else usage
            latest(usage, chunk["usage"])
    if usage is None:
        # Groq's older streams: usage only inside the top-level x_groq, lifted.
        for chunk in chunks:
            carried = chunk.get("x_groq")
            if isinstance(carried, dict) and isinstance(carried.get("usage"), dict):
                usage = {} if usage is None else usage
                latest(usage, carried["usage"])
    return usage


@pytest.mark.parametrize("entry", recording_params())
def test_recording_assembles(entry: dict[str, Any]) -> None:
    completion, error = fold_recording(entry)
    chunks = raw_chunks(entry)
    assert chunks, "the recording has chunks"

    if "error" in entry["features"]:
        assert error is not None, "an error recording raises StreamError"
    else:
        assert error is None

    content = expected_content(chunks)
    reasoning = expected_reasoning(chunks)
    assert sorted(content) == [c.index for c in completion.choices]
    for choice in completion.choices:
        assert choice.message.content == content[choice.index], choice.index
        assert choice.message.reasoning == reasoning.get(choice.index), choice.index
        if choice.finish_reason is not None:
            for call in choice.message.tool_calls:
                json.loads(call.function.arguments)
                assert call.function.name

    usage = expected_usage(chunks)
    if usage is None:
        assert completion.usage is None
    else:
        assert completion.to_dict()["usage"] == usage

    # Per-chunk padding (obfuscation, p) never reaches the completion, at any level.
    wire = completion.to_dict()
    levels = [wire, *wire["choices"], *(c["message"] for c in wire["choices"])]
    for level in levels:
        assert not {"obfuscation", "p"} & set(level)

    assert ChatCompletion.from_dict(completion.to_dict()) == completion


def test_corpus_pass_count() -> None:
    entries = all_recordings()
    passed = 0
    failures = []
    for entry in entries:
        try:
            test_recording_assembles(entry)
        except Exception as exc:  # collect every failure for the summary
            failures.append(f"{entry['path']}: {type(exc).__name__}: {exc}")
        else:
            passed += 1
    print(f"\ncorpus: {passed}/{len(entries)} recordings pass")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("entry", recording_params(e for e in made_here() if "source" in e))
def test_a_generated_recording_folds_to_what_it_was_made_from(entry: dict[str, Any]) -> None:
    completion, error = fold_recording(entry)
    assert completion == from_dict(ChatCompletion, entry["source"])
    if "error" not in entry["features"]:
        assert error is None
        return
    assert error is not None
    message = entry["source"]["error"]["message"]
    assert f"error at event {entry['error_event']} " in str(error) and message in str(error)


def test_the_generated_recordings_cover_what_the_suite_needs() -> None:
    """The features the tests rely on when no real corpus is present, each in some recording."""
    made = made_here()
    found = {feature for entry in made for feature in entry["features"]}
    needed = {
        "tool_calls", "parallel_tool_calls", "reasoning", "reasoning_details", "logprobs",
        "n_gt_1", "error", "usage", "usage_only_final_chunk", "refusal", "annotations",
        "comments", "finish_length", "no_done", "content",
    }
    assert needed <= found, needed - found
    assert {entry["format"] for entry in made} == {"sse", "chunks-jsonl"}
    assert len({entry["path"] for entry in made}) == len(made)
