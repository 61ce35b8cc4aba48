"""The Responses writer: neutral steps as the events OpenAI's Responses API streams.

``response.created`` and ``response.in_progress`` first; then per item
``output_item.added``, its parts (``content_part.added``, ``reasoning_summary_part.added``),
deltas with ``item_id``, ``output_index`` and ``content_index``, the ``.done`` events with
the final text, ``output_item.done`` with the final item; last the terminal event
(``response.completed``, ``.incomplete`` or ``.failed``) whose response holds the output
and the usage. Every event has its ``sequence_number``.

Text and refusal blocks that follow each other are parts of one ``message`` item (a new
message starts after any other item, or when the source's item id changes); a reasoning
block is a ``reasoning`` item (a summary when the source said so, else reasoning text;
the signature is its ``encrypted_content``); a tool block a ``function_call`` or
``custom_tool_call``; an ``"other"`` block from a Responses source is its item again.
What the format has no field for goes in an extension field ``deltafold``, never inside
an item (clients send items back to the API): the source's answer carry in the one of the
``response`` of ``response.created`` and of the terminal event (with the stop sequence and
the usage's carry); a block's carry in the one of the event that opens its item or part
(``output_item.added`` / ``content_part.added``: ``open``) and of its ``output_item.done``
(``close``, ``redacted``; a message's parts under ``parts`` by content index, with the
citations of another format); another format's blocks of kind ``"other"`` in the one of
the next ``output_item.added`` event, or of the terminal event (``before``: a list of
``{"raw", "carry"}``), so they come back where they were.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ._ops import (
    EXTENSION,
    Begin,
    Block,
    Close,
    Fail,
    Finish,
    Open,
    StepMethods,
    Usage,
)
from ._read_responses import split_summary
from ._responses_usage import responses_usage

__all__ = ["ResponsesWriter"]

FORMAT = "responses"
_ANNOTATIONS = frozenset({"url_citation", "file_citation", "container_file_citation", "file_path"})
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter",
               "refusal": "content_filter"}
_TERMINAL = {"completed": "response.completed", "incomplete": "response.incomplete",
             "failed": "response.failed", "cancelled": "response.cancelled"}


class _Out:
    """One output item being written: its index, id, dict and the blocks in it."""

    __slots__ = ("done", "ext", "index", "item", "open_parts", "parts", "sealed")

    def __init__(self, index: int, item: dict[str, Any]) -> None:
        self.index = index
        self.item = item
        """The item's final dict so far (``content``/``summary`` filled as parts close)."""
        self.parts: list[dict[str, Any]] = []
        self.open_parts = 0
        self.sealed = False
        """No more parts join this item."""
        self.done = False
        self.ext: dict[str, Any] = {}
        """The extension field of its ``output_item.done`` (another format's block carry)."""

    def part_ext(self, content: int) -> dict[str, Any]:
        parts: dict[str, Any] = self.ext.setdefault("parts", {})
        entry: dict[str, Any] = parts.setdefault(str(content), {})
        return entry


class _Block:
    """A block being written: where its text goes and what was streamed."""

    __slots__ = ("content", "event", "head", "kind", "out", "pieces", "summary", "where")

    def __init__(self, kind: str, out: _Out, content: int | None) -> None:
        self.kind = kind
        self.out = out
        self.content = content
        """The block's content index in a message; None for an item of its own."""
        self.pieces: list[str] = []
        self.summary: bool | None = None
        """A reasoning block: written as summary parts (True) or reasoning text (False)."""
        self.event = ""
        """The delta event type."""
        self.where: dict[str, Any] = {}
        """``item_id``, ``output_index`` (and ``content_index``) of its events."""
        self.head: dict[str, Any] | None = None
        """The type and place of its delta events, once the first was written."""


