"""JSON text in and out with the values ``json.loads`` gives, at orjson's speed when it can.

orjson reads and writes the common case; on a few values a server may send it
differs from the standard library, and the fallbacks here cover exactly those:

- An integer outside ``-2**63 .. 2**64 - 1``: orjson reads it as a rounded float
  and refuses to write it. Such an integer has at least 19 digits in a row, so
  :func:`loads` reads a text holding such a run (:func:`rounds_ints`: two C passes
  over the bytes) again with ``json.loads``, and :func:`dumps` writes a value
  orjson refuses with ``json.dumps``. An SSE body is checked a piece at a time
  (:class:`RunWatch`), so only the events of a piece holding such a run are.
- ``NaN``, ``Infinity``, ``-Infinity`` (a number too large for a float reads as
  one too), and a lone surrogate escape (``"\\ud83d"``): orjson refuses to read
  them, so :func:`loads` falls back when orjson raises. orjson writes a NaN or an
  infinity as ``null``; :func:`dumps` writes them as ``json.dumps`` does.
- A surrogate pair split between two texts (a UTF-16 gateway cutting ``"\\ud83d"``
  from ``"\\ude00"``) is two code units until the texts are joined: :func:`paired`
  makes it one character, as ``json.loads`` does for a pair in one text.

A text both refuse keeps orjson's error. A leaf module: it imports nothing from
deltafold, so every layer may use it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

__all__ = [
    "OPT_INDENT_2",
    "OPT_SORT_KEYS",
    "JSONDecodeError",
    "RunWatch",
    "dumps",
    "loads",
    "paired",
    "rounds_ints",
]

JSONDecodeError = orjson.JSONDecodeError
"""What :func:`loads` raises (a ``json.JSONDecodeError``, so a ``ValueError``)."""
OPT_INDENT_2 = orjson.OPT_INDENT_2
OPT_SORT_KEYS = orjson.OPT_SORT_KEYS
"""The options :func:`dumps` takes (orjson's)."""

_orjson_loads = orjson.loads
_orjson_dumps = orjson.dumps
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else b if b == 0x2E else 0x20 for b in range(256))
"""``bytes.translate`` table: a digit becomes ``0``, a point stays, any other byte is a space."""
_RUN = b"0" * 19
"""The shortest digit run orjson may read as a float: ``-9223372036854775809``."""
_LONG_RUN = b" " + _RUN
"""That run after anything but a point: the digits of a fraction are a float either way."""
_WINDOW = 1 << 20
"""A longer text is scanned this many bytes at a time (a copy of a window, not of it all)."""
_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def rounds_ints(data: bytes | str) -> bool:
    """Whether orjson may have read an integer of ``data`` as a float (19 digits in a row).

    A run of a fraction's digits does not count (orjson and json.loads read the same
    float); a run inside a string does: it only costs a slower read.
    """
    if len(data) > _WINDOW:
        step = _WINDOW - len(_LONG_RUN)
        return any(rounds_ints(data[at : at + _WINDOW]) for at in range(0, len(data), step))
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    marked = raw.translate(_DIGITS)
    # The bare run first: a needle of one repeated byte skips through a text of few digits
    # many bytes at a time, while one that starts with a space (a byte the text is full of)
    # is searched a byte at a time in a text shorter than ~30 KB (CPython's fastsearch).
    return _RUN in marked and (_LONG_RUN in marked or marked.startswith(_RUN))


_CLEAN_BYTES = (b"\n\n", b"\r\n\r\n", b"\r\r")
_CLEAN_TEXT = ("\n\n", "\r\n\r\n", "\r\r")
"""How a piece ends when it leaves no event half read (a blank line)."""


