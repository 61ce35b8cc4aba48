"""One choice being folded: its state, the fold of its structured parts, the per-field checks.

``Accumulator`` folds each chunk down to a choice's delta and hands the
structured parts to the choice's state here: tool calls (matched by index or
id), the legacy function call, reasoning details, logprobs and audio. The
per-field checks (``as_text``, ``as_list``, ...) live here, beside the folds
that call them most; the accumulator imports them for its own. A check runs
only on a rare branch (after a class test fails), never on the common path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _models as m
from ._convert import wire_names
from ._events import (
    Event,
    LogprobsDelta,
    ReasoningDetailDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
)
from ._jsontext import OPT_SORT_KEYS, dumps
from ._jsonvalue import INT_END, INT_MIN, bounded, kind_of
from ._limits import limit_error
from ._merge import Rope, materialize, materialize_fields, merge_unknown

if TYPE_CHECKING:
    from ._json_fold import ParsedText

_TOOL_KNOWN = wire_names(m.ToolCallDelta)
_FUNCTION_KNOWN = wire_names(m.FunctionCallDelta)
_LOGPROBS_KNOWN = wire_names(m.Logprobs)
_DETAIL_TEXT = ("text", "summary", "data")
"""The ``reasoning_details`` fields that arrive in fragments and concatenate."""


class FieldError(Exception):
    """A field of the wrong type; becomes a ChunkDecodeError with position and partial."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def as_index(value: Any, path: str) -> int:
    """An index as an int; ``"0"`` is coerced, anything else without a clear meaning is an error."""
    if value.__class__ is int:
        return value
    index: int | None = None
    if (isinstance(value, str) and len(value) < 32 and value.strip().lstrip("-").isdigit()) or (
        isinstance(value, float) and value.is_integer()
    ):
        index = int(value)
    if index is not None and INT_MIN <= index < INT_END:
        return index
    raise FieldError(path, f"expected an integer index, got {kind_of(value)} {short(value)}")


def check_range(index: int, path: str) -> None:
    """Once per new choice, call or detail: an index JSON can hold (a dict may carry any int)."""
    if not INT_MIN <= index < INT_END:
        raise FieldError(path, f"index out of range: {short(index)}")


def short(value: Any) -> str:
    """A short repr for messages, safe for any value (huge or deeply nested)."""
    if value.__class__ is str or value.__class__ is int or value.__class__ is float:
        text = repr(value)
    elif value.__class__ is dict:
        text = f"{{... {len(value)} keys}}"
    elif value.__class__ is list:
        text = f"[... {len(value)} items]"
    else:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def as_timestamp(value: Any, path: str) -> int:
    """A timestamp as an int: ``"123"`` and ``123.0`` mean 123; else has no clear meaning."""
    if value.__class__ is not int:
        try:
            if isinstance(value, bool) or not isinstance(value, (str, float)):
                raise TypeError
            value = int(float(value))
        except (TypeError, ValueError, OverflowError):
            message = f"expected a timestamp, got {kind_of(value)} {short(value)}"
            raise FieldError(path, message) from None
    if not INT_MIN <= value < INT_END:
        raise FieldError(path, f"timestamp out of range: {short(value)}")
    return value  # type: ignore[no-any-return]


def as_text(value: Any, path: str) -> str:
    if value.__class__ is str:
        return value
    raise FieldError(path, f"expected a string, got {kind_of(value)} {short(value)}")


def as_list(value: Any, path: str) -> list[Any]:
    """A list; a lone object where a list belongs is taken as a list of one."""
    if value.__class__ is list:
        return value
    if value.__class__ is dict:
        return [value] if value else []
    raise FieldError(path, f"expected a list, got {kind_of(value)} {short(value)}")


def as_object(value: Any, path: str) -> dict[str, Any]:
    if value.__class__ is dict:
        return value
    raise FieldError(path, f"expected an object, got {kind_of(value)} {short(value)}")


def call_path(n: int, i: int) -> str:
    """The path of tool call delta ``i`` of choice ``n`` (``i`` = -1: the legacy function call).

    Built only when an error names it, never on the hot path.
    """
    if i < 0:
        return f"choices[{n}].delta.function_call"
    return f"choices[{n}].delta.tool_calls[{i}]"


