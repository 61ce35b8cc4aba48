"""``parse_json`` in the fold: tool arguments and content parsed as they stream.

Opt-in, and off the hot path: an accumulator with ``parse_json`` folds each
delta as usual into a private event list, then hands the text events to
:meth:`JSONFold.take`, which feeds one :class:`PartialJSON` per target (each
tool call's arguments, each choice's content) and puts a ``JSONDelta`` after
the text event it came from. Without ``parse_json`` none of this runs: the
accumulator never installs the wrapper, so the fold pays nothing.

A failure never stops the stream: the target reports ``JSONInvalid`` once,
keeps its error (``parse_error`` in the result) and is not parsed further; the
raw text keeps folding. Re-sent full arguments (``ToolCallArgumentsDelta``
with ``replaced``) restart that call's parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from ._events import ContentDelta, Event, JSONDelta, JSONInvalid, ToolCallArgumentsDelta
from ._exceptions import JSONParseError, LimitExceededError
from ._limits import Limits
from ._partial_json import PartialJSON

if TYPE_CHECKING:
    from ._choice import ChoiceState

__all__ = ["JSON_FORMATS", "JSONFold", "ParseJSON", "ParsedText", "json_targets", "upgrade"]

ParseJSON: TypeAlias = bool | Literal["arguments", "content", "all"]
"""What ``parse_json`` takes: False (nothing), True or ``"arguments"`` (tool-call and legacy
function-call arguments), ``"content"`` (each choice's content), ``"all"`` (both)."""

JSON_FORMATS = frozenset({"json_schema", "json_object"})
"""The request's ``response_format.type`` values that make the content JSON."""

_TARGETS: dict[object, tuple[bool, bool]] = {
    False: (False, False),
    True: (True, False),
    "arguments": (True, False),
    "content": (False, True),
    "all": (True, True),
}


def json_targets(parse_json: object) -> tuple[bool, bool]:
    """``(arguments, content)``: what ``parse_json`` asks to parse; TypeError for anything else."""
    if parse_json.__class__ is bool or parse_json.__class__ is str:
        targets = _TARGETS.get(parse_json)
        if targets is not None:
            return targets
    raise TypeError(
        "parse_json must be False, True, 'arguments', 'content' or 'all', "
        f"not {parse_json!r}"[:200]
    )


def upgrade(parse_json: ParseJSON, body: object) -> ParseJSON:
    """The network streams' rule: True becomes ``"all"`` when the request asks for JSON.

    The request asks for JSON when its body's ``response_format.type`` is ``json_schema``
    or ``json_object``; then the content is parsed too. Any other value is kept.
    """
    json_targets(parse_json)
    if parse_json is not True or not isinstance(body, Mapping):
        return parse_json
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") in JSON_FORMATS:
        return "all"
    return parse_json


class ParsedText:
    """One target's parser (a tool call's arguments or a choice's content) and its error."""

    __slots__ = ("error", "limits", "parser")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parser = PartialJSON(limits=limits)
        self.error: JSONParseError | None = None

    def restart(self) -> None:
        """Start again (the provider re-sent the whole text)."""
        self.parser = PartialJSON(limits=self.limits)
        self.error = None

    def close(self) -> list[Any] | JSONParseError | None:
        """Check the end: the last events (a top-level number ends here) or the error, once."""
        if self.error is not None:
            return None
        events: list[Any] = []
        try:
            self.parser.close(events)
        except (JSONParseError, LimitExceededError) as error:
            return self.failed(error)
        return events

    def failed(self, error: JSONParseError | LimitExceededError) -> JSONParseError:
        """Keep the error; a limit the value crossed (nesting, digits) is reported as one too."""
        if not isinstance(error, JSONParseError):
            limit = error
            position = self.parser._offset  # where the fragment that crossed it began
            error = JSONParseError(
                f"JSON value over a limit after character {position}: {limit}",
                position=position,
                expected=f"a value within Limits.{limit.limit}",
            )
            error.__cause__ = limit
        self.error = error
        return error

    def parsed(self) -> Any:
        """The value for a result or snapshot: a copy while the parser may still change it."""
        parser = self.parser
        value = parser.value
        if self.error is None and not parser.complete:
            try:
                return _copy(value)
            except RecursionError:
                return value
        return value


def _copy(value: Any) -> Any:
    if value.__class__ is dict:
        return {key: _copy(item) for key, item in value.items()}
    if value.__class__ is list:
        return [_copy(item) for item in value]
    return value


class JSONFold:
    """The ``parse_json`` side of one accumulator: which targets, and the feeding of them."""

    __slots__ = ("arguments", "content", "limits")

    def __init__(self, parse_json: ParseJSON, limits: Limits) -> None:
        self.arguments, self.content = json_targets(parse_json)
        self.limits = limits

    def take(self, state: ChoiceState, new: list[Event], out: list[Event] | None) -> None:
        """Feed the text events of one delta of ``state`` (``new``) to their parsers.

        Every event goes on to ``out`` (when given), each followed by its ``JSONDelta``
        or ``JSONInvalid``.
        """
        for event in new:
            if out is not None:
                out.append(event)
            if type(event) is ToolCallArgumentsDelta and self.arguments:
                position = event.tool_index
                tool_index: int | None = position
                call = state.function_call if position < 0 else state.calls[position]
                if call is None:
                    continue
                target = call.json
                if target is None:
                    target = call.json = ParsedText(self.limits)
                elif event.replaced:
                    target.restart()
            elif type(event) is ContentDelta and self.content:
                tool_index = None
                target = state.content_json
                if target is None:
                    target = state.content_json = ParsedText(self.limits)
            else:
                continue
            if target.error is not None:
                continue
            try:
                result = target.parser.feed(event.text)
            except (JSONParseError, LimitExceededError) as error:
                if out is not None:
                    out.append(JSONInvalid(state.index, tool_index, target.failed(error)))
                else:
                    target.failed(error)
                continue
            if out is not None and result:
                out.append(JSONDelta(state.index, tool_index, tuple(result)))

    def close(self, choices: dict[int, ChoiceState], out: list[Event]) -> None:
        """The end of the stream: check every target ends whole, in choice and call order."""
        for index in sorted(choices):
            state = choices[index]
            targets: list[tuple[int | None, ParsedText | None]] = [(None, state.content_json)]
            targets += [(call.position, call.json) for call in state.calls]
            if state.function_call is not None:
                targets.append((-1, state.function_call.json))
            for tool_index, target in targets:
                if target is not None:
                    result = target.close()
                    if result:
                        out.append(_report(index, tool_index, result))


def _report(
    index: int, tool_index: int | None, result: list[Any] | JSONParseError
) -> JSONDelta | JSONInvalid:
    if isinstance(result, JSONParseError):
        return JSONInvalid(index, tool_index, result)
    return JSONDelta(index, tool_index, tuple(result))
