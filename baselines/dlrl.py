"""DLRL: differentiable low-rank learning with the multi-Schatten-p surrogate (block network).

References
----------
Z. Chen, J. Yao, G. Xiao & S. Wang, "Efficient and differentiable low-rank matrix completion
with back propagation", IEEE Trans. Multimedia 25:228-242, 2023 (online 2021), Section III:
eq. (8) (multi-Schatten-p surrogate), (13)-(14) (problem and block gradient), (23) (low-rank
operator), (24) (learnable eta), (25) (Lipschitz constants), (26) (loss), Algorithm 1,
Theorem 1; Section IV-C (d = 20 for ratings and synthetic data, 80 for images; p_i = 1;
learning rate 0.01 or 0.005). The authors' release: github.com/chenzl23/DLRL (``DLRL.py``,
``shrink.py``, ``util.py``, ``demo.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from edlrr.estimators import dyadic_fraction
from edlrr.linalg import sqrt_newton_schulz

from .base import (CompletionSolver, DivergenceMonitor, SolveInfo, check_choice, check_int,
                   check_positive, masked_mse)
from .registry import register

__all__ = ["DLRL", "spectral_norm_power", "gram_power_newton_schulz"]


def spectral_norm_power(A: torch.Tensor, iters: int) -> torch.Tensor:
    """sigma_1(A) by power iteration on the smaller Gram matrix (SVD-free), detached.

    The start vector is all ones: DLRL's factors are non-negative (ReLU outputs and a
    non-negative initialisation), so their Gram matrices are entrywise non-negative and, by
    Perron-Frobenius, the ones vector is not orthogonal to the top eigenvector.
    """
    with torch.no_grad():
        G = A.mT @ A if A.shape[-2] >= A.shape[-1] else A @ A.mT
        v = torch.ones(G.shape[-1], 1, dtype=A.dtype, device=A.device)
        v = v / v.norm()
        lam = torch.zeros((), dtype=A.dtype, device=A.device)
        for _ in range(iters):
            w = G @ v
            lam = w.norm()
            if float(lam) == 0.0:
                break
            v = w / lam
        return lam.sqrt()


def spectral_norm_svd(A: torch.Tensor) -> torch.Tensor:
    """sigma_1(A) from an SVD, as the release's ``util.Spectral_norm`` (``torch.svd``)."""
    with torch.no_grad():
        return torch.linalg.matrix_norm(A, ord=2)


def gram_power_newton_schulz(A: torch.Tensor, alpha: float, iters: int) -> torch.Tensor:
    """A^alpha for a symmetric PSD A and a dyadic alpha in [0, 1), SVD-free and differentiable:
    the product of the Newton-Schulz roots A^{1/2^l} selected by the binary digits of alpha."""
    j, level = dyadic_fraction(alpha)
    out = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    root = A
    for lv in range(1, level + 1):
        root = sqrt_newton_schulz(root, iters, rtol=torch.finfo(A.dtype).eps ** 0.5)
        if (j >> (level - lv)) & 1:
            out = out @ root
    return out


def gram_power_eigh(A: torch.Tensor, alpha: float) -> torch.Tensor:
    """A^alpha for a symmetric PSD A by an eigendecomposition (negative eigenvalues clipped)."""
    evals, evecs = torch.linalg.eigh(A)
    return (evecs * evals.clamp_min(0).pow(alpha).unsqueeze(-2)) @ evecs.mT


class _NonFinite(ArithmeticError):
    """Raised inside the forward pass when an intermediate becomes NaN/Inf."""


