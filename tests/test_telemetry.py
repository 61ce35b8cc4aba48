"""OpenTelemetry: spans and metrics read back from the real SDK's in-memory readers.

Each test passes its own providers through ``deltafold.Telemetry`` (a global
provider can be set only once per process); the global path and the
no-SDK path run in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

import deltafold
from servers import FaultServer, ReplayServer, Send, Stall
from test_timing import FIRST_DELAY, chunks

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

SECRET = "sk-or-v1-telemetry-secret-0123456789abcdef"
TIME_BUCKETS = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
]
TOKEN_BUCKETS = [float(4**n) for n in range(14)]


class Otel:
    """A tracer and a meter provider of the real SDK, with in-memory readers."""

    def __init__(self, **settings: Any) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.reader])
        self.telemetry = deltafold.Telemetry(
            tracer_provider=tracer_provider, meter_provider=meter_provider, **settings
        )

    def span(self) -> ReadableSpan:
        spans = self.spans.get_finished_spans()
        assert len(spans) == 1, spans
        return spans[0]

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = out.setdefault(metric.name, [])
                    points.extend((dict(p.attributes), p) for p in metric.data.data_points)
        return out

    def everything_recorded(self) -> str:
        """Every attribute and status text of the span and the metrics, as one text."""
        spans = self.spans.get_finished_spans()
        texts = [json.dumps(dict(s.attributes or {}), default=str) for s in spans]
        texts += [f"{s.name} {s.status.description}" for s in spans]
        for points in self.metrics().values():
            texts += [json.dumps(attrs, default=str) for attrs, _ in points]
        return "\n".join(texts)


@pytest.fixture(scope="module")
def paced() -> Iterator[str]:
    with deltafold.replay_server(chunks(), delay_ms=30, first_delay_ms=FIRST_DELAY * 1000) as url:
        yield url


def port_of(url: str) -> int:
    return int(url.split(":")[2].split("/")[0])


@pytest.mark.anyio
async def test_one_stream_gives_one_span_and_the_metrics(paced: str) -> None:
    otel = Otel()
    async with deltafold.Client(base_url=paced, api_key=SECRET) as client, client.stream(
        model="test/model", messages=[{"role": "user", "content": "hi"}],
        telemetry=otel.telemetry,
    ) as stream:
        await stream.until_done()
    span = otel.span()
    assert span.name == "chat test/model" and span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = dict(span.attributes or {})
    ttfc = attrs.pop("gen_ai.response.time_to_first_chunk")
    assert ttfc == pytest.approx(stream.timing.time_to_first_chunk) and ttfc >= FIRST_DELAY * 0.9
    assert attrs == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "127.0.0.1",
        "gen_ai.request.model": "test/model",
        "gen_ai.request.stream": True,
        "gen_ai.response.id": "gen-1",
        "gen_ai.response.model": "test/model",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.usage.cache_read.input_tokens": 3,
        "server.address": "127.0.0.1",
        "server.port": port_of(paced),
        "deltafold.retries": 0,
    }
    assert span.end_time is not None
    metrics = otel.metrics()
    base = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "127.0.0.1",
        "gen_ai.request.model": "test/model", "server.address": "127.0.0.1",
        "server.port": port_of(paced),
    }
    [(attrs, duration)] = metrics["gen_ai.client.operation.duration"]
    assert attrs == {**base, "gen_ai.response.model": "test/model"}
    assert duration.count == 1 and duration.sum == pytest.approx(stream.timing.duration)
    assert list(duration.explicit_bounds) == TIME_BUCKETS
    [(_, first)] = metrics["gen_ai.client.operation.time_to_first_chunk"]
    assert first.count == 1 and first.sum == pytest.approx(ttfc)
    [(attrs, per_chunk)] = metrics["gen_ai.client.operation.time_per_output_chunk"]
    assert attrs == base and per_chunk.count == 6  # every chunk after the first
    assert list(per_chunk.explicit_bounds) == TIME_BUCKETS
    assert per_chunk.max == pytest.approx(stream.timing.gaps.max)
    tokens = {a["gen_ai.token.type"]: p for a, p in metrics["gen_ai.client.token.usage"]}
    assert tokens["input"].sum == 11 and tokens["output"].sum == 7
    assert list(tokens["input"].explicit_bounds) == TOKEN_BUCKETS
    assert SECRET not in otel.everything_recorded()


def test_sync_stream_records_too_and_telemetry_false_records_nothing(paced: str) -> None:
    otel = Otel()
    with deltafold.SyncClient(base_url=paced, api_key="") as client:
        with client.stream(model="m", messages=[], telemetry=otel.telemetry) as stream:
            stream.until_done()
        assert otel.span().name == "chat m"
        off = Otel()
        with client.stream(model="m", messages=[], telemetry=False) as stream:
            stream.until_done()
        assert stream.timing.ended  # the timing is kept without telemetry
    assert off.spans.get_finished_spans() == () and off.metrics() == {}


@pytest.mark.anyio
async def test_a_stream_error_ends_the_span_with_its_type() -> None:
    otel = Otel()
    with deltafold.replay_server(chunks(error=True), delay_ms=5) as url:
        async with deltafold.Client(base_url=url, api_key=SECRET) as client:
            with pytest.raises(deltafold.StreamError):
                async with client.stream(
                    model="m", messages=[], telemetry=otel.telemetry
                ) as stream:
                    await stream.until_done()
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "StreamError"  # type: ignore[index]
    assert "upstream went away" in (span.status.description or "")
    [(attrs, _)] = otel.metrics()["gen_ai.client.operation.duration"]
    assert attrs["error.type"] == "StreamError"


def test_an_http_status_error_is_recorded_as_its_code() -> None:
    otel = Otel()
    with ReplayServer() as server:
        body = json.dumps({"error": {"message": f"bad key {SECRET}"}}).encode()
        url = server.add(body, status=401, content_type="application/json", whole=True)
        base = url.removesuffix("/chat/completions")
        with deltafold.SyncClient(base_url=base, api_key=SECRET) as client:
            stream = client.stream(model="m", messages=[], telemetry=otel.telemetry)
            with pytest.raises(deltafold.APIStatusError):
                stream.__enter__()
    span = otel.span()
    assert span.attributes["error.type"] == "401"  # type: ignore[index]
    assert span.status.status_code is StatusCode.ERROR
    assert SECRET not in otel.everything_recorded()


@pytest.mark.anyio
async def test_cancellation_ends_the_span(anyio_backend: str) -> None:
    otel = Otel()
    with deltafold.replay_server(chunks(), delay_ms=300) as url:
        async with deltafold.Client(base_url=url, api_key="") as client:
            s = client.stream(model="m", messages=[], telemetry=otel.telemetry)
            with anyio.move_on_after(0.4):
                async with s:
                    async for _chunk in s:
                        pass
    span = otel.span()
    expected = "CancelledError" if anyio_backend == "asyncio" else "Cancelled"
    assert span.attributes["error.type"] == expected  # type: ignore[index]
    assert span.status.status_code is StatusCode.ERROR
    assert s.timing.ended and s.timing.chunks < 7


@pytest.mark.anyio
async def test_an_early_break_ends_the_span_without_an_error(paced: str) -> None:
    otel = Otel()
    client = deltafold.Client(base_url=paced, api_key="")
    async with client, client.stream(model="m", messages=[], telemetry=otel.telemetry) as stream:
        async for _chunk in stream:
            break
        assert otel.spans.get_finished_spans() == ()  # still open inside the block
    span = otel.span()
    assert span.status.status_code is StatusCode.UNSET and "error.type" not in span.attributes  # type: ignore[operator]
    assert span.attributes["gen_ai.response.model"] == "test/model"  # type: ignore[index]
    assert "gen_ai.response.finish_reasons" not in span.attributes  # type: ignore[operator]
    [(attrs, _)] = otel.metrics()["gen_ai.client.operation.duration"]
    assert "error.type" not in attrs


@pytest.mark.anyio
async def test_content_only_on_opt_in_and_never_the_key(
    paced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = [{"role": "user", "content": f"my key is {SECRET}"}]
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    runs = {}
    for name, settings, env in (
        ("default", {}, None),
        ("env", {}, "true"),
        ("param", {"capture_content": True}, None),
        ("param-off", {"capture_content": False}, "true"),
    ):
        if env is not None:
            monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", env)
        otel = Otel(**settings)
        client = deltafold.Client(base_url=paced, api_key=SECRET)
        async with client, client.stream(
            model="m", messages=messages, telemetry=otel.telemetry
        ) as stream:
            await stream.until_done()
        runs[name] = dict(otel.span().attributes or {})
        assert SECRET not in otel.everything_recorded()
        monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    assert "gen_ai.input.messages" not in runs["default"]
    assert "gen_ai.input.messages" not in runs["param-off"]
    for name in ("env", "param"):
        sent = json.loads(runs[name]["gen_ai.input.messages"])
        assert sent == [{"role": "user", "content": "my key is ***"}]
        [out] = json.loads(runs[name]["gen_ai.output.messages"])
        assert out["parts"][-1] == {"type": "text", "content": "Hello there!"}
        assert out["finish_reason"] == "stop"


def test_provider_names() -> None:
    from deltafold._telemetry import provider_name

    assert provider_name("openrouter.ai") == "openrouter"
    assert provider_name("api.openai.com") == "openai"
    assert provider_name("notopenai.com") == "notopenai.com"
    assert provider_name("LLM.Example.org") == "llm.example.org"


def test_a_wrong_telemetry_argument_is_a_type_error(paced: str) -> None:
    with deltafold.SyncClient(base_url=paced, api_key="") as client:
        stream = client.stream(model="m", messages=[], telemetry="yes")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="telemetry must be"):
            stream.__enter__()


GLOBAL_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import deltafold
    from deltafold import _telemetry

    url = sys.argv[1]
    out = {}
    with deltafold.SyncClient(base_url=url, api_key="") as client:
        with client.stream(model="m", messages=[]) as stream:
            out["hook_without_sdk"] = stream.timing.on_gap is not None
            stream.until_done()
        if sys.argv[2] == "sdk":
            from opentelemetry import metrics, trace
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import InMemoryMetricReader
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
            spans = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(spans))
            trace.set_tracer_provider(provider)
            reader = InMemoryMetricReader()
            metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
            with client.stream(model="m", messages=[]) as stream:
                stream.until_done()
            out["spans"] = [s.name for s in spans.get_finished_spans()]
            data = reader.get_metrics_data()
            out["metrics"] = sorted(
                m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics
            )
    print(json.dumps(out))
    """
)


