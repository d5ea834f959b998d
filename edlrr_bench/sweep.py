"""Sweeps: grids of independent cells, stored one file per finished cell, resumable, mergeable.

A :class:`Cell` is one point of an experiment's grid (method x dataset x parameters x
repetition). Its key is a hash of its whole identity (including the experiment's code
version), so an interrupted sweep resumes without re-running a finished cell, and cell files
written on several machines merge by copying them into one folder. Cells run in-process or on
Dask distributed (a LocalCluster for ``workers > 1``, or an existing scheduler).

Each stored record holds the cell, its status (``ok`` / ``diverged`` / ``failed``), its metrics or error,
wall time, peak memory and the provenance of the run (:mod:`edlrr_bench.provenance`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib
import inspect
import json
import math
import os
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Iterable

import torch

from .provenance import provenance
from .baselines.base import DivergenceError

__all__ = ["Cell", "CellStore", "execute_cell", "run_sweep", "run_sweeps", "SweepSummary", "atomic_write_text"]


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


@dataclasses.dataclass(frozen=True)
class Cell:
    """One independent unit of work of an experiment.

    Attributes
    ----------
    experiment : str
        Module name under :mod:`edlrr_bench.experiments`, whose ``run_cell(cell)`` runs it.
    method : str
    dataset : dict
        The dataset's config (``name`` plus parameters).
    params : dict
        The method's and the measurement's parameters.
    rep : int
        Repetition index.
    version : int
        The experiment's code version: bump it when the cell's computation changes, so stale
        stored results are not reused.
    """

    experiment: str
    method: str
    dataset: dict
    params: dict
    rep: int = 0
    version: int = 1

    def identity(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        return hashlib.sha256(_canonical(self.identity()).encode()).hexdigest()[:20]

    @property
    def seed(self) -> int:
        """A 63-bit seed derived from the identity of the cell (not from its order)."""
        ident = {k: v for k, v in self.identity().items() if k != "version"}
        return int.from_bytes(hashlib.sha256(("seed:" + _canonical(ident)).encode()).digest()[:8], "big") >> 1

    @classmethod
    def from_dict(cls, d: dict) -> "Cell":
        return cls(**{f.name: d[f.name] for f in dataclasses.fields(cls) if f.name in d})


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CellStore:
    """Finished cells of one experiment as JSON files ``<root>/<experiment>/cells/<key>.json``."""

    def __init__(self, root: Path, experiment: str):
        self.root = Path(root).resolve()
        self.dir = self.root / experiment / "cells"

    def path(self, cell: Cell) -> Path:
        return self.dir / f"{cell.key}.json"

    def get(self, cell: Cell) -> dict | None:
        p = self.path(cell)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError:
            return None  # a torn file cannot come from atomic writes; treat as missing

    def put(self, record: dict) -> None:
        cell = Cell.from_dict(record["cell"])
        atomic_write_text(self.path(cell), json.dumps(record, indent=1, sort_keys=True, default=str))

    def records(self) -> list[dict]:
        if not self.dir.exists():
            return []
        out = []
        for p in sorted(self.dir.glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except json.JSONDecodeError:
                continue
        return out


class PeakMemory:
    """Peak memory of a block: CUDA allocator peak on a GPU, else resident-set peak sampled
    every few milliseconds (above the RSS at entry), in MiB."""

    def __init__(self, device: str = "cpu", interval: float = 0.005):
        self.device, self.interval = device, interval
        self.peak_mib = float("nan")

    @staticmethod
    def _rss() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0

    def __enter__(self):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
            return self
        self._base = self._rss()
        self._max = self._base
        self._stop = threading.Event()

        def sample():
            while not self._stop.wait(self.interval):
                self._max = max(self._max, self._rss())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak_mib = (torch.cuda.max_memory_allocated() - self._base) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self._max = max(self._max, self._rss())
            self.peak_mib = (self._max - self._base) / 2**20
        return False


def _finite_metrics(metrics: dict) -> str | None:
    for k, v in metrics.items():
        if isinstance(v, float) and not math.isfinite(v) and not k.endswith("_optional"):
            return f"metric {k!r} is {v}"
    return None


def execute_cell(cell_dict: dict, threads: int | None = None, device: str = "cpu",
                 artifacts_root: str | None = None) -> dict:
    """Run one cell and return its record; never raises for a failure of the cell itself.

    A cell whose method diverges (its solver raises
    :class:`~edlrr_bench.baselines.base.DivergenceError`: NaN, an exploding loss, or the solver's
    own check of its output) is a result, recorded with ``status="diverged"`` and the reason. A
    cell whose ``run_cell`` raises anything else, or returns a non-finite metric, is an error,
    recorded with ``status="failed"`` and its message. Experiments whose ``run_cell`` takes ``artifacts`` get
    the folder ``<artifacts_root>/<experiment>/artifacts`` for small files (pictures).
    """
    cell = Cell.from_dict(cell_dict)
    if threads:
        torch.set_num_threads(threads)
    module = importlib.import_module(f"edlrr_bench.experiments.{cell.experiment}")
    started = time.time()
    status, error, metrics = "ok", None, {}
    t0 = time.perf_counter()
    mem = PeakMemory(device)
    try:
        kwargs = {}
        if artifacts_root is not None and "artifacts" in inspect.signature(module.run_cell).parameters:
            kwargs["artifacts"] = Path(artifacts_root) / cell.experiment / "artifacts"
        with mem:
            metrics = module.run_cell(cell, device=device, **kwargs)
        bad = _finite_metrics(metrics)
        if bad:
            status, error = "failed", f"non-finite result: {bad}"
    except DivergenceError as exc:  # a result: the method diverged, or its own guard stopped it
        status, error = "diverged", str(exc)
        metrics = {}
    except Exception as exc:  # recorded, the sweep goes on
        status = "failed"
        error = f"{type(exc).__name__}: {exc}"
        metrics = {"traceback": traceback.format_exc(limit=8)}
    wall = time.perf_counter() - t0
    return {
        "cell": cell.identity(),
        "key": cell.key,
        "seed": cell.seed,
        "status": status,
        "error": error,
        "metrics": metrics,
        "wall_time_s": wall,
        "peak_mem_mib": mem.peak_mib,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "provenance": provenance(device=device),
    }


@dataclasses.dataclass
class SweepSummary:
    experiment: str
    total: int = 0
    reused: int = 0
    ran: int = 0
    failed: int = 0
    diverged: int = 0
    failures: list = dataclasses.field(default_factory=list)
    divergences: list = dataclasses.field(default_factory=list)
    wall_time_s: float = 0.0

    def count(self, cell: "Cell", rec: dict) -> None:
        """Count a stored or new record that is not ``ok``."""
        if rec["status"] == "diverged":
            self.diverged += 1
            self.divergences.append((cell, rec["error"]))
        elif rec["status"] != "ok":
            self.failed += 1
            self.failures.append((cell, rec["error"]))

    def line(self) -> str:
        return (f"{self.experiment:11s} cells {self.total:5d}  reused {self.reused:5d}  ran {self.ran:5d}  "
                f"diverged {self.diverged:3d}  failed {self.failed:3d}  ({self.wall_time_s:.1f} s)")


def run_sweep(cells: Iterable[Cell], store: CellStore, *, threads: int | None = None, device: str = "cpu",
              client=None, retry_failed: bool = False, progress: bool = True, experiment: str = "") -> SweepSummary:
    """Run every cell not yet stored (in-process, or on a Dask ``client``), storing each
    record as soon as it finishes. Returns a summary; failures are counted, not raised."""
    return run_sweeps([(experiment, cells, store)], threads=threads, device=device, client=client,
                      retry_failed=retry_failed, progress=progress)[0]


def _pending(experiment: str, cells: Iterable[Cell], store: CellStore, retry_failed: bool):
    cells = list(cells)
    summary = SweepSummary(experiment=experiment, total=len(cells))
    pending = []
    for cell in cells:
        rec = store.get(cell)
        if rec is not None and (rec["status"] != "failed" or not retry_failed):
            summary.reused += 1
            summary.count(cell, rec)
        else:
            pending.append(cell)
    return summary, pending


def runs_alone(cell: Cell) -> bool:
    """Whether the cell must run with no other cell beside it: its experiment module's
    ``runs_alone(cell)`` (cells that time methods against each other, whose ratio a second
    cell on the other cores distorts), False where the module has none."""
    module = importlib.import_module(f"edlrr_bench.experiments.{cell.experiment}")
    check = getattr(module, "runs_alone", None)
    return bool(check(cell)) if check is not None else False


def run_sweeps(groups: list[tuple[str, Iterable[Cell], CellStore]], *, threads: int | None = None,
               device: str = "cpu", client=None, retry_failed: bool = False,
               progress: bool = True) -> list[SweepSummary]:
    """Run several experiments' sweeps; ``groups`` holds ``(experiment, cells, store)``.

    In-process they run one after the other. On a Dask ``client`` every pending cell of every
    group is submitted at once, earlier groups at a higher Dask priority: the workers take the
    cells in group order but never wait at the end of one experiment for its last (long) cell,
    so put the experiments with the longest cells first. Cells that must run alone
    (:func:`runs_alone`: timings compared with each other) run after all the others, one at a
    time, with nothing else on the cluster. Returns one summary per group.
    """
    from tqdm.auto import tqdm

    work = [(_pending(name, cells, store, retry_failed), store) for name, cells, store in groups]
    t0 = time.perf_counter()

    def done(rec, summary, store, bar):
        store.put(rec)
        summary.ran += 1
        summary.wall_time_s = time.perf_counter() - t0
        summary.count(Cell.from_dict(rec["cell"]), rec)
        bar.update(1)

    if client is None:
        for (summary, pending), store in work:
            t0 = time.perf_counter()
            with tqdm(total=len(pending), desc=summary.experiment or "cells", unit="cell",
                      disable=not progress, leave=True) as bar:
                for cell in pending:
                    done(execute_cell(cell.identity(), threads, device, str(store.root)), summary, store, bar)
            summary.wall_time_s = time.perf_counter() - t0
        return [summary for (summary, _), _ in work]

    from dask.distributed import as_completed

    owner, futures_all, alone = {}, [], []
    for rank, ((summary, pending), store) in enumerate(work):
        together = [c for c in pending if not runs_alone(c)]
        alone += [(c, summary, store) for c in pending if runs_alone(c)]
        futures = client.map(execute_cell, [c.identity() for c in together], threads=threads, device=device,
                             artifacts_root=str(store.root), pure=False, priority=len(work) - rank)
        owner.update({fut.key: (summary, store) for fut in futures})
        futures_all += futures
    names = "+".join(summary.experiment for (summary, _), _ in work) or "cells"
    with tqdm(total=len(owner) + len(alone), desc=names if len(names) < 40 else "cells", unit="cell",
              disable=not progress, leave=True) as bar:
        for fut in as_completed(futures_all):
            summary, store = owner[fut.key]
            done(fut.result(), summary, store, bar)
        for cell, summary, store in alone:  # the cluster is idle now: one cell at a time
            fut = client.submit(execute_cell, cell.identity(), threads=threads, device=device,
                                artifacts_root=str(store.root), pure=False)
            done(fut.result(), summary, store, bar)
    return [summary for (summary, _), _ in work]
