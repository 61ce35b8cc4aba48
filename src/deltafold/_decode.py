"""Turning whatever the caller holds into a chunk dict, and SSE events into chunks.

Accepted chunk forms: a dict (decoded JSON), JSON text or bytes, our typed
``ChatCompletionChunk``, or any object with ``model_dump()`` (the OpenAI
SDK's pydantic chunks). SSE events become chunks here too: ``[DONE]`` ends
the stream and ``event: error`` becomes a chunk with a top-level ``error``;
that holds for event objects given as items as well (deltafold's own and
httpx-sse's, from ``iter_sse()`` / ``aiter_sse()``), read by the same rule.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping
from typing import Any

import attrs

from ._exceptions import ChunkDecodeError, EmptyStreamError, StreamError
from ._jsontext import JSONDecodeError, dumps, loads
from ._plural import plural
from ._redact import Redactor
from ._sentinel import Sentinel
from ._sse import BOM_BYTES

__all__ = [
    "DONE",
    "InputSeen",
    "argument_error",
    "decode_chunk",
    "event_to_chunk",
    "is_done",
    "is_one_item",
    "no_chunk_error",
    "raw_form",
    "shown",
    "sse_event",
    "stream_error",
    "type_name",
]


DONE: Any = Sentinel("DONE")
"""What :func:`event_to_chunk` gives for ``[DONE]``: the stream is over."""


def _loads(raw: bytes | str, position: int) -> dict[str, Any]:
    try:
        value = loads(raw)
    except JSONDecodeError as exc:
        problem: str | None = str(exc) or "invalid JSON"
    else:
        if value.__class__ is dict:
            return value
        problem = None
    # Raised out here, so the error does not keep orjson's as its context (it holds the text).
    if problem is not None:
        named = file_hint(raw) or _sse_hint(raw)
        raise ChunkDecodeError(
            f"event {position}: invalid JSON ({problem}): {_preview(raw)}"
            + (f" ({named})" if named else ""),
            raw=raw,
            position=position,
        )
    raise ChunkDecodeError(
        f"event {position}: expected a JSON object, got {type(value).__name__}: {_preview(raw)}",
        raw=raw,
        position=position,
    )


def _sse_hint(raw: bytes | str) -> str | None:
    """For SSE text where one event's JSON belongs (``feed(body)``, a data line doubled)."""
    head = raw[:16].lstrip()
    head = head.encode("utf-8", "replace") if isinstance(head, str) else bytes(head)
    if head.startswith((b"data:", b"event:")):
        return (
            "it is SSE text, not an event's JSON: a whole body goes to assemble() or "
            "assemble_sse()"
        )
    return None


def _preview(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, (bytes, bytearray)) else raw
    return repr(text[:80]) + ("..." if len(text) > 80 else "")


def decode_chunk(chunk: Any, position: int) -> dict[str, Any] | None:
    """One chunk as a dict; a ChunkDecodeError names the event for anything unreadable.

    None for an SSE event object that holds no chunk (no data, or ``[DONE]``): the
    fold skips it, as the framer's own stream does.
    """
    if chunk.__class__ is dict:
        return chunk
    if isinstance(chunk, (bytes, bytearray, memoryview, str)):
        raw = bytes(chunk) if isinstance(chunk, (bytearray, memoryview)) else chunk
        return _loads(raw, position)
    if isinstance(chunk, dict):
        return dict(chunk)
    if attrs.has(type(chunk)) and callable(getattr(chunk, "to_dict", None)):
        return chunk.to_dict()  # type: ignore[no-any-return]  # a model of any format
    event = sse_event(chunk)
    if event is not None:
        value = event_to_chunk(*event, position)
        return None if value is None or value is DONE else value
    dump = getattr(chunk, "model_dump", None)
    if callable(dump):
        try:
            data = dump(exclude_unset=True)
        except TypeError:
            data = dump()
        if isinstance(data, dict):
            return data
    if isinstance(chunk, Mapping):
        return dict(chunk)
    raise ChunkDecodeError(
        f"event {position}: cannot read a chunk from {type(chunk).__name__}",
        raw=shown(chunk, 2000),
        position=position,
    )


