"""One output item while it is folded, and the merge rule for the item dicts that arrive.

An item is told in pieces: ``output_item.added`` announces it, deltas append to
its text fields, parts come and go, ``.done`` events and ``output_item.done`` give
final values, and the terminal event may repeat the whole item. The state keeps
the item's dict (``base``) without its growing text, each text as a list of
fragments, and the parts by index; ``build`` joins them into the item's wire dict.

The merge rule (:meth:`ItemState.absorb`), the same for ``output_item.added``,
``output_item.done``, a lifecycle or terminal response's ``output`` and a part's
``added``/``done``: a field the given dict carries with a value wins; a null
leaves what was folded; a text field (or a part's text) given empty keeps the
folded text, since a final form without the text it streamed is a gateway that
left it out, not a model that took it back; lists of parts merge by position.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TEXT_FIELDS", "ItemState", "PartState"]

TEXT_FIELDS: dict[str, str] = {
    "function_call": "arguments",
    "custom_tool_call": "input",
    "code_interpreter_call": "code",
    "mcp_call": "arguments",
    "mcp_approval_request": "arguments",
}
"""The item field that deltas extend, per item type."""
_PART_TEXT = {"refusal": "refusal"}
"""A part's text field, by part type, when it is not ``text``."""


class PartState:
    """A content or summary part: its dict without the text, the text as fragments."""

    __slots__ = ("annotations", "base", "key", "length", "logprobs", "texts")

    def __init__(self, base: dict[str, Any]) -> None:
        self.base: dict[str, Any] = {}
        self.key: str = "text"
        self.texts: list[str] | None = None
        self.length: int = 0
        """Characters of text held (for ``max_field_chars``)."""
        self.annotations: list[Any] | None = None
        self.logprobs: list[Any] | None = None
        self.absorb(base)

    def absorb(self, given: dict[str, Any]) -> None:
        """Merge a part dict (added, done, or in an item) into this one: see the module's rule."""
        kind = given.get("type")
        if kind.__class__ is str:
            self.key = _PART_TEXT.get(kind, "text")
        base = self.base
        for key, value in given.items():
            if key == self.key:
                if value.__class__ is str and (value or self.texts is None):
                    self.texts = [value]
                    self.length = len(value)
                elif value is None and self.texts is None:
                    base[key] = None
            elif key == "annotations":
                if value.__class__ is list and (value or self.annotations is None):
                    self.annotations = list(value)
                elif value is not None:
                    base[key] = value
            elif key == "logprobs":
                if value.__class__ is list and (value or self.logprobs is None):
                    self.logprobs = list(value)
                elif value is not None:
                    base[key] = value
            elif value is not None or key not in base:
                base[key] = value

    def text(self) -> str:
        """The text so far, joined (and kept joined, so a second call is cheap)."""
        texts = self.texts
        if not texts:
            return ""
        if len(texts) > 1:
            self.texts = texts = ["".join(texts)]
        return texts[0]

    def build(self) -> dict[str, Any]:
        """The part's wire dict."""
        out = dict(self.base)
        if self.texts is not None:
            out[self.key] = self.text()
        if self.annotations is not None:
            out["annotations"] = list(self.annotations)
        if self.logprobs is not None:
            out["logprobs"] = list(self.logprobs)
        return out


