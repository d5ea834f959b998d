"""Tests of edlrr_bench.datasets.masks."""

import numpy as np
import pytest
import torch

from edlrr_bench.datasets import (
    MASK_KINDS,
    apply_mask,
    block_mask,
    make_mask,
    mask_from_image,
    missing_share,
    random_mask,
    text_mask,
)


@pytest.mark.parametrize("drop", [0.2, 0.3, 0.4, 0.5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drop_share_within_one_percent(drop, seed):
    m = random_mask((300, 300), drop, seed=seed)
    assert m.shape == (300, 300) and m.dtype == torch.bool
    assert abs(missing_share(m) - drop) < 0.01
    exact = random_mask((300, 300), drop, seed=seed, exact=True)
    assert int((~exact).sum()) == round(drop * 90000)


def test_drop_masks_are_seeded_and_nested():
    a = random_mask((50, 40), 0.3, seed=1)
    assert torch.equal(a, random_mask((50, 40), 0.3, seed=1))
    assert not torch.equal(a, random_mask((50, 40), 0.3, seed=2))
    b = random_mask((50, 40), 0.5, seed=1)
    assert torch.all(b <= a), "a larger drop must hide a superset of pixels"
    assert torch.all(random_mask((5, 5), 0.0))


def test_text_mask_is_deterministic_and_covers_lines():
    m = text_mask((300, 300), seed=0)
    assert m.shape == (300, 300) and m.dtype == torch.bool
    assert torch.equal(m, text_mask((300, 300), seed=0))
    assert not torch.equal(m, text_mask((300, 300), seed=3))
    share = missing_share(m)
    assert 0.05 < share < 0.35
    rows_hit = (~m).any(dim=1).float().mean().item()
    assert rows_hit > 0.5  # text lines spread over the image height
    small = text_mask((40, 60), font_size=10, text="ab cd")
    assert small.shape == (40, 60) and missing_share(small) > 0


@pytest.mark.parametrize("kind", ["square", "squares", "circle", "rows", "columns", "random_blocks"])
def test_block_masks(kind):
    m = block_mask((300, 300), kind, seed=1)
    assert m.shape == (300, 300) and m.dtype == torch.bool
    assert 0.01 < missing_share(m) < 0.5
    assert torch.equal(m, block_mask((300, 300), kind, seed=1))


def test_square_share_and_random_blocks_seed():
    assert abs(missing_share(block_mask((300, 300), "square", size=0.5)) - 0.25) < 1e-12
    assert not torch.equal(block_mask((64, 64), "random_blocks", seed=0), block_mask((64, 64), "random_blocks", seed=1))


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_make_mask_all_kinds(kind):
    m = make_mask(kind, (32, 48), drop=0.3, seed=2)
    assert m.shape == (32, 48) and m.dtype == torch.bool
    if kind == "none":
        assert torch.all(m)


def test_mask_from_image_rule():
    arr = np.full((2, 3, 3), 255, dtype=np.uint8)
    arr[0, 0] = 0
    arr[0, 1, 2] = 254  # a single non-white channel makes the pixel missing
    m = mask_from_image(arr)
    assert m.tolist() == [[False, False, True], [True, True, True]]
    assert mask_from_image(np.ones((2, 2))).all()


def test_apply_mask_broadcasts_over_channels():
    x = torch.ones(3, 4, 5, dtype=torch.float64)
    m = random_mask((4, 5), 0.5, seed=0)
    y = apply_mask(x, m)
    assert torch.equal(y[:, ~m], torch.zeros(3, int((~m).sum()), dtype=torch.float64))
    assert torch.equal(y[:, m], x[:, m])
    with pytest.raises(TypeError):
        apply_mask(x, m.float())


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: random_mask((10, 10), 1.0), ValueError),
        (lambda: random_mask((10, 10), -0.1), ValueError),
        (lambda: random_mask((0, 10), 0.1), ValueError),
        (lambda: random_mask(10, 0.1), TypeError),
        (lambda: random_mask((10, 10), "0.1"), TypeError),
        (lambda: block_mask((10, 10), "hexagon"), ValueError),
        (lambda: text_mask((10, 10), text="   "), ValueError),
        (lambda: make_mask("smudge", (10, 10)), ValueError),
        (lambda: mask_from_image(np.zeros(5)), ValueError),
    ],
)
def test_mask_bad_inputs(call, err):
    with pytest.raises(err):
        call()
