"""Stream from an endpoint with deltafold's Client: here a local server, the same calls as for
OpenRouter or OpenAI."""

from pathlib import Path

import anyio

import deltafold

# A recorded OpenRouter-style stream, replayed by a local server: no network, no key.
RECORDING = Path(__file__).with_name("weather.sse")
QUESTION = [{"role": "user", "content": "Weather in Paris?"}]


async def main(base_url: str) -> None:
    # A loopback base URL needs no key. For OpenRouter or OpenAI, leave base_url out and
    # set OPENROUTER_API_KEY or OPENAI_API_KEY instead.
    async with (
        deltafold.Client(base_url) as client,
        client.stream(model="example/model", messages=QUESTION) as stream,
    ):
        async for chunk in stream:
            print(chunk.text, end="", flush=True)  # always a str, "" for a chunk with no text
        completion = stream.completion
    print()
    print("finish_reason:", completion.choices[0].finish_reason)


def without_async(base_url: str) -> None:
    """SyncClient is the same client for code without an event loop."""
    with (
        deltafold.SyncClient(base_url) as client,
        client.stream(model="example/model", messages=QUESTION) as stream,
    ):
        completion = stream.until_done()
    print("sync:", completion.choices[0].message.tool_calls[0].function.name)


with deltafold.replay_server(RECORDING) as base_url:
    anyio.run(main, base_url)
    without_async(base_url)
