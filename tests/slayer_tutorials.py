"""Slayer-made look-alikes of the networks that lava-dl's tutorials ship (issue #17).

Each entry of :data:`NETWORKS` builds, with lava-dl's own ``slayer.block`` modules, a network
of the same architecture as one of lava-dl's tutorial files (the file itself is in
:mod:`lavadl_files` where lava-dl's wheel ships it), with random weights, and returns it with
an input of the kind the tutorial feeds it:

- ``oxford``: the Oxford tutorial's CUBA Dense 200 -> 256 (axonal delays) -> 200, threshold
  0.1, no current memory, voltage decay 0.1, on the tutorial's own input spikes;
- ``mnist``: the netx MNIST file's layout, an ``Input`` with a neuron, weight and bias over 784
  pixels, Dense 512 -> 512 -> 10 (CUBA, voltage decay 123/4096, threshold 1.25);
- ``pilotnet_snn``: PilotNet SNN as in its file, LOIHI-style neurons (no current memory,
  voltage decay 1/4, threshold 25/64) on an ``Input`` with a weight and bias (the file's
  weight 40/64; a bias of 6/64, not the file's 36/64, which makes every input neuron spike
  every step whatever the image), four strided
  convs with per-channel biases, a flatten, Dense 100 -> 50 -> 10 and one output neuron;
- ``pilotnet_sdnn``: PilotNet SDNN (``block.sigma_delta``): a Delta input over 3x33x100, four
  convs, flatten, Dense 100 -> 50 -> 10 and a Sigma output of one value, on graded input;
- ``tiny``: lava-dl's tiny conv net: an ``Input`` of 3x16x16 LOIHI neurons driven only by its
  bias transform (weight 36/64, bias 34/64: the input is zero), conv 5x5 stride 2 to 24x6x6,
  conv to 36x1x1.

Slayer quantises everything when it exports (``export_hdf5``), as for lava-dl's own files.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import torch

import slayer_sdnn_zoo
from slayer_zoo import Net

# lava-dl's LOIHI neuron of PilotNet SNN and tiny.net: iDecay 4096, vDecay 1024, vThMant 25
LOIHI = {"threshold": 25 / 64, "current_decay": 1.0, "voltage_decay": 0.25}


@dataclasses.dataclass(frozen=True)
class Tutorial:
    """A look-alike: ``build(rng) -> (net, input_shape)`` and ``drive(shape, rng, steps)`` the
    input raster (batch, prod(shape), steps); ``sdnn`` for sigma-delta networks."""
    build: Callable
    drive: Callable
    sdnn: bool = False


def _params(neuron: dict, norm: bool = False) -> dict:
    from lava.lib.dl import slayer

    p = dict(neuron, requires_grad=False)
    if norm:
        p["norm"] = slayer.neuron.norm.MeanOnlyBatchNorm
    return p


def _weights(rng, block, gain: float) -> None:
    """Random float weights of both signs around a positive mean, scaled by the fan-in."""
    w = block.synapse.weight
    fan_in = int(np.prod(w.shape[1:]))
    value = rng.normal(0.4 * gain / np.sqrt(fan_in), 1.2 * gain / np.sqrt(fan_in), w.shape)
    with torch.no_grad():
        w.data = torch.tensor(value, dtype=torch.float32)


def _finish(rng, blocks, shape, mean: float = 0.3):
    """Run one forward pass (``export_hdf5`` needs it); set norms' means (the layers' biases)
    and delays, which exist only after it."""
    net = Net(blocks).eval()
    with torch.no_grad():
        net(torch.zeros((1, *shape, 2)))
    for block in net.blocks:
        norm = getattr(getattr(block, "neuron", None), "norm", None)
        if norm is not None:
            norm.running_mean = torch.tensor(rng.uniform(-mean, mean / 2, norm.num_features),
                                             dtype=torch.float32)
        delay = getattr(block, "delay", None)
        if isinstance(delay, torch.nn.Module):
            delay.delay.data = torch.tensor(rng.uniform(0, 6, delay.delay.shape[0]),
                                            dtype=torch.float32)
    return net, shape


def _oxford(rng):
    from lava.lib.dl import slayer

    neuron = {"threshold": 0.1, "current_decay": 1.0, "voltage_decay": 0.1}
    blocks = [slayer.block.cuba.Dense(_params(neuron), 200, 256, delay=True),
              slayer.block.cuba.Dense(_params(neuron), 256, 200)]
    for b in blocks:
        _weights(rng, b, 0.6)
    return _finish(rng, blocks, (200,))


def _oxford_input(shape, rng, steps):
    from snnpipe.models.recipes import oxford

    return oxford.load(steps)[0].numpy().astype(np.int64)


def _mnist(rng):
    from lava.lib.dl import slayer

    neuron = {"threshold": 1.25, "current_decay": 1.0, "voltage_decay": 123 / 4096}
    blocks = [slayer.block.cuba.Input(_params(neuron), weight=2.0, bias=0.25)]
    for n_in, n_out in ((784, 512), (512, 512), (512, 10)):
        blocks.append(slayer.block.cuba.Dense(_params(neuron), n_in, n_out))
        _weights(rng, blocks[-1], 0.3)
    return _finish(rng, blocks, (784,))


def _convs(rng, block_type, params, shape, layers, gain: float = 1.0):
    """Conv blocks ``(c_out, kernel, stride, padding)`` after ``shape``; returns (blocks, out)."""
    blocks = []
    c, h, w = shape
    for c_out, k, s, p in layers:
        blocks.append(block_type(params(), c, c_out, k, stride=s, padding=p))
        _weights(rng, blocks[-1], gain)
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        c = c_out
    return blocks, (c, h, w)


PILOTNET_CONVS = ((24, 3, 2, 0), (36, 3, 2, 0), (48, 3, 2, 0), (64, 3, 1, 1))


def _pilotnet_snn(rng):
    from lava.lib.dl import slayer

    cuba = slayer.block.cuba
    shape = (3, 33, 100)
    blocks = [cuba.Input(_params(LOIHI), weight=40 / 64, bias=6 / 64)]
    convs, out = _convs(rng, cuba.Conv, lambda: _params(LOIHI, norm=True), shape,
                        PILOTNET_CONVS)
    blocks += convs + [cuba.Flatten()]
    n_in = int(np.prod(out))
    for n_out in (100, 50, 10, 1):
        blocks.append(cuba.Dense(_params(LOIHI, norm=True), n_in, n_out))
        _weights(rng, blocks[-1], 3.0)
        n_in = n_out
    return _finish(rng, blocks, shape, mean=0.2)


def _pilotnet_sdnn(rng):
    from lava.lib.dl import slayer

    sd = slayer.block.sigma_delta

    def params(norm=True):
        return _params({"threshold": float(rng.uniform(0.02, 0.2)),
                        "activation": torch.nn.functional.relu}, norm)

    shape = (3, 33, 100)
    blocks = [sd.Input(params(False))]
    convs, out = _convs(rng, sd.Conv, params, shape, PILOTNET_CONVS)
    blocks += convs + [sd.Flatten()]
    n_in = int(np.prod(out))
    for n_out in (100, 50, 10):
        blocks.append(sd.Dense(params(), n_in, n_out))
        _weights(rng, blocks[-1], 1.0)
        n_in = n_out
    blocks.append(sd.Output(params(False), n_in, 1))
    _weights(rng, blocks[-1], 1.0)
    return _finish(rng, blocks, shape, mean=0.1)


def _tiny(rng):
    from lava.lib.dl import slayer

    cuba = slayer.block.cuba
    shape = (3, 16, 16)
    blocks = [cuba.Input(_params(LOIHI), weight=36 / 64, bias=34 / 64)]
    convs, _ = _convs(rng, cuba.Conv, lambda: _params(LOIHI, norm=True), shape,
                      ((24, 5, 2, 0), (36, 5, 2, 0)), gain=2.0)
    return _finish(rng, blocks + convs, shape)


def _spikes(shape, rng, steps):
    return (rng.random((1, int(np.prod(shape)), steps)) < 0.3).astype(np.int64)


def _zeros(shape, rng, steps):
    return np.zeros((1, int(np.prod(shape)), steps), dtype=np.int64)


def _graded(shape, rng, steps):
    return slayer_sdnn_zoo.raster(shape, int(rng.integers(1 << 16)), steps=steps)


NETWORKS = {
    "oxford": Tutorial(_oxford, _oxford_input),
    "mnist": Tutorial(_mnist, _spikes),
    "pilotnet_snn": Tutorial(_pilotnet_snn, _spikes),
    "pilotnet_sdnn": Tutorial(_pilotnet_sdnn, _graded, sdnn=True),
    "tiny": Tutorial(_tiny, _zeros),
}


def write(name: str, seed: int, path, steps: int) -> np.ndarray:
    """Export the look-alike ``name`` (random weights from ``seed``) to ``path``; returns its
    input raster (batch, channels, steps)."""
    rng = np.random.default_rng([71, seed])
    torch.manual_seed(seed)
    tutorial = NETWORKS[name]
    net, shape = tutorial.build(rng)
    net.export_hdf5(path)
    return tutorial.drive(shape, rng, steps)

