"""One output row of bulk assembly: a stream in, ``assemble``'s answer out as flat values.

The rule every engine shares (Arrow batches, the local process pool, Ray, DuckDB):
a stream's row is exactly what :func:`assemble` gives for it with default options,
the completion or the error it raises. An error never escapes: its class name and
message fill ``error_type`` / ``error_message``, and the completion columns hold
its ``.partial`` (or null). Pure Python, no Arrow: the columns are built elsewhere.

``completion`` is the lossless JSON text (``_jsontext.dumps``: integers of any
size, NaN, lone surrogates as their escapes). The flat columns are what Arrow can
hold: an integer outside 64 bits is null there, and a lone surrogate (which
UTF-8 cannot carry) is U+FFFD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ._assemble import assemble
from ._convert import to_dict
from ._jsontext import dumps
from ._models import ChatCompletion

__all__ = ["COLUMNS", "fold_chunks", "fold_stream", "from_struct", "row_of"]

COLUMNS = (
    "completion",
    "error_type",
    "error_message",
    "id",
    "model",
    "provider",
    "created",
    "n_choices",
    "role",
    "content",
    "refusal",
    "reasoning",
    "finish_reason",
    "tool_calls",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "cost",
)
"""The output columns, in order (their Arrow types: ``_arrow.BULK_SCHEMA``)."""

_NONE_ROW: tuple[Any, ...] = (None,) * (len(COLUMNS) - 3)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def fold_stream(body: Any) -> tuple[Any, ...]:
    """The row for one recorded body (bytes or text; anything else is assemble's TypeError)."""
    try:
        completion = assemble(body)
    except Exception as exc:  # a bad row never fails the batch: it becomes an error row
        return row_of(getattr(exc, "partial", None), exc)
    return row_of(completion, None)


def fold_chunks(chunks: Sequence[Any]) -> tuple[Any, ...]:
    """The row for one stream given as its chunks in order (JSON text, bytes or dicts)."""
    return fold_stream(list(chunks))


def row_of(completion: ChatCompletion | None, error: BaseException | None) -> tuple[Any, ...]:
    """The flat values of ``completion`` (null when None) and of ``error``, in ``COLUMNS`` order."""
    error_type = None if error is None else type(error).__name__
    error_message = None if error is None else _text(str(error))
    if completion is None:
        return (None, error_type, error_message, *_NONE_ROW)
    usage = completion.usage
    first = completion.choices[0] if completion.choices else None
    message = first.message if first is not None else None
    details = usage.completion_tokens_details if usage is not None else None
    prompt = usage.prompt_tokens_details if usage is not None else None
    return (
        dumps(to_dict(completion)).decode(),
        error_type,
        error_message,
        _text(completion.id),
        _text(completion.model),
        _text(completion.provider),
        _int64(completion.created),
        len(completion.choices),
        _text(message.role) if message is not None else None,
        _text(message.content) if message is not None else None,
        _text(message.refusal) if message is not None else None,
        _text(message.reasoning) if message is not None else None,
        _text(first.finish_reason) if first is not None else None,
        None if message is None else _tool_calls(message.tool_calls),
        _int64(usage.prompt_tokens) if usage is not None else None,
        _int64(usage.completion_tokens) if usage is not None else None,
        _int64(usage.total_tokens) if usage is not None else None,
        _int64(details.reasoning_tokens) if details is not None else None,
        _int64(prompt.cached_tokens) if prompt is not None else None,
        usage.cost if usage is not None else None,
    )


def _text(value: str | None) -> str | None:
    """``value`` as a UTF-8 column holds it: a lone surrogate becomes U+FFFD."""
    if value is None or value.isascii() or _LONE_SURROGATE.search(value) is None:
        return value
    return _LONE_SURROGATE.sub("\ufffd", value)


def _int64(value: int | None) -> int | None:
    """``value`` when an int64 column holds it, else null (the completion column has it)."""
    return value if value is None or -(2**63) <= value < 2**63 else None


def _tool_calls(calls: Iterable[Any]) -> list[dict[str, str | None]]:
    return [
        {
            "id": _text(call.id),
            "name": _text(call.function.name),
            "arguments": _text(call.function.arguments),
        }
        for call in calls
    ]


def from_struct(value: Any) -> Any:
    """A chunk read from an Arrow struct, its null fields dropped.

    A struct cannot say "absent": every field of the column's type is there,
    null where the chunk had none. Read as absent, a struct chunk folds to the
    same completion as the JSON text it came from.
    """
    if isinstance(value, dict):
        return {key: from_struct(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [from_struct(item) for item in value]
    return value
