"""Random probe vectors for stochastic trace estimation (Hutchinson-type estimators).

Probes are drawn per batch element, in row-major batch order, from an explicit
:class:`torch.Generator`, so that a batch gives exactly the numbers of a loop over its elements
with the same generator, and a seeded generator gives the same estimate on every call.
"""
from __future__ import annotations

import torch

__all__ = ["sample_probes", "as_generator", "PROBE_KINDS"]

PROBE_KINDS = ("gaussian", "rademacher")


def as_generator(generator, device=None) -> torch.Generator | None:
    """Turn ``None``, an int seed or a :class:`torch.Generator` into a generator (or None).

    An int seed gives a fresh generator on ``device`` (CPU by default), so that every call
    with the same seed draws the same probes.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, bool) or not isinstance(generator, int):
        raise TypeError(f"generator must be None, an int seed or a torch.Generator, got {generator!r}")
    if not 0 <= generator < 2**64:
        raise ValueError(f"an int seed must satisfy 0 <= seed < 2**64, got {generator}")
    g = torch.Generator(device="cpu" if device is None else device)
    g.manual_seed(generator)
    return g


def sample_probes(batch_shape, m: int, num: int, *, kind: str = "gaussian", generator=None,
                  dtype=torch.float64, device=None) -> torch.Tensor:
    """Probe block of shape (*batch_shape, m, num) with E[g g^T] = I.

    ``kind="gaussian"`` draws N(0, 1) entries (the EDLRR paper); ``"rademacher"`` draws +-1.
    Random numbers are drawn on the generator's device and moved to ``device``.
    """
    if kind not in PROBE_KINDS:
        raise ValueError(f"probe kind must be one of {PROBE_KINDS}, got {kind!r}")
    generator = as_generator(generator)
    gen_device = generator.device if generator is not None else device
    batch_shape = tuple(batch_shape)
    count = 1
    for d in batch_shape:
        count *= d
    blocks = []
    for _ in range(count):
        if kind == "gaussian":
            block = torch.randn(m, num, generator=generator, dtype=dtype, device=gen_device)
        else:
            bits = torch.randint(0, 2, (m, num), generator=generator, device=gen_device)
            block = bits.to(dtype) * 2 - 1
        blocks.append(block)
    out = torch.stack(blocks).reshape(*batch_shape, m, num)
    return out.to(device) if device is not None else out
