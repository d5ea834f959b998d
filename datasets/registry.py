"""A small registry of the suite's datasets: name -> (config dataclass, builder).

>>> from edlrr_bench.datasets import get_dataset, make_config, load
>>> cfg = make_config("spectrum", m=8, n=6, spectrum="power", seed=1)
>>> cfg.config_id()[:60]
"spectrum(m=8,n=6,spectrum='power',rank=None,ratio=0.8,expone"
>>> data = load(cfg)                       # deterministic from cfg
>>> tuple(data.matrix.shape)
(8, 6)
>>> sorted(available_datasets())[:3]
['dlrl_synthetic', 'edlrr_images', 'image_inpainting']

Every builder takes ``(config, *, dtype=None, device=None)`` and returns a plain
dataclass (:class:`SyntheticMatrix`, :class:`CompletionProblem`, :class:`RatingsDataset`,
:class:`VideoData`) that carries its config, so a result row can name its data with
``config.to_dict(prefix=...)`` / ``config.config_id()``.

References
----------
Habit copied from benchopt's ``benchmark_lasso/datasets/*.py`` (one file per dataset, each
with a name, its parameters and a tiny test configuration).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ._common import DatasetConfig
from .authors import AuthorsInpaintingConfig, load_authors_inpainting
from .images import ImageInpaintingConfig, make_image_inpainting
from .ratings import MovieLensConfig, SyntheticRatingsConfig, load_movielens, make_synthetic_ratings
from .synthetic import DLRLSyntheticConfig, SpectrumConfig, make_dlrl_synthetic, make_spectrum_matrix
from .video import SyntheticVideoConfig, VideoFramesConfig, load_frames, make_synthetic_video

__all__ = [
    "DatasetSpec",
    "available_datasets",
    "dataset_parameters",
    "get_dataset",
    "load",
    "make_config",
    "register_dataset",
    "tiny_config",
]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its name, config class, builder and one-line description."""

    name: str
    config_class: type
    builder: Callable[..., Any]
    description: str
    needs_data: bool = False  # True for loaders of user data (a path or folder)


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(config_class: type, builder: Callable[..., Any], description: str,
                     *, needs_data: bool = False) -> DatasetSpec:
    """Register a dataset under ``config_class.name`` (an error if the name is taken)."""
    if not (isinstance(config_class, type) and issubclass(config_class, DatasetConfig)):
        raise TypeError("config_class must be a DatasetConfig subclass")
    name = config_class.name
    if name in _REGISTRY and _REGISTRY[name].config_class is not config_class:
        raise ValueError(f"a dataset named {name!r} is already registered")
    spec = DatasetSpec(name, config_class, builder, description, needs_data)
    _REGISTRY[name] = spec
    return spec


def available_datasets() -> dict[str, str]:
    """Registered names -> one-line descriptions."""
    return {name: spec.description for name, spec in sorted(_REGISTRY.items())}


def _spec(name: str) -> DatasetSpec:
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(_REGISTRY))}") from None


def dataset_parameters(name: str) -> list[str]:
    """The parameters of dataset ``name`` (the fields of its config), in their order."""
    return [f.name for f in dataclasses.fields(_spec(name).config_class)]


def make_config(name: str, **params: Any) -> DatasetConfig:
    """The config of dataset ``name`` with the given parameters (validated).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones) or a bad parameter value.
    TypeError
        An unknown parameter (the message lists the accepted ones) or a wrong type.
    """
    spec = _spec(name)
    fields = dataset_parameters(name)
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise TypeError(f"dataset {name!r} has no parameter(s) {unknown}; parameters: {', '.join(fields)}")
    return spec.config_class(**params)


def tiny_config(name: str, **params: Any) -> DatasetConfig:
    """The tiny test configuration of ``name`` (loaders need ``path=...``)."""
    return _spec(name).config_class.tiny(**params)


def load(config: DatasetConfig, *, dtype=None, device=None):
    """Build or load the dataset described by ``config`` (deterministic from it)."""
    if not isinstance(config, DatasetConfig):
        raise TypeError(f"expected a dataset config, got {type(config).__name__}")
    spec = _spec(config.name)
    if not isinstance(config, spec.config_class):
        raise TypeError(f"config of type {type(config).__name__} does not match dataset {config.name!r}")
    return spec.builder(config, dtype=dtype, device=device)


def get_dataset(name: str, *, dtype=None, device=None, **params: Any):
    """``load(make_config(name, **params), dtype=dtype, device=device)``."""
    return load(make_config(name, **params), dtype=dtype, device=device)


register_dataset(SpectrumConfig, make_spectrum_matrix,
                 "m x n matrix with a chosen exact spectrum (flat, geometric, power, hard cases)")
register_dataset(DLRLSyntheticConfig, make_dlrl_synthetic,
                 "DLRL synthetic protocol: X = U V^T (100 x 20 U(0,1) or Gaussian factors), noise, n_r hidden")
register_dataset(ImageInpaintingConfig, make_image_inpainting,
                 "embedded scikit-image colour image, 300 x 300, with a drop/text/block mask")
register_dataset(AuthorsInpaintingConfig, load_authors_inpainting,
                 "EDLRR authors' images and masks from a folder ($EDLRR_IMAGES)", needs_data=True)
register_dataset(SyntheticRatingsConfig, make_synthetic_ratings,
                 "synthetic low-rank 1-5 ratings with DLRL Table I sparsity, 80/20 split")
register_dataset(MovieLensConfig, load_movielens,
                 "MovieLens-format ratings file (u.data or user::item::rating::time), 80/20 split",
                 needs_data=True)
register_dataset(SyntheticVideoConfig, make_synthetic_video,
                 "synthetic video: embedded background + moving objects, true foreground masks")
register_dataset(VideoFramesConfig, load_frames,
                 "folder of video frames (PNG/JPG, sorted by name)", needs_data=True)
