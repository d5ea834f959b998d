"""Common interface of the baselines: run records, results, input validation, divergence checks.

Every solver is a dataclass whose fields are its hyper-parameters, with the paper's values as
defaults (see :mod:`.registry`). Two problem kinds share one record format:

* matrix completion: ``solver.complete(observed, mask) -> CompletionResult``
  with ``observed`` shaped (*, m, n) (a batch of channels is allowed) and ``mask`` a bool tensor
  of the same (or a broadcastable) shape, True where an entry is observed;
* robust PCA (video fore/background): ``solver.decompose(V) -> RPCAResult``, V shaped (m, n).

Divergence policy
-----------------
A run whose loss/objective becomes NaN/Inf, whose iterate becomes non-finite, or whose loss grows
beyond ``divergence_factor`` times its first value stops at once; its record has
``diverged=True`` and a message saying where and why. By default (``raise_on_divergence=True``)
the solver then raises :class:`DivergenceError`, which carries the record (``err.record``) and
the last finite iterate (``err.result``), so that a harness can log the failure instead of
scoring garbage. With ``raise_on_divergence=False`` the result is returned with the last finite
iterate and the record marked as diverged.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from edlrr.validation import check_choice, check_positive_int as check_int  # noqa: F401 (re-exported)

__all__ = [
    "RunRecord",
    "CompletionResult",
    "RPCAResult",
    "DivergenceError",
    "SolveInfo",
    "Solver",
    "CompletionSolver",
    "RPCASolver",
    "DivergenceMonitor",
    "validate_completion_inputs",
    "validate_rpca_input",
    "masked_mse",
    "masked_rmse",
    "relative_error",
]

FLOAT_DTYPES = (torch.float32, torch.float64)


# ---------------------------------------------------------------------------------------------
# records and results
# ---------------------------------------------------------------------------------------------
@dataclass
class RunRecord:
    """What happened in one run of a solver.

    Attributes
    ----------
    method : str
        Registry name of the solver (``"svt"``, ``"irnn"``, ...).
    params : dict
        The solver's hyper-parameters (all dataclass fields).
    iterations : int
        Iterations (or optimiser steps / epochs) performed; for a batch, the maximum.
    wall_time_s : float
        Wall-clock time of the solve (CUDA synchronised), excluding input validation.
    history : list of float
        The loss or objective after/at each iteration (see ``history_label``); for a batch solved
        channel by channel, the sum over channels (shorter runs padded with their last value).
    history_label : str
        What ``history`` holds, e.g. ``"objective"`` or ``"loss"``.
    converged : bool
        The method's own stopping test was met (False when a fixed budget ran out).
    diverged : bool
        The run stopped on NaN/Inf or an exploding loss.
    message : str
        Human-readable reason for stopping.
    device, dtype : str
        Where and in which precision the run took place.
    extra : dict
        Method-specific traces (e.g. DLRL's Schatten-p values and eta, per-channel records).
    """

    method: str
    params: dict
    iterations: int = 0
    wall_time_s: float = 0.0
    history: list = field(default_factory=list)
    history_label: str = "objective"
    converged: bool = False
    diverged: bool = False
    message: str = ""
    device: str = "cpu"
    dtype: str = "float64"
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A plain dict (JSON-friendly apart from what ``extra`` holds)."""
        return dataclasses.asdict(self)


@dataclass
class CompletionResult:
    """Completed matrix ``X`` (same shape, dtype and device as the input) and the run record."""

    X: torch.Tensor
    record: RunRecord


@dataclass
class RPCAResult:
    """Low-rank part, sparse part (``V = low_rank + sparse``) and the run record."""

    low_rank: torch.Tensor
    sparse: torch.Tensor
    record: RunRecord


class DivergenceError(RuntimeError):
    """A solver diverged (NaN/Inf or exploding loss).

    Attributes
    ----------
    record : RunRecord
        The record of the run (``diverged=True``, ``message`` says why).
    result : CompletionResult or RPCAResult or None
        The result holding the last finite iterate.
    """

    def __init__(self, message: str, record: RunRecord, result=None):
        super().__init__(message)
        self.record = record
        self.result = result


@dataclass
class SolveInfo:
    """What a solver's inner routine reports back to the common driver."""

    iterations: int = 0
    history: list = field(default_factory=list)
    converged: bool = False
    diverged: bool = False
    message: str = ""
    extra: dict = field(default_factory=dict)


class DivergenceMonitor:
    """Flags NaN/Inf values and values beyond ``factor`` times the first nonzero one."""

    def __init__(self, factor: float = 1e6, label: str = "loss"):
        self.factor = float(factor)
        self.label = label
        self.reference: float | None = None

    def check(self, value: float, iteration: int) -> str | None:
        """Return a message if ``value`` signals divergence, else None."""
        if not math.isfinite(value):
            return f"{self.label} became {value} at iteration {iteration}"
        if self.reference is None:
            if value != 0.0:
                self.reference = abs(value)
            return None
        if abs(value) > self.factor * self.reference:
            return (f"{self.label} exploded at iteration {iteration}: {value:.4g} exceeds "
                    f"{self.factor:g} x its first value {self.reference:.4g}")
        return None


# ---------------------------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------------------------
def _check_float_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}; "
                        f"convert it with {name}.to(torch.float64)")
    return x


