"""What ``deltafold.partial_view`` costs on a 10 KB value, per call and per stream.

    python benchmarks/partial_view_cost.py

It walks the whole partial value each call, so calling it after every
fragment makes a stream quadratic; docs/structured.md says when to call it.
"""

from __future__ import annotations

import json
import timeit
from typing import Literal

import attrs

import deltafold


@attrs.define
class Day:
    date: str = ""
    high: float = 0.0
    low: float = 0.0
    sky: Literal["sun", "rain", "cloud"] | None = None
    summary: str = ""


@attrs.define
class Forecast:
    city: str = ""
    days: list[Day] = attrs.Factory(list)
    note: str | None = None


days = [
    {
        "date": f"2025-01-{i % 28 + 1:02d}",
        "high": 10.5 + i,
        "low": 1.25 * i,
        "sky": "rain",
        "summary": "showers in the afternoon",
    }
    for i in range(200)
]
doc = {"city": "Paris", "days": days, "note": "x"}
while len(json.dumps(doc)) > 10_000:
    days.pop()
text = json.dumps(doc)
print("document:", len(text), "characters,", len(days), "days")
value = json.loads(text)
n = 200
t = timeit.timeit(lambda: deltafold.partial_view(Forecast, value), number=n) / n
print(f"partial_view on the whole 10 KB value: {t * 1e3:.2f} ms per call")
t2 = (
    timeit.timeit(
        lambda: deltafold.FunctionCall(arguments=text).parse_arguments(Forecast), number=n
    )
    / n
)
print(f"parse_arguments on the same text: {t2 * 1e3:.2f} ms per call")
frags = [text[i : i + 4] for i in range(0, len(text), 4)]


def stream(view_every):
    p = deltafold.PartialJSON()
    for k, f in enumerate(frags):
        p.feed(f)
        if view_every and k % view_every == 0:
            deltafold.partial_view(Forecast, p.value)


for every in (0, 1, 100):
    r = min(timeit.repeat(lambda every=every: stream(every), number=1, repeat=3))
    print(
        f"stream of {len(frags)} fragments, partial_view every {every or 'never'}: {r * 1e3:.1f} ms"
    )
