"""An incremental JSON parser: it reads each new fragment once, never the whole text again.

Streamed tool arguments and structured output arrive a few characters at a
time. Re-parsing the accumulated text on every fragment (what jiter's partial
mode, partial-json-parser and LangChain do when called per chunk) costs time
proportional to the text so far, so a whole stream costs its length squared.
:class:`PartialJSON` is a state machine instead: ``feed`` scans only the new
fragment (string bodies, whitespace and digit runs with precompiled regexes,
not a Python loop per character), keeps the containers it builds live and
reports what changed as small events.

The partial value follows jiter's ``partial_mode="trailing-strings"``: an open
string is shown as far as it has been read (an escape or surrogate pair still
being read is left out), an incomplete key, an incomplete literal and a
number that is not yet a number (``-``, ``1.``, ``1e+``) are left out, and a
number that is one so far (``12`` of what may become ``123``) is shown.

Cost: ``feed`` is linear in the fragment. Reading ``value`` is constant time
except for the one scalar still being written: an open string is held as its
parts and joined into its container when ``value`` is read, so reading
``value`` after every fragment of one long growing string costs that string's
length per read (the same for a very long number). Containers are updated in
place, so the object ``value`` returns keeps changing: copy it to keep a
snapshot, and do not modify it.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ._exceptions import DeltafoldError, JSONParseError, LimitExceededError, StreamUsageError
from ._json_events import (
    JSONEvent,
    JSONPath,
    ScalarSet,
    StringAppended,
    ValueClosed,
    ValueKind,
    ValueStarted,
    path_text,
)
from ._json_scalars import (
    _AFTER,
    _ARRAY_FIRST,
    _CLOSED,
    _COLON,
    _DIGITS,
    _DONE,
    _KEY,
    _LITERAL,
    _LITERALS,
    _N_MINUS,
    _N_WHOLE,
    _NUMBER,
    _OBJECT_FIRST,
    _STRING,
    _STRING_RUN,
    _VALUE,
    _WHITESPACE,
    _WHITESPACE_RUN,
    ScalarReader,
)
from ._limits import Limits, limit_error

__all__ = [
    "JSONEvent",
    "JSONPath",
    "PartialJSON",
    "ScalarSet",
    "StringAppended",
    "ValueClosed",
    "ValueKind",
    "ValueStarted",
]

_EXPECTED = {
    _VALUE: "a value",
    _ARRAY_FIRST: "a value or ']'",
    _OBJECT_FIRST: "a key (a string in double quotes) or '}'",
    _KEY: "a key (a string in double quotes)",
    _COLON: "':' after the key",
}

_IN_STRING = "a character or an escape (control characters must be escaped)"

_MISSING = object()


class PartialJSON(ScalarReader):
    """Parse one JSON value from fragments of text, with a usable partial value all along.

    ``feed(fragment)`` returns the events of that fragment; ``value`` is the
    value so far; ``complete`` tells whether a whole value has been read;
    ``close()`` checks the end and returns the final value, equal to
    ``json.loads`` of the whole text (ints of any size up to Python's
    int-string limit, floats from the literal text, ``NaN``/``Infinity`` and
    lone surrogate escapes as ``json.loads`` reads them).

    Invalid text raises :class:`JSONParseError` (its ``.position`` is the
    character offset in the whole text) at the ``feed`` that made it invalid;
    nesting deeper than ``Limits.max_json_depth`` raises
    :class:`LimitExceededError`. After an error every ``feed`` and ``close``
    raises the same error again, and ``value`` keeps what was read before it.
    Whitespace after a complete value is accepted; anything else is an error.
    """

    __slots__ = (
        "_error",
        "_keys",
        "_max_depth",
        "_offset",
        "_paths",
        "_provisional",
        "_provisional_prev",
        "_root",
        "_stack",
    )

    def __init__(self, *, limits: Limits | None = None) -> None:
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError(f"limits must be a deltafold.Limits, not {type(limits).__name__}")
        self._max_depth = (limits or Limits()).max_json_depth
        self._state = _VALUE
        self._error: DeltafoldError | None = None
        self._offset = 0  # characters fed before the current fragment
        self._root: Any = None
        self._stack: list[Any] = []  # the open containers, innermost last
        self._paths: list[JSONPath] = []  # the path of each open container
        self._keys: list[str] = []  # each open object's current key ("" for arrays)
        self._path: JSONPath = ()  # the path of the scalar being read
        self._parts: list[str] = []  # the scalar's text so far (decoded, for strings)
        self._emitted = 0  # how many of _parts were reported as StringAppended
        self._key_mode = False  # the string being read is an object key
        self._escape = ""  # an escape read in part: "\\", "\\u", "\\u0"...
        self._high = 0  # a \\u high surrogate waiting for its low half
        self._number = _N_MINUS
        self._literal: tuple[str, Any, ValueKind] = _LITERALS["t"]
        self._literal_at = 0
        self._provisional = False  # value wrote the open scalar into its container
        self._provisional_prev: Any = _MISSING

    # --- the public surface ------------------------------------------------------------

    @property
    def complete(self) -> bool:
        """Whether a whole value has been read (a top-level number only once it ended)."""
        return self._state == _DONE or self._state == _CLOSED

    @property
    def value(self) -> Any:
        """The value so far (None before any value shows); never raises.

        Costs nothing beyond the scalar being written: see the module docs.
        """
        state = self._state
        shown: Any = _MISSING
        if state == _STRING and not self._key_mode:
            parts = self._parts
            if len(parts) > 1:
                joined = "".join(parts)
                parts[:] = [joined]
                self._emitted = 1
            shown = parts[0] if parts else ""
        elif state == _NUMBER and _N_WHOLE[self._number]:
            try:
                shown = self._number_value("".join(self._parts))
            except (ValueError, LimitExceededError):
                shown = _MISSING
        if not self._stack:
            if shown is not _MISSING:
                return shown
            return self._root
        if shown is _MISSING:
            self._unshow()
        else:
            self._show(shown)
        return self._root

    def feed(self, text: str) -> list[JSONEvent]:
        """Read the next fragment and return what it changed, in order.

        Raises :class:`JSONParseError` when the fragment makes the text invalid.
        """
        if self._error is not None:
            raise self._error
        if not isinstance(text, str):
            raise TypeError(
                f"PartialJSON.feed() takes str, not {type(text).__name__}"
                + (" (decode the bytes first)" if isinstance(text, bytes | bytearray) else "")
            )
        n = len(text)
        if self._state == _STRING and not self._escape and not self._high:
            # The common case: the whole fragment is more of the open string.
            match = _STRING_RUN.match(text)
            if match is not None and match.end() == n:
                self._offset += n
                if not n:
                    return []
                self._parts.append(text)
                if self._key_mode:
                    return []
                self._emitted += 1
                return [StringAppended(self._path, text)]
        if self._state == _CLOSED:
            raise StreamUsageError("PartialJSON.feed() after close()")
        events: list[JSONEvent] = []
        try:
            self._scan(text, events)
        except DeltafoldError as error:
            self._error = error
            raise
        self._offset += n
        return events

    def close(self, events: list[JSONEvent] | None = None) -> Any:
        """Check that the text is one whole value and return it (again on later calls).

        Only a top-level number ends here (``42`` may go on as ``420`` until the
        text ends); its ``ScalarSet`` is appended to ``events`` when given.
        Raises :class:`JSONParseError` when the text ended early, with what was expected.
        """
        if self._error is not None:
            raise self._error
        state = self._state
        if state == _CLOSED:
            return self._root
        try:
            if state == _NUMBER:
                if not _N_WHOLE[self._number]:
                    self._fail_end("a digit")
                self._end_number([] if events is None else events)
                state = self._state
            if state != _DONE:
                if state == _STRING:
                    self._fail_end("'\"' closing the string")
                elif state == _LITERAL:
                    self._fail_end(repr(self._literal[0]))
                elif state == _AFTER:
                    closer = "']'" if type(self._stack[-1]) is list else "'}'"
                    self._fail_end(f"',' or {closer}")
                self._fail_end(_EXPECTED[state])
        except DeltafoldError as error:
            self._error = error
            raise
        self._state = _CLOSED
        return self._root

    def __repr__(self) -> str:
        return f"<PartialJSON {self._offset} characters, complete={self.complete}>"

    # --- the partial value -------------------------------------------------------------

    def _show(self, shown: Any) -> None:
        """Put the open scalar into its container, where value reads it."""
        top = self._stack[-1]
        if type(top) is list:
            if self._provisional:
                top[-1] = shown
            else:
                top.append(shown)
        else:
            key = self._keys[-1]
            if not self._provisional:
                self._provisional_prev = top.get(key, _MISSING)
            top[key] = shown
        self._provisional = True

    def _unshow(self) -> None:
        """Take the open scalar out again (it stopped being a value: ``1`` became ``1.``)."""
        if not self._provisional:
            return
        self._provisional = False
        top = self._stack[-1]
        if type(top) is list:
            top.pop()
        elif self._provisional_prev is _MISSING:
            del top[self._keys[-1]]
        else:
            top[self._keys[-1]] = self._provisional_prev
        self._provisional_prev = _MISSING

    def _attach(self, value: Any) -> None:
        """Set a finished value (or a new container) where it belongs."""
        stack = self._stack
        if not stack:
            self._root = value
            return
        top = stack[-1]
        if type(top) is list:
            if self._provisional:
                top[-1] = value
            else:
                top.append(value)
        else:
            top[self._keys[-1]] = value
        self._provisional = False
        self._provisional_prev = _MISSING

    def _after_value(self) -> None:
        self._state = _AFTER if self._stack else _DONE

    # --- errors ------------------------------------------------------------------------

    def _where(self) -> JSONPath:
        """The path an error is at: the scalar being read, else the innermost container."""
        state = self._state
        if (state == _STRING and not self._key_mode) or state in (_NUMBER, _LITERAL):
            return self._path
        if state in (_VALUE, _ARRAY_FIRST):
            return self._child_path()
        return self._paths[-1] if self._paths else ()

    def _fail(self, expected: str, text: str, at: int) -> NoReturn:
        position = self._offset + at
        found = text[at]
        if found == "\ufeff" and position == 0:
            detail = "found a byte order mark (U+FEFF), which JSON text must not start with"
        elif self._state == _DONE:
            detail = f"found extra data {found!r} after the complete value"
        else:
            detail = f"found {found!r}"
        path = self._where()
        raise JSONParseError(
            f"invalid JSON at character {position} ({path_text(path)}): expected {expected}, "
            f"{detail}",
            position=position,
            path=path,
            expected=expected,
        )

    def _fail_end(self, expected: str) -> NoReturn:
        position = self._offset
        path = self._where()
        what = "empty text" if position == 0 else "the text ended"
        raise JSONParseError(
            f"incomplete JSON: {what} at character {position} ({path_text(path)}), "
            f"expected {expected}",
            position=position,
            path=path,
            expected=expected,
        )

    # --- the scanner ---------------------------------------------------------------------

    def _scan(self, text: str, events: list[JSONEvent]) -> None:
        """Run the state machine over one fragment; self._state is kept current."""
        n = len(text)
        i = 0
        parts = self._parts
        while i < n:
            state = self._state
            if state == _STRING:
                if self._escape or self._high:
                    i = self._pending_escape(text, i)
                    if i >= n:
                        break
                match = _STRING_RUN.match(text, i)
                j = match.end() if match is not None else i
                if j > i:
                    parts.append(text[i:j])
                    i = j
                    if i == n:
                        break
                c = text[i]
                if c == '"':
                    i += 1
                    self._end_string(events)
                    parts = self._parts
                elif c == "\\":
                    self._escape = "\\"
                    i += 1
                else:
                    self._fail(_IN_STRING, text, i)
                continue
            if state == _NUMBER:
                i = self._scan_number(text, i, events)
                parts = self._parts
                continue
            if state == _LITERAL:
                i = self._scan_literal(text, i, events)
                continue
            c = text[i]
            if c in _WHITESPACE:
                match = _WHITESPACE_RUN.match(text, i)
                i = match.end() if match is not None else i + 1
                continue
            if state == _AFTER:
                top = self._stack[-1]
                if c == ",":
                    self._state = _VALUE if type(top) is list else _KEY
                elif c == ("]" if type(top) is list else "}"):
                    self._close_container(events)
                else:
                    self._fail("',' or " + ("']'" if type(top) is list else "'}'"), text, i)
                i += 1
            elif state in (_VALUE, _ARRAY_FIRST):
                if c == "]" and state == _ARRAY_FIRST:
                    self._close_container(events)
                    i += 1
                else:
                    i = self._start_value(text, i, events)
                    parts = self._parts
            elif state == _COLON:
                if c != ":":
                    self._fail(_EXPECTED[_COLON], text, i)
                self._state = _VALUE
                i += 1
            elif state in (_OBJECT_FIRST, _KEY):
                if c == '"':
                    self._key_mode = True
                    self._parts = parts = []
                    self._state = _STRING
                elif c == "}" and state == _OBJECT_FIRST:
                    self._close_container(events)
                else:
                    self._fail(_EXPECTED[state], text, i)
                i += 1
            else:  # _DONE
                self._fail("the end of the text (whitespace at most)", text, i)
        if self._state == _STRING and not self._key_mode:
            emitted = self._emitted
            if len(parts) > emitted:
                events.append(StringAppended(self._path, "".join(parts[emitted:])))
                self._emitted = len(parts)

    def _child_path(self) -> JSONPath:
        stack = self._stack
        if not stack:
            return ()
        top = stack[-1]
        if type(top) is list:
            return self._paths[-1] + (len(top),)
        return self._paths[-1] + (self._keys[-1],)

    def _start_value(self, text: str, i: int, events: list[JSONEvent]) -> int:
        """Begin the value whose first character is ``text[i]``; return where to go on."""
        c = text[i]
        path = self._child_path()
        if c == '"':
            self._path = path
            self._parts = []
            self._emitted = 0
            self._key_mode = False
            self._state = _STRING
            events.append(ValueStarted(path, "string"))
            return i + 1
        if c in _DIGITS or c == "-":
            self._path = path
            self._number = _N_MINUS  # a digit must come (a first digit reads like one after '-')
            self._state = _NUMBER
            events.append(ValueStarted(path, "number"))
            if c == "-":
                self._parts = ["-"]
                return i + 1
            self._parts = []
            return i
        if c == "{" or c == "[":
            depth = len(self._stack) + 1
            if self._max_depth is not None and depth > self._max_depth:
                raise limit_error(
                    "max_json_depth", depth, self._max_depth,
                    f"{path_text(path)} (character {self._offset + i})",
                )
            container: Any = {} if c == "{" else []
            self._attach(container)
            self._stack.append(container)
            self._paths.append(path)
            self._keys.append("")
            self._state = _OBJECT_FIRST if c == "{" else _ARRAY_FIRST
            events.append(ValueStarted(path, "object" if c == "{" else "array"))
            return i + 1
        literal = _LITERALS.get(c)
        if literal is None:
            self._fail(_EXPECTED[self._state], text, i)
        self._path = path
        self._literal = literal
        self._literal_at = 0
        self._state = _LITERAL
        events.append(ValueStarted(path, literal[2]))
        return i

    def _close_container(self, events: list[JSONEvent]) -> None:
        container = self._stack.pop()
        path = self._paths.pop()
        self._keys.pop()
        events.append(ValueClosed(path, container))
        self._after_value()
