"""The package's shape: no import circle, no module or function too long to read in one sitting.

The import graph is read from the source (``ast``), not from ``sys.modules``:
every ``import`` of a deltafold module counts, at module level or deferred
inside a function (a deferred import that dodges a circle is still a circle);
only imports under ``if TYPE_CHECKING:`` (types, never run) are left out.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "deltafold"


def _module_name(path: Path) -> str:
    """A module's name inside the package: ``_core``, ``responses._fold``; the package's own
    ``__init__`` is ``__init__``, a subpackage's ``responses.__init__``."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts)


MODULES = sorted(_module_name(path) for path in SRC.rglob("*.py"))
"""Every module of the package, subpackages included."""
PACKAGES = {name.rpartition(".")[0] for name in MODULES if name.endswith(".__init__")}
"""The subpackages (``responses``...)."""
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
DECLARATIONS = {"_cli": {"build_parser"}}
"""Functions exempt from the length limit: flat argparse declarations, one call per option."""

PENDING: dict[str, dict[str, str]] = {"circle": {}, "module": {}, "function": {}}
"""Checks expected to fail while a change is under way (xfail, not strict); empty when none."""


def _params(check: str) -> list[object]:
    pending = PENDING[check]
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=False, reason=pending[name]))
        if name in pending
        else name
        for name in MODULES
    ]


def _path(name: str) -> Path:
    return SRC.joinpath(*name.split(".")).with_suffix(".py")


@functools.cache
def _tree(name: str) -> ast.Module:
    return ast.parse(_path(name).read_text(encoding="utf-8"))


def _package(name: str) -> str:
    """The package a module sits in (``""`` for the top level), as relative imports start."""
    return name.rpartition(".")[0]


def _resolve(dotted: str, names: list[str]) -> set[str]:
    """The modules that ``from deltafold.<dotted> import <names>`` loads."""
    if not dotted:
        return {n if n in MODULES else "__init__" for n in names}
    if dotted in MODULES:
        return {dotted}
    if dotted in PACKAGES:
        init = f"{dotted}.__init__"
        if not names:
            return {init}
        return {f"{dotted}.{n}" if f"{dotted}.{n}" in MODULES else init for n in names}
    return {dotted.split(".")[0]}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST, package: str = "") -> set[str]:
    """The deltafold modules that ``node`` imports (``__init__`` for the package itself),
    read from a module of ``package`` (relative imports start there)."""
    found: set[str] = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "deltafold":
                found |= _resolve(".".join(parts[1:]), [])
                if len(parts) == 1:
                    found.add("__init__")
    elif isinstance(node, ast.ImportFrom):
        module = node.module or ""
        names = [alias.name for alias in node.names]
        if node.level:
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            found |= _resolve(".".join([*base, *([module] if module else [])]), names)
        elif module.split(".")[0] == "deltafold":
            found |= _resolve(module.partition(".")[2], names)
    return found


@functools.cache
def _imports(name: str) -> frozenset[str]:
    found: set[str] = set()
    stack: list[ast.AST] = [_tree(name)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        found |= _imported(node, _package(name))
        stack.extend(ast.iter_child_nodes(node))
    found.discard(name)
    return frozenset(found)


def _graph() -> dict[str, frozenset[str]]:
    return {name: _imports(name) for name in MODULES}


def _reaches(graph: Mapping[str, Collection[str]], start: str, goal: str) -> list[str] | None:
    """A path of imports from ``start`` to ``goal`` (both included), or None."""
    seen = {start}
    paths = [[start]]
    while paths:
        path = paths.pop()
        for nxt in sorted(graph[path[-1]]):
            if nxt == goal:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                paths.append([*path, nxt])
    return None


def test_the_graph_reader_sees_every_kind_of_import() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import deltafold._a\n"
        "from deltafold._b import x\n"
        "from . import _models as m\n"
        "from . import __version__\n"
        "from ._c import y\n"
        "if TYPE_CHECKING:\n"
        "    from ._d import z\n"
        "def f():\n"
        "    from ._e import w\n"
    )
    found: set[str] = set()
    stack: list[ast.AST] = [ast.parse(source)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            continue
        found |= _imported(node)
        stack.extend(ast.iter_child_nodes(node))
    assert found == {"_a", "_b", "_models", "__init__", "_c", "_e"}


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _reaches(graph, "a", "a") == ["a", "b", "c", "a"]
    assert _reaches(graph, "d", "d") is None


def test_every_source_module_is_checked() -> None:
    assert {"_accumulator", "_choice", "_result", "_jsonvalue", "_models"} <= set(MODULES)
    assert {"responses._fold", "responses.__init__"} <= set(MODULES)
    assert {"messages._fold", "messages.__init__"} <= set(MODULES)


def test_the_graph_reader_resolves_imports_in_a_subpackage() -> None:
    source = (
        "from .. import _models\n"
        "from .._convert import converter\n"
        "from ._items import Item\n"
        "from . import _convert\n"
        "import deltafold.responses\n"
    )
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        found |= _imported(node, "responses")
    assert found == {
        "_models", "_convert", "responses._items", "responses._convert", "responses.__init__"
    }


@pytest.mark.parametrize("name", _params("circle"))
def test_module_is_on_no_import_circle(name: str) -> None:
    circle = _reaches(_graph(), name, name)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


@pytest.mark.parametrize(
    "name", ["_jsonvalue", "_jsontext", "_content_parts", "_deferred", "_chat_param"]
)
def test_leaf_modules_import_nothing_from_deltafold(name: str) -> None:
    assert _imports(name) == set()


def test_the_models_import_only_the_content_part_rule_deferral_and_param_form() -> None:
    assert _imports("_models") == {"_chat_param", "_content_parts", "_deferred"}


@pytest.mark.parametrize("name", _params("module"))
def test_module_fits_in_one_sitting(name: str) -> None:
    lines = _path(name).read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{name}.py has {lines} lines"


@pytest.mark.parametrize("name", _params("function"))
def test_functions_fit_in_one_screen(name: str) -> None:
    exempt = DECLARATIONS.get(name, set())
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(_tree(name))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
        and node.name not in exempt
    ]
    assert not long, f"{name}.py: {', '.join(long)}"


