"""Stream a completion and print it as it arrives, then use the folded result."""

import anyio
import httpx

import deltafold

# The recorded OpenRouter stream that ships with deltafold, replayed by a local server:
# no network, no key, no file beside this script.
RECORDING = deltafold.demo_recording()


async def main(base_url: str) -> None:
    request = {
        "model": "anthropic/claude-sonnet-4.5",
        "messages": [{"role": "user", "content": "Do I need an umbrella in Lisbon?"}],
    }
    async with (
        httpx.AsyncClient() as http,
        deltafold.aconnect_chat(http, f"{base_url}/chat/completions", json=request) as stream,
    ):
        async for chunk in stream:  # typed ChatCompletionChunk objects
            print(chunk.text, end="", flush=True)  # the new text of choice 0, always a str
        completion = stream.completion  # the whole ChatCompletion, folded as it streamed
    print()
    call = completion.choices[0].message.tool_calls[0]
    print("tool call:", call.function.name, call.function.arguments)
    print("tokens:", completion.usage.total_tokens if completion.usage else None)


with deltafold.replay_server(RECORDING) as base_url:
    anyio.run(main, base_url)
