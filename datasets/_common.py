"""Shared helpers of :mod:`edlrr_bench.datasets`: validation, seeds, configs, result types.

Everything here is private to the package except what ``__init__`` re-exports
(:func:`derive_seed`, :class:`DatasetConfig`, :class:`CompletionProblem`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import numbers
import os
from pathlib import Path
from typing import Any, ClassVar

import torch

__all__ = [
    "CompletionProblem",
    "DatasetConfig",
    "derive_seed",
    "make_generator",
]

DEFAULT_DTYPE = torch.float64


# --------------------------------------------------------------------------- seeds
def derive_seed(*parts: Any) -> int:
    """Derive a 63-bit seed from the identity of a run.

    The parts (dataset name, component, parameters, repetition, ...) are joined by their
    ``repr`` and hashed with SHA-256, so the seed does not depend on Python's per-process
    hash randomisation, on the machine or on the order in which runs are launched.

    Parameters
    ----------
    *parts
        Values naming the run; ``repr`` must be stable for them (str, int, float, tuple).

    Returns
    -------
    int
        A seed in ``[0, 2**63)``, usable with ``torch.Generator.manual_seed``.

    Examples
    --------
    >>> derive_seed("spectrum", "factors", 0) == derive_seed("spectrum", "factors", 0)
    True
    >>> derive_seed("spectrum", "factors", 0) != derive_seed("spectrum", "factors", 1)
    True

    References
    ----------
    Habit copied from benchopt (``benchopt/utils/run_context.py``): seeds derived from the
    identity of the run rather than picked by hand.
    """
    text = "\x1f".join(repr(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


def make_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``.

    Random draws are always made on the CPU in float64 and then moved/cast, so the data do
    not depend on the device or the requested dtype (beyond the final rounding).
    """
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    return gen


# ---------------------------------------------------------------------- validation
def check_int(name: str, value: Any, minimum: int | None = 1, maximum: int | None = None) -> int:
    """Return ``value`` as int; TypeError if it is not an integer, ValueError if out of range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float in the given range, else TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if minimum is not None:
        bad = value < minimum if min_inclusive else value <= minimum
        if bad:
            op = ">=" if min_inclusive else ">"
            raise ValueError(f"{name} must be {op} {minimum}, got {value}")
    if maximum is not None:
        bad = value > maximum if max_inclusive else value >= maximum
        if bad:
            op = "<=" if max_inclusive else "<"
            raise ValueError(f"{name} must be {op} {maximum}, got {value}")
    return value


def check_drop(name: str, value: Any) -> float:
    """A missing share: ``0 <= value < 1``."""
    return check_float(name, value, 0.0, 1.0, max_inclusive=False)


def check_choice(name: str, value: Any, choices) -> str:
    """Return ``value`` if it is one of ``choices`` (strings), else a clear ValueError."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; known: {', '.join(sorted(choices))}")
    return value


def check_dtype(dtype: Any) -> torch.dtype:
    """A floating torch dtype (default float64)."""
    if dtype is None:
        return DEFAULT_DTYPE
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {type(dtype).__name__} {dtype!r}")
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype}")
    return dtype


