"""Anthropic's token counts in the OpenAI convention, the one place that converts them.

Anthropic's ``input_tokens`` leaves out the cached input; telemetry, bulk rows,
the CLI and the shared ``UsageUpdated`` event count input the OpenAI way, so the
prompt is ``input_tokens + cache_creation_input_tokens + cache_read_input_tokens``
and the cached part is the cache reads; ``anthropic_input`` takes them back out
(a conversion into the Messages format).
"""

from __future__ import annotations

from typing import Any

from .._models import PromptTokensDetails
from .._models import Usage as ChatUsage

__all__ = ["OpenAITokens", "anthropic_input", "chat_usage", "openai_tokens"]

OpenAITokens = tuple[int | None, int | None, int | None, int | None]
"""(input, output, total, cached) tokens."""


def _int(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    return value if value.__class__ is int else None


def openai_tokens(usage: dict[str, Any] | None) -> OpenAITokens:
    """(input with cache reads and writes, output, their total, cache reads); None where absent."""
    if not usage:
        return None, None, None, None
    parts = [_int(usage, k) for k in (
        "input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"
    )]
    prompt = None if all(p is None for p in parts) else sum(p or 0 for p in parts)
    output = _int(usage, "output_tokens")
    total = None if prompt is None and output is None else (prompt or 0) + (output or 0)
    return prompt, output, total, parts[2]


def anthropic_input(
    prompt: int | None, cache_read: int | None, cache_write: int | None
) -> int | None:
    """Anthropic's ``input_tokens`` from the prompt's size in the OpenAI convention: the
    inverse of ``openai_tokens``, cache reads and writes taken out (never below 0)."""
    if prompt is None:
        return None
    return max(0, prompt - (cache_read or 0) - (cache_write or 0))


def chat_usage(usage: dict[str, Any]) -> ChatUsage:
    """The usage as the chat ``Usage`` the shared ``UsageUpdated`` event carries."""
    prompt, output, total, cached = openai_tokens(usage)
    details = PromptTokensDetails(cached_tokens=cached) if cached is not None else None
    return ChatUsage(
        prompt_tokens=prompt, completion_tokens=output, total_tokens=total,
        prompt_tokens_details=details,
    )
