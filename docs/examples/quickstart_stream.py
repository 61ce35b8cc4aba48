"""Stream a completion and print it as it arrives, then use the folded result."""

from pathlib import Path

import anyio
import httpx

import deltafold

# A recorded OpenRouter-style stream, replayed by a local server: no network, no key.
RECORDING = Path(__file__).with_name("weather.sse")


async def main(base_url: str) -> None:
    request = {
        "model": "example/model",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
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
