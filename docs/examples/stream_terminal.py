"""Print reasoning, answer and tool calls to a terminal as they stream, using the fold's events."""

import sys

import anyio
import httpx

import deltafold

# The recorded OpenRouter stream that ships with deltafold, replayed by a local server:
# no network, no key, no file beside this script.
RECORDING = deltafold.demo_recording()

DIM, RESET = ("\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "")


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
            thinking = False
            async for event in stream.events():  # what changed, never a running total
                if isinstance(event, deltafold.ReasoningDelta):
                    thinking = True
                    print(f"{DIM}{event.text}{RESET}", end="", flush=True)
                elif isinstance(event, deltafold.ContentDelta):
                    if thinking:
                        thinking = False
                        print()
                    print(event.text, end="", flush=True)
                elif isinstance(event, deltafold.ToolCallDone):
                    print(f"\n-> {event.name}({event.arguments})")
                elif isinstance(event, deltafold.ChoiceFinished):
                    print(f"[finish_reason: {event.finish_reason}]")
                elif isinstance(event, deltafold.UsageUpdated):
                    print(f"[usage: {event.usage.total_tokens} tokens, cost {event.usage.cost}]")


with deltafold.replay_server(RECORDING) as base_url:
    anyio.run(main, base_url)
