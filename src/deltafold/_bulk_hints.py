"""What a bulk job whose body column is missing most likely needs: ``--stream-id``.

Rows that hold one chunk each (a log of chunks, say) read as streams of their
own give every row a wrong answer; the job's error says so and suggests the
option, naming the likely stream-id column. Pure Python over a few sample rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._format import format_of
from ._jsontext import JSONDecodeError, loads

if TYPE_CHECKING:
    from ._bulk_read import BulkOptions

__all__ = ["SNIFF_ROWS", "chunk_rows_hint", "decoded"]

SNIFF_ROWS = 8
"""Rows looked at to tell chunk rows (one chunk or event each) from stream rows."""
_STREAM_ID_WORDS = ("stream", "request", "conversation", "session", "generation", "id")


def decoded(lines: list[bytes]) -> list[dict[str, Any]]:
    """The JSON objects among ``lines`` (anything else is skipped)."""
    rows = []
    for line in lines:
        try:
            row = loads(line)
        except JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _looks_like_chunk(value: Any) -> bool:
    """One streamed chunk or event of any wire format, decoded or as JSON text."""
    if isinstance(value, (bytes, str)):
        if value.lstrip()[:1] not in (b"{", "{"):
            return False
        try:
            value = loads(value)
        except JSONDecodeError:
            return False
    if not isinstance(value, dict):
        return False
    choices = value.get("choices")
    deltas = isinstance(choices, list) and any(
        isinstance(c, dict) and "delta" in c for c in choices
    )
    return (
        deltas
        or value.get("object") == "chat.completion.chunk"
        or format_of(value) in ("responses", "messages")
    )


def chunk_rows_hint(rows: list[dict[str, Any]], options: BulkOptions) -> str:
    """Advice for rows that hold one chunk each, read without a stream id; "" otherwise.

    Appended to the error of a job whose body column is missing: its rows are
    likely chunks, which need ``--stream-id`` (``BulkOptions(stream_id=...)``).
    """
    if options.stream_id is not None:
        return ""
    for row in rows[:SNIFF_ROWS]:
        for name, value in row.items():
            if not _looks_like_chunk(value):
                continue
            others = [n for n in row if n != name]
            guess = next(
                (n for word in _STREAM_ID_WORDS for n in others if word in n.lower()), None
            )
            example = f", e.g. --stream-id {guess}" if guess else ""
            column = "" if name == "chunk" else f" with --column {name}"
            return (
                f"; its rows look like one chunk each (in {name!r}): pass --stream-id naming "
                f"the column of each row's stream{example}{column}, and --order to sort them"
            )
    return ""