@register
@dataclass
class DLRL(CompletionSolver):
    """Differentiable low-rank learning (Chen, Yao, Xiao & Wang, TMM 2021).

    The completed matrix is the product X_hat_1 ... X_hat_I of the outputs of I blocks. Block i
    (Algorithm 1, eqs. (14), (23)-(25))::

        grad_i = -(X_1 ... X_{i-1})^T [H o (M - X_1 ... X_I)] (X_{i+1} ... X_I)^T
        L_i    = max(||X_1 ... X_{i-1}||_2^2 ||X_{i+1} ... X_I||_2^2, eps)
        Y_i    = X_i - grad_i / (eta L_i)
        X_hat_i = ReLU(W_i (Y_i^T Y_i)^{(2 - p_i)/2})      (= ReLU(W_i G_i^+ / 2))

    The weights W_i and eta are trained by Adam on J = 1/2 ||P_Omega(prod X_hat_i - M)||_F^2
    (eq. 26) with ReduceLROnPlateau; eta is projected onto (0, 1) before every forward pass.
    With p_i = 1 for all I blocks the surrogate is the Schatten-p quasi-norm with 1/p = I.

    Parameters
    ----------
    blocks : int
        Number of blocks I (5, the release's demo; the paper uses 2-10).
    p : float
        p_i of every block (1, as in all the paper's experiments); 0 < p_i <= 2.
    d : int
        Inner dimension of the factors (20 for ratings and synthetic data, 80 for images).
    lr : float
        Adam learning rate (0.01; the paper uses 0.01 or 0.005).
    max_epochs : int
        Epoch budget (3000, ours; the paper trains "until J converges", the release's demo
        stops at 300 epochs, which is too few: see Notes).
    eta_init : float
        Initial eta (0.1, the release's demo).
    betas, weight_decay : tuple, float
        Adam settings of the release ((0.9, 0.92), 0.15).
    plateau_factor, plateau_patience : float, int
        ReduceLROnPlateau(factor=0.1, patience=10), the release's.
    min_lr_ratio, stop_lr_ratio : float
        The release's min_lr = 1e-4 lr and early stop once the learning rate falls below
        1e-3 lr (after four reductions with the defaults); that stop sets ``converged``.
    init_scale : float
        The end factors X_1, X_I start as init_scale * U(0, 1), middle ones as I (release;
        the W_i start as U(0, 1) and I).
    normalize : bool
        Ours, off by default: divide the data by the RMS of the observed entries before training
        and multiply the prediction back. The network itself is not scale-invariant (see
        Notes); with this option a run on c M returns exactly c times the run on M.
    eta_margin : float
        eta is clipped to [eta_margin, 1 - eta_margin].
    lipschitz_eps : float
        eps of eq. (25).
    spectral_norm : {"power", "svd"}
        Spectral norms of eq. (25) by power iteration on a d x d Gram matrix (SVD-free, default)
        or by an SVD as the release does.
    power_iters : int
        Power iterations (50).
    gram_power : {"newton-schulz", "eigh", "released"}
        How (Y^T Y)^{(2-p)/2} is formed: Newton-Schulz roots (SVD-free, default; needs a
        dyadic (2-p)/2, e.g. p = 1, 1.5, 0.5), an eigendecomposition, or as the release:
        elementwise ``torch.pow(Y^T Y + st, (p-2)/2)`` with st = 0.002 max diag(Y^T Y), then
        ``torch.pinverse`` (SVD-based).
    sqrt_iters : int
        Newton-Schulz iterations per square root, at most (30; the iteration exits early once
        converged, see :func:`edlrr.linalg.sqrt_newton_schulz`).
    gradient_step : {"descent", "released"}
        ``"descent"`` steps against the gradient of f. Eq. (14) as printed is minus that
        gradient, and the release implements it literally (Y_i = X_i + grad_i / (eta L_i), an
        ascent step): ``"released"`` reproduces that.
    update_factors : bool
        False (release): the block inputs X_i stay at their initial values and only W_i, eta
        are learned. True: after every epoch the inputs become the (detached) block outputs.
    track_schatten : bool
        Record sum_i ||X_hat_i||_{S_p}^p / p and sum_i ||Y_i||_{S_p}^p / p per epoch in
        ``extra`` (uses SVDs of the small factors; off by default to keep runs SVD-free).
    seed : int
        Seed of the initialisation (drawn on CPU, then moved to the input's device).
    range_factor : float
        Final sanity check (ours): a returned prediction with max|X| > range_factor x the
        largest observed |entry|, or whose RMSE on the observed entries is not below the RMS of
        the observed data (no better than X = 0, e.g. every ReLU unit dead), is reported as
        divergence (``diverged``, and :class:`DivergenceError` with ``raise_on_divergence``).
        The loss monitor cannot see these runs: their loss falls from a first value that is
        larger still. 10 by default; ``math.inf`` disables the range test.
    divergence_factor, raise_on_divergence
        See :mod:`.base`.

    Notes
    -----
    Reported error: ``extra["rmse"]`` (per epoch) and ``extra["train_rmse"]`` are true root
    mean squared errors on the observed entries, sqrt(2 J / |Omega|). The release's ``predict``
    prints ``sum((x - x_prob)^2) / sum(I_test)`` under the label "Test RMSE": that is the mean
    squared error, not its root; ``extra["train_mse"]`` is that quantity on the observed entries.

    Deviations from the paper (and where the release is followed instead):

    * Blocks are evaluated from the same inputs (Jacobi-style, as the release), not one after
      the other; the inputs stay fixed unless ``update_factors`` (paper Algorithm 1 leaves this
      open; the release never updates them).
    * When a factor has fewer than twice as many rows as columns, (Y Y^T)^{(2-p)/2} W is used
      instead of W (Y^T Y)^{(2-p)/2} (the release's transposition, which keeps every Gram
      matrix at most d x d and the cost O((m + n) d^2) the paper states).
    * G_i^+ / 2 is formed directly as (Y^T Y)^{(2-p)/2} (the pseudo-inverse of
      G_i = (Y^T Y)^{(p-2)/2} / 2 in exact arithmetic), without the release's shift st.
    * eta is projected onto (0, 1) (the paper; the release does not project it).
    * The returned matrix is the network's prediction everywhere (observed entries included).
    * ReLU factors are non-negative, so only non-negative matrices can be fitted (as in the
      paper's rating and image data).
    * ReduceLROnPlateau is built without the release's ``verbose=True`` (removed from PyTorch).
    * Default budget 3000 epochs instead of the release demo's 300; a final sanity check of the
      prediction (``range_factor``); the optional ``normalize`` (all ours, see above).

    Convergence. The network never updates its inputs: X_hat_i = ReLU(W_i C_i) with
    C_i = (Y_i^T Y_i)^{1/2} fixed up to eta, so training is Adam on a non-negative
    factorisation W_i -> W_i C_i. With the release's initialisation (X_i, W_i ~ U(0, 1),
    eta = 0.1, so Y_i oversteps by 1 / eta) the first prediction is orders of magnitude above
    the data (the paper: "the initial loss values in some datasets are extremely large"), and
    Adam's absolute step spends the first hundreds of epochs shrinking the scale; hence the
    default budget of 3000 epochs, ``eta_init`` (a larger eta starts closer) and ``normalize``
    (data far above 1 make every ReLU unit die, X = 0). Products of ReLU factors are
    non-negative: on signed data the RSRE is at least ||min(X_s, 0)||_F / ||X_s||_F, and the
    run's message says so. With ``track_schatten=True`` the factors' Schatten-p sums are
    recorded per epoch (the paper's Fig. 10); Theorem 1's per-block inequality
    ||X_hat_i||_{S_p}^p <= ||Y_i||_{S_p}^p need not hold for a learned W (the output W G^+ / 2
    is not the minimiser of (43)). The measurements behind these statements are in
    ``results/`` (experiments ``recovery`` and ``completion``) and ``tests/``.
    The sum decreases monotonically only while the oversized initial prediction shrinks; once
    the data are fitted it fluctuates (I = 2, d = 10, 40 x 30 rank 3: 57 increases in 600
    epochs), unlike the monotone curves of Fig. 10.
    """

    name = "dlrl"
    test_params = {"blocks": 2, "d": 10, "lr": 0.01, "max_epochs": 300}
    history_label = "loss J = 1/2 ||P_Omega(prod X_hat_i - M)||_F^2"

    blocks: int = 5
    p: float = 1.0
    d: int = 20
    lr: float = 0.01
    max_epochs: int = 3000
    eta_init: float = 0.1
    betas: tuple = (0.9, 0.92)
    weight_decay: float = 0.15
    plateau_factor: float = 0.1
    plateau_patience: int = 10
    min_lr_ratio: float = 1e-4
    stop_lr_ratio: float = 1e-3
    init_scale: float = 1.0
    normalize: bool = False
    eta_margin: float = 1e-3
    lipschitz_eps: float = 1e-8
    spectral_norm: str = "power"
    power_iters: int = 50
    gram_power: str = "newton-schulz"
    sqrt_iters: int = 30
    gradient_step: str = "descent"
    update_factors: bool = False
    track_schatten: bool = False
    seed: int = 0
    range_factor: float = 10.0
    divergence_factor: float = 1e6
    raise_on_divergence: bool = True

    # -- validation -------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_int(self.blocks, "blocks", minimum=2)
        p = check_positive(self.p, "p")
        if p > 2:
            raise ValueError(f"p must lie in (0, 2] (Theorem 1 / Lemma 1), got {self.p}")
        check_int(self.d, "d")
        check_positive(self.lr, "lr")
        check_int(self.max_epochs, "max_epochs")
        if not 0 < self.eta_init < 1:
            raise ValueError(f"eta_init must lie in (0, 1), got {self.eta_init}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        check_positive(self.weight_decay, "weight_decay", allow_zero=True)
        if not 0 < self.plateau_factor < 1:
            raise ValueError(f"plateau_factor must lie in (0, 1), got {self.plateau_factor}")
        check_int(self.plateau_patience, "plateau_patience", minimum=0)
        check_positive(self.min_lr_ratio, "min_lr_ratio", allow_zero=True)
        check_positive(self.stop_lr_ratio, "stop_lr_ratio", allow_zero=True)
        check_positive(self.init_scale, "init_scale")
        if not 0 < self.eta_margin < 0.5:
            raise ValueError(f"eta_margin must lie in (0, 0.5), got {self.eta_margin}")
        check_positive(self.lipschitz_eps, "lipschitz_eps")
        check_choice(self.spectral_norm, "spectral_norm", ("power", "svd"))
        check_int(self.power_iters, "power_iters")
        check_choice(self.gram_power, "gram_power", ("newton-schulz", "eigh", "released"))
        if self.gram_power == "newton-schulz":
            dyadic_fraction((2 - p) / 2)
        check_int(self.sqrt_iters, "sqrt_iters")
        check_choice(self.gradient_step, "gradient_step", ("descent", "released"))
        check_int(self.seed, "seed", minimum=0)
        if not (isinstance(self.range_factor, (int, float)) and self.range_factor > 1):
            raise ValueError(f"range_factor must be a number > 1 (math.inf disables the check), "
                             f"got {self.range_factor!r}")

    # -- the network --------------------------------------------------------------------------
    def _spec(self, A: torch.Tensor | None) -> float:
        if A is None:
            return 1.0
        if self.spectral_norm == "power":
            return float(spectral_norm_power(A, self.power_iters))
        return float(spectral_norm_svd(A))

    def _low_rank_operator(self, Y: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
        """T = W G^+ / 2 of eq. (23), with the release's transposition rule."""
        p = float(self.p)
        alpha = (2.0 - p) / 2.0
        transpose = Y.shape[-2] < 2 * Y.shape[-1]
        if transpose:
            Y, W = Y.mT, W.mT
        gram = Y.mT @ Y
        if self.gram_power == "released":
            st = 0.002 * gram.diagonal().abs().max()
            G = 0.5 * torch.pow(gram + st, (p - 2) / 2)
            if not bool(torch.isfinite(G).all()):
                raise _NonFinite("the release's elementwise power of Y^T Y + st produced NaN/Inf "
                                 "(negative entries of Y^T Y)")
            T = 0.5 * W @ torch.linalg.pinv(G)
        elif self.gram_power == "eigh":
            T = W @ gram_power_eigh(gram, alpha)
        else:
            T = W @ gram_power_newton_schulz(gram, alpha, self.sqrt_iters)
        return T.mT if transpose else T

    def _lipschitz(self, prefix, suffix) -> list[float]:
        """L_i of eq. (25) for every block (they depend on the block inputs only)."""
        I = len(prefix) - 1
        return [max(self._spec(prefix[i]) ** 2 * self._spec(suffix[i + 1]) ** 2, self.lipschitz_eps)
                for i in range(I)]

    def _forward(self, Xs, Ws, eta, M, omega, zero, want_Y: bool = False, cache: dict | None = None):
        I = len(Xs)
        # prefix[i] = X_1 ... X_i (None for i = 0); suffix[i] = X_{i+1} ... X_I (None for i = I)
        prefix = [None] * (I + 1)
        for i in range(1, I + 1):
            prefix[i] = Xs[0] if i == 1 else prefix[i - 1] @ Xs[i - 1]
        suffix = [None] * (I + 1)
        for i in range(I - 1, -1, -1):
            suffix[i] = Xs[I - 1] if i == I - 1 else Xs[i] @ suffix[i + 1]
        R = torch.where(omega, M - prefix[I], zero)
        if cache is not None and "L" in cache:
            Ls = cache["L"]
        else:
            Ls = self._lipschitz(prefix, suffix)
            if cache is not None:
                cache["L"] = Ls
        outs, Ys = [], []
        for i in range(I):
            A, B = prefix[i], suffix[i + 1]
            T = R if A is None else A.mT @ R
            T = T if B is None else T @ B.mT
            grad = -T  # gradient of f = 1/2 ||H o (M - prod)||^2 w.r.t. X_i
            step = grad / (eta * Ls[i])
            Y = Xs[i] - step if self.gradient_step == "descent" else Xs[i] + step
            outs.append(torch.relu(self._low_rank_operator(Y, Ws[i])))
            Ys.append(Y)
        return (outs, Ys) if want_Y else outs

    @staticmethod
    def _product(mats):
        P = mats[0]
        for A in mats[1:]:
            P = P @ A
        return P

    def _schatten(self, mats) -> float:
        p = float(self.p)
        with torch.no_grad():
            return float(sum((torch.linalg.svdvals(A) ** p).sum() / p for A in mats))

    def _check_prediction(self, X, M, omega, info) -> str | None:
        """Sanity check of the returned prediction (ours): a finite X that fits the observed
        entries no better than the zero matrix, or leaves the data range by more than
        ``range_factor``, is garbage (the loss monitor, relative to a first loss that is already
        huge, cannot see it). Returns the reason, or None."""
        obs = M[omega]
        obs_max = float(obs.abs().max())
        obs_rms = float(obs.pow(2).mean().sqrt())
        fit_rmse = float(masked_mse(X, M, omega).sqrt())
        x_max = float(X.abs().max())
        info.extra["max_abs_ratio"] = x_max / obs_max if obs_max > 0 else math.inf
        info.extra["fit_ratio"] = fit_rmse / obs_rms if obs_rms > 0 else math.inf
        if obs_max == 0.0:
            return None  # all observed entries are 0: X = 0 is the exact fit, nothing to judge
        if x_max > self.range_factor * obs_max:
            return (f"prediction outside the data range: max|X| = {x_max:.4g} exceeds "
                    f"range_factor = {self.range_factor:g} x max|observed| = {obs_max:.4g}")
        if fit_rmse >= obs_rms:
            return (f"prediction fits the observed entries no better than the zero matrix "
                    f"(RMSE {fit_rmse:.4g} >= RMS of the observed data {obs_rms:.4g}"
                    f"{'; every ReLU unit is dead, X = 0' if x_max == 0.0 else ''})")
        return None

    # -- training -----------------------------------------------------------------------------
    def _solve(self, M, omega, rng):
        m, n = M.shape
        d, I = self.d, self.blocks
        dev, dt = M.device, M.dtype
        zero = torch.zeros((), dtype=dt, device=dev)
        M_in = M
        scale = 1.0
        if self.normalize:
            rms = float(M[omega].pow(2).mean().sqrt())
            scale = rms if rms > 0 else 1.0
            M = M / scale

        def rand(*shape):
            return torch.rand(*shape, generator=rng, dtype=torch.float64).to(device=dev, dtype=dt)

        eye = torch.eye(d, dtype=dt, device=dev)
        Xs = [self.init_scale * rand(m, d)] + [eye.clone() for _ in range(I - 2)] \
            + [self.init_scale * rand(d, n)]
        Ws = [rand(m, d)] + [eye.clone() for _ in range(I - 2)] + [rand(d, n)]
        Ws = [W.requires_grad_(True) for W in Ws]
        eta = torch.tensor(self.eta_init, dtype=dt, device=dev, requires_grad=True)

        optimizer = torch.optim.Adam(Ws + [eta], lr=self.lr, betas=tuple(self.betas),
                                     weight_decay=self.weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.plateau_factor, patience=self.plateau_patience,
            min_lr=self.min_lr_ratio * self.lr)
        n_obs = float(omega.sum())
        monitor = DivergenceMonitor(self.divergence_factor, "loss")
        info = SolveInfo(extra={"rmse": [], "eta": [], "lr": []})
        if self.track_schatten:
            info.extra["schatten"] = []
            info.extra["schatten_Y"] = []
        stop_lr = self.stop_lr_ratio * self.lr * (1 - 1e-6)
        last_good = None
        # with fixed block inputs the Lipschitz constants never change: compute them once
        cache = None if self.update_factors else {}
        for epoch in range(self.max_epochs):
            with torch.no_grad():
                eta.clamp_(self.eta_margin, 1 - self.eta_margin)  # projection onto (0, 1)
            try:
                outs, Ys = self._forward(Xs, Ws, eta, M, omega, zero, want_Y=True, cache=cache)
            except _NonFinite as exc:
                info.diverged = True
                info.message = f"{exc} at epoch {epoch}"
                break
            P = self._product(outs)
            loss = 0.5 * (torch.where(omega, P - M, zero) ** 2).sum()
            value = float(loss.detach())
            info.history.append(value * scale ** 2)
            info.extra["rmse"].append(scale * math.sqrt(2 * value / n_obs) if math.isfinite(value) else value)
            info.extra["eta"].append(float(eta.detach()))
            info.extra["lr"].append(optimizer.param_groups[0]["lr"])
            if self.track_schatten and math.isfinite(value):
                info.extra["schatten"].append(self._schatten([o.detach() for o in outs]))
                info.extra["schatten_Y"].append(self._schatten([y.detach() for y in Ys]))
            msg = monitor.check(value, epoch)
            if msg is not None or not bool(torch.isfinite(P).all()):
                info.diverged = True
                info.message = msg or f"non-finite prediction at epoch {epoch}"
                break
            last_good = P.detach().clone()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step(value)
            info.iterations = epoch + 1
            if self.update_factors:
                Xs = [o.detach() for o in outs]
            if optimizer.param_groups[0]["lr"] < stop_lr:
                info.converged = True
                info.message = (f"early stop: learning rate reduced below {self.stop_lr_ratio:g} "
                                f"x lr after {epoch + 1} epochs (loss plateau)")
                break
        else:
            info.message = f"max_epochs={self.max_epochs} reached"
        if info.diverged:
            X = last_good if last_good is not None else torch.zeros_like(M)
        else:
            with torch.no_grad():
                eta.clamp_(self.eta_margin, 1 - self.eta_margin)
                try:
                    X = self._product(self._forward(Xs, Ws, eta, M, omega, zero, cache=cache))
                except _NonFinite:
                    X = torch.full_like(M, float("nan"))
            if not bool(torch.isfinite(X).all()):
                info.diverged = True
                info.message = "non-finite prediction after the last epoch"
                X = last_good if last_good is not None else torch.zeros_like(M)
        X = X * scale
        if not info.diverged:
            garbage = self._check_prediction(X, M_in, omega, info)
            if garbage is not None:
                info.diverged = True
                info.message = f"{garbage} ({info.message})"
        negative = float((M_in[omega] < 0).double().mean())
        info.extra["negative_share"] = negative
        if negative > 0:
            info.message += (f"; {100 * negative:.3g}% of the observed entries are negative, "
                             "which DLRL's non-negative prediction cannot fit")
        mse = float(masked_mse(X, M_in, omega))
        info.extra["train_mse"] = mse
        info.extra["train_rmse"] = math.sqrt(mse)
        info.extra["eta_final"] = float(eta.detach())
        return X, info
