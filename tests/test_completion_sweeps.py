"""The completion experiment's sweeps of gamma and lambda: their cells, labels and checks."""
from __future__ import annotations

import pandas as pd
import pytest

from edlrr_bench.cli import validate_config, UsageError
from edlrr_bench.experiments import completion


def _cfg(**sweep):
    return {"reps": 1, "images": ["astronaut", "coffee"], "size": 64,
            "masks": [{"mask": "drop", "drop": 0.5}, {"mask": "text"}],
            "methods": ["SVD-autograd nuclear"], "sweeps": [sweep]}


def test_one_parameter_at_a_time_and_labels():
    cfg = _cfg(methods=["SVD-autograd nuclear", "SVD-autograd gamma"], masks=["text"], gamma=[2.0, 50.0],
               lam=[3e-4])
    cells = completion.sweep_cells(cfg)
    labels = sorted({c.method for c in cells})
    # the nuclear norm has no gamma: only its lambda cell; gamma-nuclear: two gamma cells and one lambda cell
    assert labels == ["SVD-autograd gamma [gamma=2]", "SVD-autograd gamma [gamma=50]",
                      "SVD-autograd gamma [lam=0.0003]", "SVD-autograd nuclear [lam=0.0003]"]
    assert len(cells) == 2 * len(labels)  # two images, the text mask only
    g2 = next(c for c in cells if c.method == "SVD-autograd gamma [gamma=2]")
    assert g2.params["penalty_params"] == {"gamma": 2.0} and "lam" not in g2.params
    lam = next(c for c in cells if c.method == "SVD-autograd gamma [lam=0.0003]")
    assert lam.params["lam"] == 3e-4 and lam.params["penalty_params"] == {"gamma": 500.0}
    assert {c.dataset["mask"] for c in cells} == {"text"}


def test_sweeps_add_to_the_grid_and_repeat_once():
    """Two sweeps naming the same cell give it once; the main grid's cells are unchanged."""
    base = completion.cells({k: v for k, v in _cfg().items() if k != "sweeps"})
    sw = dict(methods=["SVD-autograd nuclear"], lam=[3e-3], images=["coffee"])
    cfg = _cfg(**sw)
    cfg["sweeps"].append(dict(sw))
    cells = completion.cells(cfg)
    assert [c.key for c in cells[:len(base)]] == [c.key for c in base]
    assert len(cells) == len(base) + 2  # coffee x (drop50, text), once


def test_sweep_rows_stay_out_of_the_main_table():
    df = pd.DataFrame({"method": ["SVD-autograd T-gamma [gamma=2]", "SVD-autograd T-gamma",
                                  "SVD-autograd nuclear [lam=0.003]", "EDLRR nuclear"]})
    assert completion.is_sweep(df.method).tolist() == [True, False, True, False]


def test_unknown_method_in_a_sweep_is_refused():
    with pytest.raises(UsageError, match="SVD-autograd gama"):
        validate_config({"completion": {"sweeps": [{"methods": ["SVD-autograd gama"], "gamma": [2.0]}]}})


def test_settings_ladder_only_for_the_papers_estimator():
    cfg = _cfg(methods=["EDLRR nuclear", "SVD-autograd nuclear", "EDLRR-fast nuclear"], masks=["text"],
               images=["coffee"], probes=[16, 64], iters=[10, 30])
    cfg["overrides"] = {"edlrr": {"options": {"probes": 32, "pinv_iters": 10, "sqrt_iters": 10, "project": True}}}
    cells = completion.sweep_cells(cfg)
    assert sorted(c.method for c in cells) == ["EDLRR nuclear [N=16,k=10]", "EDLRR nuclear [N=16,k=30]",
                                               "EDLRR nuclear [N=64,k=10]", "EDLRR nuclear [N=64,k=30]"]
    c = next(c for c in cells if c.method == "EDLRR nuclear [N=64,k=30]")
    assert c.params["options"] == {"probes": 64, "pinv_iters": 30, "sqrt_iters": 30, "project": True}
    assert completion.is_sweep(pd.Series([c.method])).all()
