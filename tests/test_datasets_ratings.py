"""Tests of edlrr_bench.datasets.ratings on generated MovieLens-format files (MovieLens is never shipped)."""

import numpy as np
import pytest
import torch

from edlrr_bench.datasets import (
    TABLE_I,
    MovieLensConfig,
    SyntheticRatingsConfig,
    get_dataset,
    load_movielens,
    make_synthetic_ratings,
    ratings_rmse,
    read_movielens_file,
    split_ratings,
)

SEPARATORS = {"tab": "\t", "::": "::"}


def write_ratings(path, layout, n_users=25, n_items=30, n=200, seed=0):
    """Write n distinct (user, item, rating, time) rows with sparse raw ids, in the given layout."""
    rng = np.random.default_rng(seed)
    users = rng.choice(np.arange(1, 1000), n_users, replace=False)
    items = rng.choice(np.arange(1, 5000), n_items, replace=False)
    flat = rng.choice(n_users * n_items, n, replace=False)
    rows = [(int(users[f // n_items]), int(items[f % n_items]), int(rng.integers(1, 6)), 874965758 + k)
            for k, f in enumerate(flat)]
    sep = SEPARATORS[layout]
    path.write_text("".join(sep.join(map(str, r)) + "\n" for r in rows))
    return rows


@pytest.mark.parametrize("layout", ["tab", "::"])
def test_movielens_loader_both_layouts(tmp_path, layout):
    f = tmp_path / ("u.data" if layout == "tab" else "ratings.dat")
    rows = write_ratings(f, layout)
    rec = read_movielens_file(f)
    assert rec["layout"] == layout and len(rec["ratings"]) == 200
    data = load_movielens(f, seed=1)
    n_users, n_items = len({r[0] for r in rows}), len({r[1] for r in rows})
    assert data.shape == (n_users, n_items)
    assert list(data.user_ids) == sorted({r[0] for r in rows})
    assert list(data.item_ids) == sorted({r[1] for r in rows})
    # id maps: every rating lands where its raw ids say
    dense = data.ratings.to_dense()
    ui, ii = data.user_index(), data.item_index()
    for u, i, r, _ in rows:
        assert dense[ui[u], ii[i]] == r
    assert data.ratings.values.dtype == torch.float64 and data.timestamps.dtype == torch.int64
    # 80/20 split, disjoint, covering
    assert len(data.test) == 40 and len(data.train) == 160
    tr = set(zip(data.train.rows.tolist(), data.train.cols.tolist()))
    te = set(zip(data.test.rows.tolist(), data.test.cols.tolist()))
    assert not tr & te and len(tr | te) == 200
    assert data.train.mask().sum() == 160
    sp = data.ratings.to_sparse()
    assert sp.shape == data.shape and sp._nnz() == 200
    assert data.ratings.to_scipy().nnz == 200


def test_movielens_split_is_reproducible(tmp_path):
    f = tmp_path / "u.data"
    write_ratings(f, "tab")
    a = get_dataset("movielens", path=str(f), seed=3)
    b = get_dataset("movielens", path=str(f), seed=3)
    c = get_dataset("movielens", path=str(f), seed=4)
    assert torch.equal(a.test.rows, b.test.rows) and torch.equal(a.test.cols, b.test.cols)
    assert not (torch.equal(a.test.rows, c.test.rows) and torch.equal(a.test.cols, c.test.cols))
    # the same ratings in the other layout give the same matrix and split
    g = tmp_path / "ratings.dat"
    g.write_text(f.read_text().replace("\t", "::"))
    d = get_dataset("movielens", path=str(g), seed=3)
    assert torch.equal(a.ratings.to_dense(), d.ratings.to_dense()) and torch.equal(a.test.rows, d.test.rows)


def test_csv_layout_with_header(tmp_path):
    f = tmp_path / "ratings.csv"
    f.write_text("userId,movieId,rating,timestamp\n1,10,4.5,100\n2,10,3.0,101\n2,11,1.0,102\n")
    data = load_movielens(f)
    assert data.shape == (2, 2) and sorted(data.ratings.values.tolist()) == [1.0, 3.0, 4.5]


@pytest.mark.parametrize(
    "content, line, msg",
    [
        ("1\t2\t5\t100\n3\t4\t5\n", 2, "expected 4 fields"),           # truncated last line
        ("1::2::5::100\n1::3::4::\n", 2, "timestamp"),                  # partial line
        ("1\t2\t5\t100\nx\t3\t4\t100\n", 2, "integers"),
        ("1\t2\tfive\t100\n", 1, "not a number"),
        ("1\t2\tnan\t100\n", 1, "not finite"),
        ("1\t2\t5\t100\n\n1\t3\t4\t100\n", 2, "expected 4 fields"),     # blank line inside
        ("1\t2\t5\t100\n1\t2\t4\t101\n", 2, "duplicate"),
    ],
)
def test_corrupt_files_report_path_and_line(tmp_path, content, line, msg):
    f = tmp_path / "bad.data"
    f.write_text(content)
    with pytest.raises(ValueError, match=msg) as info:
        load_movielens(f)
    assert str(f) in str(info.value) and f"line {line}" in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_movielens(tmp_path / "absent.data")
    empty = tmp_path / "empty.data"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="empty"):
        load_movielens(empty)
    nosep = tmp_path / "nosep.data"
    nosep.write_text("1 2 3 4\n")
    with pytest.raises(ValueError, match="layout"):
        load_movielens(nosep)
    binary = tmp_path / "bin.data"
    binary.write_bytes(b"1\t2\t3\t4\n\xff\xfe\n")
    with pytest.raises(ValueError, match="line 2"):
        load_movielens(binary)
    with pytest.raises(FileNotFoundError):
        load_movielens(tmp_path)  # a folder, not a file
    with pytest.raises(ValueError):
        MovieLensConfig(path="x", test_fraction=1.0)
    with pytest.raises(TypeError):
        MovieLensConfig(path="")


def test_synthetic_ratings_like_table_i():
    cfg = SyntheticRatingsConfig.like("movielens-100k", seed=0)
    data = make_synthetic_ratings(cfg)
    assert data.shape == (943, 1682)
    assert len(data.ratings) == round(0.06305 * 943 * 1682) == 100005
    assert abs(data.ratings.density - TABLE_I["movielens-100k"][3]) < 1e-6
    v = data.ratings.values
    assert torch.equal(v, torch.round(v)) and float(v.min()) >= 1 and float(v.max()) <= 5
    assert len(set(v.tolist())) == 5
    assert len(data.test) == round(0.2 * len(data.ratings))
    pairs = set(zip(data.ratings.rows.tolist(), data.ratings.cols.tolist()))
    assert len(pairs) == len(data.ratings)  # distinct entries
    assert data.truth.shape == (943, 1682)
    assert torch.linalg.matrix_rank(data.truth[:60, :80] - 3.5).item() == 10  # rank 10 (a block suffices)


def test_synthetic_ratings_sparse_and_deterministic():
    cfg = SyntheticRatingsConfig.like("epinions", users=400, items=1200, seed=2)  # density 0.0017
    a, b = make_synthetic_ratings(cfg), make_synthetic_ratings(cfg)
    assert len(a.ratings) == round(0.0017 * 400 * 1200)
    assert torch.equal(a.ratings.values, b.ratings.values) and torch.equal(a.test.rows, b.test.rows)
    c = make_synthetic_ratings(cfg.replace(seed=3))
    assert not torch.equal(a.ratings.rows, c.ratings.rows)
    dense = get_dataset("synthetic_ratings", users=10, items=10, density=0.9, rank=2)
    assert len(dense.ratings) == 90


def test_ratings_rmse_is_root_of_mse():
    data = make_synthetic_ratings(SyntheticRatingsConfig.tiny())
    pred = data.ratings.to_dense() + 0.5  # error 0.5 on every rated entry
    assert abs(ratings_rmse(pred, data.test) - 0.5) < 1e-12
    pred2 = data.ratings.to_dense()
    pred2[data.test.rows[0], data.test.cols[0]] += 2.0
    n = len(data.test)
    assert abs(ratings_rmse(pred2, data.test) - (4.0 / n) ** 0.5) < 1e-12
    with pytest.raises(ValueError):
        ratings_rmse(torch.zeros(3, 3), data.test)


def test_split_validation():
    data = make_synthetic_ratings(SyntheticRatingsConfig.tiny())
    with pytest.raises(ValueError):
        split_ratings(data.ratings, 0.0)
    with pytest.raises(ValueError):
        split_ratings(data.ratings.subset(torch.tensor([0])), 0.2)
    tr, te = split_ratings(data.ratings, 0.5, seed=1)
    assert len(tr) + len(te) == len(data.ratings)


@pytest.mark.parametrize("params", [{"density": 0.0}, {"density": 1.5}, {"rank": 0}, {"users": 0},
                                    {"users": 3, "items": 3, "density": 0.1}, {"noise": -0.1}])
def test_synthetic_ratings_bad_inputs(params):
    with pytest.raises(ValueError):
        SyntheticRatingsConfig(**params)
