"""Video for fore/background separation: a synthetic video with ground truth, and a frame loader.

EDLRR Sec. 4.2 writes a video as ``V in R^{a x b x t}`` and separates the ``ab x t`` matrix
``V' = S + O`` (low-rank background ``S``, sparse foreground ``O``). Here frames are stored
as ``(t, H, W)`` (grayscale) or ``(t, 3, H, W)`` (colour) float tensors in ``[0, 1]``, and
:func:`frames_to_matrix` gives ``V'`` with one column per frame; each frame is flattened in
row-major (C) order, channels first for colour (``3 H W x t``): the flattening order is
ours, the paper does not fix it.

``synthetic_video`` (:class:`SyntheticVideoConfig` -> :class:`VideoData`)
    A static background from an embedded image (optionally with a slow global illumination
    change ``g_t = 1 - a (1 - cos(2 pi t / T)) / 2``, so the true background matrix stays
    rank 1) plus moving rectangles and ellipses of constant colour that bounce off the
    borders. The true background of every frame and the true foreground masks are
    returned. Every foreground pixel differs from the background under it by at least
    ``min_contrast`` (where an object's colour is too close to the background it is shifted
    by 0.5 modulo 1), so the mask is exactly where the frame differs from the background.
    Score with :func:`~edlrr_bench.datasets.metrics.f_measure` (foreground mask) and
    :func:`~edlrr_bench.datasets.metrics.psnr` (background).

``video_frames`` (:class:`VideoFramesConfig`)
    A folder of PNG/JPG frames, sorted by name (natural order: ``f2`` before ``f10``).

References
----------
.. [1] EDLRR: N. Li et al., "Efficient Differentiable Approximation of Generalized Low-rank
   Regularization", IJCAI 2025, Sec. 2 ("Video fore-background separation") and Sec. 4.2,
   Fig. 2 (qualitative only: the paper reports no score; F-measure and background PSNR are
   our choice of scores).
.. [2] E. J. Candes, X. Li, Y. Ma and J. Wright, "Robust principal component analysis?",
   J. ACM 58(3), 2011 (the low-rank + sparse model of surveillance video).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
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
from .images import EMBEDDED_IMAGES, from_numpy_image, load_embedded_image, resize_image

__all__ = [
    "SyntheticVideoConfig",
    "VideoData",
    "VideoFramesConfig",
    "frames_to_matrix",
    "load_frames",
    "make_synthetic_video",
    "matrix_to_frames",
]

FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")
_LUMA = (0.299, 0.587, 0.114)


def frames_to_matrix(frames: torch.Tensor) -> torch.Tensor:
    """``(t, *frame_shape)`` -> ``(prod(frame_shape), t)``: one flattened frame per column."""
    if frames.ndim < 2:
        raise ValueError(f"frames must be (t, ...), got shape {tuple(frames.shape)}")
    return frames.reshape(frames.shape[0], -1).T.contiguous()


def matrix_to_frames(matrix: torch.Tensor, frame_shape) -> torch.Tensor:
    """Inverse of :func:`frames_to_matrix`: ``(prod(frame_shape), t)`` -> ``(t, *frame_shape)``."""
    frame_shape = tuple(int(s) for s in frame_shape)
    if matrix.ndim != 2 or matrix.shape[0] != math.prod(frame_shape):
        raise ValueError(f"matrix of shape {tuple(matrix.shape)} does not hold frames of shape {frame_shape}")
    return matrix.T.reshape(matrix.shape[1], *frame_shape)


@dataclasses.dataclass(frozen=True)
class VideoData:
    """Frames, and for synthetic video the ground truth.

    Attributes
    ----------
    frames : torch.Tensor
        ``(t, H, W)`` or ``(t, 3, H, W)`` in [0, 1].
    config : DatasetConfig
    background : torch.Tensor or None
        True background of each frame, same shape as ``frames`` (synthetic only).
    foreground : torch.Tensor or None
        Bool ``(t, H, W)``, ``True`` on moving objects (synthetic only).
    files : tuple of str
        Frame files, in order (loader only).
    """

    frames: torch.Tensor
    config: DatasetConfig
    background: torch.Tensor | None = None
    foreground: torch.Tensor | None = None
    files: tuple[str, ...] = ()

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return tuple(self.frames.shape[1:])

    def matrix(self) -> torch.Tensor:
        """The ``ab x t`` matrix ``V'`` of EDLRR Sec. 4.2 (``3ab x t`` in colour)."""
        return frames_to_matrix(self.frames)

    def background_matrix(self) -> torch.Tensor:
        """True background as an ``ab x t`` matrix (synthetic only)."""
        if self.background is None:
            raise ValueError("this video has no ground-truth background")
        return frames_to_matrix(self.background)

    def foreground_matrix(self) -> torch.Tensor:
        """True foreground mask as a bool matrix shaped like :meth:`matrix`."""
        if self.foreground is None:
            raise ValueError("this video has no ground-truth foreground")
        fg = self.foreground
        if self.frames.ndim == 4:
            fg = fg.unsqueeze(1).expand_as(self.frames)
        return frames_to_matrix(fg)


