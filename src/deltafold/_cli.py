"""The ``deltafold`` command: demo, assemble, stream, serve and bulk (``_bulk_cli``).

A thin layer over the library: ``stream`` and ``demo`` go through ``Client``,
``assemble`` through the fold and the body sniffer, ``serve`` through the replay
server; each command's parser names the function that runs it, which reads the
parsed arguments as they are. Output goes to stdout, one-line errors to stderr
(exit code 1), and an API key never reaches either (``_redact.Redactor``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import anyio
import attrs

from . import __version__
from ._assemble import feed_whole
from ._bulk_cli import add_bulk
from ._client import Client
from ._convert import to_dict
from ._demo import demo_recording
from ._endpoint import COMMAND_LINE, OPENAI_URL, OPENROUTER_URL, resolve_endpoint
from ._events import Event
from ._exceptions import DeltafoldError, EmptyStreamError, EndpointError
from ._formats import AUTO, FORMATS, format_named, name_the_formats, sniff, strict_default
from ._gunzip import gunzip
from ._jsontext import OPT_INDENT_2, dumps
from ._live import LivePrinter, use_color
from ._models import ChatCompletion
from ._plural import plural
from ._server import (
    ServeExtraMissing,
    base_url,
    bind,
    load_recording,
    make_server,
    recording_app,
    require_serve,
    serve_app,
)
from ._timing import Timing

__all__ = ["main"]

_PROG = "deltafold"
_DEMO_SECONDS = 1.5


class CommandError(Exception):
    """A failure the user can fix; printed as one line on stderr, exit code 1."""


# --- argument types ----------------------------------------------------------------


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0 for any free one), got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions as usual, but keeps an epilog of examples line by line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(EXAMPLES):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


EXAMPLES = "examples:\n"
"""How every command's epilog starts: its --help ends with commands to copy."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; ``--help`` works on every command and ends with examples."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Fold streamed chat-completion chunks into one complete ChatCompletion.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_demo(commands)
    _add_assemble(commands)
    _add_stream(commands)
    _add_serve(commands)
    add_bulk(commands, _positive_int, add_format_option)
    for command in commands.choices.values():
        command.formatter_class = _HelpFormatter
    return parser


_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_demo(commands: _Commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="stream a bundled recording from a local replay server (no key, no network)",
        description=(
            "Start a replay server on 127.0.0.1 with a bundled OpenRouter-style recording, "
            "stream it through deltafold.aconnect_chat and print the reasoning and the answer "
            "as they arrive, then the tool call and the usage. Needs the serve extra."
        ),
        epilog=EXAMPLES + "  deltafold demo\n  deltafold demo --json > completion.json",
    )
    demo.add_argument(
        "--json", action="store_true", help="print the final completion as JSON instead"
    )
    demo.set_defaults(run=_run_demo)


def _add_assemble(commands: _Commands) -> None:
    assemble = commands.add_parser(
        "assemble",
        help="fold a recorded stream (chat, Responses or Messages) into its result",
        description=(
            "Read a recorded stream and print its result as JSON: a chat completion, a "
            "Responses API response or an Anthropic message. FILE may hold an SSE body as it "
            "came over the wire, chunks (events) as JSON lines, a JSON array of chunks, or a "
            "non-streamed completion or result (one JSON object); the form and the wire format "
            "are detected "
            "(a Responses or Messages stream is named on stderr), and gzip is read too. On an "
            "error print one line naming the event to stderr and exit with 1."
        ),
        epilog=EXAMPLES
        + "  deltafold assemble recording.sse > completion.json\n"
        "  deltafold assemble chunks.jsonl --events | head\n"
        "  deltafold assemble anthropic.sse --format messages\n"
        "  curl -sN https://example.com/recording.sse | deltafold assemble -",
    )
    assemble.add_argument("file", metavar="FILE", help="the recording, or - for stdin")
    add_format_option(assemble, "the wire format of FILE")
    assemble.add_argument(
        "--events",
        action="store_true",
        help='print the fold\'s events as JSON lines (each with a "type") instead',
    )
    assemble.add_argument(
        "--partial",
        action="store_true",
        help="on an error, still print the completion folded so far to stdout",
    )
    assemble.add_argument(
        "--strict", action="store_true",
        help="chat: fail when a choice has no finish_reason (Responses and Messages streams "
        "always fail without their terminal event)",
    )
    assemble.set_defaults(run=_run_assemble)


