"""Show a tool call's arguments filling in live, one field at a time, as the model writes them.

Each ToolCallArgumentsDelta goes to a PartialJSON, which reads only the new
fragment and says what changed: a string growing, a number or a value set.
In a terminal the string being written grows in place; otherwise each field
is printed once, when it is complete. At the end the arguments become a
typed object.
"""

import json
import sys

import attrs
import httpx

import deltafold


@attrs.define
class Stop:
    day: int
    city: str
    sights: list[str]
    budget_eur: float


@attrs.define
class Itinerary:
    traveller: str
    stops: list[Stop]
    rail_pass: bool = False


ARGUMENTS = {
    "traveller": "Ada",
    "stops": [
        {"day": 1, "city": "Lisbon", "sights": ["Alfama", "Belém Tower"], "budget_eur": 120.5},
        {"day": 3, "city": "Porto", "sights": ["Ribeira", "Livraria Lello"], "budget_eur": 95},
        {"day": 5, "city": "Coimbra", "sights": ["the old university"], "budget_eur": 80.25},
    ],
    "rail_pass": True,
}
# A completion for the replay server, which streams it in 4-character fragments.
COMPLETION = {
    "id": "gen-1",
    "model": "example/model",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "plan_trip", "arguments": json.dumps(ARGUMENTS)},
                    }
                ],
            },
        }
    ],
}
LIVE = sys.stdout.isatty()


def where(path: deltafold.JSONPath) -> str:
    """``stops[0].city`` for ("stops", 0, "city")."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)[1:]


def show(events: list[deltafold.JSONEvent], growing: dict[deltafold.JSONPath, str]) -> None:
    """Print what a fragment changed; ``growing`` holds the strings still being written."""
    for event in events:
        if isinstance(event, deltafold.StringAppended):
            growing[event.path] = growing.get(event.path, "") + event.text
            if LIVE:  # redraw the string so far in place
                print(f"\r  {where(event.path)} = {growing[event.path]!r}", end="", flush=True)
        elif isinstance(event, deltafold.ValueClosed) and isinstance(event.value, str):
            growing.pop(event.path, None)
            print(f"\r  {where(event.path)} = {event.value!r}")
        elif isinstance(event, deltafold.ScalarSet):
            print(f"  {where(event.path)} = {event.value!r}")


def main(base_url: str) -> None:
    request = {"model": "example/model", "messages": [{"role": "user", "content": "Plan a trip"}]}
    parsers: dict[int, deltafold.PartialJSON] = {}
    growing: dict[deltafold.JSONPath, str] = {}
    with httpx.Client() as http:
        stream = deltafold.connect_chat(
            http, f"{base_url}/chat/completions", json=request, idle_timeout=30
        )
        with stream:
            for event in stream.events():
                if isinstance(event, deltafold.ToolCallStarted):
                    print(f"{event.name}(")
                    parsers[event.tool_index] = deltafold.PartialJSON()
                elif isinstance(event, deltafold.ToolCallArgumentsDelta):
                    if event.replaced:  # the provider re-sent the whole string: start again
                        parsers[event.tool_index] = deltafold.PartialJSON()
                    show(parsers[event.tool_index].feed(event.text), growing)
                elif isinstance(event, deltafold.ToolCallDone):
                    final = parsers[event.tool_index].close()
                    print(")")
                    print("same as json.loads:", final == json.loads(event.arguments))
        call = stream.completion.choices[0].message.tool_calls[0]
        itinerary = call.function.parse_arguments(Itinerary)
        cities = " -> ".join(stop.city for stop in itinerary.stops)
        print(f"typed: {itinerary.traveller} visits {cities}, rail pass: {itinerary.rail_pass}")


# In a terminal, 20 ms between events, so that you can watch it fill in.
with deltafold.replay_server(COMPLETION, delay_ms=20 if LIVE else 0) as base_url:
    main(base_url)
