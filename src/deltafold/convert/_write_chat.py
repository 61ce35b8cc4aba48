"""The chat format's writer: neutral steps in, ``chat.completion.chunk`` dicts out.

The chunks are the ones OpenAI and OpenRouter stream: ``id``, ``object``, ``created`` and
``model`` on every chunk; a first chunk with the role; text as ``content``, refusals as
``refusal``, reasoning as OpenRouter writes it (the text as ``reasoning`` while it
streams, then its ``reasoning_details`` whole, with the signature or the encrypted data,
when the block closes); tool calls with ``index``, ``id``, ``type`` and ``function``; a
chunk with the finish reason; the usage on a last chunk with ``choices: []``; an error
as OpenRouter's mid-stream error chunk. What chat has no field for (another format's
carry, blocks chat cannot hold) goes in the top-level extension field ``deltafold`` of
the chunk where it happened, under the step's name: ``begin``, ``finish``, ``usage``,
``fail``, ``stop_sequence`` (once each), and ``open``, ``close``, ``tool_type`` and
``other`` (a block chat cannot hold, ``{"raw", "carry"}``, on a chunk of its own where
the block was) keyed by block number, so that the chat fold, which merges an unknown
object field by field, keeps each apart, and ``ChatReader`` gives them back in place.
"""

from __future__ import annotations

from typing import Any

from ._chat_finish import chat_finish_reason, chat_usage
from ._ops import (
    EXTENSION,
    Begin,
    Block,
    Close,
    Delta,
    Fail,
    Finish,
    Open,
    StepMethods,
)

__all__ = ["ChatWriter"]

FORMAT = "chat"
_TOP_CARRIED = ("system_fingerprint", "service_tier", "provider")
_FIELD = {"text": "content", "refusal": "refusal", "reasoning": "reasoning"}
_ENCRYPTED = "reasoning.encrypted"


class _Written:
    """A block as written so far: its kind, where it goes in the chunk, its length."""

    __slots__ = ("carry", "field", "id", "kind", "legacy", "length", "name", "parts", "tool")

    def __init__(self, step: Open) -> None:
        self.kind = step.kind
        self.field = _FIELD.get(step.kind)  # the delta's field for text, refusal, reasoning
        self.carry = step.carry
        self.legacy = False
        self.tool = -1
        self.length = 0
        self.id = step.id
        self.name = step.name
        self.parts: list[str] = []  # a tool call's arguments (see _pieces)


