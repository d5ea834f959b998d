"""``edlrr-bench``: the suite's command-line program (also ``python -m edlrr_bench``).

One subcommand per experiment, ``run`` for all of them, ``report`` to rebuild the report from
stored cells, ``restore`` to put the stored cells back from the CSVs (on a fresh clone).
Results go to ``--out`` (default ``results/scratch``, git-ignored): per experiment a folder
of cell records, a CSV and PNGs, plus ``REPORT.md`` and ``config.resolved.toml``.

Before any cell runs or any file is written, the command line and the whole resolved
configuration are checked: every key of every section against the keys that experiment reads
(``CONFIG_KEYS`` of its module, :mod:`edlrr_bench.schema`), every name of a ``methods`` list,
``--out`` (a folder, not a file), ``--device`` (a torch device that is available here; with
``--scheduler`` only its spelling is checked) and the ``--images`` folder (``real/<k>.jpg``,
``masks/block_<name>.bmp`` for each mask of the configuration). A refused command prints one line
``edlrr-bench: ...`` on stderr and exits with status 2, as argparse does for a bad option.
Otherwise the exit status is 0 when every cell of the command has a result: a method that
diverged, or whose own check stopped it, is a result (``status="diverged"``, shown in the report
and counted in the verdicts). It is 1 when a cell failed with an error (an exception other than a
divergence, or a non-finite metric), each listed; the run records the failure and goes on.
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

import pandas as pd
import tomli_w

from .claims import write_claims
from .report import write_report
from .schema import ConfigError, Table, check, nearest_first
from .sweep import CellStore, atomic_write_text, run_sweeps
from .table import load_table, restore_store, write_table

EXPERIMENTS = ["theory", "completion", "recovery", "ratings", "video", "denoise", "fast"]
"""Experiments in the order ``run`` executes them in-process (and the report's order)."""

LONGEST_CELLS_FIRST = ["denoise", "completion", "ratings", "recovery", "video", "fast", "theory"]
"""The order ``run`` hands experiments to Dask workers: those with the longest single cells
first (full preset: denoise ~30 min, the paper's EDLRR on completion ~10 min),
the many short theory cells last to fill the workers' gaps."""

DEFAULT_OUT = Path("results") / "scratch"

RUN_KEYS = Table({"preset": None, "threads": None, "device": None, "workers": None, "scheduler": None})
"""``[run]``: written by every run from its command line (one given in a config file is replaced)."""

AUTHORS_LAYOUT = "real/<k>.jpg, masks/block_<name>.bmp"


class UsageError(SystemExit):
    """A command line or configuration refused before anything runs: exit status 2 (argparse's),
    and one line on stderr (``str`` of the exception; :func:`main` prints it)."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return f"edlrr-bench: {self.message}"


def config_schema() -> Table:
    """The keys a configuration accepts: one section per experiment (its module's ``CONFIG_KEYS``)
    and ``[run]``."""
    sections = {name: importlib.import_module(f"edlrr_bench.experiments.{name}").CONFIG_KEYS for name in EXPERIMENTS}
    return Table({**sections, "run": RUN_KEYS})


def validate_config(cfg: dict) -> None:
    """Raise :class:`UsageError` for an unknown section, an unknown key in any section or nested
    table, or an unknown name in a ``methods`` (or ``parts``) list, naming the nearest valid one."""
    schema = config_schema()
    for section, value in cfg.items():
        if section not in schema.keys:
            near = nearest_first(section, schema.keys, cutoff=0.6)
            hint = f"did you mean [{near[0]}]?" if near else "known: " + ", ".join(f"[{k}]" for k in schema.keys)
            raise UsageError(f"unknown section [{section}] in the config; {hint}")
        try:
            check(value, schema.keys[section], [section])
        except ConfigError as exc:
            raise UsageError(str(exc)) from None


def load_preset(name: str) -> dict:
    text = resources.files("edlrr_bench").joinpath("configs", f"{name}.toml").read_text()
    return tomllib.loads(text)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def authors_images(root: Path, completion: dict, named_ids=None) -> list[int]:
    """The image ids ``k`` the completion experiment runs on under ``--images root``, after
    checking the folder; :class:`UsageError` where it cannot serve ``completion``.

    The folder must hold ``real/`` with at least one ``real/<k>.jpg``, and ``masks/`` with
    ``masks/block_<name>.bmp`` for every mask of ``completion["masks"]`` but ``drop``. The ids
    are ``named_ids`` (those a ``--config`` file names; each must be in the folder), else the
    configuration's ``authors_image_ids`` where the folder holds them all, else every id the
    folder holds.
    """
    from .datasets import authors
    from .experiments import completion as completion_exp

    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"--images folder not found: {root}")
    for sub in ("real", "masks"):
        if not (root / sub).is_dir():
            raise UsageError(f"--images {root} has no {sub}/ subfolder (the authors' layout: {AUTHORS_LAYOUT})")
    held = authors.list_authors_images(root)
    if not held:
        raise UsageError(f"--images {root} holds no image real/<k>.jpg (k = 1, 2, ...; the authors' layout: "
                         f"{AUTHORS_LAYOUT})")
    if named_ids is not None:
        if not isinstance(named_ids, list):
            raise UsageError(f"authors_image_ids in [completion] must be a list of image ids, got {named_ids!r}")
        missing = [k for k in named_ids if k not in held]
        if missing:
            raise UsageError(f"--images {root} has no {', '.join(f'real/{k}.jpg' for k in missing)} for "
                             f"authors_image_ids = {named_ids} of --config; it holds real/<k>.jpg for k in {held}")
        ids = list(named_ids)
    else:
        default = completion.get("authors_image_ids") or []
        ids = list(default) if default and all(k in held for k in default) else held
    files = {name: authors.authors_mask_file(name) for name in completion_exp.authors_masks(completion)}
    missing = [f"masks/{file} (mask {name!r})" for name, file in files.items() if not (root / "masks" / file).is_file()]
    if missing:
        have = authors.list_authors_masks(root)
        raise UsageError(f"--images {root} has no {', '.join(missing)} for the masks of [completion]; it holds "
                         f"masks/block_<name>.bmp for <name> in [{', '.join(have)}]")
    return ids


def resolve_config(preset: str, config_file: Path | None, args: argparse.Namespace) -> dict:
    """The preset, the ``--config`` file's keys over it, ``--images`` / ``--ratings`` and the
    ``[run]`` section; checked as a whole (:func:`validate_config`, :func:`authors_images`)."""
    cfg = load_preset(preset)
    user = {}
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise UsageError(f"config file not found: {path}")
        try:
            user = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"cannot parse {path}: {exc}") from None
        cfg = _merge(cfg, user)
    validate_config(cfg)
    if getattr(args, "images", None) is not None and "completion" in cfg:
        named = user.get("completion", {}).get("authors_image_ids")
        ids = authors_images(Path(args.images), cfg["completion"], named)
        os.environ["EDLRR_IMAGES"] = str(Path(args.images).resolve())
        cfg["completion"]["authors_images"] = True
        cfg["completion"]["authors_image_ids"] = ids
    if getattr(args, "ratings", None) is not None and "ratings" in cfg:
        if not Path(args.ratings).is_file():
            raise UsageError(f"--ratings file not found: {args.ratings}")
        cfg["ratings"]["ratings_file"] = str(Path(args.ratings).resolve())
    cfg["run"] = {"preset": preset, "threads": args.threads, "device": args.device,
                  "workers": args.workers, "scheduler": args.scheduler or ""}
    return cfg


def available_devices() -> list[str]:
    """The torch devices this process can run cells on."""
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        out += ["cuda"] + [f"cuda:{i}" for i in range(n)]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def check_device(device: str, here: bool = True) -> None:
    """:class:`UsageError` unless ``device`` is a torch device string and, where ``here`` (the
    cells run on this machine, not on a ``--scheduler``'s workers), a device torch can use here."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(f"--device {device!r} is not a torch device (e.g. cpu, cuda, cuda:1); "
                         f"available here: {', '.join(available_devices())}") from None
    if not here or dev.type == "cpu":
        return
    available = ", ".join(available_devices())
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device!r} is not available: torch {torch.__version__} sees no CUDA GPU "
                             f"here; available: {available}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"--device {device!r} is not available: torch sees {torch.cuda.device_count()} CUDA "
                             f"GPU(s) here; available: {available}")
        return
    if dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError(f"--device {device!r} is not available here; available: {available}")
        return
    try:  # another backend: usable where a tensor can be made there and read back
        torch.ones(1, device=dev).cpu()
    except Exception:
        raise UsageError(f"--device {device!r} is not available here; available: {available}") from None


