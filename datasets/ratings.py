"""Ratings for collaborative filtering: synthetic low-rank ratings and a MovieLens loader.

Both produce a :class:`RatingsDataset`: all ratings as COO triplets (:class:`Ratings`,
convertible to a dense matrix + mask, a torch sparse tensor or a SciPy CSR matrix), the id
maps (row ``i`` is user ``user_ids[i]`` of the file, column ``j`` item ``item_ids[j]``),
and a seeded 80/20 train/test split of the ratings, as in DLRL Sec. IV-A ("80% observed
ratings as the training set"). Score with :func:`ratings_rmse` (DLRL eq. 48).

``synthetic_ratings`` (:class:`SyntheticRatingsConfig`)
    A rank-``r`` user x item matrix ``3.5 + U V^T / sqrt(r)`` (``U``, ``V`` standard
    Gaussian), plus Gaussian noise, rounded and clipped to integer ratings 1..5, observed
    on exactly ``round(density * users * items)`` uniformly drawn entries. Densities and
    sizes of DLRL's Table I are in :data:`TABLE_I` (``SyntheticRatingsConfig.like(...)``).
    The offsets, scales and the uniform (missing-at-random) sampling are ours.

``movielens`` (:class:`MovieLensConfig`)
    A file the user has, in the MovieLens-100K ``u.data`` layout (``user<TAB>item<TAB>
    rating<TAB>time``) or the ``user::item::rating::time`` layout of MovieLens-1M/10M (also
    ``user,item,rating,time`` CSV, with an optional ``userId,movieId,rating,timestamp``
    header). The suite does not ship MovieLens (its licence forbids redistribution). A
    malformed or truncated line, a duplicate (user, item) pair or an undecodable byte
    raises ValueError naming the file and line; nothing is skipped silently (only trailing
    blank lines are ignored).

References
----------
.. [1] DLRL: Z. Chen, J. Yao, G. Xiao and S. Wang, "Efficient and Differentiable Low-rank
   Matrix Completion with Back Propagation", IEEE TMM 2021, Sec. IV-A, Table I, eq. (48).
.. [2] F. M. Harper and J. A. Konstan, "The MovieLens Datasets: History and Context",
   ACM TiiS 5(4), 2015 (file layouts).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ._common import (
    DatasetConfig,
    check_choice,
    check_float,
    check_int,
    check_path,
    finish,
)

__all__ = [
    "TABLE_I",
    "MovieLensConfig",
    "Ratings",
    "RatingsDataset",
    "SyntheticRatingsConfig",
    "load_movielens",
    "make_synthetic_ratings",
    "ratings_rmse",
    "read_movielens_file",
    "split_ratings",
]

#: DLRL Table I: name -> (users, items, ratings, density).
TABLE_I: dict[str, tuple[int, int, int, float]] = {
    "filmtrust": (1508, 2071, 35497, 0.01137),
    "netflix": (1500, 2000, 137962, 0.04599),
    "amazon_music": (5249, 4874, 53316, 0.00208),
    "movielens-100k": (943, 1682, 100000, 0.06305),
    "movielens-1m": (6040, 3952, 1000201, 0.04190),
    "epinions": (4000, 12000, 81513, 0.00170),
}

LAYOUTS = ("auto", "tab", "::", "csv")
_SEPARATORS = {"tab": "\t", "::": "::", "csv": ","}
_CSV_HEADER = "userid,movieid,rating,timestamp"


# --------------------------------------------------------------------- containers
@dataclasses.dataclass(frozen=True)
class Ratings:
    """Ratings as COO triplets of a ``shape = (users, items)`` matrix.

    Attributes
    ----------
    rows, cols : torch.Tensor
        int64 ``(N,)`` row (user) and column (item) indices.
    values : torch.Tensor
        Float ``(N,)`` ratings.
    shape : (int, int)
    """

    rows: torch.Tensor
    cols: torch.Tensor
    values: torch.Tensor
    shape: tuple[int, int]

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def density(self) -> float:
        """``N / (users * items)``."""
        return len(self) / (self.shape[0] * self.shape[1])

    def to_dense(self, fill: float = 0.0) -> torch.Tensor:
        """Dense ``(users, items)`` matrix, ``fill`` where unrated."""
        out = torch.full(self.shape, fill, dtype=self.values.dtype, device=self.values.device)
        out[self.rows, self.cols] = self.values
        return out

    def mask(self) -> torch.Tensor:
        """Bool ``(users, items)``, ``True`` where rated."""
        out = torch.zeros(self.shape, dtype=torch.bool, device=self.values.device)
        out[self.rows, self.cols] = True
        return out

    def to_sparse(self) -> torch.Tensor:
        """A coalesced ``torch.sparse_coo_tensor``."""
        idx = torch.stack([self.rows, self.cols])
        return torch.sparse_coo_tensor(idx, self.values, self.shape, check_invariants=True).coalesce()

    def to_scipy(self):
        """A ``scipy.sparse.csr_matrix`` (float64)."""
        import scipy.sparse

        return scipy.sparse.csr_matrix(
            (self.values.double().cpu().numpy(), (self.rows.cpu().numpy(), self.cols.cpu().numpy())),
            shape=self.shape,
        )

    def subset(self, index: torch.Tensor) -> Ratings:
        """The ratings at positions ``index``."""
        return Ratings(self.rows[index], self.cols[index], self.values[index], self.shape)

    def to(self, dtype: torch.dtype | None = None, device=None) -> Ratings:
        """Cast the values / move all tensors."""
        dev = device if device is not None else self.values.device
        return Ratings(self.rows.to(dev), self.cols.to(dev), finish(self.values, dtype, dev), self.shape)


@dataclasses.dataclass(frozen=True)
class RatingsDataset:
    """All ratings, the id maps and a seeded train/test split.

    Attributes
    ----------
    ratings, train, test : Ratings
        All ratings and the split (disjoint, together ``ratings``; same ``shape``).
    user_ids, item_ids : numpy.ndarray
        Raw ids (as in the file) of each row / column, sorted ascending.
    config : DatasetConfig
    timestamps : torch.Tensor or None
        int64 ``(N,)`` aligned with ``ratings`` (MovieLens only).
    truth : torch.Tensor or None
        Synthetic only: the real-valued low-rank ``(users, items)`` matrix before noise,
        rounding and clipping.
    source : str or None
        The file read (MovieLens only).
    """

    ratings: Ratings
    train: Ratings
    test: Ratings
    user_ids: np.ndarray
    item_ids: np.ndarray
    config: DatasetConfig
    timestamps: torch.Tensor | None = None
    truth: torch.Tensor | None = None
    source: str | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.ratings.shape

    def user_index(self) -> dict:
        """Raw user id -> row."""
        return {u.item(): i for i, u in enumerate(self.user_ids)}

    def item_index(self) -> dict:
        """Raw item id -> column."""
        return {v.item(): j for j, v in enumerate(self.item_ids)}


def split_ratings(ratings: Ratings, test_fraction: float = 0.2, *, seed: int = 0,
                  generator: torch.Generator | None = None) -> tuple[Ratings, Ratings]:
    """Uniform random train/test split of the ratings.

    Exactly ``round(test_fraction * N)`` ratings go to the test set (at least one, and at
    least one stays in training). Users or items rated only in the test set keep their row
    or column (cold start, as in the papers' 80/20 split of the ratings).

    Parameters
    ----------
    ratings : Ratings
    test_fraction : float
        ``0 < test_fraction < 1`` (DLRL Sec. IV-A: 0.2).
    seed : int
        Seed of a fresh CPU generator (ignored if ``generator`` is given).
    generator : torch.Generator, optional

    Returns
    -------
    (train, test) : tuple of Ratings
        Each sorted by original position.
    """
    tf = check_float("test_fraction", test_fraction, 0.0, 1.0, min_inclusive=False, max_inclusive=False)
    n = len(ratings)
    if n < 2:
        raise ValueError(f"cannot split {n} rating(s) into train and test")
    n_test = min(max(int(round(tf * n)), 1), n - 1)
    gen = generator if generator is not None else torch.Generator().manual_seed(check_int("seed", seed, 0))
    perm = torch.randperm(n, generator=gen)
    test_idx, _ = torch.sort(perm[:n_test])
    train_idx, _ = torch.sort(perm[n_test:])
    dev = ratings.values.device
    return ratings.subset(train_idx.to(dev)), ratings.subset(test_idx.to(dev))


def ratings_rmse(prediction: torch.Tensor, ratings: Ratings) -> float:
    """RMSE of a predicted ``(users, items)`` matrix on the given (held-out) ratings.

    ``sqrt(mean((x_ij - x_hat_ij)^2))`` over the rated entries, DLRL eq. (48). (The DLRL
    release prints the mean squared error under the name "RMSE"; this is the root.)
    """
    if tuple(prediction.shape[-2:]) != tuple(ratings.shape):
        raise ValueError(f"prediction shape {tuple(prediction.shape)} != ratings shape {ratings.shape}")
    if len(ratings) == 0:
        raise ValueError("no ratings to score")
    pred = prediction[ratings.rows.to(prediction.device), ratings.cols.to(prediction.device)]
    diff = pred.double() - ratings.values.to(prediction.device).double()
    return float(torch.sqrt(torch.mean(diff * diff)))


def _from_triplets(users: np.ndarray, items: np.ndarray, values: np.ndarray):
    user_ids, rows = np.unique(users, return_inverse=True)
    item_ids, cols = np.unique(items, return_inverse=True)
    r = Ratings(torch.from_numpy(rows.astype(np.int64)), torch.from_numpy(cols.astype(np.int64)),
                torch.from_numpy(values.astype(np.float64)), (len(user_ids), len(item_ids)))
    return r, user_ids, item_ids


# ----------------------------------------------------------------------- MovieLens
def read_movielens_file(path, layout: str = "auto") -> dict[str, np.ndarray]:
    """Parse a MovieLens ratings file, strictly.

    Parameters
    ----------
    path : str or os.PathLike
    layout : {"auto", "tab", "::", "csv"}
        ``"tab"``: ``u.data`` of MovieLens-100K; ``"::"``: ``ratings.dat`` of
        MovieLens-1M/10M; ``"csv"``: ``user,item,rating,time`` (optional header);
        ``"auto"``: decided from the first line.

    Returns
    -------
    dict
        ``{"users", "items", "timestamps"}`` int64 arrays and ``"ratings"`` float64, in file
        order, plus ``"layout"``.

    Raises
    ------
    FileNotFoundError
        Missing file.
    ValueError
        Empty file, undetectable layout, or a bad line (message ``"<path>, line <k>: ..."``):
        wrong number of fields (e.g. a truncated last line), a non-integer id or time, a
        non-finite rating, a duplicate (user, item) pair, or bytes that are not UTF-8.
    """
    p = check_path(path, "file", "ratings file")
    check_choice("layout", layout, LAYOUTS)
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read ratings file {p}: {err}") from err
    lines = raw.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"ratings file {p} is empty")

    def text(k: int) -> str:
        try:
            return lines[k].decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as err:
            raise ValueError(f"{p}, line {k + 1}: not UTF-8 text ({err.reason})") from err

    first = text(0)
    if layout == "auto":
        if "::" in first:
            layout = "::"
        elif "\t" in first:
            layout = "tab"
        elif "," in first:
            layout = "csv"
        else:
            raise ValueError(f"{p}, line 1: cannot detect the layout (no '::', tab or ',' separator): {first[:80]!r}")
    sep = _SEPARATORS[layout]
    start = 1 if layout == "csv" and first.replace(" ", "").lower() == _CSV_HEADER else 0

    n = len(lines) - start
    users = np.empty(n, dtype=np.int64)
    items = np.empty(n, dtype=np.int64)
    stamps = np.empty(n, dtype=np.int64)
    values = np.empty(n, dtype=np.float64)
    seen: dict[tuple[int, int], int] = {}
    for out, k in enumerate(range(start, len(lines))):
        line = text(k)
        fields = line.split(sep)
        where = f"{p}, line {k + 1}"
        if len(fields) != 4:
            raise ValueError(f"{where}: expected 4 fields separated by {sep!r} (user, item, rating, time), "
                             f"got {len(fields)}: {line[:80]!r}")
        try:
            u, i = int(fields[0]), int(fields[1])
        except ValueError:
            raise ValueError(f"{where}: user and item ids must be integers: {line[:80]!r}") from None
        try:
            r = float(fields[2])
        except ValueError:
            raise ValueError(f"{where}: rating {fields[2]!r} is not a number") from None
        if not math.isfinite(r):
            raise ValueError(f"{where}: rating {fields[2]!r} is not finite")
        try:
            t = int(fields[3])
        except ValueError:
            raise ValueError(f"{where}: timestamp {fields[3]!r} is not an integer") from None
        prev = seen.setdefault((u, i), k + 1)
        if prev != k + 1:
            raise ValueError(f"{where}: duplicate rating of item {i} by user {u} (first on line {prev})")
        users[out], items[out], values[out], stamps[out] = u, i, r, t
    if n == 0:
        raise ValueError(f"ratings file {p} has a header but no ratings")
    return {"users": users, "items": items, "ratings": values, "timestamps": stamps, "layout": layout}


@dataclasses.dataclass(frozen=True)
class MovieLensConfig(DatasetConfig):
    """Config of the ``movielens`` loader.

    Parameters
    ----------
    path : str
        The ratings file (``u.data``, ``ratings.dat``, ...).
    layout : {"auto", "tab", "::", "csv"}
    test_fraction : float
        Held-out share (DLRL: 0.2).
    seed : int
        Seeds the split (stream ``"split"``).
    """

    name: ClassVar[str] = "movielens"
    path: str = ""
    layout: str = "auto"
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.path, (str, os.PathLike)) or not os.fspath(self.path):
            raise TypeError(f"path must be a non-empty str or os.PathLike, got {self.path!r}")
        check_choice("layout", self.layout, LAYOUTS)
        check_float("test_fraction", self.test_fraction, 0.0, 1.0, min_inclusive=False, max_inclusive=False)
        check_int("seed", self.seed, 0)

    @classmethod
    def tiny(cls, **params) -> MovieLensConfig:
        if "path" not in params:
            raise TypeError("MovieLensConfig.tiny needs path=... (the suite ships no MovieLens file)")
        return cls(**params)


def load_movielens(config, *, dtype: torch.dtype | None = None, device=None, **params) -> RatingsDataset:
    """Load a MovieLens-format file with id maps and a seeded split.

    Parameters
    ----------
    config : MovieLensConfig or path
        A path is wrapped as ``MovieLensConfig(path=str(path), **params)``.
    dtype, device
        Dtype of the rating values (default float64) and device.

    Returns
    -------
    RatingsDataset
        Rows/columns are the sorted distinct user/item ids of the file.
    """
    if not isinstance(config, MovieLensConfig):
        if isinstance(config, DatasetConfig):
            raise TypeError(f"expected a MovieLensConfig or a path, got {type(config).__name__}")
        config = MovieLensConfig(path=os.fspath(config), **params)
    elif params:
        raise TypeError(f"unexpected keyword arguments with a config: {sorted(params)}")
    rec = read_movielens_file(config.path, config.layout)
    ratings, user_ids, item_ids = _from_triplets(rec["users"], rec["items"], rec["ratings"])
    train, test = split_ratings(ratings, config.test_fraction, generator=config.generator("split"))
    return RatingsDataset(
        ratings=ratings.to(dtype, device),
        train=train.to(dtype, device),
        test=test.to(dtype, device),
        user_ids=user_ids,
        item_ids=item_ids,
        config=config,
        timestamps=torch.from_numpy(rec["timestamps"]).to(device if device is not None else "cpu"),
        source=str(Path(config.path)),
    )


# ----------------------------------------------------------------------- synthetic
@dataclasses.dataclass(frozen=True)
class SyntheticRatingsConfig(DatasetConfig):
    """Config of the ``synthetic_ratings`` dataset (defaults: the shape and density of
    MovieLens-100K in DLRL Table I).

    Parameters
    ----------
    users, items : int
        Matrix size, > 0.
    rank : int
        Rank of the underlying score matrix (``<= min(users, items)``).
    density : float
        Share of rated entries, ``0 < density <= 1`` (Table I: 0.0017 to 0.063).
    noise : float
        Standard deviation of the Gaussian noise added before rounding (>= 0).
    test_fraction : float
        Held-out share of the ratings (0.2).
    seed : int
    """

    name: ClassVar[str] = "synthetic_ratings"
    users: int = 943
    items: int = 1682
    rank: int = 10
    density: float = 0.06305
    noise: float = 0.5
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self):
        check_int("users", self.users)
        check_int("items", self.items)
        check_int("rank", self.rank, 1, min(self.users, self.items))
        check_float("density", self.density, 0.0, 1.0, min_inclusive=False)
        check_float("noise", self.noise, 0.0)
        check_float("test_fraction", self.test_fraction, 0.0, 1.0, min_inclusive=False, max_inclusive=False)
        check_int("seed", self.seed, 0)
        if round(self.density * self.users * self.items) < 2:
            raise ValueError(f"density {self.density} gives fewer than 2 ratings on a "
                             f"{self.users} x {self.items} matrix")

    @classmethod
    def like(cls, dataset: str, **params) -> SyntheticRatingsConfig:
        """Size and density of a dataset of DLRL Table I (keys of :data:`TABLE_I`)."""
        check_choice("Table I dataset", dataset, TABLE_I)
        users, items, _, density = TABLE_I[dataset]
        return cls(**{"users": users, "items": items, "density": density, **params})

    @classmethod
    def tiny(cls, **params) -> SyntheticRatingsConfig:
        return cls(**{"users": 30, "items": 40, "rank": 3, "density": 0.2, **params})


def _sample_positions(total: int, k: int, gen: torch.Generator) -> np.ndarray:
    """``k`` distinct flat indices in ``[0, total)``, uniformly, in draw order."""
    if k > total // 2:
        return torch.randperm(total, generator=gen)[:k].numpy()
    chosen = np.empty(0, dtype=np.int64)
    while chosen.size < k:
        draw = torch.randint(0, total, (int(1.1 * (k - chosen.size)) + 16,), generator=gen).numpy()
        allv = np.concatenate([chosen, draw])
        _, first = np.unique(allv, return_index=True)
        chosen = allv[np.sort(first)]
    return chosen[:k]


def make_synthetic_ratings(config: SyntheticRatingsConfig, *, dtype: torch.dtype | None = None,
                           device=None) -> RatingsDataset:
    """Build the ``synthetic_ratings`` dataset.

    ``truth = 3.5 + U V^T / sqrt(r)`` (stream ``"factors"``); rated entries drawn uniformly
    without replacement (stream ``"sample"``); rating ``= clip(round(truth + noise * g), 1, 5)``
    (stream ``"noise"``); 80/20 split (stream ``"split"``).

    Returns
    -------
    RatingsDataset
        ``user_ids = arange(users)``, ``item_ids = arange(items)``, ``truth`` set.
    """
    if not isinstance(config, SyntheticRatingsConfig):
        raise TypeError(f"expected a SyntheticRatingsConfig, got {type(config).__name__}")
    c = config
    gen = c.generator("factors")
    u = torch.randn(c.users, c.rank, generator=gen, dtype=torch.float64)
    v = torch.randn(c.items, c.rank, generator=gen, dtype=torch.float64)
    truth = 3.5 + (u @ v.T) / math.sqrt(c.rank)
    k = int(round(c.density * c.users * c.items))
    flat = torch.from_numpy(_sample_positions(c.users * c.items, k, c.generator("sample")))
    rows, cols = flat // c.items, flat % c.items
    noise = torch.randn(k, generator=c.generator("noise"), dtype=torch.float64)
    values = torch.clamp(torch.round(truth[rows, cols] + c.noise * noise), 1.0, 5.0)
    ratings = Ratings(rows, cols, values, (c.users, c.items))
    train, test = split_ratings(ratings, c.test_fraction, generator=c.generator("split"))
    return RatingsDataset(
        ratings=ratings.to(dtype, device),
        train=train.to(dtype, device),
        test=test.to(dtype, device),
        user_ids=np.arange(c.users),
        item_ids=np.arange(c.items),
        config=c,
        truth=finish(truth, dtype, device),
    )
