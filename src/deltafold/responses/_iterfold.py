"""``fold`` / ``afold`` for Responses streams: the shared iterable folds, this format's fold.

The items (dicts, JSON text or bytes, the OpenAI SDK's typed events) pass through
unchanged; ``.completion`` is the folded :class:`Response` once the source ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TypeVar

from .._iterfold import AsyncFold, Fold
from .._json_fold import ParseJSON
from .._limits import Limits
from ._format import RESPONSES
from ._models import Response

__all__ = ["afold", "fold"]

EventT = TypeVar("EventT")


def afold(
    source: AsyncIterable[EventT],
    *,
    strict: bool = True,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> AsyncFold[EventT, Response]:
    """Wrap an async iterable of Responses events (the OpenAI SDK's ``AsyncStream``...).

    ``async for`` yields the items unchanged; ``.completion`` is the folded response.
    With ``strict`` (the default) a source that ends without a terminal event raises
    :class:`IncompleteStreamError` with ``.partial``.
    """
    return AsyncFold(source, strict=strict, limits=limits, parse_json=parse_json, fmt=RESPONSES)


def fold(
    source: Iterable[EventT],
    *,
    strict: bool = True,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> Fold[EventT, Response]:
    """Wrap an iterable of Responses events; the sync twin of :func:`afold`."""
    return Fold(source, strict=strict, limits=limits, parse_json=parse_json, fmt=RESPONSES)
