"""One content block while it streams: its start, its appended pieces, its input text.

Deltas only append here (text pieces, citations, input fragments); the block's
final form is built when a snapshot or the result asks (``build``), so the
per-event work stays an append. A tool block's input text is parsed once at its
``content_block_stop`` (``finish``), or fed to the linear parser as it arrives
with ``parse_json``.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._convert import from_dict
from .._exceptions import JSONParseError, LimitExceededError
from .._json_fold import ParsedText
from .._limits import Limits
from ._blocks import Block, _InputBlock

__all__ = ["TEXT_KEYS", "BlockState"]

TEXT_KEYS = {"text": "text", "thinking": "thinking"}
"""The field a block type's text deltas append to."""
_UNSET: Any = object()


class BlockState:
    """A block at ``index``: the start's fields plus what its deltas brought."""

    __slots__ = (
        "blank", "citations", "error", "final", "index", "input", "json", "kind", "parser",
        "parts", "signature", "size", "start", "updates",
    )

    def __init__(self, index: int, start: dict[str, Any], *, done: bool = False) -> None:
        self.index = index
        self.start = start
        kind = start.get("type")
        self.kind: str = kind if kind.__class__ is str else ""
        self.parts: list[str] = []
        """Text or thinking pieces, joined at ``build``."""
        self.size = 0
        """Characters appended (text and input), held to ``Limits.max_field_chars``."""
        self.citations: list[Any] | None = None
        self.signature: Any = _UNSET
        self.updates: dict[str, Any] | None = None
        """Fields set by deltas of a type the fold does not know."""
        self.json: list[str] | None = None
        """Input fragments (without ``parse_json``)."""
        self.parser: ParsedText | None = None
        """The input's linear parser (with ``parse_json``)."""
        self.final: Any = _UNSET if not done else None
        """Set at ``finish``: None, or the parsed input to use."""
        self.input: Any = _UNSET
        self.error: JSONParseError | None = None
        self.blank = True
        """No input text but whitespace yet: an empty buffer keeps the start's input."""

    @property
    def stopped(self) -> bool:
        """Whether ``content_block_stop`` came (or the block arrived whole)."""
        return self.final is not _UNSET

    def input_text(self) -> str:
        """The input text streamed so far; the start's input as JSON when none came."""
        if self.blank:
            return orjson.dumps(self.start.get("input", {})).decode()
        json = self.json or ()
        if len(json) > 1:
            self.json = json = ["".join(json)]
        return json[0] if json else ""

    def add_input(self, fragment: str) -> list[Any] | JSONParseError | None:
        """An ``input_json_delta`` fragment: kept, and fed to the parser with ``parse_json``.

        Returns the parser's events for it, the error once when it turns out not JSON,
        or None (no parser, or already failed).
        """
        json = self.json
        if json is None:
            json = self.json = []
        json.append(fragment)
        if self.blank and fragment and not fragment.isspace():
            self.blank = False
        target = self.parser
        if target is None or target.error is not None:
            return None
        try:
            return target.parser.feed(fragment)
        except (JSONParseError, LimitExceededError) as error:
            self.error = target.failed(error)
            return self.error

    def finish(self, limits: Limits) -> list[Any] | JSONParseError | None:
        """``content_block_stop``: parse the input text once (or check the parser's end).

        Returns what the parser's end gave (events, or the error once), as ``add_input``.
        """
        self.final = None
        if self.blank:
            return None  # no input text: the start's input stands
        target = self.parser
        if target is not None:
            result = target.close()
            self.error = target.error
            self._keep(target.parser.value)
            return result
        text = "".join(self.json or ())
        self.json = [text]
        try:
            self.input = orjson.loads(text)
            return None
        except orjson.JSONDecodeError:
            pass
        target = ParsedText(limits)  # the linear parser says where and why, or reads what
        try:  # orjson does not (an integer over 64 bits)
            target.parser.feed(text)
            target.parser.close()
        except (JSONParseError, LimitExceededError) as error:
            self.error = target.failed(error)
        self._keep(target.parser.value)
        return None

    def _keep(self, value: Any) -> None:
        """The parsed input; for text that is not JSON, what was read before the fault
        (as chat's ``parsed``), unless nothing was: then the start's input stands."""
        if self.error is None or value is not None:
            self.input = value

    def build(self) -> Block:
        """The block as folded so far (fresh each call)."""
        data = self.start
        parts = self.parts
        if parts or self.citations is not None or self.signature is not _UNSET or self.updates:
            data = dict(data)
            if parts:
                key = TEXT_KEYS[self.kind]
                joined = "".join(parts)
                self.parts = [joined]
                before = data.get(key)
                data[key] = before + joined if before.__class__ is str else joined
            if self.citations is not None:
                before = data.get("citations")
                data["citations"] = (before if before.__class__ is list else []) + self.citations
            if self.signature is not _UNSET:
                data["signature"] = self.signature
            if self.updates:
                data.update(self.updates)
        block: Block = from_dict(Block, data)
        if not self.blank and isinstance(block, _InputBlock):
            self._set_input(block)
        return block

    def _set_input(self, block: _InputBlock) -> None:
        """The input on a snapshot: parsed once stopped; partial or text while it streams."""
        if self.input is not _UNSET:
            block.input = self.input
        target = self.parser
        if self.stopped:
            if self.error is None:
                return
        elif target is not None and target.error is None:
            block.input = target.parsed()  # the partial input so far
            return
        json = self.json or ()
        if len(json) > 1:
            self.json = json = ["".join(json)]
        block.input_json = json[0] if json else ""
        block.parse_error = self.error
