"""Random sequential resonate-and-fire networks that lava-dl's slayer builds and exports (issue
#17), the RF counterpart of :mod:`slayer_zoo` and :mod:`slayer_sdnn_zoo`.

``network(seed)`` draws one to three ``Dense`` blocks of ``slayer.block.rf`` (phase threshold)
and ``slayer.block.rf_iz`` (Izhikevich reset) on a 1-d input, now and then a
``slayer.block.cuba.Dense`` between them (RF spikes into LIF neurons and back) and, in some
layers, per-neuron periods and decays (``shared_param=False``). What slayer cannot export or
netx cannot build is left out: ``rf.Conv`` (slayer's export fails), ``rf.Input`` (netx's Input
block needs ``a_in``), delays, graded RF spikes. Periods, decays, thresholds and complex
weights are random floats that slayer quantises when it exports (decays to 1/4096 of
``(1 - decay) sin|cos(2 pi / period)``, weights to even 1/64, thresholds to ``int(64 th)``).
Sizes stay tiny: netx on Lava costs seconds per network.
"""
from __future__ import annotations

import numpy as np
import torch

from slayer_zoo import Net


def _rf_params(rng) -> dict:
    p = {"threshold": float(rng.uniform(0.05, 0.6)), "period": float(rng.uniform(4.5, 20.0)),
         "decay": float(rng.uniform(0.0, 0.2)), "requires_grad": False}
    if rng.random() < 0.25:                       # per-neuron periods and decays
        p.update(shared_param=False, period=(p["period"], p["period"] * 1.5),
                 decay=(p["decay"], p["decay"] + 0.05))
    return p


def _set(param: torch.nn.Parameter, w: np.ndarray) -> None:
    with torch.no_grad():
        param.data = torch.tensor(w, dtype=torch.float32).reshape(param.shape)


def _weights(rng, n_out: int, n_in: int) -> np.ndarray:
    """Small float weights of both signs, a little positive on average."""
    return rng.normal(0.3 / np.sqrt(n_in), 1.0 / np.sqrt(n_in), size=(n_out, n_in))


def _block(rng, kind: str, n_in: int, n_out: int):
    from lava.lib.dl import slayer

    if kind == "cuba":
        block = slayer.block.cuba.Dense(
            {"threshold": float(rng.uniform(0.2, 1.0)), "current_decay": float(rng.uniform(0, 1)),
             "voltage_decay": float(rng.uniform(0, 0.3)), "requires_grad": False}, n_in, n_out)
        _set(block.synapse.weight, _weights(rng, n_out, n_in))
        return block
    module = slayer.block.rf if kind == "rf" else slayer.block.rf_iz
    block = module.Dense(_rf_params(rng), n_in, n_out)
    _set(block.synapse.real.weight, _weights(rng, n_out, n_in))
    _set(block.synapse.imag.weight, _weights(rng, n_out, n_in))
    return block


def kinds(seed: int) -> list:
    """The block kinds of ``network(seed)``, in order: ``rf``, ``rf_iz`` or ``cuba``."""
    rng = np.random.default_rng([17, 99, seed])
    n = int(rng.integers(1, 4))
    out = [str(rng.choice(["rf", "rf_iz"])) for _ in range(n)]
    if n > 1 and rng.random() < 0.3:
        out.insert(int(rng.integers(1, n)), "cuba")
    return out


def network(seed: int):
    """A random slayer RF network: ``(net, input_shape)`` (N,); the net has run one forward
    pass (``export_hdf5`` needs it: per-neuron decays are drawn then)."""
    rng = np.random.default_rng([17, seed])
    torch.manual_seed(seed)
    n_in = int(rng.integers(3, 9))
    blocks, size = [], n_in
    for kind in kinds(seed):
        n_out = int(rng.integers(2, 8))
        blocks.append(_block(rng, kind, size, n_out))
        size = n_out
    net = Net(blocks).eval()
    with torch.no_grad():
        net(torch.zeros((1, n_in, 2)))
    return net, (n_in,)


def write(seed: int, path) -> tuple:
    """Export ``network(seed)`` to ``path``; returns its input shape."""
    net, shape = network(seed)
    net.export_hdf5(path)
    return shape


def raster(shape, seed: int, batch: int = 1, steps: int = 40, rate: float = 0.3) -> np.ndarray:
    """Random binary input (batch, prod(shape), steps)."""
    rng = np.random.default_rng(seed)
    return (rng.random((batch, int(np.prod(shape)), steps)) < rate).astype(np.int64)
