"""Random small lava-dl networks holding the layers netx refuses (issue #17): slayer's
``block.cuba.Pool``, ``ConvT`` and ``Unpool``, mixed with ``Conv``, ``Flatten`` and ``Dense``.

``network(kind, seed)`` draws a sequential network of ``lava.lib.dl.slayer.block.cuba`` blocks
(:class:`slayer_zoo.Net`, exported by slayer's own ``export_hdf5``) that is sure to hold the
``kind``'s block (:data:`KINDS`; ``mixed`` holds all three). Input (C, H, W) with at most 48
values, every layer at most :data:`MAX_LAYER` neurons: our Lava compile costs about a second
per network.

Geometries: ConvT and Conv draw kernel, stride, padding, dilation and groups freely. slayer's
Pool and Unpool convolve the channels stacked along H (``synapse.layer.Pool.forward``; Pool
first pads sizes the kernel does not divide on one side): half of them keep to geometries
where no window crosses a channel or meets that padding (snnpipe reads a grouped conv or
conv_transpose: ``pipeline/formats/netx_layers.py``), the others are any geometry that slayer's
forward runs (snnpipe reads the dense matrix of slayer's exact map).

:func:`run` returns slayer's own forward, block by block: spikes and, from each neuron's
``dynamics``, current and voltage (float units; slayer computes them in Loihi's fixed point).
"""
from __future__ import annotations

import numpy as np
import torch

from slayer_zoo import Net

KINDS = ("pool", "convT", "unpool", "mixed")
MAX_LAYER = 80
MAX_INPUT = 48


def _neuron(rng) -> dict:
    return {"threshold": float(rng.uniform(0.25, 1.0)), "current_decay": float(rng.uniform(0, 1)),
            "voltage_decay": float(rng.uniform(0, 0.5)), "requires_grad": False}


def _set(param, w) -> None:
    with torch.no_grad():
        param.data = torch.tensor(w, dtype=torch.float32).reshape(param.shape)


def _weights(rng, shape, fan_in: int) -> np.ndarray:
    """Floats around a positive mean (layers spike), the last one negative."""
    w = rng.normal(1.6 / np.sqrt(fan_in), 1.0 / np.sqrt(fan_in), size=shape)
    if w.size > 2:
        w.reshape(-1)[-1] = -abs(w.reshape(-1)[-1]) - 0.1
    return w


def _out(n, k, s, p, d, transposed) -> int:
    if transposed:
        return (n - 1) * s - 2 * p + d * (k - 1) + 1
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _every_output_sees_input(n, k, s, p, d, transposed) -> bool:
    taps = np.arange(k) * d - p
    if transposed:
        seen = (np.arange(n)[:, None] * s + taps[None, :]).reshape(-1)
    else:
        o = np.arange(_out(n, k, s, p, d, False))
        inside = (o[:, None] * s + taps[None, :] >= 0) & (o[:, None] * s + taps[None, :] < n)
        return bool(inside.any(axis=1).all())
    return set(range(_out(n, k, s, p, d, True))) <= set(seen.tolist())


def _free(rng, n, transposed, divides=False):
    """(k, s, p, d) along one axis of size n, with an output of at least 1, or None."""
    for _ in range(40):
        k, s, p, d = (int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2)),
                      int(rng.integers(1, 3)))
        if (divides and n % k) or _out(n, k, s, p, d, transposed) < 1:
            continue
        if _every_output_sees_input(n, k, s, p, d, transposed):
            return k, s, p, d
    return None


def _stacked_h(rng, n, transposed):
    """(k, s, p, d) along H for Pool/Unpool of several channels: no window crosses one."""
    if transposed:
        k, d = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        return k, d * (k - 1) + 1, 0, d
    k = int(rng.choice([v for v in (1, 2, 3) if n % v == 0]))
    return k, k, 0, 1


def _slayer_shape(kind, geo, shape):
    """The (C, H', W') of slayer's Pool/Unpool synapse on ``shape``; None where it fails."""
    from lava.lib.dl import slayer

    syn = (slayer.synapse.Pool if kind == "pool" else slayer.synapse.Unpool)(**geo)
    try:
        with torch.no_grad():
            out = tuple(syn(torch.zeros((1, *shape, 1))).shape[1:4])
    except RuntimeError:            # its stacked rows do not split into the channels
        return None
    return out if min(out) >= 1 else None


