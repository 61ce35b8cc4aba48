"""Mistral's content parts: which parts are text and which are thinking.

One rule, read by the fold (``_accumulator``) and by ``Delta.text``; a leaf
with no imports from deltafold, so the models can use it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["content_parts", "part_text", "thinking_texts"]


def content_parts(content: Any) -> list[Any] | None:
    """A delta's ``content`` that is not a string, as its list of parts; None if it is neither.

    One part on its own (an object) is a list of one, as tool calls may come.
    """
    if content.__class__ is list:
        result: list[Any] = content
        return result
    if content.__class__ is dict:
        return [content]
    return None


def part_text(part: Any) -> str | None:
    """The text a content part adds to ``message.content``; None when it is not a text part.

    A text part is a string, or ``{"type": "text", "text": "..."}``.
    """
    if part.__class__ is str:
        text: str = part
        return text
    if part.__class__ is dict and part.get("type") == "text":
        value = part.get("text")
        if isinstance(value, str):
            return value
    return None


def thinking_texts(part: Any) -> list[str] | None:
    """The texts a Mistral ``thinking`` part adds to the reasoning; None for any other part.

    ``thinking`` holds a string, a ``{"text": ...}`` piece or a list of either; a part of
    another shape is not thinking (the fold keeps it as it came).
    """
    if part.__class__ is not dict or part.get("type") != "thinking":
        return None
    thinking = part.get("thinking")
    pieces = thinking if thinking.__class__ is list else [thinking]
    texts = []
    for piece in pieces:
        if isinstance(piece, str):
            texts.append(piece)
        elif isinstance(piece, dict) and isinstance(piece.get("text"), str):
            texts.append(piece["text"])
        else:
            return None
    return texts