class RunWatch:
    """Which events of an SSE body need :func:`rounds_ints`, told a piece at a time.

    One check of each piece read (a 256 KiB window of a recorded body: one call
    instead of one per event) says whether the events it completes may hold a
    19-digit run. A run can also span two pieces
    (a digit ends one, a digit starts the next), and an event left half read by a
    piece carries the suspicion to the events the next piece completes. An empty
    piece (a reader may hand one out) changes nothing: a run can span it too.
    """

    __slots__ = ("carry", "digit")

    def __init__(self) -> None:
        self.carry = False
        """An event left half read by a suspect piece may hold a run."""
        self.digit = False
        """The last piece ended with a digit."""

    def feed(self, piece: bytes | bytearray | memoryview | str) -> bool:
        """Whether the events framed with ``piece`` (given before them) need the check."""
        if isinstance(piece, str):
            clean = piece.endswith(_CLEAN_TEXT)
        else:
            piece = bytes(piece) if piece.__class__ is not bytes else piece
            clean = piece.endswith(_CLEAN_BYTES)
        if not piece:  # it would forget the digit the last piece ended with
            return self.carry
        check = self.carry or rounds_ints(piece) or (self.digit and piece[:1].isdigit())
        self.carry = check and not clean
        self.digit = piece[-1:].isdigit()
        return check


def loads(data: bytes | str) -> Any:
    """``json.loads(data)``'s value: orjson's, unless ``data`` needs the standard library.

    Raises :data:`JSONDecodeError` (orjson's) for a text neither reads.
    """
    try:
        value = _orjson_loads(data)
    except JSONDecodeError as exc:
        try:
            return _stdlib_loads(data)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, too many digits, too deep
            pass
        raise exc from None
    if rounds_ints(data):
        try:
            return _stdlib_loads(data)
        except RecursionError:  # deeper than the stdlib reads (orjson reads 1024 levels)
            pass
    return value


def _stdlib_loads(data: bytes | str) -> Any:
    # Bytes must be UTF-8 here: json.loads would also guess UTF-16 and UTF-32.
    return json.loads(data.decode() if isinstance(data, bytes) else data)


def dumps(value: Any, option: int = 0) -> bytes:
    """``value`` as JSON text: orjson's, unless it holds what orjson cannot write exactly.

    An integer beyond 64 bits, a lone surrogate (written as its ``\\u`` escape),
    a NaN or an infinity (``NaN``, ``Infinity``, ``-Infinity``, as ``json.dumps``
    writes them) are written by the standard library. ``option`` takes orjson's
    ``OPT_INDENT_2`` and ``OPT_SORT_KEYS``. Another value orjson refuses raises
    orjson's ``JSONEncodeError`` (a ``TypeError``).
    """
    try:
        text = _orjson_dumps(value, option=option)
    except orjson.JSONEncodeError as exc:
        return _stdlib_dumps(value, option, exc)
    # orjson writes a NaN or an infinity as null: only then can one have been there.
    if b"null" in text and _has_nonfinite(value):
        return _stdlib_dumps(value, option, None)
    return text


def _stdlib_dumps(value: Any, option: int, error: Exception | None) -> bytes:
    indent = 2 if option & OPT_INDENT_2 else None
    sort_keys = bool(option & OPT_SORT_KEYS)
    separators = (",", ": ") if indent else (",", ":")
    try:
        text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators,
                          sort_keys=sort_keys)
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate: written as its escape
            return json.dumps(value, indent=indent, separators=separators,
                              sort_keys=sort_keys).encode()
    except (TypeError, ValueError, RecursionError):
        if error is None:
            raise
        raise error from None


def _has_nonfinite(value: Any) -> bool:
    """Whether a NaN or an infinity may be in ``value``; one walk over the containers.

    A list of numbers only (a logprob's ``bytes``) is summed in C instead of walked:
    a NaN or an infinity makes the sum one (so may a sum that overflows: then the
    standard library writes a text that had no need to, exactly as well).
    """
    stack = [value]
    pop = stack.pop
    extend = stack.extend
    isfinite = math.isfinite
    while stack:
        item = pop()
        kind = item.__class__
        if kind is dict:
            extend(item.values())
        elif kind is list or kind is tuple:
            first = item[0].__class__ if item else None
            if first is not int and first is not float:
                extend(item)
                continue
            try:
                if not isfinite(sum(item)):
                    return True
            except (TypeError, OverflowError):  # not numbers only, or an int beyond floats
                extend(item)
        elif kind is float and not isfinite(item):
            return True
    return False


def paired(text: str) -> str:
    """``text`` with each high surrogate followed by a low one made one character.

    For text joined from fragments; an ASCII text is returned at once.
    """
    if text.isascii() or _PAIR.search(text) is None:
        return text
    return _PAIR.sub(_join_pair, text)


def _join_pair(match: re.Match[str]) -> str:
    high, low = match.group()[0], match.group()[1]
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))
