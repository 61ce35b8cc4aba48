"""A griffe extension for the API reference: Sphinx roles in docstrings become links.

The docstrings cross-reference with ``:class:`Name``` (reST). Markdown has no
such role, so without this they render as the literal ``:class:``. A name the
package exports becomes an autorefs link; any other target (a method, a
private class) becomes inline code.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|exc|func|meth|attr|obj|data):`~?([\w.]+)`")


@functools.cache
def _public() -> frozenset[str]:
    import deltafold

    return frozenset(deltafold.__all__)


def _replace(match: re.Match[str]) -> str:
    name = match.group(1).removeprefix("deltafold.")
    if name in _public():
        return f"[`{name}`][deltafold.{name}]"
    return f"`{name.rsplit('.', 1)[-1]}`"


class SphinxRoles(griffe.Extension):
    """Rewrite ``:class:`X``` and friends in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is not None and ":" in docstring.value:
            docstring.value = _ROLE.sub(_replace, docstring.value)
