"""The fold: a sans-IO state machine from decoded chunks to one ``ChatCompletion``.

``Accumulator.feed(chunk)`` takes one chunk (a dict, JSON text or bytes, a
typed chunk, or a pydantic chunk) and returns the events it caused. It never
touches a socket. The per-chunk work is a walk over the chunk's keys that
appends string fragments to lists; strings are joined only when a snapshot or
the result is built, and typed objects are built only there too.

Each field has its own rule, written beside the code that applies it (the
rules are listed in docs/concepts.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from . import _models as m
from ._convert import converter
from ._decode import decode_chunk
from ._events import (
    AnnotationAdded,
    ChoiceFinished,
    ContentDelta,
    Event,
    ImageAdded,
    LogprobsDelta,
    ReasoningDelta,
    ReasoningDetailDelta,
    RefusalDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    UsageUpdated,
)
from ._exceptions import ChunkDecodeError, DeltafoldError, IncompleteStreamError, StreamError
from ._limits import Limits
from ._merge import materialize, materialize_fields, merge_latest, merge_unknown

__all__ = ["Accumulator"]

_TOP_FIRST_WINS = ("id", "model", "created", "system_fingerprint", "service_tier", "provider")
_TOP_KNOWN = frozenset(
    {
        "id",
        "model",
        "created",
        "system_fingerprint",
        "service_tier",
        "provider",
        "choices",
        "usage",
        "object",
        "error",
    }
)
_CHOICE_KNOWN = frozenset({"index", "delta", "finish_reason", "native_finish_reason", "logprobs"})
_TOOL_KNOWN = frozenset({"index", "id", "type", "function"})
_FUNCTION_KNOWN = frozenset({"name", "arguments"})
_DETAIL_TEXT = ("text", "summary", "data")
_DETAIL_KNOWN = frozenset({"type", "index", "text", "summary", "data", "id", "format", "signature"})
_AUDIO_KNOWN = frozenset({"id", "data", "transcript", "expires_at"})
_LOGPROBS_KNOWN = frozenset({"content", "refusal"})


class _FieldError(Exception):
    """A field of the wrong type; becomes a ChunkDecodeError with position and partial."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _as_index(value: Any, path: str) -> int:
    """An index as an int; ``"0"`` is coerced, anything else without a clear meaning is an error."""
    if value.__class__ is int:
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _FieldError(path, f"expected an integer index, got {_kind(value)} {value!r:.40}")


def _as_text(value: Any, path: str) -> str:
    if value.__class__ is str:
        return value
    raise _FieldError(path, f"expected a string, got {_kind(value)} {value!r:.40}")


def _as_list(value: Any, path: str) -> list[Any]:
    """A list; a lone object where a list belongs is taken as a list of one."""
    if value.__class__ is list:
        return value
    if value.__class__ is dict:
        return [value] if value else []
    raise _FieldError(path, f"expected a list, got {_kind(value)} {value!r:.40}")


def _as_object(value: Any, path: str) -> dict[str, Any]:
    if value.__class__ is dict:
        return value
    raise _FieldError(path, f"expected an object, got {_kind(value)} {value!r:.40}")


def _dedup_key(value: Any) -> bytes | str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return repr(value)


def _lenient(cls: type[Any], data: Any) -> Any:
    """Structure ``data`` as ``cls``; a field of the wrong shape is kept in ``extra`` instead."""
    try:
        return converter.structure(data, cls)
    except Exception:
        if not isinstance(data, dict):
            return cls(extra={"value": data})
    # Slow path, only for odd input: keep every field that fits, the rest verbatim in extra.
    good: dict[str, Any] = {}
    bad: dict[str, Any] = {}
    for key, value in data.items():
        try:
            converter.structure({key: value}, cls)
        except Exception:
            bad[key] = value
        else:
            good[key] = value
    result = converter.structure(good, cls)
    result.extra = {**result.extra, **bad}
    return result


def _thinking_texts(part: dict[str, Any]) -> list[str] | None:
    """The texts of a Mistral thinking part, or None when it has another shape (kept as is)."""
    thinking = part.get("thinking")
    pieces = thinking if thinking.__class__ is list else [thinking]
    texts = []
    for piece in pieces:
        if isinstance(piece, str):
            texts.append(piece)
        elif isinstance(piece, dict) and isinstance(piece.get("text"), str):
            texts.append(piece["text"])
        else:
            return None
    return texts


