"""Input checks shared by the estimators and the suite: clear, typed errors naming the problem."""
from __future__ import annotations

import torch


def check_matrix(S, *, name: str = "S", check_finite: bool = True) -> torch.Tensor:
    """Validate a batch of matrices shaped (*, m, n) with a floating dtype.

    Raises ``TypeError`` for a non-tensor or a non-floating dtype and ``ValueError`` for
    ndim < 2, a zero-size dimension, or NaN/Inf entries (when ``check_finite``).
    """
    if not isinstance(S, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(S).__name__}")
    if not (S.is_floating_point()):
        raise TypeError(
            f"{name} must have a floating dtype (float32 or float64), got {S.dtype}; "
            f"convert it with {name}.to(torch.float64)"
        )
    if S.ndim < 2:
        raise ValueError(f"{name} must have shape (*, m, n) with ndim >= 2, got shape {tuple(S.shape)}")
    if any(d == 0 for d in S.shape):
        raise ValueError(f"{name} has a zero-size dimension: shape {tuple(S.shape)}")
    # one reduction instead of an m x n mask: a NaN or Inf entry makes the sum non-finite; only
    # then (or on overflow of a huge finite sum) look at the entries
    if check_finite and not bool(torch.isfinite(S.detach().sum())) and not bool(torch.isfinite(S).all()):
        raise ValueError(f"{name} contains NaN or Inf entries")
    return S


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices, key=str)}, got {value!r}")
    return value
