"""Tests of edlrr_bench.datasets.registry: names, configs, ids, determinism, doctests."""

import dataclasses
import doctest
import importlib
import json

import pytest
import torch

import edlrr_bench.datasets as D
from edlrr_bench.datasets import (
    DatasetConfig,
    SpectrumConfig,
    available_datasets,
    derive_seed,
    get_dataset,
    load,
    make_config,
    tiny_config,
)

GENERATED = ["spectrum", "dlrl_synthetic", "image_inpainting", "synthetic_ratings", "synthetic_video"]
EXPECTED = set(GENERATED) | {"edlrr_images", "movielens", "video_frames"}


def _tensors(obj):
    """All tensors of a dataset result, by field name (nested dataclasses flattened)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, torch.Tensor):
            out[f.name] = v
        elif dataclasses.is_dataclass(v) and not isinstance(v, DatasetConfig):
            out.update({f"{f.name}.{k}": t for k, t in _tensors(v).items()})
    return out


def test_known_names():
    assert set(available_datasets()) == EXPECTED


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError) as info:
        get_dataset("mnist")
    for name in EXPECTED:
        assert name in str(info.value)


def test_unknown_parameter_lists_accepted_ones():
    with pytest.raises(TypeError, match="parameters: m, n"):
        make_config("spectrum", size=3)


@pytest.mark.parametrize("name", GENERATED)
def test_tiny_configs_are_deterministic_by_seed(name):
    cfg = tiny_config(name, seed=11)
    a, b = load(cfg), load(cfg)
    other = load(cfg.replace(seed=12))
    ta, tb, to = _tensors(a), _tensors(b), _tensors(other)
    assert ta.keys() == tb.keys() and ta
    assert all(torch.equal(ta[k], tb[k]) for k in ta)
    assert any(not torch.equal(ta[k], to[k]) for k in ta if ta[k].shape == to[k].shape)
    assert a.config == cfg


@pytest.mark.parametrize("name", GENERATED)
def test_dtype_and_device_arguments(name):
    out = load(tiny_config(name), dtype=torch.float32, device="cpu")
    for key, t in _tensors(out).items():
        if t.is_floating_point():
            assert t.dtype == torch.float32, key
    with pytest.raises(TypeError):
        load(tiny_config(name), dtype=torch.int64)


def test_config_id_and_dict():
    cfg = make_config("spectrum", m=8, n=6, spectrum="power", seed=1)
    assert cfg.config_id().startswith("spectrum(m=8,n=6,spectrum='power',")
    assert cfg.config_id().endswith("seed=1)")
    assert cfg.config_id() == SpectrumConfig(m=8, n=6, spectrum="power", seed=1).config_id()
    assert cfg.config_id() != cfg.replace(seed=2).config_id()
    assert len(cfg.config_hash()) == 12
    row = cfg.to_dict(prefix="data_")
    assert row["data_name"] == "spectrum" and row["data_m"] == 8 and row["data_seed"] == 1
    json.dumps(row)  # plain values only
    assert hash(cfg) == hash(SpectrumConfig(m=8, n=6, spectrum="power", seed=1))  # usable as a key


def test_configs_are_frozen_and_validated():
    cfg = SpectrumConfig.tiny()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.m = 3
    with pytest.raises(ValueError):
        cfg.replace(m=0)


def test_loaders_need_data():
    with pytest.raises(TypeError, match="path"):
        tiny_config("movielens")
    with pytest.raises(TypeError, match="path"):
        tiny_config("video_frames")
    with pytest.raises(TypeError):
        load({"name": "spectrum"})


def test_derive_seed_is_stable():
    assert derive_seed("spectrum", "factors", 0) == derive_seed("spectrum", "factors", 0)
    assert derive_seed("spectrum", "factors", 0) != derive_seed("spectrum", "noise", 0)
    assert 0 <= derive_seed("x") < 2**63
    # pinned: the seed must not change across processes, machines or Python versions
    assert derive_seed("pin", 1) == int.from_bytes(
        __import__("hashlib").sha256("'pin'\x1f1".encode()).digest()[:8], "big") >> 1


def test_not_importable_as_top_level_datasets():
    assert D.__name__ == "edlrr_bench.datasets"
    spec = importlib.util.find_spec("datasets")
    assert spec is None or "edlrr" not in str(spec.origin or "")


@pytest.mark.parametrize("module", ["_common", "metrics", "registry"])
def test_doctests(module):
    mod = importlib.import_module(f"edlrr_bench.datasets.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
