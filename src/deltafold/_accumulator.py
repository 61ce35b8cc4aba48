"""The fold: a sans-IO state machine from decoded chunks to one ``ChatCompletion``.

``Accumulator.feed(chunk)`` takes one chunk (a dict, JSON text or bytes, a
typed chunk, or a pydantic chunk) and returns the events it caused. It never
touches a socket. The per-chunk work is a walk over the chunk's keys that
appends string fragments to lists; strings are joined only when a snapshot or
the result is built, and typed objects are built only there too.

Each field has its own rule, written beside the code that applies it (the
rules are listed in docs/concepts.md). This module folds a chunk down to each
choice's delta, with the hot fields (content, reasoning, refusal) inline;
``_choice`` holds a choice's state and the fold of its structured parts (tool
calls, reasoning details, logprobs, audio) with the per-field checks, and
``_result`` builds the typed completion from that state.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from . import _models as m
from ._choice import (
    ChoiceState,
    FieldError,
    as_index,
    as_list,
    as_object,
    as_text,
    as_timestamp,
    check_range,
    short,
)
from ._content_parts import content_parts, part_text, thinking_texts
from ._convert import wire_names
from ._decode import InputSeen, decode_chunk, no_chunk_error, raw_form, stream_error
from ._events import (
    AnnotationAdded,
    ChoiceFinished,
    ContentDelta,
    Event,
    ImageAdded,
    ReasoningDelta,
    RefusalDelta,
    UsageUpdated,
)
from ._exceptions import ChunkDecodeError, DeltafoldError, IncompleteStreamError
from ._format import refuse_other_format
from ._json_fold import JSONFold, ParseJSON
from ._jsonvalue import kind_of
from ._limits import Limits, limit_error
from ._merge import merge_latest, merge_unknown
from ._partial_json import PartialJSON
from ._plural import plural
from ._result import build_completion, build_usage

__all__ = ["Accumulator"]

_TOP_FIRST_WINS = ("id", "model", "created", "system_fingerprint", "service_tier", "provider")
_CAUGHT = (
    TypeError, AttributeError, KeyError, IndexError, ValueError, ArithmeticError, RecursionError
)
"""Python errors a malformed chunk may still cause; each becomes a ChunkDecodeError."""
# The known fields are the chunk model's: adding a field to a model adds it here. Two are
# known but not kept as they are: ``object`` (the completion writes its own) and ``error``
# (kept in ``extra``, then raised as StreamError). The non-streaming body's ``message`` is
# not a chunk field: _fold_choice folds it, _fold_choice_extra keeps a copy beside a delta.
_TOP_KNOWN = wire_names(m.ChatCompletionChunk)
_CHOICE_KNOWN = wire_names(m.ChunkChoice)
_DELTA_KNOWN = wire_names(m.Delta)
_PLAIN_DELTA = frozenset({"role", "content", "reasoning"})
_TOOL_DELTA = frozenset({"role", "content", "tool_calls"})
_REASONING_DELTA = frozenset({"role", "content", "reasoning", "reasoning_details"})
_SHORT_CHOICE = frozenset({"index", "delta", "finish_reason", "native_finish_reason", "logprobs"})
_TOP_PLAIN = _TOP_KNOWN - {"usage", "error"}
"""A chunk whose keys all fall here has no usage, error or unknown field; with the
first-wins fields already set (``_settled``), one set test per chunk stands for all."""
PADDING_FIELDS = frozenset({"obfuscation", "p"})
"""Per-chunk padding against length side channels (OpenAI/Azure ``obfuscation``, Mistral's
``p``): random text, meaningless once joined, absent from a non-streaming response. Left out
of the completion wherever a chunk carries it (top level, choice, delta); the chunks and
events still have it."""
_CHOICE_SKIP = _CHOICE_KNOWN | PADDING_FIELDS
"""A choice's keys that are not unknown fields to keep."""


def _text_first(delta: dict[str, Any]) -> bool:
    """Whether a delta's ``reasoning`` comes before its ``reasoning_details``: the general
    route gives their events in the delta's order, and the short route gives the text's
    first."""
    for key in delta:
        if key == "reasoning":
            return True
        if key == "reasoning_details":
            return False
    return True


