"""Generated structuring for the common shape: one straight-line function per model.

cattrs' generic path (``_convert``) copies the dict twice, splits known from
unknown keys and calls one hook per field: about 9 us on a one-token chunk.
The function built here from ``attrs.fields`` reads each wire field once and
takes it only when it already has the expected type (a ``str`` for a ``str``,
an ``int`` in range for an ``int``, a ``dict`` for a model, ...); on anything
else it returns :data:`BAIL` and the caller runs the converter's own path. So
the rules (coercion, leniency, errors) stay in ``_convert``, a new field is
never forgotten, and this only takes the inputs on which that path would do
nothing but copy.
"""

from __future__ import annotations

from collections.abc import Callable
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import attrs

from ._jsonvalue import INT_END, INT_MIN, bounded

__all__ = ["BAIL", "FastFn", "make_fast"]

BAIL: Any = object()
"""What a fast function returns when the input needs the converter's full path."""

FastFn = Callable[[dict[str, Any]], Any]
"""A generated function: the model built from a dict, or :data:`BAIL`."""

#: The code that takes a value ``v`` already known not to be None, per kind of field.
_TAKE = {
    "str": "if v.__class__ is not str: return BAIL",
    "int": f"if v.__class__ is not int or not {INT_MIN} <= v < {INT_END}: return BAIL",
    # Any float, NaN and the infinities too (json.loads reads them); an int only when the
    # float is exactly it (one too large for a float raises OverflowError: the fallback says why).
    "float": (
        "if v.__class__ is int:\n"
        "    f = float(v)\n"
        "    if f != v: return BAIL\n"
        "    v = f\n"
        "elif v.__class__ is not float: return BAIL"
    ),
    "bool": "if v is not True and v is not False: return BAIL",
    "pass": "",
    "model": "if v.__class__ is not dict: return BAIL\nv = F_{i}(v)\nif v is BAIL: return BAIL",
    "list": (
        "if v.__class__ is not list: return BAIL\n"
        "items = []\n"
        "for x in v:\n"
        "    if x.__class__ is not dict: return BAIL\n"
        "    x = F_{i}(x)\n"
        "    if x is BAIL: return BAIL\n"
        "    items.append(x)\n"
        "v = items"
    ),
    "hook": "v = H_{i}(v, T_{i})",
}


def _without_none(tp: Any) -> Any:
    """``X`` for ``X | None``; the type itself otherwise (None is never structured here)."""
    args = get_args(tp)
    if type(None) in args and (get_origin(tp) is Union or isinstance(tp, UnionType)):
        rest = tuple(arg for arg in args if arg is not type(None))
        return rest[0] if len(rest) == 1 else Union[rest]  # noqa: UP007 (a runtime union)
    return tp


def _kind(tp: Any, hook_of: Callable[[Any], Any], kinds: dict[Any, str]) -> tuple[str, Any]:
    """How a field of type ``tp`` is taken, and the model class for ``model`` / ``list``."""
    if kinds.get(hook_of(tp)) == "pass":
        return "pass", None
    inner = _without_none(tp)
    if attrs.has(inner):
        return "model", inner
    args = get_args(inner)
    if get_origin(inner) is list and len(args) == 1 and attrs.has(args[0]):
        return "list", args[0]
    return kinds.get(hook_of(inner), "hook"), inner


class _Field:
    """One wire field as the generated code sees it: its local, how it is taken, its default."""

    __slots__ = ("default", "local", "name", "take")

    def __init__(self, name: str, local: str, take: list[str], default: str) -> None:
        self.name = name
        self.local = local
        self.take = take
        self.default = default
        """The expression of the field's default: a literal, ``D_i`` or a factory call."""


def _default(default: Any, local: str, namespace: dict[str, Any]) -> str:
    """The expression for a field's attrs default; a literal where ``repr`` gives one back."""
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        namespace[f"D_{local}"] = default.factory
        return f"D_{local}()"
    if default is None or default.__class__ in (str, int, bool) or (
        default.__class__ is float and default - default == 0.0
    ):
        return repr(default)
    namespace[f"D_{local}"] = default
    return f"D_{local}"


