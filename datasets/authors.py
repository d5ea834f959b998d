"""Loader for a folder in the layout of the EDLRR authors' image data.

Layout::

    <root>/real/<k>.jpg            300 x 300 RGB test images, k = 1, 2, ...
    <root>/masks/block_<name>.bmp  RGB masks, black = missing

A pixel is observed only where all three channels of the mask are 255 (the rule of the
release's ``img_utils.load_mask``). In EDLRR's Table 1, ``"text"`` is
``masks/block_text.bmp`` and ``"block"`` is ``masks/block_square_small.bmp``; ``"drop XX%"``
removes pixels uniformly at random (generated here, seeded).

The folder is never part of this project: pass it as ``root`` or set the environment
variable ``EDLRR_IMAGES`` (:data:`ENV_VAR`). :func:`find_authors_root` returns ``None`` when
neither points to an existing folder, so callers and tests can skip with a clear reason.

References
----------
.. [1] EDLRR: N. Li et al., "Efficient Differentiable Approximation of Generalized Low-rank
   Regularization", IJCAI 2025, Sec. 4.1, Table 1; release code ``img_utils.py``
   (``load_image``, ``load_mask``, ``corrupt``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ._common import (
    CompletionProblem,
    DatasetConfig,
    check_drop,
    check_int,
    check_path,
    finish,
)
from .masks import mask_from_image, random_mask

__all__ = [
    "ENV_VAR",
    "TABLE1_MASKS",
    "AuthorsInpaintingConfig",
    "authors_mask_file",
    "find_authors_root",
    "list_authors_images",
    "list_authors_masks",
    "load_authors_image",
    "load_authors_inpainting",
    "load_authors_mask",
    "resolve_authors_root",
]

#: Environment variable naming the authors' image folder.
ENV_VAR = "EDLRR_IMAGES"

#: Names used in EDLRR's Table 1 -> mask file stem (after ``block_``).
TABLE1_MASKS = {"text": "text", "block": "square_small"}


def find_authors_root(root=None) -> Path | None:
    """The authors' folder if it exists (argument first, then ``$EDLRR_IMAGES``), else None."""
    candidate = root if root is not None else os.environ.get(ENV_VAR)
    if not candidate:
        return None
    p = Path(candidate).expanduser()
    return p if (p / "real").is_dir() and (p / "masks").is_dir() else None


def resolve_authors_root(root=None) -> Path:
    """Like :func:`find_authors_root` but raises a clear FileNotFoundError when absent."""
    if root is None and not os.environ.get(ENV_VAR):
        raise FileNotFoundError(
            f"no EDLRR image folder given: pass root=... or set the environment variable {ENV_VAR} "
            "to a folder holding real/<k>.jpg and masks/block_<name>.bmp"
        )
    p = check_path(root if root is not None else os.environ[ENV_VAR], "dir", "EDLRR image folder")
    for sub in ("real", "masks"):
        if not (p / sub).is_dir():
            raise FileNotFoundError(f"EDLRR image folder {p} has no '{sub}/' subfolder")
    return p


def list_authors_images(root=None) -> list[int]:
    """Indices ``k`` of the ``real/<k>.jpg`` files, sorted."""
    p = resolve_authors_root(root)
    ks = [int(f.stem) for f in (p / "real").glob("*.jpg") if re.fullmatch(r"\d+", f.stem)]
    return sorted(ks)


def list_authors_masks(root=None) -> list[str]:
    """Names of the ``masks/block_<name>.bmp`` files (``<name>`` part), sorted."""
    p = resolve_authors_root(root)
    return sorted(f.stem[len("block_"):] for f in (p / "masks").glob("block_*.bmp"))


