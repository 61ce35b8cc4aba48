"""``parse_json`` for Responses streams: function-call arguments and JSON output text.

The same machinery as chat's (``_json_fold.ParsedText``: one linear
:class:`PartialJSON` per target, ``JSONDelta`` / ``JSONInvalid`` events, a failure
reported once while the text keeps folding); only the targets differ. A function
call's arguments are keyed by its ``output_index``; the output text (with
``"content"`` or ``"all"``) is one target across the response's message items.
Without ``parse_json`` the fold never builds this object and pays nothing.
"""

from __future__ import annotations

from typing import Any

from .._events import ContentDelta, JSONDelta, JSONInvalid, ToolCallArgumentsDelta
from .._exceptions import JSONParseError, LimitExceededError
from .._json_fold import ParsedText, ParseJSON, json_targets
from .._limits import Limits
from ._events import Event

__all__ = ["ResponsesJSON"]

CONTENT = -1
"""The key of the output text's target (function calls are keyed by output_index >= 0)."""


class ResponsesJSON:
    """The ``parse_json`` side of one Responses fold: its targets, fed from the fold's events."""

    __slots__ = ("arguments", "content", "limits", "targets")

    def __init__(self, parse_json: ParseJSON, limits: Limits) -> None:
        self.arguments, self.content = json_targets(parse_json)
        self.limits = limits
        self.targets: dict[int, ParsedText] = {}

    def take(self, new: list[Event], out: list[Event] | None) -> None:
        """Feed the text events of one stream event (``new``); each goes on to ``out``,
        followed by its ``JSONDelta`` or ``JSONInvalid``."""
        for event in new:
            if out is not None:
                out.append(event)
            if type(event) is ToolCallArgumentsDelta and self.arguments:
                key: int = event.tool_index
                tool_index: int | None = key
                target = self.targets.get(key)
                if target is None:
                    target = self.targets[key] = ParsedText(self.limits)
                elif event.replaced:
                    target.restart()
            elif type(event) is ContentDelta and self.content:
                key, tool_index = CONTENT, None
                target = self.targets.get(key)
                if target is None:
                    target = self.targets[key] = ParsedText(self.limits)
            else:
                continue
            if target.error is not None:
                continue
            try:
                result = target.parser.feed(event.text)
            except (JSONParseError, LimitExceededError) as error:
                failed = target.failed(error)
                if out is not None:
                    out.append(JSONInvalid(0, tool_index, failed))
                continue
            if out is not None and result:
                out.append(JSONDelta(0, tool_index, tuple(result)))

    def close(self, out: list[Event]) -> None:
        """The end of the stream: every target must end whole (output text first)."""
        for key in sorted(self.targets):
            result = self.targets[key].close()
            tool_index = None if key == CONTENT else key
            if isinstance(result, JSONParseError):
                out.append(JSONInvalid(0, tool_index, result))
            elif result:
                out.append(JSONDelta(0, tool_index, tuple(result)))

    def parsed(self, key: int) -> tuple[Any, JSONParseError | None] | None:
        """The value and error of a target for a snapshot, or None when it is not parsed."""
        target = self.targets.get(key)
        return None if target is None else (target.parsed(), target.error)