def detail_path(n: int, i: int) -> str:
    return f"choices[{n}].delta.reasoning_details[{i}]"


def _dedup_key(value: Any) -> bytes | str:
    try:
        return dumps(value, option=OPT_SORT_KEYS)
    except (TypeError, ValueError):
        # Not writable as JSON (too deep): never equal to another item.
        return f"<{id(value)}>"


class CallState:
    """A tool call (or the legacy function call) being assembled."""

    __slots__ = (
        "args", "done", "extra", "function_extra", "id", "index", "json", "name", "position",
        "type",
    )

    def __init__(self, index: int | None, position: int, args: Rope) -> None:
        self.index = index
        self.position = position
        self.id = ""
        self.type = ""
        self.name = ""
        self.args = args
        self.extra: dict[str, Any] = {}
        self.function_extra: dict[str, Any] = {}
        self.done = False
        self.json: ParsedText | None = None  # the arguments' parser (parse_json)

    def arguments(self) -> str:
        return self.args.value()

    def add_arguments(self, text: str) -> bool:
        """Append ``text``; True when it replaced everything (a provider re-sent the whole)."""
        args = self.args
        if args.length and len(text) >= args.length and text.startswith(args.value()):
            args.replace(text)
            return True
        args.add(text)
        return False

    def build_function(self) -> m.FunctionCall:
        function = m.FunctionCall(
            name=self.name,
            arguments=self.arguments(),
            extra=materialize_fields(self.function_extra),
        )
        if self.json is not None:
            function.parsed = self.json.parsed()
            function.parse_error = self.json.error
        return function


class DetailState:
    """One ``reasoning_details`` item being assembled."""

    __slots__ = ("extra", "fields", "texts")

    def __init__(self, kind: Any, index: Any) -> None:
        self.fields: dict[str, Any] = {"type": kind, "index": index}
        self.texts: dict[str, Rope] = {}
        self.extra: dict[str, Any] = {}

    def add(self, item: dict[str, Any], n: int, i: int, max_field: int) -> None:
        """Fold item ``i`` of choice ``n``'s ``reasoning_details`` delta into this one."""
        fields = self.fields
        for key, value in item.items():
            if value is None or key == "type" or key == "index":
                continue
            if key in _DETAIL_TEXT:
                if value.__class__ is not str:
                    value = as_text(value, f"{detail_path(n, i)}.{key}")
                rope = self.texts.get(key)
                if rope is None:
                    self.texts[key] = Rope(value, f"{detail_path(n, i)}.{key}", max_field)
                elif value:
                    rope.add(value)
            elif key == "signature":
                if value != "":
                    fields["signature"] = value
            elif key == "id" or key == "format":
                if fields.get(key) is None:
                    fields[key] = value
            else:
                merge_unknown(self.extra, key, value, max_field)

    def build(self) -> dict[str, Any]:
        out = {key: value for key, value in self.fields.items() if value is not None}
        for key, rope in self.texts.items():
            out[key] = rope.value()
        for key, value in self.extra.items():
            out.setdefault(key, materialize(value))
        return out


