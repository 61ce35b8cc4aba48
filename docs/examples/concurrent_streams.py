"""Run many streams at once in a task group, each folded into its own ChatCompletion."""

import anyio
import httpx

import deltafold

# The recorded OpenRouter stream that ships with deltafold, replayed by a local server:
# no network, no key, no file beside this script.
RECORDING = deltafold.demo_recording()

QUESTIONS = [f"Question {n}" for n in range(20)]


async def ask(
    http: httpx.AsyncClient, url: str, question: str, results: dict[str, deltafold.ChatCompletion]
) -> None:
    request = {
        "model": "anthropic/claude-sonnet-4.5",
        "messages": [{"role": "user", "content": question}],
    }
    async with deltafold.aconnect_chat(http, url, json=request, idle_timeout=30) as stream:
        results[question] = await stream.until_done()


async def main(base_url: str) -> None:
    results: dict[str, deltafold.ChatCompletion] = {}
    # One httpx client (one connection pool) shared by every stream.
    limits = httpx.Limits(max_connections=10)  # at most 10 requests in flight
    async with httpx.AsyncClient(limits=limits) as http:
        with anyio.fail_after(60):  # an upper bound for the whole batch
            async with anyio.create_task_group() as tg:
                for question in QUESTIONS:
                    tg.start_soon(ask, http, f"{base_url}/chat/completions", question, results)
    tokens = sum(c.usage.total_tokens for c in results.values() if c.usage and c.usage.total_tokens)
    finished = sum(c.choices[0].finish_reason == "tool_calls" for c in results.values())
    print(f"{len(results)} streams, {finished} finished with tool calls, {tokens} tokens in total")


with deltafold.replay_server(RECORDING, delay_ms=1) as base_url:
    anyio.run(main, base_url)