class Accumulator:
    """Folds chunks one at a time; ``snapshot()`` at any point, ``result()`` at the end.

    ``parse_json`` (off by default) parses JSON as it streams, one :class:`PartialJSON`
    per target: True or ``"arguments"``, every tool call's (and the legacy function
    call's) arguments; ``"content"``, each choice's content; ``"all"``, both. A fragment
    that changed a value is followed by a :class:`JSONDelta`; text that is not JSON gives
    one :class:`JSONInvalid` (checked at ``close()`` for text that ended early) and that
    target stops parsing, while the text folds as usual. ``partial_json()`` gives the
    live parser; the result has ``parsed`` and ``parse_error`` on each ``FunctionCall``
    and ``Message``. Re-sent whole arguments restart that call's parser.

    >>> acc = Accumulator()
    >>> events = acc.feed({"choices": [{"index": 0, "delta": {"content": "Hi"}}]})
    >>> acc.result().choices[0].message.content
    'Hi'
    """

    def __init__(self, *, limits: Limits | None = None, parse_json: ParseJSON = False) -> None:
        self._choices: dict[int, ChoiceState] = {}
        self._top: dict[str, Any] = {}
        self._pending_top = list(_TOP_FIRST_WINS)
        self._pending_names = frozenset(_TOP_FIRST_WINS)
        self._settled = _TOP_PLAIN - self._pending_names  # top-level keys with nothing to do
        self._extra: dict[str, Any] = {}
        self._usage: dict[str, Any] | None = None
        self._count = 0
        self._closed = False
        self._input: InputSeen | None = None  # what was seen, for the error if no chunk came
        self._known = False  # a chunk without choices carried a known top-level field
        self._limits = limits = limits or Limits()
        self._max_field = sys.maxsize if limits.max_field_chars is None else limits.max_field_chars
        self._json: JSONFold | None = None
        self._parsing = False  # deltas fold through _fold_delta_json: there is text to parse
        if parse_json is not False:
            self._json = json = JSONFold(parse_json, limits)  # TypeError for a bad value
            self._parsing = bool(json.arguments or json.content)

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
            self._choices[index].finish_calls(events)
        if self._json is not None:
            self._json.close(self._choices, events)
        return events

    def snapshot(self) -> m.ChatCompletion:
        """The completion as folded so far: valid at any point, cheap to repeat."""
        return build_completion(self._top, self._choices, self._usage, self._extra)

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
        if not self.holds_chunk():
            raise no_chunk_error(
                self._input, self._count, list(self._extra), completion if self._count else None
            )
        if strict:
            unfinished = self.incomplete_choices()
            if not completion.choices or unfinished:
                what = (
                    f"choices {unfinished} have no finish_reason"
                    if unfinished
                    else "no choice arrived"
                )
                ended = f"stream ended after {plural(self._count, 'chunk')}"
                raise IncompleteStreamError(f"{ended} but {what}", partial=completion)
        return completion

    def holds_chunk(self) -> bool:
        """Whether a chat-completion chunk was folded: until then ``result`` reads the sample."""
        return bool(self._choices) or self._known

    def has_token(self) -> bool:
        """Whether some choice holds a token yet (asked by the timing until the first one)."""
        return any(state.has_token() for state in self._choices.values())

    def output_tokens(self) -> int | None:
        """The usage's ``completion_tokens`` once usage arrived, else None."""
        usage = self._usage
        tokens = usage.get("completion_tokens") if usage else None
        return tokens if tokens.__class__ is int else None

    def partial_json(self, index: int = 0, tool_index: int | None = None) -> PartialJSON | None:
        """The live parser of choice ``index``'s content (``tool_index`` None), of its tool
        call at ``tool_index``, or of its legacy ``function_call`` (-1), with ``parse_json``.

        Its ``value`` is the partial value so far, updated in place. None when that target
        is not parsed or no text of it has arrived yet.
        """
        if index.__class__ is not int or not (tool_index is None or tool_index.__class__ is int):
            raise TypeError(
                "partial_json(index, tool_index) takes an int and an int or None, "
                f"not {type(index).__name__} and {type(tool_index).__name__}"
            )
        state = self._choices.get(index)
        if state is None:
            return None
        if tool_index is None:
            target = state.content_json
        elif tool_index == -1:
            target = None if state.function_call is None else state.function_call.json
        else:
            calls = state.calls
            target = calls[tool_index].json if 0 <= tool_index < len(calls) else None
        return None if target is None else target.parser

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
            if chunk is None:  # an SSE event without a chunk: not an item of the stream
                return
        self._count += 1
        try:
            choices = chunk.get("choices")
            if choices:
                if choices.__class__ is not list:
                    choices = as_list(choices, "choices")
                if len(choices) == 1:
                    self._fold_one(choices[0], events)
                else:
                    for n, choice in enumerate(choices):
                        self._fold_choice(choice, n, events)
            elif not self._known and not _TOP_KNOWN.isdisjoint(chunk):
                self._known = True  # no choices, but a known field: a chunk (for result())
            if not self._settled.issuperset(chunk):
                self._fold_top(chunk, position, events)
        except FieldError as exc:
            raise ChunkDecodeError(
                f"event {position}: {exc}", raw=raw_form(chunk), position=position, path=exc.path,
                partial=self.snapshot(),
            ) from None
        except DeltafoldError as exc:
            if exc.partial is None:
                exc.partial = self.snapshot()
            raise
        except _CAUGHT as exc:
            raise ChunkDecodeError(
                f"event {position}: malformed chunk ({type(exc).__name__}: {exc})",
                raw=raw_form(chunk), position=position, partial=self.snapshot(),
            ) from exc

    def _fold_top(self, chunk: dict[str, Any], position: int, events: list[Event] | None) -> None:
        """A chunk's top-level fields but the settled ones: the first value of each first-wins
        field, then usage, unknown fields and error, in that order."""
        if not self._pending_names.isdisjoint(chunk):
            for name in self._pending_top:
                value = chunk.get(name)
                if value:
                    self._set_top(name, value)
        if _TOP_PLAIN.issuperset(chunk):
            return
        usage = chunk.get("usage")
        if usage is not None:
            usage = as_object(usage, "usage")
            if self._usage is None:
                self._usage = {}
            merge_latest(self._usage, usage)
            if events is not None:
                events.append(UsageUpdated(build_usage(self._usage)))
        if not _TOP_KNOWN.issuperset(chunk):
            if not self._choices and "type" in chunk:
                refuse_other_format(chunk, position, "chat")
            extra = self._extra
            for key, value in chunk.items():
                if key not in _TOP_KNOWN and key not in PADDING_FIELDS:
                    merge_unknown(extra, key, value, self._max_field)
        error = chunk.get("error")
        if error is not None:
            merge_unknown(self._extra, "error", error, self._max_field)
            raise stream_error(error, position)

    def _set_top(self, name: str, value: Any) -> None:
        if name == "created":
            value = as_timestamp(value, "created")
            if not value:
                return
        elif value.__class__ is not str:
            # id, model, system_fingerprint, service_tier and provider are strings.
            raise FieldError(name, f"expected a string, got {kind_of(value)} {short(value)}")
        self._top[name] = value
        self._pending_top = [n for n in self._pending_top if n != name]
        self._pending_names = frozenset(self._pending_top)
        self._settled = _TOP_PLAIN - self._pending_names

    def _fold_one(self, choice: Any, events: list[Event] | None) -> None:
        """A chunk's only choice, started, with nothing set but its delta and logprobs: a delta
        of text, of reasoning (no events) or of tool fragments alone folds here inline, as
        _fold_choice would (tests hold the two equal); anything else goes there."""
        if choice.__class__ is dict:
            index = choice.get("index", 0)
            state = self._choices.get(index) if index.__class__ is int else None
            delta = choice.get("delta")
            if (
                state is not None and state.role and delta.__class__ is dict
                and _SHORT_CHOICE.issuperset(choice) and not choice.get("finish_reason")
                and not choice.get("native_finish_reason")
            ):
                # With parse_json the delta's events go to the parsers first (as in
                # _fold_delta_json): they are collected in ``sink``, then taken.
                sink: list[Event] | None = [] if self._parsing else events
                content = delta.get("content")
                reasoning = delta.get("reasoning")
                rope = state.content
                try:
                    if (
                        content.__class__ is str and rope is not None and reasoning is None
                        and _PLAIN_DELTA.issuperset(delta)
                    ):
                        if content:
                            length = rope.length + len(content)
                            if length >= rope.mark:
                                rope.add(content)  # the limit check, or a join of the parts
                            else:
                                rope.parts.append(content)
                                rope.length = length
                            if sink is not None:
                                sink.append(ContentDelta(index, content))
                    elif content is None and delta.get("tool_calls").__class__ is list and (
                        _TOOL_DELTA.issuperset(delta)
                    ):
                        state.fold_tool_calls(delta["tool_calls"], 0, sink)
                    elif (
                        reasoning.__class__ is str and state.reasoning is not None
                        and (content is None or (content == "" and rope is not None))
                        and _REASONING_DELTA.issuperset(delta)
                        and (sink is None or _text_first(delta))
                    ):
                        rope = state.reasoning
                        length = rope.length + len(reasoning)
                        if length >= rope.mark:
                            rope.add(reasoning)
                        elif reasoning:
                            rope.parts.append(reasoning)
                            rope.length = length
                        if sink is not None and reasoning:
                            sink.append(ReasoningDelta(index, reasoning))
                        details = delta.get("reasoning_details")
                        if details is not None:
                            state.fold_details(details, 0, sink)
                    else:
                        self._fold_choice(choice, 0, events)
                        return
                finally:
                    if sink is not events and sink and self._json is not None:
                        self._json.take(state, sink, events)  # only with parse_json
                logprobs = choice.get("logprobs")
                if logprobs:
                    state.fold_logprobs(logprobs, 0, events)
                return
        self._fold_choice(choice, 0, events)

    def _fold_choice(self, choice: Any, n: int, events: list[Event] | None) -> None:
        if choice.__class__ is not dict:
            raise FieldError(f"choices[{n}]", f"expected an object, got {kind_of(choice)}")
        index = choice.get("index", 0)
        if index.__class__ is not int:
            index = 0 if index is None else as_index(index, f"choices[{n}].index")
        state = self._choices.get(index)
        if state is None:
            limit = self._limits.max_choices
            if limit is not None and len(self._choices) >= limit:
                raise limit_error("max_choices", len(self._choices) + 1, limit)
            check_range(index, f"choices[{n}].index")
            state = ChoiceState(index, self._max_field, self._limits.max_tool_calls)
            self._choices[index] = state
        delta = choice.get("delta")
        if delta:
            if delta.__class__ is not dict:
                message = f"expected an object, got {kind_of(delta)}"
                raise FieldError(f"choices[{n}].delta", message)
            if self._parsing:
                self._fold_delta_json(state, delta, n, events)
            else:
                self._fold_delta(state, delta, n, events)
        elif delta is None:
            # No delta: a non-streaming choice, whose message is one complete delta.
            delta = choice.get("message")
            if delta is not None:
                self._fold_message(state, delta, n, events)
        if not _CHOICE_KNOWN.issuperset(choice):
            state.fold_extra(choice, delta, _CHOICE_SKIP)
        logprobs = choice.get("logprobs")
        if logprobs:
            state.fold_logprobs(logprobs, n, events)
        native = choice.get("native_finish_reason")
        if native:
            if native.__class__ is not str:
                native = as_text(native, f"choices[{n}].native_finish_reason")
            state.native_finish_reason = native
        finish = choice.get("finish_reason")
        if finish:
            if finish.__class__ is not str:
                finish = as_text(finish, f"choices[{n}].finish_reason")
            if finish != state.finish_reason:
                if events is not None:
                    if state.finish_reason is None:
                        state.finish_calls(events)
                    events.append(ChoiceFinished(index, finish))
                state.finish_reason = finish

    def _fold_message(
        self, state: ChoiceState, message: Any, n: int, events: list[Event] | None
    ) -> None:
        """Fold a non-streaming choice's ``message`` as one delta, under the same rules.

        Its tool calls are complete: each one is a call of its own, in order, whatever its
        ``index`` or ``id`` (none, or repeated); so they are folded without ``index`` (the
        fragment matching by index is for streams) and with ``state.whole`` set (no match by id).
        """
        if message.__class__ is not dict:
            problem = f"expected an object, got {kind_of(message)}"
            raise FieldError(f"choices[{n}].message", problem)
        calls = message.get("tool_calls")
        if calls.__class__ is list and any(
            item.__class__ is dict and "index" in item for item in calls
        ):
            calls = [
                {k: v for k, v in item.items() if k != "index"} if item.__class__ is dict else item
                for item in calls
            ]
            message = {**message, "tool_calls": calls}
        state.whole = True
        try:
            if self._parsing:
                self._fold_delta_json(state, message, n, events)
            else:
                self._fold_delta(state, message, n, events)
        except FieldError as exc:
            # The rules name the delta; here the field sits in the message.
            prefix = f"choices[{n}].delta"
            if not exc.path.startswith(prefix):
                raise
            path = f"choices[{n}].message{exc.path[len(prefix):]}"
            raise FieldError(path, str(exc)[len(exc.path) + 2 :]) from None
        finally:
            state.whole = False

    def _fold_delta(
        self, state: ChoiceState, delta: dict[str, Any], n: int, events: list[Event] | None
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
                    self._add_content(state, value, events)
                else:
                    self._fold_content_parts(state, value, n, events)
            elif key == "role":
                if value and not state.role:
                    state.role = as_text(value, f"choices[{n}].delta.role")
            elif key == "reasoning":
                if value.__class__ is not str:
                    value = as_text(value, f"choices[{n}].delta.reasoning")
                self._add_reasoning(state, value, events)
            elif key == "reasoning_content":
                if delta.get("reasoning") != value:
                    text = as_text(value, f"choices[{n}].delta.reasoning_content")
                    self._add_reasoning(state, text, events)
            elif key == "tool_calls":
                state.fold_tool_calls(value, n, events)
            elif key == "refusal":
                text = as_text(value, f"choices[{n}].delta.refusal")
                state.add_text("refusal", text)
                if events is not None and text:
                    events.append(RefusalDelta(state.index, text))
            elif key == "reasoning_details":
                state.fold_details(value, n, events)
            elif key == "function_call":
                state.fold_function_call(value, n, events)
            elif key == "annotations":
                for item in as_list(value, f"choices[{n}].delta.annotations"):
                    added = state.add_unique(state.annotations, state.annotation_keys, item)
                    if added and events is not None:
                        events.append(AnnotationAdded(state.index, item))
            elif key == "images":
                for item in as_list(value, f"choices[{n}].delta.images"):
                    added = state.add_unique(state.images, state.image_keys, item)
                    if added and events is not None:
                        events.append(ImageAdded(state.index, item))
            elif key == "audio":
                state.fold_audio(as_object(value, f"choices[{n}].delta.audio"), n)
            elif key not in PADDING_FIELDS:
                merge_unknown(state.message_extra, key, value, self._max_field)

    def _fold_delta_json(
        self, state: ChoiceState, delta: dict[str, Any], n: int, events: list[Event] | None
    ) -> None:
        """``_fold_delta`` with ``parse_json``: the text it folded goes on to the parsers."""
        new: list[Event] = []
        try:
            self._fold_delta(state, delta, n, new)
        finally:
            if self._json is not None:
                self._json.take(state, new, events)

    @staticmethod
    def _add_content(state: ChoiceState, text: str, events: list[Event] | None) -> None:
        """Append a content fragment (the first one, even empty, makes content non-null)."""
        state.add_text("content", text)
        if events is not None and text:
            events.append(ContentDelta(state.index, text))

    def _add_reasoning(self, state: ChoiceState, text: str, events: list[Event] | None) -> None:
        state.add_text("reasoning", text)
        if events is not None and text:
            events.append(ReasoningDelta(state.index, text))

    def _fold_content_parts(
        self, state: ChoiceState, value: Any, n: int, events: list[Event] | None
    ) -> None:
        """Mistral's content as a list of typed parts: text to content, thinking to reasoning."""
        parts = content_parts(value)
        if parts is None:
            path = f"choices[{n}].delta.content"
            raise FieldError(path, f"expected a string or a list of parts, got {kind_of(value)}")
        for part in parts:
            text = part_text(part)
            if text is not None:
                self._add_content(state, text, events)
                continue
            thoughts = thinking_texts(part)
            if thoughts is not None:
                for text in thoughts:
                    self._add_reasoning(state, text, events)
            else:
                merge_unknown(state.message_extra, "content_parts", [part], self._max_field)