class ChoiceState:
    """Everything known so far about one choice, and the fold of its structured parts."""

    __slots__ = (
        "annotation_keys",
        "annotations",
        "audio",
        "audio_texts",
        "calls",
        "calls_by_id",
        "calls_by_index",
        "content",
        "content_json",
        "detail_keys",
        "details",
        "extra",
        "finish_reason",
        "function_call",
        "image_keys",
        "images",
        "index",
        "logprobs_content",
        "logprobs_extra",
        "logprobs_refusal",
        "max_calls",
        "max_field",
        "message_extra",
        "native_finish_reason",
        "reasoning",
        "refusal",
        "role",
        "whole",
    )

    def __init__(self, index: int, max_field: int, max_calls: int | None) -> None:
        self.index = index
        self.max_field = max_field  # the limits this choice's fields are held to
        self.max_calls = max_calls
        self.whole = False  # folding a complete message (see Accumulator._fold_message)
        self.role = ""
        # None until a string arrives: content stays null if none ever does.
        self.content: Rope | None = None
        self.content_json: ParsedText | None = None  # the content's parser (parse_json)
        self.refusal: Rope | None = None
        self.reasoning: Rope | None = None
        self.details: list[DetailState] = []
        self.detail_keys: dict[tuple[Any, Any], int] = {}
        self.calls: list[CallState] = []
        self.calls_by_index: dict[int, int] = {}
        self.calls_by_id: dict[str, int] = {}
        self.function_call: CallState | None = None
        self.logprobs_content: list[Any] | None = None
        self.logprobs_refusal: list[Any] | None = None
        self.logprobs_extra: dict[str, Any] = {}
        self.annotations: list[Any] = []
        self.annotation_keys: set[bytes | str] = set()
        self.images: list[Any] = []
        self.image_keys: set[bytes | str] = set()
        self.audio: dict[str, Any] | None = None
        self.audio_texts: dict[str, Rope] = {}
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        self.extra: dict[str, Any] = {}
        self.message_extra: dict[str, Any] = {}

    def has_token(self) -> bool:
        """Non-empty content, refusal, reasoning or tool arguments (a role alone is not)."""
        for rope in (self.content, self.refusal, self.reasoning):
            if rope is not None and rope.length:
                return True
        call = self.function_call
        return any(c.args.length for c in self.calls) or bool(call and call.args.length)

    def rope(self, name: str, first: str) -> Rope:
        """A new text field of this choice's message, bounded by max_field_chars."""
        return Rope(first, f"choices[{self.index}].message.{name}", self.max_field)

    def add_text(self, name: str, text: str) -> None:
        """Append to the message's text field ``name`` (content, reasoning or refusal);
        the first fragment, even an empty one, makes the field non-null."""
        rope: Rope | None = getattr(self, name)
        if rope is None:
            setattr(self, name, self.rope(name, text))
        elif text:
            rope.add(text)

    def fold_extra(self, choice: dict[str, Any], delta: Any, skip: frozenset[str]) -> None:
        """The choice's unknown fields (``delta`` is what was folded: the delta or the message).

        ``skip`` holds the known fields and the padding. Two more are not merged: a
        ``message`` that was not folded (a copy beside a delta, as Writer sends) is kept
        as the last one seen in ``extra["message"]``; a ``text`` equal to the content
        folded from this chunk (Hugging Face router -> Together) is a copy and left out.
        """
        extra = self.extra
        for key, value in choice.items():
            if key in skip:
                continue
            if key == "message":
                if value is not delta:
                    extra["message"] = bounded(value)
                continue
            if (
                key == "text"
                and value.__class__ is str
                and delta.__class__ is dict
                and delta.get("content") == value
            ):
                continue
            merge_unknown(extra, key, value, self.max_field)

    def fold_tool_calls(
        self, value: Any, n: int, events: list[Event] | None
    ) -> None:
        if value.__class__ is not list:
            value = as_list(value, f"choices[{n}].delta.tool_calls")
        i = -1
        for item in value:
            i += 1
            if item.__class__ is not dict:
                raise FieldError(call_path(n, i), f"expected an object, got {kind_of(item)}")
            index = item.get("index")
            if index is not None and index.__class__ is not int:
                index = as_index(index, f"{call_path(n, i)}.index")
            call_id = item.get("id")
            if call_id is not None and call_id.__class__ is not str:
                call_id = as_text(call_id, f"{call_path(n, i)}.id")
            if not call_id and index is not None and index in self.calls_by_index:
                # A fragment of a call already started (the common case): no lookup by id.
                call = self.calls[self.calls_by_index[index]]
                started = False
                function = item.get("function")
                if len(item) == 2 and function.__class__ is dict and len(function) == 1:
                    # Only ``{"index": i, "function": {"arguments": text}}``: what fold_call
                    # does with it when the text is a plain fragment, inline.
                    arguments = function.get("arguments")
                    args = call.args
                    if arguments.__class__ is str and arguments:
                        length = args.length + len(arguments)
                        if length < args.mark and len(arguments) < args.length:
                            args.parts.append(arguments)
                            args.length = length
                            if events is not None:
                                events.append(
                                    ToolCallArgumentsDelta(
                                        self.index, call.position, arguments, False
                                    )
                                )
                            continue
            else:
                found = self.find_call(index, call_id)
                if found is None:
                    call = self.start_call(index, call_id or "", call_path(n, i))
                    started = True
                else:
                    call = found
                    started = False
                    if call_id and not call.id:
                        call.id = call_id
                        self.calls_by_id.setdefault(call_id, call.position)
            added = self.fold_call(call, item, n, i, _TOOL_KNOWN, events)
            if events is not None:
                position = call.position
                if started:
                    events.append(ToolCallStarted(self.index, position, call.id, call.name))
                if added is not None:
                    events.append(ToolCallArgumentsDelta(self.index, position, *added))

    def find_call(self, index: int | None, call_id: str | None) -> CallState | None:
        if self.whole:
            return None  # a complete message: every tool call is a new one
        calls = self.calls
        if index is not None:
            position = self.calls_by_index.get(index)
            if position is not None:
                call = calls[position]
                if not call_id or not call.id or call_id == call.id:
                    return call
            # Ollama sends every call at index 0: a new id at a known index is a new call,
            # while an id seen before (at any index, or none) still means its own call.
            if call_id:
                position = self.calls_by_id.get(call_id)
                if position is not None:
                    call = calls[position]
                    self.calls_by_index.setdefault(index, position)
                    return call
            return None
        if call_id:
            position = self.calls_by_id.get(call_id)
            if position is not None:
                return calls[position]
            if calls and not calls[-1].id:
                return calls[-1]
            return None
        return calls[-1] if calls else None

    def start_call(self, index: int | None, call_id: str, path: str) -> CallState:
        limit = self.max_calls
        if limit is not None and len(self.calls) >= limit:
            raise limit_error("max_tool_calls", len(self.calls) + 1, limit)
        if index is not None:
            check_range(index, f"{path}.index")
        position = len(self.calls)
        where = f"choices[{self.index}].message.tool_calls[{position}].function.arguments"
        call = CallState(index, position, Rope("", where, self.max_field))
        call.id = call_id
        self.calls.append(call)
        if index is not None:
            self.calls_by_index[index] = position
        if call_id:
            self.calls_by_id.setdefault(call_id, position)
        return call

    def fold_call(
        self,
        call: CallState,
        item: dict[str, Any],
        n: int,
        i: int,
        known: frozenset[str],
        events: list[Event] | None,
    ) -> tuple[str, bool] | None:
        """Fold one tool-call (``i`` >= 0) or function-call (``i`` = -1) delta of choice ``n``;
        with ``events``, the new argument text and if it replaced."""
        added: tuple[str, bool] | None = None
        kind = item.get("type")
        if kind and not call.type:
            call.type = as_text(kind, f"{call_path(n, i)}.type")
        function = item.get("function") if known is _TOOL_KNOWN else item
        if function:
            if function.__class__ is not dict:
                function = as_object(function, f"{call_path(n, i)}.function")
            name = function.get("name")
            if name and not call.name:
                call.name = as_text(name, f"{call_path(n, i)}.function.name")
            arguments = function.get("arguments")
            if arguments:
                if arguments.__class__ is not str:
                    # Some providers send the arguments as an object; the wire form is JSON text.
                    if arguments.__class__ is dict or arguments.__class__ is list:
                        arguments = dumps(arguments).decode()
                    else:
                        arguments = as_text(arguments, f"{call_path(n, i)}.function.arguments")
                replaced = call.add_arguments(arguments)
                if events is not None:
                    added = (arguments, replaced)
            if not _FUNCTION_KNOWN.issuperset(function):
                for key, value in function.items():
                    if key not in _FUNCTION_KNOWN:
                        merge_unknown(call.function_extra, key, value, self.max_field)
        if known is _TOOL_KNOWN and not known.issuperset(item):
            for key, value in item.items():
                if key not in known:
                    merge_unknown(call.extra, key, value, self.max_field)
        return added

    def fold_function_call(
        self, value: Any, n: int, events: list[Event] | None
    ) -> None:
        item = as_object(value, f"choices[{n}].delta.function_call")
        call = self.function_call
        started = call is None
        if call is None:
            where = f"choices[{self.index}].message.function_call.arguments"
            call = CallState(None, -1, Rope("", where, self.max_field))
            self.function_call = call
        added = self.fold_call(call, item, n, -1, _FUNCTION_KNOWN, events)
        if events is not None:
            if started:
                events.append(ToolCallStarted(self.index, -1, call.id, call.name))
            if added is not None:
                events.append(ToolCallArgumentsDelta(self.index, -1, *added))

    def fold_details(self, value: Any, n: int, events: list[Event] | None) -> None:
        if value.__class__ is not list:
            value = as_list(value, f"choices[{n}].delta.reasoning_details")
        i = -1
        for item in value:
            i += 1
            if item.__class__ is not dict:
                item = as_object(item, detail_path(n, i))
            kind = item.get("type")
            if kind is not None and kind.__class__ is not str:
                kind = as_text(kind, f"{detail_path(n, i)}.type")
            index = item.get("index")
            position = None
            if index is not None:
                if index.__class__ is not int:
                    index = as_index(index, f"{detail_path(n, i)}.index")
                position = self.detail_keys.get((kind, index))
            if position is None:
                if index is not None:
                    check_range(index, f"{detail_path(n, i)}.index")
                position = len(self.details)
                self.details.append(DetailState(kind, index))
                if index is not None:
                    self.detail_keys[(kind, index)] = position
            self.details[position].add(item, n, i, self.max_field)
            if events is not None:
                events.append(ReasoningDetailDelta(self.index, position, item))

    def fold_logprobs(
        self, value: Any, n: int, events: list[Event] | None
    ) -> None:
        logprobs = value if value.__class__ is dict else as_object(value, f"choices[{n}].logprobs")
        content = logprobs.get("content")
        refusal = logprobs.get("refusal")
        if content is not None:
            content = as_list(content, f"choices[{n}].logprobs.content")
            self.logprobs_content = _joined(self.logprobs_content, content)
        if refusal is not None:
            refusal = as_list(refusal, f"choices[{n}].logprobs.refusal")
            self.logprobs_refusal = _joined(self.logprobs_refusal, refusal)
        if not _LOGPROBS_KNOWN.issuperset(logprobs):
            for key, item in logprobs.items():
                if key not in _LOGPROBS_KNOWN:
                    merge_unknown(self.logprobs_extra, key, item, self.max_field)
        if events is not None and (content or refusal):
            events.append(LogprobsDelta(self.index, content, refusal))

    def fold_audio(self, audio: dict[str, Any], n: int) -> None:
        if self.audio is None:
            self.audio = {}
        fields = self.audio
        for key, value in audio.items():
            if value is None:
                continue
            if key == "data" or key == "transcript":
                text = as_text(value, f"choices[{n}].delta.audio.{key}")
                rope = self.audio_texts.get(key)
                if rope is None:
                    where = f"choices[{self.index}].message.audio.{key}"
                    self.audio_texts[key] = Rope(text, where, self.max_field)
                else:
                    rope.add(text)
            elif key == "id":
                if value and not fields.get("id"):
                    fields["id"] = value
            elif key == "expires_at":
                fields["expires_at"] = value
            else:
                merge_unknown(fields, key, value, self.max_field)

    @staticmethod
    def add_unique(items: list[Any], seen: set[bytes | str], item: Any) -> bool:
        key = _dedup_key(item)
        if key in seen:
            return False
        seen.add(key)
        items.append(item)
        return True

    def finish_calls(self, events: list[Event]) -> None:
        for position, call in enumerate(self.calls):
            if not call.done:
                call.done = True
                events.append(
                    ToolCallDone(self.index, position, call.id, call.name, call.arguments())
                )
        legacy = self.function_call
        if legacy is not None and not legacy.done:
            legacy.done = True
            events.append(
                ToolCallDone(self.index, -1, legacy.id, legacy.name, legacy.arguments())
            )


def _joined(kept: list[Any] | None, items: list[Any]) -> list[Any]:
    """The token entries kept so far with ``items`` added (a copy the first time: the
    chunk's own list is never kept, so changing it later changes nothing here)."""
    if kept is None:
        return list(items)
    kept.extend(items)
    return kept