@dataclasses.dataclass(frozen=True)
class SyntheticVideoConfig(DatasetConfig):
    """Config of the ``synthetic_video`` dataset.

    Parameters
    ----------
    background : str
        Key of :data:`~edlrr_bench.datasets.images.EMBEDDED_IMAGES`.
    height, width : int
        Frame size (the image is centre-cropped and resized to it).
    frames : int
        Number of frames ``t``.
    objects : int
        Number of moving objects (>= 0).
    object_size : float
        Mean side / diameter of an object as a share of ``min(height, width)``, in (0, 1).
    speed : float
        Pixels per frame.
    illumination : float
        Amplitude ``a`` in ``[0, 1)`` of the slow global dimming (0 = static background).
    color : bool
        ``False``: grayscale frames ``(t, H, W)`` (ITU-R BT.601 luma); ``True``:
        ``(t, 3, H, W)``.
    min_contrast : float
        Least difference between a foreground pixel and the background under it (in the
        channel that differs most), in ``(0, 0.25]``.
    seed : int
    """

    name: ClassVar[str] = "synthetic_video"
    background: str = "coffee"
    height: int = 60
    width: int = 80
    frames: int = 40
    objects: int = 2
    object_size: float = 0.25
    speed: float = 2.0
    illumination: float = 0.0
    color: bool = False
    min_contrast: float = 0.1
    seed: int = 0

    def __post_init__(self):
        check_choice("background", self.background, EMBEDDED_IMAGES)
        check_int("height", self.height, 4)
        check_int("width", self.width, 4)
        check_int("frames", self.frames)
        check_int("objects", self.objects, 0)
        check_float("object_size", self.object_size, 0.0, 1.0, min_inclusive=False, max_inclusive=False)
        check_float("speed", self.speed, 0.0)
        check_float("illumination", self.illumination, 0.0, 1.0, max_inclusive=False)
        if not isinstance(self.color, bool):
            raise TypeError(f"color must be a bool, got {self.color!r}")
        check_float("min_contrast", self.min_contrast, 0.0, 0.25, min_inclusive=False)
        check_int("seed", self.seed, 0)

    @classmethod
    def tiny(cls, **params) -> SyntheticVideoConfig:
        return cls(**{"height": 16, "width": 20, "frames": 8, **params})


def _reflect(p: torch.Tensor, limit: int) -> torch.Tensor:
    if limit <= 0:
        return torch.zeros_like(p)
    q = torch.remainder(p, 2 * limit)
    return torch.where(q > limit, 2 * limit - q, q)


def make_synthetic_video(config: SyntheticVideoConfig, *, dtype: torch.dtype | None = None,
                         device=None) -> VideoData:
    """Build a synthetic video with its true background and foreground masks.

    Objects (stream ``"objects"``): kind (rectangle or ellipse), size
    ``object_size * min(H, W) * U(0.7, 1.3)`` per side, start position, direction and colour
    are drawn uniformly; they move at ``speed`` pixels per frame and bounce off the borders;
    later objects are drawn over earlier ones.

    Returns
    -------
    VideoData
        ``frames``, ``background`` ``(t, H, W)`` or ``(t, 3, H, W)``, ``foreground`` bool
        ``(t, H, W)``.
    """
    if not isinstance(config, SyntheticVideoConfig):
        raise TypeError(f"expected a SyntheticVideoConfig, got {type(config).__name__}")
    c = config
    h, w, t = c.height, c.width, c.frames
    bg = load_embedded_image(c.background, size=(h, w), mode="crop")  # (3, H, W) float64
    if not c.color:
        bg = (torch.tensor(_LUMA, dtype=torch.float64)[:, None, None] * bg).sum(0, keepdim=True)
    ch = bg.shape[0]
    steps = torch.arange(t, dtype=torch.float64)
    gains = 1.0 - c.illumination * (1.0 - torch.cos(2 * math.pi * steps / t)) / 2.0
    background = gains[:, None, None, None] * bg  # (t, C, H, W)
    frames = background.clone()
    foreground = torch.zeros((t, h, w), dtype=torch.bool)

    gen = c.generator("objects")
    s = min(h, w)
    ii = torch.arange(h, dtype=torch.float64)[:, None]
    jj = torch.arange(w, dtype=torch.float64)[None, :]
    for _ in range(c.objects):
        u = torch.rand(7, generator=gen, dtype=torch.float64)
        colour = torch.rand(ch, generator=gen, dtype=torch.float64)
        ellipse = bool(u[0] < 0.5)
        oh = int(min(max(2, round(c.object_size * s * (0.7 + 0.6 * float(u[1])))), h - 1))
        ow = int(min(max(2, round(c.object_size * s * (0.7 + 0.6 * float(u[2])))), w - 1))
        lim_i, lim_j = h - oh, w - ow
        angle = 2 * math.pi * float(u[5])
        pi = _reflect(float(u[3]) * lim_i + c.speed * math.sin(angle) * steps, lim_i)
        pj = _reflect(float(u[4]) * lim_j + c.speed * math.cos(angle) * steps, lim_j)
        for k in range(t):
            top, left = int(round(float(pi[k]))), int(round(float(pj[k])))
            box = torch.zeros((h, w), dtype=torch.bool)
            if ellipse:
                ci, cj = top + (oh - 1) / 2, left + (ow - 1) / 2
                box = ((ii - ci) / (oh / 2)) ** 2 + ((jj - cj) / (ow / 2)) ** 2 <= 1.0
            else:
                box[top:top + oh, left:left + ow] = True
            under = background[k]  # (C, H, W)
            value = colour[:, None, None].expand(ch, h, w)
            close = (value - under).abs().amax(dim=0) < c.min_contrast
            value = torch.where(close.unsqueeze(0), torch.remainder(value + 0.5, 1.0), value)
            frames[k] = torch.where(box.unsqueeze(0), value, frames[k])
            foreground[k] |= box
    if not c.color:
        frames, background = frames[:, 0], background[:, 0]
    return VideoData(
        frames=finish(frames, dtype, device),
        config=c,
        background=finish(background, dtype, device),
        foreground=foreground.to(device) if device is not None else foreground,
    )


