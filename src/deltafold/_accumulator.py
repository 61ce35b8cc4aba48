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

import sys
from collections.abc import Iterable
from typing import Any

import orjson

from . import _models as m
from ._convert import converter
from ._decode import InputSeen, decode_chunk, no_chunk_error
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
from ._jsonvalue import INT_END, INT_MIN, bounded, kind_of
from ._limits import Limits, limit_error
from ._merge import (
    Rope,
    materialize,
    materialize_fields,
    merge_latest,
    merge_unknown,
)

__all__ = ["Accumulator"]

_TOP_FIRST_WINS = ("id", "model", "created", "system_fingerprint", "service_tier", "provider")
_CAUGHT = (
    TypeError, AttributeError, KeyError, IndexError, ValueError, ArithmeticError, RecursionError
)
"""Python errors a malformed chunk may still cause; each becomes a ChunkDecodeError."""
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
_DELTA_KNOWN = frozenset(
    {
        "content",
        "role",
        "reasoning",
        "reasoning_content",
        "tool_calls",
        "refusal",
        "reasoning_details",
        "function_call",
        "annotations",
        "images",
        "audio",
    }
)
_CHOICE_KNOWN = frozenset({"index", "delta", "finish_reason", "native_finish_reason", "logprobs"})
PADDING_FIELDS = frozenset({"obfuscation", "p"})
"""Per-chunk padding against length side channels (OpenAI/Azure ``obfuscation``, Mistral's
``p``): random text, meaningless once joined, absent from a non-streaming response. Left out
of the completion wherever a chunk carries it (top level, choice, delta); the chunks and
events still have it."""
_USAGE_CARRIERS = ("x_groq",)
"""Top-level objects whose ``usage`` stands in for a missing top-level one (Groq's older
streams); lifted when the completion is built, the original stays in ``extra``."""
_TOOL_KNOWN = frozenset({"index", "id", "type", "function"})
_FUNCTION_KNOWN = frozenset({"name", "arguments"})
_DETAIL_TEXT = ("text", "summary", "data")
_LOGPROBS_KNOWN = frozenset({"content", "refusal"})


