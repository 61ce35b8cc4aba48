"""The fold's rules for what happens inside output items: deltas, parts, item events.

Each ``response.*`` event type that touches an item has one method here, found
by name through :data:`ITEM_RULES`. Items are keyed by ``output_index``, never
by ``item_id`` (some providers send a new item_id on every event); content
parts by (``output_index``, ``content_index``), summary parts by
``summary_index``. An event for an item or part that was never announced
starts it, with the type the event implies. Every delta appends a fragment to a
list; every ``.done`` event is authoritative for what it closes (its text wins
when it has one). Text is joined only when a snapshot or the result is built.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

from .._choice import FieldError, as_index, check_range, short
from .._convert import from_dict
from .._events import (
    AnnotationAdded,
    ContentDelta,
    ReasoningDelta,
    RefusalDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
)
from .._jsonvalue import kind_of
from .._limits import Limits, limit_error
from ._events import Event, ItemTextDelta, OutputItemAdded, OutputItemDone, PartialImageAdded
from ._items import Item
from ._state import ItemState, PartState

__all__ = ["CALLS", "ITEM_RULES", "ItemRules"]

CALLS = frozenset({"function_call", "custom_tool_call"})
"""Item types that are calls for the app to run: they give the ToolCall* events."""
_Events = list[Event] | None


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    raise FieldError(key, f"expected a string, got {kind_of(value)} {short(value)}")


class ItemRules:
    """The item-level half of the fold (``Accumulator`` adds the response level)."""

    def __init__(self, limits: Limits | None) -> None:
        self.items: dict[int, ItemState] = {}
        self.latest: int = 0
        """The output_index of the latest item: where an event without one goes."""
        self.known: bool = False
        """A Responses event was folded."""
        self.limits: Limits = limits or Limits()
        limits = self.limits
        self.max_field: int = (
            sys.maxsize if limits.max_field_chars is None else limits.max_field_chars
        )

    # --- finding the item and part an event is about ------------------------------------

    def item(self, event: dict[str, Any], kind: str, events: _Events) -> ItemState:
        """The item at the event's ``output_index``, started with ``kind`` if new."""
        index = event.get("output_index")
        if index.__class__ is not int:
            index = self.latest if index is None else as_index(index, "output_index")
        state = self.items.get(index)
        if state is None:
            state = self.start(index, kind, None, events)
        return state

    def start(
        self, index: int, kind: str, given: dict[str, Any] | None, events: _Events
    ) -> ItemState:
        """A new item at ``index`` (from ``given``, an announced item dict, when there is one)."""
        check_range(index, "output_index")
        limit = self.limits.max_tool_calls
        if limit is not None and len(self.items) >= limit:
            raise limit_error("max_tool_calls", len(self.items) + 1, limit, "output items")
        state = self.items[index] = ItemState(kind)
        if given is not None:
            state.absorb(given)
        self.known = True
        if index >= self.latest:
            self.latest = index
        if events is not None and state.kind in CALLS:
            base = state.base
            events.append(
                ToolCallStarted(0, index, _str(base.get("call_id")), _str(base.get("name")))
            )
        return state

    def part(self, event: dict[str, Any], kind: str, item_kind: str, events: _Events) -> PartState:
        """The content part at the event's (``output_index``, ``content_index``)."""
        item = self.item(event, item_kind, events)
        index = event.get("content_index", 0)
        part = item.parts.get(index)
        if part is None:
            if index.__class__ is not int:
                index = as_index(index, "content_index")
            part = item.parts[index] = PartState({"type": kind})
            if item_kind == "reasoning":
                item.base.setdefault("content", [])
        return part

    def summary(self, event: dict[str, Any], events: _Events) -> PartState:
        """The reasoning summary part at the event's (``output_index``, ``summary_index``)."""
        item = self.item(event, "reasoning", events)
        index = event.get("summary_index", 0)
        part = item.summary.get(index)
        if part is None:
            if index.__class__ is not int:
                index = as_index(index, "summary_index")
            part = item.summary[index] = PartState({"type": "summary_text"})
            item.base.setdefault("summary", [])
        return part

    def append(self, part: PartState | ItemState, text: str, length: int) -> None:
        """Append a fragment (the rule for every delta), within ``max_field_chars``."""
        if length > self.max_field:
            raise limit_error("max_field_chars", length, self.max_field, "a text field")
        texts = part.texts
        if texts is None:
            part.texts = [text]
        else:
            texts.append(text)

    # --- text deltas and their .done ----------------------------------------------------

    def output_text_delta(self, event: dict[str, Any], events: _Events) -> None:
        # The hottest rule: the item and part found inline when both exist.
        item = self.items.get(event.get("output_index"))  # type: ignore[arg-type]
        part = None if item is None else item.parts.get(event.get("content_index", 0))
        if part is None:
            part = self.part(event, "output_text", "message", events)
        delta = event.get("delta")
        if delta.__class__ is not str:
            delta = _text(event, "delta")
        part.length = length = part.length + len(delta)
        texts = part.texts
        if texts is not None and length <= self.max_field:
            texts.append(delta)  # append()'s rule, inline
        else:
            self.append(part, delta, length)
        logprobs = event.get("logprobs")
        if logprobs:
            if part.logprobs is None:
                part.logprobs = []
            part.logprobs.extend(logprobs)
        if events is not None and delta:
            events.append(ContentDelta(0, delta))

    def output_text_done(self, event: dict[str, Any], events: _Events) -> None:
        part = self.part(event, "output_text", "message", events)
        given = {"text": _text(event, "text")}
        logprobs = event.get("logprobs")
        if logprobs:  # an empty list says nothing: the part's own form decides whether it has one
            given["logprobs"] = logprobs
        part.absorb(given)

    def refusal_delta(self, event: dict[str, Any], events: _Events) -> None:
        part = self.part(event, "refusal", "message", events)
        delta = _text(event, "delta")
        part.length = length = part.length + len(delta)
        self.append(part, delta, length)
        if events is not None and delta:
            events.append(RefusalDelta(0, delta))

    def refusal_done(self, event: dict[str, Any], events: _Events) -> None:
        self.part(event, "refusal", "message", events).absorb({"refusal": _text(event, "refusal")})

    def reasoning_text_delta(self, event: dict[str, Any], events: _Events) -> None:
        part = self.part(event, "reasoning_text", "reasoning", events)
        delta = _text(event, "delta")
        part.length = length = part.length + len(delta)
        self.append(part, delta, length)
        if events is not None and delta:
            events.append(ReasoningDelta(0, delta))

    def reasoning_text_done(self, event: dict[str, Any], events: _Events) -> None:
        part = self.part(event, "reasoning_text", "reasoning", events)
        part.absorb({"text": _text(event, "text")})

    def summary_text_delta(self, event: dict[str, Any], events: _Events) -> None:
        # Hot on reasoning models: the item and summary part found inline when both exist.
        item = self.items.get(event.get("output_index"))  # type: ignore[arg-type]
        part = None if item is None else item.summary.get(event.get("summary_index", 0))
        if part is None:
            part = self.summary(event, events)
        delta = event.get("delta")
        if delta.__class__ is not str:
            delta = _text(event, "delta")
        part.length = length = part.length + len(delta)
        texts = part.texts
        if texts is not None and length <= self.max_field:
            texts.append(delta)  # append()'s rule, inline
        else:
            self.append(part, delta, length)
        if events is not None and delta:
            events.append(ReasoningDelta(0, delta))

    def summary_text_done(self, event: dict[str, Any], events: _Events) -> None:
        self.summary(event, events).absorb({"text": _text(event, "text")})

    def summary_part(self, event: dict[str, Any], events: _Events) -> None:
        """``reasoning_summary_part.added``/``.done``: the part as given, merged."""
        given = event.get("part")
        part = self.summary(event, events)
        if given.__class__ is dict:
            part.absorb(given)

    def content_part(self, event: dict[str, Any], events: _Events) -> None:
        """``content_part.added``/``.done``: the part as given, merged."""
        given = event.get("part")
        kind = given.get("type") if given.__class__ is dict else None
        kind = kind if kind.__class__ is str else "output_text"
        owner = "reasoning" if kind == "reasoning_text" else "message"
        part = self.part(event, kind, owner, events)
        if given.__class__ is dict:
            part.absorb(given)

    def annotation_added(self, event: dict[str, Any], events: _Events) -> None:
        """An annotation, put at its ``annotation_index`` (appended without one)."""
        part = self.part(event, "output_text", "message", events)
        annotation = event.get("annotation")
        if part.annotations is None:
            part.annotations = []
        annotations = part.annotations
        index = event.get("annotation_index")
        if index.__class__ is int and 0 <= index < len(annotations):
            annotations[index] = annotation
        else:
            annotations.append(annotation)
        if events is not None and annotation.__class__ is dict:
            events.append(AnnotationAdded(0, annotation))

    # --- an item's own text (arguments, input, code) ------------------------------------

    def item_text_delta(self, event: dict[str, Any], events: _Events, kind: str) -> None:
        # Hot on function calls: the item found inline when it exists.
        item = self.items.get(event.get("output_index"))  # type: ignore[arg-type]
        if item is None:
            item = self.item(event, kind, events)
        delta = event.get("delta")
        if delta.__class__ is not str:
            delta = _text(event, "delta")
        item.length = length = item.length + len(delta)
        texts = item.texts
        if texts is not None and length <= self.max_field:
            texts.append(delta)  # append()'s rule, inline
        else:
            self.append(item, delta, length)
        if events is not None and delta:
            if item.kind in CALLS:
                index = self.index_of(item)
                events.append(ToolCallArgumentsDelta(0, index, delta))
            else:
                events.append(ItemTextDelta(self.index_of(item), item.text_key or "", delta))

    def item_text_done(self, event: dict[str, Any], events: _Events, kind: str, key: str) -> None:
        item = self.item(event, kind, events)
        given = {k: v for k, v in event.items() if k in (key, "name")}
        if events is not None and item.kind in CALLS:
            old = item.text()
            new = given.get(key)
            if new.__class__ is str and new and new != old:
                events.append(ToolCallArgumentsDelta(0, self.index_of(item), new, replaced=True))
        item.absorb(given)

    def index_of(self, item: ItemState) -> int:
        """The output_index of ``item`` (events are rare enough for a search)."""
        for index, state in self.items.items():
            if state is item:
                return index
        return -1

    # --- shell commands and outputs, partial images, progress ---------------------------

    def shell_command(self, event: dict[str, Any], events: _Events) -> None:
        """``shell_call_command.added``/``.delta``/``.done``: text of command ``command_index``."""
        item = self.item(event, "shell_call", events)
        index = event.get("command_index", 0)
        if index.__class__ is not int:
            index = as_index(index, "command_index")
        commands = item.commands
        if commands is None:
            commands = item.commands = {}
        if "delta" in event:
            delta = _text(event, "delta")
            commands.setdefault(index, []).append(delta)
            if events is not None and delta:
                events.append(ItemTextDelta(self.index_of(item), "commands", delta))
        else:
            command = _text(event, "command")
            if command or index not in commands:
                commands[index] = [command]

    def shell_output(self, event: dict[str, Any], events: _Events) -> None:
        """``shell_call_output_content.delta`` appends per stream; ``.done`` gives the output."""
        item = self.item(event, "shell_call_output", events)
        if "output" in event:
            item.absorb({"output": event["output"]})
            item.outputs = None
            return
        delta = event.get("delta")
        if delta.__class__ is not dict:
            raise FieldError("delta", f"expected an object, got {kind_of(delta)}")
        index = event.get("command_index", 0)
        if item.outputs is None:
            item.outputs = {}
        streams = item.outputs.setdefault(index, {})
        for name, text in delta.items():
            if text.__class__ is str:
                streams.setdefault(name, []).append(text)

    def partial_image(self, event: dict[str, Any], events: _Events) -> None:
        """A partial image, kept in order of ``partial_image_index``."""
        item = self.item(event, "image_generation_call", events)
        image = _text(event, "partial_image_b64")
        index = event.get("partial_image_index")
        if item.images is None:
            item.images = {}
        if index.__class__ is not int:
            index = len(item.images)
        item.images[index] = image
        if events is not None:
            events.append(PartialImageAdded(self.index_of(item), index, image))

    def progress(self, event: dict[str, Any], events: _Events, kind: str, status: str) -> None:
        """A hosted tool's progress (``searching``, ``completed``...): the item's status, if it
        has one (``mcp_list_tools`` items have none, so none is made up)."""
        item = self.item(event, kind, events)
        if "status" in item.base:
            item.base["status"] = status

    # --- items --------------------------------------------------------------------------

    def item_added(self, event: dict[str, Any], events: _Events) -> None:
        given = event.get("item")
        if given.__class__ is not dict:
            raise FieldError("item", f"expected an object, got {kind_of(given)}")
        kind = _str(given.get("type"))
        index = event.get("output_index")
        if index.__class__ is not int:
            index = len(self.items) if index is None else as_index(index, "output_index")
        state = self.items.get(index)
        if state is None:
            self.start(index, kind, given, events)
        else:
            state.absorb(given)
        if events is not None:
            events.append(OutputItemAdded(index, _typed(given)))

    def item_done(self, event: dict[str, Any], events: _Events) -> None:
        given = event.get("item")
        if given.__class__ is not dict:
            raise FieldError("item", f"expected an object, got {kind_of(given)}")
        state = self.item(event, _str(given.get("type")), events)
        state.absorb(given)
        state.done = True
        if events is not None:
            built = state.build()
            index = self.index_of(state)
            self.finish_call(index, state, built, events)
            events.append(OutputItemDone(index, _typed(built)))

    def finish_call(
        self, index: int, state: ItemState, built: dict[str, Any], events: list[Event]
    ) -> None:
        """The ToolCallDone of a function or custom tool call, once."""
        if state.finished_call or state.kind not in CALLS:
            return
        state.finished_call = True
        text = built.get(state.text_key or "")
        events.append(
            ToolCallDone(
                0, index, _str(built.get("call_id")), _str(built.get("name")), _str(text)
            )
        )


