"""The bundled demo recording: one recorded stream that ships inside the package.

``deltafold demo`` replays it, ``deltafold serve`` serves it when no file is
named, and every docs example streams it from a local replay server, so an
example copied anywhere runs without a file beside it, a key or the network.
It is read through ``importlib.resources``, which also works from a zip or a
wheel that was not unpacked.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["DEMO_FILE", "demo_recording"]

DEMO_FILE = "demo_stream.sse"
"""The recording's file name inside the package."""


def demo_recording() -> bytes:
    """The bundled demo recording: a streamed OpenRouter response, as SSE bytes.

    Anthropic's ``anthropic/claude-sonnet-4.5`` answering "What's the weather in
    Lisbon? Do I need an umbrella?" with reasoning, a sentence of content, a
    ``get_weather`` tool call and usage with cost (47 events, OpenRouter's
    keep-alive comments and ``[DONE]`` included). Give it to
    [`replay_server`][deltafold.replay_server] to stream it from 127.0.0.1, or to
    [`assemble`][deltafold.assemble] to fold it:

    ```python
    import deltafold

    with deltafold.replay_server(deltafold.demo_recording()) as base_url:
        ...  # stream from f"{base_url}/chat/completions", no key, no network

    completion = deltafold.assemble(deltafold.demo_recording())
    assert completion.choices[0].message.tool_calls[0].function.name == "get_weather"
    ```

    ``deltafold serve`` with no file serves the same recording.
    """
    return resources.files(__package__ or "deltafold").joinpath(DEMO_FILE).read_bytes()
