"""Keep using the OpenAI SDK's stream, and get the folded ChatCompletion too, with afold."""

import anyio

import deltafold

# The recorded OpenRouter stream that ships with deltafold, replayed by a local server:
# no network, no key, no file beside this script.
RECORDING = deltafold.demo_recording()

try:
    from openai import AsyncOpenAI
except ImportError:  # the openai package is in the "dev" extra, not a dependency
    print("skip: the openai package is not installed")
    raise SystemExit(77) from None


async def main(base_url: str) -> None:
    client = AsyncOpenAI(base_url=base_url, api_key="not-needed-for-the-local-server")
    stream = await client.chat.completions.create(
        model="anthropic/claude-sonnet-4.5",
        messages=[{"role": "user", "content": "Do I need an umbrella in Lisbon?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    # afold passes every SDK chunk through unchanged while folding it.
    async with deltafold.afold(stream) as chunks:
        async for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                print(chunk.choices[0].delta.content, end="", flush=True)
    print()
    completion = chunks.completion
    message = completion.choices[0].message
    # Fields the SDK's chunk type does not declare (OpenRouter's `reasoning`) are folded too.
    print("reasoning:", message.reasoning)
    print(
        "tool call:", message.tool_calls[0].function.name, message.tool_calls[0].function.arguments
    )
    print(
        "provider:",
        completion.provider,
        "| cost:",
        completion.usage.cost if completion.usage else None,
    )
    await client.close()


with deltafold.replay_server(RECORDING) as base_url:
    anyio.run(main, base_url)
