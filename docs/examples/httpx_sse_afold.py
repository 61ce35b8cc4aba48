"""Already reading events with httpx-sse? Hand its events to afold (or fold) as they are."""

import anyio
import httpx
from httpx_sse import aconnect_sse, connect_sse

import deltafold

# A recorded OpenRouter-style stream, replayed by a local server: no network, no key.
RECORDING = deltafold.demo_recording()
REQUEST = {
    "model": "example/model",
    "messages": [{"role": "user", "content": "Do I need an umbrella in Lisbon?"}],
    "stream": True,
}


async def main(url: str) -> None:
    async with (
        httpx.AsyncClient() as http,
        aconnect_sse(http, "POST", url, json=REQUEST) as source,
        # Each httpx_sse.ServerSentEvent passes through unchanged and is folded on its way.
        deltafold.afold(source.aiter_sse()) as events,
    ):
        async for event in events:
            if event.data == "[DONE]":
                print("[DONE] seen")
    message = events.completion.choices[0].message
    print("content:", message.content)
    call = message.tool_calls[0].function
    print("tool call:", call.name, call.arguments)


with deltafold.replay_server(RECORDING) as base_url:
    url = f"{base_url}/chat/completions"
    anyio.run(main, url)
    # The sync twin: connect_sse + iter_sse, folded whole by assemble.
    with httpx.Client() as http, connect_sse(http, "POST", url, json=REQUEST) as source:
        completion = deltafold.assemble(source.iter_sse())
    print("sync:", completion.choices[0].finish_reason)
