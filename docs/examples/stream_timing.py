"""Print how long a stream took: time to first chunk and token, the gaps, tokens per second."""

import anyio

import deltafold

# The recorded OpenRouter stream that ships with deltafold, replayed by a local server:
# no network, no key, no file beside this script.
RECORDING = deltafold.demo_recording()
QUESTION = [{"role": "user", "content": "Do I need an umbrella in Lisbon?"}]


def ms(seconds: float | None) -> str:
    """A figure in milliseconds; "-" for one the stream did not have (no token, one chunk)."""
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


async def main(base_url: str) -> None:
    async with (
        deltafold.Client(base_url=base_url, api_key="") as client,
        client.stream(model="anthropic/claude-sonnet-4.5", messages=QUESTION) as stream,
    ):
        async for _chunk in stream:
            pass  # stream.timing is live here: chunks, time_to_first_chunk, duration...
    timing = stream.timing  # final once the stream ended (an error carries it as .timing)
    print(f"chunks: {timing.chunks}")
    print(f"time to headers: {ms(timing.time_to_headers)}")
    print(f"time to first chunk: {ms(timing.time_to_first_chunk)}")
    print(f"time to first token: {ms(timing.time_to_first_token)}")
    gaps = timing.gaps
    print(f"gaps: {gaps.count}, p50 {ms(gaps.p50)}, max {ms(gaps.max)}")
    print(f"duration: {ms(timing.duration)}")
    rate = timing.output_tokens_per_second  # None until the usage arrived
    print(f"output tokens per second: {'-' if rate is None else f'{rate:.0f}'}")
    print(timing.summary())


# 250 ms before the first event (the model thinking), then 20 ms between events.
with deltafold.replay_server(RECORDING, first_delay_ms=250, delay_ms=20) as base_url:
    anyio.run(main, base_url)