def add_format_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--format auto|chat|responses|messages``, for every command that reads recordings."""
    parser.add_argument(
        "--format", choices=[AUTO, *FORMATS], default=AUTO,
        help=f"{what}: auto (default: told from the first events of each stream), or one of "
        "them",
    )


def _add_stream(commands: _Commands) -> None:
    stream = commands.add_parser(
        "stream",
        help="stream a prompt from a real endpoint and print it live",
        description=(
            "Send one prompt to an OpenAI-compatible endpoint and print the reasoning and the "
            "answer as they arrive, then tool calls and usage. --base-url and --api-key win; "
            f"otherwise OPENROUTER_API_KEY with OPENROUTER_BASE_URL (default {OPENROUTER_URL}), "
            f"then OPENAI_API_KEY with OPENAI_BASE_URL (default {OPENAI_URL}). A key from the "
            "environment only goes to its own provider or its own *_BASE_URL; a loopback "
            "server needs no key. The key is never printed."
        ),
        epilog=EXAMPLES
        + '  OPENROUTER_API_KEY=sk-or-... deltafold stream "Hello" -m openai/gpt-4o-mini\n'
        "  deltafold stream - -m gpt-4o-mini --base-url https://api.openai.com/v1 < prompt.txt\n"
        "  deltafold serve --port 8001 &     # then, with no key and no network:\n"
        '  deltafold stream "Do I need an umbrella?" -m any --base-url http://127.0.0.1:8001/v1',
    )
    stream.add_argument("prompt", metavar="PROMPT", help="the user message, or - for stdin")
    stream.add_argument("--model", "-m", required=True, help="the model, e.g. openai/gpt-4o-mini")
    stream.add_argument("--system", help="a system message")
    stream.add_argument("--base-url", help="the endpoint's base URL (ending in /v1)")
    stream.add_argument("--api-key", help="the API key (prefer the environment variables)")
    stream.add_argument("--max-tokens", type=_positive_int, help="max_tokens of the request")
    stream.add_argument("--temperature", type=float, help="temperature of the request")
    stream.add_argument(
        "--reasoning-effort",
        choices=["minimal", "low", "medium", "high"],
        help="ask for reasoning (OpenRouter's reasoning.effort, OpenAI's reasoning_effort)",
    )
    stream.add_argument(
        "--idle-timeout",
        type=_positive_float,
        default=120.0,
        help="seconds to wait for the next event before giving up (default 120)",
    )
    stream.add_argument(
        "--json", action="store_true", help="print the final completion as JSON instead"
    )
    stream.add_argument(
        "--stats",
        action=argparse.BooleanOptionalAction,
        help="print a one-line timing summary to stderr at the end (default: when stderr is a "
        "terminal)",
    )
    stream.set_defaults(run=_run_stream)


def _add_serve(commands: _Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve a recording (chat, Responses or Messages) as an endpoint on 127.0.0.1",
        description=(
            "Serve FILE (an SSE recording, chunks as JSON lines, or a completion JSON that is "
            "split into chunks) at POST /v1/chat/completions: SSE when the request has "
            '"stream": true, the assembled completion otherwise; GET /v1/models lists its '
            "model. A Responses recording is served at POST /v1/responses and an Anthropic "
            "Messages one at POST /v1/messages (the format is told from FILE). Prints the base "
            "URL, then serves until interrupted. Needs the serve extra."
        ),
        epilog=EXAMPLES
        + "  deltafold serve --port 8001                 # the bundled demo recording\n"
        "  deltafold serve recording.sse --delay-ms 0\n"
        "  deltafold serve completion.json --chunk-chars 1 --seed 7\n"
        "  deltafold serve anthropic.sse              # at POST /v1/messages",
    )
    serve.add_argument(
        "file", metavar="FILE", nargs="?",
        help="the recording to replay (default: the bundled demo recording)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=0, help="port to bind (default 0: any free port)"
    )
    serve.add_argument(
        "--delay-ms",
        type=_non_negative_float,
        default=20.0,
        help="pause before each streamed event, in milliseconds (default 20)",
    )
    serve.add_argument(
        "--chunk-chars",
        type=_positive_int,
        default=4,
        help="for a completion JSON: characters per streamed piece (default 4)",
    )
    serve.add_argument(
        "--seed", type=int, help="for a completion JSON: random piece sizes from this seed"
    )
    serve.add_argument(
        "--style",
        choices=["openrouter", "openai"],
        default="openrouter",
        help="for a completion JSON: the shape of the chunks (default openrouter)",
    )
    serve.set_defaults(run=_run_serve)


def _dump(value: Any) -> str:
    return dumps(value, option=OPT_INDENT_2).decode()


def _print_completion(result: Any) -> None:
    """A result of any format (or a partial one) as indented JSON."""
    sys.stdout.write(_dump(to_dict(result)) + "\n")
    sys.stdout.flush()


def _show(completion: ChatCompletion, printer: LivePrinter | None) -> None:
    """The end of a streamed command: the JSON, or the live view's summary."""
    if printer is None:
        _print_completion(completion)
    else:
        printer.summary(completion)