def validate_completion_inputs(observed, mask) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a completion problem and return ``(M, Omega)``.

    ``M`` is ``observed`` with its unobserved entries set to 0 (they may hold anything, NaN
    included), ``Omega`` the bool mask broadcast to ``observed.shape`` on its device.

    Raises
    ------
    TypeError
        ``observed`` is not a float32/float64 tensor, or ``mask`` is not a bool tensor.
    ValueError
        Fewer than 2 dimensions or an empty dimension; a mask shape that does not broadcast to
        ``observed.shape``; a matrix without any observed entry; NaN/Inf at observed entries.
    """
    observed = _check_float_tensor(observed, "observed").detach()
    if observed.ndim < 2:
        raise ValueError(f"observed must have shape (*, m, n), got shape {tuple(observed.shape)}")
    if any(d == 0 for d in observed.shape):
        raise ValueError(f"observed has an empty dimension: shape {tuple(observed.shape)}")
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a bool torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must have dtype torch.bool (True = observed), got {mask.dtype}; "
                        "use mask.bool() if it holds 0/1 values")
    try:
        shape = torch.broadcast_shapes(mask.shape, observed.shape)
    except RuntimeError:
        shape = None
    if shape != observed.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} does not match observed shape "
                         f"{tuple(observed.shape)} (it must be equal or broadcast to it)")
    omega = mask.to(observed.device).expand(observed.shape)
    counts = omega.sum(dim=(-2, -1))
    if bool((counts == 0).any()):
        raise ValueError("mask has no observed entry (in at least one matrix of the batch); "
                         "completion needs observations")
    if not bool(torch.isfinite(observed[omega]).all()):
        raise ValueError("observed contains NaN or Inf at observed entries (mask True)")
    M = torch.where(omega, observed, torch.zeros((), dtype=observed.dtype, device=observed.device))
    return M, omega


def validate_rpca_input(V) -> torch.Tensor:
    """Check a robust-PCA input: a finite float32/float64 matrix (m, n)."""
    V = _check_float_tensor(V, "V").detach()
    if V.ndim != 2:
        raise ValueError(f"V must be a matrix (m, n), got shape {tuple(V.shape)}; "
                         "reshape a video (a, b, t) to (a*b, t) first")
    if any(d == 0 for d in V.shape):
        raise ValueError(f"V has an empty dimension: shape {tuple(V.shape)}")
    if not bool(torch.isfinite(V).all()):
        raise ValueError("V contains NaN or Inf entries")
    return V


# ---------------------------------------------------------------------------------------------
# small metrics used by several solvers and the tests
# ---------------------------------------------------------------------------------------------
def masked_mse(X: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries where ``mask`` is True (scalar tensor)."""
    mask = mask.expand(X.shape)
    diff = torch.where(mask, X - target, torch.zeros((), dtype=X.dtype, device=X.device))
    return (diff ** 2).sum() / mask.sum()


