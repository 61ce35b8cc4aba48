"""The network layer is built on anyio, so the same code runs under trio."""

from pathlib import Path

import httpx

import deltafold

# A recorded OpenRouter-style stream, replayed by a local server: no network, no key.
RECORDING = Path(__file__).with_name("weather.sse")

try:
    import trio
except ImportError:  # trio is in the "dev" extra, not a dependency
    print("skip: trio is not installed")
    raise SystemExit(77) from None


async def main(base_url: str) -> None:
    request = {
        "model": "example/model",
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
    }
    async with httpx.AsyncClient() as http:
        stream = deltafold.aconnect_chat(
            http, f"{base_url}/chat/completions", json=request, idle_timeout=30
        )
        async with stream:
            completion = await stream.until_done()  # read to the end, folding as it goes
    print("answer:", completion.choices[0].message.content)
    print("finish_reason:", completion.choices[0].finish_reason)


with deltafold.replay_server(RECORDING) as base_url:
    trio.run(main, base_url)