# --- demo ---------------------------------------------------------------------------


def _run_demo(args: argparse.Namespace) -> int:
    require_serve()
    recording = load_recording(demo_recording())
    delay_ms = 0.0 if args.json else _DEMO_SECONDS * 1000 / max(1, len(recording.events))
    printer = None if args.json else LivePrinter(sys.stdout, color=use_color(sys.stdout))
    messages = [{"role": "user", "content": "What's the weather in Lisbon? Do I need an umbrella?"}]
    params = {"tools": [_WEATHER_TOOL], "reasoning": {"effort": "low"}}
    with serve_app(recording_app(recording, delay_ms=delay_ms)) as base:
        client = Client(base, api_key="")  # a local replay: no key goes anywhere
        completion = anyio.run(
            _stream_chat, client, recording.model, messages, params, {}, 30.0, printer
        )
    _show(completion, printer)
    return 0


_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather and forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "country": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "include": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["city"],
        },
    },
}


async def _stream_chat(
    client: Client,
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    headers: dict[str, str],
    idle_timeout: float,
    printer: LivePrinter | None,
    timings: list[Timing] | None = None,
) -> ChatCompletion:
    """Stream one request through ``client``, printing events as they arrive.

    The stream's timing is appended to ``timings`` (when given) as soon as it starts.
    """
    async with client:
        async with client.stream(
            model=model, messages=messages, headers=headers, idle_timeout=idle_timeout, **params
        ) as stream:
            if timings is not None:
                timings.append(stream.timing)
            if printer is None:
                return await stream.until_done()
            async for event in stream.events():
                printer.event(event)
        return stream.completion


# --- assemble -------------------------------------------------------------------------


def _read_input(name: str) -> bytes:
    """The recording's bytes, decompressed when they are gzip (by their first bytes)."""
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        return gunzip(data)
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror or exc}") from None


