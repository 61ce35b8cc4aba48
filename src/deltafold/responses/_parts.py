"""The small pieces of a Responses output: content parts, annotations, log probabilities.

They are typed so that ``response.output[0].content[0].text`` reads as the API
reference does; like every model, each keeps the fields it does not declare in
``extra`` and ``to_dict`` writes them back. The base :class:`Part` is also the
generic part: a part of a type this module does not know is a ``Part`` whose
``extra`` holds the rest of its dict, so no part is ever dropped. ``ResponsesModel``
is the base of every Responses model: it remembers which known fields the wire
sent empty or null, so ``to_dict`` gives back exactly what ``from_dict`` read.
"""

from __future__ import annotations

from typing import Any, ClassVar

from attrs import define, field

from .._models import NOT_WIRE, _WireModel

__all__ = [
    "PART_TYPES",
    "Annotation",
    "Logprob",
    "OutputText",
    "Part",
    "ReasoningText",
    "Refusal",
    "ResponsesModel",
    "SummaryText",
    "TopLogprob",
]

OFF_WIRE = {NOT_WIRE: True}
"""attrs metadata of a field that is not on the wire (never written, never compared)."""


class ResponsesModel(_WireModel):
    """What every Responses model shares: ``to_dict``/``from_dict`` and the exact round trip.

    The Responses API sends many fields as ``null``, ``[]`` or ``""``; a field left at
    its default is not written by ``to_dict``, so each object keeps (in ``wire_empty``,
    off the wire and out of ``==``) the known fields that arrived empty, and writes them
    back while they still hold their default. ``ALWAYS`` names the fields written even
    at their default for an object built in code (the ``type`` discriminator).
    """

    __slots__ = ()
    ALWAYS: ClassVar[frozenset[str]] = frozenset()



@define
class TopLogprob(ResponsesModel):
    """One alternative token with its log probability."""

    token: str = ""
    """The alternative token."""
    logprob: float = 0.0
    """Its log probability."""
    bytes: list[int] | None = None
    """The token's UTF-8 bytes."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class Logprob(ResponsesModel):
    """The log probability of one output token, with its alternatives."""

    token: str = ""
    """The emitted token."""
    logprob: float = 0.0
    """Its log probability."""
    bytes: list[int] | None = None
    """The token's UTF-8 bytes."""
    top_logprobs: list[TopLogprob] = field(factory=list)
    """The most likely alternatives at this position."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""


@define
class Annotation(ResponsesModel):
    """A citation or file reference on an ``output_text`` part.

    One class for the four kinds (``url_citation``, ``file_citation``,
    ``container_file_citation``, ``file_path``): each kind sets its own fields.
    """

    type: str = ""
    """The kind of annotation."""
    url: str | None = None
    """The cited page (``url_citation``)."""
    title: str | None = None
    """The cited page's title (``url_citation``)."""
    start_index: int | None = None
    """Where the cited span starts in the part's text (characters)."""
    end_index: int | None = None
    """Where it ends (characters)."""
    file_id: str | None = None
    """The cited file (file and container citations, ``file_path``)."""
    filename: str | None = None
    """The cited file's name."""
    container_id: str | None = None
    """The container holding the file (``container_file_citation``)."""
    index: int | None = None
    """The position of the citation in the text (``file_citation``, ``file_path``)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""
    ALWAYS: ClassVar[frozenset[str]] = frozenset({"type"})


@define
class Part(ResponsesModel):
    """A content part; as itself, a part of a type not modelled here (its fields in ``extra``)."""

    type: str = ""
    """The part's kind (``output_text``, ``refusal``, ``reasoning_text``, ``summary_text``...)."""
    extra: dict[str, Any] = field(factory=dict, kw_only=True)
    """Fields the model does not declare, as they arrived; ``to_dict`` writes them back."""
    wire_empty: dict[str, Any] = field(
        factory=dict, kw_only=True, eq=False, repr=False, metadata=OFF_WIRE
    )
    """Known fields that arrived empty or null, as they came (off the wire, not compared)."""
    ALWAYS: ClassVar[frozenset[str]] = frozenset({"type"})


@define
class OutputText(Part):
    """Text the model wrote in a message, with its citations and log probabilities."""

    type: str = "output_text"
    text: str = ""
    """The text."""
    annotations: list[Annotation] = field(factory=list)
    """Citations and file references, in the order they were added."""
    logprobs: list[Logprob] = field(factory=list)
    """One entry per token, when log probabilities were requested."""


@define
class Refusal(Part):
    """The model's refusal to answer, in place of text."""

    type: str = "refusal"
    refusal: str = ""
    """The refusal text."""


@define
class ReasoningText(Part):
    """Reasoning text of a ``reasoning`` item's ``content`` (open-weight models, DeepSeek)."""

    type: str = "reasoning_text"
    text: str = ""
    """The reasoning text."""


@define
class SummaryText(Part):
    """One part of a ``reasoning`` item's ``summary``."""

    type: str = "summary_text"
    text: str = ""
    """The summary text."""


PART_TYPES: dict[str, type[Part]] = {
    "output_text": OutputText,
    "refusal": Refusal,
    "reasoning_text": ReasoningText,
    "summary_text": SummaryText,
}
"""The class of each part type; any other type is a plain :class:`Part`."""
