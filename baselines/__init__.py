"""Baselines for the EDLRR benchmark: what users would pick instead of EDLRR.

Installed as ``edlrr_bench.baselines``. Every method is a dataclass solver registered by name;
its field defaults are the paper's settings.

==================  ============================================================  ===========
name                method                                                         problem
==================  ============================================================  ===========
``svt``             singular value thresholding (Cai, Candes & Shen 2010)           completion
``irnn``            iteratively reweighted nuclear norm (Lu, Tang, Yan & Lin 2016)  completion
``svd-autograd``    Adam on masked MSE + lambda sum h(sigma_i) via svdvals          completion
``edlrr``           the same loop with the EDLRR estimator (Li et al. 2025)         completion
``dlrl``            differentiable low-rank learning (Chen, Yao, Xiao & Wang 2021)  completion
``rpca-ialm``       robust PCA by inexact ALM (Lin, Chen & Ma 2010)                 rpca
``edlrr-rpca``      min ||V - X||_1 + lambda R(X) by Adam (EDLRR Section 4.2)       rpca
``global-mean``     the mean of the observed entries everywhere                     completion
``user-item-bias``  regularised mu + b_u + b_i (Koren 2008)                         completion
==================  ============================================================  ===========

Examples
--------
>>> import torch
>>> from edlrr_bench.baselines import get_solver
>>> g = torch.Generator().manual_seed(0)
>>> A = torch.randn(30, 2, generator=g, dtype=torch.float64) @ torch.randn(2, 20, generator=g, dtype=torch.float64)
>>> mask = torch.rand(30, 20, generator=g) < 0.6
>>> res = get_solver("irnn").complete(A, mask)
>>> res.record.converged, res.X.shape, float(torch.linalg.norm(res.X - A) / torch.linalg.norm(A)) < 1e-4
(True, torch.Size([30, 20]), True)
"""
from .base import (
    CompletionResult,
    CompletionSolver,
    DivergenceError,
    RPCAResult,
    RPCASolver,
    RunRecord,
    Solver,
    masked_mse,
    masked_rmse,
    relative_error,
    validate_completion_inputs,
    validate_rpca_input,
)
from .registry import available_solvers, get_solver, register, solver_class
from .svt import SVT
from .irnn import IRNN
from .svd_autograd import SVDAutograd
from .edlrr_solver import EDLRRSolver
from .dlrl import DLRL
from .rpca_ialm import RPCAIALM
from .edlrr_rpca import EDLRRRPCA
from .bias import GlobalMean, UserItemBias

__all__ = [
    "CompletionResult",
    "CompletionSolver",
    "DivergenceError",
    "RPCAResult",
    "RPCASolver",
    "RunRecord",
    "Solver",
    "available_solvers",
    "get_solver",
    "register",
    "solver_class",
    "masked_mse",
    "masked_rmse",
    "relative_error",
    "validate_completion_inputs",
    "validate_rpca_input",
    "SVT",
    "IRNN",
    "SVDAutograd",
    "EDLRRSolver",
    "DLRL",
    "RPCAIALM",
    "EDLRRRPCA",
    "GlobalMean",
    "UserItemBias",
]
