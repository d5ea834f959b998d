"""The ``fast`` experiment's package: cell identities, the float32 speed cells, the one generator of
test matrices (datasets.synthetic.test_matrix) shared with the asv benchmarks, a report drawn from the
long table alone, and the core demo without the suite's packages."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import edlrr
from edlrr_bench import cli
from edlrr_bench.datasets import synthetic
from edlrr_bench.experiments import fast
from edlrr_bench.experiments.fast import accuracy, common, crossover, matrices, penalty, released, speed
from edlrr_bench.experiments.fast import dtype as dtype_part
from edlrr_bench.sweep import Cell

ROOT = Path(__file__).resolve().parents[1]


# -- cell identities ---------------------------------------------------------------------------

# keys of cells of the full preset, one per part and version constant, as stored before the
# experiment became a package: a changed identity (params, dataset, version) changes its key
FULL_PRESET_KEYS = {
    "da8d6d1300ab22d6e702": ("speed", "svdvals"),
    "c3e3c24f2d2629404f61": ("speed", "fast-lanczos"),
    "8047a0d5c19f2fa92fa9": ("xtrace", "budget-100 A"),
    "bf5c18b13fcc48a2be7f": ("xtrace", "budget-100 matvec"),
    "8c9ddfe757dab2c4c9b5": ("xtrace_grid", "grid k=10 q=0 N=1 d=40"),
    "bf0e3930f231bfa4bf37": ("pareto", "paper"),
    "62801ec3491877659b96": ("released", "released"),
    "7d149d47750b2307ee19": ("crossover", "crossover"),
    "44a4781f2bf01d671f36": ("dtype", "fast"),
    "5a319c80fc618dd44e19": ("penalty", "fast"),
}


def test_the_full_presets_cells_keep_their_keys():
    cells = {c.key: c for c in fast.cells(cli.load_preset("full")["fast"])}
    for key, (part, method) in FULL_PRESET_KEYS.items():
        assert key in cells, (part, method)
        assert (cells[key].params["part"], cells[key].method) == (part, method)


def test_speed_cells_in_float32_beside_the_float64_ones():
    """Each float64 speed cell (no ``dtype`` param) has a float32 twin whose params add
    ``dtype="float32"``; ``dtypes = ["float64"]`` gives the float64 cells alone; an unknown dtype is
    named."""
    section = dict(cli.load_preset("quick")["fast"]["speed"])
    both = fast.cells({"speed": section})
    alone = fast.cells({"speed": dict(section, dtypes=["float64"])})
    assert all("dtype" not in c.params for c in alone)
    assert {c.key for c in alone} == {c.key for c in both if "dtype" not in c.params}
    twins = [c for c in both if c.params.get("dtype") == "float32"]
    assert len(twins) == len(alone)
    as_float64 = {Cell(c.experiment, c.method, c.dataset, {k: v for k, v in c.params.items() if k != "dtype"},
                       c.rep, c.version).key for c in twins}
    assert as_float64 == {c.key for c in alone}
    with pytest.raises(ValueError, match="unknown dtype 'float16'"):
        fast.cells({"speed": dict(section, dtypes=["float64", "float16"])})


def test_an_unknown_dtype_in_the_config_is_refused(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[fast.speed]\ndtypes = ["float32", "float61"]\n')
    with pytest.raises(SystemExit) as exc:
        cli.main(["fast", "--config", str(path), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    assert "unknown dtype 'float61' in [fast.speed] dtypes" in capsys.readouterr().err


def test_the_xtrace_part_has_the_idealised_estimators_cells():
    xt = dict(cli.load_preset("quick")["fast"]["xtrace"])
    cells = [c for c in fast.cells({"xtrace": xt}) if c.params["part"] == "xtrace_oracle"]
    assert len(cells) == len(xt["spectra"]) * len(xt["functionals"])
    assert {c.version for c in cells} == {fast.ORACLE_VERSION}
    assert all(c.method == "idealised" and c.params["budget"] == 100 for c in cells)


# -- the one generator of test matrices ----------------------------------------------------------

def _reference_matrix(spectrum: str, m: int, n: int, seed: int) -> torch.Tensor:
    """The generators the fast experiment and the benchmarks had, written out: draws in the order
    U, V (QR of Gaussians, no sign fix), E."""
    g = torch.Generator().manual_seed(seed)
    k = min(m, n)
    i = torch.arange(1, k + 1, dtype=torch.float64)

    def q(rows, cols):
        return torch.linalg.qr(torch.randn(rows, cols, generator=g, dtype=torch.float64)).Q

    if spectrum == "gaussian":
        return torch.randn(m, n, generator=g, dtype=torch.float64)
    if spectrum == "lowrank_noise":
        r = min(50, m, n)
        U, V = q(m, r), q(n, r)
        E = torch.randn(m, n, generator=g, dtype=torch.float64)
        E *= 1e-2 / torch.linalg.matrix_norm(E, ord=2)
        return torch.addmm(E, U, V.mT)
    if spectrum == "lowrank":
        s = torch.logspace(1, 0, max(1, k // 10), dtype=torch.float64)
    else:
        top = math.ceil(k / 20)
        s = {"power": 1.0 / i, "flat": torch.linspace(1, 3, k, dtype=torch.float64), "poly": i ** -2.0,
             "slowexp": 0.9 ** (i - 1), "fastexp": 0.7 ** (i - 1),
             "smallstep": torch.where(i <= top, 1.0, 1e-3).double(),
             "bigstep": torch.where(i <= top, 1.0, 1e-8).double(),
             "rank20": torch.where(i <= 20, 1.0 + (20 - i) / 20, 0.0).double()}[spectrum]
    U = q(m, len(s))
    return (U * s) @ q(n, len(s)).mT


@pytest.mark.parametrize("spectrum", synthetic.TEST_SPECTRA)
@pytest.mark.parametrize("shape", [(64, 64), (70, 48), (48, 70)])
def test_test_matrices_are_bit_identical_to_the_generators_the_results_came_from(spectrum, shape):
    m, n = shape
    want = _reference_matrix(spectrum, m, n, seed=7)
    got = synthetic.test_matrix(spectrum, m, n, seed=7)
    assert got.dtype == torch.float64 and torch.equal(got, want)
    assert torch.equal(synthetic.test_matrix(spectrum, m, n, seed=7, dtype=torch.float32), want.float())
    assert not torch.equal(synthetic.test_matrix(spectrum, m, n, seed=8), want)


@pytest.mark.parametrize("spectrum", ["power", "lowrank", "rank20", "fastexp"])
def test_test_matrix_factors_are_its_svd(spectrum):
    S, (U, s, V) = synthetic.test_matrix(spectrum, 60, 40, seed=3, factors=True)
    torch.testing.assert_close((U * s) @ V.mT, S, rtol=0, atol=1e-13)
    torch.testing.assert_close(U.mT @ U, torch.eye(len(s), dtype=torch.float64), rtol=0, atol=1e-13)
    values = synthetic.spectrum_values(spectrum, 40)
    assert torch.equal(values[:len(s)], s) and (values[len(s):] == 0).all()
    torch.testing.assert_close(torch.linalg.svdvals(S), values.sort(descending=True).values, rtol=0, atol=1e-12)
    assert synthetic.test_matrix("gaussian", 5, 4, factors=True)[1] is None


def test_test_matrix_names_bad_input():
    with pytest.raises(ValueError, match="unknown spectrum 'powr'"):
        synthetic.test_matrix("powr", 4, 4)
    with pytest.raises(ValueError, match="m must be >= 1"):
        synthetic.test_matrix("power", 0, 4)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        synthetic.test_matrix("power", 4, 4, seed=-1)
    with pytest.raises(TypeError, match="dtype must be a torch.dtype"):
        synthetic.test_matrix("power", 4, 4, dtype="float32")


def test_the_experiments_matrices_are_the_datasets_ones():
    assert torch.equal(matrices.matrix("fastexp", 50), synthetic.test_matrix("fastexp", 50, 50, seed=0))
    assert matrices.spectrum_values is synthetic.spectrum_values


def test_benchmarks_take_their_matrices_from_the_working_trees_datasets_without_the_suites_packages():
    """benchmarks/common.make_matrix is datasets/synthetic.test_matrix of the working tree, bit for
    bit, with only what asv.conf.json installs (no pandas, no scikit-image, no installed suite)."""
    code = f"""
