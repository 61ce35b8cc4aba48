"""The scalars of :class:`PartialJSON`: string bodies and escapes, numbers, literals.

The structure (containers, keys, commas, the partial value) is the state
machine in ``_partial_json``; this base class reads what sits between its
tokens: an escape or surrogate pair split anywhere, a number digit by digit,
``true``/``false``/``null``/``NaN``/``Infinity`` letter by letter. The parser
states live here because both halves move between them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NoReturn

from ._json_events import JSONEvent, JSONPath, ScalarSet, StringAppended, ValueClosed, ValueKind
from ._jsontext import paired
from ._limits import limit_error

# --- the scanner's tables ------------------------------------------------------------

_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]*')
_WHITESPACE_RUN = re.compile(r"[ \t\n\r]*")
_DIGIT_RUN = re.compile(r"[0-9]*")
_WHITESPACE = " \t\n\r"
_DIGITS = "0123456789"
_HEX = frozenset("0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {
    '"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
}
#: First character -> (the whole literal, its value, its kind).
_LITERALS: dict[str, tuple[str, Any, ValueKind]] = {
    "t": ("true", True, "literal"),
    "f": ("false", False, "literal"),
    "n": ("null", None, "literal"),
    "N": ("NaN", float("nan"), "number"),
    "I": ("Infinity", float("inf"), "number"),
}
_MINUS_INFINITY: tuple[str, Any, ValueKind] = ("-Infinity", float("-inf"), "number")

# Parser states.
_VALUE = 0  # a value must come (the start, after ':' and after ',' in an array)
_ARRAY_FIRST = 1  # after '[': a value or ']'
_OBJECT_FIRST = 2  # after '{': a key or '}'
_KEY = 3  # after ',' in an object: a key
_COLON = 4  # after a key
_AFTER = 5  # after a value inside a container: ',' or the closer
_DONE = 6  # the top-level value is complete: only whitespace may follow
_STRING = 7  # inside a string (a key when _key_mode)
_NUMBER = 8
_LITERAL = 9
_CLOSED = 10

# Number states: what the number text read so far ends with.
_N_MINUS = 0  # "-"
_N_ZERO = 1  # a leading "0"
_N_INT = 2  # integer digits
_N_DOT = 3  # "."
_N_FRAC = 4  # fraction digits
_N_E = 5  # "e"
_N_E_SIGN = 6  # "e+" / "e-"
_N_EXP = 7  # exponent digits
#: The states where the text so far is a whole number (so ``value`` shows it).
_N_WHOLE = (False, True, True, False, True, False, False, True)


class ScalarReader:
    """The scalar half of the parser; ``PartialJSON`` adds the structure and the state."""

    __slots__ = (
        "_emitted",
        "_escape",
        "_high",
        "_key_mode",
        "_literal",
        "_literal_at",
        "_number",
        "_parts",
        "_path",
        "_state",
    )

    # Set by PartialJSON.__init__ (these slots and its own).
    _emitted: int
    _escape: str
    _high: int
    _key_mode: bool
    _literal: tuple[str, Any, ValueKind]
    _literal_at: int
    _number: int
    _parts: list[str]
    _path: JSONPath
    _state: int  # the parser state (_VALUE ... _CLOSED)

    if TYPE_CHECKING:  # the structure's state and hooks, defined by PartialJSON
        _keys: list[str]

        def _attach(self, value: Any) -> None: ...

        def _after_value(self) -> None: ...

        def _fail(self, expected: str, text: str, at: int) -> NoReturn: ...

    # --- strings -------------------------------------------------------------------------

    def _end_string(self, events: list[JSONEvent]) -> None:
        if self._high:
            self._parts.append(chr(self._high))  # a lone high surrogate, as json.loads keeps it
            self._high = 0
        parts = self._parts
        whole = paired("".join(parts))  # a pair split between two fed pieces: one character
        self._parts = []
        if self._key_mode:
            self._keys[-1] = whole
            self._key_mode = False
            self._state = _COLON
            return
        path = self._path
        if len(parts) > self._emitted:
            events.append(StringAppended(path, "".join(parts[self._emitted :])))
        self._attach(whole)
        events.append(ValueClosed(path, whole))
        self._after_value()

    def _pending_escape(self, text: str, i: int) -> int:
        """Finish an escape (or a surrogate pair) begun earlier, as far as ``text`` allows."""
        n = len(text)
        while i < n:
            escape = self._escape
            if not escape:
                if text[i] == "\\":  # maybe the low half of the pending high surrogate
                    self._escape = "\\"
                    i += 1
                    continue
                self._parts.append(chr(self._high))  # it stays a lone surrogate
                self._high = 0
                return i
            c = text[i]
            if escape == "\\":
                if c == "u":
                    self._escape = "\\u"
                    i += 1
                    continue
                simple = _SIMPLE_ESCAPES.get(c)
                if simple is None:
                    self._fail("an escape: one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
                               text, i)
                self._escape = ""
                self._decoded(ord(simple))
                i += 1
            else:
                if c not in _HEX:
                    self._fail("a hex digit (\\u takes four)", text, i)
                escape += c
                i += 1
                if len(escape) < 6:
                    self._escape = escape
                    continue
                self._escape = ""
                self._decoded(int(escape[2:], 16), unicode=True)
            if not self._high:
                return i
        return i

    def _decoded(self, code: int, *, unicode: bool = False) -> None:
        """Add one escaped code unit, pairing surrogates the way json.loads does."""
        high = self._high
        if high:
            self._high = 0
            if unicode and 0xDC00 <= code <= 0xDFFF:
                self._parts.append(chr(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)))
                return
            self._parts.append(chr(high))
        if unicode and 0xD800 <= code <= 0xDBFF:
            self._high = code
        else:
            self._parts.append(chr(code))

    # --- numbers and literals ------------------------------------------------------------

    @staticmethod
    def _number_value(text: str) -> Any:
        if "." in text or "e" in text or "E" in text:
            return float(text)
        try:
            return int(text)
        except ValueError:
            import sys

            raise limit_error(
                "int_max_str_digits", len(text.lstrip("-")), sys.get_int_max_str_digits(),
                "an integer (sys.set_int_max_str_digits)",
            ) from None

    def _scan_number(self, text: str, i: int, events: list[JSONEvent]) -> int:
        n = len(text)
        start = i
        state = self._number
        while i < n:
            c = text[i]
            if c in _DIGITS:
                if state in (_N_INT, _N_FRAC, _N_EXP):
                    match = _DIGIT_RUN.match(text, i)
                    i = match.end() if match is not None else i + 1
                    continue
                if state == _N_MINUS:
                    state = _N_ZERO if c == "0" else _N_INT
                elif state == _N_DOT:
                    state = _N_FRAC
                elif state in (_N_E, _N_E_SIGN):
                    state = _N_EXP
                else:  # _N_ZERO: "01" is not a number; the digit is the next token's
                    break
            elif c == "." and (state in (_N_ZERO, _N_INT)):
                state = _N_DOT
            elif (c == "e" or c == "E") and (state in (_N_ZERO, _N_INT, _N_FRAC)):
                state = _N_E
            elif (c == "+" or c == "-") and state == _N_E:
                state = _N_E_SIGN
            elif c == "I" and state == _N_MINUS:
                self._number = state
                self._literal = _MINUS_INFINITY
                self._literal_at = 1
                self._state = _LITERAL
                return i
            else:
                break
            i += 1
        if i > start:
            self._parts.append(text[start:i])
        self._number = state
        if i < n:  # the number ended at text[i]
            if not _N_WHOLE[state]:
                expected = {_N_MINUS: "a digit after '-'", _N_DOT: "a digit after '.'"}.get(
                    state, "a digit in the exponent"
                )
                self._fail(expected, text, i)
            self._end_number(events)
        return i

    def _end_number(self, events: list[JSONEvent]) -> None:
        number = self._number_value("".join(self._parts))
        self._parts = []
        self._attach(number)
        events.append(ScalarSet(self._path, number))
        self._after_value()

    def _scan_literal(self, text: str, i: int, events: list[JSONEvent]) -> int:
        word, literal_value, _ = self._literal
        at = self._literal_at
        piece = text[i : i + len(word) - at]
        if not word.startswith(piece, at):
            for offset, c in enumerate(piece):
                if c != word[at + offset]:
                    self._fail(f"{word!r} (its next letter {word[at + offset]!r})", text,
                               i + offset)
        at += len(piece)
        i += len(piece)
        if at < len(word):
            self._literal_at = at
            return i
        self._attach(literal_value)
        events.append(ScalarSet(self._path, literal_value))
        self._after_value()
        return i
