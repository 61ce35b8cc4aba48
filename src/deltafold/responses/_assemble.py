"""Whole recorded Responses streams in, typed ``Response`` objects out.

``assemble`` and ``assemble_sse`` are the shared ones (``_assemble.fold_whole``)
run with the Responses format: the same input forms, framing and byte caps as
chat. ``assemble_all`` takes a body holding several responses one after another
(a recorded multi-step exchange), split where a ``response.created`` follows a
terminal event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._assemble import feed_whole, fold_whole, fold_whole_sse
from .._json_fold import ParseJSON
from .._limits import Limits
from ._fold import Accumulator
from ._format import RESPONSES
from ._models import Response

__all__ = ["assemble", "assemble_all", "assemble_sse"]


def assemble(
    src: Iterable[Any] | bytes | str | dict[str, Any],
    *,
    strict: bool = True,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> Response:
    """Fold a whole Responses stream into one :class:`Response`.

    ``src`` is a recorded body (SSE, JSON lines or a JSON array of events, or one
    response object as the non-streaming call returns it), an iterable of events
    (dicts, JSON text or bytes, typed), or one response dict. A body holding several
    responses raises :class:`MultipleResponsesError` (use :func:`assemble_all`);
    a chat or Anthropic body a :class:`WrongFormatError` naming the function for it.
    With ``strict`` (the default) a stream without a terminal event raises
    :class:`IncompleteStreamError` with ``.partial``. ``parse_json`` parses function-call
    arguments (True, ``"arguments"``) and/or the output text (``"content"``, ``"all"``)
    as they stream.
    """
    return fold_whole(RESPONSES, src, strict=strict, limits=limits, parse_json=parse_json)


def assemble_sse(
    body: bytes | str | Iterable[bytes | str],
    *,
    strict: bool = True,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> Response:
    """Fold a recorded SSE body (bytes, text, or pieces cut anywhere) into one response."""
    return fold_whole_sse(RESPONSES, body, strict=strict, limits=limits, parse_json=parse_json)


def assemble_all(
    src: Iterable[Any] | bytes | str,
    *,
    strict: bool = True,
    limits: Limits | None = None,
    parse_json: ParseJSON = False,
) -> list[Response]:
    """Fold a body holding one or more responses one after another: one ``Response`` each.

    A new response begins at a ``response.created`` that follows a terminal event.
    """
    done: list[Response] = []
    first = Accumulator(limits=limits, parse_json=parse_json)
    current = [first]

    def consume(event: Any) -> None:
        acc = current[0]
        if (
            acc.terminal is not None and event.__class__ is dict
            and event.get("type") == "response.created"
        ):
            done.append(acc.result(strict=strict))
            current[0] = Accumulator(limits=limits, parse_json=parse_json)
        current[0].add(event)

    feed_whole(src, consume, first, func="assemble_all", module="deltafold.responses")
    last = current[0]
    if last is not first:
        last._input = first._input
    done.append(last.result(strict=strict))
    return done
