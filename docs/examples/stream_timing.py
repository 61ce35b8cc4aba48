"""Print how long a stream took: time to first chunk and token, the gaps, tokens per second."""

from pathlib import Path

import anyio

import deltafold

# A recorded OpenRouter-style stream, replayed by a local server: no network, no key.
RECORDING = Path(__file__).with_name("weather.sse")


async def main(base_url: str) -> None:
    async with deltafold.Client(base_url=base_url, api_key="") as client:
        async with client.stream(
            model="example/model", messages=[{"role": "user", "content": "Weather in Paris?"}]
        ) as stream:
            async for _chunk in stream:
                pass  # stream.timing is live here: chunks, time_to_first_chunk, duration...
    timing = stream.timing  # final once the stream ended (an error carries it as .timing)
    print(f"chunks: {timing.chunks}")
    print(f"time to headers: {timing.time_to_headers * 1000:.0f} ms")
    print(f"time to first chunk: {timing.time_to_first_chunk * 1000:.0f} ms")
    print(f"time to first token: {timing.time_to_first_token * 1000:.0f} ms")
    gaps = timing.gaps
    print(f"gaps: {gaps.count}, p50 {gaps.p50 * 1000:.0f} ms, max {gaps.max * 1000:.0f} ms")
    print(f"duration: {timing.duration * 1000:.0f} ms")
    print(f"output tokens per second: {timing.output_tokens_per_second:.0f}")
    print(timing.summary())


# 250 ms before the first event (the model thinking), then 20 ms between events.
with deltafold.replay_server(RECORDING, first_delay_ms=250, delay_ms=20) as base_url:
    anyio.run(main, base_url)
