"""Random sequential SDNN networks that lava-dl's slayer builds and exports (issue #17), the
sigma-delta counterpart of :mod:`slayer_zoo`.

``network(seed)`` draws ``slayer.block.sigma_delta`` blocks as lava-dl's PilotNet SDNN
tutorial stacks them: an ``Input`` (sometimes with a weight and a bias, the transform that netx
keeps but does not apply), one or two ``Conv`` (stride, padding, dilation, groups drawn) and a
``Flatten`` when the input is an image, one or two ``Dense``, and an ``Output`` (a Sigma);
every hidden block has a ``MeanOnlyBatchNorm`` now and then, whose mean slayer exports as the
layer's bias. Weights, thresholds and means are random floats that slayer quantises when it
exports. Sizes stay tiny and weights small (Lava holds sigma-delta states and Dense sums in
int32, which our simulator does not model beyond 2^31).
"""
from __future__ import annotations

import numpy as np
import torch

from slayer_zoo import Net


def _params(rng, norm: bool) -> dict:
    from lava.lib.dl import slayer

    p = {"threshold": float(rng.uniform(0.02, 0.25)), "activation": torch.nn.functional.relu,
         "requires_grad": False}
    if norm:
        p["norm"] = slayer.neuron.norm.MeanOnlyBatchNorm
    return p


def _set(param: torch.nn.Parameter, w: np.ndarray) -> None:
    with torch.no_grad():
        param.data = torch.tensor(w, dtype=torch.float32).reshape(param.shape)


def _weights(rng, shape, fan_in: int) -> np.ndarray:
    """Small float weights of both signs around a positive mean."""
    return rng.normal(0.5 / np.sqrt(fan_in), 0.8 / np.sqrt(fan_in), size=shape)


def _conv_geometry(rng, shape):
    """Conv keyword arguments that fit ``shape`` (C, H, W) and the output shape, or None."""
    c_in, h, w = shape
    for _ in range(50):
        groups = int(rng.choice([g for g in (1, 2) if c_in % g == 0]))
        c_out = int(rng.integers(1, 4)) * groups
        k, s = tuple(int(v) for v in rng.integers(1, 4, 2)), tuple(int(v) for v in rng.integers(1, 3, 2))
        p, d = tuple(int(v) for v in rng.integers(0, 2, 2)), tuple(int(v) for v in rng.integers(1, 3, 2))
        out = [(n + 2 * p_ - d_ * (k_ - 1) - 1) // s_ + 1
               for n, k_, s_, p_, d_ in zip((h, w), k, s, p, d, strict=True)]
        if min(out) >= 1 and c_out * out[0] * out[1] <= 60:
            return {"in_features": c_in, "out_features": c_out, "kernel_size": k, "stride": s,
                    "padding": p, "dilation": d, "groups": groups}, (c_out, *out)
    return None, None


def network(seed: int):
    """A random slayer SDNN: ``(net, input_shape)``, (C, H, W) or (N,); the net has run one
    forward pass (``export_hdf5`` needs it) and its norms' means are set."""
    from lava.lib.dl import slayer

    sd = slayer.block.sigma_delta
    rng = np.random.default_rng([17, seed])
    torch.manual_seed(seed)
    image = rng.random() < 0.6
    shape = ((int(rng.integers(1, 4)), int(rng.integers(3, 7)), int(rng.integers(3, 7)))
             if image else (int(rng.integers(3, 9)),))
    transform = {}
    if rng.random() < 0.4:
        transform["weight"] = float(rng.uniform(0.5, 2.0))
    if rng.random() < 0.3:
        transform["bias"] = float(rng.uniform(-0.3, 0.3))
    blocks, size = [sd.Input(_params(rng, False), **transform)], shape
    if image:
        for _ in range(int(rng.integers(1, 3))):
            geometry, out = _conv_geometry(rng, size)
            if geometry is None:
                break
            block = sd.Conv(_params(rng, rng.random() < 0.5), **geometry)
            fan_in = geometry["in_features"] // geometry["groups"] * np.prod(geometry["kernel_size"])
            _set(block.synapse.weight, _weights(rng, tuple(block.synapse.weight.shape), fan_in))
            blocks.append(block)
            size = out
        blocks.append(sd.Flatten())
        size = (int(np.prod(size)),)
    n_in = size[0]
    for _ in range(int(rng.integers(1, 3))):
        n_out = int(rng.integers(2, 8))
        block = sd.Dense(_params(rng, rng.random() < 0.5), n_in, n_out)
        _set(block.synapse.weight, _weights(rng, (n_out, n_in), n_in))
        blocks.append(block)
        n_in = n_out
    out = sd.Output(_params(rng, False), n_in, int(rng.integers(1, 4)))
    _set(out.synapse.weight, _weights(rng, tuple(out.synapse.weight.shape[:2]), n_in))
    blocks.append(out)
    net = Net(blocks).eval()
    with torch.no_grad():
        net(torch.zeros((1, *shape, 2)))
    for block in net.blocks:
        norm = getattr(getattr(block, "neuron", None), "norm", None)
        if norm is not None:
            norm.running_mean = torch.tensor(rng.uniform(-0.2, 0.2, norm.num_features),
                                             dtype=torch.float32)
    return net, shape


def write(seed: int, path) -> tuple:
    """Export ``network(seed)`` to ``path``; returns its input shape."""
    net, shape = network(seed)
    net.export_hdf5(path)
    return shape


def raster(shape, seed: int, batch: int = 1, steps: int = 12, low: int = -1,
           high: int = 1) -> np.ndarray:
    """Random graded input (batch, prod(shape), steps): integers in [low, high], each held for
    a few steps (a sigma-delta network sends changes), channels in (C, H, W) order."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    x = rng.integers(low, high + 1, (batch, n, steps))
    hold = rng.random((batch, n, steps)) < 0.6
    for t in range(1, steps):
        x[..., t] = np.where(hold[..., t], x[..., t - 1], x[..., t])
    return x.astype(np.int64)