class ResponsesWriter(StepMethods):
    """Neutral steps in, Responses events out (see the module docstring)."""

    def __init__(self) -> None:
        self._seq = 0
        self._response: dict[str, Any] = {}
        self._own: dict[str, Any] = {}
        """The source's response fields, when the source was a Responses stream."""
        self._foreign: dict[str, Any] = {}
        """Another format's carry, for the extension field."""
        self._blocks: dict[int, _Block] = {}
        self._outs: list[_Out] = []
        self._message: _Out | None = None
        self._message_source: Any = None
        self._before: list[dict[str, Any]] = []
        """Another format's blocks of kind "other" waiting for the next item (or the end)."""
        self._extra_usage: dict[str, Any] = {}

    def _event(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        fields["type"] = kind
        fields["sequence_number"] = self._seq
        self._seq += 1
        return fields

    def delta(self, number: int, text: str, out: list[dict[str, Any]]) -> None:
        """The events of ``Delta(number, text)`` appended to ``out``; the usual one, a piece
        of a part already streaming, inline: one dict."""
        block = self._blocks[number]
        head = block.head
        if head is not None and text:
            block.pieces.append(text)
            event = head.copy()  # a copy and three stores: cheaper than a {**head} display
            event["delta"] = text
            if block.kind == "text":
                event["logprobs"] = []
            seq = event["sequence_number"] = self._seq
            self._seq = seq + 1
            out.append(event)
            return
        out += self._opening_delta(block, text)

    # --- the response ---------------------------------------------------------------------

    def _begin(self, step: Begin) -> list[dict[str, Any]]:
        carry = step.carry
        if carry.get("format") == FORMAT:
            self._own = {k: v for k, v in carry.items() if k != "format"}
        elif carry:
            self._foreign = dict(carry)
        rid = step.id or f"resp_{uuid.uuid4().hex}"
        response: dict[str, Any] = {
            "id": rid, "object": "response",
            "created_at": step.created if step.created is not None else int(time.time()),
            "status": "in_progress", "model": step.model or "", "output": [],
        }
        if self._own:
            response.update(self._own)
        else:
            response.update(error=None, incomplete_details=None, instructions=None,
                            metadata={}, parallel_tool_calls=True, tool_choice="auto",
                            tools=[])
            if self._foreign:
                response[EXTENSION] = self._foreign
        response["status"] = "in_progress"
        self._response = response
        start = dict(response)
        return [self._event("response.created", {"response": start}),
                self._event("response.in_progress", {"response": start})]

    def _ensure_begun(self, out: list[dict[str, Any]]) -> None:
        if not self._response:
            out += self._begin(Begin())

    def _id(self, prefix: str, block: int) -> str:
        rid = str(self._response.get("id", ""))
        return f"{prefix}_{rid.removeprefix('resp_')}_{block}"

    # --- items ----------------------------------------------------------------------------

    def _new_item(
        self, item: dict[str, Any], out: list[dict[str, Any]], opened: dict[str, Any] | None = None
    ) -> _Out:
        self._seal(out)
        made = _Out(len(self._outs), item)
        self._outs.append(made)
        event = {"output_index": made.index, "item": dict(item)}
        ext = self._pending_ext()
        if opened:
            ext["open"] = opened
        if ext:
            event[EXTENSION] = ext
        out.append(self._event("response.output_item.added", event))
        return made

    def _pending_ext(self) -> dict[str, Any]:
        """The extension of an event after which the blocks waiting in ``_before`` come."""
        if not self._before:
            return {}
        before, self._before = self._before, []
        return {"before": before}

    def _seal(self, out: list[dict[str, Any]]) -> None:
        """The current message takes no more parts (its done follows its last part's)."""
        message = self._message
        if message is not None:
            self._message = None
            message.sealed = True
            self._item_done(message, out)

    def _item_done(self, made: _Out, out: list[dict[str, Any]]) -> None:
        if made.done or not made.sealed or made.open_parts:
            return
        made.done = True
        item = made.item
        if item.get("type") == "message":
            item["content"] = made.parts
            if item.get("status") == "in_progress":
                item["status"] = "completed"
        event = {"output_index": made.index, "item": item}
        if made.ext:
            event[EXTENSION] = made.ext
        out.append(self._event("response.output_item.done", event))

    def _open(self, step: Open) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        self._ensure_begun(out)
        carry = step.carry if step.carry.get("format") == FORMAT else {}
        foreign = step.carry if step.carry and not carry else None
        kind = step.kind
        if kind == "text" or kind == "refusal":
            block = self._open_part(step, carry, foreign, out)
        elif kind == "tool":
            custom = step.tool_type == "custom"
            item: dict[str, Any] = {
                "id": carry.get("item_id") or self._id("ctc" if custom else "fc", step.block),
                "type": "custom_tool_call" if custom else "function_call",
                "status": "in_progress", ("input" if custom else "arguments"): "",
                "call_id": step.id or self._id("call", step.block), "name": step.name or "",
            }
            made = self._new_item(item, out, foreign)
            block = _Block(kind, made, None)
            block.event = ("response.custom_tool_call_input" if custom
                           else "response.function_call_arguments")
        elif kind == "reasoning":
            item = {"id": step.id or carry.get("item_id") or self._id("rs", step.block),
                    "type": "reasoning", "summary": []}
            block = _Block(kind, self._new_item(item, out, foreign), None)
            summary = carry.get("summary")
            block.summary = summary if summary.__class__ is bool else None
        else:
            block = self._open_other(step, carry, out)
        block.where = {"item_id": block.out.item["id"], "output_index": block.out.index}
        if block.content is not None:
            block.where["content_index"] = block.content
        self._blocks[step.block] = block
        return out

    def _open_part(
        self, step: Open, carry: dict[str, Any], foreign: dict[str, Any] | None,
        out: list[dict[str, Any]],
    ) -> _Block:
        message = self._message
        item_id = carry.get("item_id")
        source = carry.get("output_index")  # a Responses source's message: its parts join
        if message is None or (carry and source != self._message_source):
            message = self._new_item({
                "id": item_id or self._id("msg", step.block), "type": "message",
                "status": "in_progress", "content": [], "role": "assistant",
            }, out)
            self._message = message
            self._message_source = source
        content = len(message.parts)
        refusal = step.kind == "refusal"
        part: dict[str, Any] = ({"type": "refusal", "refusal": ""} if refusal else
                                {"type": "output_text", "annotations": [], "text": ""})
        message.parts.append(part)
        message.open_parts += 1
        block = _Block(step.kind, message, content)
        block.event = "response.refusal" if refusal else "response.output_text"
        added = {"item_id": message.item["id"], "output_index": message.index,
                 "content_index": content, "part": dict(part)}
        if foreign:
            added[EXTENSION] = {"open": foreign}
        out.append(self._event("response.content_part.added", added))
        return block

    def _open_other(self, step: Open, carry: dict[str, Any], out: list[dict[str, Any]]) -> _Block:
        item = carry.get("item")
        if item.__class__ is dict:  # a Responses item: announced now, given whole when done
            made = self._new_item(item, out)
        else:  # another format's block: no Responses item holds it (the extension does)
            made = _Out(-1, {"id": None})
            made.done = True
        return _Block("other", made, None)

    # --- text -----------------------------------------------------------------------------

    def _opening_delta(self, block: _Block, text: str) -> list[dict[str, Any]]:
        """A piece that starts a part's deltas (or an empty one)."""
        if not text:
            return []
        out: list[dict[str, Any]] = []
        if block.kind == "reasoning" and not block.pieces:
            self._reasoning_part(block, out)
        elif block.kind == "other":
            return out
        out.append(self._delta_event(block, text))
        return out

    def _delta_event(self, block: _Block, text: str) -> dict[str, Any]:
        block.head = {"type": block.event + ".delta", **block.where}
        block.pieces.append(text)
        fields = dict(block.where)
        fields["delta"] = text
        if block.kind == "text":
            fields["logprobs"] = []
        return self._event(block.event + ".delta", fields)

    def _reasoning_part(self, block: _Block, out: list[dict[str, Any]]) -> None:
        """The first part of a reasoning item, before its first delta."""
        if block.summary is None:
            block.summary = False
        if block.summary:
            block.event = "response.reasoning_summary_text"
            block.where["summary_index"] = 0
            out.append(self._event("response.reasoning_summary_part.added", {
                **block.where, "part": {"type": "summary_text", "text": ""}}))
        else:
            block.event = "response.reasoning_text"
            block.where["content_index"] = 0
            out.append(self._event("response.content_part.added", {
                **block.where, "part": {"type": "reasoning_text", "text": ""}}))

    def _final_text(self, block: _Block, final: Block, out: list[dict[str, Any]]) -> str:
        """The block's final text; a tail the deltas lacked is sent as a delta first."""
        streamed = "".join(block.pieces) if block.pieces else ""
        text = final.text
        if not text:
            return streamed
        if len(text) > len(streamed) and text.startswith(streamed):
            tail = text[len(streamed):]
            if block.kind == "reasoning" and not block.pieces:
                self._reasoning_part(block, out)
            out.append(self._delta_event(block, tail))
        return text

    def _close(self, step: Close) -> list[dict[str, Any]]:
        block = self._blocks[step.block]
        final = step.final
        out: list[dict[str, Any]] = []
        kind = block.kind
        if kind == "text" or kind == "refusal":
            self._close_part(block, final, out)
        elif kind == "tool":
            self._close_tool(block, final, out)
        elif kind == "reasoning":
            self._close_reasoning(block, final, out)
        else:
            self._close_other(block, final, out)
        return out

    def _close_part(self, block: _Block, final: Block, out: list[dict[str, Any]]) -> None:
        text = self._final_text(block, final, out)
        made = block.out
        where = block.where
        part = made.parts[block.content or 0]
        if block.kind == "refusal":
            part["refusal"] = text
            out.append(self._event("response.refusal.done", {**where, "refusal": text}))
        else:
            annotations = self._annotations(final, made, where, out)
            out.append(self._event("response.output_text.done",
                                   {**where, "text": text, "logprobs": []}))
            part["text"] = text
            part["annotations"] = annotations
            empty = final.carry.get("part_empty") if final.carry.get("format") == FORMAT else None
            if empty.__class__ is dict:
                part.update(empty)
        if not _restore(made.item, final):
            made.part_ext(block.content or 0)["close"] = final.carry
        out.append(self._event("response.content_part.done", {**where, "part": part}))
        made.open_parts -= 1
        self._item_done(made, out)

    def _annotations(
        self, final: Block, made: _Out, where: dict[str, Any], out: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The citations Responses holds (chat's nested url_citation flattened); others go to
        the extension field."""
        kept: list[dict[str, Any]] = []
        for annotation in final.annotations:
            kind = annotation.get("type")
            nested = annotation.get(kind) if kind.__class__ is str else None
            if nested.__class__ is dict:  # chat: {"type": "url_citation", "url_citation": {...}}
                annotation = {"type": kind, **nested}
            if kind not in _ANNOTATIONS:
                entry = made.part_ext(where["content_index"])
                entry.setdefault("annotations", []).append(annotation)
                continue
            out.append(self._event("response.output_text.annotation.added", {
                **where, "annotation_index": len(kept), "annotation": annotation}))
            kept.append(annotation)
        return kept

    def _close_tool(self, block: _Block, final: Block, out: list[dict[str, Any]]) -> None:
        text = self._final_text(block, final, out)
        item = block.out.item
        key = "input" if item["type"] == "custom_tool_call" else "arguments"
        item[key] = text
        if final.name:
            item["name"] = final.name
        if final.id and not item["call_id"]:
            item["call_id"] = final.id
        done: dict[str, Any] = {**block.where, key: text}
        if key == "arguments":
            done["name"] = item["name"]
        out.append(self._event(block.event + ".done", done))
        item["status"] = "completed"
        if not _restore(item, final):
            block.out.ext["close"] = final.carry
        block.out.sealed = True
        self._item_done(block.out, out)

    def _close_reasoning(self, block: _Block, final: Block, out: list[dict[str, Any]]) -> None:
        text = self._final_text(block, final, out)
        item = block.out.item
        if block.summary is None:
            block.summary = final.summary
        lengths = final.carry.get("parts") if final.carry.get("format") == FORMAT else None
        parts = split_summary(text, lengths) if block.summary else [text] if text else []
        kind = "summary_text" if block.summary else "reasoning_text"
        finals = [{"type": kind, "text": part} for part in parts]
        for index, part in enumerate(finals):
            where = dict(block.where)
            if block.summary:
                where["summary_index"] = index
                if index:
                    out.append(self._event("response.reasoning_summary_part.added",
                                           {**where, "part": {"type": kind, "text": ""}}))
                out.append(self._event("response.reasoning_summary_text.done",
                                       {**where, "text": part["text"]}))
                out.append(self._event("response.reasoning_summary_part.done",
                                       {**where, "part": part}))
            else:
                where["content_index"] = index
                out.append(self._event("response.reasoning_text.done",
                                       {**where, "text": part["text"]}))
                out.append(self._event("response.content_part.done", {**where, "part": part}))
        if block.summary:
            item["summary"] = finals
        elif finals:
            item["content"] = finals
        if final.signature is not None:
            item["encrypted_content"] = final.signature
        if not _restore(item, final):
            block.out.ext["close"] = final.carry
        if final.redacted:
            block.out.ext["redacted"] = True
        block.out.sealed = True
        self._item_done(block.out, out)

    def _close_other(self, block: _Block, final: Block, out: list[dict[str, Any]]) -> None:
        made = block.out
        raw = final.raw if final.raw is not None else {}
        if made.index < 0 and final.carry.get("format") == FORMAT and raw:
            made = self._new_item(raw, out)  # a Responses item that came back: itself again
        elif made.index < 0:  # another format's block: in the next event's extension field
            self._seal(out)
            entry: dict[str, Any] = {"raw": raw}
            if final.carry:
                entry["carry"] = final.carry
            self._before.append(entry)
            return
        made.item = dict(raw) if raw else made.item
        made.sealed = True
        self._item_done(made, out)

    # --- the end --------------------------------------------------------------------------

    def _end_output(self, out: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self._seal(out)
        for made in self._outs:
            made.sealed = True
            made.open_parts = 0
            self._item_done(made, out)
        return [made.item for made in self._outs]

    def _finish(self, step: Finish) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        self._ensure_begun(out)
        response = dict(self._response)
        response["output"] = self._end_output(out)
        carry = step.carry
        own = carry.get("format") == FORMAT
        reason = step.reason
        if reason in _INCOMPLETE:
            response["status"] = "incomplete"
            response["incomplete_details"] = {"reason": _INCOMPLETE[reason]}
        else:
            response["status"] = "completed"
        if step.usage is not None:
            response["usage"] = self._usage(step.usage)
        if own:
            response.update({k: v for k, v in carry.items() if k != "format"})
        else:
            self._extension(response, carry)
        if step.stop_sequence is not None:
            response.setdefault(EXTENSION, {})["stop_sequence"] = step.stop_sequence
        kind = _TERMINAL.get(str(response.get("status")), "response.completed")
        out.append(self._terminal(kind, response))
        return out

    def _terminal(self, kind: str, response: dict[str, Any]) -> dict[str, Any]:
        event = {"response": response}
        ext = self._pending_ext()
        if ext:
            event[EXTENSION] = ext
        return self._event(kind, event)

    def _fail(self, step: Fail) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        self._ensure_begun(out)
        response = dict(self._response)
        response["output"] = self._end_output(out)
        response["status"] = "failed"
        carry = step.carry
        error = carry.get("error") if carry.get("format") == FORMAT else None
        if error.__class__ is not dict:
            error = {"code": step.code or "server_error", "message": step.message}
        response["error"] = error
        if step.usage is not None:
            response["usage"] = self._usage(step.usage)
        if carry.get("format") != FORMAT:
            self._extension(response, carry)
        out.append(self._terminal("response.failed", response))
        return out

    def _usage(self, usage: Usage) -> dict[str, Any]:
        wire, foreign = responses_usage(usage)
        if foreign is not None:
            self._extra_usage["carry"] = foreign
        return wire

    def _extension(self, response: dict[str, Any], carry: dict[str, Any]) -> None:
        """Another format's carry and the usage's carry, in the terminal response's extension
        field."""
        extension = {**self._foreign, **carry}
        if self._extra_usage:
            extension["usage"] = self._extra_usage
        if extension:
            response[EXTENSION] = extension


def _restore(item: dict[str, Any], final: Block) -> bool:
    """A Responses source's item id and other item fields (status...), put back; False
    when the block's carry is another format's (for the extension field)."""
    carry = final.carry
    if carry.get("format") != FORMAT:
        return not carry
    item_id = carry.get("item_id")
    if item_id.__class__ is str:
        item["id"] = item_id
    fields = carry.get("fields")
    if fields.__class__ is dict:
        item.update(fields)
    empty = carry.get("empty")
    if empty.__class__ is dict:
        for key, value in empty.items():
            item.setdefault(key, value)
    return True

