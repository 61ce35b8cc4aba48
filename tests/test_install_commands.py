"""Every ``pip install`` the project prints or documents works as written.

deltafold is not on PyPI: a requirement that names it must come from a clone (a path:
``.``, ``".[arrow]"``, ``/path/to/deltafold``) or from the repository
(``"deltafold[arrow] @ git+https://..."``). A bare ``deltafold`` or ``deltafold[arrow]``
would ask PyPI and fail. Every extra a command names must exist in pyproject.toml.
The pages scanned are README.md and docs/; the missing-extra errors are checked too.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement

from deltafold._exceptions import install_hint

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
EXTRAS = set(PROJECT["optional-dependencies"])
PIP_INSTALL = re.compile(r"pip install\s+(?P<args>[^`&;#\n]+?)(?:\s+#.*)?(?=$|`|&&|;)", re.M)
"""A ``pip install`` command up to the end of its line, code span, ``&&``, ``;`` or comment."""
TAKES_A_VALUE = {
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-t",
    "--target",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
}


def problems(args: str) -> list[str]:
    """What is wrong with the requirements of ``pip install <args>``; [] when it works."""
    found: list[str] = []
    tokens = shlex.split(args)
    skip = False
    for token in tokens:
        if skip or token.startswith("-"):
            skip = token in TAKES_A_VALUE
            continue
        path, _, extras = token.partition("[")
        if path.startswith((".", "/", "~")) or ("/" in path and "@" not in token):
            named = extras.rstrip("]").split(",") if extras else []
            found += [
                f"{token}: no extra {e!r} in pyproject.toml" for e in named if e not in EXTRAS
            ]
            continue
        try:
            requirement = Requirement(token)
        except InvalidRequirement as exc:
            found.append(f"{token}: not a requirement ({exc})")
            continue
        if requirement.name != PROJECT["name"]:
            continue
        if requirement.url is None:
            found.append(f"{token}: deltafold is not on PyPI; use a clone or a git+ URL")
        found += [f"{token}: no extra {e!r}" for e in sorted(requirement.extras - EXTRAS)]
    return found


def _commands() -> list[tuple[str, str]]:
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [
        (
            f"{page.relative_to(REPO)}:{page.read_text()[: m.start()].count(chr(10)) + 1}",
            m.group("args").strip(),
        )
        for page in pages
        for m in PIP_INSTALL.finditer(page.read_text())
    ]


COMMANDS = _commands()


def test_the_scan_finds_the_documented_installs() -> None:
    assert len(COMMANDS) >= 8, COMMANDS
    found = {args for _, args in COMMANDS}
    assert '-e ".[dev]"' in found
    assert any("@ git+" in args for args in found)


@pytest.mark.parametrize(("where", "args"), [pytest.param(*c, id=c[0]) for c in COMMANDS])
def test_documented_install_works_as_written(where: str, args: str) -> None:
    assert not problems(args), f"{where}: pip install {args}: {problems(args)}"


@pytest.mark.parametrize(
    ("args", "wrong"),
    [
        ('"deltafold[arrow]"', "not on PyPI"),
        ("deltafold", "not on PyPI"),
        ("'deltafold[serve,otel]>=0.1'", "not on PyPI"),
        ('-e ".[arow]"', "no extra 'arow'"),
        ('"deltafold[arow] @ git+https://github.com/deltafold/deltafold.git"', "no extra 'arow'"),
    ],
)
def test_the_check_refuses_what_would_fail(args: str, wrong: str) -> None:
    assert any(wrong in problem for problem in problems(args)), problems(args)


@pytest.mark.parametrize(
    "args",
    [
        '-e ".[serve]"',
        ".",
        "/path/to/deltafold",
        '"deltafold[otel] @ git+https://github.com/deltafold/deltafold.git@main"',
        "-q pyarrow tqdm",
        "-r requirements.txt",
    ],
)
def test_the_check_lets_working_forms_through(args: str) -> None:
    assert problems(args) == []


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_missing_extra_messages_give_forms_that_work(extra: str) -> None:
    hint = install_hint(extra)
    commands = re.findall(r"pip install (.+?)(?= in a clone|, or |$)", hint)
    assert len(commands) == 2, hint
    for args in commands:
        assert not problems(args), f"{hint}: {problems(args)}"
