"""The inverse of the fold: one completion back into the chunks a server would stream.

``split`` exists so that tests, demos and the replay server can produce
realistic streams from a completion, and so that the fold can be checked by
its round trip: ``assemble(split(c)) == c``. Every field, known or not, is
sent in a form the fold's rule for that field gives back unchanged (see the
comments at the few places where a naive split would lose or double data).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator
from typing import Any, Literal

from ._convert import from_dict, to_dict, wire_names
from ._models import ChatCompletion, ChatCompletionChunk, Choice, Message
from ._sse import encode_event

__all__ = ["split", "to_sse"]

UsageMode = Literal["final", "none", "every"]
Style = Literal["openai", "openrouter"]

_TOP_FIELDS = ("system_fingerprint", "service_tier", "provider")
# The known fields are the completion model's (so a field added to a model is sent as a
# field, not as an unknown one). ``error`` is added: it is not a completion field, and a
# chunk carrying one is an in-band error that stops the fold, so it is never re-sent.
_TOP_KNOWN = wire_names(ChatCompletion) | {"error"}
_CHOICE_KNOWN = wire_names(Choice)
_MESSAGE_KNOWN = wire_names(Message)
_DETAIL_TEXTS = ("text", "summary", "data")
_COMMENT = b": OPENROUTER PROCESSING\n\n"
_DONE = b"data: [DONE]\n\n"


class _Cutter:
    """Cuts text into stream-sized pieces: fixed sizes, or seeded random ones around the size."""

    def __init__(self, chunk_chars: int, seed: int | None) -> None:
        self.size = chunk_chars
        self.rng = None if seed is None else random.Random(seed)
        self.low = max(1, chunk_chars // 2)
        self.high = max(self.low, chunk_chars + chunk_chars // 2)

    def _next(self) -> int:
        return self.size if self.rng is None else self.rng.randint(self.low, self.high)

    def text(self, value: str | None) -> list[str]:
        """Pieces of a text; ``""`` is one empty piece so that it is still sent (``"" != None``)."""
        if value is None:
            return []
        if not value:
            return [""]
        pieces = []
        start = 0
        while start < len(value):
            end = start + self._next()
            pieces.append(value[start:end])
            start = end
        return pieces

    def arguments(self, value: str) -> list[str]:
        """Pieces of tool-call arguments that the fold cannot take for a re-sent whole.

        The fold treats a piece that is at least as long as the text so far and
        starts with it as a provider re-sending the complete arguments (Ollama,
        some gateways); such a piece is merged into the one before it.
        """
        starts: list[int] = []
        start = 0
        while start < len(value):
            end = min(len(value), start + self._next())
            while starts and end - start >= start and value.startswith(value[:start], start):
                start = starts.pop()
            starts.append(start)
            start = end
        starts.append(len(value))
        return [value[a:b] for a, b in itertools.pairwise(starts)]

    def shuffle_pick(self, count: int, turn: int) -> int:
        """Which of ``count`` unfinished choices sends next: round robin, or random when seeded."""
        return turn % count if self.rng is None else self.rng.randrange(count)


def split(
    completion: ChatCompletion | dict[str, Any],
    *,
    chunk_chars: int = 4,
    seed: int | None = None,
    usage: Literal["final", "none", "every"] = "final",
    style: Literal["openai", "openrouter"] = "openai",
) -> Iterator[dict[str, Any]]:
    """Stream ``completion`` as ``chat.completion.chunk`` dicts that the official clients accept.

    Content, reasoning, refusals and tool arguments arrive in pieces of
    ``chunk_chars`` characters (seeded random sizes around it when ``seed``
    is given); with several choices their chunks interleave. ``usage``:
    ``"final"`` sends it on a last ``choices: []`` chunk (as OpenAI's
    ``include_usage`` and OpenRouter do), ``"every"`` on every chunk, growing,
    ``"none"`` never. ``style="openrouter"`` adds OpenRouter's shape: the
    provider and ``native_finish_reason`` on every chunk, and
    ``reasoning_details`` sent in fragments beside the reasoning text.

    ``assemble(split(c, ...)) == c`` for every option (with ``usage=None`` when
    ``usage="none"``).
    """
    if chunk_chars < 1:
        raise ValueError("chunk_chars must be >= 1")
    if usage not in ("final", "none", "every"):
        raise ValueError(f"usage must be 'final', 'none' or 'every', not {usage!r}")
    if style not in ("openai", "openrouter"):
        raise ValueError(f"style must be 'openai' or 'openrouter', not {style!r}")
    if isinstance(completion, dict):
        completion = from_dict(ChatCompletion, completion)
    return _split(to_dict(completion), _Cutter(chunk_chars, seed), usage, style)


def _split(
    data: dict[str, Any], cutter: _Cutter, usage: UsageMode, style: Style
) -> Iterator[dict[str, Any]]:
    openrouter = style == "openrouter"
    head: dict[str, Any] = {"id": data.get("id", "")}
    if openrouter and data.get("provider"):
        head["provider"] = data["provider"]
    head["object"] = "chat.completion.chunk"
    head["created"] = data.get("created", 0)
    head["model"] = data.get("model", "")
    for name in _TOP_FIELDS:
        # First non-empty value wins in the fold, so repeating them on every chunk is safe.
        if data.get(name) and name not in head:
            head[name] = data[name]
    extra = {k: v for k, v in data.items() if k not in _TOP_KNOWN}
    usage_value = data.get("usage")
    if usage_value is None:
        usage = "none"

    plans = [_choice_steps(choice, cutter, openrouter) for choice in data.get("choices", [])]
    entries: list[dict[str, Any]] = []
    turn = 0
    pending = [plan for plan in plans if plan]
    positions = [0] * len(pending)
    while pending:
        k = cutter.shuffle_pick(len(pending), turn)
        turn += 1
        plan = pending[k]
        entries.append(plan[positions[k]])
        positions[k] += 1
        if positions[k] == len(plan):
            del pending[k]
            del positions[k]

    total = len(entries)
    final_chunk = usage == "final" or total == 0
    for n, entry in enumerate(entries):
        chunk = dict(head)
        chunk["choices"] = [entry]
        if n == 0 and extra:
            chunk.update(extra)
        if usage == "every":
            chunk["usage"] = _running_usage(usage_value, n + 1, total)
        elif usage == "final" and not openrouter:
            chunk["usage"] = None  # OpenAI's include_usage shape: null until the last chunk
        yield chunk
    if final_chunk:
        chunk = dict(head)
        chunk["choices"] = []
        if total == 0 and extra:
            chunk.update(extra)
        if usage != "none":
            chunk["usage"] = usage_value
        yield chunk


def _running_usage(usage: Any, done: int, total: int) -> Any:
    """Usage as some providers report it on every chunk: token counts growing to the final ones."""
    if done >= total or not isinstance(usage, dict):
        return usage
    running = dict(usage)
    final = usage.get("completion_tokens")
    if type(final) is int:
        running["completion_tokens"] = final * done // total
        whole = usage.get("total_tokens")
        if type(whole) is int and whole >= final:
            running["total_tokens"] = whole - final + running["completion_tokens"]
    return running


def _choice_steps(
    choice: dict[str, Any], cutter: _Cutter, openrouter: bool
) -> list[dict[str, Any]]:
    """The chunk entries of one choice, in the order a server sends them."""
    index = choice.get("index", 0)
    message: dict[str, Any] = choice.get("message") or {}
    role = message.get("role") or "assistant"
    content = message.get("content")
    refusal = message.get("refusal")
    deltas: list[dict[str, Any]] = []

    first: dict[str, Any] = {"role": role}
    if content is not None:
        first["content"] = ""  # OpenAI's opening delta; an absent content must stay None
    if refusal is not None:
        first["refusal"] = ""
    elif not openrouter:
        first["refusal"] = None
    first.update((k, v) for k, v in message.items() if k not in _MESSAGE_KNOWN)
    deltas.append(first)

    deltas.extend(_reasoning_deltas(message, cutter, openrouter))

    refusal_start = len(deltas)
    deltas.extend({"refusal": piece} for piece in cutter.text(refusal) if piece)
    content_start = len(deltas)
    deltas.extend({"content": piece} for piece in cutter.text(content) if piece)
    content_end = len(deltas)

    for position, call in enumerate(message.get("tool_calls") or []):
        deltas.extend(_call_deltas(position, call, cutter))
    function_call = message.get("function_call")
    if function_call is not None:
        opening = dict(function_call)
        opening["arguments"] = ""
        deltas.append({"function_call": opening})
        deltas.extend(
            {"function_call": {"arguments": piece}}
            for piece in cutter.arguments(function_call.get("arguments") or "")
        )
    audio = message.get("audio")
    if audio is not None:
        deltas.extend(_audio_deltas(audio, cutter))
    if message.get("annotations"):
        deltas.append({"annotations": message["annotations"]})
    if message.get("images"):
        deltas.append({"images": message["images"]})

    steps = [{"index": index, "delta": delta} for delta in deltas]
    # An unknown "delta" of a completion's choice cannot be told from the chunk's own.
    steps[0].update((k, v) for k, v in choice.items() if k not in _CHOICE_KNOWN and k != "delta")

    finish_reason = choice.get("finish_reason")
    native = choice.get("native_finish_reason")
    logprobs = choice.get("logprobs")
    if content_end > content_start:
        carriers = steps[content_start:content_end]
    else:
        carriers = steps[refusal_start:content_start]
    if finish_reason is not None or native is not None or (logprobs is not None and not carriers):
        delta = {"role": role} if openrouter else {}
        steps.append({"index": index, "delta": delta, "finish_reason": finish_reason})
        if native is not None:
            steps[-1]["native_finish_reason"] = native
        if not carriers:
            carriers = steps[-1:]
    if logprobs is not None:
        _spread_logprobs(logprobs, carriers)

    _fill_defaults(steps, role, content is not None, openrouter)
    return steps


def _reasoning_deltas(
    message: dict[str, Any], cutter: _Cutter, openrouter: bool
) -> list[dict[str, Any]]:
    """The reasoning text in pieces, beside the reasoning details (fragmented for OpenRouter)."""
    reasoning = message.get("reasoning")
    reasoning_pieces = cutter.text(reasoning)
    fragments: list[dict[str, Any]] = []
    for detail in message.get("reasoning_details") or []:
        if openrouter and detail.get("index") is not None:
            fragments.extend(_detail_fragments(detail, cutter, reasoning, reasoning_pieces))
        else:
            fragments.append(detail)
    deltas = []
    for k in range(max(len(reasoning_pieces), len(fragments))):
        delta: dict[str, Any] = {}
        if k < len(reasoning_pieces):
            delta["reasoning"] = reasoning_pieces[k]
        if k < len(fragments):
            delta["reasoning_details"] = [fragments[k]]
        deltas.append(delta)
    return deltas


def _fill_defaults(
    steps: list[dict[str, Any]], role: str, has_content: bool, openrouter: bool
) -> None:
    """The fields every chunk of the style carries, null or empty where this one has none."""
    for step in steps:
        delta = step["delta"]
        if openrouter:
            delta.setdefault("role", role)
            if has_content:
                delta.setdefault("content", "")
            delta.setdefault("reasoning", None)
        step.setdefault("finish_reason", None)
        if openrouter:
            step.setdefault("native_finish_reason", None)
        step.setdefault("logprobs", None)


def _detail_fragments(
    detail: dict[str, Any], cutter: _Cutter, reasoning: str | None, reasoning_pieces: list[str]
) -> list[dict[str, Any]]:
    """One reasoning detail as the fragments OpenRouter streams.

    Only a detail with an ``index`` can be fragmented: the fold merges
    fragments by (type, index). The signature comes last, as Anthropic sends it.
    """
    texts = {key: detail[key] for key in _DETAIL_TEXTS if isinstance(detail.get(key), str)}
    first = {k: v for k, v in detail.items() if k not in texts and k != "signature"}
    keyed = {"type": detail.get("type", ""), "index": detail["index"]}
    if "format" in detail:
        keyed["format"] = detail["format"]
    fragments = [first]
    for key, text in texts.items():
        # Reuse the reasoning's cuts when the detail repeats it, as OpenRouter's deltas do.
        pieces = reasoning_pieces if text == reasoning else cutter.text(text)
        if not pieces:
            continue
        first.setdefault(key, pieces[0])
        fragments.extend({**keyed, key: piece} for piece in pieces[1:] if piece)
    if detail.get("signature") is not None:
        fragments.append({**keyed, "signature": detail["signature"]})
    return fragments


def _call_deltas(position: int, call: dict[str, Any], cutter: _Cutter) -> list[dict[str, Any]]:
    """A tool call: id, type and name first (with any unknown fields), then argument pieces."""
    function = dict(call.get("function") or {})
    arguments = function.get("arguments") or ""
    function["arguments"] = ""
    opening: dict[str, Any] = {"index": position}
    opening.update((k, v) for k, v in call.items() if k != "function")
    opening["index"] = position  # the fold matches pieces by it; an unknown "index" cannot win
    opening["function"] = function
    deltas: list[dict[str, Any]] = [{"tool_calls": [opening]}]
    deltas.extend(
        {"tool_calls": [{"index": position, "function": {"arguments": piece}}]}
        for piece in cutter.arguments(arguments)
    )
    return deltas


def _audio_deltas(audio: dict[str, Any], cutter: _Cutter) -> list[dict[str, Any]]:
    """Audio as OpenAI streams it: the id first, then transcript and data in pieces."""
    texts = {key: audio[key] for key in ("transcript", "data") if isinstance(audio.get(key), str)}
    opening = {k: v for k, v in audio.items() if k not in texts}
    deltas: list[dict[str, Any]] = [{"audio": opening}]
    for key, text in texts.items():
        deltas.extend({"audio": {key: piece}} for piece in cutter.text(text))
    return deltas


def _spread_logprobs(logprobs: dict[str, Any], carriers: list[dict[str, Any]]) -> None:
    """Token log probabilities spread over the chunks that carry the text, as OpenAI sends them."""
    count = len(carriers)
    for n, step in enumerate(carriers):
        piece: dict[str, Any] = {}
        for key in ("content", "refusal"):
            tokens = logprobs.get(key)
            if tokens is None:
                piece[key] = None
            else:
                piece[key] = tokens[len(tokens) * n // count : len(tokens) * (n + 1) // count]
        if n == 0:
            piece.update((k, v) for k, v in logprobs.items() if k not in ("content", "refusal"))
        step["logprobs"] = piece


def to_sse(
    chunks: Iterable[dict[str, Any] | ChatCompletionChunk], *, comments_every: int | None = None
) -> Iterator[bytes]:
    """Frame chunks as an SSE body: ``data: {json}`` events, ending in ``data: [DONE]``.

    With ``comments_every=N`` a ``: OPENROUTER PROCESSING`` comment precedes
    every N-th chunk (starting with the first), like OpenRouter's keep-alives.
    """
    if comments_every is not None and comments_every < 1:
        raise ValueError("comments_every must be >= 1 or None")
    return _frame(chunks, comments_every)


def _frame(
    chunks: Iterable[dict[str, Any] | ChatCompletionChunk], comments_every: int | None
) -> Iterator[bytes]:
    for n, chunk in enumerate(chunks):
        if comments_every is not None and n % comments_every == 0:
            yield _COMMENT
        if isinstance(chunk, ChatCompletionChunk):
            chunk = to_dict(chunk)
        yield encode_event(chunk, named=False)
    yield _DONE