import sys
for name in ("pandas", "skimage", "edlrr_bench", "matplotlib", "seaborn"):
    sys.modules[name] = None
sys.path.insert(0, {str(ROOT)!r})
import torch
from benchmarks import common
S, f = common.make_matrix("40x30", spectrum="lowrank", seed=5, dtype=torch.float64, device="cpu", factors=True)
mod = common.synthetic()
assert mod.__file__ == {str(ROOT / "datasets" / "synthetic.py")!r}, mod.__file__
assert torch.equal(S, mod.test_matrix("lowrank", 40, 30, seed=5)) and len(f[1]) == 3
assert common.make_matrix("8x8").dtype == torch.float32
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_benchmark_matrices_equal_the_datasets_ones(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import accuracy as bench_accuracy, common as bench_common

    for spectrum in bench_common.SPECTRA:
        for dtype in (torch.float32, torch.float64):
            got = bench_common.make_matrix("36x24", spectrum=spectrum, seed=11, dtype=dtype, device="cpu")
            assert torch.equal(got, _reference_matrix(spectrum, 36, 24, 11).to(dtype)), spectrum
    monkeypatch.setattr(bench_accuracy, "PER_PRODUCT_N", 60)
    want = _reference_matrix("smallstep", 60, 60, bench_common.seed_for("per-product", "smallstep"))
    assert torch.equal(bench_accuracy._per_product_matrix("smallstep"), want)


# -- runs ----------------------------------------------------------------------------------------

@pytest.fixture
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_float32_speed_cells_time_and_judge_against_the_float64_reference(one_torch_thread):
    section = {"sizes": [96], "spectra": ["power"], "methods": ["fast", "fast-lean"], "seeds": 2, "paired": ["fast"]}
    got = {(c.method, c.params.get("dtype", "float64")): fast.run_cell(c) for c in fast.cells({"speed": section})}
    assert set(got) == {(m, d) for m in ("svdvals", "fast", "fast-lean") for d in ("float64", "float32")}
    assert got["svdvals", "float64"]["value_relerr_median"] == 0.0  # the reference itself
    f32 = got["svdvals", "float32"]
    assert 0 < f32["value_relerr_median"] < 1e-5 and 0.9999 < f32["grad_cosine_median"] <= 1 + 1e-12
    for method in ("fast", "fast-lean"):
        a, b = got[method, "float64"], got[method, "float32"]
        assert b["seconds_median"] > 0 and b["products"] == a["products"]
        # judged against the exact float64 value: float32 within 2x of float64's error (the dtype part's bar)
        assert b["value_relerr_median"] <= 2 * a["value_relerr_median"] + 1e-4, method
        assert b["grad_cosine_median"] >= a["grad_cosine_median"] - 0.05, method
    assert got["fast", "float32"]["svdvals_paired_seconds"] > 0


def test_oracle_cells_hold_the_idealised_estimators_numbers():
    cell = next(c for c in fast.cells({"xtrace": dict(cli.load_preset("quick")["fast"]["xtrace"])})
                if c.params["part"] == "xtrace_oracle" and c.params["functional"] == "schatten2")
    out = fast.run_cell(cell)
    sigma = synthetic.spectrum_values(cell.dataset["spectrum"], cell.dataset["n"]).numpy()
    assert (out["oracle_relerr"], out["oracle_k"], out["oracle_probes"]) == accuracy.oracle_error(sigma, "schatten2")
    assert out["oracle_grad_cosine"] == accuracy.oracle_gradient_cosine(sigma, "schatten2")
    # 2 k >= n products: every direction exact
    assert accuracy.oracle_error(0.7 ** np.arange(30), "nuclear", budget=100)[0] == 0.0


# -- the report draws on the long table alone ----------------------------------------------------

def _long_table() -> pd.DataFrame:
    """A small synthetic fast.csv: a row or two of every part."""
    rows = []

    def add(part, method, **values):
        rows.append(dict(status="ok", threads=1, param_part=part, method=method, **values))

    for dt in (None, "float32"):
        scale, fast_scale = (1.0, 1.0) if dt is None else (0.5, 0.25)  # float32: 2x the float64 speed-ups
        for n in (2048, 4096):
            for sp in ("gaussian", "power"):
                base = dict(dataset_n=n, dataset_spectrum=sp, param_dtype=dt, param_seeds=10)
                add("speed", "svdvals", **base, seconds_median=8.0 * scale * n / 2048, extra_peak_mib=200.0 * n / 2048,
                    value_relerr_median=0.0, grad_cosine_median=1.0, products=0)
                add("speed", "fast", **base, seconds_median=0.5 * fast_scale * n / 2048, extra_peak_mib=40.0,
                    value_relerr_median=1e-3, value_relerr_max=2e-3, grad_cosine_median=0.995, coverage_95=1.0,
                    products=20000, polar_products_median=9.0, polar_extended_median=0.0,
                    svdvals_paired_seconds=7.0 * scale * n / 2048, cpu_model="CPU X", polar_dtype_auto="bfloat16",
                    malloc_trim_threshold="unset")
    for sp in ("flat", "fastexp", "rank20"):
        for fn in ("rank", "nuclear"):
            base = dict(dataset_n=300, dataset_spectrum=sp, param_functional=fn, param_seeds=3)
            add("xtrace", "budget-100 A", **base, value_relerr_mean=3e-3, value_relerr_max=5e-3, products=100,
                ci95_coverage=1.0, grad_cosine_mean=np.nan if fn == "rank" else 0.97)
            add("xtrace", "budget-100 matvec", **base, value_relerr_mean=2e-3, value_relerr_max=4e-3, products=100,
                ci95_coverage=0.9, grad_cosine_mean=np.nan if fn == "rank" else 0.98)
            add("xtrace_oracle", "idealised", **base, oracle_relerr=1.234e-5, oracle_k=12, oracle_probes=38,
                oracle_grad_cosine=np.nan if fn == "rank" else 0.876)
            add("xtrace_grid", "grid k=10 q=0 N=2 d=20", **base, value_relerr_mean=4e-3, products=100)
            add("xtrace_grid", "grid k=20 q=0 N=2 d=10", **base, value_relerr_mean=5e-3, products=80)
    for method, opts, secs in (("paper", "{'probes': 16, 'pinv_iters': 5, 'sqrt_iters': 5}", 0.2),
                               ("fast", "{'probes': 4, 'sketch': 16, 'lanczos_steps': 5}", 0.01)):
        add("pareto", method, dataset_n=128, dataset_spectrum="power", param_options=opts, seconds_median=secs,
            value_relerr_median=0.1 if method == "paper" else 0.01, grad_cosine_median=0.9)
    for method, secs in (("released", 3.0), ("fast", 0.002), ("fast-lanczos", 0.01)):
        add("released", method, dataset_image="astronaut", dataset_size=64, seconds_median=secs,
            value_relerr_median=0.01 if method == "released" else 1e-3, grad_cosine_median=0.99)
    for n in (256, 512):
        for dt in ("float64", "float32"):
            add("crossover", "crossover", dataset_n=n, param_dtype=dt, param_reps=5, seconds_svdvals=0.1 * n / 256,
                seconds_dense=0.05 * n / 256, seconds_lanczos=0.08, seconds_median=0.05 * n / 256)
    for method in ("fast", "fast-lanczos"):
        for dt, err in (("float64", 1e-3), ("float32", 1.5e-3)):
            add("dtype", method, dataset_n=1536, dataset_spectrum="power", param_dtype=dt, value_relerr_median=err,
                grad_cosine_median=0.99)
    for method in ("fast", "fast-lanczos", "fast-lanczos gauss-radau", "fast-lanczos rational", "paper taylor"):
        lanczos = method.startswith("fast-lanczos")
        add("penalty", method, dataset_image="astronaut", dataset_size=64, param_penalty="laplace", param_gamma=1.0,
            sigma_max=30.0, taylor_radius=np.nan, value_relerr_median=1e-4, value_relerr_max=2e-4,
            grad_cosine_median=0.995, expansion_relerr_median=1e-5 if lanczos else np.nan,
            expansion_relerr_max=(2e-5 if method == "fast-lanczos" else 6e-5) if lanczos else np.nan,
            pinching_relerr_median=1e-6 if lanczos else np.nan)
    return pd.DataFrame(rows)


class _Plot:
    def barplot(self, *args, **kwargs):
        return "(figure)"


def _forbid(*_, **__):
    raise AssertionError("the report computed a number instead of reading the long table")


def test_report_draws_on_the_long_table_alone(monkeypatch, tmp_path):
    """No estimator, matrix, exact reference, idealised bound or live option is computed or read
    while the report is built: every number comes from the rows (and the config is not read)."""
    for module in (accuracy, speed, crossover, dtype_part, penalty, released, matrices, common):
        for name in ("matrix", "exact", "spectrum_values", "test_matrix", "oracle_error", "oracle_gradient_cosine",
                     "xtrace_truth", "image_matrix", "timed_grad", "accuracy", "svdvals_sum"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, _forbid)
    for name in ("Auto", "plan", "nuclear_norm", "schatten", "rank", "lrr", "PRESETS"):
        monkeypatch.setattr(edlrr, name, _forbid)
    monkeypatch.setattr(edlrr.options, "options_for", _forbid)
    monkeypatch.setattr(torch.linalg, "svdvals", _forbid)
    text, claims = fast.report(_long_table(), tmp_path, {}, _Plot())
    for heading in ("### Speed", "### XTrace's test spectra (n = 300)", "### XTrace's spectra: every configuration "
                    "with 80 to 100 products", "### Against the paper-faithful", "### Against the authors'",
                    "### Where the dense path pays", "### float32 against float64", "### Penalties"):
        assert heading in text, heading
    assert "1.23e-05" in text  # the idealised estimator's error, from its rows
    assert "median of 5 interleaved rounds" in text and "astronaut 64^2" in text
    by_claim = {c["claim"]: c for c in claims}
    f64 = by_claim["ours: nuclear norm within 1% at >= 5x the speed of svdvals (n = 2048)"]
    assert f64["verdict"] == "reproduced" and "gaussian: 14.0x (paired; 16.0x against" in f64["measured"]
    f32 = by_claim["ours: nuclear norm within 1% at >= 5x the speed of svdvals (n = 2048) (float32)"]
    assert f32["verdict"] == "reproduced" and "gaussian: 28.0x (paired; 32.0x against" in f32["measured"]
    xt = by_claim["ours: <= 1% mean error for rank, nuclear, Schatten-p with <= 100 products on every XTrace "
                  "spectrum (one configuration)"]
    assert "oracle) worst: 1.23e-05" in xt["measured"]
    low = by_claim["ours: gradient cosine >= 0.99 on the low-rank and fast-decay XTrace spectra (<= 100 products, "
                   "nuclear and Schatten-p)"]
    assert "rank20 0.876" in low["measured"]


def test_report_says_so_where_the_idealised_rows_are_missing(tmp_path):
    d = _long_table()
    text, claims = fast.report(d[d.param_part != "xtrace_oracle"], tmp_path, {}, _Plot())
    xt = next(c for c in claims if c["claim"].startswith("ours: <= 1% mean error for rank"))
    assert "(oracle) worst: not measured" in xt["measured"]
    assert "An idealised estimator of the same class" not in text


# -- the core demo -------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::edlrr.PrecisionWarning")  # (the paper rows on a rank-3 24 x 24 matrix)
def test_the_core_demo_runs_without_the_suites_packages(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "skimage", None)
    from edlrr import demo

    title, image = demo.embedded_image()
    assert image is None and "scikit-image is not installed" in title
    lowrank, power = demo.lowrank_matrix, demo.power_matrix
    monkeypatch.setattr(demo, "lowrank_matrix", lambda: lowrank(size=24, r=3))
    monkeypatch.setattr(demo, "power_matrix", lambda: power(size=24))
    assert demo.main(["--probes", "4", "--seeds", "1", "--no-released"]) == 0
    out = capsys.readouterr().out
    assert "scikit-image is not installed" in out and "rank-3 24x24" in out and "sigma_i = 1/i" in out
