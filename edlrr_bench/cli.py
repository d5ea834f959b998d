"""``edlrr-bench``: the suite's command-line program (also ``python -m edlrr_bench``).

One subcommand per experiment, ``run`` for all of them, ``report`` to rebuild the report from
stored cells, ``restore`` to put the stored cells back from the CSVs (on a fresh clone).
Results go to ``--out`` (default ``results/scratch``, git-ignored): per experiment a folder
of cell records, a CSV and PNGs, plus ``REPORT.md`` and ``config.resolved.toml``.
The exit code is the number of failed cells (capped at 100); 0 means every cell succeeded.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import os
import sys
import time
import tomllib
from importlib import resources
from pathlib import Path

import tomli_w

from .report import write_report
from .sweep import CellStore, atomic_write_text, run_sweeps
from .table import load_table, restore_store, write_table

EXPERIMENTS = ["theory", "completion", "recovery", "ratings", "video", "denoise", "fast"]
"""Experiments in the order ``run`` executes them in-process (and the report's order)."""

LONGEST_CELLS_FIRST = ["denoise", "completion", "ratings", "recovery", "video", "fast", "theory"]
"""The order ``run`` hands experiments to Dask workers: those with the longest single cells
first (full preset: denoise ~30 min, the paper's EDLRR on completion and IRNN on ratings ~8 min),
the many short theory cells last to fill the workers' gaps."""

DEFAULT_OUT = Path("results") / "scratch"


def load_preset(name: str) -> dict:
    text = resources.files("edlrr_bench").joinpath("configs", f"{name}.toml").read_text()
    return tomllib.loads(text)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def resolve_config(preset: str, config_file: Path | None, args: argparse.Namespace) -> dict:
    cfg = load_preset(preset)
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise SystemExit(f"edlrr-bench: config file not found: {path}")
        try:
            cfg = _merge(cfg, tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise SystemExit(f"edlrr-bench: cannot parse {path}: {exc}") from None
    unknown = set(cfg) - set(EXPERIMENTS) - {"run"}
    if unknown:
        raise SystemExit(f"edlrr-bench: unknown section(s) {sorted(unknown)} in the config; "
                         f"known: {EXPERIMENTS}")
    if getattr(args, "images", None) is not None and "completion" in cfg:
        if not Path(args.images).is_dir():
            raise SystemExit(f"edlrr-bench: --images folder not found: {args.images}")
        os.environ["EDLRR_IMAGES"] = str(Path(args.images).resolve())
        cfg["completion"]["authors_images"] = True
    if getattr(args, "ratings", None) is not None and "ratings" in cfg:
        if not Path(args.ratings).is_file():
            raise SystemExit(f"edlrr-bench: --ratings file not found: {args.ratings}")
        cfg["ratings"]["ratings_file"] = str(Path(args.ratings).resolve())
    cfg["run"] = {"preset": preset, "threads": args.threads, "device": args.device,
                  "workers": args.workers, "scheduler": args.scheduler or ""}
    return cfg


def _client(args):
    if args.scheduler:
        from dask.distributed import Client

        return Client(args.scheduler)
    if args.workers and args.workers > 1:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster)
    return None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--preset", choices=["quick", "full"], default="quick",
                        help="size of the sweep: quick (default, a few minutes) or full (the papers' sizes; 1 h 38 min with --workers 2 on 2 cores, see results/README.md)")
    common.add_argument("--config", type=Path, default=None,
                        help="TOML file whose keys override the preset (same layout as edlrr_bench/configs/*.toml)")
    common.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT}, git-ignored)")
    common.add_argument("--workers", type=int, default=1,
                        help="run cells on a Dask LocalCluster with this many worker processes (default 1: in-process)")
    common.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler (e.g. tcp://host:8786) to run the cells on")
    common.add_argument("--threads", type=int, default=1,
                        help="torch threads per cell (default 1; recorded in every row)")
    common.add_argument("--device", default="cpu", help="torch device for the cells, e.g. cpu or cuda (default cpu)")
    common.add_argument("--images", type=Path, default=None,
                        help="folder in the EDLRR authors' layout (real/<k>.jpg, masks/block_<name>.bmp): "
                             "run completion on it with their protocol instead of the embedded images")
    common.add_argument("--ratings", type=Path, default=None,
                        help="a MovieLens-format ratings file you have (u.data or user::item::rating::time): run "
                             "the ratings experiment on it instead of synthetic ratings (never shipped)")
    common.add_argument("--retry-failed", action="store_true", help="re-run cells stored as failed")
    common.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser = argparse.ArgumentParser(prog="edlrr-bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", parents=[common], help="run every experiment, then write the report")
    for name in EXPERIMENTS:
        mod = importlib.import_module(f"edlrr_bench.experiments.{name}")
        sub.add_parser(name, parents=[common], help=(mod.__doc__ or name).strip().splitlines()[0])
    sub.add_parser("report", parents=[common], help="rebuild REPORT.md, CSVs and plots from the stored cells "
                                                    "of this preset/config (other stored cells are left out)")
    sub.add_parser("restore", parents=[common], help="put back the stored cells of this preset/config from the "
                                                     "CSVs in --out (a fresh clone of committed results), so that a "
                                                     "re-run computes only the cells those tables lack")
    return parser


def restore(names: list[str], cfg: dict, out: Path) -> int:
    """``edlrr-bench restore``: :func:`~edlrr_bench.table.restore_store` for every experiment of
    the configuration that has a CSV in ``out``; prints what it did. Writes no CSV or report."""
    for name in names:
        if name not in cfg:
            print(f"  {name:11s} not in this configuration: nothing to restore")
            continue
        if not (out / f"{name}.csv").is_file():
            print(f"  {name:11s} no {name}.csv in {out}: nothing to restore")
            continue
        cells = importlib.import_module(f"edlrr_bench.experiments.{name}").cells(cfg[name])
        c = restore_store(out, name, cells)
        print(f"  {name:11s} cells {len(cells):5d}  restored {c['restored']:5d}  already stored {c['already']:5d}  "
              f"without a row (will run) {c['missing']:5d}  rows of other versions/configs left out {c['stale']:5d}")
    return 0


def write_csv(out: Path, name: str, cells) -> None:
    """``OUT/<name>.csv`` from the stored records of ``cells`` only (this configuration and code
    version; older records stay in the store)."""
    write_table(load_table(out, name, keys=[c.key for c in cells]), out / f"{name}.csv")


def run_experiments(names: list[str], cfg: dict, args, client) -> list:
    """Sweep the named experiments (all at once on a Dask client), then write their CSVs."""
    if client is not None:
        names = sorted(names, key=LONGEST_CELLS_FIRST.index)
    groups = []
    for name in names:
        mod = importlib.import_module(f"edlrr_bench.experiments.{name}")
        groups.append((name, mod.cells(cfg[name]), CellStore(args.out, name)))
    summaries = run_sweeps(groups, threads=args.threads, device=args.device, client=client,
                           retry_failed=args.retry_failed, progress=not args.no_progress)
    for name, cells, _ in groups:
        write_csv(args.out, name, cells)
    order = {name: i for i, name in enumerate(EXPERIMENTS)}
    return sorted(summaries, key=lambda s: order[s.experiment])


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.workers < 1 or args.threads < 1:
        raise SystemExit("edlrr-bench: --workers and --threads must be >= 1")
    cfg = resolve_config(args.preset, args.config, args)
    if args.command == "restore":
        print(f"edlrr-bench restore (preset {args.preset}) from the CSVs in {args.out}")
        return restore(EXPERIMENTS, cfg, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command != "report" or not (args.out / "config.resolved.toml").exists():
        # (report runs nothing: the configuration the cells ran with, [run] included, stays)
        atomic_write_text(args.out / "config.resolved.toml", tomli_w.dumps(cfg))
    names = EXPERIMENTS if args.command in ("run", "report") else [args.command]
    summaries = []
    t0 = time.perf_counter()
    if args.command != "report":
        client = _client(args)
        try:
            summaries = run_experiments(names, cfg, args, client)
        finally:
            if client is not None:
                client.close()
    else:
        for name in names:
            if not CellStore(args.out, name).dir.is_dir():
                # nothing stored to rebuild from: a committed CSV stays as it is (on a fresh clone,
                # `restore` puts its cells back first) and no empty CSV is made for an experiment
                # that never ran here
                if (args.out / f"{name}.csv").exists():
                    print(f"  {name}: no stored cells in {args.out / name / 'cells'}: {name}.csv kept as it is "
                          "(`edlrr-bench restore` puts its cells back from it)")
                continue
            write_csv(args.out, name, importlib.import_module(f"edlrr_bench.experiments.{name}").cells(cfg[name]))
    report = write_report(args.out, cfg, [n for n in EXPERIMENTS if (args.out / f"{n}.csv").exists()])
    failed = sum(s.failed for s in summaries)
    print(f"\nedlrr-bench {args.command} (preset {args.preset}) in {time.perf_counter() - t0:.1f} s -> {args.out}")
    for s in summaries:
        print("  " + s.line())
        for cell, err in s.failures[:5]:
            print(f"    failed {cell.method} {cell.params}: {err}")
    print(f"  report: {report}")
    if failed:
        print(f"  {failed} cell(s) failed (recorded with their errors; rerun with --retry-failed)")
    return min(failed, 100)


if __name__ == "__main__":
    sys.exit(main())
