"""Record a streamed response byte for byte, and assemble it later (or in a test)."""

import tempfile
from pathlib import Path

import httpx

import deltafold

# What the local server streams back: a completion, cut into chunks by deltafold.split.
ANSWER = {
    "id": "gen-rec-1",
    "model": "example/model",
    "choices": [
        {
            "index": 0,
            "message": {"content": "Recorded once, replayed forever."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
}


def record(base_url: str, path: Path) -> None:
    """Save the raw SSE body exactly as the server sent it."""
    request = {
        "model": "example/model",
        "stream": True,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    with (
        httpx.Client() as http,
        http.stream("POST", f"{base_url}/chat/completions", json=request) as response,
    ):
        response.raise_for_status()
        with path.open("wb") as out:
            for piece in response.iter_raw():
                out.write(piece)


with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "answer.sse"
    with deltafold.replay_server(ANSWER) as base_url:
        record(base_url, path)
    print(f"recorded {path.stat().st_size} bytes")

    # Later, with no server: one call turns the recording into the completion.
    completion = deltafold.assemble_sse(path.read_bytes())
    print("content:", completion.choices[0].message.content)
    print("tokens:", completion.usage.total_tokens if completion.usage else None)

    # assemble() detects the format too: SSE, JSON lines, or a JSON array of chunks.
    print("same completion:", deltafold.assemble(path.read_bytes()) == completion)