def event_to_chunk(event_type: str, data: str, position: int) -> Any:
    """The chunk an SSE event carries; None for an empty one, ``DONE`` at ``[DONE]``.

    ``event: error`` (Groq's mid-stream errors) becomes ``{"error": ...}`` so
    the fold raises it like an in-band error.
    """
    if event_type == "error":
        try:
            value = loads(data)
        except JSONDecodeError:
            return {"error": {"message": data}}
        if isinstance(value, dict) and "error" in value:
            return value
        return {"error": value}
    if not data or data.isspace():
        return None
    if is_done(data):
        return DONE
    return _loads(data, position)


def is_done(item: Any) -> bool:
    """The one ``[DONE]`` test: an event's data, or an item of an iterable (text or bytes,
    or an SSE event object whose data it is, unless it is an ``event: error``).

    Surrounding whitespace is allowed; anything else is not the end marker.
    """
    if isinstance(item, str):
        return item.strip() == "[DONE]"
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item).strip() == b"[DONE]"
    event = sse_event(item)
    return event is not None and event[0] != "error" and is_done(event[1])


def sse_event(item: Any) -> tuple[str, str] | None:
    """The type and data of an SSE event object given as an item, else None.

    deltafold's own ``ServerSentEvent`` and httpx-sse's (``iter_sse()`` / ``aiter_sse()``)
    are read by duck type: a class of that name with a text ``event`` and ``data`` (ids
    and retry fields do not matter). The core imports no HTTP library for it, and the
    name test comes first, so a chunk object costs one comparison.
    """
    if item.__class__.__name__ != "ServerSentEvent":
        return None
    kind = getattr(item, "event", None)
    data = getattr(item, "data", None)
    if kind.__class__ is str and data.__class__ is str:
        return kind, data
    return None


def is_one_item(value: Any) -> bool:
    """A single chunk or completion rather than many: a mapping, a typed or pydantic model.

    Checked once per call, so ``assemble(chunk)`` folds it instead of iterating its keys
    (a pydantic model iterates as field pairs).
    """
    if isinstance(value, Mapping):
        return True
    # An attrs model of any format (a chunk, a completion, a Response, a Message...).
    return attrs.has(type(value)) or callable(getattr(value, "model_dump", None))


# --- wrong argument types -------------------------------------------------------------

_TEXT = (bytes, bytearray, memoryview, str)


def argument_error(
    func: str, value: Any, accepted: str, *, what: str | None = None, module: str = "deltafold"
) -> TypeError:
    """The TypeError for a wrong argument: what came, what is accepted, and the fitting hint.

    ``what`` replaces "got X" when the fault is inside the argument (``piece 3 is X``).
    ``module`` is the namespace of the entry point called (``deltafold.responses``): the
    error names that format's functions, never chat's to a Responses or Messages user.
    """
    hint = _hint(func, value, module)
    got = what or f"got {type_name(value)}"
    called = func if module == "deltafold" else f"{module}.{func}"
    return TypeError(f"{called}() takes {accepted}; {got}" + (f" ({hint})" if hint else ""))


def type_name(value: Any) -> str:
    if value is None:
        return "None"
    cls = type(value)
    module = cls.__module__
    name = cls.__qualname__
    return name if module in ("builtins", "deltafold") or module.startswith("deltafold.") else (
        f"{module.partition('.')[0]}.{name}"
    )


def _hint(func: str, value: Any, module: str = "deltafold") -> str | None:
    """The likely mix-up behind a wrong argument, as advice; None when there is no better one."""
    named = file_hint(value)
    if named:
        return named
    is_async = hasattr(value, "__aiter__")
    if is_async and not hasattr(value, "__iter__") and func != "afold":
        return f"an async iterable: use {module}.afold(), then `await afold(stream).until_done()`"
    if inspect.isawaitable(value):
        return "an awaitable: await it first"
    body = f"a whole body goes to {module}.assemble() or assemble_sse()"
    one = "one chunk or completion" if module == "deltafold" else "one event or whole object"
    if func == "afold" and hasattr(value, "__iter__"):
        if isinstance(value, _TEXT):
            return body
        return f"a sync iterable: use {module}.fold(), or assemble() for the result only"
    if func == "fold":
        if isinstance(value, _TEXT):
            return body
        if is_one_item(value):
            return f"{one} goes to {module}.assemble()"
    if func == "assemble_sse" and (is_one_item(value) or isinstance(value, (list, tuple))):
        decoded = "decoded chunks or a completion" if module == "deltafold" else (
            "decoded events or a whole object"
        )
        return f"{decoded} go to {module}.assemble()"
    if isinstance(value, os.PathLike):
        return f"read the file first: {func}(Path(...).read_bytes())"
    return None


