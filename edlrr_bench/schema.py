"""The keys a configuration accepts, and the check of a configuration against them.

Each experiment module states what its section accepts as ``CONFIG_KEYS`` (the keys its
``cells(cfg)`` and ``report`` read), built from the pieces here:

* :class:`Table`: a table with fixed keys, each mapped to ``None`` (any value) or to the schema
  of its value;
* :class:`Rows`: a list of inline tables (``masks = [{ mask = "drop", drop = 0.5 }]``);
* :class:`Labelled`: a table whose keys are free labels (``[fast.xtrace.budgets]``);
* :class:`Names`: a list of names taken from a fixed set (``methods``, ``parts``);
* :func:`solver_overrides`, :func:`dataset_rows`, :func:`options_table`: tables whose keys come
  from the solver registry, the dataset registry and the options classes of :mod:`edlrr.options`.

:func:`check` raises :class:`ConfigError` with one line naming the first offending key or name,
and the nearest valid one (:func:`difflib.get_close_matches`).
"""
from __future__ import annotations

import dataclasses
import difflib
import re

__all__ = ["ConfigError", "Table", "Rows", "Labelled", "Names", "check", "nearest_first", "solver_overrides",
           "dataset_rows", "options_table"]


class ConfigError(ValueError):
    """A configuration that does not fit its schema; the message is one line."""


class Table:
    """A table with these keys; each maps to ``None`` (any value) or the schema of its value."""

    def __init__(self, keys: dict):
        self.keys = dict(keys)


class Rows:
    """A list of inline tables, each checked against ``table``."""

    def __init__(self, table: Table):
        self.table = table


class Labelled:
    """A table whose keys are free labels; each value is checked against ``value``."""

    def __init__(self, value: Table):
        self.value = value


class Names:
    """A list of names from ``known`` (``what`` names them in messages: "method", "part")."""

    def __init__(self, known, what: str = "method"):
        self.known = list(known)
        self.what = what


def nearest_first(name: str, known, cutoff: float = 0.0) -> list[str]:
    """The names of ``known`` at least ``cutoff`` similar to ``name``, the nearest first
    (:func:`difflib.get_close_matches`, ignoring case: ``svt`` is nearest to ``SVT``)."""
    by_lower: dict[str, list[str]] = {}
    for k in known:
        by_lower.setdefault(str(k).lower(), []).append(str(k))
    matches = difflib.get_close_matches(str(name).lower(), list(by_lower), n=len(by_lower), cutoff=cutoff)
    return [k for m in matches for k in by_lower[m]]


def _quote(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'


def _where(path: list, leaf: bool = False) -> str:
    """Where ``path`` lies in the config, in TOML's terms: ``[a.b."c d"]`` for a table,
    ``[completion] masks[1]`` inside a list of tables, ``[completion] methods`` for a value
    (``leaf``: the last key names a value, not a table)."""
    cut = next((i - 1 for i, part in enumerate(path) if isinstance(part, int)), len(path) - leaf)
    table, rest = path[:cut], path[cut:]
    suffix = ""
    for part in rest:
        suffix += f"[{part}]" if isinstance(part, int) else ("." if suffix else "") + _quote(part)
    head = "[" + ".".join(_quote(k) for k in table) + "]" if table else ""
    return " ".join(x for x in (head, suffix) if x)


def _type(value) -> str:
    return {dict: "a table", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), type(value).__name__)


def check(value, schema, path: list | None = None) -> None:
    """Check ``value`` against ``schema`` (None, :class:`Table`, :class:`Rows`, :class:`Labelled`
    or :class:`Names`); raises :class:`ConfigError` naming the first mismatch."""
    path = list(path or [])
    if schema is None:
        return
    if isinstance(schema, Table):
        if not isinstance(value, dict):
            raise ConfigError(f"{_where(path, leaf=True)} must be a table, got {_type(value)}")
        for key, sub in value.items():
            if key not in schema.keys:
                valid = sorted(schema.keys)
                near = nearest_first(key, valid, cutoff=0.6)
                hint = f"did you mean {near[0]!r}?" if near else \
                    ("valid keys: " + ", ".join(valid) if valid else "it takes no keys")
                raise ConfigError(f"unknown key {key!r} in {_where(path)}; {hint}")
            check(sub, schema.keys[key], path + [key])
    elif isinstance(schema, Rows):
        if not isinstance(value, list):
            raise ConfigError(f"{_where(path, leaf=True)} must be a list of tables, got {_type(value)}")
        for i, row in enumerate(value):
            check(row, schema.table, path + [i])
    elif isinstance(schema, Labelled):
        if not isinstance(value, dict):
            raise ConfigError(f"{_where(path, leaf=True)} must be a table, got {_type(value)}")
        for label, sub in value.items():
            check(sub, schema.value, path + [label])
    elif isinstance(schema, Names):
        if not isinstance(value, list):
            raise ConfigError(f"{_where(path, leaf=True)} must be a list of {schema.what} names, got {_type(value)}")
        for name in value:
            if name not in schema.known:
                raise ConfigError(f"unknown {schema.what} {name!r} in {_where(path, leaf=True)}; "
                                  "known (nearest first): " + ", ".join(nearest_first(name, schema.known)))
    else:
        raise TypeError(f"not a schema: {schema!r}")


def options_table(*extra: str) -> Table:
    """The estimators' options (the fields of every options class of :mod:`edlrr.options`: the
    method a cell runs decides which apply, and the core refuses the others), plus ``extra``."""
    from edlrr import options as options_mod

    names = {f.name for cls in options_mod.ALGORITHMS.values() for f in dataclasses.fields(cls)}
    return Table({**{name: None for name in sorted(names)}, **{k: None for k in extra}})


def _solver_table(solver: str) -> Table:
    from .baselines import solver_class

    keys = {f.name: None for f in dataclasses.fields(solver_class(solver))}
    if "options" in keys:
        keys["options"] = options_table()
    return Table(keys)


def solver_overrides(names) -> Table:
    """``[<experiment>.overrides]``: one table per name of ``names`` (a registered solver, or a
    mapping override name -> solver), holding that solver's parameters."""
    names = dict(names) if isinstance(names, dict) else {n: n for n in names}
    return Table({key: _solver_table(solver) for key, solver in names.items()})


def dataset_rows(dataset: str, exclude=()) -> Rows:
    """A list of tables of the parameters of the registered ``dataset``, but ``exclude`` (those
    the cells set themselves)."""
    from .datasets import registry

    fields = registry.dataset_parameters(dataset)
    return Rows(Table({f: None for f in fields if f not in exclude}))
