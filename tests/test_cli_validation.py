"""edlrr-bench refuses a bad command line or configuration before any cell runs: one line on
stderr starting with ``edlrr-bench:``, exit status 2, nothing written into --out."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from edlrr_bench import cli, schema

CONFIGS = sorted((Path(cli.__file__).parent / "configs").glob("*.toml"))
# the authors' folder beside the project (or where $EDLRR_IMAGES points)
AUTHORS = Path(os.environ.get("EDLRR_IMAGES")
               or Path(__file__).resolve().parents[2] / "shared" / "data" / "edlrr-images")

TINY_THEORY = """
[theory]
m = 12
n = 8
powers = [1]
probes = [4]
iters = [2]
base_probes = 4
base_iters = 5
reps = 2
design = false
spectra = [{ spectrum = "geometric", ratio = 0.7 }]
"""


def refused(capsys, argv, out=None) -> str:
    """Run ``main(argv)``, expect a refusal; return its one stderr line (checked)."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("edlrr-bench: "), err
    if out is not None:
        assert not Path(out).exists(), "a refused command wrote into --out"
    return lines[0]


def config(tmp_path, text: str, name: str = "c.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# --- unknown keys and methods -------------------------------------------------------------------------------

UNKNOWN_KEYS = [
    ("[theory]\nprobs = [1, 4]\n", "unknown key 'probs' in [theory]; did you mean 'probes'?"),
    ("[completion]\nrep = 2\n", "unknown key 'rep' in [completion]; did you mean 'reps'?"),
    ("[recovery.synthetic]\nsigmaa = 0.1\n", "unknown key 'sigmaa' in [recovery.synthetic]; did you mean 'sigma'?"),
    ("[completion.overrides]\nsvd_autograd = { steps = 3 }\n",
     "unknown key 'svd_autograd' in [completion.overrides]; did you mean 'svd-autograd'?"),
    ("[completion.overrides.svt]\nmax_iters = 3\n",
     "unknown key 'max_iters' in [completion.overrides.svt]; did you mean 'max_iter'?"),
    ("[ratings.overrides]\nedlrr = { options = { probe = 8 } }\n",
     "unknown key 'probe' in [ratings.overrides.edlrr.options]; did you mean 'probes'?"),
    ("[completion]\nmasks = [{ mask = \"drop\", drp = 0.3 }]\n",
     "unknown key 'drp' in [completion] masks[0]; did you mean 'drop'?"),
    ("[video]\nvideos = [{ background = \"coffee\", frame = 8 }]\n",
     "unknown key 'frame' in [video] videos[0]; did you mean 'frames'?"),
    ("[fast.speed]\nseed = 3\n", "unknown key 'seed' in [fast.speed]; did you mean 'seeds'?"),
    ("[fast.xtrace.budgets]\n\"my budget\" = { sketchh = 10 }\n",
     "unknown key 'sketchh' in [fast.xtrace.budgets.\"my budget\"]; did you mean 'sketch'?"),
    ("[fast.xtrace.grid]\nbudgt = 60\n", "unknown key 'budgt' in [fast.xtrace.grid]; did you mean 'budget'?"),
    ("[denoise]\nfeature = 4\n", "unknown key 'feature' in [denoise]; did you mean 'features'?"),
    # the cells set the seed of a ratings dataset (the repetition): one given here is not taken
    ("[ratings]\nsynthetic = [{ users = 40, seed = 3 }]\n",
     "unknown key 'seed' in [ratings] synthetic[0]; valid keys: density, items, noise, rank, test_fraction, users"),
    ("[theory]\nzzzzzz = 1\n", "unknown key 'zzzzzz' in [theory]; valid keys: base_iters, base_probes, design, fast, "
                               "iters, m, n, powers, probes, released_terms, reps, seed, spectra"),
    ("[theroy]\nm = 3\n", "unknown section [theroy] in the config; did you mean [theory]?"),
    ("[recovery]\nsynthetic = 3\n", "[recovery] synthetic must be a table, got int"),
]


@pytest.mark.parametrize("text, message", UNKNOWN_KEYS, ids=[m.split(";")[0] for _, m in UNKNOWN_KEYS])
def test_an_unknown_key_is_refused_naming_its_section_and_the_nearest_key(tmp_path, capsys, text, message):
    out = tmp_path / "out"
    line = refused(capsys, ["theory", "--out", str(out), "--config", config(tmp_path, text), "--no-progress"], out)
    assert line == "edlrr-bench: " + message


UNKNOWN_METHODS = [
    ("[completion]\nmethods = [\"SVT\", \"SVTT\"]\n", "unknown method 'SVTT' in [completion] methods", "SVT"),
    ("[recovery.synthetic]\nmethods = [\"DLRLL\"]\n", "unknown method 'DLRLL' in [recovery.synthetic] methods", "DLRL"),
    ("[recovery.images]\nmethods = [\"IRN\"]\n", "unknown method 'IRN' in [recovery.images] methods", "IRNN"),
    ("[ratings]\nmethods = [\"svt\"]\n", "unknown method 'svt' in [ratings] methods", "SVT"),
    ("[video]\nmethods = [\"RPCA\"]\n", "unknown method 'RPCA' in [video] methods", "RPCA-IALM"),
    ("[fast.speed]\nmethods = [\"fast-lancsoz\"]\n", "unknown method 'fast-lancsoz' in [fast.speed] methods",
     "fast-lanczos"),
    ("[fast.speed]\npaired = [\"fats\"]\n", "unknown method 'fats' in [fast.speed] paired", "fast"),
    ("[fast.dtype]\nmethods = [\"fast-rationl\"]\n", "unknown method 'fast-rationl' in [fast.dtype] methods",
     "fast-rational"),
    ("[fast]\nparts = [\"sped\"]\n", "unknown part 'sped' in [fast] parts", "speed"),
]


@pytest.mark.parametrize("text, message, nearest", UNKNOWN_METHODS, ids=[m for _, m, _ in UNKNOWN_METHODS])
def test_an_unknown_method_is_refused_naming_the_known_ones_nearest_first(tmp_path, capsys, text, message, nearest):
    from edlrr_bench.experiments import completion, fast, ratings, recovery, video

    known = {"completion": completion.METHODS, "recovery": recovery.METHODS, "ratings": ratings.METHODS,
             "video": video.METHODS, "fast": fast.PARTS if "parts" in text else fast.FAST_VARIANTS}
    section = text[1:text.index("]")].split(".")[0]
    out = tmp_path / "out"
    line = refused(capsys, ["theory", "--out", str(out), "--config", config(tmp_path, text)], out)
    head, listed = line.split("; known (nearest first): ")
    assert head == "edlrr-bench: " + message
    names = listed.split(", ")
    assert names[0] == nearest and sorted(names) == sorted(known[section])


def test_the_process_exits_with_status_2_and_one_line(tmp_path):
    out = tmp_path / "out"
    bad = config(tmp_path, "[completion]\nmethods = [\"SVTT\"]\n")
    proc = subprocess.run([sys.executable, "-m", "edlrr_bench", "completion", "--config", bad, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("edlrr-bench: unknown method 'SVTT' in [completion] methods; known (nearest "
                                  "first): SVT, ") and len(proc.stderr.splitlines()) == 1
    assert "Traceback" not in proc.stderr and proc.stdout == "" and not out.exists()


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
@pytest.mark.parametrize("preset", ["quick", "full"])
def test_every_shipped_config_validates_and_expands_into_cells(path, preset):
    cfg = cli.resolve_config(preset, path, cli.build_parser().parse_args(["run"]))
    cli.validate_config(cfg)  # (resolve_config checks it too; here the result, [run] included)
    cells = cli.plan_cells(cli.EXPERIMENTS, cfg)
    assert set(cells) == set(cli.EXPERIMENTS) and all(cells.values())


class Reads(dict):
    """A config table that records the keys read from it (``[k]``, ``get``, ``in``)."""

    def __init__(self, data, path, log):
        super().__init__({k: _watch(v, path + (k,), log) for k, v in data.items()})
        self.path, self.log = path, log

    def __getitem__(self, key):
        self.log.add(self.path + (key,))
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.log.add(self.path + (key,))
        return super().get(key, default)

    def __contains__(self, key):
        self.log.add(self.path + (key,))
        return super().__contains__(key)


def _watch(value, path, log):
    if isinstance(value, dict):
        return Reads(value, path, log)
    if isinstance(value, list):
        return [_watch(v, path + (i,), log) for i, v in enumerate(value)]
    return value


def _accepts(sch, path) -> bool:
    for part in path:
        if sch is None:
            return True
        if isinstance(sch, schema.Table):
            if part not in sch.keys:
                return False
            sch = sch.keys[part]
        elif isinstance(sch, schema.Rows):
            if not isinstance(part, int):
                return False
            sch = sch.table
        elif isinstance(sch, schema.Labelled):
            sch = sch.value
        else:  # Names: a list of strings
            return isinstance(part, int)
    return True


def _table_keys(sch, path=()):
    """The paths of the keys of the schema's own tables (not those of rows, labelled tables or the
    solvers' parameters, which come from the registries)."""
    if isinstance(sch, schema.Table):
        for key, sub in sch.keys.items():
            yield path + (key,)
            if not (path and path[-1] == "overrides"):
                yield from _table_keys(sub, path + (key,))


def test_the_schema_is_what_the_cells_read():
    """CONFIG_KEYS of each experiment accepts every key its ``cells(cfg)`` reads, and the cells
    read every key it names, over every shipped configuration (on the embedded images and under
    --images, where completion reads authors_image_ids instead of images and size)."""
    import importlib

    args = cli.build_parser().parse_args(["run"])
    log = set()
    for path in [None, *CONFIGS]:
        for preset in ("quick", "full"):
            for authors in (False, True):
                cfg = cli.resolve_config(preset, path, args)
                cfg["completion"]["authors_images"] = authors
                for name in cli.EXPERIMENTS:
                    module = importlib.import_module(f"edlrr_bench.experiments.{name}")
                    module.cells(Reads(cfg[name], (name,), log))
    # the reads reach the nested tables (the recorder works through them)
    assert ("fast", "xtrace", "grid", "budget") in log and ("recovery", "synthetic", "p_values") in log
    top = cli.config_schema()
    assert sorted(p for p in log if not _accepts(top, p)) == []
    unread = [p for p in _table_keys(top) if p[0] != "run" and not any(r[:len(p)] == p for r in log)]
    assert unread == []


# --- --out and --device -------------------------------------------------------------------------------------

def test_out_naming_an_existing_file_is_refused(tmp_path, capsys):
    cfg = config(tmp_path, TINY_THEORY)
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    line = refused(capsys, ["theory", "--out", str(target), "--config", cfg])
    assert line == f"edlrr-bench: --out {target} is an existing file, not a folder"
    assert target.read_text() == "keep me\n"
    line = refused(capsys, ["report", "--out", str(target / "sub"), "--config", cfg])
    assert line == f"edlrr-bench: --out {target / 'sub'}: {target} is an existing file, not a folder"


def test_a_device_torch_cannot_use_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = config(tmp_path, TINY_THEORY)
    out = tmp_path / "out"
    line = refused(capsys, ["theory", "--out", str(out), "--config", cfg, "--device", "cuda", "--no-progress"], out)
    assert line == (f"edlrr-bench: --device 'cuda' is not available: torch {torch.__version__} sees no CUDA GPU here; "
                    "available: cpu")
    line = refused(capsys, ["theory", "--out", str(out), "--config", cfg, "--device", "gpu0", "--no-progress"], out)
    assert line == "edlrr-bench: --device 'gpu0' is not a torch device (e.g. cpu, cuda, cuda:1); available here: cpu"
    line = refused(capsys, ["theory", "--out", str(out), "--config", cfg, "--device", "meta", "--no-progress"], out)
    assert line == "edlrr-bench: --device 'meta' is not available here; available: cpu"
    # on a scheduler's workers the device is theirs: only its spelling is checked here, and the next
    # check (the configuration) speaks
    bad = config(tmp_path, "[theory]\nprobs = [1]\n", "bad.toml")
    line = refused(capsys, ["theory", "--out", str(out), "--config", bad, "--device", "cuda",
                            "--scheduler", "tcp://127.0.0.1:1"], out)
    assert "unknown key 'probs'" in line


def test_a_cuda_index_beyond_the_gpus_is_refused(monkeypatch):
    """(Without a GPU here: torch's answers for one GPU stand in.)"""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    cli.check_device("cuda")
    cli.check_device("cuda:0")
    with pytest.raises(SystemExit) as exc:
        cli.check_device("cuda:1")
    assert exc.value.code == 2
    assert str(exc.value) == ("edlrr-bench: --device 'cuda:1' is not available: torch sees 1 CUDA GPU(s) here; "
                              "available: cpu, cuda, cuda:0")
    cli.check_device("cuda:1", here=False)  # a scheduler's workers: their GPUs


def test_workers_and_threads_below_one_exit_with_status_2(tmp_path, capsys):
    out = tmp_path / "out"
    line = refused(capsys, ["theory", "--out", str(out), "--workers", "0"], out)
    assert line == "edlrr-bench: --workers and --threads must be >= 1"


def test_a_missing_config_file_exits_with_status_2(tmp_path, capsys):
    out = tmp_path / "out"
    line = refused(capsys, ["theory", "--out", str(out), "--config", str(tmp_path / "nope.toml")], out)
    assert line == f"edlrr-bench: config file not found: {tmp_path / 'nope.toml'}"


def test_the_resolved_config_of_a_run_is_accepted_back_as_a_config(tmp_path):
    out = tmp_path / "out"
    assert cli.main(["report", "--out", str(out), "--config", config(tmp_path, TINY_THEORY), "--no-progress"]) == 0
    resolved = out / "config.resolved.toml"
    assert "[run]" in resolved.read_text()
    assert cli.main(["report", "--out", str(tmp_path / "again"), "--config", str(resolved), "--no-progress"]) == 0


# --- --images -----------------------------------------------------------------------------------------------

def authors_folder(root: Path, ids=(9, 10, 11), masks=("text",)) -> Path:
    """A small folder in the authors' layout: 16 x 16 RGB real/<k>.jpg, masks/block_<name>.bmp."""
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "real").mkdir(parents=True)
    (root / "masks").mkdir()
    for k in ids:
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(root / "real" / f"{k}.jpg")
    for name in masks:
        m = np.full((16, 16, 3), 255, np.uint8)
        m[4:8, 3:12] = 0
        Image.fromarray(m).save(root / "masks" / f"block_{name}.bmp")
    return root


SMALL_COMPLETION = """
[completion]
masks = [{ mask = "drop", drop = 0.3 }, { mask = "text" }]
methods = ["SVT"]
[completion.overrides]
svt = { max_iter = 3 }
"""


def test_images_runs_on_the_ids_the_folder_holds(tmp_path, monkeypatch):
    monkeypatch.delenv("EDLRR_IMAGES", raising=False)
    images = authors_folder(tmp_path / "imgs")
    out = tmp_path / "out"
    assert cli.main(["completion", "--images", str(images), "--config", config(tmp_path, SMALL_COMPLETION),
                     "--out", str(out), "--no-progress"]) == 0
    df = pd.read_csv(out / "completion.csv")
    assert (df.status == "ok").all() and sorted(set(df.dataset_image)) == [9, 10, 11] and len(df) == 3 * 2
    assert "authors_image_ids = [\n    9,\n    10,\n    11,\n]" in (out / "config.resolved.toml").read_text()


def test_images_keeps_the_configured_ids_where_the_folder_holds_them(tmp_path, monkeypatch):
    monkeypatch.delenv("EDLRR_IMAGES", raising=False)
    args = cli.build_parser().parse_args(["completion", "--images", str(authors_folder(tmp_path / "i", ids=(1, 2, 3)))])
    cfg = config(tmp_path, SMALL_COMPLETION)
    # quick's [1] is in the folder: kept; full's 1..8 are not all there: the folder's ids
    assert cli.resolve_config("quick", cfg, args)["completion"]["authors_image_ids"] == [1]
    assert cli.resolve_config("full", cfg, args)["completion"]["authors_image_ids"] == [1, 2, 3]


def test_images_refuses_ids_the_config_names_and_the_folder_lacks(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EDLRR_IMAGES", raising=False)
    images = authors_folder(tmp_path / "imgs")
    cfg = config(tmp_path, SMALL_COMPLETION.replace("[completion]\n", "[completion]\nauthors_image_ids = [1, 9, 2]\n"))
    out = tmp_path / "out"
    line = refused(capsys, ["completion", "--images", str(images), "--config", cfg, "--out", str(out)], out)
    assert line == (f"edlrr-bench: --images {images} has no real/1.jpg, real/2.jpg for authors_image_ids = [1, 9, 2] "
                    "of --config; it holds real/<k>.jpg for k in [9, 10, 11]")


def test_images_refuses_a_folder_without_real_or_masks_or_images(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EDLRR_IMAGES", raising=False)
    cfg = config(tmp_path, SMALL_COMPLETION)
    out = tmp_path / "out"
    folder = tmp_path / "f"
    folder.mkdir()
    line = refused(capsys, ["completion", "--images", str(folder), "--config", cfg, "--out", str(out)], out)
    assert line == (f"edlrr-bench: --images {folder} has no real/ subfolder (the authors' layout: real/<k>.jpg, "
                    "masks/block_<name>.bmp)")
    (folder / "real").mkdir()
    line = refused(capsys, ["completion", "--images", str(folder), "--config", cfg, "--out", str(out)], out)
    assert line == (f"edlrr-bench: --images {folder} has no masks/ subfolder (the authors' layout: real/<k>.jpg, "
                    "masks/block_<name>.bmp)")
    (folder / "masks").mkdir()
    (folder / "real" / "notes.jpg").write_text("not an image id")
    line = refused(capsys, ["completion", "--images", str(folder), "--config", cfg, "--out", str(out)], out)
    assert line.startswith(f"edlrr-bench: --images {folder} holds no image real/<k>.jpg")
    line = refused(capsys, ["completion", "--images", str(tmp_path / "nope"), "--config", cfg, "--out", str(out)], out)
    assert line == f"edlrr-bench: --images folder not found: {tmp_path / 'nope'}"


def test_images_refuses_a_folder_without_the_masks_of_the_config(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EDLRR_IMAGES", raising=False)
    images = authors_folder(tmp_path / "imgs", masks=("circle",))
    out = tmp_path / "out"
    line = refused(capsys, ["completion", "--images", str(images), "--config", config(tmp_path, SMALL_COMPLETION),
                            "--out", str(out)], out)
    assert line == (f"edlrr-bench: --images {images} has no masks/block_text.bmp (mask 'text') for the masks of "
                    "[completion]; it holds masks/block_<name>.bmp for <name> in [circle]")
    # the quick preset's masks: drop (drawn), square and text (files)
    line = refused(capsys, ["completion", "--images", str(images), "--out", str(out)], out)
    assert "has no masks/block_square.bmp (mask 'square'), masks/block_text.bmp (mask 'text')" in line
    # drop masks need no file
    drop = config(tmp_path, SMALL_COMPLETION.replace(', { mask = "text" }', ""), "drop.toml")
    args = cli.build_parser().parse_args(["completion", "--images", str(images)])
    assert cli.resolve_config("quick", drop, args)["completion"]["authors_image_ids"] == [9, 10, 11]


@pytest.mark.skipif(not (AUTHORS / "real").is_dir(), reason=f"the authors' image folder is absent ({AUTHORS})")
def test_the_authors_folder_keeps_the_presets_ids(monkeypatch):
    monkeypatch.delenv("EDLRR_IMAGES", raising=False)
    args = cli.build_parser().parse_args(["completion", "--images", str(AUTHORS)])
    assert cli.resolve_config("full", None, args)["completion"]["authors_image_ids"] == list(range(1, 9))
    assert cli.resolve_config("quick", None, args)["completion"]["authors_image_ids"] == [1]
    subset = Path(cli.__file__).parent / "configs" / "authors_subset.toml"
    assert cli.resolve_config("full", subset, args)["completion"]["authors_image_ids"] == list(range(1, 9))
