"""Observation masks for matrix and image completion.

Every mask is a bool ``torch.Tensor`` of shape ``(H, W)`` with ``True`` = observed and
``False`` = missing; an image mask is shared by the three colour channels (broadcast it
against a ``(3, H, W)`` image). All masks are deterministic by seed.

Kinds
-----
``drop``
    Each pixel is missing independently with probability ``drop`` (as in the EDLRR
    release, ``observed = u >= drop`` with ``u`` uniform), or exactly ``round(drop * H * W)``
    pixels with ``exact=True``. Masks of one seed are nested across drop rates.
``text``
    Lines of text rendered with Pillow's own font (``ImageFont.load_default(size=...)``),
    covering the image like the text masks of EDLRR (Fig. 1, Table 1) and DLRL (Fig. 2).
``square``, ``squares``, ``circle``, ``rows``, ``columns``, ``random_blocks``
    Block shapes (ours; the authors' own block masks are read by
    :mod:`edlrr_bench.datasets.authors`).
``none``
    Everything observed.

References
----------
.. [1] EDLRR: N. Li, Y. Xie, P. Liu, T. Dai, Y. Jiang and S.-T. Xia, "Efficient Differentiable Approximation of
   Generalized Low-rank Regularization", IJCAI 2025, Sec. 4.1 and Table 1 ("drop XX%", "block", "text").
.. [2] DLRL: Z. Chen, J. Yao, G. Xiao and S. Wang, "Efficient and Differentiable Low-rank
   Matrix Completion with Back Propagation", IEEE TMM 2021, Sec. IV-A and IV-E (random
   masks covering 40% of pixels, text masks).
"""

from __future__ import annotations

import numpy as np
import torch

from ._common import check_choice, check_drop, check_float, check_int, make_generator

__all__ = [
    "MASK_KINDS",
    "BLOCK_KINDS",
    "DEFAULT_TEXT",
    "apply_mask",
    "block_mask",
    "make_mask",
    "mask_from_image",
    "missing_share",
    "random_mask",
    "text_mask",
]

BLOCK_KINDS = ("square", "squares", "circle", "rows", "columns", "random_blocks")
MASK_KINDS = ("drop", "text", "none") + BLOCK_KINDS

#: Default text of :func:`text_mask` (written for this suite; any text works).
DEFAULT_TEXT = (
    "Low rank structure lets us fill in what we never saw: the largest singular values "
    "carry most of an image, so a few strokes of missing paint can be restored from the "
    "rest of the picture. Each colour channel is completed as its own matrix, and the "
    "quality is measured on the pixels that were hidden under these very words."
)


def _check_shape(shape) -> tuple[int, int]:
    if isinstance(shape, int) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise TypeError(f"shape must be a pair (H, W), got {shape!r}")
    return check_int("height", shape[0]), check_int("width", shape[1])


def random_mask(
    shape,
    drop: float,
    *,
    seed: int = 0,
    generator: torch.Generator | None = None,
    exact: bool = False,
    device=None,
) -> torch.Tensor:
    """Uniform random drop mask, ``True`` = observed.

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)``, both > 0.
    drop : float
        Share of missing pixels, ``0 <= drop < 1``.
    seed : int
        Seed of a fresh CPU generator (ignored when ``generator`` is given).
    generator : torch.Generator, optional
        Source of randomness (CPU).
    exact : bool
        ``False`` (default): each pixel is missing independently with probability ``drop``
        (the EDLRR release: ``observed = u >= drop``). ``True``: exactly
        ``round(drop * H * W)`` pixels are missing, those with the smallest ``u`` (ours).
    device : torch.device, optional

    Returns
    -------
    torch.Tensor
        Bool ``(H, W)``.

    References
    ----------
    EDLRR, Sec. 4.1, Table 1 ("drop 20/30/40/50%"); DLRL, Sec. IV-E (random mask, 40%).
    """
    h, w = _check_shape(shape)
    drop = check_drop("drop", drop)
    gen = generator if generator is not None else make_generator(check_int("seed", seed, 0))
    u = torch.rand((h, w), generator=gen, dtype=torch.float64)
    if exact:
        k = int(round(drop * h * w))
        observed = torch.ones(h * w, dtype=torch.bool)
        if k > 0:
            order = torch.argsort(u.reshape(-1), stable=True)
            observed[order[:k]] = False
        observed = observed.reshape(h, w)
    else:
        observed = u >= drop
    return observed.to(device) if device is not None else observed


