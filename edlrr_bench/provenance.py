"""Provenance of a result row: versions, system, threads, device, git commit of the project."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The project's git commit (with ``-dirty`` when the work tree has changes outside
    ``results/``, the committed results that a run rewrites), or ``unknown`` outside a checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)results"], cwd=root, capture_output=True, text=True,
                               timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("EDLRR_GIT_COMMIT", "unknown")


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "absent"


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The processor's model name with its family and model numbers (``/proc/cpuinfo`` on Linux,
    e.g. "AMD EPYC (family 25, model 17)": a virtual machine's name alone does not tell CPU
    generations apart, whose bfloat16 products differ by 2x here); else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo") as f:
            fields = {}
            for line in f:
                if not line.strip():
                    break  # the first processor's block
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
    except OSError:
        fields = {}
    name = fields.get("model name")
    if not name:
        return platform.processor() or platform.machine()
    numbers = [f"{k} {fields[k2]}" for k, k2 in (("family", "cpu family"), ("model", "model")) if fields.get(k2)]
    return f"{name} ({', '.join(numbers)})" if numbers else name


def polar_dtype(device: str = "cpu") -> str:
    """What ``edlrr.Polar(dtype="auto")`` runs the polar iteration in on ``device`` (bfloat16 on CUDA and
    on CPUs with AMX tiles or AVX512-BF16, float32 elsewhere): the preset's nuclear-norm speed depends on it."""
    from edlrr.polar import work_dtype

    try:
        return str(work_dtype("auto", torch.empty(0, device=device))).removeprefix("torch.")
    except (RuntimeError, ValueError):
        return "unknown"


def provenance(device: str = "cpu") -> dict:
    import edlrr

    dev = device
    if device.startswith("cuda") and torch.cuda.is_available():
        dev = f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return {
        "edlrr_version": edlrr.__version__,
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "numpy_version": _version("numpy"),
        "scipy_version": _version("scipy"),
        "python_version": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "device": dev,
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "polar_dtype_auto": polar_dtype(device),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        # glibc's trim threshold decides how much freed heap stays resident, and so the resident
        # peak memory measured on a CPU: Dask's worker processes set it to 65536 (eager); a plain
        # process leaves it unset (glibc's dynamic default: ~40 MiB more at 4096 x 4096 for the
        # polar path)
        "malloc_trim_threshold": os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset"),
    }