def check_out(out: Path) -> None:
    """:class:`UsageError` where ``out`` or a folder above it is an existing file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file, not a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {out}: {parent} is an existing file, not a folder")
            break


def plan_cells(names: list[str], cfg: dict) -> dict:
    """The cells of each named experiment of ``cfg``; :class:`UsageError` where a section does not
    expand into cells (a value of the wrong kind)."""
    out = {}
    for name in names:
        if name not in cfg:
            continue
        try:
            out[name] = importlib.import_module(f"edlrr_bench.experiments.{name}").cells(cfg[name])
        except KeyError as exc:
            raise UsageError(f"[{name}] cannot be expanded into cells: missing key {exc}") from None
        except (ValueError, TypeError) as exc:
            raise UsageError(f"[{name}] cannot be expanded into cells: {type(exc).__name__}: {exc}") from None
    return out


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
                        help="size of the sweep: quick (default, a few minutes) or full (the papers' sizes; hours "
                             "on a CPU, see results/README.md)")
    common.add_argument("--config", type=Path, default=None,
                        help="TOML file whose keys override the preset (same layout as edlrr_bench/configs/*.toml); "
                             "an unknown section, key or method is refused before anything runs")
    common.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output folder (default {DEFAULT_OUT}, git-ignored; an existing file is refused)")
    common.add_argument("--workers", type=int, default=1,
                        help="run cells on a Dask LocalCluster with this many worker processes (default 1: in-process)")
    common.add_argument("--scheduler", default=None,
                        help="address of a running Dask scheduler (e.g. tcp://host:8786) to run the cells on")
    common.add_argument("--threads", type=int, default=1,
                        help="torch threads per cell (default 1; recorded in every row)")
    common.add_argument("--device", default="cpu",
                        help="torch device for the cells, e.g. cpu or cuda (default cpu); one torch cannot use here "
                             "is refused (with --scheduler only its spelling is checked)")
    common.add_argument("--images", type=Path, default=None,
                        help="folder in the EDLRR authors' layout (real/<k>.jpg, masks/block_<name>.bmp): run "
                             "completion on it with their protocol instead of the embedded images, on the images k "
                             "it holds (the config's authors_image_ids where it holds them all; ids a --config names "
                             "must be there, and masks/block_<name>.bmp for each of the config's masks but drop)")
    common.add_argument("--ratings", type=Path, default=None,
                        help="a MovieLens-format ratings file you have (u.data or user::item::rating::time): run "
                             "the ratings experiment on it instead of synthetic ratings (never shipped)")
    common.add_argument("--retry-failed", action="store_true",
                        help="re-run cells stored as failed with an error (not those whose method diverged)")
    common.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser = argparse.ArgumentParser(
        prog="edlrr-bench", description=__doc__.splitlines()[0],
        epilog="Exit status: 0 when every cell has a result (a diverged method is a result), 1 when a cell failed "
               "with an error (each listed), 2 with one line 'edlrr-bench: ...' on stderr where the command line or "
               "the configuration is refused (checked before any cell runs).")
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


def run_experiments(names: list[str], cfg: dict, args, client, planned: dict | None = None) -> list:
    """Sweep the named experiments (all at once on a Dask client), then write their CSVs;
    ``planned`` maps names to their cells where :func:`plan_cells` built them already."""
    if client is not None:
        names = sorted(names, key=LONGEST_CELLS_FIRST.index)
    planned = planned or {}
    planned = {**plan_cells([n for n in names if n not in planned], cfg), **planned}
    groups = [(name, planned[name], CellStore(args.out, name)) for name in names]
    summaries = run_sweeps(groups, threads=args.threads, device=args.device, client=client,
                           retry_failed=args.retry_failed, progress=not args.no_progress)
    for name, cells, _ in groups:
        write_csv(args.out, name, cells)
    order = {name: i for i, name in enumerate(EXPERIMENTS)}
    return sorted(summaries, key=lambda s: order[s.experiment])


def main(argv=None) -> int:
    """Run the command; a refused command line or configuration prints one line on stderr and
    raises :class:`UsageError` (a ``SystemExit`` with status 2) before anything is written."""
    try:
        return _main(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        raise


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    if args.workers < 1 or args.threads < 1:
        raise UsageError("--workers and --threads must be >= 1")
    check_out(args.out)
    # cells run on this machine unless a scheduler's workers run them; report and restore run none
    check_device(args.device, here=not args.scheduler and args.command not in ("report", "restore"))
    cfg = resolve_config(args.preset, args.config, args)
    names = EXPERIMENTS if args.command in ("run", "report", "restore") else [args.command]
    planned = plan_cells(names, cfg)
    if args.command == "restore":
        print(f"edlrr-bench restore (preset {args.preset}) from the CSVs in {args.out}")
        return restore(EXPERIMENTS, cfg, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.command != "report" or not (args.out / "config.resolved.toml").exists():
        # (report runs nothing: the configuration the cells ran with, [run] included, stays)
        atomic_write_text(args.out / "config.resolved.toml", tomli_w.dumps(cfg))
    summaries = []
    t0 = time.perf_counter()
    if args.command != "report":
        client = _client(args)
        try:
            summaries = run_experiments(names, cfg, args, client, planned)
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
            write_csv(args.out, name, planned[name])
    claims_path = write_claims(args.out, cfg)
    report = write_report(args.out, cfg, [n for n in EXPERIMENTS if (args.out / f"{n}.csv").exists()])
    failed = sum(s.failed for s in summaries)
    print(f"\nedlrr-bench {args.command} (preset {args.preset}) in {time.perf_counter() - t0:.1f} s -> {args.out}")
    for s in summaries:
        print("  " + s.line())
        for cell, err in s.divergences[:5]:
            print(f"    diverged {cell.method} {cell.dataset}: {err}")
        for cell, err in s.failures:
            print(f"    FAILED {cell.method} {cell.params} {cell.dataset}: {err}")
    diverged = sum(s.diverged for s in summaries)
    if diverged:
        print(f"  {diverged} cell(s) diverged: results, shown in the report and counted in its verdicts")
    if failed:
        print(f"  {failed} cell(s) failed with an error (recorded; rerun with --retry-failed)")
    verdicts = pd.read_csv(claims_path).groupby(["paper", "verdict"]).size()
    print("  the papers' claims (" + str(claims_path) + "): " + "; ".join(
        f"{paper} " + ", ".join(f"{v} {k}" for (p, v), k in verdicts.items() if p == paper)
        for paper in verdicts.index.get_level_values(0).unique()))
    print(f"  report: {report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
