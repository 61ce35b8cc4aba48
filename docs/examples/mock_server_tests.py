"""Test your own app against a fake model: write the completion you want, split it into a stream.

``deltafold.split(completion)`` cuts a completion into the chunks a real server
would stream (small pieces, interleaved choices, usage at the end), and
``deltafold.to_sse`` frames them. Serving that from 127.0.0.1 tests the app's
streaming path end to end, with no network and no API key.
"""

import json
from typing import Any

import deltafold


# --- the app under test ------------------------------------------------------------
def plan_trip(client: deltafold.SyncClient, city: str) -> str:
    """Ask the model; if it calls get_weather, answer from a local table."""
    with client.stream(
        model="any", messages=[{"role": "user", "content": f"Trip to {city}?"}]
    ) as stream:
        completion = stream.until_done()
    message = completion.choices[0].message
    for call in message.tool_calls:
        if call.function.name == "get_weather":
            city = json.loads(call.function.arguments)["city"]
            return f"{message.content} It is sunny in {city}."
    return message.content or ""


# --- the tests ---------------------------------------------------------------------
def fake_completion(content: str, tool_call: dict[str, str] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_call:
        message["tool_calls"] = [{"id": "call_1", "type": "function", "function": tool_call}]
    return {
        "id": "test-1",
        "object": "chat.completion",
        "created": 0,
        "model": "fake",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_call else "stop"}
        ],
    }


def test_answers_with_the_weather() -> None:
    completion = fake_completion(
        "Packing advice:", {"name": "get_weather", "arguments": json.dumps({"city": "Lyon"})}
    )
    # One character per chunk: the hardest case for the app's streaming code.
    with (
        deltafold.replay_server(completion, chunk_chars=1) as base_url,
        deltafold.SyncClient(base_url, api_key="test") as client,
    ):
        assert plan_trip(client, "Lyon") == "Packing advice: It is sunny in Lyon."


def test_answers_without_a_tool_call() -> None:
    with (
        deltafold.replay_server(fake_completion("Bring a coat."), seed=7) as base_url,
        deltafold.SyncClient(base_url, api_key="test") as client,
    ):
        assert plan_trip(client, "Oslo") == "Bring a coat."


def test_split_round_trips() -> None:
    """The property that makes split trustworthy as a fixture: assemble(split(c)) == c."""
    completion = deltafold.ChatCompletion.from_dict(fake_completion("Hello, world!"))
    for seed in range(5):
        assert (
            deltafold.assemble(deltafold.split(completion, chunk_chars=3, seed=seed)) == completion
        )


if __name__ == "__main__":  # under pytest, these run as ordinary tests
    for test in (
        test_answers_with_the_weather,
        test_answers_without_a_tool_call,
        test_split_round_trips,
    ):
        test()
        print("passed:", test.__name__)