class ItemState:
    """One output item being folded (see the module docstring)."""

    __slots__ = (
        "base", "commands", "done", "finished_call", "images", "length", "outputs", "parts",
        "summary", "text_key", "texts",
    )

    def __init__(self, kind: str) -> None:
        self.base: dict[str, Any] = {"type": kind}
        self.text_key: str | None = TEXT_FIELDS.get(kind)
        self.texts: list[str] | None = None
        self.length: int = 0
        """Characters of the text field held (for ``max_field_chars``)."""
        self.parts: dict[int, PartState] = {}
        """Content parts by ``content_index``."""
        self.summary: dict[int, PartState] = {}
        """Reasoning summary parts by ``summary_index``."""
        self.commands: dict[int, list[str]] | None = None
        """A shell call's commands by ``command_index``, as fragments."""
        self.outputs: dict[int, dict[str, list[str]]] | None = None
        """A shell call output's streamed text by ``command_index``, then by stream name."""
        self.images: dict[int, str] | None = None
        """An image generation's partial images by ``partial_image_index``."""
        self.done: bool = False
        """``output_item.done`` arrived."""
        self.finished_call: bool = False
        """The ToolCallDone event was given (function and custom tool calls)."""

    @property
    def kind(self) -> str:
        kind = self.base.get("type")
        return kind if kind.__class__ is str else ""

    def absorb(self, given: dict[str, Any]) -> None:
        """Merge an item dict into the state: see the module's rule."""
        kind = given.get("type")
        if kind.__class__ is str and kind != self.base.get("type"):
            self.text_key = TEXT_FIELDS.get(kind)
        base = self.base
        for key, value in given.items():
            if key == self.text_key:
                if value.__class__ is str and (value or self.texts is None):
                    self.texts = [value]
                    self.length = len(value)
                elif value is None and self.texts is None:
                    base[key] = None
            elif key == "content" and value.__class__ is list:
                _merge_parts(self.parts, value)
                base.setdefault(key, [])
            elif key == "summary" and value.__class__ is list:
                _merge_parts(self.summary, value)
                base.setdefault(key, [])
            elif key == "action" and value.__class__ is dict and self.commands is not None:
                self._absorb_action(value)
            elif value is not None or key not in base:
                base[key] = value

    def _absorb_action(self, action: dict[str, Any]) -> None:
        """A shell call's action: its ``commands`` win when given, else the folded ones stay."""
        commands = action.get("commands")
        if commands.__class__ is list and commands:
            self.commands = {i: [c] for i, c in enumerate(commands) if c.__class__ is str}
        old = self.base.get("action")
        self.base["action"] = {**(old if old.__class__ is dict else {}), **action}

    def text(self) -> str:
        """The item's text field so far (arguments, input, code), joined."""
        texts = self.texts
        if not texts:
            return ""
        if len(texts) > 1:
            self.texts = texts = ["".join(texts)]
        return texts[0]

    def build(self) -> dict[str, Any]:
        """The item's wire dict, every text joined."""
        out = dict(self.base)
        if self.texts is not None and self.text_key is not None:
            out[self.text_key] = self.text()
        if self.parts:
            out["content"] = [self.parts[i].build() for i in sorted(self.parts)]
        if self.summary:
            out["summary"] = [self.summary[i].build() for i in sorted(self.summary)]
        if self.commands is not None:
            action = out.get("action")
            action = dict(action) if action.__class__ is dict else {}
            action["commands"] = ["".join(self.commands[i]) for i in sorted(self.commands)]
            out["action"] = action
        if self.outputs:
            out["output"] = _shell_output(out.get("output"), self.outputs)
        return out


def _merge_parts(parts: dict[int, PartState], given: list[Any]) -> None:
    """Merge a list of part dicts into ``parts`` by position."""
    for index, part in enumerate(given):
        if part.__class__ is not dict:
            continue
        state = parts.get(index)
        if state is None:
            parts[index] = PartState(part)
        else:
            state.absorb(part)


def _shell_output(given: Any, streamed: dict[int, dict[str, list[str]]]) -> list[Any]:
    """A shell call output's ``output`` list: the given entries, streamed text where missing."""
    given = given if isinstance(given, list) else []
    entries = [dict(e) if e.__class__ is dict else e for e in given]
    for index in sorted(streamed):
        while len(entries) <= index:
            entries.append({})
        entry = entries[index]
        if entry.__class__ is dict:
            for name, pieces in streamed[index].items():
                if not entry.get(name):
                    entry[name] = "".join(pieces)
    return entries
