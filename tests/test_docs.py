"""The documentation is tested like code: every example runs, every table is checked.

- Each ``docs/examples/*.py`` runs as a subprocess with a timeout, copied alone
  into an empty folder (an example copied out of the repository runs). The texts
  :data:`EXPECTED` lists for it must all appear in its output, and a page must
  include it. The expectations live here, not in the example, so the page shows
  the reader only the script.
- Each ```` ```python ```` block in ``docs/*.md`` and ``README.md`` runs as a
  subprocess. A block meant as a fragment is marked with ``<!-- docs: skip -->``
  on the line before its fence, and the reason after the marker.
- Each ```` ```sh ```` block on the site must be a command from the README,
  which is what CI runs.
- Each test a page names (``tests/x.py::test_y``) must exist. Each row of the
  provider-quirks table must name one, and each recording it names must be in
  the corpus manifest.
- ``mkdocs build --strict`` must pass.

Examples run with proxy variables that point at a closed local port, and
``NO_PROXY`` only for localhost. An example that reached for the internet
through httpx would fail instead of leaving the machine.
"""

from __future__ import annotations

import ast
import html
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import deltafold
from conftest import corpus_entries

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
EXAMPLES = DOCS / "examples"
TESTS = REPO / "tests"

SKIP_MARK = "<!-- docs: skip"
HARNESS_LINE = re.compile(r"^# expect: (.+)$", re.M)
"""The old in-file form of an expectation: refused, since readers would see it."""

