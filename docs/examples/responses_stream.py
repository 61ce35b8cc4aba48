"""Stream a Responses API response with deltafold's Client: here from a tiny local server, the
same calls as for OpenRouter or OpenAI."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio

import deltafold
import deltafold.responses as dr

# What the local server streams: a response made here, turned into its SSE events.
ANSWER = dr.Response.from_dict({
    "id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-5-mini",
    "status": "completed",
    "output": [{
        "type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": "Take an umbrella: rain from 3 pm."}],
    }],
    "usage": {"input_tokens": 12, "output_tokens": 9, "total_tokens": 21},
})
BODY = b"".join(dr.to_sse(dr.split(ANSWER)))


class Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # POST {base_url}/responses
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


async def main(base_url: str) -> None:
    # A loopback base URL needs no key. For OpenRouter or OpenAI, leave base_url out and
    # set OPENROUTER_API_KEY or OPENAI_API_KEY instead.
    async with (
        deltafold.Client(base_url) as client,
        client.responses.stream(model="gpt-5-mini", input="Umbrella in Lisbon today?") as stream,
    ):
        async for event in stream:  # the events as they arrive (dicts)
            if event["type"] == "response.output_text.delta":
                print(event["delta"], end="", flush=True)
        response = stream.completion  # the folded deltafold.responses.Response
    print()
    tokens = response.usage.output_tokens if response.usage else None
    print("status:", response.status, "| output tokens:", tokens)


def without_async(base_url: str) -> None:
    """SyncClient has the same .responses.stream(), used with ``with``."""
    with (
        deltafold.SyncClient(base_url) as client,
        client.responses.stream(model="gpt-5-mini", input="Umbrella?") as stream,
    ):
        print("sync:", stream.until_done().output_text)


server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    anyio.run(main, base_url)
    without_async(base_url)
finally:
    server.shutdown()