def authors_mask_file(name: str) -> str:
    """The file ``block_<stem>.bmp`` under ``masks/`` that :func:`load_authors_mask` reads for
    ``name`` (``"text"``, ``"block"`` = ``square_small``, another ``<name>``, or ``"block_<name>"``)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"mask name must be a non-empty string, got {name!r}")
    stem = TABLE1_MASKS.get(name, name)
    stem = stem[len("block_"):] if stem.startswith("block_") else stem
    return f"block_{stem}.bmp"


def _read_uint8(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from err


def load_authors_image(k: int, root=None, *, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """``real/<k>.jpg`` as a ``(3, H, W)`` tensor in [0, 1] (``/ 255``, no resizing, as the release)."""
    from .images import from_numpy_image

    k = check_int("image index", k, 0)
    p = resolve_authors_root(root) / "real" / f"{k}.jpg"
    if not p.is_file():
        raise FileNotFoundError(f"no image {p} (available: {list_authors_images(root)})")
    return from_numpy_image(_read_uint8(p), dtype=dtype, device=device)


def load_authors_mask(name: str, root=None, *, shape: tuple[int, int] | None = None, device=None) -> torch.Tensor:
    """``masks/block_<name>.bmp`` as a bool ``(H, W)`` mask, ``True`` = observed.

    Parameters
    ----------
    name : str
        ``"text"``, ``"block"`` (= ``square_small``, EDLRR Table 1), any ``<name>`` of
        :func:`list_authors_masks`, or the full stem ``"block_<name>"``.
    root : path, optional
        The folder (default ``$EDLRR_IMAGES``).
    shape : (int, int), optional
        Resize the picture (nearest neighbour) to this ``(H, W)`` before thresholding, as the
        release resizes the mask to the image.
    """
    from PIL import Image

    file = authors_mask_file(name)  # (a bad name is refused before the folder is looked up)
    p = resolve_authors_root(root) / "masks" / file
    if not p.is_file():
        raise FileNotFoundError(f"no mask {p} (available: {list_authors_masks(root)})")
    arr = _read_uint8(p)
    if shape is not None and arr.shape[:2] != tuple(shape):
        arr = np.asarray(Image.fromarray(arr).resize((shape[1], shape[0]), Image.Resampling.NEAREST))
    mask = mask_from_image(arr)
    return mask.to(device) if device is not None else mask


@dataclasses.dataclass(frozen=True)
class AuthorsInpaintingConfig(DatasetConfig):
    """Config of the ``edlrr_images`` dataset: an authors' image with a Table 1 corruption.

    Parameters
    ----------
    image : int
        ``k`` of ``real/<k>.jpg`` (1..8 in the released folder).
    mask : str
        ``"drop"`` (random, seeded), ``"text"``, ``"block"`` or any mask name of the folder.
    drop : float
        Missing share for ``mask="drop"`` (Table 1: 0.2 .. 0.5); unused otherwise.
    root : str or None
        The folder; ``None`` = ``$EDLRR_IMAGES``. Not part of :meth:`config_id` (where the
        folder lies does not change the data).
    seed : int
        Seeds the ``"drop"`` mask (the release draws it unseeded).
    """

    name: ClassVar[str] = "edlrr_images"
    image: int = 1
    mask: str = "text"
    drop: float = 0.4
    root: str | None = dataclasses.field(default=None, metadata={"identity": False})
    seed: int = 0

    def __post_init__(self):
        check_int("image", self.image, 0)
        if not isinstance(self.mask, str) or not self.mask:
            raise TypeError(f"mask must be a non-empty string, got {self.mask!r}")
        check_drop("drop", self.drop)
        if self.root is not None and not isinstance(self.root, (str, os.PathLike)):
            raise TypeError(f"root must be a path or None, got {type(self.root).__name__}")
        check_int("seed", self.seed, 0)

    @classmethod
    def tiny(cls, **params) -> AuthorsInpaintingConfig:
        return cls(**{"image": 1, "mask": "block", **params})


def load_authors_inpainting(config: AuthorsInpaintingConfig, *, dtype: torch.dtype | None = None,
                            device=None) -> CompletionProblem:
    """Load an authors' image with its mask as a :class:`CompletionProblem`.

    ``truth`` is ``(3, H, W)`` in [0, 1]; ``mask`` bool ``(H, W)``; ``observed = truth * mask``.
    Drop masks follow the release's rule (``observed = u >= drop``), seeded here.
    """
    if not isinstance(config, AuthorsInpaintingConfig):
        raise TypeError(f"expected an AuthorsInpaintingConfig, got {type(config).__name__}")
    c = config
    truth = load_authors_image(c.image, c.root)
    shape = tuple(truth.shape[-2:])
    if c.mask == "drop":
        mask = random_mask(shape, c.drop, generator=c.generator("mask"))
    else:
        mask = load_authors_mask(c.mask, c.root, shape=shape)
    observed = torch.where(mask, truth, torch.zeros((), dtype=truth.dtype))
    return CompletionProblem(
        truth=finish(truth, dtype, device),
        observed=finish(observed, dtype, device),
        mask=mask.to(device) if device is not None else mask,
        config=c,
    )
