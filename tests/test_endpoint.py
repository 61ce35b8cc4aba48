"""The one endpoint and credential rule (Client, SyncClient, ``deltafold stream``), and
the APIStatusError message that names the method and the URL.

Requests go through httpx's MockTransport (no socket at all) so that OpenRouter's and
OpenAI's real hosts can be the target without leaving the machine; the CLI cases run
``python -m deltafold`` against servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import deltafold
from deltafold import APIStatusError, EndpointError
from deltafold._cli import demo_recording

OR_KEY = "sk-or-v1-endpoint-test-0123456789"
OAI_KEY = "sk-proj-endpoint-test-9876543210"
MY_KEY = "sk-explicit-endpoint-test-5555"
VARS = ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL")
SSE = (
    b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\n'
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARS:
        monkeypatch.delenv(name, raising=False)


def sent(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> tuple[str, str]:
    """The URL and Authorization header one SyncClient request really carries."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=SSE, headers={"content-type": "text/event-stream"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = deltafold.SyncClient(http_client=http, **kwargs)
        with client.stream(model="m", messages=[]) as stream:
            assert stream.until_done().choices[0].message.content == "ok"
    (request,) = seen
    return str(request.url), request.headers.get("authorization", "")


LOCAL = "http://127.0.0.1:8001/v1"

RULE_CASES: list[tuple[str, dict[str, str], dict[str, Any], str, str]] = [
    ("openai key only", {"OPENAI_API_KEY": OAI_KEY}, {}, "https://api.openai.com/v1", OAI_KEY),
    (
        "openai key and base url",
        {"OPENAI_API_KEY": OAI_KEY, "OPENAI_BASE_URL": "https://oai.proxy.example/v1/"},
        {},
        "https://oai.proxy.example/v1",
        OAI_KEY,
    ),
    (
        "openrouter first",
        {"OPENROUTER_API_KEY": OR_KEY, "OPENAI_API_KEY": OAI_KEY},
        {},
        "https://openrouter.ai/api/v1",
        OR_KEY,
    ),
    (
        "openrouter key with its own proxy",
        {"OPENROUTER_API_KEY": OR_KEY, "OPENROUTER_BASE_URL": "https://my-proxy.example/api/v1"},
        {},
        "https://my-proxy.example/api/v1",
        OR_KEY,
    ),
    (
        "an openrouter base url does not pull an openai key to it",
        {"OPENAI_API_KEY": OAI_KEY, "OPENROUTER_BASE_URL": LOCAL},
        {},
        "https://api.openai.com/v1",
        OAI_KEY,
    ),
    (
        "explicit openai url takes the openai key",
        {"OPENROUTER_API_KEY": OR_KEY, "OPENAI_API_KEY": OAI_KEY},
        {"base_url": "https://api.openai.com/v1"},
        "https://api.openai.com/v1",
        OAI_KEY,
    ),
    (
        "explicit openrouter url takes the openrouter key",
        {"OPENROUTER_API_KEY": OR_KEY, "OPENAI_API_KEY": OAI_KEY},
        {"base_url": "https://openrouter.ai/api/v1/"},
        "https://openrouter.ai/api/v1",
        OR_KEY,
    ),
    (
        "loopback gets no environment key",
        {"OPENROUTER_API_KEY": OR_KEY, "OPENAI_API_KEY": OAI_KEY},
        {"base_url": LOCAL},
        LOCAL,
        "",
    ),
    (
        "localhost needs no key at all",
        {},
        {"base_url": "http://localhost:8001/v1"},
        "http://localhost:8001/v1",
        "",
    ),
    (
        "ipv6 loopback",
        {"OPENROUTER_API_KEY": OR_KEY},
        {"base_url": "http://[::1]:8001/v1"},
        "http://[::1]:8001/v1",
        "",
    ),
    (
        "loopback named by the family's own base url variable",
        {"OPENAI_API_KEY": OAI_KEY, "OPENAI_BASE_URL": "http://localhost:8001/v1"},
        {"base_url": "http://localhost:8001/v1"},
        "http://localhost:8001/v1",
        OAI_KEY,
    ),
    (
        "explicit key goes where the caller says",
        {"OPENAI_API_KEY": OAI_KEY},
        {"base_url": "https://openrouter.ai/api/v1", "api_key": MY_KEY},
        "https://openrouter.ai/api/v1",
        MY_KEY,
    ),
    (
        "explicit key, base url from the environment",
        {"OPENAI_BASE_URL": "https://x.example/v1"},
        {"api_key": MY_KEY},
        "https://x.example/v1",
        MY_KEY,
    ),
    (
        "empty key means none",
        {"OPENROUTER_API_KEY": OR_KEY},
        {"base_url": "https://lan.example/v1", "api_key": ""},
        "https://lan.example/v1",
        "",
    ),
    (
        "the caller's own Authorization header",
        {"OPENROUTER_API_KEY": OR_KEY},
        {"base_url": "https://lan.example/v1", "headers": {"Authorization": f"Bearer {MY_KEY}"}},
        "https://lan.example/v1",
        MY_KEY,
    ),
]


