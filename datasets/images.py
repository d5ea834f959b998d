"""Embedded colour test images and the ``image_inpainting`` dataset.

The default images are the colour pictures that scikit-image ships **inside its wheel**
(``skimage/data/*.png|jpg``; nothing is downloaded, and a missing file is an error rather
than a download): see :data:`EMBEDDED_IMAGES`. They are centre-cropped to the target aspect
and resized (Lanczos, on 8-bit values) to 300 x 300 like the images of both papers.

Conventions (used by the whole suite)
-------------------------------------
- An image is a float ``torch.Tensor`` of shape ``(3, H, W)`` with values in ``[0, 1]``
  (float64 by default): the three channels are a batch of ``H x W`` matrices, the shape
  ``(*, m, n)`` the estimators take, and each channel is completed as its own matrix as in
  EDLRR Sec. 4.1 and DLRL Sec. IV-E.
- A mask is a bool ``(H, W)`` tensor, ``True`` = observed, shared by the three channels.
- :func:`to_numpy_image` / :func:`from_numpy_image` convert to and from ``(H, W, 3)`` arrays.

References
----------
.. [1] EDLRR: N. Li et al., "Efficient Differentiable Approximation of Generalized Low-rank
   Regularization", IJCAI 2025, Sec. 4.1, Table 1 (300 x 300 colour images).
.. [2] DLRL: Z. Chen et al., "Efficient and Differentiable Low-rank Matrix Completion with
   Back Propagation", IEEE TMM 2021, Sec. IV-A ("300 x 300 x 3") and IV-E.
.. [3] S. van der Walt et al., "scikit-image: image processing in Python", PeerJ 2014
   (``skimage.data``; see each image's licence in ``skimage/data/README.txt``).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ._common import (
    CompletionProblem,
    DatasetConfig,
    check_choice,
    check_drop,
    check_int,
    check_path,
    finish,
)
from .masks import MASK_KINDS, make_mask

__all__ = [
    "EMBEDDED_IMAGES",
    "ImageInpaintingConfig",
    "from_numpy_image",
    "load_embedded_image",
    "load_image_file",
    "make_image_inpainting",
    "resize_image",
    "to_numpy_image",
]

#: Colour images shipped in scikit-image's wheel (name -> file in ``skimage/data``).
EMBEDDED_IMAGES: dict[str, str] = {
    "astronaut": "astronaut.png",
    "chelsea": "chelsea.png",
    "coffee": "coffee.png",
    "rocket": "rocket.jpg",
    "hubble_deep_field": "hubble_deep_field.jpg",
    "immunohistochemistry": "ihc.png",
    "motorcycle_left": "motorcycle_left.png",
}

RESIZE_MODES = ("crop", "stretch")


def _check_size(size) -> tuple[int, int]:
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise TypeError(f"size must be an int or a pair (H, W), got {size!r}")
        return check_int("height", size[0]), check_int("width", size[1])
    s = check_int("size", size)
    return s, s


def resize_image(array: np.ndarray, size=300, mode: str = "crop") -> np.ndarray:
    """Resize an 8-bit ``(H, W, C)`` or ``(H, W)`` array to ``size``.

    Parameters
    ----------
    array : numpy.ndarray
        uint8 picture.
    size : int or (int, int)
        Target ``S`` (square) or ``(H, W)``.
    mode : {"crop", "stretch"}
        ``"crop"``: centre-crop the largest region of the target aspect, then resize (ours;
        the papers do not say how their 300 x 300 images were made); ``"stretch"``: resize
        directly.

    Returns
    -------
    numpy.ndarray
        uint8 array of the target size (Lanczos resampling with Pillow).
    """
    from PIL import Image

    th, tw = _check_size(size)
    check_choice("resize mode", mode, RESIZE_MODES)
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise TypeError(f"resize_image expects a uint8 array, got {arr.dtype}")
    h, w = arr.shape[:2]
    img = Image.fromarray(arr)
    if mode == "crop":
        if h * tw > w * th:  # too tall
            ch, cw = max(1, round(w * th / tw)), w
        else:
            ch, cw = h, max(1, round(h * tw / th))
        top, left = (h - ch) // 2, (w - cw) // 2
        img = img.crop((left, top, left + cw, top + ch))
    if img.size != (tw, th):
        img = img.resize((tw, th), Image.Resampling.LANCZOS)
    return np.asarray(img)


@functools.lru_cache(maxsize=32)
def _embedded_uint8(name: str, size: tuple[int, int], mode: str) -> np.ndarray:
    import skimage.data
    from PIL import Image

    path = Path(skimage.data.__file__).parent / EMBEDDED_IMAGES[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"embedded image {name!r} is not in this scikit-image install ({path}); "
            "this suite never downloads data: install a scikit-image wheel that ships it"
        )
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    out = resize_image(arr, size, mode)
    out.setflags(write=False)
    return out


def from_numpy_image(array, *, dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """``(H, W, 3)`` (or ``(H, W)``) array -> ``(3, H, W)`` (or ``(1, H, W)``) tensor in [0, 1].

    uint8 input is divided by 255; float input must already lie in ``[0, 1]``.
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"expected an (H, W, C) or (H, W) image, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        x = torch.from_numpy(arr.astype(np.float64) / 255.0)
    elif np.issubdtype(arr.dtype, np.floating):
        x = torch.from_numpy(arr.astype(np.float64))
        if x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError("a float image must have values in [0, 1]")
    else:
        raise TypeError(f"expected a uint8 or float image, got {arr.dtype}")
    return finish(x.permute(2, 0, 1).contiguous(), dtype, device)


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` tensor -> ``(H, W, C)`` float64 numpy array (for plotting / saving)."""
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise TypeError("expected a (C, H, W) torch.Tensor")
    return image.detach().to("cpu", torch.float64).permute(1, 2, 0).numpy()


def load_embedded_image(name: str = "astronaut", *, size=300, mode: str = "crop",
                        dtype: torch.dtype | None = None, device=None) -> torch.Tensor:
    """One of :data:`EMBEDDED_IMAGES` as a ``(3, H, W)`` tensor in ``[0, 1]``.

    Parameters
    ----------
    name : str
        Key of :data:`EMBEDDED_IMAGES`.
    size : int or (int, int)
        Target size (default 300 x 300, as in EDLRR Sec. 4.1 and DLRL Sec. IV-A).
    mode : {"crop", "stretch"}
        See :func:`resize_image`.
    dtype, device
        Output dtype (default float64) and device.
    """
    check_choice("image", name, EMBEDDED_IMAGES)
    check_choice("resize mode", mode, RESIZE_MODES)
    return from_numpy_image(_embedded_uint8(name, _check_size(size), mode), dtype=dtype, device=device)


def load_image_file(path, *, size=None, mode: str = "crop", dtype: torch.dtype | None = None,
                    device=None) -> torch.Tensor:
    """Read a colour picture from disk as a ``(3, H, W)`` tensor in ``[0, 1]``.

    ``size=None`` keeps the file's size. Raises FileNotFoundError for a missing file and
    ValueError (naming the path) for an unreadable one.
    """
    from PIL import Image, UnidentifiedImageError

    p = check_path(path, "file", "image file")
    try:
        with Image.open(p) as im:
            arr = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read image {p}: {err}") from err
    if size is not None:
        arr = resize_image(arr, size, mode)
    return from_numpy_image(arr, dtype=dtype, device=device)


@dataclasses.dataclass(frozen=True)
class ImageInpaintingConfig(DatasetConfig):
    """Config of the ``image_inpainting`` dataset: an embedded image and a generated mask.

    Parameters
    ----------
    image : str
        Key of :data:`EMBEDDED_IMAGES`.
    mask : str
        One of :data:`~edlrr_bench.datasets.masks.MASK_KINDS` (``"drop"``, ``"text"``,
        block shapes, ``"none"``).
    drop : float
        Missing share for ``mask="drop"`` (EDLRR Table 1: 0.2, 0.3, 0.4, 0.5); unused by
        the other kinds.
    size : int
        Side of the square image (300 in both papers).
    resize : {"crop", "stretch"}
    seed : int
        Seeds the mask (stream ``"mask"``).
    """

    name: ClassVar[str] = "image_inpainting"
    image: str = "astronaut"
    mask: str = "drop"
    drop: float = 0.4
    size: int = 300
    resize: str = "crop"
    seed: int = 0

    def __post_init__(self):
        check_choice("image", self.image, EMBEDDED_IMAGES)
        check_choice("mask", self.mask, MASK_KINDS)
        check_drop("drop", self.drop)
        check_int("size", self.size, 8)
        check_choice("resize", self.resize, RESIZE_MODES)
        check_int("seed", self.seed, 0)

    @classmethod
    def tiny(cls, **params) -> ImageInpaintingConfig:
        return cls(**{"size": 32, **params})


def make_image_inpainting(config: ImageInpaintingConfig, *, dtype: torch.dtype | None = None,
                          device=None) -> CompletionProblem:
    """Build an inpainting instance from an embedded image.

    Returns
    -------
    CompletionProblem
        ``truth`` ``(3, S, S)`` in [0, 1]; ``mask`` bool ``(S, S)`` (``True`` = observed);
        ``observed = truth * mask``.

    References
    ----------
    EDLRR, Sec. 4.1 / Table 1; DLRL, Sec. IV-E. Score with
    :func:`edlrr_bench.datasets.metrics.psnr_missing`.
    """
    if not isinstance(config, ImageInpaintingConfig):
        raise TypeError(f"expected an ImageInpaintingConfig, got {type(config).__name__}")
    c = config
    truth = load_embedded_image(c.image, size=c.size, mode=c.resize)
    mask = make_mask(c.mask, (c.size, c.size), drop=c.drop, seed=c.seed_for("mask"))
    observed = torch.where(mask, truth, torch.zeros((), dtype=truth.dtype))
    return CompletionProblem(
        truth=finish(truth, dtype, device),
        observed=finish(observed, dtype, device),
        mask=mask.to(device) if device is not None else mask,
        config=c,
    )