IO_LIBRARIES = ("httpx", "anyio", "starlette", "uvicorn", "socket", "threading", "trio")
"""What only the network shell, the replay server and the CLI may import."""
SANS_IO = (
    "_accumulator", "_choice", "_result", "_merge", "_convert", "_models", "_jsonvalue",
    "_jsontext", "_decode", "_sse", "_sse_chunks", "_rawcut", "_body", "_core", "_iterfold",
    "_assemble",
    "_split", "_events", "_limits", "_exceptions", "_sentinel", "_redact", "_partial_json",
    "_timing",
    "_json_events", "_json_scalars", "_json_fold", "_typed", "_content_parts", "_bulkrow",
    "_fast_structure", "_strict", "_format", "_chat_format", "_plural", "_lenient", "_formats",
    *(
        name for name in MODULES
        if name.startswith(("responses.", "messages."))
        and not name.endswith(("._stream", ".__init__"))
    ),
)
"""The core: chunks and bytes in, values out; it never opens a socket (docs/concepts.md)."""


def _imports_io(name: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(_tree(name)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found.update(n.split(".")[0] for n in names if n.split(".")[0] in IO_LIBRARIES)
    return found


@pytest.mark.parametrize("name", SANS_IO)
def test_the_core_reaches_no_io(name: str) -> None:
    graph = _graph()
    for other in MODULES:
        if _imports_io(other) and other != name:
            path = _reaches(graph, name, other)
            assert path is None, f"{' -> '.join(path or [])} imports {_imports_io(other)}"
    assert not _imports_io(name), f"{name} imports {_imports_io(name)}"


def test_the_io_reader_finds_io() -> None:
    assert _imports_io("_http") == {"httpx", "anyio"}
    assert "anyio" in _imports_io("_stream")


LAYERS = (
    (
        "_models", "_chat_param", "_deferred", "_content_parts", "_jsonvalue", "_jsontext",
        "_sentinel",
        "_exceptions", "_limits", "_json_events", "_events", "_redact", "_timing", "_format",
        "_plural",
        "responses._parts", "responses._items", "responses._models", "responses._events",
        "responses._state", "convert._ops",
    ),
    (
        "_sse", "_rawcut", "_decode", "_sse_chunks", "_json_scalars", "_partial_json",
        "responses._empty", "convert._chat_finish", "convert._responses_usage",
    ),
    (
        "_fast_structure", "_convert", "_lenient", "_strict", "_typed", "responses._convert",
        "messages._blocks", "messages._models", "messages._events", "messages._convert",
    ),
    (
        "_merge", "_choice", "_json_fold", "_result", "_accumulator", "_chat_format",
        "responses._rules", "responses._json", "responses._fold", "responses._format",
        "messages._usage", "messages._state", "messages._fold", "messages._format",
    ),
    (
        "_body", "_assemble", "_core", "_iterfold", "responses._assemble", "responses._iterfold",
        "messages._assemble", "_formats",
    ),
    (
        "_http", "_retry", "_endpoint", "_telemetry", "_stream", "_stream_sync",
        "responses._stream", "messages._stream", "_client",
    ),
    (
        "_bulkrow", "_gunzip", "_bulk_hints", "_arrow", "_bulk_read", "_bulk", "_bulk_ray",
        "_bulk_duckdb",
    ),
    (
        "_bulk_cli", "_split", "_server", "_live", "_demo", "_cli", "__main__", "__init__",
        "responses._unfold", "responses.__init__", "messages._unfold", "messages.__init__",
        "chat.__init__", "convert._source", "convert._read_chat", "convert._write_chat",
        "convert._read_responses", "convert._write_responses", "convert._read_messages",
        "convert._write_messages", "convert._converter", "convert.__init__",
    ),
)
"""The table in docs/concepts.md ("Which file holds what"), top row first; a subpackage's
modules sit in the rows of the top-level modules they stand beside."""


def test_every_module_has_a_layer() -> None:
    placed = [name for row in LAYERS for name in row]
    assert sorted(placed) == MODULES


@pytest.mark.parametrize("name", MODULES)
def test_imports_run_up_the_layers(name: str) -> None:
    """A module imports only modules of its own layer or of the layers above it."""
    layer = {module: n for n, row in enumerate(LAYERS) for module in row}
    below = sorted(other for other in _imports(name) if layer[other] > layer[name])
    assert not below, f"{name} (layer {layer[name]}) imports {below} from a lower layer"


def test_the_layer_table_in_the_docs_matches() -> None:
    concepts = (SRC.parent.parent / "docs" / "concepts.md").read_text(encoding="utf-8")
    for row in LAYERS:
        for name in row:
            if not name.startswith("__") and "." not in name:  # the subpackages: their own pages
                assert f"`{name}`" in concepts, f"{name} is missing from docs/concepts.md"
