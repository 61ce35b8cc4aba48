"""The Responses fold: a sans-IO state machine from stream events to one ``Response``.

It has the chat ``Accumulator``'s shape (``feed``, ``add``, ``close``,
``snapshot``, ``result``, ``holds_chunk``, ``has_token``, ``output_tokens``,
``limits``, ``chunks_folded``), so one stream core drives either. Per event the
work is a dict lookup on ``type`` and an append; the item-level rules are in
``_rules``, the merge rule in ``_state``. This module holds the response level:

- ``response.created``/``queued``/``in_progress`` update the response's fields
  (a field sent null does not erase a value already folded);
- the terminal event (``completed``, ``incomplete``, ``failed``) sets status,
  usage, incomplete_details and error, and its ``output`` is reconciled with the
  folded items by position, never taken blindly: each item it carries merges in
  as ``output_item.done`` would (an item of another type replaces the folded
  one), and an empty or missing ``output`` keeps what the events built;
- ``response.incomplete`` is a result; ``response.failed`` and ``error`` events
  raise :class:`StreamError` with ``.partial``; a stream without a terminal event
  is an :class:`IncompleteStreamError` in ``result(strict=True)``;
- events after the terminal one are folded as usual (keep-alives, rate-limit
  updates); a ``response.created`` of another response after it raises
  :class:`MultipleResponsesError` (``assemble_all`` starts a new fold there);
- ``sequence_number`` drops an event at or below the last one seen (a replay)
  and notes a jump (``Response.sequence_gaps``, a :class:`SequenceGap` event);
- an event of an unknown type is kept, as it came, in ``Response.unknown_events``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._choice import FieldError
from .._convert import from_dict
from .._decode import InputSeen, decode_chunk, raw_form, stream_error
from .._events import ToolCallDone, UsageUpdated
from .._exceptions import (
    ChunkDecodeError,
    DeltafoldError,
    IncompleteStreamError,
    MultipleResponsesError,
)
from .._format import refuse_other_format
from .._json_fold import ParseJSON
from .._limits import Limits
from .._models import Usage
from .._partial_json import PartialJSON
from ._empty import no_event_error
from ._events import Event, ResponseStatusChanged, SequenceGap
from ._items import FunctionCall, ImageGenerationCall
from ._json import CONTENT, ResponsesJSON
from ._models import Response
from ._rules import CALLS, ITEM_RULES, ItemRules
from ._state import ItemState, PartState

__all__ = ["TERMINAL", "Accumulator"]

TERMINAL = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
    "response.cancelled": "cancelled",
}
"""The terminal event types, with the status each implies when the response has none."""
_LIFECYCLE = frozenset({"response.created", "response.queued", "response.in_progress"})
_STATUS_EVENT = {status: kind for kind, status in TERMINAL.items()}
"""The terminal event a whole response object stands for, by its status."""
_QUIET = frozenset({"keepalive", "response.keepalive"})
"""Event types that carry nothing to fold and are not unknown."""
_CAUGHT = (TypeError, AttributeError, KeyError, IndexError, ValueError, RecursionError)
"""Python errors a malformed event may still cause; each becomes a ChunkDecodeError."""


def _with_partial(exc: DeltafoldError, partial: Response) -> DeltafoldError:
    """Attach ``partial`` to an error raised from inside the fold."""
    exc.partial = partial
    return exc


class Accumulator(ItemRules):
    """Folds Responses API stream events; ``snapshot()`` at any point, ``result()`` at the end.

    >>> acc = Accumulator()
    >>> _ = acc.feed({"type": "response.output_text.delta", "output_index": 0, "delta": "Hi"})
    >>> acc.result(strict=False).output_text
    'Hi'
    """

    known: bool
    """A Responses event was folded (until then ``result`` reads what was seen)."""

    def __init__(self, *, limits: Limits | None = None, parse_json: ParseJSON = False) -> None:
        super().__init__(limits)
        self._json: ResponsesJSON | None = None
        if parse_json is not False:
            self._json = ResponsesJSON(parse_json, self.limits)  # TypeError for a bad value
            self.add = self._add_parsing  # type: ignore[method-assign]
        self._top: dict[str, Any] = {}
        self._count = 0
        self._seq = -1
        self._gaps: list[tuple[int, int]] = []
        self._unknown: list[dict[str, Any]] = []
        self._audio: dict[str, list[str]] = {}
        self._terminal: str | None = None
        self._closed = False
        self._input: InputSeen | None = None
        self.replayed: int = 0
        """Events dropped because their ``sequence_number`` was not above the last one."""

    @property
    def chunks_folded(self) -> int:
        """How many events have been fed (also the position of the next one)."""
        return self._count

    events_folded = chunks_folded

    @property
    def terminal(self) -> str | None:
        """The terminal event's type once it arrived (``response.completed``...), else None."""
        return self._terminal

    @property
    def fields(self) -> dict[str, Any]:
        """The response's own fields as folded so far, in their wire form, without ``output``
        (the items are in ``items``). The fold's own dict: read it, never change it."""
        return self._top

    def feed(self, event: Any) -> list[Event]:
        """Fold one event (a dict, or its JSON text or bytes) and return the events it caused."""
        events: list[Event] = []
        self.add(event, events)
        return events

    def feed_many(self, events: Iterable[Any]) -> None:
        """Fold many events without producing events (the fast path of ``assemble``)."""
        for event in events:
            self.add(event)

    def add(self, event: Any, events: list[Event] | None = None) -> None:
        """Fold one event; the events it caused are appended to ``events`` when given.

        Raises :class:`StreamError` for an ``error`` event or ``response.failed``,
        :class:`ChunkDecodeError` for an event that cannot be read, both with ``.partial``.
        """
        position = self._count
        self._count = position + 1
        try:
            if event.__class__ is not dict:
                event = decode_chunk(event, position)
                if event is None:  # an SSE event without data: not an event of the stream
                    self._count = position
                    return
            kind = event.get("type")
            seq = event.get("sequence_number")
            if seq.__class__ is int:
                if seq == self._seq + 1:
                    self._seq = seq  # the usual case, inline: the next number
                elif not self._in_order(kind, seq, event, events):
                    return
            if events is None and self._appended(kind, event):
                return
            rule = ITEM_RULES.get(kind)
            if rule is not None:
                rule(self, event, events)
            else:
                self._fold_response(kind, event, position, events)
        except FieldError as exc:
            raise _with_partial(ChunkDecodeError(
                f"event {position} ({event.get('type')}): {exc}", raw=raw_form(event),
                position=position, path=exc.path,
            ), self.snapshot()) from None
        except DeltafoldError as exc:
            if exc.partial is None and (self.known or self._count > 1):
                _with_partial(exc, self.snapshot())
            raise
        except _CAUGHT as exc:
            raise _with_partial(ChunkDecodeError(
                f"event {position}: malformed event ({type(exc).__name__}: {exc})",
                raw=raw_form(event), position=position,
            ), self.snapshot()) from exc

    def _add_parsing(self, event: Any, events: list[Event] | None = None) -> None:
        """``add`` with ``parse_json``: the event's text events go to their parsers first."""
        new: list[Event] = []
        try:
            Accumulator.add(self, event, new)
        finally:
            self._json.take(new, events)  # type: ignore[union-attr]

    def _appended(self, kind: Any, event: dict[str, Any]) -> bool:
        """The three hot deltas' rule inline, for the path that gives no events (assemble):
        a text fragment of an item or part that exists, within the field limit, appended.
        False for anything else, which then takes its rule in ``ITEM_RULES`` (the same
        result: this only skips the lookups and the call)."""
        target: ItemState | PartState | None
        if kind == "response.output_text.delta":
            if event.get("logprobs"):
                return False
            item = self.items.get(event.get("output_index"))  # type: ignore[arg-type]
            target = None if item is None else item.parts.get(event.get("content_index", 0))
        elif kind == "response.function_call_arguments.delta":
            target = self.items.get(event.get("output_index"))  # type: ignore[arg-type]
        elif kind == "response.reasoning_summary_text.delta":
            item = self.items.get(event.get("output_index"))  # type: ignore[arg-type]
            target = None if item is None else item.summary.get(event.get("summary_index", 0))
        else:
            return False
        delta = event.get("delta")
        if target is None or delta.__class__ is not str:
            return False
        texts = target.texts
        length = target.length + len(delta)
        if texts is None or length > self.max_field:
            return False
        target.length = length
        texts.append(delta)
        return True

    def _in_order(self, kind: Any, seq: int, event: dict[str, Any], events: Any) -> bool:
        """The ``sequence_number`` rule: False for a replayed event (dropped)."""
        last = self._seq
        if seq <= last:
            if kind == "response.created" and self._terminal is not None:
                self._check_new_response(event)
            self.replayed += 1
            return False
        if seq != last + 1 and last >= 0:
            self._gaps.append((last, seq))
            if events is not None:
                events.append(SequenceGap(last, seq))
        self._seq = seq
        return True

    def _check_new_response(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        new_id = response.get("id") if response.__class__ is dict else None
        if new_id is None or new_id != self._top.get("id"):
            raise MultipleResponsesError(
                f"event {self._count - 1}: a new response.created "
                f"({new_id or 'no id'}) after this response's {self._terminal}: the input "
                "holds several responses; deltafold.responses.assemble_all() folds each"
            )

    def _fold_response(
        self, kind: Any, event: dict[str, Any], position: int, events: list[Event] | None
    ) -> None:
        """The response-level events: lifecycle, terminal, error, audio, unknown."""
        if kind in _LIFECYCLE:
            if self._terminal is not None and kind == "response.created":
                self._check_new_response(event)
            self.known = True
            self._absorb_response(event.get("response"), events)
        elif kind in TERMINAL:
            self.known = True
            self._terminal = kind
            self._absorb_response(event.get("response"), events, TERMINAL[kind])
            if kind == "response.failed":
                error = self._top.get("error")
                raise stream_error(error if error is not None else "the response failed", position)
        elif kind == "error":
            self.known = True
            error = event.get("error")
            if error.__class__ is not dict:
                error = {k: v for k, v in event.items() if k not in ("type", "sequence_number")}
            raise stream_error(error, position)
        elif kind in ("response.audio.delta", "response.audio.transcript.delta"):
            self.known = True
            self._audio.setdefault(kind, []).append(event.get("delta") or "")
        elif kind in _QUIET or kind in ("response.audio.done", "response.audio.transcript.done"):
            return
        elif kind is None and event.get("object") == "response":
            # A whole response (the non-streaming call's answer): its own terminal event.
            status = event.get("status")
            self._fold_response(_STATUS_EVENT.get(status, "response.completed"),  # type: ignore[arg-type]
                                {"response": event}, position, events)
        elif kind is None and "error" in event:
            # An SSE ``event: error`` whose data had no type (the core wraps it so).
            self.known = True
            raise stream_error(event["error"], position)
        else:
            if not self.known:
                refuse_other_format(event, position, "responses")
            self._unknown.append(event)

    def _absorb_response(
        self, response: Any, events: list[Event] | None, status: str | None = None
    ) -> None:
        """A lifecycle or terminal event's response: fields merged, ``output`` reconciled."""
        if response.__class__ is not dict:
            if response is not None:
                raise FieldError("response", "expected an object")
            response = {}
        top = self._top
        old_status = top.get("status")
        for key, value in response.items():
            if key == "output":
                if value.__class__ is list and value:
                    self._reconcile(value)
            elif value is not None or key not in top:
                top[key] = value
        if status is not None and not top.get("status"):
            top["status"] = status
        if events is not None:
            new_status = top.get("status")
            if new_status != old_status and new_status.__class__ is str:
                events.append(ResponseStatusChanged(new_status))
            usage = response.get("usage")
            if usage.__class__ is dict:
                events.append(UsageUpdated(chat_usage(usage)))

    def _reconcile(self, output: list[Any]) -> None:
        """A response's ``output`` merged into the folded items by position."""
        for index, given in enumerate(output):
            if given.__class__ is not dict:
                continue
            kind = given.get("type")
            state = self.items.get(index)
            if state is None or (kind.__class__ is str and kind != state.kind):
                self.items.pop(index, None)
                self.start(index, kind if kind.__class__ is str else "", given, None)
            else:
                state.absorb(given)

    # --- end of stream and results ------------------------------------------------------

    def close(self) -> list[Event]:
        """Mark the end of the stream; returns the ToolCallDone of calls not done yet.

        Idempotent; ``result()`` calls it.
        """
        if self._closed:
            return []
        self._closed = True
        events: list[Event] = []
        for index in sorted(self.items):
            state = self.items[index]
            if state.kind in CALLS and not state.finished_call:
                self.finish_call(index, state, state.build(), events)
        out: list[Event] = [e for e in events if isinstance(e, ToolCallDone)]
        if self._json is not None:
            self._json.close(out)
        return out

    def snapshot(self) -> Response:
        """The response as folded so far: valid at any point, built fresh each call."""
        data = dict(self._top)
        items = self.items
        order = sorted(items)
        data["output"] = [items[i].build() for i in order]
        response = from_dict(Response, data)
        for position, index in enumerate(order):
            images = items[index].images
            item = response.output[position]
            if images and isinstance(item, ImageGenerationCall):
                item.partial_images = [images[k] for k in sorted(images)]
        if self._json is not None:
            self._parsed_into(response, order)
        response.sequence_gaps = list(self._gaps)
        response.unknown_events = list(self._unknown)
        audio = self._audio
        if audio:
            response.audio = "".join(audio.get("response.audio.delta", [])) or None
            transcript = audio.get("response.audio.transcript.delta", [])
            response.audio_transcript = "".join(transcript) or None
        return response

    def result(self, *, strict: bool = True) -> Response:
        """The final response; closes the stream.

        Input without any Responses event raises :class:`EmptyStreamError` (a
        :class:`WrongFormatError` naming the right function for a chat or Anthropic
        stream). With ``strict`` (the default) a stream that ended without a
        terminal event raises :class:`IncompleteStreamError` with ``.partial``.
        """
        self.close()
        if not self.known:
            raise no_event_error(self._input, self._count, self._unknown)
        response = self.snapshot()
        if strict and self._terminal is None:
            raise _with_partial(IncompleteStreamError(
                f"the stream ended after {self._count} events without a terminal event "
                "(response.completed, response.incomplete or response.failed)"
            ), response)
        return response

    def holds_chunk(self) -> bool:
        """Whether a Responses event was folded: until then ``result`` reads the sample."""
        return self.known

    def has_token(self) -> bool:
        """Whether some item holds generated text yet (asked by the timing until the first)."""
        return any(_has_text(state) for state in self.items.values())

    def partial_json(self, index: int = 0, tool_index: int | None = None) -> PartialJSON | None:
        """The live parser of the output text (``tool_index`` None) or of the function call
        at output index ``tool_index``, with ``parse_json``; None when not parsed (yet).
        ``index`` is chat's choice index: a response has one answer, index 0."""
        json = self._json
        if json is None or index != 0:
            return None
        target = json.targets.get(CONTENT if tool_index is None else tool_index)
        return None if target is None else target.parser

    def _parsed_into(self, response: Response, order: list[int]) -> None:
        """``parsed`` / ``parse_error`` on the function calls and the response (its text)."""
        json = self._json
        assert json is not None
        for position, index in enumerate(order):
            item = response.output[position]
            found = json.parsed(index)
            if found is not None and isinstance(item, FunctionCall):
                item.parsed, item.parse_error = found
        found = json.parsed(CONTENT)
        if found is not None:
            response.parsed, response.parse_error = found

    def output_tokens(self) -> int | None:
        """The usage's ``output_tokens`` once usage arrived, else None."""
        usage = self._top.get("usage")
        tokens = usage.get("output_tokens") if usage.__class__ is dict else None
        return tokens if tokens.__class__ is int else None


def _has_text(state: ItemState) -> bool:
    if state.texts and any(state.texts):
        return True
    return any(p.texts and any(p.texts) for p in (*state.parts.values(), *state.summary.values()))


def chat_usage(usage: dict[str, Any]) -> Usage:
    """A Responses usage in chat's terms, for :class:`UsageUpdated` (one loop reads both):
    input tokens are prompt tokens, output tokens completion tokens, with their details."""
    data: dict[str, Any] = {k: v for k, v in usage.items() if not k.startswith(("input", "output"))}
    data["prompt_tokens"] = usage.get("input_tokens")
    data["completion_tokens"] = usage.get("output_tokens")
    details = usage.get("input_tokens_details")
    if details.__class__ is dict:
        data["prompt_tokens_details"] = details
    details = usage.get("output_tokens_details")
    if details.__class__ is dict:
        data["completion_tokens_details"] = details
    return from_dict(Usage, data)