UMBRELLA = (
    "I'll check the current forecast for Lisbon so I can tell you whether to pack an umbrella."
)
"""The content of ``deltafold.demo_recording()``, which most examples replay."""
WEATHER_CALL = (
    'get_weather {"city": "Lisbon", "country": "PT", "unit": "celsius", '
    '"include": ["precipitation"]}'
)
EXPECTED: dict[str, list[str]] = {
    "responses_stream.py": [
        "Take an umbrella: rain from 3 pm.\nstatus: completed | output tokens: 9",
        "sync: Take an umbrella: rain from 3 pm.",
    ],
    "messages_stream.py": [
        "Take an umbrella: rain from 3 pm.\nstop_reason: end_turn | output tokens: 9",
        "sync: Take an umbrella: rain from 3 pm.",
    ],
    "concurrent_streams.py": ["20 streams, 20 finished with tool calls, 10600 tokens in total"],
    "connect_endpoint.py": [
        UMBRELLA,
        "finish_reason: tool_calls",
        "sync: get_weather",
    ],
    "httpx_sse_afold.py": [
        "[DONE] seen",
        "content: I'll check the current forecast for Lisbon so I can tell you whether to pack "
        "an umbrella.",
        'tool call: get_weather {"city": "Lisbon", "country": "PT", "unit": "celsius", '
        '"include": ["precipitation"]}',
        "sync: tool_calls",
    ],
    "live_tool_arguments.py": [
        "plan_trip(",
        "  stops[0].sights[1] = 'Belém Tower'",
        "  stops[1].budget_eur = 95",
        "  rail_pass = True",
        "same as json.loads: True",
        "typed: Ada visits Lisbon -> Porto -> Coimbra, rail pass: True",
    ],
    "mock_server_tests.py": [
        "passed: test_answers_with_the_weather",
        "passed: test_answers_without_a_tool_call",
        "passed: test_split_round_trips",
    ],
    "openai_sdk_afold.py": [
        UMBRELLA,
        "reasoning: The user wants to know the weather in Lisbon and whether an umbrella",
        f"tool call: {WEATHER_CALL}",
        "provider: Anthropic | cost: 0.003006",
    ],
    "openai_types.py": [
        "openai.types.chat.chat_completion ChatCompletion",
        'get_weather {"city": "Paris"}',
        "reasoning: Need the weather.",
    ],
    "quickstart_stream.py": [
        UMBRELLA,
        f"tool call: {WEATHER_CALL}",
        "tokens: 530",
    ],
    "record_and_assemble.py": [
        "content: Recorded once, replayed forever.",
        "tokens: 11",
        "same completion: True",
    ],
    "starlette_proxy.py": [
        f"browser got: {UMBRELLA}",
        "proxy logged the same completion: True",
        "browser got the recorded bytes: True",
    ],
    "convert_gateway.py": [
        f"messages client got: {UMBRELLA}",
        "tool use: get_weather {'city': 'Lisbon', 'country': 'PT', 'unit': 'celsius', "
        "'include': ['precipitation']}",
        "stop_reason: tool_use | usage: 412 118",
        "chat client got: Let me look that up. | finish_reason: tool_calls",
        "responses client got the upstream's answer: True",
        "recorded: /messages from chat completed total tokens 530",
        "recorded: /chat/completions from responses completed total tokens 42",
    ],
    "structured_output_endpoint.py": [
        "the browser got 39 partial values, then the final one",
        '  partial: {"title": "P"}',
        '"ingredients": ["200 g "]}',
        "last partial value == final answer: True",
    ],
    "stream_terminal.py": [
        "The user wants to know the weather in Lisbon and whether an umbrella is needed.",
        '-> get_weather({"city": "Lisbon", "country": "PT", "unit": "celsius", "include": [',
        "[finish_reason: tool_calls]",
        "[usage: 530 tokens, cost 0.003006]",
    ],
    "stream_timing.py": [
        "chunks: 43",
        # Times vary with the machine: ranges, as patterns. 250 ms before the first chunk.
        r"re:time to headers: \d+ ms",
        r"re:time to first chunk: (2[5-9]\d|[3-9]\d\d|[1-9]\d{3}) ms",
        r"re:time to first token: (2[5-9]\d|[3-9]\d\d|[1-9]\d{3}) ms",
        r"re:gaps: 42, p50 (1[5-9]|[2-9]\d|\d{3,}) ms, max \d+ ms",
        r"re:output tokens per second: \d+",
        r"re:43 chunks, headers \d+ms, first chunk \d+ms, first token \d+ms, total",
    ],
    "trio_stream.py": [
        f"answer: {UMBRELLA}",
        "finish_reason: tool_calls",
    ],
}
"""What each example must print: the test's side of the example, kept off the page.

An entry starting with ``re:`` is a regular expression searched in the output
(for what varies from run to run, such as times: write ranges, never exact values).
"""
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.M | re.S,
)
SNIPPET = re.compile(r'^\s*--8<--\s+"([^"]+)"\s*$')
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)`")
RECORDING_REF = re.compile(r"`([\w.-]+/[\w.-]+\.(?:sse|jsonl))`")
EXAMPLE_TIMEOUT = 90
BLOCK_TIMEOUT = 60


def _pages() -> list[Path]:
    return [*sorted(DOCS.rglob("*.md")), REPO / "README.md"]


def _offline_env() -> dict[str, str]:
    env = dict(os.environ)
    closed = "http://127.0.0.1:9"
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        env[name] = closed
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    for name in (
        "OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENROUTER_BASE_URL", "OPENROUTER_API_KEY",
        "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
    ):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_MKDOCS_2_WARNING"] = "1"
    return env


def _run(
    args: list[str], timeout: float, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args, cwd=cwd, env=_offline_env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"{' '.join(args)[:200]} did not finish in {timeout}s; output: {exc.stdout!r:.2000}"
        )


# --- code blocks ----------------------------------------------------------------


class Block:
    def __init__(self, page: Path, line: int, lang: str, body: str, skip: bool) -> None:
        self.page = page
        self.line = line
        self.lang = lang
        self.body = body
        self.skip = skip

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    @property
    def includes(self) -> list[str]:
        """The files a block includes with ``--8<--``, or [] for an ordinary block."""
        lines = [line for line in self.body.splitlines() if line.strip()]
        found = [SNIPPET.match(line) for line in lines]
        if lines and all(found):
            return [m.group(1) for m in found if m]
        return []


def _blocks() -> list[Block]:
    blocks = []
    for page in _pages():
        text = page.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            body = match.group("body")
            indent = match.group("indent")
            if indent:
                body = "\n".join(line[len(indent) :] for line in body.splitlines())
            blocks.append(Block(page, line, match.group("lang"), body, SKIP_MARK in before))
    return blocks


BLOCKS = _blocks()
PYTHON_BLOCKS = [b for b in BLOCKS if b.lang in ("python", "py", "pycon") and not b.includes]


@pytest.mark.parametrize("block", [pytest.param(b, id=b.id) for b in PYTHON_BLOCKS])
def test_python_block_runs(block: Block) -> None:
    if block.skip:
        pytest.skip(f"marked as a fragment at {block.id}")
    result = _run([sys.executable, "-c", block.body], BLOCK_TIMEOUT)
    assert result.returncode == 0, (
        f"the python block at {block.id} failed:\n{block.body}\n--- stderr\n{result.stderr}"
    )


def test_skipped_blocks_are_rare_and_explained() -> None:
    skipped = [b for b in BLOCKS if b.skip]
    for block in skipped:
        line = block.page.read_text().splitlines()[block.line - 2]
        reason = line.split(SKIP_MARK, 1)[1].strip(" :-").removesuffix("-->").strip()
        assert reason, f"{block.id}: say why the block is skipped: <!-- docs: skip: <reason> -->"
    assert len(skipped) <= 3, f"too many skipped blocks: {[b.id for b in skipped]}"


def test_every_block_has_a_known_language() -> None:
    allowed = {"python", "sh", "text"}
    bad = [f"{b.id} ({b.lang or 'no language'})" for b in BLOCKS if b.lang not in allowed]
    assert not bad, f"code blocks with a language this test does not check: {bad}"


def test_shell_blocks_are_readme_commands() -> None:
    readme = (REPO / "README.md").read_text()
    readme_commands = {
        part.strip()
        for block in BLOCKS
        if block.page.name == "README.md" and block.lang == "sh"
        for line in block.body.splitlines()
        for part in [line, *line.split("&&")]
    }
    for block in BLOCKS:
        if block.lang != "sh" or block.page.name == "README.md" or block.skip:
            continue
        for line in block.body.splitlines():
            command = line.split("  #")[0].strip()
            if not command or command.startswith("#"):
                continue
            assert command in readme_commands or command in readme, (
                f"{block.id}: `{command}` is not a command from README.md (which CI runs)"
            )


def test_exception_tree_matches_the_code() -> None:
    """The tree drawn in errors.md is the real class hierarchy, with every exception in it."""
    text = (DOCS / "errors.md").read_text()
    tree = next(b for b in BLOCKS if b.page.name == "errors.md" and b.lang == "text")
    parents: dict[int, str] = {}
    drawn = set()
    for line in tree.body.splitlines():
        match = re.match(r"^([│├└─ ]*)(\w+)", line)
        assert match, line
        depth = len(match.group(1)) // 4
        name = match.group(2)
        cls = getattr(deltafold, name)
        if depth:
            assert cls.__bases__[0] is getattr(deltafold, parents[depth - 1]), line
        parents[depth] = name
        drawn.add(name)
    exported = {
        name
        for name in deltafold.__all__
        if isinstance(getattr(deltafold, name), type)
        and issubclass(getattr(deltafold, name), deltafold.DeltafoldError)
    }
    assert drawn == exported
    for name in exported:
        assert f"[`{name}`]" in text or name == "DeltafoldError", f"errors.md has no row for {name}"


def test_diagram_names_are_public() -> None:
    """The names drawn in the layers diagram (after the ``·``) are real public names, and the
    diagram is a local file, not a script that renders in the browser."""
    svg = (DOCS / "img" / "layers.svg").read_text()
    labels = re.findall(r"·\s*([^<]+)</text>", svg)
    assert len(labels) == 4, labels
    for label in labels:
        for name in re.split(r"[/,]", label):
            assert name.strip() in deltafold.__all__, f"layers.svg: {name.strip()!r} is not public"
    assert "img/layers.svg" in (DOCS / "concepts.md").read_text()
    assert not [b.id for b in BLOCKS if b.lang == "mermaid"], "mermaid needs a CDN script"


# --- examples -------------------------------------------------------------------


EXAMPLE_FILES = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in EXAMPLE_FILES])
def test_example_runs(path: Path, tmp_path: Path) -> None:
    """Each example runs as a reader would: copied alone into an empty folder and run there
    (the recording it replays ships with the package, not beside the script)."""
    expected = EXPECTED.get(path.name, [])
    assert expected, f"{path.name} needs what it must print, in EXPECTED of tests/test_docs.py"
    copy = tmp_path / path.name
    copy.write_bytes(path.read_bytes())
    result = _run([sys.executable, str(copy)], EXAMPLE_TIMEOUT, cwd=tmp_path)
    if result.returncode == 77:
        pytest.skip(f"{path.name}: {result.stdout.strip().splitlines()[-1]}")
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout}\n{result.stderr}"
    for text in expected:
        found = (
            re.search(text[3:], result.stdout) if text.startswith("re:") else text in result.stdout
        )
        assert found, f"{path.name}: {text!r} not in its output:\n{result.stdout}"


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in EXAMPLE_FILES])
def test_example_shows_no_harness_lines(path: Path) -> None:
    """What the reader sees is the script: no expectations, no sys.path edits."""
    text = path.read_text()
    assert not HARNESS_LINE.search(text), f"{path.name}: move its '# expect:' lines to EXPECTED"
    assert "sys.path" not in text, f"{path.name} edits sys.path: examples run as installed"


def test_expectations_name_real_examples() -> None:
    assert set(EXPECTED) <= {p.name for p in EXAMPLE_FILES}, set(EXPECTED) - {
        p.name for p in EXAMPLE_FILES
    }


def test_every_example_is_included_and_every_include_exists() -> None:
    included = {name for block in BLOCKS for name in block.includes}
    for name in included:
        assert (EXAMPLES / name).is_file(), (
            f"a page includes docs/examples/{name}, which is missing"
        )
    orphans = {p.name for p in EXAMPLE_FILES} - included
    assert not orphans, f"examples no page includes: {sorted(orphans)}"


# --- tables that name tests and recordings -------------------------------------------


def _test_names(path: Path) -> set[str]:
    """``name`` for test functions and ``Class::name`` for test methods in one file."""
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(f"{node.name}::{item.name}")
    return {n for n in names if n.rsplit("::", 1)[-1].startswith("test")}


def test_every_test_named_in_the_docs_exists() -> None:
    cache: dict[Path, set[str]] = {}
    missing = []
    for page in _pages():
        for file, name in TEST_REF.findall(page.read_text()):
            path = REPO / file
            if not path.is_file():
                missing.append(f"{page.name}: {file} does not exist (for {name})")
                continue
            names = cache.setdefault(path, _test_names(path))
            if name not in names:
                missing.append(f"{page.name}: {file}::{name}")
    assert not missing, "tests named in the docs but not found:\n" + "\n".join(missing)


def _table(page: str, marker: str | None = None) -> list[dict[str, str]]:
    """Rows of the (first, or marked) table of a page, keyed by header."""
    text = (DOCS / page).read_text()
    if marker:
        text = text.split(f"<!-- {marker} -->", 1)[1].split(f"<!-- /{marker} -->", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip("|"))]
        assert len(cells) == len(header), f"{page}: malformed row {line!r}"
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def test_quirks_table_names_a_test_per_row() -> None:
    rows = _table("quirks.md", "quirks-table")
    assert len(rows) >= 15
    for row in rows:
        assert TEST_REF.findall(row["Test"]), f"quirks.md row without a test: {row['Provider']}"
        assert row["Provider"] and row["What it sends"] and row["What deltafold does"]


def test_quirks_table_recordings_are_in_the_corpus() -> None:
    known = {entry["path"]: entry for entry in corpus_entries()}
    if not known:  # the table names real recordings: only the real corpus can confirm them
        pytest.skip("quirks.md names real recordings; no real corpus (set DELTAFOLD_CORPUS)")
    rows = _table("quirks.md", "quirks-table")
    named = [
        (row["Provider"], path) for row in rows for path in RECORDING_REF.findall(row["Recording"])
    ]
    assert named
    for provider, path in named:
        assert path in known, f"quirks.md ({provider}) names {path}, which MANIFEST.json lacks"


def test_fold_rules_table_names_a_test_per_row() -> None:
    rows = _table("concepts.md", "fold-rules")
    assert len(rows) >= 10
    for row in rows:
        assert TEST_REF.findall(row["Test"]), f"concepts.md rule without a test: {row['Field']}"


def test_cli_table_lists_every_command() -> None:
    """The command table of index.md and the CLI's own subcommands are the same set."""
    result = _run([sys.executable, "-m", "deltafold", "--help"], BLOCK_TIMEOUT)
    assert result.returncode == 0, result.stderr
    listed = re.search(r"^  COMMAND\n((?:    .*\n|              .*\n)+)", result.stdout, re.M)
    assert listed, result.stdout
    commands = set(re.findall(r"^    (\w+)", listed.group(1), re.M))
    documented = {
        re.match(r"`deltafold (\w+)", row["Command"]).group(1)  # type: ignore[union-attr]
        for row in _table("index.md", "cli-table")
    }
    assert documented == commands


