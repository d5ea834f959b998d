"""Experiment ``fast``: the fast estimators (``method="auto"`` and the algorithms it chooses
from: ``"dense"``, ``"polar"`` (:mod:`edlrr.polar`), ``"krylov"`` (:mod:`edlrr.krylov`) and
``"matvec"`` (:mod:`edlrr.bidiagonal`)) against exact SVD-autograd and against the paper's
recipes (our estimators' bars, measured).

A cell's ``method`` and ``options`` params are the core's ``method=`` and ``options=`` (a dict of
the method's fields; for ``"auto"`` its ``krylov`` and ``polar`` fields are dicts too); its
``part`` param names the question it answers, one module each:

* :mod:`.speed` (``speed``): how fast, against ``svdvals``, in float64 and float32;
* :mod:`.accuracy` (``xtrace``, ``xtrace_grid``, ``xtrace_oracle``, ``pareto``): how accurate for
  a budget of products (XTrace's test spectra), and against the paper-faithful estimator;
* :mod:`.released` (``released``): against the authors' released recipe;
* :mod:`.crossover` (``crossover``): where the dense path pays;
* :mod:`.dtype` (``dtype``): float32 against float64 in accuracy;
* :mod:`.penalty` (``penalty``): penalties whose Taylor series diverges.

The test matrices are :mod:`.matrices` (:func:`edlrr_bench.datasets.synthetic.test_matrix`);
the report (:mod:`.report`) draws on the rows of ``fast.csv`` alone. Each part is a table of
the configuration, ``[fast.<part>]``; ``parts`` lists those to run.
"""
from __future__ import annotations

from ...schema import Names, Table
from ...sweep import Cell
from . import accuracy, crossover, dtype as dtype_part, penalty, released, speed
from .common import (BIDIAGONAL_VERSION, DTYPE_VERSION, FAST_VARIANTS, NAME, ORACLE_VERSION, PENALTY_VERSION,
                     SMALL_VERSION, SPEED_LANCZOS_VERSION, VERSION, XTRACE_VERSION, estimator, lanczos_nuclear,
                     products)
from .report import report

__all__ = ["NAME", "VERSION", "SPEED_LANCZOS_VERSION", "SMALL_VERSION", "BIDIAGONAL_VERSION", "XTRACE_VERSION",
           "ORACLE_VERSION", "DTYPE_VERSION", "PENALTY_VERSION", "FAST_VARIANTS", "PARTS", "CONFIG_KEYS", "cells",
           "run_cell", "runs_alone", "report", "estimator", "lanczos_nuclear", "products"]

_PARTS = {  # part -> (its table of the configuration, its cells)
    "speed": (speed.KEYS, speed.cells),
    "xtrace": (accuracy.XTRACE_KEYS, accuracy.xtrace_cells),
    "pareto": (accuracy.PARETO_KEYS, accuracy.pareto_cells),
    "released": (released.KEYS, released.cells),
    "crossover": (crossover.KEYS, crossover.cells),
    "dtype": (dtype_part.KEYS, dtype_part.cells),
    "penalty": (penalty.KEYS, penalty.cells),
}
_RUNS = {"speed": speed.run, "xtrace": accuracy.run_xtrace, "xtrace_grid": accuracy.run_xtrace,
         "xtrace_oracle": accuracy.run_oracle, "pareto": accuracy.run_pareto, "released": released.run,
         "crossover": crossover.run, "dtype": dtype_part.run, "penalty": penalty.run}

PARTS = tuple(_PARTS)
"""The parts of the experiment, each a table of the configuration (``[fast.<part>]``)."""

CONFIG_KEYS = Table({
    "parts": Names(PARTS, "part"),  # the parts to run (default: every part the configuration has)
    **{part: keys for part, (keys, _) in _PARTS.items()},
})
"""The keys of ``[fast]`` (what :func:`cells` reads)."""


def cells(cfg: dict) -> list[Cell]:
    """The cells of every part of the configuration, or of those ``cfg["parts"]`` lists (a
    config file's ``parts = ["speed"]`` re-runs one part alone), in the order of :data:`PARTS`."""
    parts = cfg.get("parts", PARTS)
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise ValueError(f"[fast] parts: unknown {unknown}; the parts are {list(PARTS)}")
    out = []
    for part, (_, part_cells) in _PARTS.items():
        if part in parts and cfg.get(part):
            out += part_cells(cfg[part])
    return out


def run_cell(cell: Cell, device: str = "cpu") -> dict:
    """Run one cell: the run of its ``part`` param's module."""
    part = cell.params["part"]
    if part not in _RUNS:
        raise ValueError(f"unknown part {part!r} of a fast cell; known: {', '.join(_RUNS)}")
    return _RUNS[part](cell, device)


ALONE_PARTS = ("speed", "crossover")
"""The parts whose cells time methods against each other (the speed bar's ratio, the dense
path's crossover): on a Dask cluster they run one at a time, after the rest
(:func:`edlrr_bench.sweep.runs_alone`; ``results/fast-two-cells`` shows how far a neighbouring
cell moves the ratio)."""


def runs_alone(cell: Cell) -> bool:
    """Whether the cell times methods against each other (:data:`ALONE_PARTS`)."""
    return cell.params.get("part") in ALONE_PARTS
