"""The suite calls the core with method= and options= only: the old estimator keywords (preset=,
probes=, internals=, ...) still work with a DeprecationWarning, and neither the experiments, the
baselines, the asv benchmarks, the scripts nor the demo pass them."""
import importlib
import importlib.util
import re
import warnings
from pathlib import Path

import pytest
import torch

import edlrr

ROOT = Path(__file__).resolve().parents[1]
DEPRECATED = (r"estimator keywords", r"LowRankRegularizer's estimator keywords")


@pytest.fixture
def no_old_keywords():
    """The core's DeprecationWarning for the old keywords as an error (other warnings as they are)."""
    with warnings.catch_warnings():
        for message in DEPRECATED:
            warnings.filterwarnings("error", message=message, category=DeprecationWarning)
        yield


# -- the old keywords: deprecated, and the same computation as their new form ------------------

S = torch.randn(40, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

OLD_AND_NEW = [
    (lambda S, **k: edlrr.nuclear_norm(S, **k), dict(probes=16), dict(method="paper", options={"probes": 16})),
    (lambda S, **k: edlrr.nuclear_norm(S, **k), dict(preset="released", probes=16, sqrt_iters=20),
     dict(method="released", options={"probes": 16, "sqrt_terms": 20})),
    (lambda S, **k: edlrr.schatten(S, 2, **k), dict(preset="fast", dense_below=0, nuclear_internals=None),
     dict(method="krylov")),
    (lambda S, **k: edlrr.nuclear_norm(S, **k), dict(preset="fast", dense_below=0, nuclear_internals=None,
                                                     tail_gradient="rational"),
     dict(method="krylov", options={"tail_gradient": "rational"})),
    (lambda S, **k: edlrr.nuclear_norm(S, **k), dict(preset="fast", dense_below=0, nuclear_internals="polar",
                                                     polar_extend=0),
     dict(method="polar", options={"extend": 0})),
    (lambda S, **k: edlrr.nuclear_norm(S, **k), dict(preset="fast"), dict(method="auto")),
    (lambda S, **k: edlrr.rank(S, **k), dict(preset="matvec", lanczos_steps=20),
     dict(method="matvec", options={"lanczos_steps": 20})),
    (lambda S, **k: edlrr.lrr(S, "laplace", **k), dict(expansion="laguerre", probes=16, on_series_error="ignore"),
     dict(method="paper", options={"expansion": "laguerre", "probes": 16, "on_series_error": "ignore"})),
]


@pytest.mark.parametrize("fn,old,new", OLD_AND_NEW)
def test_old_keywords_warn_and_equal_their_new_form(fn, old, new, no_old_keywords):
    expected = fn(S, generator=3, **new)
    with pytest.warns(DeprecationWarning, match="estimator keywords"):
        value = fn(S, generator=3, **old)
    torch.testing.assert_close(value, expected, rtol=0, atol=0)


def test_old_module_keywords_warn_and_equal_their_new_form():
    with pytest.warns(DeprecationWarning, match="LowRankRegularizer's estimator keywords"):
        old = edlrr.LowRankRegularizer("nuclear", weight=0.5, seed=1, probes=16, pinv_iters=10, sqrt_iters=10)
    new = edlrr.LowRankRegularizer("nuclear", weight=0.5, seed=1, method="paper",
                                   options=edlrr.Paper(probes=16, pinv_iters=10, sqrt_iters=10))
    assert (old.method, old.options) == (new.method, new.options)
    torch.testing.assert_close(old(S), new(S), rtol=0, atol=0)


# -- the suite, run in small: no old keywords reach the core ---------------------------------

def _run_cells(module, cfg, keep=lambda cell: True):
    ran = 0
    for cell in module.cells(cfg):
        if keep(cell):
            module.run_cell(cell)
            ran += 1
    return ran


def _edlrr_cells(cell):
    return cell.params.get("solver") in ("edlrr", "edlrr-rpca") and cell.params.get("regularizer") != "exact"


def test_experiments_call_the_core_in_the_new_form(no_old_keywords, tmp_path):
    from edlrr_bench import cli
    from edlrr_bench.experiments import completion, ratings, recovery, theory, video

    quick = cli.load_preset("quick")
    # theory: every design variant (paper, rademacher, released, no-projection, krylov), tiny
    cfg = dict(quick["theory"], m=10, n=8, powers=[0, 1], probes=[4], iters=[2], reps=3, released_terms=20,
               base_probes=4, base_iters=5, spectra=[{"spectrum": "geometric", "ratio": 0.7}])
    assert _run_cells(theory, cfg) > 0
    # completion: every EDLRR method of the table, one Adam step on a small image
    edlrr_methods = [m for m, (solver, _, _) in completion.METHODS.items() if solver == "edlrr"]
    cfg = dict(quick["completion"], size=16, masks=[{"mask": "drop", "drop": 0.5}], methods=edlrr_methods,
               overrides={"edlrr": dict(quick["completion"]["overrides"]["edlrr"], steps=1),
                          "edlrr-fast": {"steps": 1}})
    assert _run_cells(completion, cfg) == len(edlrr_methods)
    # recovery, ratings, video: the EDLRR cells of the quick preset, one step
    for module, name, solver in ((recovery, "recovery", "edlrr"), (ratings, "ratings", "edlrr"),
                                 (video, "video", "edlrr-rpca")):
        cfg = dict(quick[name])
        cfg["overrides"] = {**cfg.get("overrides", {}), solver: dict(cfg["overrides"][solver], steps=1)}
        if name == "recovery":
            cfg["synthetic"] = dict(cfg["synthetic"], m=30, n=30, rank=3, p_values=[0.5], sigmas=[0.1],
                                    unobserved_shares=[0.3])
            cfg["images"] = dict(cfg["images"], size=16, masks=cfg["images"]["masks"][:1])
        if name == "ratings":  # the presets leave EDLRR out on ratings (its cost at 943 x 1682): name it
            cfg["synthetic"] = [{"users": 40, "items": 50, "rank": 2, "density": 0.3, "noise": 0.1}]
            cfg["methods"], cfg["reps"] = ["EDLRR nuclear"], 1
        assert _run_cells(module, cfg, _edlrr_cells) > 0, name


def test_denoise_and_fast_call_the_core_in_the_new_form(no_old_keywords):
    from edlrr_bench import cli
    from edlrr_bench.experiments import denoise, fast

    quick = cli.load_preset("quick")
    cfg = dict(quick["denoise"], train_size=24, test_size=24, depth=2, features=2, steps=1, batch=2, patch=8,
               sigmas_test=[25])
    assert _run_cells(denoise, cfg, lambda cell: cell.params["lam"] > 0) == 1
    # every part of fast and every variant of its speed and dtype parts, on small matrices
    cfg = {
        "speed": {"sizes": [120], "spectra": ["power"], "methods": list(fast.FAST_VARIANTS), "seeds": 1,
                  "paired": ["fast"]},
        "xtrace": dict(quick["fast"]["xtrace"], n=40, spectra=["fastexp"], seeds=1),
        "pareto": dict(quick["fast"]["pareto"], sizes=[24], seeds=1, paper_probes=[4], paper_iters=[5],
                       fast_probes=[4], fast_steps=[5]),
        "released": {"image": "astronaut", "size": 8, "seeds": 1},
        "crossover": {"sizes": [16], "dtypes": ["float64"], "reps": 1},
        "dtype": {"sizes": [40], "spectra": ["power"], "methods": list(fast.FAST_VARIANTS), "seeds": 1},
        "penalty": dict(quick["fast"]["penalty"], size=12, seeds=1, penalties=[["laplace", 1.0]]),
    }
    assert _run_cells(fast, cfg) == len(fast.cells(cfg))


@pytest.mark.filterwarnings("ignore::edlrr.PrecisionWarning")  # (the demo's paper rows on a rank-2 8 x 8 matrix)
def test_demo_scripts_and_benchmarks_call_the_core_in_the_new_form(no_old_keywords, monkeypatch):
    from edlrr import demo

    _, S = demo.lowrank_matrix(size=8, r=2)
    rows = list(demo._rows(S, probes=4, seeds=1, released=True))
    assert [method for _, method, *_ in rows][-1] == "released"
    # scripts/moment_bracket.py: method "matvec"
    spec = importlib.util.spec_from_file_location("moment_bracket", ROOT / "scripts" / "moment_bracket.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "SPECTRA", ["rank20"])
    assert len(mod.moment_table(seeds=1, n=60)) == len(mod.FUNCTIONALS)
    # the asv benchmarks: every variant and functional of the estimators, accuracy per product, solvers
    monkeypatch.syspath_prepend(str(ROOT))
    common = importlib.import_module("benchmarks.common")
    accuracy = importlib.import_module("benchmarks.accuracy")
    solvers = importlib.import_module("benchmarks.solvers")
    X = common.make_matrix("20x16", spectrum="lowrank", dtype=torch.float64, device="cpu")
    built = 0
    for method, make in common.VARIANTS.items():
        for functional in common.FUNCTIONALS:
            try:
                f = common.estimator(method, functional, probes=4, k1=5, k2=5, seed=0)
            except NotImplementedError:
                continue
            if method != "released_preset":  # (20,000 probes, 5,000 terms: the call itself is slow)
                assert torch.isfinite(f(X))
            built += 1
    assert built >= len(common.VARIANTS) * 2
    for name, (method, options) in accuracy.PER_PRODUCT_METHODS.items():
        kwargs = common.estimator_kwargs(method, options)
        common._supported(kwargs, "schatten")
        assert torch.isfinite(edlrr.schatten(X, 0.5, generator=0, **kwargs)), name
    _, M, mask = solvers._problem(n=20, rank=2)
    assert torch.isfinite(solvers._solver("edlrr", 2).complete(M, mask).X).all()


# -- the source: no old keywords passed to the core -----------------------------------------

SOURCES = ["edlrr_bench", "baselines", "benchmarks", "scripts", "edlrr/demo.py"]
OLD_FORMS = re.compile(r"\bpreset=|[\"']preset[\"']\s*:\s*[\"'](paper|released|fast|matvec)[\"']|\bestimator_options\b|"
                       r"\bnuclear_internals\b|\bhead=|\bpolar_(steps|lower|dtype|extend)=|\bresolve_settings\b|"
                       r"\bPRESETS\b")
LEGACY_BLOCK = re.compile(r"# legacy-keywords: begin.*?# legacy-keywords: end", re.S)


def _source_files():
    for entry in SOURCES:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*.py")) + sorted(path.rglob("*.toml"))
        yield from files


def test_no_source_passes_the_old_keywords_to_the_core():
    """No file of the suite passes preset=, estimator_options or the other old keywords of the core
    (benchmarks/common.py keeps them, between its legacy-keywords markers, for the commits before
    method=/options= that asv measures). Comments and the experiments' own words are allowed: a
    match must be code (not after a #) and not inside a docstring."""
    found = []
    for path in _source_files():
        text = LEGACY_BLOCK.sub("", path.read_text())
        if path.suffix == ".py":
            text = re.sub(r'"""(.*?)"""', lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
        for number, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0]
            if OLD_FORMS.search(code):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_benchmarks_translate_a_variant_for_the_installed_edlrr(monkeypatch):
    """This edlrr takes method= and options=; the commits before them get the same variant in their
    keywords (the legacy block)."""
    monkeypatch.syspath_prepend(str(ROOT))
    common = importlib.import_module("benchmarks.common")
    assert common.variant_options("paper", 4, 5, 6) == {"method": "paper",
                                                          "options": {"probes": 4, "pinv_iters": 5, "sqrt_iters": 6}}
    assert common._legacy_keywords("krylov", {"probes": 4}) == {"preset": "fast", "dense_below": 0,
                                                                 "nuclear_internals": None, "probes": 4}
    assert common._legacy_keywords("released", {"probes": 4, "sqrt_terms": 7}) == {"preset": "released", "probes": 4,
                                                                                  "sqrt_iters": 7}
    assert common._legacy_keywords("auto", {"nuclear": "krylov", "krylov": {"probes": 4}}) == {
        "preset": "fast", "probes": 4, "nuclear_internals": None}
