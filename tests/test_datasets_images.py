"""Tests of edlrr_bench.datasets.images and .authors (the authors' folder when present)."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from edlrr_bench.datasets import (
    EMBEDDED_IMAGES,
    ENV_VAR,
    AuthorsInpaintingConfig,
    ImageInpaintingConfig,
    find_authors_root,
    from_numpy_image,
    get_dataset,
    list_authors_images,
    list_authors_masks,
    load_authors_image,
    load_authors_inpainting,
    load_authors_mask,
    load_embedded_image,
    load_image_file,
    make_image_inpainting,
    missing_share,
    resize_image,
    resolve_authors_root,
    to_numpy_image,
)

# The authors' folder lives beside the project (never inside it): $EDLRR_IMAGES or ../shared/...
_DEFAULT_AUTHORS = Path(__file__).resolve().parents[2] / "shared" / "data" / "edlrr-images"
AUTHORS_ROOT = find_authors_root(os.environ.get(ENV_VAR) or _DEFAULT_AUTHORS)
needs_authors = pytest.mark.skipif(
    AUTHORS_ROOT is None,
    reason=f"EDLRR authors' image folder not found (set {ENV_VAR} or place it at {_DEFAULT_AUTHORS})",
)


@pytest.mark.parametrize("name", sorted(EMBEDDED_IMAGES))
def test_embedded_images_load_without_download(name):
    img = load_embedded_image(name)
    assert img.shape == (3, 300, 300) and img.dtype == torch.float64
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    assert float(img.std()) > 0.02  # a real picture, not a constant
    # 8-bit values divided by 255
    torch.testing.assert_close(img * 255, torch.round(img * 255), atol=1e-9, rtol=0)


def test_embedded_image_options():
    img = load_embedded_image("coffee", size=(40, 64), dtype=torch.float32)
    assert img.shape == (3, 40, 64) and img.dtype == torch.float32
    stretch = load_embedded_image("coffee", size=32, mode="stretch")
    crop = load_embedded_image("coffee", size=32, mode="crop")
    assert stretch.shape == crop.shape == (3, 32, 32) and not torch.equal(stretch, crop)


def test_resize_and_numpy_round_trip():
    arr = (np.arange(20 * 30 * 3) % 256).astype(np.uint8).reshape(20, 30, 3)
    out = resize_image(arr, 10)
    assert out.shape == (10, 10, 3) and out.dtype == np.uint8
    t = from_numpy_image(arr)
    assert t.shape == (3, 20, 30)
    np.testing.assert_allclose(to_numpy_image(t) * 255, arr)
    with pytest.raises(ValueError):
        from_numpy_image(np.full((2, 2, 3), 2.0))


@pytest.mark.parametrize("mask", ["drop", "text", "squares"])
def test_image_inpainting_problem(mask):
    p = make_image_inpainting(ImageInpaintingConfig(image="chelsea", mask=mask, drop=0.3, seed=1))
    assert p.truth.shape == (3, 300, 300) and p.mask.shape == (300, 300) and p.mask.dtype == torch.bool
    assert torch.all(p.observed[:, ~p.mask] == 0)
    assert torch.equal(p.observed[:, p.mask], p.truth[:, p.mask])
    if mask == "drop":
        assert abs(missing_share(p.mask) - 0.3) < 0.01


def test_image_inpainting_determinism():
    a = get_dataset("image_inpainting", size=32, seed=1)
    b = get_dataset("image_inpainting", size=32, seed=1)
    c = get_dataset("image_inpainting", size=32, seed=2)
    assert torch.equal(a.mask, b.mask) and torch.equal(a.observed, b.observed)
    assert not torch.equal(a.mask, c.mask) and torch.equal(a.truth, c.truth)


@pytest.mark.parametrize("params", [{"image": "lena"}, {"mask": "blur"}, {"drop": 1.0}, {"size": 0},
                                    {"resize": "pad"}])
def test_image_bad_inputs(params):
    with pytest.raises(ValueError):
        ImageInpaintingConfig(**params)


def test_load_image_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image_file(tmp_path / "missing.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png"):
        load_image_file(bad)


def test_authors_root_missing_is_clear(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        resolve_authors_root()
    with pytest.raises(FileNotFoundError):
        resolve_authors_root(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="real"):
        resolve_authors_root(tmp_path)
    assert find_authors_root(tmp_path) is None


def test_authors_layout_on_a_generated_folder(tmp_path):
    """The loader on a tiny folder written here in the authors' layout (runs everywhere)."""
    from PIL import Image

    (tmp_path / "real").mkdir()
    (tmp_path / "masks").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(tmp_path / "real" / "1.jpg")
    m = np.full((12, 10, 3), 255, dtype=np.uint8)
    m[2:5, 3:7] = 0
    Image.fromarray(m).save(tmp_path / "masks" / "block_square_small.bmp")
    assert list_authors_images(tmp_path) == [1]
    assert list_authors_masks(tmp_path) == ["square_small"]
    p = load_authors_inpainting(AuthorsInpaintingConfig(image=1, mask="block", root=str(tmp_path)))
    assert p.truth.shape == (3, 12, 10)
    assert int((~p.mask).sum()) == 12 and not p.mask[3, 4] and p.mask[0, 0]
    with pytest.raises(FileNotFoundError, match="available"):
        load_authors_image(2, tmp_path)
    with pytest.raises(FileNotFoundError, match="available"):
        load_authors_mask("star", tmp_path)


@needs_authors
def test_authors_folder_images_and_masks():
    ks = list_authors_images(AUTHORS_ROOT)
    assert ks[:8] == list(range(1, 9))
    assert {"text", "square_small"} <= set(list_authors_masks(AUTHORS_ROOT))
    img = load_authors_image(1, AUTHORS_ROOT)
    assert img.shape == (3, 300, 300) and img.dtype == torch.float64
    assert 0 <= float(img.min()) and float(img.max()) <= 1
    text = load_authors_mask("text", AUTHORS_ROOT)
    block = load_authors_mask("block", AUTHORS_ROOT)
    assert text.shape == block.shape == (300, 300) and text.dtype == torch.bool
    assert 0.05 < missing_share(text) < 0.3 and 0.02 < missing_share(block) < 0.2
    assert torch.equal(block, load_authors_mask("block_square_small", AUTHORS_ROOT))


@needs_authors
@pytest.mark.parametrize("mask", ["text", "block", "drop"])
def test_authors_inpainting_problem(mask, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(AUTHORS_ROOT))
    cfg = AuthorsInpaintingConfig(image=2, mask=mask, drop=0.2, seed=3)
    p = get_dataset("edlrr_images", image=2, mask=mask, drop=0.2, seed=3)
    assert p.truth.shape == (3, 300, 300)
    assert torch.all(p.observed[:, ~p.mask] == 0)
    q = load_authors_inpainting(cfg)
    assert torch.equal(p.mask, q.mask) and torch.equal(p.truth, q.truth)
    if mask == "drop":
        assert abs(missing_share(p.mask) - 0.2) < 0.01
    # the folder's location is not part of the data's identity
    assert cfg.config_id() == cfg.replace(root=str(AUTHORS_ROOT)).config_id()
