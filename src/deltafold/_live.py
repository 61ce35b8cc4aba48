"""The live terminal view of a stream: reasoning, then the answer, then tool calls and usage.

Kept apart from the command line (``_cli``) because it is a small renderer over
fold events with its own rules (what is shown live, when to color), tested on
its own, and used by both ``deltafold stream`` and ``deltafold demo``.
"""

from __future__ import annotations

import os
from typing import TextIO

from ._events import ContentDelta, Event, ReasoningDelta, RefusalDelta, UsageUpdated
from ._models import ChatCompletion
from ._plural import plural

__all__ = ["LivePrinter", "usage_line", "use_color"]

_DIM = "\x1b[2m"
_BOLD = "\x1b[1m"
_RESET = "\x1b[0m"


class LivePrinter:
    """Prints a stream as it arrives: reasoning (dimmed on a terminal), then the answer."""

    def __init__(self, out: TextIO, *, color: bool) -> None:
        self.out = out
        self.color = color
        self.section: str | None = None

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _style(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color else text

    def _enter(self, section: str) -> None:
        if self.section == section:
            return
        if self.section is not None:
            self._write("\n\n")
        self.section = section
        if section == "reasoning":
            self._write(self._style("thinking: ", _DIM))
        elif section == "refusal":
            self._write("refusal: ")

    def event(self, event: Event) -> None:
        """Print what one event adds; only the first choice is shown live."""
        if isinstance(event, UsageUpdated) or getattr(event, "index", 0) != 0:
            return
        if isinstance(event, ReasoningDelta):
            self._enter("reasoning")
            self._write(self._style(event.text, _DIM))
        elif isinstance(event, ContentDelta):
            self._enter("content")
            self._write(event.text)
        elif isinstance(event, RefusalDelta):
            self._enter("refusal")
            self._write(event.text)

    def summary(self, completion: ChatCompletion) -> None:
        """After the stream: every tool call (name and arguments), then one line of usage."""
        if self.section is not None:
            self._write("\n\n")
        many = len(completion.choices) > 1
        for choice in completion.choices:
            label = f"[choice {choice.index}] " if many else ""
            for call in choice.message.tool_calls:
                name = self._style(call.function.name, _BOLD)
                self._write(f"{label}tool call: {name} {call.function.arguments}\n")
            function_call = choice.message.function_call
            if function_call is not None:
                name = self._style(function_call.name, _BOLD)
                self._write(f"{label}function call: {name} {function_call.arguments}\n")
        self._write(usage_line(completion) + "\n")


def usage_line(completion: ChatCompletion) -> str:
    """One line of usage: tokens in, out and total, reasoning tokens, and OpenRouter's cost."""
    usage = completion.usage
    if usage is None:
        return "usage: not reported"
    parts = []
    if usage.prompt_tokens is not None:
        parts.append(f"{usage.prompt_tokens} prompt")
    if usage.completion_tokens is not None:
        parts.append(f"{usage.completion_tokens} completion")
    text = " + ".join(parts)
    if usage.total_tokens is not None:
        tokens = plural(usage.total_tokens, "token")
        text = f"{text} = {tokens}" if text else tokens
    elif text:
        text += " tokens"
    details = usage.completion_tokens_details
    if details is not None and details.reasoning_tokens:
        text += f" ({details.reasoning_tokens} reasoning)"
    if usage.cost is not None:
        text += f", cost ${usage.cost:.6f}".rstrip("0").rstrip(".")
    return f"usage: {text or 'reported without token counts'}"


def use_color(out: TextIO) -> bool:
    """Color only on a terminal, and not when ``NO_COLOR`` is set (no-color.org)."""
    isatty = getattr(out, "isatty", None)
    return bool(isatty is not None and isatty()) and not os.environ.get("NO_COLOR")