@pytest.mark.parametrize(
    ("env", "kwargs", "base", "key"), [pytest.param(*c[1:], id=c[0]) for c in RULE_CASES]
)
def test_endpoint_rule(
    env: dict[str, str],
    kwargs: dict[str, Any],
    base: str,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, auth = sent(env, monkeypatch, **kwargs)
    assert url == f"{base}/chat/completions"
    assert auth == (f"Bearer {key}" if key else "")


ERROR_CASES: list[tuple[str, dict[str, str], dict[str, Any], list[str]]] = [
    ("nothing set", {}, {}, ["no API key", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"]),
    (
        "openai key, openrouter url",
        {"OPENAI_API_KEY": OAI_KEY},
        {"base_url": "https://openrouter.ai/api/v1"},
        ["OPENROUTER_API_KEY", "OPENAI_API_KEY is set but only goes to openai.com"],
    ),
    (
        "openrouter key, openai url",
        {"OPENROUTER_API_KEY": OR_KEY},
        {"base_url": "https://api.openai.com/v1"},
        ["set OPENAI_API_KEY", "OPENROUTER_API_KEY is set"],
    ),
    (
        "openrouter base url pointing at openai",
        {"OPENROUTER_API_KEY": OR_KEY, "OPENROUTER_BASE_URL": "https://api.openai.com/v1"},
        {},
        ["no API key for https://api.openai.com/v1", "OPENAI_API_KEY"],
    ),
    (
        "another provider's host",
        {"OPENAI_API_KEY": OAI_KEY},
        {"base_url": "https://api.together.example/v1"},
        ["pass api_key", "OPENAI_BASE_URL=https://api.together.example/v1"],
    ),
    (
        "no scheme",
        {},
        {"base_url": "127.0.0.1:8001/v1"},
        ["did you mean http://127.0.0.1:8001/v1?"],
    ),
    (
        "no scheme, localhost",
        {},
        {"base_url": "localhost:8000"},
        ["did you mean http://localhost:8000?"],
    ),
    (
        "no scheme, remote",
        {},
        {"base_url": "api.example.com/v1"},
        ["did you mean https://api.example.com/v1?"],
    ),
    ("other scheme", {}, {"base_url": "ws://127.0.0.1:8001/v1"}, ["scheme 'ws'", "http://"]),
    ("no host", {}, {"base_url": "http:///v1"}, ["has no host"]),
    ("empty", {}, {"base_url": ""}, ["has no scheme"]),
    (
        "bad variable",
        {"OPENROUTER_BASE_URL": "localhost:8000/v1"},
        {},
        ["OPENROUTER_BASE_URL='localhost:8000/v1'", "http://localhost:8000/v1"],
    ),
    ("query string", {}, {"base_url": f"https://x.example/v1?key={MY_KEY}"}, ["query string"]),
]


@pytest.mark.parametrize("client", [deltafold.Client, deltafold.SyncClient])
@pytest.mark.parametrize(
    ("env", "kwargs", "parts"), [pytest.param(*c[1:], id=c[0]) for c in ERROR_CASES]
)
def test_unusable_endpoint_fails_at_construction(
    client: Any,
    env: dict[str, str],
    kwargs: dict[str, Any],
    parts: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(EndpointError) as info:
        client(**kwargs)
    message = str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, deltafold.DeltafoldError)
    for part in parts:
        assert part in message, message
    for key in (OR_KEY, OAI_KEY, MY_KEY):
        assert key not in message


def test_base_url_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match="base_url must be a str"):
        deltafold.Client(base_url=b"http://127.0.0.1/v1")  # type: ignore[arg-type]


def test_key_over_plain_http_to_a_remote_host_warns() -> None:
    with pytest.warns(UserWarning, match="unencrypted to 10.1.2.3") as caught:
        deltafold.SyncClient("http://10.1.2.3:8000/v1", api_key=MY_KEY)
    assert caught[0].filename == __file__  # points at the caller's line
    assert all(MY_KEY not in str(w.message) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deltafold.SyncClient("http://127.0.0.1:8000/v1", api_key=MY_KEY)
        deltafold.SyncClient("https://10.1.2.3/v1", api_key=MY_KEY)
        deltafold.SyncClient("http://10.1.2.3:8000/v1", api_key="")


# --- APIStatusError names the method and URL -----------------------------------------------


def status_error(url: str, status: int, body: bytes, key: str = MY_KEY) -> APIStatusError:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        stream = deltafold.connect_chat(
            http, url, json={"model": "m"}, headers={"Authorization": f"Bearer {key}"}
        )
        with pytest.raises(APIStatusError) as info, stream:
            pass
    return info.value


def test_404_names_the_url_and_hints_at_v1() -> None:
    exc = status_error("http://127.0.0.1:8001/chat/completions", 404, b'{"detail":"Not Found"}')
    assert str(exc).startswith(
        "HTTP 404 Not Found from POST http://127.0.0.1:8001/chat/completions"
    )
    assert str(exc).endswith("(is the base URL missing /v1?)")
    for versioned in ("/v1/chat/completions", "/api/v1/chat/completions", "/v1beta/openai/x"):
        exc = status_error(f"http://127.0.0.1:8001{versioned}", 404, b"{}")
        assert f"from POST http://127.0.0.1:8001{versioned}" in str(exc)
        assert "/v1?" not in str(exc)
    exc = status_error("http://127.0.0.1:8001/chat/completions", 500, b"{}")
    assert "/v1?" not in str(exc) and "HTTP 500 Internal Server Error from POST" in str(exc)


def test_status_message_never_shows_a_key_from_the_url() -> None:
    secret = "query-secret-0123456789"
    body = json.dumps({"error": {"message": f"bad key {secret}, header {MY_KEY}"}}).encode()
    exc = status_error(f"https://x.example/v1/chat/completions?key={secret}&x=1", 401, body)
    text = str(exc) + repr(exc.body) + repr(exc.headers)
    assert "from POST https://x.example/v1/chat/completions:" in str(exc)
    assert secret not in text and MY_KEY not in text and "bad key ***" in str(exc)


# --- the CLI follows the same rule --------------------------------------------------------


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in VARS and k != "NO_COLOR"}
    return subprocess.run(
        [sys.executable, "-m", "deltafold", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def local() -> Iterator[str]:
    with deltafold.replay_server(demo_recording()) as base:
        yield base


def test_cli_stream_needs_no_key_for_a_loopback_server(local: str) -> None:
    result = cli("stream", "-m", "m", "--json", "--base-url", local, "Hi")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["choices"][0]["message"]["tool_calls"]
    # Keys in the environment are not sent to it, and not needed.
    result = cli("stream", "-m", "m", "--base-url", local, "Hi", OPENROUTER_API_KEY=OR_KEY)
    assert result.returncode == 0, result.stderr
    assert OR_KEY not in result.stdout + result.stderr


def test_cli_stream_refuses_an_unusable_endpoint() -> None:
    result = cli("stream", "-m", "m", "--base-url", "127.0.0.1:8001/v1", "Hi")
    assert result.returncode == 1
    assert result.stderr.startswith(
        "deltafold stream: --base-url='127.0.0.1:8001/v1' has no scheme"  # as it was typed
    )
    assert "did you mean http://127.0.0.1:8001/v1?" in result.stderr
    result = cli(
        "stream",
        "-m",
        "m",
        "--base-url",
        "https://openrouter.ai/api/v1",
        "Hi",
        OPENAI_API_KEY=OAI_KEY,
    )
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "OPENROUTER_API_KEY" in result.stderr and OAI_KEY not in result.stderr


def test_cli_stream_404_names_the_url(local: str) -> None:
    root = local.removesuffix("/v1")
    result = cli("stream", "-m", "m", "--base-url", root, "Hi")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"deltafold stream: HTTP 404 Not Found from POST {root}/chat/completions: Not Found "
        "(is the base URL missing /v1?)"
    )
