"""The neutral steps every conversion passes through: one reader and one writer per format.

Converting between three wire formats pairwise would be six converters, each with
its own copy of every rule. Instead a format's *reader* turns its events (folded by
the format's own fold, so its rules stay in one place) into these few steps, and a
format's *writer* turns the steps into its events. A step says what happened to the
answer, in no format's words: it began, a block opened, text was added to a block,
a block closed with its final form, the answer finished (or failed).

Blocks are numbered in the order they open. A reader opens a new block whenever the
source starts a new piece of the answer (a text after a tool call, a second tool
call, a reasoning item); a writer that cannot hold a kind of block says so in the
mapping table (``docs/convert.md``).

``carry`` holds what the neutral steps have no field for: ``{"format": <source>,
...the source's own fields}``. A writer of another format puts it, as it is, in the
extension field ``deltafold`` of its top-level object; the writer of the carry's own
format puts the fields back where they came from, so a round trip gives the source
back.

The steps are plain slotted classes (``attrs.define``): one is built per source event, so
they cost what a plain class costs to build (a frozen class costs twice as much). Treat
them as values: no reader or writer changes a step once built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, Protocol, TypeAlias

from attrs import define, field

__all__ = [
    "EXTENSION", "Begin", "Block", "BlockKind", "Close", "Delta", "DeltaSink", "Fail", "Finish",
    "FinishReason", "Open", "Reader", "Step", "StepMethods", "StepSink", "Usage", "Writer",
    "as_delta", "drop", "extend", "given_back",
]

EXTENSION = "deltafold"
"""The extension field that carries what a target format has no field for."""

BlockKind: TypeAlias = Literal["text", "refusal", "reasoning", "tool", "other"]
"""What a block holds: answer text, a refusal, reasoning, a tool call, or anything else
(a server tool's call or result, an image, a search), kept as its source's wire dict."""

FinishReason: TypeAlias = Literal[
    "stop", "length", "tool_calls", "content_filter", "refusal", "pause", "error"
]
"""Why the answer ended, in neutral words (chat's where chat has one)."""


@define
class Begin:
    """The answer began: its id, model and creation time (Unix seconds), as far as known."""

    id: str | None = None
    model: str | None = None
    created: int | None = None
    carry: dict[str, Any] = field(factory=dict)


@define
class Open:
    """Block ``block`` opened.

    For a tool call: ``id`` (the call id a result must name: chat's ``tool_calls[].id``,
    Responses' ``call_id``, Messages' ``tool_use.id``), ``name``, and ``tool_type``
    (``"function"``: JSON arguments; ``"custom"``: free text input). For reasoning:
    ``id`` is the source's reasoning item id when it has one.
    """

    block: int
    kind: BlockKind
    id: str | None = None
    name: str | None = None
    tool_type: str = "function"
    carry: dict[str, Any] = field(factory=dict)


@define
class Delta:
    """Text appended to block ``block``: answer text, refusal, reasoning text or arguments."""

    block: int
    text: str


@define
class Block:
    """A block's final form: authoritative where it differs from the deltas' join.

    ``text`` is the text, refusal, reasoning text or tool arguments (exactly as sent:
    a JSON text for function calls). ``summary``: the reasoning is a summary (Responses'
    summary parts, OpenRouter's ``reasoning.summary``), not the reasoning itself.
    ``signature``: the opaque token that lets the reasoning go back to its model
    (Anthropic's thinking signature, OpenAI's ``encrypted_content``, OpenRouter's
    ``reasoning.encrypted`` data); ``redacted``: the reasoning is only that token
    (Anthropic's ``redacted_thinking``). ``annotations``: the text's citations as the
    source's wire dicts. ``raw``: a block of kind ``"other"`` as its source's wire dict.
    """

    kind: BlockKind
    text: str = ""
    id: str | None = None
    name: str | None = None
    tool_type: str = "function"
    summary: bool = False
    signature: str | None = None
    redacted: bool = False
    annotations: list[dict[str, Any]] = field(factory=list)
    raw: dict[str, Any] | None = None
    carry: dict[str, Any] = field(factory=dict)


@define
class Close:
    """Block ``block`` is complete; ``final`` is its final form."""

    block: int
    final: Block


@define
class Usage:
    """Token counts in the OpenAI convention: ``input_tokens`` includes cached input.

    ``cache_read`` and ``cache_write`` are the parts of ``input_tokens`` read from and
    written to a prompt cache (Anthropic counts both outside its ``input_tokens``);
    ``reasoning_tokens`` is the part of ``output_tokens`` spent reasoning.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    reasoning_tokens: int | None = None
    carry: dict[str, Any] = field(factory=dict)


@define
class Finish:
    """The answer ended: why (``reason``; ``None`` when the source never said), the stop
    sequence that ended it, and the usage (``None`` when the source sent none)."""

    reason: FinishReason | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None
    carry: dict[str, Any] = field(factory=dict)


@define
class Fail:
    """The source failed mid-stream: the error as the target should say it.

    ``message`` and ``code`` (the source's error code or type, when it gave one);
    ``usage`` when the source counted tokens before failing; ``carry`` keeps the
    source's error object.
    """

    message: str
    code: str | None = None
    usage: Usage | None = None
    carry: dict[str, Any] = field(factory=dict)


Step: TypeAlias = Begin | Open | Delta | Close | Finish | Fail
"""One neutral step."""


DeltaSink: TypeAlias = Callable[[int, str, list[Any]], None]
"""Where a piece of text goes: ``(block, text, out)``. A converter's is its writer's
:meth:`Writer.delta` (the target's events appended to ``out``); ``as_delta`` appends the
``Delta`` step itself; ``drop`` drops it (the answer ended)."""
StepSink: TypeAlias = Callable[[list[Step], list[Any]], bool]
"""Where the other steps go: ``(steps, out)``; False once nothing more is written."""


def given_back(entries: Any, number: int) -> list[Step]:
    """The blocks of another format that a writer could not hold and kept in its extension
    field (a list of ``{"raw": wire dict, "carry": ...}``), as they were: each an ``other``
    block, opened and closed, numbered from ``number`` (the caller's next block number,
    which it moves on by ``len(steps) // 2``)."""
    steps: list[Step] = []
    for entry in entries if entries.__class__ is list else ():
        raw = entry.get("raw") if entry.__class__ is dict else None
        if raw.__class__ is dict:
            carry = entry.get("carry")
            carry = carry if carry.__class__ is dict else {}
            steps.append(Open(number, "other", carry=carry))
            steps.append(Close(number, Block("other", raw=raw, carry=carry)))
            number += 1
    return steps


def as_delta(block: int, text: str, out: list[Any]) -> None:
    """A piece as the ``Delta`` step (a reader read alone, not by a converter)."""
    out.append(Delta(block, text))


def drop(block: int, text: str, out: list[Any]) -> None:
    """A piece after the answer ended: read (the fold checks it), not written."""


def extend(steps: list[Step], out: list[Any]) -> bool:
    """The steps themselves, in ``out`` (a reader read alone)."""
    out += steps
    return True


class Reader(Protocol):
    """A format's events in, neutral steps out. Built by a format's reader factory with
    keyword arguments ``limits`` and ``choice`` (chat's choice to read; other formats
    ignore it). It folds each event with the format's own fold, whose errors it raises
    (an ``error`` event of the stream becomes a :class:`Fail` step instead).

    The hot path: most source events only add text to an open block, and a converter
    reads the events that arrived together in one call, :meth:`read_batch`. Such a piece
    goes straight to ``emit`` (the writer's :meth:`Writer.delta`): no ``Delta`` is built
    and no call is made per event but that one. Every other step goes to ``write``, in
    order with the pieces.
    """

    def read_batch(
        self, items: Iterable[Any], out: list[Any], write: StepSink, emit: DeltaSink
    ) -> None:
        """Read ``items`` in order: each piece to ``emit``, the other steps to ``write``
        (both with ``out``); once ``write`` says the answer ended, pieces are dropped."""
        ...

    def read(self, item: Any) -> list[Step]:
        """Steps for one source event (a decoded dict, JSON text or bytes, a typed event):
        ``read_batch`` of it, with the pieces as ``Delta`` steps."""
        ...

    def close(self) -> list[Step]:
        """Steps at the end of the source; raises when it ended before its answer did."""
        ...


_METHODS = {
    Open: "_open", Close: "_close", Begin: "_begin", Finish: "_finish",
    Fail: "_fail",
}


class StepMethods:
    """A writer's dispatch, written once: each step goes to the writer's method for its
    class (``_open``, ``_close``, ``_begin``, ``_finish``, ``_fail``); a ``Delta`` to its
    :meth:`Writer.delta`, the hot path a reader calls directly."""

    def delta(self, block: int, text: str, out: list[Any]) -> None:
        """The writer's events for a piece of text (every writer has its own)."""
        raise NotImplementedError(f"{type(self).__name__} writes no pieces of text")

    def write(self, step: Step) -> list[dict[str, Any]]:
        """The events for one step."""
        if step.__class__ is Delta:
            out: list[dict[str, Any]] = []
            self.delta(step.block, step.text, out)
            return out
        return self._step(step)

    def _step(self, step: Step) -> list[dict[str, Any]]:
        name = _METHODS.get(step.__class__)
        if name is None:
            raise TypeError(
                f"{type(self).__name__}.write takes a neutral step, not {type(step).__name__}"
            )
        method: Any = getattr(self, name)
        events: list[dict[str, Any]] = method(step)
        return events


class Writer(Protocol):
    """Neutral steps in, a format's events (dicts, in the order the format sends them) out."""

    def write(self, step: Step) -> list[dict[str, Any]]:
        """The events for one step."""
        ...

    def delta(self, block: int, text: str, out: list[dict[str, Any]]) -> None:
        """The events of ``Delta(block, text)`` appended to ``out``, the step unbuilt (a
        reader's hot path; ``write`` of a ``Delta`` comes here too)."""
        ...