def event_record(event: Event) -> dict[str, Any]:
    """One event as a JSON object; ``type`` names it (``content_delta``, ``usage_updated``...)."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()
    record: dict[str, Any] = {"type": name}
    for key, value in attrs.asdict(event, recurse=False).items():
        record[key] = to_dict(value) if attrs.has(type(value)) else value
    return record


def _write_events(events: Iterable[Event]) -> None:
    write = sys.stdout.write
    for event in events:
        write(dumps(event_record(event)).decode() + "\n")


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _run_assemble(args: argparse.Namespace) -> int:
    body = _read_input(args.file)
    name = "-" if args.file == "-" else args.file
    found = args.format
    if found == AUTO:
        try:
            found, body = sniff(body)
        except DeltafoldError as exc:  # a body the sniffer cannot read (too big, bad JSON)
            print(f"{_PROG} assemble: {name}: {_one_line(str(exc))}", file=sys.stderr)
            return 1
        if found not in (None, "chat"):
            print(f"{_PROG} assemble: {name}: a {found} stream", file=sys.stderr)
    fmt = format_named(found or "chat")
    acc = fmt.new_fold(None, False)

    def fold(chunk: Any) -> None:
        events = acc.feed(chunk)
        if args.events:
            _write_events(events)

    try:
        feed_whole(body, fold, acc)
        if args.events:
            _write_events(acc.close())
        result = acc.result(strict=args.strict or strict_default(fmt.name))
    except DeltafoldError as exc:
        sys.stdout.flush()
        if found is None and isinstance(exc, EmptyStreamError):
            exc = name_the_formats(exc)
        message = _one_line(str(exc))
        if not isinstance(exc, EmptyStreamError) and not re.search(r"\bevents? \d+", message):
            message = f"event {acc.chunks_folded}: {message}"
        print(f"{_PROG} assemble: {name}: {message}", file=sys.stderr)
        if args.partial:
            _print_completion(exc.partial or acc.snapshot())
        return 1
    if not args.events:
        _print_completion(result)
    return 0


# --- stream ---------------------------------------------------------------------------


def _run_stream(args: argparse.Namespace) -> int:
    try:
        client = Client(args.base_url, args.api_key)  # the endpoint rule
    except EndpointError:  # the same rule again, to say it in the command line's words
        resolve_endpoint(args.base_url, args.api_key, spelling=COMMAND_LINE)
        raise
    endpoint = client._endpoint
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    messages = [{"role": "user", "content": prompt}]
    if args.system:
        messages.insert(0, {"role": "system", "content": args.system})
    params: dict[str, Any] = {"stream_options": {"include_usage": True}}
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        params["temperature"] = args.temperature
    openrouter = endpoint.provider is not None and endpoint.provider.name == "OpenRouter"
    if args.reasoning_effort:
        if openrouter:
            params["reasoning"] = {"effort": args.reasoning_effort}
        else:
            params["reasoning_effort"] = args.reasoning_effort
    headers = {"X-Title": _PROG} if openrouter else {}
    printer = None if args.json else LivePrinter(sys.stdout, color=use_color(sys.stdout))
    timings: list[Timing] = []
    try:
        completion = anyio.run(
            _stream_chat, client, args.model, messages, params, headers, args.idle_timeout,
            printer, timings,
        )
    except DeltafoldError as exc:
        sys.stdout.write("\n" if printer is not None and printer.section else "")
        sys.stdout.flush()
        print(f"{_PROG} stream: {endpoint.redactor(_one_line(str(exc)))}", file=sys.stderr)
        _print_stats(args.stats, exc.timing)
        return 1
    _show(completion, printer)
    _print_stats(args.stats, timings[0] if timings else None)
    return 0


def _print_stats(wanted: bool | None, timing: Timing | None) -> None:
    """The one-line timing summary on stderr: with --stats, or by default on a terminal."""
    if timing is not None and (wanted or (wanted is None and sys.stderr.isatty())):
        print(f"{_PROG} stream: {timing.summary()}", file=sys.stderr)


# --- serve ------------------------------------------------------------------------------


def _run_serve(args: argparse.Namespace) -> int:
    require_serve()
    source = demo_recording() if args.file is None else args.file
    name = "the demo recording" if args.file is None else args.file
    try:
        recording = load_recording(
            source, chunk_chars=args.chunk_chars, seed=args.seed, style=args.style
        )
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    except DeltafoldError as exc:
        raise CommandError(f"{args.file}: {_one_line(str(exc))}") from None
    app = recording_app(recording, delay_ms=args.delay_ms)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    url = base_url(sock)
    kind = "" if recording.format.name == "chat" else f"a {recording.format.name} stream, "
    events = plural(len(recording.events), "event")
    print(f"Replaying {name} ({kind}{recording.model}, {events})")
    post = f"{url}{recording.format.path}"
    print(f"Listening on {url}  (POST {post}, GET {url}/models)", flush=True)
    try:
        make_server(app).run(sockets=[sock])
    finally:
        sock.close()
    return 0


# --- entry point ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (CommandError, ServeExtraMissing) as exc:
        print(f"{_PROG} {args.command}: {exc}", file=sys.stderr)
        return 1
    except DeltafoldError as exc:
        print(f"{_PROG} {args.command}: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `deltafold assemble ... | head`: the reader left; nothing more to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
