"""Generated responses survive the round trip: split into events, framed as SSE, cut anywhere.

The property behind every fold rule at once: whatever response the strategy
builds (text with citations, refusals, function calls, reasoning summaries,
items of unknown types), ``split`` gives the events that stream it, ``to_sse``
frames them as OpenAI does, the bytes are cut at random places, and
``assemble_sse`` gives the same response back, also when the final forms carry
no text and the terminal event no output (``lean``, as some gateways send it).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from deltafold.responses import Response, assemble, assemble_sse, split, to_sse

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
WORD = st.text("abcdefgh_", min_size=1, max_size=8)
INT = st.integers(-(2**63), 2**63 - 1)  # what JSON encoders take


@st.composite
def output_text(draw: st.DrawFn) -> dict[str, Any]:
    text = draw(TEXT)
    cites = draw(st.lists(st.builds(
        lambda url, i: {"type": "url_citation", "url": url, "start_index": i, "end_index": i},
        WORD, st.integers(0, 50)), max_size=2))
    return {"type": "output_text", "text": text, "annotations": cites}


PART = st.one_of(output_text(), st.builds(lambda t: {"type": "refusal", "refusal": t}, TEXT))
ITEM = st.one_of(
    st.builds(
        lambda i, parts: {"type": "message", "id": f"msg_{i}", "role": "assistant",
                          "status": "completed", "content": parts},
        WORD, st.lists(PART, min_size=1, max_size=3),
    ),
    st.builds(
        lambda i, name, args: {"type": "function_call", "id": f"fc_{i}", "call_id": f"call_{i}",
                               "name": name, "arguments": args, "status": "completed"},
        WORD, WORD, TEXT,
    ),
    st.builds(
        lambda i, texts, enc: {"type": "reasoning", "id": f"rs_{i}", "encrypted_content": enc,
                               "summary": [{"type": "summary_text", "text": t} for t in texts]},
        WORD, st.lists(TEXT, max_size=3), st.one_of(st.none(), WORD),
    ),
    st.builds(
        lambda kind, value: {"type": f"future_{kind}", "id": "x", "payload": value},
        WORD, st.one_of(TEXT, INT, st.lists(INT, max_size=3)),
    ),
)
RESPONSE = st.builds(
    lambda items, status, tokens: Response.from_dict({
        "id": "resp_gen", "object": "response", "created_at": 1, "model": "gpt-gen",
        "status": status, "output": items,
        "usage": {"input_tokens": tokens, "output_tokens": tokens, "total_tokens": 2 * tokens},
        **({"incomplete_details": {"reason": "max_output_tokens"}}
           if status == "incomplete" else {}),
    }),
    st.lists(ITEM, max_size=4), st.sampled_from(["completed", "incomplete"]),
    st.integers(0, 10_000),
)


@given(RESPONSE, st.integers(1, 9), st.booleans(), st.lists(st.integers(1, 60), max_size=30))
def test_split_frame_cut_fold_gives_the_response_back(
    response: Response, size: int, lean: bool, cuts: list[int]
) -> None:
    body = b"".join(to_sse(split(response, chunk_chars=size, seed=size, lean=lean)))
    pieces = []
    start = 0
    for cut in cuts:
        pieces.append(body[start : start + cut])
        start += cut
    pieces.append(body[start:])
    folded = assemble_sse(pieces)
    assert folded == response
    assert folded.output_text == response.output_text
    assert folded.sequence_gaps == [] and folded.unknown_events == []


@given(RESPONSE)
def test_the_events_fold_directly_too(response: Response) -> None:
    assert assemble(split(response, lean=True)) == response