def _geometry(rng, kind, shape):
    """(block kwargs, output shape) for a ``kind`` block on (C, H, W), or (None, None).
    Pool and Unpool draw, half of the time, a geometry where slayer's stacked channels do not
    mix (snnpipe reads a grouped conv), else any geometry that slayer runs (a dense edge)."""
    c, h, w = shape
    for _ in range(30):
        transposed = kind in ("convT", "unpool")
        aligned = kind in ("pool", "unpool") and rng.random() < 0.5
        if aligned and c > 1:
            gh = _stacked_h(rng, h, transposed)
        else:
            gh = _free(rng, h, transposed, divides=aligned and kind == "pool")
        gw = _free(rng, w, transposed, divides=aligned and kind == "pool")
        if gh is None or gw is None:
            continue
        geo = dict(zip(("kernel_size", "stride", "padding", "dilation"), zip(gh, gw)))
        out = [_out(n, *g, transposed) for n, g in ((h, gh), (w, gw))]
        c_out = c
        if kind in ("conv", "convT"):
            groups = int(rng.choice([g for g in (1, 2, 3) if c % g == 0]))
            c_out = int(rng.integers(1, 4)) * groups
            geo.update(in_features=c, out_features=c_out, groups=groups)
        else:
            out = _slayer_shape(kind, geo, shape)
            if out is None:
                continue
            out = out[1:]
        if min(out) >= 1 and c_out * out[0] * out[1] <= MAX_LAYER:
            return geo, (c_out, *out)
    return None, None


def _block(rng, kind, shape):
    from lava.lib.dl import slayer

    geo, out = _geometry(rng, kind, shape)
    if geo is None:
        return None, shape
    cuba = slayer.block.cuba
    params = _neuron(rng)
    if kind in ("pool", "unpool"):
        make = cuba.Pool if kind == "pool" else cuba.Unpool
        return make(params, weight_scale=float(rng.uniform(0.6, 2.0)), **geo), out
    block = (cuba.Conv if kind == "conv" else cuba.ConvT)(params, **geo)
    w = block.synapse.weight
    fan_in = (geo["in_features"] // geo["groups"]) * int(np.prod(geo["kernel_size"]))
    _set(w, _weights(rng, tuple(w.shape), fan_in) * 1.5)
    return block, out


def network(kind: str, seed: int):
    """A random slayer network holding ``kind``: ``(net, input_shape)`` (C, H, W)."""
    from lava.lib.dl import slayer

    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    rng = np.random.default_rng([KINDS.index(kind), seed, 17])
    torch.manual_seed(seed)
    while True:
        shape = tuple(int(v) for v in (rng.integers(1, 4), rng.integers(2, 7), rng.integers(2, 7)))
        if np.prod(shape) <= MAX_INPUT:
            break
    neuron = rng.random() < 0.7
    blocks = [slayer.block.cuba.Input(_neuron(rng) if neuron else None, delay_shift=neuron)]
    wanted = ["pool", "convT", "unpool"] if kind == "mixed" else [kind]
    plan = wanted + list(rng.choice(["conv", "pool", "convT", "unpool"], int(rng.integers(0, 2))))
    rng.shuffle(plan)
    size = shape
    for name in plan:
        block, size2 = _block(rng, name, size)
        if block is None and name in wanted:
            return network(kind, seed + 1000)       # no room for the kind's block: redraw
        if block is not None:
            blocks.append(block)
            size = size2
    if rng.random() < 0.6:
        blocks.append(slayer.block.cuba.Flatten())
        n_in, n_out = int(np.prod(size)), int(rng.integers(2, 6))
        dense = slayer.block.cuba.Dense(_neuron(rng), n_in, n_out)
        _set(dense.synapse.weight, _weights(rng, (n_out, n_in), n_in) * 2)
        blocks.append(dense)
    net = Net(blocks).eval()
    with torch.no_grad():
        net(torch.zeros((1, *shape, 2)))
    return net, shape


def run(net, x: np.ndarray) -> list:
    """slayer's forward of ``x`` (batch, C, H, W, steps): per block with a neuron, a dict of
    ``spikes``, ``current``, ``voltage`` (batch, N, steps) float64 (current, voltage: what its
    neuron's ``dynamics`` returns, before the block's one-step delay)."""
    out, spike = [], torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        for block in net.blocks:
            neuron = getattr(block, "neuron", None)
            if neuron is None:
                spike = block(spike)
                continue
            log, dynamics = [], neuron.dynamics
            neuron.dynamics = lambda z, log=log, dynamics=dynamics: log.append(dynamics(z)) \
                or log[-1]
            try:
                spike = block(spike)
            finally:
                del neuron.dynamics
            n = spike.shape[0]
            out.append({"spikes": spike.reshape(n, -1, spike.shape[-1]).double().numpy(),
                        "current": log[0][0].reshape(n, -1, spike.shape[-1]).double().numpy(),
                        "voltage": log[0][1].reshape(n, -1, spike.shape[-1]).double().numpy()})
    return out
