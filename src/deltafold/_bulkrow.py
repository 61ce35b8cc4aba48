"""One output row of bulk assembly: a stream in, ``assemble``'s answer out as flat values.

The rule every engine shares (Arrow batches, the local process pool, Ray, DuckDB):
a stream's row is exactly what :func:`~deltafold.assemble_any` gives for it with
default options (the format told from the stream, or named), the result or the error
it raises, flattened by the format's own ``Summary``. An error never escapes: its class name and
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

from ._chat_format import CHAT
from ._convert import to_dict
from ._exceptions import EmptyStreamError
from ._format import Summary, WireFormat
from ._formats import ASSEMBLE, AUTO, FORMATS, name_the_formats, sniff
from ._jsontext import dumps

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
    "format",
)
"""The output columns, in order (their Arrow types: ``_arrow.BULK_SCHEMA``)."""

_NONE_ROW: tuple[Any, ...] = (None,) * (len(COLUMNS) - 4)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def fold_stream(body: Any, format: str = AUTO) -> tuple[Any, ...]:
    """The row for one recorded body (bytes or text; anything else is assemble's TypeError).

    ``format`` is ``"auto"`` (told from the stream's first events, as
    :func:`~deltafold.assemble_any` tells it) or a format's name.
    """
    name = None if format == AUTO else format
    try:
        if name is None:
            name, body = sniff(body)
        result = ASSEMBLE[name or "chat"](body)
    except Exception as exc:  # a bad row never fails the batch: it becomes an error row
        if name is None and isinstance(exc, EmptyStreamError):
            exc = name_the_formats(exc)
        partial = getattr(exc, "partial", None)
        fmt = FORMATS[name] if name is not None else CHAT if partial is not None else None
        return row_of(fmt, partial, exc)
    return row_of(FORMATS[name or "chat"], result, None)


def fold_chunks(chunks: Sequence[Any], format: str = AUTO) -> tuple[Any, ...]:
    """The row for one stream given as its events in order (JSON text, bytes or dicts)."""
    return fold_stream(list(chunks), format)


def row_of(
    fmt: WireFormat[Any, Any] | None, result: Any, error: BaseException | None
) -> tuple[Any, ...]:
    """The flat values of ``result`` (null when None) and of ``error``, in ``COLUMNS`` order.

    The flat columns are the format's :class:`Summary` of the result, so every format
    fills them by its own rule; ``format`` names it (null when no format was told).
    """
    error_type = None if error is None else type(error).__name__
    error_message = None if error is None else _text(str(error))
    name = None if fmt is None else fmt.name
    if result is None or fmt is None:
        return (None, error_type, error_message, *_NONE_ROW, name)
    summary: Summary = fmt.summarize(result)
    return (
        dumps(to_dict(result)).decode(),
        error_type,
        error_message,
        _text(summary.id),
        _text(summary.model),
        _text(summary.provider),
        _int64(summary.created),
        summary.n_choices,
        _text(summary.role),
        _text(summary.content),
        _text(summary.refusal),
        _text(summary.reasoning),
        _text(summary.finish_reason),
        None if summary.tool_calls is None else _tool_calls(summary.tool_calls),
        _int64(summary.input_tokens),
        _int64(summary.output_tokens),
        _int64(summary.total_tokens),
        _int64(summary.reasoning_tokens),
        _int64(summary.cached_tokens),
        summary.cost,
        name,
    )


def _text(value: str | None) -> str | None:
    """``value`` as a UTF-8 column holds it: a lone surrogate becomes U+FFFD."""
    if value is None or value.isascii() or _LONE_SURROGATE.search(value) is None:
        return value
    return _LONE_SURROGATE.sub("\ufffd", value)


def _int64(value: int | None) -> int | None:
    """``value`` when an int64 column holds it, else null (the completion column has it)."""
    return value if value is None or -(2**63) <= value < 2**63 else None


def _tool_calls(calls: Iterable[dict[str, Any]]) -> list[dict[str, str | None]]:
    """Each call's id, name and arguments as text (a Messages tool's ``input`` as JSON)."""
    return [
        {
            "id": _text(call["id"]),
            "name": _text(call["name"]),
            "arguments": _arguments(call["arguments"]),
        }
        for call in calls
    ]


def _arguments(value: Any) -> str | None:
    if value is None or value.__class__ is str:
        return _text(value)
    return _text(dumps(value).decode())


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