class _FieldError(Exception):
    """A field of the wrong type; becomes a ChunkDecodeError with position and partial."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _as_index(value: Any, path: str) -> int:
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
    raise _FieldError(path, f"expected an integer index, got {kind_of(value)} {_short(value)}")


def _check_range(index: int, path: str) -> None:
    """Once per new choice, call or detail: an index JSON can hold (a dict may carry any int)."""
    if not INT_MIN <= index < INT_END:
        raise _FieldError(path, f"index out of range: {_short(index)}")


def _short(value: Any) -> str:
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


def _as_text(value: Any, path: str) -> str:
    if value.__class__ is str:
        return value
    raise _FieldError(path, f"expected a string, got {kind_of(value)} {_short(value)}")


def _as_list(value: Any, path: str) -> list[Any]:
    """A list; a lone object where a list belongs is taken as a list of one."""
    if value.__class__ is list:
        return value
    if value.__class__ is dict:
        return [value] if value else []
    raise _FieldError(path, f"expected a list, got {kind_of(value)} {_short(value)}")


def _as_object(value: Any, path: str) -> dict[str, Any]:
    if value.__class__ is dict:
        return value
    raise _FieldError(path, f"expected an object, got {kind_of(value)} {_short(value)}")


def _call_path(n: int, i: int) -> str:
    """The path of tool call delta ``i`` of choice ``n`` (``i`` = -1: the legacy function call).

    Built only when an error names it, never on the hot path.
    """
    if i < 0:
        return f"choices[{n}].delta.function_call"
    return f"choices[{n}].delta.tool_calls[{i}]"


def _detail_path(n: int, i: int) -> str:
    return f"choices[{n}].delta.reasoning_details[{i}]"


def _dedup_key(value: Any) -> bytes | str:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        # Not writable as JSON (too deep, huge int): never equal to another item.
        return f"<{id(value)}>"


def _lenient(cls: type[Any], data: Any) -> Any:
    """Structure ``data`` as ``cls`` (one of ``_convert.LENIENT``: a field of the wrong type
    is kept in ``extra``); anything but an object is kept whole as ``extra["value"]``."""
    if data.__class__ is not dict:
        return cls(extra={"value": bounded(data)})
    return converter.structure(data, cls)


class _Call:
    """A tool call (or the legacy function call) being assembled."""

    __slots__ = (
        "args", "done", "extra", "function_extra", "id", "index", "name", "position", "type",
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
                    value = _as_text(value, f"{_detail_path(n, i)}.{key}")
                rope = self.texts.get(key)
                if rope is None:
                    self.texts[key] = Rope(value, f"{_detail_path(n, i)}.{key}", max_field)
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
        # None until a string arrives: content stays null if none ever does.
        self.content: Rope | None = None
        self.refusal: Rope | None = None
        self.reasoning: Rope | None = None
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
        self.audio_texts: dict[str, Rope] = {}
        self.finish_reason: str | None = None
        self.native_finish_reason: str | None = None
        self.extra: dict[str, Any] = {}
        self.message_extra: dict[str, Any] = {}


def _text(rope: Rope | None) -> str | None:
    return None if rope is None else rope.value()


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
        self._input: InputSeen | None = None
        """What the entry point saw of its input, for the error when no chunk came."""
        self._known = False
        """A chunk without choices carried a known top-level field."""
        self._whole = False  # folding a complete message (see _fold_message)
        self._limits = limits = limits or Limits()
        self._max_field = (
            sys.maxsize if limits.max_field_chars is None else limits.max_field_chars
        )

    # --- public surface -----------------------------------------------------

    @property
    def limits(self) -> Limits:
        """The limits this accumulator enforces."""
        return self._limits

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
        self.add(chunk, events)
        return events

    def feed_many(self, chunks: Iterable[Any]) -> None:
        """Fold many chunks without producing events (the fast path of ``assemble``)."""
        for chunk in chunks:
            self.add(chunk)

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

    def snapshot(self) -> m.ChatCompletion:
        """The completion as folded so far: valid at any point, cheap to repeat."""
        choices = [self._build_choice(self._choices[i]) for i in sorted(self._choices)]
        top = self._top
        fields = self._usage if self._usage is not None else self._carried_usage()
        usage = None if fields is None else _lenient(m.Usage, fields)
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

    def result(self, *, strict: bool = False) -> m.ChatCompletion:
        """The final completion; closes the stream.

        Input without a chat-completion chunk (no item at all, or none carrying a
        known top-level field: ``id``, ``object``, ``choices``, ``usage``, ``model``,
        ``created``, ``error``...) raises :class:`EmptyStreamError` rather than
        return an empty completion. With
        ``strict=True`` a stream with no choice, or a choice without a
        finish_reason, raises :class:`IncompleteStreamError` (with ``.partial``).
        """
        self.close()
        completion = self.snapshot()
        if not (self._choices or self._known):
            raise no_chunk_error(
                self._input, self._count, list(self._extra), completion if self._count else None
            )
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

    def _carried_usage(self) -> dict[str, Any] | None:
        """The ``usage`` inside a carrier of :data:`_USAGE_CARRIERS`, when no top-level one came."""
        for name in _USAGE_CARRIERS:
            carrier = materialize(self._extra.get(name))
            usage = carrier.get("usage") if carrier.__class__ is dict else None
            if usage.__class__ is dict:
                result: dict[str, Any] = usage
                return result
        return None

    def incomplete_choices(self) -> list[int]:
        """Indexes of the choices that have no finish_reason yet."""
        return [i for i in sorted(self._choices) if self._choices[i].finish_reason is None]

    # --- the fold ---------------------------------------------------------------

    def add(self, chunk: Any, events: list[Event] | None = None) -> None:
        """Fold one chunk; the events it caused are appended to ``events`` when given.

        The verb under :meth:`feed`, for callers that want no events (``assemble``)
        or keep their own list; raises as :meth:`feed` does.
        """
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
            # The fold of one chunk, inline (this runs once per chunk).
            choices = chunk.get("choices")
            if choices:
                if choices.__class__ is not list:
                    choices = _as_list(choices, "choices")
                if len(choices) == 1:
                    self._fold_choice(choices[0], 0, events)
                else:
                    for n, choice in enumerate(choices):
                        self._fold_choice(choice, n, events)
            elif not self._known and not _TOP_KNOWN.isdisjoint(chunk):
                # A chunk without choices is still a chat-completion chunk if it carries
                # a known field (looked at on this rare branch only, for result()).
                self._known = True
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
                    if key not in _TOP_KNOWN and key not in PADDING_FIELDS:
                        merge_unknown(extra, key, value, self._max_field)
            error = chunk.get("error")
            if error is not None:
                merge_unknown(self._extra, "error", error, self._max_field)
                raise _stream_error(error, position)
        except _FieldError as exc:
            raise ChunkDecodeError(
                f"event {position}: {exc}", raw=_raw(chunk), position=position, path=exc.path,
                partial=self.snapshot(),
            ) from None
        except DeltafoldError as exc:
            if exc.partial is None:
                exc.partial = self.snapshot()
            raise
        except _CAUGHT as exc:
            raise ChunkDecodeError(
                f"event {position}: malformed chunk ({type(exc).__name__}: {exc})",
                raw=_raw(chunk), position=position, partial=self.snapshot(),
            ) from exc

    def _set_top(self, name: str, value: Any) -> None:
        if name == "created":
            if value.__class__ is int:
                if not INT_MIN <= value < INT_END:
                    raise _FieldError("created", f"timestamp out of range: {_short(value)}")
            else:
                # "123" and 123.0 mean 123; anything else has no clear meaning.
                try:
                    if isinstance(value, bool) or not isinstance(value, (str, float)):
                        raise TypeError
                    value = int(float(value))
                except (TypeError, ValueError, OverflowError):
                    message = f"expected a timestamp, got {kind_of(value)} {_short(value)}"
                    raise _FieldError("created", message) from None
                if not INT_MIN <= value < INT_END:
                    raise _FieldError("created", f"timestamp out of range: {_short(value)}")
            if not value:
                return
        elif value.__class__ is not str:
            # id, model, system_fingerprint, service_tier and provider are strings.
            raise _FieldError(name, f"expected a string, got {kind_of(value)} {_short(value)}")
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
            raise _FieldError(f"choices[{n}]", f"expected an object, got {kind_of(choice)}")
        index = choice.get("index", 0)
        if index.__class__ is not int:
            index = 0 if index is None else _as_index(index, f"choices[{n}].index")
        state = self._choices.get(index)
        if state is None:
            limit = self._limits.max_choices
            if limit is not None and len(self._choices) >= limit:
                raise limit_error("max_choices", len(self._choices) + 1, limit)
            _check_range(index, f"choices[{n}].index")
            state = self._choices[index] = _Choice(index)
        delta = choice.get("delta")
        if delta:
            if delta.__class__ is not dict:
                message = f"expected an object, got {kind_of(delta)}"
                raise _FieldError(f"choices[{n}].delta", message)
            self._fold_delta(state, delta, n, events)
        elif delta is None:
            # No delta: a non-streaming choice, whose message is one complete delta.
            delta = choice.get("message")
            if delta is not None:
                self._fold_message(state, delta, n, events)
        if not _CHOICE_KNOWN.issuperset(choice):
            self._fold_choice_extra(state, choice, delta)
        logprobs = choice.get("logprobs")
        if logprobs:
            self._fold_logprobs(state, logprobs, n, events)
        native = choice.get("native_finish_reason")
        if native:
            if native.__class__ is not str:
                native = _as_text(native, f"choices[{n}].native_finish_reason")
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

    def _fold_message(
        self, state: _Choice, message: Any, n: int, events: list[Event] | None
    ) -> None:
        """Fold a non-streaming choice's ``message`` as one delta, under the same rules.

        Its tool calls are complete: each one is a call of its own, in order, whatever its
        ``index`` or ``id`` (none, or repeated); so they are folded without ``index`` (the
        fragment matching by index is for streams) and with ``_whole`` set (no match by id).
        """
        if message.__class__ is not dict:
            problem = f"expected an object, got {kind_of(message)}"
            raise _FieldError(f"choices[{n}].message", problem)
        calls = message.get("tool_calls")
        if calls.__class__ is list and any(
            item.__class__ is dict and "index" in item for item in calls
        ):
            calls = [
                {k: v for k, v in item.items() if k != "index"} if item.__class__ is dict else item
                for item in calls
            ]
            message = {**message, "tool_calls": calls}
        self._whole = True
        try:
            self._fold_delta(state, message, n, events)
        except _FieldError as exc:
            # The rules name the delta; here the field sits in the message.
            prefix = f"choices[{n}].delta"
            if not exc.path.startswith(prefix):
                raise
            path = f"choices[{n}].message{exc.path[len(prefix):]}"
            raise _FieldError(path, str(exc)[len(exc.path) + 2 :]) from None
        finally:
            self._whole = False

    def _fold_choice_extra(self, state: _Choice, choice: dict[str, Any], delta: Any) -> None:
        """The choice's unknown fields (``delta`` is what was folded: the delta or the message).

        Three are not merged: padding is left out; a ``message`` that was not folded (a
        copy beside a delta, as Writer sends) is kept as the last one seen in
        ``extra["message"]``; a ``text`` equal to the content folded from this chunk
        (Hugging Face router -> Together) is a copy and left out.
        """
        extra = state.extra
        for key, value in choice.items():
            if key in _CHOICE_KNOWN or key in PADDING_FIELDS:
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
            merge_unknown(extra, key, value, self._max_field)

    def _fold_delta(
        self, state: _Choice, delta: dict[str, Any], n: int, events: list[Event] | None
    ) -> None:
        for key, value in delta.items():
            if value is None:
                # A null unknown field is still a field the provider sent: keep it.
                if (
                    key not in _DELTA_KNOWN
                    and key not in state.message_extra
                    and key not in PADDING_FIELDS
                ):
                    state.message_extra[key] = None
                continue
            if key == "content":
                if value.__class__ is str:
                    rope = state.content
                    if rope is None:
                        state.content = self._rope(state, "content", value)
                    elif value:
                        # Rope.add's common case, inline: this runs once per content chunk.
                        length = rope.length + len(value)
                        if length < rope.mark:
                            rope.parts.append(value)
                            rope.length = length
                        else:
                            rope.add(value)
                    if events is not None and value:
                        events.append(ContentDelta(state.index, value))
                else:
                    self._fold_content_parts(state, value, n, events)
            elif key == "role":
                if value and not state.role:
                    state.role = _as_text(value, f"choices[{n}].delta.role")
            elif key == "reasoning":
                if value.__class__ is not str:
                    value = _as_text(value, f"choices[{n}].delta.reasoning")
                self._add_reasoning(state, value, events)
            elif key == "reasoning_content":
                if delta.get("reasoning") != value:
                    text = _as_text(value, f"choices[{n}].delta.reasoning_content")
                    self._add_reasoning(state, text, events)
            elif key == "tool_calls":
                self._fold_tool_calls(state, value, n, events)
            elif key == "refusal":
                text = _as_text(value, f"choices[{n}].delta.refusal")
                if state.refusal is None:
                    state.refusal = self._rope(state, "refusal", text)
                elif text:
                    state.refusal.add(text)
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
            elif key not in PADDING_FIELDS:
                merge_unknown(state.message_extra, key, value, self._max_field)

    def _rope(self, state: _Choice, name: str, first: str) -> Rope:
        """A new text field of ``state``'s message, bounded by max_field_chars."""
        return Rope(first, f"choices[{state.index}].message.{name}", self._max_field)

    def _add_reasoning(self, state: _Choice, text: str, events: list[Event] | None) -> None:
        if state.reasoning is None:
            state.reasoning = self._rope(state, "reasoning", text)
        elif text:
            state.reasoning.add(text)
        if events is not None and text:
            events.append(ReasoningDelta(state.index, text))

    def _fold_content_parts(
        self, state: _Choice, value: Any, n: int, events: list[Event] | None
    ) -> None:
        """Mistral's content as a list of typed parts: text to content, thinking to reasoning."""
        parts = m.content_parts(value)
        if parts is None:
            path = f"choices[{n}].delta.content"
            raise _FieldError(path, f"expected a string or a list of parts, got {kind_of(value)}")
        for part in parts:
            text = m.part_text(part)
            if text is not None:
                if state.content is None:
                    state.content = self._rope(state, "content", text)
                elif text:
                    state.content.add(text)
                if events is not None and text:
                    events.append(ContentDelta(state.index, text))
                continue
            thoughts = m.thinking_texts(part)
            if thoughts is not None:
                for text in thoughts:
                    self._add_reasoning(state, text, events)
            else:
                merge_unknown(state.message_extra, "content_parts", [part], self._max_field)

    def _fold_tool_calls(
        self, state: _Choice, value: Any, n: int, events: list[Event] | None
    ) -> None:
        if value.__class__ is not list:
            value = _as_list(value, f"choices[{n}].delta.tool_calls")
        i = -1
        for item in value:
            i += 1
            if item.__class__ is not dict:
                raise _FieldError(_call_path(n, i), f"expected an object, got {kind_of(item)}")
            index = item.get("index")
            if index is not None and index.__class__ is not int:
                index = _as_index(index, f"{_call_path(n, i)}.index")
            call_id = item.get("id")
            if call_id is not None and call_id.__class__ is not str:
                call_id = _as_text(call_id, f"{_call_path(n, i)}.id")
            if not call_id and index is not None and index in state.calls_by_index:
                # A fragment of a call already started (the common case): no lookup by id.
                call = state.calls[state.calls_by_index[index]]
                started = False
                function = item.get("function")
                if len(item) == 2 and function.__class__ is dict and len(function) == 1:
                    # Only ``{"index": i, "function": {"arguments": text}}``: what _fold_call
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
                                        state.index, call.position, arguments, False
                                    )
                                )
                            continue
            else:
                found = self._find_call(state, index, call_id)
                if found is None:
                    call = self._start_call(state, index, call_id or "", _call_path(n, i))
                    started = True
                else:
                    call = found
                    started = False
                    if call_id and not call.id:
                        call.id = call_id
                        state.calls_by_id.setdefault(call_id, call.position)
            added = self._fold_call(call, item, n, i, _TOOL_KNOWN, events)
            if events is not None:
                position = call.position
                if started:
                    events.append(ToolCallStarted(state.index, position, call.id, call.name))
                if added is not None:
                    events.append(ToolCallArgumentsDelta(state.index, position, *added))

    def _find_call(self, state: _Choice, index: int | None, call_id: str | None) -> _Call | None:
        if self._whole:
            return None  # a complete message: every tool call is a new one
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
            raise limit_error("max_tool_calls", len(state.calls) + 1, limit)
        if index is not None:
            _check_range(index, f"{path}.index")
        position = len(state.calls)
        where = f"choices[{state.index}].message.tool_calls[{position}].function.arguments"
        call = _Call(index, position, Rope("", where, self._max_field))
        call.id = call_id
        state.calls.append(call)
        if index is not None:
            state.calls_by_index[index] = position
        if call_id:
            state.calls_by_id.setdefault(call_id, position)
        return call

    def _fold_call(
        self,
        call: _Call,
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
            call.type = _as_text(kind, f"{_call_path(n, i)}.type")
        function = item.get("function") if known is _TOOL_KNOWN else item
        if function:
            if function.__class__ is not dict:
                function = _as_object(function, f"{_call_path(n, i)}.function")
            name = function.get("name")
            if name and not call.name:
                call.name = _as_text(name, f"{_call_path(n, i)}.function.name")
            arguments = function.get("arguments")
            if arguments:
                if arguments.__class__ is not str:
                    # Some providers send the arguments as an object; the wire form is JSON text.
                    if arguments.__class__ is dict or arguments.__class__ is list:
                        arguments = orjson.dumps(arguments).decode()
                    else:
                        arguments = _as_text(arguments, f"{_call_path(n, i)}.function.arguments")
                replaced = call.add_arguments(arguments)
                if events is not None:
                    added = (arguments, replaced)
            if not _FUNCTION_KNOWN.issuperset(function):
                for key, value in function.items():
                    if key not in _FUNCTION_KNOWN:
                        merge_unknown(call.function_extra, key, value, self._max_field)
        if known is _TOOL_KNOWN and not known.issuperset(item):
            for key, value in item.items():
                if key not in known:
                    merge_unknown(call.extra, key, value, self._max_field)
        return added

    def _fold_function_call(
        self, state: _Choice, value: Any, n: int, events: list[Event] | None
    ) -> None:
        item = _as_object(value, f"choices[{n}].delta.function_call")
        call = state.function_call
        started = call is None
        if call is None:
            where = f"choices[{state.index}].message.function_call.arguments"
            call = _Call(None, -1, Rope("", where, self._max_field))
            state.function_call = call
        added = self._fold_call(call, item, n, -1, _FUNCTION_KNOWN, events)
        if events is not None:
            if started:
                events.append(ToolCallStarted(state.index, -1, call.id, call.name))
            if added is not None:
                events.append(ToolCallArgumentsDelta(state.index, -1, *added))

    def _fold_details(self, state: _Choice, value: Any, n: int, events: list[Event] | None) -> None:
        if value.__class__ is not list:
            value = _as_list(value, f"choices[{n}].delta.reasoning_details")
        i = -1
        for item in value:
            i += 1
            if item.__class__ is not dict:
                item = _as_object(item, _detail_path(n, i))
            kind = item.get("type")
            if kind is not None and kind.__class__ is not str:
                kind = _as_text(kind, f"{_detail_path(n, i)}.type")
            index = item.get("index")
            position = None
            if index is not None:
                if index.__class__ is not int:
                    index = _as_index(index, f"{_detail_path(n, i)}.index")
                position = state.detail_keys.get((kind, index))
            if position is None:
                if index is not None:
                    _check_range(index, f"{_detail_path(n, i)}.index")
                position = len(state.details)
                state.details.append(_Detail(kind, index))
                if index is not None:
                    state.detail_keys[(kind, index)] = position
            state.details[position].add(item, n, i, self._max_field)
            if events is not None:
                events.append(ReasoningDetailDelta(state.index, position, item))

    def _fold_logprobs(
        self, state: _Choice, value: Any, n: int, events: list[Event] | None
    ) -> None:
        logprobs = value if value.__class__ is dict else _as_object(value, f"choices[{n}].logprobs")
        content = logprobs.get("content")
        refusal = logprobs.get("refusal")
        if content is not None:
            if content.__class__ is not list:
                content = _as_list(content, f"choices[{n}].logprobs.content")
            if state.logprobs_content is None:
                state.logprobs_content = list(content)
            else:
                state.logprobs_content.extend(content)
        if refusal is not None:
            if refusal.__class__ is not list:
                refusal = _as_list(refusal, f"choices[{n}].logprobs.refusal")
            if state.logprobs_refusal is None:
                state.logprobs_refusal = list(refusal)
            else:
                state.logprobs_refusal.extend(refusal)
        if not _LOGPROBS_KNOWN.issuperset(logprobs):
            for key, item in logprobs.items():
                if key not in _LOGPROBS_KNOWN:
                    merge_unknown(state.logprobs_extra, key, item, self._max_field)
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
                rope = state.audio_texts.get(key)
                if rope is None:
                    where = f"choices[{state.index}].message.audio.{key}"
                    state.audio_texts[key] = Rope(text, where, self._max_field)
                else:
                    rope.add(text)
            elif key == "id":
                if value and not fields.get("id"):
                    fields["id"] = value
            elif key == "expires_at":
                fields["expires_at"] = value
            else:
                merge_unknown(fields, key, value, self._max_field)

    @staticmethod
    def _add_unique(items: list[Any], seen: set[bytes | str], item: Any) -> bool:
        key = _dedup_key(item)
        if key in seen:
            return False
        seen.add(key)
        items.append(item)
        return True

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
            content=_text(state.content),
            refusal=_text(state.refusal),
            reasoning=_text(state.reasoning),
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
            if not state.logprobs_extra:
                logprobs = _usual_logprobs(state.logprobs_content, state.logprobs_refusal)
            if logprobs is None:
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
        for key, rope in state.audio_texts.items():
            fields[key] = rope.value()
        result: m.Audio = _lenient(m.Audio, fields)
        return result


_TOKEN_KEYS = frozenset({"token", "logprob", "bytes", "top_logprobs"})
_TOP_KEYS = frozenset({"token", "logprob", "bytes"})


def _usual_logprobs(content: list[Any] | None, refusal: list[Any] | None) -> m.Logprobs | None:
    """The ``Logprobs`` the lenient converter builds, built directly when every item has the
    usual shape; None when any has another (the converter then builds it all, with its
    own rule for each oddity).

    The usual shape: exactly ``token`` (a string), ``logprob`` (a finite float), ``bytes``
    (null or a list of ints from 0 to 255) and ``top_logprobs`` (a list of objects with
    exactly the first three). On a stream with logprobs the converter's per-field hooks
    are most of the result's cost; this builds the same objects (fresh lists included).
    """
    built_content = None if content is None else _token_logprobs(content)
    if built_content is None and content is not None:
        return None
    built_refusal = None if refusal is None else _token_logprobs(refusal)
    if built_refusal is None and refusal is not None:
        return None
    return m.Logprobs(content=built_content, refusal=built_refusal)


def _token_logprobs(items: list[Any]) -> list[m.TokenLogprob] | None:
    token_cls = m.TokenLogprob
    top_cls = m.TopLogprob
    out = []
    for item in items:
        if item.__class__ is not dict or len(item) != 4 or not _TOKEN_KEYS.issuperset(item):
            return None
        token = item["token"]
        logprob = item["logprob"]
        raw = item["bytes"]
        tops = item["top_logprobs"]
        # ``x - x`` is 0.0 (false) for a finite float, nan (true) for inf and nan.
        if token.__class__ is not str or logprob.__class__ is not float or logprob - logprob:
            return None
        if raw is not None:
            raw = _byte_list(raw)
            if raw is None:
                return None
        if tops.__class__ is not list:
            return None
        top_objects = []
        for top in tops:
            if top.__class__ is not dict or len(top) != 3 or not _TOP_KEYS.issuperset(top):
                return None
            top_token = top["token"]
            top_logprob = top["logprob"]
            top_raw = top["bytes"]
            if (
                top_token.__class__ is not str
                or top_logprob.__class__ is not float
                or top_logprob - top_logprob
            ):
                return None
            if top_raw is not None:
                top_raw = _byte_list(top_raw)
                if top_raw is None:
                    return None
            top_objects.append(top_cls(top_token, top_logprob, top_raw))
        out.append(token_cls(token, logprob, raw, top_objects))
    return out


def _byte_list(value: Any) -> list[int] | None:
    """A copy of ``value`` if it is a list of ints from 0 to 255 (not bools), else None."""
    if value.__class__ is not list:
        return None
    for byte in value:
        if byte.__class__ is not int or byte >> 8:
            return None
    return value[:]


def _stream_error(error: Any, position: int) -> StreamError:
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        metadata = error.get("metadata")
    else:
        code, message, metadata = None, error, None
    if not isinstance(code, (int, str)) or isinstance(code, bool):
        code = None
    if isinstance(message, str) and message:
        text = message
    else:
        try:
            text = repr(error)[:500]
        except RecursionError:
            text = f"<{type(error).__name__} nested too deep to show>"
    label = f" ({code})" if code is not None else ""
    return StreamError(
        f"the stream reported an error at event {position}{label}: {text}",
        message=text,
        code=code,
        metadata=metadata,
        error=error,
        position=position,
    )


def _raw(chunk: Any) -> bytes | str:
    try:
        return orjson.dumps(chunk)
    except (TypeError, orjson.JSONEncodeError):
        try:
            return repr(chunk)[:10_000]
        except RecursionError:
            return f"<{type(chunk).__name__} nested too deep to show>"

