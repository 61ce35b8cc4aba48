"""Every exception deltafold raises, in one place.

All derive from :class:`DeltafoldError`. An error raised once folding has
started carries ``.partial``: the completion assembled so far, including the
data of the chunk that failed, so no token that was paid for is lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from ._timing import Timing

PartialResult: TypeAlias = Any
"""What ``.partial`` holds: the format's result so far (a ``ChatCompletion``, a Responses
``Response``, a Messages ``Message``), or None before anything was folded."""

__all__ = [
    "APIStatusError",
    "BulkError",
    "ChunkDecodeError",
    "ConnectError",
    "DeltafoldError",
    "EmptyStreamError",
    "EndpointError",
    "IdleTimeoutError",
    "IncompleteStreamError",
    "JSONParseError",
    "LimitExceededError",
    "MultipleMessagesError",
    "MultipleResponsesError",
    "NotEventStreamError",
    "StreamError",
    "StreamUsageError",
    "StructuredOutputError",
    "TransportError",
    "WrongFormatError",
]


class DeltafoldError(Exception):
    """Base of every error deltafold raises; ``.partial`` is the completion so far, or None.

    ``.timing`` is the failed stream's :class:`Timing` (None when no stream raised it).
    """

    partial: PartialResult | None
    timing: Timing | None = None

    def __init__(self, message: str, *, partial: PartialResult | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.partial = partial


class ChunkDecodeError(DeltafoldError):
    """A chunk could not be decoded or has a field of the wrong type.

    ``.raw`` is the offending input (bytes or text), ``.position`` the
    0-based number of the event (chunk) in the stream, ``.path`` the field
    path inside the chunk when one field is at fault (for example
    ``choices[0].delta.content``).
    """

    def __init__(
        self,
        message: str,
        *,
        raw: bytes | str = "",
        position: int | None = None,
        path: str | None = None,
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.raw = raw
        self.position = position
        self.path = path


class StreamError(DeltafoldError):
    """The stream itself reported an error (a top-level ``error`` or ``event: error``).

    ``.message`` is the provider's own message, ``.code`` its code (int or str,
    None when absent), ``.metadata`` its metadata object, ``.error`` the whole
    error object; ``str(error)`` says where in the stream it arrived.
    """

    def __init__(
        self,
        text: str,
        *,
        message: str | None = None,
        code: int | str | None = None,
        metadata: Any = None,
        error: Any = None,
        position: int | None = None,
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(text, partial=partial)
        if message is not None:
            self.message = message
        self.code = code
        self.metadata = metadata
        self.error = error
        self.position = position


class IncompleteStreamError(DeltafoldError):
    """The stream ended before every choice got a finish_reason (or, as its subclass
    :class:`EmptyStreamError`, before any chunk)."""


class EmptyStreamError(IncompleteStreamError):
    """The input held no chat-completion chunk at all, so there is nothing to return.

    Empty input, only comments or ``[DONE]``, text that is not SSE or JSON, or
    items none of which carries a choice, an id, a model or usage. The message
    says which, and shows the first bytes (credentials scrubbed); ``.head`` is
    that start of the input, or None when the input was not text.
    """

    def __init__(
        self,
        message: str,
        *,
        head: bytes | str | None = None,
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.head = head


class WrongFormatError(EmptyStreamError):
    """The input is a stream (or result) of another wire format than the fold's.

    ``.found`` names the format it is (``"responses"``, ``"messages"``, ``"chat"``),
    ``.expected`` the fold's, ``.use`` the function that folds it (the message says it).
    """

    def __init__(
        self,
        message: str,
        *,
        found: str,
        expected: str,
        use: str,
        head: bytes | str | None = None,
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(message, head=head, partial=partial)
        self.found = found
        self.expected = expected
        self.use = use


class LimitExceededError(DeltafoldError):
    """A configured limit was exceeded; ``.limit`` names it, ``.value`` is what was seen."""

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        value: int,
        maximum: int | None = None,
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.limit = limit
        self.value = value
        self.maximum = maximum


class TransportError(DeltafoldError):
    """The connection failed mid-request or mid-stream (reset, closed, protocol error)."""


class ConnectError(TransportError):
    """The connection could not be opened or the response headers never arrived."""


class IdleTimeoutError(TransportError):
    """No event arrived within ``idle_timeout`` seconds; keep-alive comments do not count."""


class APIStatusError(DeltafoldError):
    """The endpoint answered with a non-2xx status.

    ``.status_code``, ``.body`` (parsed JSON when it is JSON, else text) and
    ``.headers`` (with credentials removed) describe the answer.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any,
        headers: dict[str, str],
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.status_code = status_code
        self.body = body
        self.headers = headers