class _Call:
    """A tool call (or the legacy function call) being assembled."""

    __slots__ = (
        "done", "extra", "function_extra", "id", "index", "length", "name", "parts", "position",
        "type",
    )

    def __init__(self, index: int | None, position: int) -> None:
        self.index = index
        self.position = position
        self.id = ""
        self.type = ""
        self.name = ""
        self.parts: list[str] = []
        self.length = 0
        self.extra: dict[str, Any] = {}
        self.function_extra: dict[str, Any] = {}
        self.done = False

    def arguments(self) -> str:
        parts = self.parts
        if len(parts) > 1:
            self.parts = parts = ["".join(parts)]
        return parts[0] if parts else ""

    def add_arguments(self, text: str) -> bool:
        """Append ``text``; True when it replaced everything (a provider re-sent the whole)."""
        if self.length and len(text) >= self.length and text.startswith(self.arguments()):
            self.parts = [text]
            self.length = len(text)
            return True
        self.parts.append(text)
        self.length += len(text)
        return False

    def build_function(self) -> m.FunctionCall:
        return m.FunctionCall(
            name=self.name,
            arguments=self.arguments(),
            extra=materialize_fields(self.function_extra),
        )


class _Detail:
    """One ``reasoning_details`` item being assembled."""

    __slots__ = ("extra", "fields", "texts")

    def __init__(self, kind: Any, index: Any) -> None:
        self.fields: dict[str, Any] = {"type": kind, "index": index}
        self.texts: dict[str, list[str]] = {}
        self.extra: dict[str, Any] = {}

    def add(self, item: dict[str, Any], path: str) -> None:
        fields = self.fields
        for key, value in item.items():
            if value is None or key == "type" or key == "index":
                continue
            if key in _DETAIL_TEXT:
                text = _as_text(value, f"{path}.{key}")
                parts = self.texts.get(key)
                if parts is None:
                    self.texts[key] = [text]
                elif text:
                    parts.append(text)
            elif key == "signature":
                if value != "":
                    fields["signature"] = value
            elif key == "id" or key == "format":
                if fields.get(key) is None:
                    fields[key] = value
            else:
                merge_unknown(self.extra, key, value)

    def build(self) -> dict[str, Any]:
        out = {key: value for key, value in self.fields.items() if value is not None}
        for key, parts in self.texts.items():
            if len(parts) > 1:
                self.texts[key] = parts = ["".join(parts)]
            out[key] = parts[0]
        for key, value in self.extra.items():
            out.setdefault(key, materialize(value))
        return out


