"""OpenTelemetry for the network streams: one GenAI span and the client metrics per stream.

Follows the OpenTelemetry GenAI semantic conventions as of semantic-conventions
v1.41.0 (status: Development): see docs/observability.md. ``opentelemetry-api``
is optional (the ``otel`` extra) and imported here only, lazily, when a stream
starts. Nothing is recorded, and no per-chunk hook is set, unless the
application configured an SDK (a real tracer or meter provider, globally or
passed in :class:`Telemetry`): the API's default proxies are detected and
skipped, so a stream without an SDK pays one import lookup and two checks.

No attribute ever holds the API key: the URL is reduced to its host and port,
and message content (only on opt-in) and error messages go through the
request's redactor.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from ._exceptions import APIStatusError
from ._http import Request

if TYPE_CHECKING:
    from ._core import FoldState
    from ._format import Summary

__all__ = ["SEMCONV_VERSION", "Recorder", "Telemetry", "start_recorder", "watch"]

SEMCONV_VERSION: Final = "1.41.0"
"""The OpenTelemetry semantic conventions release whose GenAI conventions are followed."""
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TIME_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
"""The conventions' boundaries for the three time histograms, in seconds."""
TOKEN_BUCKETS: Final = tuple(4**n for n in range(14))
"""The conventions' boundaries for ``gen_ai.client.token.usage``: 1, 4, 16 ... 67108864."""
_PROVIDERS: Final = (
    ("openrouter.ai", "openrouter"), ("openai.com", "openai"), ("anthropic.com", "anthropic"),
)


@attrs.frozen
class Telemetry:
    """Per-stream OpenTelemetry settings, passed as ``telemetry=Telemetry(...)``.

    ``telemetry=True`` (the default) records through the global providers when
    the application configured an SDK; ``telemetry=False`` records nothing.
    ``capture_content`` puts the request's messages and the completion on the
    span (``gen_ai.input.messages``, ``gen_ai.output.messages``); None follows
    ``$OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``true`` to opt
    in). ``tracer_provider`` / ``meter_provider`` replace the global ones.
    """

    capture_content: bool | None = None
    tracer_provider: Any = None
    meter_provider: Any = None

    def captures_content(self) -> bool:
        if self.capture_content is not None:
            return self.capture_content
        return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() == "true"


_DEFAULT: Final = Telemetry()
_instruments: weakref.WeakKeyDictionary[Any, tuple[Any, ...]] = weakref.WeakKeyDictionary()
"""Each meter provider's four histograms, made once (an SDK warns on a duplicate)."""


def _configured_tracer_provider(settings: Telemetry) -> Any:
    """The tracer provider to use, or None when only the API's no-op proxy is there."""
    from opentelemetry import trace

    provider = settings.tracer_provider or trace.get_tracer_provider()
    if isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)):
        return None
    return provider


def _configured_meter_provider(settings: Telemetry) -> Any:
    from opentelemetry import metrics

    provider = settings.meter_provider or metrics.get_meter_provider()
    # The API's default is a proxy that stays a no-op until an SDK is set.
    if isinstance(provider, metrics.NoOpMeterProvider) or type(provider).__name__ in (
        "_ProxyMeterProvider", "_DefaultMeterProvider",
    ):
        return None
    return provider


def _histograms(provider: Any) -> tuple[Any, ...]:
    found = _instruments.get(provider)
    if found is None:
        meter = provider.get_meter("deltafold", _version())
        seconds = {"unit": "s", "explicit_bucket_boundaries_advisory": list(TIME_BUCKETS)}
        found = (
            meter.create_histogram(
                "gen_ai.client.operation.duration", description="GenAI operation duration.",
                **seconds,
            ),
            meter.create_histogram(
                "gen_ai.client.operation.time_to_first_chunk",
                description="Time from issuing the request to the first chunk of the stream.",
                **seconds,
            ),
            meter.create_histogram(
                "gen_ai.client.operation.time_per_output_chunk",
                description="Time from the previous chunk to this one, for each chunk after "
                "the first.",
                **seconds,
            ),
            meter.create_histogram(
                "gen_ai.client.token.usage", unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
            ),
        )
        _instruments[provider] = found
    return found


def _version() -> str | None:
    """The instrumentation scope's version: the installed deltafold's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deltafold")
    except PackageNotFoundError:
        return None


def provider_name(host: str) -> str:
    """``gen_ai.provider.name`` from the host: ``openrouter``, ``openai``, or the host itself."""
    host = host.lower().rstrip(".")
    for domain, name in _PROVIDERS:
        if host == domain or host.endswith("." + domain):
            return name
    return host


def watch(request: Request, telemetry: object, state: FoldState[Any]) -> Recorder | None:
    """Start a network stream's clock and its recording; both end when the stream does."""
    timing = state.timing
    timing.start()
    recorder = start_recorder(request, telemetry, state)

    def ended() -> None:
        state.settle()
        timing.end()
        if recorder is not None:
            recorder.finish()

    state.on_end = ended
    return recorder


