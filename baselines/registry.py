"""Solvers by name: ``register``, ``get_solver``, ``available_solvers``.

Each solver is a dataclass registered under its ``name``; its field defaults are the paper's
(or the authors' release's) settings, so ``get_solver("svt")`` is the method as published and
``get_solver("svt", tol=1e-6)`` overrides single hyper-parameters.

Examples
--------
>>> from edlrr_bench.baselines import available_solvers, get_solver
>>> "svt" in available_solvers()
True
>>> get_solver("svt", max_iter=50).max_iter
50
"""
from __future__ import annotations

import dataclasses

from .base import Solver

__all__ = ["register", "get_solver", "available_solvers", "solver_class"]

_REGISTRY: dict[str, type] = {}


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def register(cls: type) -> type:
    """Class decorator: register a :class:`Solver` dataclass under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, Solver) and dataclasses.is_dataclass(cls)):
        raise TypeError("register expects a dataclass subclass of Solver")
    key = _key(cls.name)
    if not key:
        raise ValueError(f"{cls.__name__} has no name")
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise ValueError(f"a solver named {key!r} is already registered ({_REGISTRY[key].__name__})")
    _REGISTRY[key] = cls
    return cls


def available_solvers(problem: str | None = None) -> list[str]:
    """Registered names, sorted; ``problem="completion"`` or ``"rpca"`` filters by kind."""
    if problem is not None and problem not in ("completion", "rpca"):
        raise ValueError(f"problem must be 'completion', 'rpca' or None, got {problem!r}")
    return sorted(k for k, c in _REGISTRY.items() if problem is None or c.problem == problem)


def solver_class(name: str) -> type:
    """The registered class of ``name``; ValueError listing the known names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"solver name must be a string, got {type(name).__name__}")
    key = _key(name)
    if key not in _REGISTRY:
        raise ValueError(f"unknown solver {name!r}; known solvers: {', '.join(available_solvers())}")
    return _REGISTRY[key]


def get_solver(name: str, **params) -> Solver:
    """Instantiate the solver ``name`` with its defaults overridden by ``params``.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones) or an invalid parameter value.
    TypeError
        A parameter the solver does not have (the message lists the valid ones).
    """
    cls = solver_class(name)
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise TypeError(f"solver {cls.name!r} has no parameter(s) {unknown}; "
                        f"valid parameters: {', '.join(valid)}")
    return cls(**params)