def check_path(path: Any, kind: str = "file", what: str = "path") -> Path:
    """Return ``path`` as an existing :class:`~pathlib.Path` of the given kind.

    Raises
    ------
    TypeError
        If ``path`` is not str or os.PathLike.
    FileNotFoundError
        If it does not exist, or is not a file (``kind="file"``) / folder (``kind="dir"``).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a str or os.PathLike, got {type(path).__name__}")
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{what} does not exist: {p}")
    if kind == "file" and not p.is_file():
        raise FileNotFoundError(f"{what} is not a file: {p}")
    if kind == "dir" and not p.is_dir():
        raise FileNotFoundError(f"{what} is not a folder: {p}")
    return p


def finish(tensor: torch.Tensor, dtype: torch.dtype | None, device) -> torch.Tensor:
    """Cast a CPU float64 tensor to the requested dtype and device."""
    dtype = check_dtype(dtype)
    return tensor.to(dtype=dtype, device=device if device is not None else tensor.device)


# -------------------------------------------------------------------------- configs
@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """Base of every dataset configuration: a name, parameters and a seed.

    Subclasses are frozen dataclasses that set the class attribute ``name`` and declare
    their parameters as fields, ``seed`` last; they validate in ``__post_init__``. A field
    declared with ``metadata={"identity": False}`` (e.g. the location of a data folder) is
    left out of :meth:`config_id`, because it does not change the data.

    The construction of a dataset is a deterministic function of its config: random parts
    use generators seeded by :meth:`seed_for`, keyed by ``(name, component, seed)`` and not
    by the other parameters, so that sweeping a parameter (noise level, drop rate) keeps
    the other random parts fixed (common random numbers). This is a choice of ours.
    """

    name: ClassVar[str] = "base"

    # ---- identity
    def params(self) -> dict[str, Any]:
        """The parameters (all fields, seed included) in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self, prefix: str = "") -> dict[str, Any]:
        """A flat dict ``{"<prefix>name": name, "<prefix><field>": value, ...}``.

        Paths are written as strings, so the dict is JSON/CSV friendly; it is meant to be
        spread into a result row (e.g. with ``prefix="data_"``).
        """
        out: dict[str, Any] = {f"{prefix}name": self.name}
        for key, value in self.params().items():
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            out[f"{prefix}{key}"] = value
        return out

    def config_id(self) -> str:
        """A readable, deterministic key naming the data, e.g. ``spectrum(m=8,n=6,...,seed=0)``."""
        parts = []
        for f in dataclasses.fields(self):
            if not f.metadata.get("identity", True):
                continue
            value = getattr(self, f.name)
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            parts.append(f"{f.name}={value!r}" if isinstance(value, str) else f"{f.name}={value}")
        return f"{self.name}({','.join(parts)})"

    def config_hash(self, length: int = 12) -> str:
        """Short SHA-256 hex digest of :meth:`config_id` (a compact cache/result key)."""
        return hashlib.sha256(self.config_id().encode("utf-8")).hexdigest()[:length]

    def replace(self, **changes: Any) -> DatasetConfig:
        """A copy with some parameters changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ---- randomness
    def seed_for(self, component: str) -> int:
        """Seed of one random component (``"factors"``, ``"noise"``, ``"mask"``, ...)."""
        return derive_seed(self.name, component, getattr(self, "seed", 0))

    def generator(self, component: str) -> torch.Generator:
        """CPU generator seeded with :meth:`seed_for` ``(component)``."""
        return make_generator(self.seed_for(component))

    @classmethod
    def tiny(cls, **params: Any) -> DatasetConfig:
        """A tiny configuration for tests (subclasses override; loaders need a path)."""
        return cls(**params)


# --------------------------------------------------------------------- result types
@dataclasses.dataclass(frozen=True)
class CompletionProblem:
    """A matrix-completion instance: the truth, what is observed, and the mask.

    Attributes
    ----------
    truth : torch.Tensor
        Ground truth, shape ``(*, m, n)`` (an image is ``(3, H, W)``: its channels are a
        batch of three matrices).
    observed : torch.Tensor
        ``noisy * mask`` (or ``truth * mask`` without noise): zeros at the missing entries.
    mask : torch.Tensor
        Bool, ``True`` = observed, shape ``(m, n)`` broadcastable to ``truth`` (an image
        mask is shared by the three channels).
    config : DatasetConfig
        The configuration the instance was built from.
    noisy : torch.Tensor or None
        The full noisy matrix when the protocol adds noise, else ``None``.
    """

    truth: torch.Tensor
    observed: torch.Tensor
    mask: torch.Tensor
    config: DatasetConfig
    noisy: torch.Tensor | None = None

    @property
    def missing(self) -> torch.Tensor:
        """Bool mask of the missing entries (``~mask``)."""
        return ~self.mask

    @property
    def observed_fraction(self) -> float:
        """Share of observed entries of one ``(m, n)`` slice."""
        return float(self.mask.double().mean())