def _str(value: Any) -> str:
    return value if value.__class__ is str else ""


def _typed(item: dict[str, Any]) -> Item:
    return from_dict(Item, item)


def _rules() -> dict[str, Any]:
    """Event type to rule: a function of the fold, the event and the events list."""
    r = ItemRules
    table: dict[str, Any] = {
        "response.output_text.delta": r.output_text_delta,
        "response.output_text.done": r.output_text_done,
        "response.refusal.delta": r.refusal_delta,
        "response.refusal.done": r.refusal_done,
        "response.reasoning_text.delta": r.reasoning_text_delta,
        "response.reasoning_text.done": r.reasoning_text_done,
        "response.reasoning_summary_text.delta": r.summary_text_delta,
        "response.reasoning_summary_text.done": r.summary_text_done,
        "response.reasoning_summary_part.added": r.summary_part,
        "response.reasoning_summary_part.done": r.summary_part,
        "response.content_part.added": r.content_part,
        "response.content_part.done": r.content_part,
        "response.output_text.annotation.added": r.annotation_added,
        "response.output_item.added": r.item_added,
        "response.output_item.done": r.item_done,
        "response.shell_call_command.added": r.shell_command,
        "response.shell_call_command.delta": r.shell_command,
        "response.shell_call_command.done": r.shell_command,
        "response.shell_call_output_content.delta": r.shell_output,
        "response.shell_call_output_content.done": r.shell_output,
        "response.image_generation_call.partial_image": r.partial_image,
    }
    for kind, name, key in (
        ("function_call", "function_call_arguments", "arguments"),
        ("custom_tool_call", "custom_tool_call_input", "input"),
        ("code_interpreter_call", "code_interpreter_call_code", "code"),
        ("mcp_call", "mcp_call_arguments", "arguments"),
    ):
        table[f"response.{name}.delta"] = partial(r.item_text_delta, kind=kind)
        table[f"response.{name}.done"] = partial(r.item_text_done, kind=kind, key=key)
    for kind, steps in (
        ("web_search_call", ("in_progress", "searching", "completed", "failed")),
        ("file_search_call", ("in_progress", "searching", "completed", "failed")),
        ("code_interpreter_call", ("in_progress", "interpreting", "completed", "failed")),
        ("image_generation_call", ("in_progress", "generating", "completed", "failed")),
        ("mcp_call", ("in_progress", "completed", "failed")),
        ("mcp_list_tools", ("in_progress", "completed", "failed")),
    ):
        for step in steps:
            table[f"response.{kind}.{step}"] = partial(r.progress, kind=kind, status=step)
    return table


ITEM_RULES: dict[str, Any] = _rules()
"""The rule of each item-level event type: called as ``rule(fold, event, events)``."""