class ChatWriter(StepMethods):
    """Neutral steps in, ``chat.completion.chunk`` dicts (in stream order) out."""

    def __init__(self) -> None:
        self._head: dict[str, Any] = {
            "id": "", "object": "chat.completion.chunk", "created": 0, "model": ""
        }
        self._blocks: dict[int, _Written] = {}
        self._tools = 0
        self._details = 0
        self._ext: dict[str, Any] | None = None
        self._previous_text: str | None = None
        """The kind of the block opened last, when it was text or a refusal."""

    def delta(self, number: int, text: str, out: list[dict[str, Any]]) -> None:
        """The chunks of ``Delta(number, text)`` appended to ``out``: a piece of text, of
        reasoning or of a call's arguments (see ``_pieces``) is one chunk, built inline."""
        block = self._blocks[number]
        if text and self._ext is None:
            field = block.field
            if field is not None:  # text, refusal or reasoning
                block.length += len(text)
                chunk = self._head.copy()
                chunk["choices"] = [{"index": 0, "delta": {field: text}, "finish_reason": None}]
                out.append(chunk)
                return
            length = block.length
            if block.tool >= 0 and (not length or len(text) < length):  # a call: see _pieces
                block.parts.append(text)
                block.length = length + len(text)
                chunk = self._head.copy()
                call = {"index": block.tool, "function": {"arguments": text}}
                chunk["choices"] = [
                    {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]
                out.append(chunk)
                return
        out += self._delta(Delta(number, text))

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        chunk = self._head.copy()
        chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
        ext = self._ext
        if ext is not None:
            chunk[EXTENSION] = ext
            self._ext = None
        return chunk

    def _carry(self, key: str, carry: dict[str, Any] | Any) -> None:
        """Another format's ``carry``: into the extension of the next chunk written."""
        if self._ext is None:
            self._ext = {}
        self._ext[key] = carry

    def _begin(self, step: Begin) -> list[dict[str, Any]]:
        head = self._head
        head["id"] = step.id or ""
        head["created"] = step.created or 0
        head["model"] = step.model or ""
        carry = step.carry
        if carry.get("format") == FORMAT:
            head.update((name, carry[name]) for name in _TOP_CARRIED if name in carry)
        elif carry:
            self._carry("begin", carry)
        return [self._chunk({"role": "assistant"})]

    def _open(self, step: Open) -> list[dict[str, Any]]:
        block = self._blocks[step.block] = _Written(step)
        carry = step.carry
        own = carry.get("format") == FORMAT
        kind = step.kind
        if carry and not own and kind != "other":  # an "other" block keeps its raw whole
            self._carry("open", {str(step.block): carry})
        elif kind == self._previous_text and not own:  # chat would join it to the one before
            self._carry("open", {str(step.block): {}})
        self._previous_text = kind if kind == "text" or kind == "refusal" else None
        if kind != "tool":
            return []
        if step.tool_type != "function":  # chat calls are functions: the kind rides along
            self._carry("tool_type", {str(step.block): step.tool_type})
        if own and carry.get("legacy"):
            block.legacy = True
            return [self._chunk({"function_call": {"name": step.name or "", "arguments": ""}})]
        block.tool = self._tools
        self._tools += 1
        call: dict[str, Any] = {"index": block.tool}
        if step.id:
            call["id"] = step.id
        call["type"] = "function"
        call["function"] = {"name": step.name or "", "arguments": ""}
        return [self._chunk({"tool_calls": [call]})]

    def _delta(self, step: Delta) -> list[dict[str, Any]]:
        block = self._blocks[step.block]
        text = step.text
        if not text:
            return []
        if block.kind == "tool":
            return self._arguments(block, text)
        field = block.field
        if field is None:
            return []
        block.length += len(text)
        return [self._chunk({field: text})]

    def _arguments(self, block: _Written, text: str) -> list[dict[str, Any]]:
        out = []
        for piece in _pieces(block, text):
            if block.legacy:
                delta: dict[str, Any] = {"function_call": {"arguments": piece}}
            else:
                delta = {"tool_calls": [{"index": block.tool, "function": {"arguments": piece}}]}
            out.append(self._chunk(delta))
        return out

    def _close(self, step: Close) -> list[dict[str, Any]]:
        block = self._blocks[step.block]
        final = step.final
        out: list[dict[str, Any]] = []
        kind = block.kind
        carry = final.carry
        if carry and carry != block.carry and carry.get("format") != FORMAT and kind != "other":
            self._carry("close", {str(step.block): carry})
        if kind == "tool" and not block.legacy and (
            (final.id and not block.id) or (final.name and not block.name)
        ):
            call: dict[str, Any] = {"index": block.tool}
            if final.id and not block.id:
                call["id"] = final.id
            call["function"] = {"name": final.name} if final.name and not block.name else {}
            out.append(self._chunk({"tool_calls": [call]}))
        tail = final.text[block.length:] if len(final.text) > block.length else ""
        if tail and kind != "other":
            out += self._delta(Delta(step.block, tail))
        del self._blocks[step.block]
        if kind == "reasoning":
            details = self._reasoning_details(final)
            if details:
                out.append(self._chunk({"reasoning_details": details}))
        elif kind == "text" and final.annotations:
            out.append(self._chunk({"annotations": final.annotations}))
        elif kind == "other":
            self._other(step.block, final, out)
        if self._ext is not None:  # a carry with nothing left to ride on
            out.append(self._chunk({}))
        return out

    def _other(self, number: int, final: Block, out: list[dict[str, Any]]) -> None:
        raw = final.raw
        if raw is None:
            return
        field = final.carry.get("field") if final.carry.get("format") == FORMAT else None
        if field == "images":
            out.append(self._chunk({"images": [raw]}))
        else:
            entry: dict[str, Any] = {"raw": raw}  # chat holds no such block: see the docstring
            if final.carry:
                entry["carry"] = final.carry
            self._carry("other", {str(number): entry})

    def _reasoning_details(self, final: Block) -> list[dict[str, Any]]:
        """OpenRouter's ``reasoning_details`` of a reasoning block (the source's own when it
        was chat: their type, id, format and index, with the text and token put back)."""
        carry = final.carry
        if carry.get("format") == FORMAT:
            kept = carry.get("details")
            if kept.__class__ is list:
                sealed = any(detail.get("type") == _ENCRYPTED for detail in kept)
                return [_restored(detail, final, sealed) for detail in kept]
        if not final.text and final.signature is None and not final.id:
            return []  # an item with an id stays, empty (a Responses item the next turn names)
        details: list[dict[str, Any]] = []
        if not final.redacted and (final.text or final.signature is None or not final.summary):
            key = "summary" if final.summary else "text"
            detail: dict[str, Any] = {"type": f"reasoning.{key}", key: final.text}
            if final.signature is not None and not final.summary:
                detail["signature"] = final.signature
            details.append(detail)
        if final.signature is not None and (final.redacted or final.summary):
            details.append({"type": _ENCRYPTED, "data": final.signature})
        for detail in details:
            if final.id:
                detail["id"] = final.id
            detail["index"] = self._details
            self._details += 1
        return details

    def _finish(self, step: Finish) -> list[dict[str, Any]]:
        carry = step.carry
        own = carry.get("format") == FORMAT
        out: list[dict[str, Any]] = []
        choice: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": None}
        if own:
            self._head.update((name, carry[name]) for name in _TOP_CARRIED if name in carry)
            if carry.get("annotations"):
                out.append(self._chunk({"annotations": carry["annotations"]}))
            choice["finish_reason"] = carry.get("finish_reason")
            if "native_finish_reason" in carry:
                choice["native_finish_reason"] = carry["native_finish_reason"]
        elif carry:
            self._carry("finish", carry)
        if choice["finish_reason"] is None and step.reason is not None:
            choice["finish_reason"] = chat_finish_reason(step.reason)
        if step.stop_sequence is not None:
            self._carry("stop_sequence", step.stop_sequence)
        usage = step.usage
        fields: dict[str, Any] | None = None
        if usage is not None:
            fields, foreign = chat_usage(usage)
            if foreign is not None:
                self._carry("usage", foreign)
        finish = self._head.copy()
        finish["choices"] = [choice]
        out.append(finish)
        if fields is not None:
            finish = self._head.copy()
            finish["choices"] = []
            finish["usage"] = fields
            out.append(finish)
        if self._ext is not None:  # on the last chunk
            finish[EXTENSION] = self._ext
            self._ext = None
        return out

    def _fail(self, step: Fail) -> list[dict[str, Any]]:
        carry = step.carry
        own = carry.get("format") == FORMAT
        error = carry.get("error") if own else None
        if error is None:
            error = {"message": step.message}
            if step.code is not None:
                error["code"] = step.code
            if carry:
                self._carry("fail", carry)
        chunk = self._head.copy()
        chunk["error"] = error
        reason = carry.get("finish_reason") if own else "error"
        chunk["choices"] = [{"index": 0, "delta": {}, "finish_reason": reason}]
        if step.usage is not None:
            fields, foreign = chat_usage(step.usage)
            chunk["usage"] = fields
            if foreign is not None:
                self._carry("usage", foreign)
        if self._ext is not None:
            chunk[EXTENSION] = self._ext
            self._ext = None
        return [chunk]


def _restored(kept: dict[str, Any], final: Block, sealed: bool) -> dict[str, Any]:
    """A chat source's reasoning detail with its text, summary, data or signature put back
    (``sealed``: the block's token is an encrypted detail's data, not a signature)."""
    detail = dict(kept)
    kind = detail.get("type")
    if kind == _ENCRYPTED:
        if final.signature is not None:
            detail["data"] = final.signature
        return detail
    detail["summary" if kind == "reasoning.summary" else "text"] = final.text
    if final.signature is not None and not sealed:
        detail["signature"] = final.signature
    return detail


def _pieces(block: _Written, text: str) -> list[str]:
    """``text`` appended to a call's arguments, cut where the chat fold would take a piece
    for the whole arguments re-sent (a piece at least as long as the text so far that
    starts with it): a piece shorter than the text so far never is."""
    length = block.length
    block.length = length + len(text)
    parts = block.parts
    if not length or len(text) < length:
        parts.append(text)
        return [text]
    so_far = "".join(parts)
    out = []
    while so_far and len(text) >= len(so_far) and text.startswith(so_far) and len(so_far) > 1:
        piece = text[: len(so_far) - 1]
        out.append(piece)
        so_far += piece
        text = text[len(piece):]
    out.append(text)
    parts[:] = [so_far + text]
    return out