@dataclasses.dataclass(frozen=True)
class VideoFramesConfig(DatasetConfig):
    """Config of the ``video_frames`` loader.

    Parameters
    ----------
    path : str
        Folder of frames (``.png``, ``.jpg``, ``.jpeg``), sorted by name.
    grayscale : bool
        Convert to luma (``(t, H, W)``) or keep colour (``(t, 3, H, W)``).
    height, width : int or None
        Resize every frame (stretch) to this size; ``None`` keeps the files' size (then
        all frames must have the same size).
    seed : int
        Unused (loading is deterministic); kept so that every config has a seed.
    """

    name: ClassVar[str] = "video_frames"
    path: str = ""
    grayscale: bool = True
    height: int | None = None
    width: int | None = None
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.path, (str, os.PathLike)) or not os.fspath(self.path):
            raise TypeError(f"path must be a non-empty str or os.PathLike, got {self.path!r}")
        if not isinstance(self.grayscale, bool):
            raise TypeError(f"grayscale must be a bool, got {self.grayscale!r}")
        if (self.height is None) != (self.width is None):
            raise ValueError("give both height and width, or neither")
        if self.height is not None:
            check_int("height", self.height)
            check_int("width", self.width)
        check_int("seed", self.seed, 0)

    @classmethod
    def tiny(cls, **params) -> VideoFramesConfig:
        if "path" not in params:
            raise TypeError("VideoFramesConfig.tiny needs path=... (a folder of frames)")
        return cls(**params)


def _natural_key(name: str):
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def load_frames(config, *, dtype: torch.dtype | None = None, device=None, **params) -> VideoData:
    """Load a folder of frames as a :class:`VideoData` (no ground truth).

    Parameters
    ----------
    config : VideoFramesConfig or path
        A path is wrapped as ``VideoFramesConfig(path=str(path), **params)``.

    Raises
    ------
    FileNotFoundError
        Missing folder, or no frame file in it.
    ValueError
        An unreadable frame, or frames of different sizes (with ``height=None``), naming
        the file.
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(config, VideoFramesConfig):
        if isinstance(config, DatasetConfig):
            raise TypeError(f"expected a VideoFramesConfig or a path, got {type(config).__name__}")
        config = VideoFramesConfig(path=os.fspath(config), **params)
    elif params:
        raise TypeError(f"unexpected keyword arguments with a config: {sorted(params)}")
    folder = check_path(config.path, "dir", "frame folder")
    files = sorted((f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in FRAME_EXTENSIONS),
                   key=lambda f: _natural_key(f.name))
    if not files:
        raise FileNotFoundError(f"no frame files ({', '.join(FRAME_EXTENSIONS)}) in {folder}")
    size = None if config.height is None else (config.height, config.width)
    out = []
    for f in files:
        try:
            with Image.open(f) as im:
                arr = np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"cannot read frame {f}: {err}") from err
        if size is not None:
            arr = resize_image(arr, size, "stretch")
        elif out and arr.shape[:2] != tuple(out[0].shape[-2:]):
            raise ValueError(f"frame {f} has size {arr.shape[:2]}, the first frame {files[0].name} "
                             f"has {tuple(out[0].shape[-2:])}; pass height/width to resize")
        x = from_numpy_image(arr)
        if config.grayscale:
            x = (torch.tensor(_LUMA, dtype=torch.float64)[:, None, None] * x).sum(0)
        out.append(x)
    frames = torch.stack(out)
    return VideoData(frames=finish(frames, dtype, device), config=config,
                     files=tuple(str(Path(f)) for f in files))
