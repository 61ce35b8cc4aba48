"""The typed view of streamed chunks: ``text`` is always a ``str``, and the wire shape stays.

An app written against the public API type-checks under ``mypy --strict`` without
``if choice.delta and isinstance(choice.delta.content, str)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import deltafold

APP = """
import deltafold


def show(chunk: deltafold.ChatCompletionChunk) -> str:
    first: str = chunk.text
    every: list[str] = [choice.text for choice in chunk.choices]
    from_delta: str = chunk.choices[0].delta.text if chunk.choices[0].delta else ""
    return first + "".join(every) + from_delta


def answer(completion: deltafold.ChatCompletion) -> str:
    return completion.choices[0].message.text.upper()


def rebuilt(data: dict[str, object]) -> deltafold.ChatCompletionChunk:
    return deltafold.ChatCompletionChunk.from_dict(data)  # typed as the class it is called on


def tokens(completion: deltafold.ChatCompletion) -> list[str]:
    logprobs = completion.choices[0].logprobs  # typed on first read, typed precisely here
    if logprobs is None or logprobs.content is None:
        return []
    first: deltafold.TokenLogprob = logprobs.content[0]
    rest: list[deltafold.TokenLogprob] = logprobs.content[1:]
    return [first.token, *(t.token for t in rest)]
"""

WRONG = """
import deltafold


def broken(chunk: deltafold.ChatCompletionChunk) -> int:
    return chunk.text


def typo(logprobs: deltafold.Logprobs) -> object:
    return logprobs.contents  # the lazy Logprobs keeps its exact attributes for mypy
"""


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on ``source``, against the deltafold these tests import."""
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[dev]')")
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(source))
    env = dict(os.environ, MYPYPATH=str(Path(deltafold.__file__).resolve().parents[1]))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(app)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_app_using_the_text_views_passes_mypy_strict(tmp_path: Path) -> None:
    result = _mypy(tmp_path, APP)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_sees_text_as_str_not_any(tmp_path: Path) -> None:
    """The check above proves something: returning ``text`` as an int is caught."""
    result = _mypy(tmp_path, WRONG)
    assert result.returncode == 1
    assert 'Incompatible return value type (got "str", expected "int")' in result.stdout
    assert '"Logprobs" has no attribute "contents"' in result.stdout


def chunk(*choices: dict[str, object]) -> deltafold.ChatCompletionChunk:
    return deltafold.ChatCompletionChunk.from_dict({"id": "c", "choices": list(choices)})


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        ({"content": "Hi"}, "Hi"),
        ({"content": ""}, ""),
        ({"content": None}, ""),
        ({}, ""),
        (None, ""),
        ({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}, ""),
        ({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "ab"),
        (
            {"content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "x"}]},
            "x",
        ),
        ({"content": ["plain"]}, "plain"),
        ({"content": {"type": "text", "text": "one part"}}, "one part"),
        ({"content": [{"type": "image_url", "image_url": {"url": "data:"}}]}, ""),
        ({"content": 5}, ""),
    ],
)
def test_choice_text_is_what_the_fold_adds_to_content(delta: object, text: str) -> None:
    choice: dict[str, object] = {"index": 0}
    if delta is not None:
        choice["delta"] = delta
    typed = chunk(choice)
    assert typed.choices[0].text == text
    assert typed.text == text
    if typed.choices[0].delta is not None:
        assert typed.choices[0].delta.text == text
    # The same rule as the fold: what the view says is what the completion gets.
    try:
        folded = deltafold.assemble([{"id": "c", "choices": [choice]}])
    except deltafold.DeltafoldError:
        assert text == ""  # content the fold rejects has no text
    else:
        assert folded.choices[0].message.text == text


def test_chunk_text_is_choice_zero_whatever_the_order() -> None:
    typed = chunk(
        {"index": 2, "delta": {"content": "two"}}, {"index": 0, "delta": {"content": "z"}}
    )
    assert typed.text == "z"
    assert [c.text for c in typed.choices] == ["two", "z"]
    assert chunk({"index": 1, "delta": {"content": "one"}}).text == ""
    assert chunk().text == ""  # a usage-only chunk


def test_message_text() -> None:
    done = deltafold.assemble(
        [{"choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": "stop"}]}]
    )
    assert done.choices[0].message.text == "Hello"
    tools_only = deltafold.assemble(
        [
            {
                "id": "c",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"name": "f"}}]},
                        "finish_reason": "tool_calls",
                    }
                ],
            }
        ]
    )
    assert tools_only.choices[0].message.content is None
    assert tools_only.choices[0].message.text == ""


@pytest.mark.parametrize(
    "wire",
    [
        {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"id": "c", "choices": [], "usage": {"total_tokens": 3}},
        {"choices": [{"index": 0, "delta": {"content": [{"type": "text", "text": "a"}]}}]},
    ],
)
def test_the_views_leave_the_wire_form_alone(wire: dict[str, object]) -> None:
    typed = deltafold.ChatCompletionChunk.from_dict(wire)
    before = typed.to_dict()
    _ = (typed.text, [c.text for c in typed.choices])
    assert typed.to_dict() == before
    assert "text" not in str(sorted(before))  # a property, never a wire key
    assert deltafold.ChatCompletionChunk.from_dict(before) == typed