# --- the site -------------------------------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip(
        "mkdocstrings", reason="mkdocstrings is not installed (pip install -e '.[docs]')"
    )
    pytest.importorskip(
        "material", reason="mkdocs-material is not installed (pip install -e '.[docs]')"
    )
    result = _run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        timeout=180,
    )
    assert result.returncode == 0, (
        f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    )
    assert "Formatting signatures requires" not in result.stdout + result.stderr  # ruff found
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    # No badge on every field, and no private name in a rendered signature or value.
    assert "class-attribute" not in api and "instance-attribute" not in api
    text = html.unescape(re.sub(r"<[^>]+>", "", api))
    private = sorted(set(re.findall(r"(?<![\w*.])_[A-Za-z]\w*", text)))
    assert not private, f"private names on the API page: {private}"


def test_public_names_are_in_the_api_reference() -> None:
    api = (DOCS / "api.md").read_text()
    missing = [
        name
        for name in deltafold.__all__
        if not name.startswith("_") and f"::: deltafold.{name}\n" not in api
    ]
    assert not missing, f"public names missing from docs/api.md: {missing}"


# --- the endpoint page's command-line session ------------------------------------------


def _session() -> list[tuple[list[str], list[str]]]:
    """The ``$ command`` lines of endpoints.md's session, each with the output shown after it."""
    text = (DOCS / "endpoints.md").read_text()
    text = text.split("<!-- cli-session -->", 1)[1].split("<!-- /cli-session -->", 1)[0]
    steps: list[tuple[list[str], list[str]]] = []
    for block in (b for b in BLOCKS if b.page.name == "endpoints.md" and b.lang == "text"):
        if block.body not in text:
            continue
        for line in block.body.splitlines():
            if line.startswith("$ "):
                steps.append((shlex.split(line[2:]), []))
            elif steps:
                steps[-1][1].append(line)
    return steps