def start_recorder(request: Request, telemetry: object, state: FoldState[Any]) -> Recorder | None:
    """Start recording one stream, or None when telemetry is off or no SDK is configured."""
    if telemetry is False:
        return None
    if not isinstance(telemetry, Telemetry):
        if telemetry is not True:
            raise TypeError(
                f"telemetry must be True, False or a deltafold.Telemetry, got {telemetry!r}"
            )
        telemetry = _DEFAULT
    try:
        tracer_provider = _configured_tracer_provider(telemetry)
        meter_provider = _configured_meter_provider(telemetry)
    except ImportError:  # the otel extra is not installed
        return None
    if tracer_provider is None and meter_provider is None:
        return None
    return Recorder(request, telemetry, state, tracer_provider, meter_provider)


class Recorder:
    """One stream's span and metrics; ``finish`` ends the span exactly once."""

    __slots__ = ("_attrs", "_capture", "_histograms", "_request", "_span", "_state")

    def __init__(
        self,
        request: Request,
        settings: Telemetry,
        state: FoldState[Any],
        tracer_provider: Any,
        meter_provider: Any,
    ) -> None:
        import httpx

        self._request = request
        self._state = state
        self._capture = settings.captures_content()
        url = httpx.URL(request.url)
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        model = request.json.get("model")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider_name(host),
            "server.address": host,
            "server.port": port,
        }
        if isinstance(model, str) and model:
            attributes["gen_ai.request.model"] = model
        self._attrs = attributes
        self._span: Any = None
        if tracer_provider is not None:
            from opentelemetry import trace

            tracer = tracer_provider.get_tracer("deltafold", _version())
            name = f"chat {model}" if isinstance(model, str) and model else "chat"
            self._span = tracer.start_span(
                name,
                kind=trace.SpanKind.CLIENT,
                attributes={**attributes, "gen_ai.request.stream": True},
            )
        self._histograms: tuple[Any, ...] | None = None
        if meter_provider is not None:
            self._histograms = histograms = _histograms(meter_provider)
            per_chunk = histograms[2]
            state.timing.on_gap = lambda gap: per_chunk.record(gap, attributes)

    def finish(self) -> None:
        """Close the span and record the metrics, from the stream's final state."""
        state = self._state
        timing = state.timing
        timing.on_gap = None
        summary = state.fmt.summarize(state.snapshot()) if state.acc.chunks_folded else None
        attributes = dict(self._attrs)
        if summary is not None and summary.model:
            attributes["gen_ai.response.model"] = summary.model
        error_type = self._error_type()
        if self._histograms is not None:
            self._record(attributes, error_type, summary)
        span = self._span
        if span is None:
            return
        self._span = None
        try:
            self._describe(span, summary, error_type)
        finally:
            span.end()

    def _error_type(self) -> str | None:
        error = self._state.error
        if isinstance(error, APIStatusError):
            return str(error.status_code)
        if error is not None:
            return type(error).__name__
        exit_type = self._state.exit_type
        if exit_type is not None and self._state.phase.value != "finished":
            return exit_type.__name__
        return None

    def _record(
        self, attributes: dict[str, Any], error_type: str | None, summary: Summary | None
    ) -> None:
        duration, first_chunk, _, tokens = self._histograms  # type: ignore[misc]
        timing = self._state.timing
        if timing.duration is not None:
            extra = {"error.type": error_type} if error_type else {}
            duration.record(timing.duration, {**attributes, **extra})
        if timing.time_to_first_chunk is not None:
            first_chunk.record(timing.time_to_first_chunk, attributes)
        if summary is not None:
            counts = (("input", summary.input_tokens), ("output", summary.output_tokens))
            for kind, count in counts:
                if count is not None:
                    tokens.record(count, {**attributes, "gen_ai.token.type": kind})

    def _describe(self, span: Any, summary: Summary | None, error_type: str | None) -> None:
        timing = self._state.timing
        if summary is not None:
            span.set_attributes(_response_attributes(summary))
        if timing.time_to_first_chunk is not None:
            span.set_attribute("gen_ai.response.time_to_first_chunk", timing.time_to_first_chunk)
        span.set_attribute("deltafold.retries", getattr(self._state, "retries", 0))
        if self._capture:
            redact = self._request.redact.value
            body = self._request.json
            messages = body.get("messages", body.get("input"))  # chat and Messages; Responses
            span.set_attribute("gen_ai.input.messages", _json(redact(messages)))
            if summary is not None:
                span.set_attribute("gen_ai.output.messages", _json(redact(summary.output_messages)))
        if error_type is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", error_type)
            error = self._state.error
            text = self._request.redact(str(error)) if error is not None else error_type
            span.set_status(Status(StatusCode.ERROR, text[:500]))


def _response_attributes(summary: Summary) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if summary.id:
        out["gen_ai.response.id"] = summary.id
    if summary.model:
        out["gen_ai.response.model"] = summary.model
    if summary.finish_reasons:
        out["gen_ai.response.finish_reasons"] = summary.finish_reasons
    for key, value in (
        ("gen_ai.usage.input_tokens", summary.input_tokens),
        ("gen_ai.usage.output_tokens", summary.output_tokens),
        ("gen_ai.usage.reasoning.output_tokens", summary.reasoning_tokens),
        ("gen_ai.usage.cache_read.input_tokens", summary.cached_tokens),
    ):
        if value is not None:
            out[key] = value
    return out


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return "[]"
