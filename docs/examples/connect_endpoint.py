"""Stream from an endpoint with deltafold's Client: here a local server, the same calls as for
OpenRouter or OpenAI."""

import anyio

import deltafold

# The recorded OpenRouter stream that ships with deltafold, replayed by a local server:
# no network, no key, no file beside this script.
RECORDING = deltafold.demo_recording()
QUESTION = [{"role": "user", "content": "Do I need an umbrella in Lisbon?"}]


async def main(base_url: str) -> None:
    # A loopback base URL needs no key. For OpenRouter or OpenAI, leave base_url out and
    # set OPENROUTER_API_KEY or OPENAI_API_KEY instead.
    async with (
        deltafold.Client(base_url) as client,
        client.stream(model="anthropic/claude-sonnet-4.5", messages=QUESTION) as stream,
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
        client.stream(model="anthropic/claude-sonnet-4.5", messages=QUESTION) as stream,
    ):
        completion = stream.until_done()
    print("sync:", completion.choices[0].message.tool_calls[0].function.name)


with deltafold.replay_server(RECORDING) as base_url:
    anyio.run(main, base_url)
    without_async(base_url)