_PATH_MAX = 4096


def file_hint(value: object) -> str | None:
    """For text that is the name of an existing file rather than its content: say to read it.

    The one rule behind every entry point that takes a body or JSON text (``assemble``,
    ``assemble_sse``, ``fold``, ``afold``, ``Accumulator.feed``): ``assemble("rec.sse")``
    folds the seven characters, so the error it ends in names the file instead.
    Only checked on the way to an error, never while folding.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str) or len(value) > _PATH_MAX:
        return None
    name = value.strip()
    if not name or "\n" in name:
        return None
    try:
        if not os.path.isfile(name):
            return None
    except (OSError, ValueError):  # not a usable path (a NUL character, say)
        return None
    return f"{name!r} names a file, not its content: read it first, Path({name!r}).read_bytes()"


# --- input that held no chunk -----------------------------------------------------------

BODY = "body"
"""Text framed as SSE: ``assemble`` of bytes/str, ``assemble_sse``, the CLI."""
STREAM = "stream"
"""An HTTP event stream."""
ITEMS = "items"
"""An iterable of chunks: ``assemble(list)``, ``fold``, ``afold``."""
ARRAY = "array"
"""A body holding a JSON array of chunks."""

_SAMPLE_BYTES = 4096
_HEAD_CHARS = 40
_LINES = re.compile(rb"\r\n|\r|\n")
_SSE_FIELDS = frozenset({b"event", b"id", b"retry"})


class InputSeen:
    """What an entry point saw of its input, kept to say what it was if it held no chunk.

    It is filled on rare branches only (the first pieces of a body, ``[DONE]``), so the
    fold pays nothing for it; ``Accumulator.result`` reads it once, when nothing was folded.
    """

    __slots__ = ("done", "form", "sample", "sampling", "size")

    def __init__(self, form: str) -> None:
        self.form = form
        self.sample: bytes | str = b""
        self.sampling = True
        """True while the first bytes are still being kept."""
        self.size = 0
        """Bytes of a body seen (set when it ended), to tell empty from whitespace."""
        self.done = False
        """``[DONE]`` ended the input."""

    def take(self, piece: bytes | str) -> bool:
        """Keep the start of the body; False once enough is kept (the caller stops calling)."""
        if not isinstance(piece, (bytes, str)):
            piece = bytes(piece[:_SAMPLE_BYTES])
        if not self.sample:
            self.sample = piece[:_SAMPLE_BYTES]
        elif isinstance(piece, type(self.sample)):
            self.sample += piece[: _SAMPLE_BYTES - len(self.sample)]  # type: ignore[operator]
        self.sampling = len(self.sample) < _SAMPLE_BYTES
        return self.sampling

    def drop(self) -> None:
        """A chunk was folded: the sample, which only describes input without one, goes."""
        self.sample = b""
        self.sampling = False

    def describe(self) -> str:
        """What the input was, for an input that produced no chunk."""
        if self.form in (ITEMS, ARRAY):
            where = "the iterable" if self.form == ITEMS else "the body is a JSON array that"
            if self.done:
                return f"{where} holds only [DONE]"
            return "the iterable is empty" if self.form == ITEMS else "the body is an empty array"
        return _describe_text(self.sample, self.size, self.done)

    def head(self) -> bytes | str | None:
        """The first bytes, credentials scrubbed; None when nothing was seen."""
        if not self.sample:
            return None
        return _scrubbed(self.sample[: _HEAD_CHARS * 4])[:_HEAD_CHARS]


def _scrubbed(text: bytes | str) -> bytes | str:
    if isinstance(text, str):
        return Redactor.guess(text)
    return Redactor.guess(text.decode("latin-1")).encode("latin-1")


def _describe_text(sample: bytes | str, size: int, done: bool) -> str:
    raw = sample.encode("utf-8", "surrogatepass") if isinstance(sample, str) else bytes(sample)
    raw = raw.removeprefix(BOM_BYTES)
    named = file_hint(raw) if size <= len(sample) else None
    if named:
        return named
    if not raw.strip():
        if done:
            return "it holds only [DONE]"
        return "the input is empty" if not raw else "the input is only whitespace"
    comments = data = fields = other = 0
    for line in _LINES.split(raw):
        if not line.strip():
            continue
        name = line.partition(b":")[0]
        if not name:
            comments += 1
        elif name == b"data":
            data += 1
        elif name in _SSE_FIELDS:
            fields += 1
        else:
            other += 1
    if done:
        what = "it holds only " + ("comments (keep-alives) and [DONE]" if comments else "[DONE]")
    elif data:
        what = "its SSE events carry no data"
    elif other:
        what = _not_sse(raw)
    elif fields:
        what = "its SSE events have no 'data:' line"
    else:
        what = "it holds only SSE comments (keep-alives)"
    head = _scrubbed(sample[: _HEAD_CHARS * 4])
    more = "..." if len(head) > _HEAD_CHARS or size > len(sample) else ""
    return f"{what}; it starts with {head[:_HEAD_CHARS]!r}{more}"


def _not_sse(raw: bytes) -> str:
    """What a body with lines that are not SSE is: gzip, JSON (given as SSE), or neither."""
    if raw[:2] == b"\x1f\x8b":
        return (
            "it is gzip-compressed: decompress it first (gzip.decompress(body)); "
            "`deltafold assemble FILE` reads gzip files as they are"
        )
    scalar = _json_scalar(raw)
    if scalar:
        return scalar
    first = raw.lstrip().split(b"\n", 1)[0]
    try:
        loads(first)
    except JSONDecodeError:
        return "it is not SSE (no 'data:' line), not JSON lines, not a JSON array or object"
    return "it is JSON lines, not SSE (no 'data:' line): assemble() reads JSON lines"


def _json_scalar(raw: bytes) -> str | None:
    """For a body that is one JSON value: a scalar (``null``, ``5``), or JSON given as SSE."""
    try:
        value = loads(raw)
    except JSONDecodeError:
        return None
    if isinstance(value, (list, dict)):
        kind = "array" if isinstance(value, list) else "object"
        return f"it is a JSON {kind}, not SSE (no 'data:' line): assemble() reads it"
    kind = "null" if value is None else type(value).__name__
    return f"it is a JSON {kind}, not a chunk, a completion or a list of them"


def no_chunk_error(
    seen: InputSeen | None, count: int, keys: list[str], partial: Any
) -> EmptyStreamError:
    """The error for input in which no item was a chat-completion chunk.

    ``count`` items arrived; ``keys`` are the top-level fields they did carry (none known).
    """
    lead = (
        "the stream ended without any chat-completion chunk"
        if seen is not None and seen.form == STREAM
        else "no chat-completion chunk in the input"
    )
    head = seen.head() if seen is not None else None
    if count:
        items = plural(count, "item")
        held = ", ".join(repr(k) for k in keys[:5]) + (", ..." if len(keys) > 5 else "")
        which = f"; {'it' if count == 1 else 'they'} held only {held}" if keys else ""
        return EmptyStreamError(
            f"{lead}: {items} arrived but none carried a chat-completion field "
            f"(id, object, choices, usage, model...){which}",
            head=head,
            partial=partial,
        )
    if seen is None:
        return EmptyStreamError(f"{lead}: no chunk was fed")
    return EmptyStreamError(f"{lead}: {seen.describe()}", head=head)


def stream_error(error: Any, position: int) -> StreamError:
    """The StreamError of an in-band ``error`` the fold met at event ``position``."""
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        metadata = error.get("metadata")
    else:
        code, message, metadata = None, error, None
    if not isinstance(code, (int, str)) or isinstance(code, bool):
        code = None
    text = message if isinstance(message, str) and message else shown(error, 500)
    label = f" ({code})" if code is not None else ""
    return StreamError(
        f"the stream reported an error at event {position}{label}: {text}",
        message=text,
        code=code,
        metadata=metadata,
        error=error,
        position=position,
    )


def shown(value: Any, limit: int) -> str:
    """``repr(value)`` cut to ``limit`` characters; safe for a value nested too deep to show."""
    try:
        return repr(value)[:limit]
    except RecursionError:
        return f"<{type(value).__name__} nested too deep to show>"


def raw_form(chunk: Any) -> bytes | str:
    """What an error keeps of a chunk: its JSON when it has one, else a bounded repr."""
    try:
        return dumps(chunk)
    except (TypeError, ValueError):
        return shown(chunk, 10_000)