def block_mask(
    shape,
    kind: str = "squares",
    *,
    size: float | None = None,
    count: int = 8,
    seed: int = 0,
    device=None,
) -> torch.Tensor:
    """Block-shaped missing regions, ``True`` = observed.

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)``.
    kind : str
        ``"square"``: one centred square of side ``size * min(H, W)`` (default 0.45, about
        20% missing, like the authors' ``block_square``); ``"squares"``: a 3 x 3 grid of
        small rectangles (about 8% missing, in the spirit of the authors'
        ``block_square_small``); ``"circle"``: a centred disk of radius
        ``size * min(H, W)`` (default 0.25); ``"rows"`` / ``"columns"``: three bars of
        thickness ``size * H`` / ``size * W`` (default 0.04); ``"random_blocks"``: ``count``
        rectangles with seeded positions and sides up to ``size * min(H, W)`` (default 0.15).
    size : float, optional
        Relative size, in ``(0, 1]``; the default depends on ``kind``.
    count : int
        Number of rectangles for ``"random_blocks"``.
    seed : int
        Seed for ``"random_blocks"`` (the other kinds are fixed shapes).
    device : torch.device, optional

    Returns
    -------
    torch.Tensor
        Bool ``(H, W)``.

    Notes
    -----
    The shapes and sizes are ours; use :func:`edlrr_bench.datasets.authors.load_authors_mask`
    for the masks of EDLRR's Table 1.
    """
    h, w = _check_shape(shape)
    check_choice("block kind", kind, BLOCK_KINDS)
    defaults = {"square": 0.45, "squares": 0.0, "circle": 0.25, "rows": 0.04, "columns": 0.04,
                "random_blocks": 0.15}
    size = defaults[kind] if size is None else check_float("size", size, 0.0, 1.0, min_inclusive=False)
    missing = torch.zeros((h, w), dtype=torch.bool)
    s = min(h, w)
    if kind == "square":
        side = max(1, int(round(size * s)))
        top, left = (h - side) // 2, (w - side) // 2
        missing[top:top + side, left:left + side] = True
    elif kind == "squares":
        bh, bw = max(1, int(round(0.08 * h))), max(1, int(round(0.12 * w)))
        for ci in (0.2, 0.5, 0.8):
            for cj in (0.2, 0.5, 0.8):
                top = min(max(int(round(ci * h - bh / 2)), 0), h - bh)
                left = min(max(int(round(cj * w - bw / 2)), 0), w - bw)
                missing[top:top + bh, left:left + bw] = True
    elif kind == "circle":
        r = size * s
        ii = torch.arange(h, dtype=torch.float64)[:, None] - (h - 1) / 2
        jj = torch.arange(w, dtype=torch.float64)[None, :] - (w - 1) / 2
        missing = ii**2 + jj**2 <= r**2
    elif kind in ("rows", "columns"):
        n_along = h if kind == "rows" else w
        t = max(1, int(round(size * n_along)))
        for c in (0.25, 0.5, 0.75):
            start = min(max(int(round(c * n_along - t / 2)), 0), n_along - t)
            if kind == "rows":
                missing[start:start + t, :] = True
            else:
                missing[:, start:start + t] = True
    else:  # random_blocks
        count = check_int("count", count, 1)
        gen = make_generator(check_int("seed", seed, 0))
        max_side = max(1, int(round(size * s)))
        sides = torch.randint(max(1, max_side // 3), max_side + 1, (count, 2), generator=gen)
        for bh, bw in sides.tolist():
            bh, bw = min(bh, h), min(bw, w)
            top = int(torch.randint(0, h - bh + 1, (1,), generator=gen))
            left = int(torch.randint(0, w - bw + 1, (1,), generator=gen))
            missing[top:top + bh, left:left + bw] = True
    observed = ~missing
    return observed.to(device) if device is not None else observed


def text_mask(
    shape,
    *,
    text: str | None = None,
    font_size: int | None = None,
    line_spacing: float = 1.6,
    seed: int = 0,
    device=None,
) -> torch.Tensor:
    """Lines of text over the image, ``True`` = observed.

    The text is word-wrapped to the width (margin of one font size on each side) and repeated
    until the lines reach the bottom; the seed picks the word the text starts with. It is
    drawn in black on white with Pillow's own font (``ImageFont.load_default(size=...)``,
    needs Pillow >= 10.1 with FreeType) and, as for the authors' masks, a pixel is observed
    only where the rendering is pure white (anti-aliased edges count as missing).

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)``.
    text : str, optional
        Words to draw; default :data:`DEFAULT_TEXT`.
    font_size : int, optional
        Pixel size of the font; default ``max(8, round(min(H, W) / 15))`` (20 at 300 x 300).
    line_spacing : float
        Baseline distance as a multiple of ``font_size`` (>= 1).
    seed : int
    device : torch.device, optional

    Returns
    -------
    torch.Tensor
        Bool ``(H, W)``; at 300 x 300 with the defaults about 14% of pixels are missing
        (the authors' ``block_text.bmp``: 12.4%).

    References
    ----------
    EDLRR, Fig. 1 and Table 1 ("text"); DLRL, Fig. 2 and Sec. IV-E (text masks). The font,
    text and layout are ours; the authors' text mask is ``masks/block_text.bmp``.
    """
    from PIL import Image, ImageDraw, ImageFont

    h, w = _check_shape(shape)
    text = DEFAULT_TEXT if text is None else text
    if not isinstance(text, str) or not text.split():
        raise ValueError("text must be a non-empty string")
    font_size = max(8, int(round(min(h, w) / 15))) if font_size is None else check_int("font_size", font_size, 1)
    line_spacing = check_float("line_spacing", line_spacing, 1.0)
    seed = check_int("seed", seed, 0)
    try:
        font = ImageFont.load_default(size=font_size)
    except TypeError as err:  # pragma: no cover - Pillow < 10.1
        raise RuntimeError("text_mask needs Pillow >= 10.1 (ImageFont.load_default(size=...))") from err
    words = text.split()
    start = int(torch.randint(0, len(words), (1,), generator=make_generator(seed)))
    margin = font_size
    avail = max(1, w - 2 * margin)
    canvas = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(canvas)
    step = max(1, int(round(line_spacing * font_size)))
    y, k = margin // 2, start
    while y < h:
        line = words[k % len(words)]
        k += 1
        while True:
            candidate = line + " " + words[k % len(words)]
            if draw.textlength(candidate, font=font) > avail:
                break
            line = candidate
            k += 1
        draw.text((margin, y), line, fill=0, font=font)
        y += step
    observed = torch.from_numpy(np.asarray(canvas) == 255)
    return observed.to(device) if device is not None else observed


def make_mask(kind: str, shape, *, drop: float = 0.4, seed: int = 0, device=None, **options) -> torch.Tensor:
    """Build a mask of any kind in :data:`MASK_KINDS` (``True`` = observed).

    ``drop`` is used by ``"drop"`` only; ``options`` go to :func:`random_mask`
    (``exact``), :func:`block_mask` (``size``, ``count``) or :func:`text_mask`
    (``text``, ``font_size``, ``line_spacing``).
    """
    check_choice("mask kind", kind, MASK_KINDS)
    if kind == "drop":
        return random_mask(shape, drop, seed=seed, device=device, **options)
    if kind == "text":
        return text_mask(shape, seed=seed, device=device, **options)
    if kind == "none":
        h, w = _check_shape(shape)
        return torch.ones((h, w), dtype=torch.bool, device=device)
    return block_mask(shape, kind, seed=seed, device=device, **options)


def mask_from_image(image) -> torch.Tensor:
    """Observed pixels of a mask picture: ``True`` where every channel is white.

    Parameters
    ----------
    image : array-like
        ``(H, W)`` or ``(H, W, C)``; integer images are white at 255, float images at 1.0.

    Returns
    -------
    torch.Tensor
        Bool ``(H, W)``, ``True`` = observed (black or grey = missing), the rule of the
        EDLRR release (``img_utils.load_mask``: observed only where all channels are 255).
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"a mask picture must be (H, W) or (H, W, C), got shape {arr.shape}")
    white = 255 if np.issubdtype(arr.dtype, np.integer) else 1.0
    observed = arr == white
    if arr.ndim == 3:
        observed = observed.all(axis=-1)
    return torch.from_numpy(np.ascontiguousarray(observed))


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` with zeros at the missing entries (``mask`` broadcast over leading dims)."""
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor, got {mask.dtype}")
    return torch.where(mask.to(x.device), x, torch.zeros((), dtype=x.dtype, device=x.device))


def missing_share(mask: torch.Tensor) -> float:
    """Share of missing entries of a bool mask (``True`` = observed)."""
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor, got {mask.dtype}")
    return float((~mask).double().mean())
