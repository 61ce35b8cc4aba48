"""Stream an Anthropic Messages API message with deltafold's Client: here from a tiny local
server, the same calls as for OpenRouter or Anthropic."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio

import deltafold
import deltafold.messages as dm

# What the local server streams: a message made here, turned into its SSE events.
ANSWER = dm.Message.from_dict({
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Take an umbrella: rain from 3 pm."}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 9},
})
BODY = b"".join(dm.to_sse(dm.split(ANSWER)))


class Upstream(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # POST {base_url}/messages
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


async def main(base_url: str) -> None:
    # A loopback base URL needs no key. For OpenRouter leave base_url out and set
    # OPENROUTER_API_KEY; for Anthropic itself set ANTHROPIC_API_KEY (sent as x-api-key).
    question = [{"role": "user", "content": "Umbrella in Lisbon today?"}]
    async with (
        deltafold.Client(base_url) as client,
        client.messages.stream(
            model="claude-sonnet-4-5", messages=question, max_tokens=256
        ) as stream,
    ):
        async for event in stream.events():  # the typed events, shared with chat
            if isinstance(event, deltafold.ContentDelta):
                print(event.text, end="", flush=True)
        message = stream.completion  # the folded deltafold.messages.Message
    print()
    tokens = message.usage.output_tokens if message.usage else None
    print("stop_reason:", message.stop_reason, "| output tokens:", tokens)


def without_async(base_url: str) -> None:
    """SyncClient has the same .messages.stream(), used with ``with``."""
    with (
        deltafold.SyncClient(base_url) as client,
        client.messages.stream(model="claude-sonnet-4-5", messages=[], max_tokens=16) as stream,
    ):
        print("sync:", stream.until_done().text)


server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    anyio.run(main, base_url)
    without_async(base_url)
finally:
    server.shutdown()
