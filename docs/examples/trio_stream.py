"""The network layer is built on anyio, so the same code runs under trio."""

import httpx

import deltafold

# The recorded OpenRouter stream that ships with deltafold, replayed by a local server:
# no network, no key, no file beside this script.
RECORDING = deltafold.demo_recording()

try:
    import trio
except ImportError:  # trio is in the "dev" extra, not a dependency
    print("skip: trio is not installed")
    raise SystemExit(77) from None


async def main(base_url: str) -> None:
    request = {
        "model": "anthropic/claude-sonnet-4.5",
        "messages": [{"role": "user", "content": "Do I need an umbrella in Lisbon?"}],
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