def make_fast(
    cls: type[Any],
    hook_of: Callable[[Any], Any],
    kinds: dict[Any, str],
    lenient: frozenset[type],
    wire_of: Callable[[type[Any]], frozenset[str]],
    cache: dict[type, FastFn],
) -> FastFn:
    """The generated function for ``cls`` (and, in ``cache``, for the models it holds).

    ``hook_of`` is the converter's ``get_structure_hook``; ``kinds`` names its scalar hooks
    (``"str"``, ``"int"``, ``"float"``, ``"bool"``, ``"pass"``); a class in ``lenient``
    bounds its unknown values as the converter does; ``wire_of`` gives a model's wire names.
    """
    if cls in cache:
        return cache[cls]
    hints = get_type_hints(cls)
    wire = wire_of(cls)
    namespace: dict[str, Any] = {"BAIL": BAIL, "C": cls, "bounded": bounded, "KNOWN": wire}
    fields: list[_Field] = []
    for i, field in enumerate(attrs.fields(cls)):
        if field.name not in wire:
            continue
        kind, inner = _kind(hints[field.name], hook_of, kinds)
        if kind in ("model", "list"):
            namespace[f"F_{i}"] = make_fast(inner, hook_of, kinds, lenient, wire_of, cache)
        elif kind == "hook":
            namespace[f"H_{i}"], namespace[f"T_{i}"] = hook_of(inner), inner
        take = [*_TAKE[kind].format(i=i).splitlines(), f"a_{i} = v"]
        fields.append(_Field(field.name, str(i), take, _default(field.default, str(i), namespace)))
    value = "bounded(v)" if cls in lenient else "v"
    built = _construct(cls, wire, namespace)
    source = "\n".join(
        [
            "def fast(d):",
            # Few keys of many fields: walk the keys; else look each field up.
            f"    if len(d) <= {len(fields) // 3}:",
            *_indent(_walk_keys(fields, value), 2),
            *_indent(built, 2),
            *_indent(_look_up(fields, value), 1),
            *_indent(built, 1),
        ]
    )
    exec(compile(source, f"<deltafold fast structure {cls.__name__}>", "exec"), namespace)
    fast: FastFn = namespace["fast"]
    cache[cls] = fast
    return fast


def _indent(lines: list[str], depth: int) -> list[str]:
    return ["    " * depth + line for line in lines]


def _plain(cls: type[Any]) -> bool:
    """Whether ``cls.__init__`` only stores its arguments (no validator, converter or hook)."""
    return (
        all("__setattr__" not in vars(base) for base in cls.__mro__[:-1])
        and not hasattr(cls, "__attrs_pre_init__")
        and not hasattr(cls, "__attrs_post_init__")
        and all(a.validator is None and a.converter is None for a in attrs.fields(cls))
    )


def _construct(cls: type[Any], wire: frozenset[str], namespace: dict[str, Any]) -> list[str]:
    """Code building the object from the locals ``a_i`` and ``extra``.

    A class whose ``__init__`` only stores its arguments gets its slots set directly (about
    40% cheaper than the call); any other class is called.
    """
    fields = list(enumerate(attrs.fields(cls)))
    if not _plain(cls):
        args = [
            f"{a.alias}=a_{i}" if a.kw_only else f"a_{i}" for i, a in fields if a.name in wire
        ]
        return [f"return C({', '.join([*args, 'extra=extra'])})"]
    namespace["NEW"] = object.__new__
    lines = ["o = NEW(C)"]
    for i, field in fields:
        if field.name in wire:
            lines.append(f"o.{field.name} = a_{i}")
        elif field.name == "extra":
            lines.append("o.extra = extra")
        else:  # a field off the wire (``parsed``): its default, as __init__ would set
            lines.append(f"o.{field.name} = {_default(field.default, f'x{i}', namespace)}")
    return [*lines, "return o"]


def _look_up(fields: list[_Field], value: str) -> list[str]:
    """Code reading each field with ``d.get``; the unknown keys found by one subset test."""
    lines = ["get = d.get"]
    for field in fields:
        lines += [
            f"v = get({field.name!r})",
            f"if v is None: a_{field.local} = {field.default}",
            "else:",
            *_indent(field.take, 1),
        ]
    return [
        *lines,
        "if KNOWN.issuperset(d): extra = {}",
        f"else: extra = {{k: {value} for k, v in d.items() if k not in KNOWN}}",
    ]


def _walk_keys(fields: list[_Field], value: str) -> list[str]:
    """Code walking the dict's keys, each matched against the field names in turn."""
    lines = [f"a_{field.local} = {field.default}" for field in fields]
    lines += ["extra = {}", "for k, v in d.items():"]
    for n, field in enumerate(fields):
        lines += [
            f"    {'el' if n else ''}if k == {field.name!r}:",
            "        if v is not None:",
            *_indent(field.take, 3),
        ]
    lines += [
        "    else:" if fields else "    if True:",
        f"        extra[k] = {value}",
    ]
    return lines