def masked_rmse(X: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Root mean squared error over the entries where ``mask`` is True: sqrt(:func:`masked_mse`)."""
    return masked_mse(X, target, mask).sqrt()


def relative_error(X: torch.Tensor, reference: torch.Tensor) -> float:
    """||X - reference||_F / ||reference||_F (over all entries of a batch)."""
    return float(torch.linalg.vector_norm(X - reference) / torch.linalg.vector_norm(reference))


# ---------------------------------------------------------------------------------------------
# solver base classes
# ---------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _generator(seed) -> torch.Generator:
    """A CPU generator (random numbers are drawn on CPU and moved, so that a seed gives the
    same numbers on every device)."""
    g = torch.Generator(device="cpu")
    g.manual_seed(int(seed))
    return g


class Solver:
    """Base of every solver. Subclasses are dataclasses; their fields are the hyper-parameters.

    Class attributes
    ----------------
    name : str
        Registry name.
    problem : str
        ``"completion"`` or ``"rpca"``.
    test_params : dict
        A tiny configuration for quick tests (a few seconds on 2 CPU cores on a 100 x 80 problem).
    """

    name: ClassVar[str] = ""
    problem: ClassVar[str] = ""
    test_params: ClassVar[dict] = {}

    def __post_init__(self):
        # validate at construction (typed errors, clear messages); checked again at call time
        self._check_params()

    def _check_params(self) -> None:
        """Validate hyper-parameters (raise ValueError/TypeError); override as needed."""

    def params(self) -> dict:
        """The hyper-parameters as a plain dict."""
        return dataclasses.asdict(self)

    # subclasses that use randomness have a ``seed`` field
    def _make_generator(self) -> torch.Generator | None:
        seed = getattr(self, "seed", None)
        return None if seed is None else _generator(seed)

    def _new_record(self, ref: torch.Tensor, label: str) -> RunRecord:
        return RunRecord(method=self.name, params=self.params(), history_label=label,
                         device=str(ref.device), dtype=str(ref.dtype).replace("torch.", ""))

    def _finish(self, result, record: RunRecord):
        if record.diverged and getattr(self, "raise_on_divergence", True):
            raise DivergenceError(f"{self.name} diverged: {record.message}", record, result)
        return result


class CompletionSolver(Solver):
    """Matrix completion: ``complete(observed, mask) -> CompletionResult``.

    Subclasses implement ``_solve(M, omega, rng) -> (X, SolveInfo)``. With ``batched = False``
    the driver calls it once per matrix of a batch (*, m, n) and aggregates the records.
    """

    problem: ClassVar[str] = "completion"
    batched: ClassVar[bool] = False
    history_label: ClassVar[str] = "objective"

    def complete(self, observed: torch.Tensor, mask: torch.Tensor) -> CompletionResult:
        """Complete ``observed`` (*, m, n) from the entries where ``mask`` is True.

        Returns
        -------
        CompletionResult
            ``X`` with the shape, dtype and device of ``observed`` and the run's record.

        Raises
        ------
        TypeError, ValueError
            Bad input, see :func:`validate_completion_inputs`.
        DivergenceError
            The run diverged and ``raise_on_divergence`` is True.
        """
        M, omega = validate_completion_inputs(observed, mask)
        self._check_params()
        record = self._new_record(M, self.history_label)
        rng = self._make_generator()
        _sync(M.device)
        start = time.perf_counter()
        if self.batched or M.ndim == 2:
            X, info = self._solve(M, omega, rng)
        else:
            X, info = self._solve_each(M, omega, rng)
        _sync(M.device)
        record.wall_time_s = time.perf_counter() - start
        _fill(record, info)
        return self._finish(CompletionResult(X.detach(), record), record)

    def _solve(self, M: torch.Tensor, omega: torch.Tensor, rng) -> tuple[torch.Tensor, SolveInfo]:
        raise NotImplementedError

    def _solve_each(self, M, omega, rng):
        batch_shape = M.shape[:-2]
        flatM = M.reshape(-1, *M.shape[-2:])
        flatO = omega.reshape(-1, *M.shape[-2:])
        outs, infos = [], []
        for k in range(flatM.shape[0]):
            X, info = self._solve(flatM[k], flatO[k], rng)
            outs.append(X)
            infos.append(info)
            if info.diverged:
                break
        for k in range(len(outs), flatM.shape[0]):  # channels not reached after a divergence
            outs.append(flatM[k].clone())
        X = torch.stack(outs).reshape(*batch_shape, *M.shape[-2:])
        return X, _aggregate(infos, flatM.shape[0])


class RPCASolver(Solver):
    """Robust PCA: ``decompose(V) -> RPCAResult`` for V (m, n)."""

    problem: ClassVar[str] = "rpca"
    history_label: ClassVar[str] = "objective"

    def decompose(self, V: torch.Tensor) -> RPCAResult:
        """Split ``V`` into a low-rank and a sparse part, ``V = low_rank + sparse``.

        Raises
        ------
        TypeError, ValueError
            Bad input, see :func:`validate_rpca_input`.
        DivergenceError
            The run diverged and ``raise_on_divergence`` is True.
        """
        V = validate_rpca_input(V)
        self._check_params()
        record = self._new_record(V, self.history_label)
        rng = self._make_generator()
        _sync(V.device)
        start = time.perf_counter()
        L, S, info = self._solve(V, rng)
        _sync(V.device)
        record.wall_time_s = time.perf_counter() - start
        _fill(record, info)
        return self._finish(RPCAResult(L.detach(), S.detach(), record), record)

    def _solve(self, V: torch.Tensor, rng):
        raise NotImplementedError


def _fill(record: RunRecord, info: SolveInfo) -> None:
    record.iterations = int(info.iterations)
    record.history = [float(v) for v in info.history]
    record.converged = bool(info.converged and not info.diverged)
    record.diverged = bool(info.diverged)
    record.message = info.message
    record.extra.update(info.extra)


def _aggregate(infos: list[SolveInfo], total: int) -> SolveInfo:
    if len(infos) == 1 and total == 1:
        return infos[0]
    length = max(len(i.history) for i in infos)
    history = [0.0] * length
    for info in infos:
        h = list(info.history) or [0.0]
        h = h + [h[-1]] * (length - len(h))
        history = [a + b for a, b in zip(history, h)]
    diverged = any(i.diverged for i in infos)
    if diverged:
        k = next(j for j, i in enumerate(infos) if i.diverged)
        message = f"channel {k}: {infos[k].message}"
        if len(infos) < total:
            message += f" (channels {len(infos)}..{total - 1} not solved)"
    else:
        msgs = {i.message for i in infos}
        message = msgs.pop() if len(msgs) == 1 else "; ".join(
            f"channel {j}: {i.message}" for j, i in enumerate(infos))
    channels = [dataclasses.asdict(i) for i in infos]
    return SolveInfo(
        iterations=max(i.iterations for i in infos),
        history=history,
        converged=all(i.converged for i in infos) and len(infos) == total,
        diverged=diverged,
        message=message,
        extra={"channels": channels},
    )


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """Validate a positive finite real hyper-parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and "
                         f"finite, got {value!r}")
    return v


