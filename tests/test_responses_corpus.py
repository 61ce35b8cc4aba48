"""Every recording of ../shared/corpus-responses folds and agrees with its own terminal object.

The events are read here with a small parser of our own (not deltafold's framer),
so the terminal ``response`` object each recording ends with is an independent
answer: the fold of the whole stream must equal it field for field after
``to_dict``, and the fold of the stream with the terminal ``output`` removed (as
a gateway that sends ``"output": []`` would) must still rebuild the same items
from the events alone, except for the fields listed in ``EVENTS_CANNOT_KNOW``.
Recordings made here run on any clone; ../shared/corpus-responses (or the folder
DELTAFOLD_CORPUS_RESPONSES names) adds the real ones on top.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

import deltafold.responses as r
from conftest import corpus_entries
from deltafold.responses import Accumulator, Response, assemble, assemble_sse

TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def _generated() -> list[dict[str, Any]]:
    """Recordings made here (``split`` of responses written below, framed as SSE), so the
    checks run on any clone; the real corpus adds its recordings on top."""
    folder = Path(tempfile.mkdtemp(prefix="deltafold-responses-"))
    made = {
        "generated/text-and-call.sse": r.Response(
            id="resp_g1", status="completed", model="m", created_at=1,
            output=[
                r.Reasoning(id="rs_1", summary=[r.SummaryText(text="Think **first**.")]),
                r.Message(id="msg_1", content=[r.OutputText(text="Checking the weather.")]),
                r.FunctionCall(id="fc_1", call_id="call_1", name="get_weather",
                               arguments='{"city": "Paris"}', status="completed"),
            ],
            usage=r.ResponseUsage(input_tokens=10, output_tokens=5, total_tokens=15),
        ),
        "generated/refusal-incomplete.sse": r.Response(
            id="resp_g2", status="incomplete", model="m", created_at=2,
            incomplete_details=r.IncompleteDetails(reason="max_output_tokens"),
            output=[r.Message(id="msg_2", content=[r.Refusal(refusal="I can't help.")])],
        ),
    }
    entries = []
    for name, response in made.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(r.to_sse(r.split(response))))
        entries.append({"path": name, "file": path})
    return entries


def _entries() -> list[Any]:
    entries = _generated() + corpus_entries("corpus-responses")
    return [pytest.param(e, id=e["path"]) for e in entries]


def raw_events(path: Path) -> list[dict[str, Any]]:
    """The events of an SSE recording, parsed without deltafold."""
    body = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    events = []
    for block in body.split("\n\n"):
        lines = block.split("\n")
        data = [line[5:].removeprefix(" ") for line in lines if line.startswith("data:")]
        text = "\n".join(data)
        if not data or not text.strip():
            continue
        if text.strip() == "[DONE]":
            break
        events.append(json.loads(text))
    return events


EVENTS_CANNOT_KNOW: dict[str, dict[int, set[str]]] = {
    # The terminal object carries a freshly encrypted reasoning blob (OpenAI, Azure):
    # the one in output_item.done is valid too, but not the same bytes.
    "*": {-1: {"encrypted_content"}},
    # Two of the three MCP listings never get an output_item.done: their tools are only
    # in the terminal object.
    "pydantic-ai/mcp-list-tools-gpt-4.1.sse": {0: {"tools"}, 1: {"tools"}},
    # OpenRouter gives the reasoning item a new id in response.completed.
    "pydantic-ai/openrouter-reasoning-text-gpt-oss-20b.sse": {0: {"id"}},
}
"""Per recording and output position (-1: any), the fields only the terminal object has."""


def _without(item: dict[str, Any], path: str, index: int) -> dict[str, Any]:
    drop = EVENTS_CANNOT_KNOW["*"][-1] | EVENTS_CANNOT_KNOW.get(path, {}).get(index, set())
    return {k: v for k, v in item.items() if k not in drop}


@pytest.mark.parametrize("entry", _entries())
def test_recording_folds_to_its_terminal_object(entry: dict[str, Any]) -> None:
    path = Path(entry["file"])
    events = raw_events(path)
    terminal = [e for e in events if e["type"] in TERMINAL]
    assert len(terminal) == 1, "each recording holds one response"
    folded = assemble_sse(path.read_bytes())
    assert folded.to_dict() == terminal[0]["response"]
    assert folded == Response.from_dict(terminal[0]["response"])
    assert folded.sequence_gaps == []
    assert folded.unknown_events == []


@pytest.mark.parametrize("entry", _entries())
def test_events_alone_rebuild_the_output(entry: dict[str, Any]) -> None:
    """The terminal event's output emptied, as some gateways send it: the events suffice."""
    path = Path(entry["file"])
    events = raw_events(path)
    expected = next(e for e in events if e["type"] in TERMINAL)["response"]
    stripped = [
        {**e, "response": {**e["response"], "output": []}} if e["type"] in TERMINAL else e
        for e in events
    ]
    folded = assemble(stripped).to_dict()
    assert {k: v for k, v in folded.items() if k != "output"} == {
        k: v for k, v in expected.items() if k != "output"
    }
    assert len(folded["output"]) == len(expected["output"])
    for index, (mine, theirs) in enumerate(zip(folded["output"], expected["output"], strict=True)):
        assert _without(mine, entry["path"], index) == _without(theirs, entry["path"], index)


@pytest.mark.parametrize("entry", _entries())
def test_text_agrees_with_the_deltas(entry: dict[str, Any]) -> None:
    """output_text is the output_text deltas joined, read independently of the fold."""
    path = Path(entry["file"])
    events = raw_events(path)
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert assemble_sse(path.read_bytes()).output_text == deltas


@pytest.mark.parametrize("entry", _entries())
def test_fed_one_event_at_a_time_as_json_text(entry: dict[str, Any]) -> None:
    """feed() of each event's JSON text gives the same response as assemble, and the
    text events add up to output_text."""
    path = Path(entry["file"])
    acc = Accumulator()
    seen: list[str] = []
    for event in raw_events(path):
        for ev in acc.feed(json.dumps(event)):
            text = getattr(ev, "text", None)
            if type(ev).__name__ == "ContentDelta" and isinstance(text, str):
                seen.append(text)
    result = acc.result()
    assert result == assemble_sse(path.read_bytes())
    assert "".join(seen) == result.output_text
