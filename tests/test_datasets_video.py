"""Tests of edlrr_bench.datasets.video."""

import numpy as np
import pytest
import torch

from edlrr_bench.datasets import (
    SyntheticVideoConfig,
    VideoFramesConfig,
    background_psnr,
    f_measure,
    frames_to_matrix,
    get_dataset,
    load_frames,
    make_synthetic_video,
    matrix_to_frames,
)


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("illumination", [0.0, 0.4])
def test_ground_truth_is_consistent(color, illumination):
    v = make_synthetic_video(SyntheticVideoConfig(color=color, illumination=illumination, objects=3, seed=1))
    t, h, w = 40, 60, 80
    assert v.frames.shape == ((t, 3, h, w) if color else (t, h, w))
    assert v.background.shape == v.frames.shape and v.foreground.shape == (t, h, w)
    assert v.frames.dtype == torch.float64 and v.foreground.dtype == torch.bool
    assert float(v.frames.min()) >= 0 and float(v.frames.max()) <= 1
    diff = (v.frames - v.background).abs()
    if color:
        diff = diff.amax(dim=1)
    # the foreground mask is exactly where the frame differs from the background
    assert torch.equal(diff > 0, v.foreground)
    assert float(diff[v.foreground].min()) >= v.config.min_contrast - 1e-12
    share = float(v.foreground.double().mean())
    assert 0.01 < share < 0.5
    # objects move: masks change over time
    assert not torch.equal(v.foreground[0], v.foreground[-1])
    # the true background matrix has rank 1 (static image times a gain per frame)
    assert torch.linalg.matrix_rank(v.background_matrix()).item() == 1
    if illumination == 0:
        assert torch.equal(v.background[0], v.background[-1])
    else:
        assert float(v.background[t // 2].mean()) < float(v.background[0].mean())


def test_matrix_layout_round_trip():
    v = get_dataset("synthetic_video", height=16, width=20, frames=8, color=True)
    m = v.matrix()
    assert m.shape == (3 * 16 * 20, 8)
    torch.testing.assert_close(m[:, 3], v.frames[3].reshape(-1))  # one frame per column
    assert torch.equal(matrix_to_frames(m, v.frame_shape), v.frames)
    assert v.foreground_matrix().shape == m.shape
    with pytest.raises(ValueError):
        matrix_to_frames(m, (16, 20))


def test_video_determinism_and_dtype():
    a = make_synthetic_video(SyntheticVideoConfig.tiny(seed=5))
    b = make_synthetic_video(SyntheticVideoConfig.tiny(seed=5))
    c = make_synthetic_video(SyntheticVideoConfig.tiny(seed=6))
    assert torch.equal(a.frames, b.frames) and torch.equal(a.foreground, b.foreground)
    assert not torch.equal(a.foreground, c.foreground)
    f = make_synthetic_video(SyntheticVideoConfig.tiny(seed=5), dtype=torch.float32)
    assert f.frames.dtype == torch.float32


def test_scores_of_the_truth():
    v = make_synthetic_video(SyntheticVideoConfig.tiny())
    assert f_measure(v.foreground, v.foreground) == 1.0
    assert background_psnr(v.background, v.background) == float("inf")
    # the video itself as a background estimate: finite PSNR
    assert 0 < background_psnr(v.frames, v.background) < 100


@pytest.mark.parametrize("params", [{"frames": 0}, {"height": 2}, {"objects": -1}, {"object_size": 1.0},
                                    {"illumination": 1.0}, {"background": "moon"}, {"min_contrast": 0.4}])
def test_video_bad_inputs(params):
    with pytest.raises(ValueError):
        SyntheticVideoConfig(**params)


def test_frame_folder_loader(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (6, 7, 3), dtype=np.uint8) for _ in range(11)]
    for k, a in enumerate(arrays):
        Image.fromarray(a).save(tmp_path / f"frame{k}.png")  # frame10 must come after frame9
    (tmp_path / "notes.txt").write_text("ignored")
    v = load_frames(tmp_path, grayscale=False)
    assert v.frames.shape == (11, 3, 6, 7)
    np.testing.assert_allclose(v.frames[10].permute(1, 2, 0).numpy() * 255, arrays[10])
    assert v.files[-1].endswith("frame10.png")
    g = get_dataset("video_frames", path=str(tmp_path))
    assert g.frames.shape == (11, 6, 7) and g.matrix().shape == (42, 11)
    r = load_frames(VideoFramesConfig(path=str(tmp_path), height=4, width=5))
    assert r.frames.shape == (11, 4, 5)
    assert torch.equal(frames_to_matrix(g.frames), g.matrix())


def test_frame_folder_errors(tmp_path):
    from PIL import Image

    with pytest.raises(FileNotFoundError):
        load_frames(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="no frame"):
        load_frames(tmp_path)
    Image.fromarray(np.zeros((4, 4, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((5, 4, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match="b.png"):
        load_frames(tmp_path)
    (tmp_path / "b.png").unlink()
    (tmp_path / "c.jpg").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="c.jpg"):
        load_frames(tmp_path)
    with pytest.raises(ValueError):
        VideoFramesConfig(path="x", height=4)