@pytest.mark.parametrize("mode", ["api-only", "sdk"])
def test_global_providers_only_once_an_sdk_is_set(paced: str, mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", GLOBAL_SCRIPT, paced, mode],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["hook_without_sdk"] is False
    if mode == "sdk":
        assert out["spans"] == ["chat m"]
        assert out["metrics"] == [
            "gen_ai.client.operation.duration",
            "gen_ai.client.operation.time_per_output_chunk",
            "gen_ai.client.operation.time_to_first_chunk",
            "gen_ai.client.token.usage",
        ]


@pytest.mark.anyio
async def test_cancelled_while_waiting_for_headers_ends_the_span(anyio_backend: str) -> None:
    otel = Otel()
    with FaultServer() as faults:
        url, _ = faults.add([Stall()], head=b"")
        async with httpx.AsyncClient() as http:
            stream = deltafold.aconnect_chat(
                http, url, json={"model": "m"}, telemetry=otel.telemetry
            )
            with anyio.move_on_after(0.3):
                async with stream:
                    pytest.fail("the headers never came")
    span = otel.span()
    expected = "CancelledError" if anyio_backend == "asyncio" else "Cancelled"
    assert span.attributes["error.type"] == expected  # type: ignore[index]
    assert stream.timing.ended and stream.timing.time_to_headers is None
    with pytest.raises(deltafold.StreamUsageError):
        _ = stream.completion


@pytest.mark.anyio
async def test_cancelled_while_reading_an_error_body_ends_the_span(anyio_backend: str) -> None:
    otel = Otel()
    head = (
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    with FaultServer() as faults:
        url, _ = faults.add([Send(b'{"error": '), Stall()], head=head)
        async with httpx.AsyncClient() as http:
            stream = deltafold.aconnect_chat(
                http, url, json={"model": "m"}, telemetry=otel.telemetry
            )
            with anyio.move_on_after(0.5):
                async with stream:
                    pytest.fail("the error body never ended")
    span = otel.span()
    expected = "CancelledError" if anyio_backend == "asyncio" else "Cancelled"
    assert span.attributes["error.type"] == expected  # type: ignore[index]
    assert stream.timing.ended and stream.timing.time_to_headers is not None