class _Choice:
    """Everything known so far about one choice."""

    __slots__ = (
        "annotation_keys",
        "annotations",
        "audio",
        "audio_texts",
        "calls",
        "calls_by_id",
        "calls_by_index",
        "content",
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
        "message_extra",
        "native_finish_reason",
        "reasoning",
        "refusal",
        "role",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.role = ""
        self.content: list[str] | None = None
        self.refusal: list[str] | None = None
        self.reasoning: list[str] | None = None
        self.details: list[_Detail] = []
        self.detail_keys: dict[tuple[Any, Any], int] = {}
        self.calls: list[_Call] = []
        self.calls_by_index: dict[int, int] = {}
        self.calls_by_id: dict[str, int] = {}
        self.function_call: _Call | None = None
        self.logprobs_content: list[Any] | None = None
        self.logprobs_refusal: list[Any] | None = None
        self.logprobs_extra: dict[str, Any] = {}
        self.annotations: list[Any] = []
        self.annotation_keys: set[bytes | str] = set()
        self.images: list[Any] = []
        self.image_keys: set[bytes | str] = set()
        self.audio: dict[str, Any] | None = None
        self.audio_texts: dict[str, list[str]] = {}
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        self.extra: dict[str, Any] = {}
        self.message_extra: dict[str, Any] = {}


def _joined(parts: list[str] | None) -> str | None:
    if parts is None:
        return None
    if len(parts) > 1:
        text = "".join(parts)
        parts[:] = [text]
        return text
    return parts[0] if parts else ""


class Accumulator:
    """Folds chunks one at a time; ``snapshot()`` at any point, ``result()`` at the end.

    >>> acc = Accumulator()
    >>> events = acc.feed({"choices": [{"index": 0, "delta": {"content": "Hi"}}]})
    >>> acc.result().choices[0].message.content
    'Hi'
    """

    def __init__(self, *, limits: Limits | None = None) -> None:
        self._choices: dict[int, _Choice] = {}
        self._top: dict[str, Any] = {}
        self._pending_top = list(_TOP_FIRST_WINS)
        self._extra: dict[str, Any] = {}
        self._usage: dict[str, Any] | None = None
        self._count = 0
        self._closed = False
        self._limits = limits or Limits()

    # --- public surface -----------------------------------------------------

    @property
    def chunks_folded(self) -> int:
        """How many chunks have been fed (also the position of the next one)."""
        return self._count

    def feed(self, chunk: Any) -> list[Event]:
        """Fold one chunk and return the events it caused.

        Raises :class:`StreamError` after folding a chunk that carries an
        ``error``, and :class:`ChunkDecodeError` for a chunk that cannot be
        read; both carry ``.partial``.
        """
        events: list[Event] = []
        self._feed(chunk, events)
        return events

    def feed_many(self, chunks: Iterable[Any]) -> None:
        """Fold many chunks without producing events (the fast path of ``assemble``)."""
        for chunk in chunks:
            self._feed(chunk, None)

    def close(self) -> list[Event]:
        """Mark the end of the stream and return the last events (tool calls done).

        Idempotent; ``result()`` calls it.
        """
        if self._closed:
            return []
        self._closed = True
        events: list[Event] = []
        for index in sorted(self._choices):
            self._finish_calls(self._choices[index], events)
        return events

    def snapshot(self) -> ChatCompletion:
        """The completion as folded so far: valid at any point, cheap to repeat."""
        choices = [self._build_choice(self._choices[i]) for i in sorted(self._choices)]
        top = self._top
        usage = None if self._usage is None else _lenient(m.Usage, self._usage)
        return m.ChatCompletion(
            id=top.get("id", ""),
            choices=choices,
            created=top.get("created", 0),
            model=top.get("model", ""),
            system_fingerprint=top.get("system_fingerprint"),
            service_tier=top.get("service_tier"),
            provider=top.get("provider"),
            usage=usage,
            extra=materialize_fields(self._extra),
        )

    def result(self, *, strict: bool = False) -> ChatCompletion:
        """The final completion; closes the stream.

        With ``strict=True`` a stream with no choice, or a choice without a
        finish_reason, raises :class:`IncompleteStreamError` (with ``.partial``).
        """
        self.close()
        completion = self.snapshot()
        if strict:
            unfinished = [c.index for c in completion.choices if c.finish_reason is None]
            if not completion.choices or unfinished:
                what = (
                    f"choices {unfinished} have no finish_reason"
                    if unfinished
                    else "no choice arrived"
                )
                raise IncompleteStreamError(
                    f"stream ended after {self._count} chunks but {what}", partial=completion
                )
        return completion

    def incomplete_choices(self) -> list[int]:
        """Indexes of the choices that have no finish_reason yet."""
        return [i for i in sorted(self._choices) if self._choices[i].finish_reason is None]

    # --- the fold ---------------------------------------------------------------

    def _feed(self, chunk: Any, events: list[Event] | None) -> None:
        position = self._count
        if chunk.__class__ is not dict:
            try:
                chunk = decode_chunk(chunk, position)
            except DeltafoldError as exc:
                self._count += 1
                if exc.partial is None and position:
                    exc.partial = self.snapshot()
                raise
        self._count += 1
        try:
            self._fold(chunk, events)
        except _FieldError as exc:
            raise ChunkDecodeError(
                f"event {position}: {exc}", raw=_raw(chunk), position=position, path=exc.path,
                partial=self.snapshot(),
            ) from None
        except DeltafoldError as exc:
            if exc.partial is None:
                exc.partial = self.snapshot()
            raise
        except (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError) as exc:
            raise ChunkDecodeError(
                f"event {position}: malformed chunk ({type(exc).__name__}: {exc})",
                raw=_raw(chunk), position=position, partial=self.snapshot(),
            ) from exc

    def _fold(self, chunk: dict[str, Any], events: list[Event] | None) -> None:
        choices = chunk.get("choices")
        if choices:
            if choices.__class__ is not list:
                choices = _as_list(choices, "choices")
            for n, choice in enumerate(choices):
                self._fold_choice(choice, n, events)
        pending = self._pending_top
        if pending:
            for name in pending:
                value = chunk.get(name)
                if value:
                    self._set_top(name, value)
        usage = chunk.get("usage")
        if usage is not None:
            self._fold_usage(usage, events)
        if not _TOP_KNOWN.issuperset(chunk):
            extra = self._extra
            for key, value in chunk.items():
                if key not in _TOP_KNOWN:
                    merge_unknown(extra, key, value)
        error = chunk.get("error")
        if error is not None:
            merge_unknown(self._extra, "error", error)
            raise _stream_error(error, self._count - 1)

    def _set_top(self, name: str, value: Any) -> None:
        if name == "created":
            if value.__class__ is not int:
                try:
                    value = int(float(value))
                except (TypeError, ValueError):
                    message = f"expected a timestamp, got {value!r:.40}"
                    raise _FieldError("created", message) from None
            if not value:
                return
        elif value.__class__ is not str and name in ("id", "model"):
            raise _FieldError(name, f"expected a string, got {_kind(value)} {value!r:.40}")
        self._top[name] = value
        self._pending_top = [n for n in self._pending_top if n != name]

    def _fold_usage(self, usage: Any, events: list[Event] | None) -> None:
        usage = _as_object(usage, "usage")
        if self._usage is None:
            self._usage = {}
        merge_latest(self._usage, usage)
        if events is not None:
            events.append(UsageUpdated(_lenient(m.Usage, self._usage)))

    def _fold_choice(self, choice: Any, n: int, events: list[Event] | None) -> None:
        if choice.__class__ is not dict:
            raise _FieldError(f"choices[{n}]", f"expected an object, got {_kind(choice)}")
        index = choice.get("index", 0)
        if index.__class__ is not int:
            index = 0 if index is None else _as_index(index, f"choices[{n}].index")
        state = self._choices.get(index)
        if state is None:
            limit = self._limits.max_choices
            if limit is not None and len(self._choices) >= limit:
                self._limits.exceeded("max_choices", len(self._choices) + 1)
            state = self._choices[index] = _Choice(index)
        delta = choice.get("delta")
        if delta:
            if delta.__class__ is not dict:
                raise _FieldError(f"choices[{n}].delta", f"expected an object, got {_kind(delta)}")
            self._fold_delta(state, delta, n, events)
        if not _CHOICE_KNOWN.issuperset(choice):
            for key, value in choice.items():
                if key not in _CHOICE_KNOWN:
                    merge_unknown(state.extra, key, value)
        logprobs = choice.get("logprobs")
        if logprobs:
            self._fold_logprobs(state, logprobs, n, events)
        native = choice.get("native_finish_reason")
        if native:
            state.native_finish_reason = native
        finish = choice.get("finish_reason")
        if finish:
            if finish.__class__ is not str:
                finish = _as_text(finish, f"choices[{n}].finish_reason")
            if finish != state.finish_reason:
                if events is not None:
                    if state.finish_reason is None:
                        self._finish_calls(state, events)
                    events.append(ChoiceFinished(index, finish))
                state.finish_reason = finish

    def _fold_delta(
        self, state: _Choice, delta: dict[str, Any], n: int, events: list[Event] | None
    ) -> None:
        for key, value in delta.items():
            if value is None:
                continue
            if key == "content":
                if value.__class__ is str:
                    parts = state.content
                    if parts is None:
                        state.content = [value]
                    elif value:
                        parts.append(value)
                    else:
                        continue
                    if events is not None and value:
                        events.append(ContentDelta(state.index, value))
                else:
                    self._fold_content_parts(state, value, n, events)
            elif key == "role":
                if value and not state.role:
                    state.role = _as_text(value, f"choices[{n}].delta.role")
            elif key == "reasoning":
                self._add_reasoning(state, _as_text(value, f"choices[{n}].delta.reasoning"), events)
            elif key == "reasoning_content":
                if delta.get("reasoning") != value:
                    text = _as_text(value, f"choices[{n}].delta.reasoning_content")
                    self._add_reasoning(state, text, events)
            elif key == "tool_calls":
                self._fold_tool_calls(state, value, n, events)
            elif key == "refusal":
                text = _as_text(value, f"choices[{n}].delta.refusal")
                if state.refusal is None:
                    state.refusal = [text]
                elif text:
                    state.refusal.append(text)
                if events is not None and text:
                    events.append(RefusalDelta(state.index, text))
            elif key == "reasoning_details":
                self._fold_details(state, value, n, events)
            elif key == "function_call":
                self._fold_function_call(state, value, n, events)
            elif key == "annotations":
                for item in _as_list(value, f"choices[{n}].delta.annotations"):
                    added = self._add_unique(state.annotations, state.annotation_keys, item)
                    if added and events is not None:
                        events.append(AnnotationAdded(state.index, item))
            elif key == "images":
                for item in _as_list(value, f"choices[{n}].delta.images"):
                    added = self._add_unique(state.images, state.image_keys, item)
                    if added and events is not None:
                        events.append(ImageAdded(state.index, item))
            elif key == "audio":
                self._fold_audio(state, _as_object(value, f"choices[{n}].delta.audio"), n)
            else:
                merge_unknown(state.message_extra, key, value)

    def _add_reasoning(self, state: _Choice, text: str, events: list[Event] | None) -> None:
        if state.reasoning is None:
            state.reasoning = [text]
        elif text:
            state.reasoning.append(text)
        if events is not None and text:
            events.append(ReasoningDelta(state.index, text))

    def _fold_content_parts(
        self, state: _Choice, value: Any, n: int, events: list[Event] | None
    ) -> None:
        """Mistral's content as a list of typed parts: text to content, thinking to reasoning."""
        path = f"choices[{n}].delta.content"
        if value.__class__ is not list:
            raise _FieldError(path, f"expected a string or a list of parts, got {_kind(value)}")
        for part in value:
            if part.__class__ is str:
                part = {"type": "text", "text": part}
            kind = part.get("type") if part.__class__ is dict else None
            thoughts = _thinking_texts(part) if kind == "thinking" else None
            if kind == "text" and isinstance(part.get("text"), str):
                text = part["text"]
                if state.content is None:
                    state.content = [text]
                elif text:
                    state.content.append(text)
                if events is not None and text:
                    events.append(ContentDelta(state.index, text))
            elif thoughts is not None:
                for text in thoughts:
                    self._add_reasoning(state, text, events)
            else:
                merge_unknown(state.message_extra, "content_parts", [part])

    def _fold_tool_calls(
        self, state: _Choice, value: Any, n: int, events: list[Event] | None
    ) -> None:
        path = f"choices[{n}].delta.tool_calls"
        for i, item in enumerate(_as_list(value, path)):
            if item.__class__ is not dict:
                raise _FieldError(f"{path}[{i}]", f"expected an object, got {_kind(item)}")
            raw_index = item.get("index")
            index = None if raw_index is None else _as_index(raw_index, f"{path}[{i}].index")
            call_id = item.get("id")
            if call_id is not None and call_id.__class__ is not str:
                call_id = _as_text(call_id, f"{path}[{i}].id")
            call = self._find_call(state, index, call_id)
            if call is None:
                call = self._start_call(state, index, call_id or "", f"{path}[{i}]")
                started = True
            else:
                started = False
                if call_id and not call.id:
                    call.id = call_id
                    state.calls_by_id.setdefault(call_id, call.position)
            added = self._fold_call(call, item, f"{path}[{i}]", _TOOL_KNOWN)
            if events is not None:
                position = call.position
                if started:
                    events.append(ToolCallStarted(state.index, position, call.id, call.name))
                if added is not None:
                    events.append(ToolCallArgumentsDelta(state.index, position, *added))

    def _find_call(self, state: _Choice, index: int | None, call_id: str | None) -> _Call | None:
        calls = state.calls
        if index is not None:
            position = state.calls_by_index.get(index)
            if position is not None:
                call = calls[position]
                if not call_id or not call.id or call_id == call.id:
                    return call
            # Ollama sends every call at index 0: a new id at a known index is a new call,
            # while an id seen before (at any index, or none) still means its own call.
            if call_id:
                position = state.calls_by_id.get(call_id)
                if position is not None:
                    call = calls[position]
                    state.calls_by_index.setdefault(index, position)
                    return call
            return None
        if call_id:
            position = state.calls_by_id.get(call_id)
            if position is not None:
                return calls[position]
            if calls and not calls[-1].id:
                return calls[-1]
            return None
        return calls[-1] if calls else None

    def _start_call(self, state: _Choice, index: int | None, call_id: str, path: str) -> _Call:
        limit = self._limits.max_tool_calls
        if limit is not None and len(state.calls) >= limit:
            self._limits.exceeded("max_tool_calls", len(state.calls) + 1)
        position = len(state.calls)
        call = _Call(index, position)
        call.id = call_id
        state.calls.append(call)
        if index is not None:
            state.calls_by_index[index] = position
        if call_id:
            state.calls_by_id.setdefault(call_id, position)
        return call

    def _fold_call(
        self, call: _Call, item: dict[str, Any], path: str, known: frozenset[str]
    ) -> tuple[str, bool] | None:
        """Fold one tool-call (or function-call) delta; the new argument text and if it replaced."""
        added: tuple[str, bool] | None = None
        kind = item.get("type")
        if kind and not call.type:
            call.type = _as_text(kind, f"{path}.type")
        function = item.get("function") if known is _TOOL_KNOWN else item
        if function:
            function = _as_object(function, f"{path}.function")
            name = function.get("name")
            if name and not call.name:
                call.name = _as_text(name, f"{path}.function.name")
            arguments = function.get("arguments")
            if arguments:
                if arguments.__class__ is not str:
                    # Some providers send the arguments as an object; the wire form is JSON text.
                    if arguments.__class__ is dict or arguments.__class__ is list:
                        arguments = orjson.dumps(arguments).decode()
                    else:
                        arguments = _as_text(arguments, f"{path}.function.arguments")
                self._check_length(call.length + len(arguments), f"{path}.function.arguments")
                added = (arguments, call.add_arguments(arguments))
            if not _FUNCTION_KNOWN.issuperset(function):
                for key, value in function.items():
                    if key not in _FUNCTION_KNOWN:
                        merge_unknown(call.function_extra, key, value)
        if known is _TOOL_KNOWN and not known.issuperset(item):
            for key, value in item.items():
                if key not in known:
                    merge_unknown(call.extra, key, value)
        return added

    def _fold_function_call(
        self, state: _Choice, value: Any, n: int, events: list[Event] | None
    ) -> None:
        path = f"choices[{n}].delta.function_call"
        item = _as_object(value, path)
        call = state.function_call
        started = call is None
        if call is None:
            call = state.function_call = _Call(None, -1)
        added = self._fold_call(call, item, path, _FUNCTION_KNOWN)
        if events is not None:
            if started:
                events.append(ToolCallStarted(state.index, -1, call.id, call.name))
            if added is not None:
                events.append(ToolCallArgumentsDelta(state.index, -1, *added))

    def _fold_details(self, state: _Choice, value: Any, n: int, events: list[Event] | None) -> None:
        path = f"choices[{n}].delta.reasoning_details"
        for i, item in enumerate(_as_list(value, path)):
            item = _as_object(item, f"{path}[{i}]")
            kind = item.get("type")
            index = item.get("index")
            position = None
            if index is not None:
                position = state.detail_keys.get((kind, index))
            if position is None:
                position = len(state.details)
                state.details.append(_Detail(kind, index))
                if index is not None:
                    state.detail_keys[(kind, index)] = position
            state.details[position].add(item, f"{path}[{i}]")
            if events is not None:
                events.append(ReasoningDetailDelta(state.index, position, item))

    def _fold_logprobs(
        self, state: _Choice, value: Any, n: int, events: list[Event] | None
    ) -> None:
        path = f"choices[{n}].logprobs"
        logprobs = _as_object(value, path)
        content = logprobs.get("content")
        refusal = logprobs.get("refusal")
        if content is not None:
            content = _as_list(content, f"{path}.content")
            if state.logprobs_content is None:
                state.logprobs_content = list(content)
            else:
                state.logprobs_content.extend(content)
        if refusal is not None:
            refusal = _as_list(refusal, f"{path}.refusal")
            if state.logprobs_refusal is None:
                state.logprobs_refusal = list(refusal)
            else:
                state.logprobs_refusal.extend(refusal)
        if not _LOGPROBS_KNOWN.issuperset(logprobs):
            for key, item in logprobs.items():
                if key not in _LOGPROBS_KNOWN:
                    merge_unknown(state.logprobs_extra, key, item)
        if events is not None and (content or refusal):
            events.append(LogprobsDelta(state.index, content, refusal))

    def _fold_audio(self, state: _Choice, audio: dict[str, Any], n: int) -> None:
        if state.audio is None:
            state.audio = {}
        fields = state.audio
        for key, value in audio.items():
            if value is None:
                continue
            if key == "data" or key == "transcript":
                text = _as_text(value, f"choices[{n}].delta.audio.{key}")
                state.audio_texts.setdefault(key, []).append(text)
            elif key == "id":
                if value and not fields.get("id"):
                    fields["id"] = value
            elif key == "expires_at":
                fields["expires_at"] = value
            else:
                merge_unknown(fields, key, value)

    @staticmethod
    def _add_unique(items: list[Any], seen: set[bytes | str], item: Any) -> bool:
        key = _dedup_key(item)
        if key in seen:
            return False
        seen.add(key)
        items.append(item)
        return True

    def _check_length(self, length: int, path: str) -> None:
        limit = self._limits.max_field_chars
        if limit is not None and length > limit:
            self._limits.exceeded("max_field_chars", length, path)

    def _finish_calls(self, state: _Choice, events: list[Event]) -> None:
        for position, call in enumerate(state.calls):
            if not call.done:
                call.done = True
                events.append(
                    ToolCallDone(state.index, position, call.id, call.name, call.arguments())
                )
        legacy = state.function_call
        if legacy is not None and not legacy.done:
            legacy.done = True
            events.append(
                ToolCallDone(state.index, -1, legacy.id, legacy.name, legacy.arguments())
            )

    # --- building the typed result --------------------------------------------------

    def _build_choice(self, state: _Choice) -> m.Choice:
        message = m.Message(
            role=state.role or "assistant",
            content=_joined(state.content),
            refusal=_joined(state.refusal),
            reasoning=_joined(state.reasoning),
            reasoning_details=[_lenient(m.ReasoningDetail, d.build()) for d in state.details],
            tool_calls=[
                m.ToolCall(
                    id=call.id,
                    type=call.type or "function",
                    function=call.build_function(),
                    extra=materialize_fields(call.extra),
                )
                for call in state.calls
            ],
            function_call=(
                None if state.function_call is None else state.function_call.build_function()
            ),
            annotations=[_lenient(m.Annotation, a) for a in state.annotations],
            images=[_lenient(m.Image, i) for i in state.images],
            audio=self._build_audio(state),
            extra=materialize_fields(state.message_extra),
        )
        logprobs = None
        if state.logprobs_content is not None or state.logprobs_refusal is not None:
            logprobs = _lenient(
                m.Logprobs,
                {
                    **materialize_fields(state.logprobs_extra),
                    "content": state.logprobs_content,
                    "refusal": state.logprobs_refusal,
                },
            )
        elif state.logprobs_extra:
            logprobs = _lenient(m.Logprobs, materialize_fields(state.logprobs_extra))
        return m.Choice(
            index=state.index,
            message=message,
            finish_reason=state.finish_reason,
            native_finish_reason=state.native_finish_reason,
            logprobs=logprobs,
            extra=materialize_fields(state.extra),
        )

    @staticmethod
    def _build_audio(state: _Choice) -> m.Audio | None:
        if state.audio is None:
            return None
        fields = materialize_fields(state.audio)
        for key, parts in state.audio_texts.items():
            if len(parts) > 1:
                state.audio_texts[key] = parts = ["".join(parts)]
            fields[key] = parts[0]
        result: m.Audio = _lenient(m.Audio, fields)
        return result


def _stream_error(error: Any, position: int) -> StreamError:
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        metadata = error.get("metadata")
    else:
        code, message, metadata = None, error, None
    if not isinstance(code, (int, str)) or isinstance(code, bool):
        code = None
    text = message if isinstance(message, str) and message else repr(error)[:500]
    label = f" ({code})" if code is not None else ""
    return StreamError(
        f"the stream reported an error at event {position}{label}: {text}",
        code=code,
        metadata=metadata,
        error=error,
        position=position,
    )


def _raw(chunk: Any) -> bytes | str:
    try:
        return orjson.dumps(chunk)
    except (TypeError, orjson.JSONEncodeError):
        return repr(chunk)[:10_000]


ChatCompletion = m.ChatCompletion