def test_endpoint_page_cli_session_runs_as_shown() -> None:
    """``deltafold serve`` then ``deltafold stream --base-url``, exactly as the page shows them
    (on a free port instead of 8001), print what the page shows."""
    (serve, serve_shown), (stream, stream_shown) = _session()
    assert serve[:2] == ["deltafold", "serve"] and stream[:2] == ["deltafold", "stream"]
    port_at = serve.index("--port") + 1
    shown_port = serve[port_at]
    serve[port_at] = "0"  # any free port; the real one is read from the server's output
    cli = [sys.executable, "-m", "deltafold"]
    server = subprocess.Popen(
        [*cli, *serve[1:]], cwd=REPO, env=_offline_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        printed = [server.stdout.readline() for _ in serve_shown]
        assert [line.rstrip("\n") for line in printed[:1]] == serve_shown[:1]
        url = re.search(r"Listening on (http://127\.0\.0\.1:(\d+)/v1)", printed[-1])
        assert url, printed
        assert printed[-1].rstrip("\n") == serve_shown[-1].replace(shown_port, url.group(2))
        stream = [arg.replace(f":{shown_port}/", f":{url.group(2)}/") for arg in stream]
        result = _run([*cli, *stream[1:]], BLOCK_TIMEOUT)
        assert result.returncode == 0, result.stderr
        assert result.stdout.rstrip("\n").splitlines() == stream_shown
    finally:
        server.terminate()
        server.wait(10)
