"""Pieces shared by the experiments: building a solver from a cell, and its run record."""
from __future__ import annotations

from ..baselines import get_solver
from ..sweep import Cell

SEEDED_SOLVERS = ("edlrr", "dlrl", "edlrr-rpca")
MEASUREMENT_KEYS = ("label", "part", "sweep", "threshold")
"""Cell parameters that describe the measurement, not the solver."""


def solver_for(cell: Cell):
    """The solver named by ``cell.params["solver"]`` with the other params; solvers that draw
    random numbers get the cell's derived seed unless the params fix one."""
    params = dict(cell.params)
    name = params.pop("solver")
    for key in MEASUREMENT_KEYS:
        params.pop(key, None)
    if name in SEEDED_SOLVERS:
        params.setdefault("seed", cell.seed % 2**31)
    return get_solver(name, **params)


def record_metrics(record) -> dict:
    return {
        "seconds": record.wall_time_s,
        "iterations": record.iterations,
        "converged": bool(record.converged),
        "final_loss": float(record.history[-1]) if record.history else None,
    }