class NotEventStreamError(DeltafoldError):
    """A 2xx answer that is not ``text/event-stream``; ``.body_start`` is its first bytes."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        content_type: str,
        body_start: str,
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.status_code = status_code
        self.content_type = content_type
        self.body_start = body_start


class EndpointError(DeltafoldError, ValueError):
    """The base URL or the key cannot be used, found before any request is sent.

    A base URL without ``http://``/``https://``, without a host or with a query
    string, or no key that may be sent to the base URL's provider. The message
    names the argument or environment variable and the fix, never a key. It is
    a ``ValueError`` as well: the caller passed a value that cannot work.
    """


class StreamUsageError(DeltafoldError, RuntimeError):
    """A stream was used in a way its state does not allow.

    Raised when a stream already iterated as chunks is asked for ``events()``
    (or the other way round), when ``completion`` is read before the stream
    ended, and when a closed stream is iterated. It is a ``RuntimeError`` as
    well, because it signals a bug in the calling code rather than a bad
    upstream.
    """


class JSONParseError(DeltafoldError, ValueError):
    """Text given to :class:`PartialJSON` is not JSON, or ended before its value did.

    ``.position`` is the 0-based character offset in the whole text fed so
    far, ``.path`` the JSON path (keys and indexes) being read there, and
    ``.expected`` what would have been valid; the message says all three and
    what was found. It is a ``ValueError`` as well, like ``json.JSONDecodeError``.
    """

    def __init__(
        self,
        message: str,
        *,
        position: int,
        path: tuple[str | int, ...] = (),
        expected: str = "",
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.position = position
        self.path = path
        self.expected = expected


class StructuredOutputError(DeltafoldError, ValueError):
    """JSON that parsed but does not fit the class asked for.

    Raised by ``FunctionCall.parse_arguments`` and ``Message.parse_content``.
    ``.errors`` lists each problem with the JSON path where it is
    (``expected int, got a JSON string @ $.days[1]``), ``.raw`` is the text
    that was parsed. It is a ``ValueError`` as well: the model's output is a
    wrong value for the schema.
    """

    def __init__(
        self,
        message: str,
        *,
        errors: list[str],
        raw: str,
        partial: PartialResult | None = None,
    ) -> None:
        super().__init__(message, partial=partial)
        self.errors = errors
        self.raw = raw


class BulkError(DeltafoldError, ValueError):
    """A bulk job cannot run: no input, a missing column, an unreadable or mismatched file.

    Only the job itself fails with it; a bad row never does (it is counted and
    written with its ``error_type``).
    """


class MultipleResponsesError(DeltafoldError, ValueError):
    """The input holds several responses one after another, where one was expected.

    A recorded multi-step exchange (a new ``response.created`` after a terminal
    event); ``deltafold.responses.assemble_all`` folds it into a list. ``.partial``
    is the first response.
    """


class MultipleMessagesError(DeltafoldError, ValueError):
    """The input holds several Anthropic messages one after another, where one was expected.

    A ``message_start`` after a ``message_stop`` (a recorded multi-turn exchange);
    ``deltafold.messages.assemble_all`` folds each into a list. ``.partial`` is the first
    message, whole.
    """


class ConversionError(DeltafoldError, ValueError):
    """A stream or result cannot be converted to the format asked for without losing its
    meaning: a chat stream with several choices into a format that holds one answer
    (pick one with ``choice=``), or a choice that the stream does not hold.
    ``.partial`` is the source's partial result, when events had been folded.
    """


REPOSITORY = "https://github.com/deltafold/deltafold.git"
"""Where deltafold installs from: it is not on PyPI, so a bare ``deltafold[x]`` fails there."""


def install_hint(extra: str) -> str:
    """How to install the extra ``extra``: the message of every missing-extra error ends so."""
    return (
        f'pip install -e ".[{extra}]" in a clone, '
        f'or pip install "deltafold[{extra}] @ git+{REPOSITORY}"'
    )
