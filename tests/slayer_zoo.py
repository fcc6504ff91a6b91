"""Random sequential lava-dl networks that slayer itself builds and exports (issue #17).

``network(kind, seed)`` draws a small sequential network of ``lava.lib.dl.slayer.block.cuba``
blocks in a ``torch.nn.Module`` (:class:`Net`, with ``export_hdf5`` the way lava-dl's tutorials
write it: each block's ``export_hdf5(h.create_group(f'layer/{i}'))``). Weights, decays and
thresholds are random floats set on the slayer modules; slayer quantises them when it exports
(weights: even integers in 1/64 within [-256, 254]; decays: 1/4096; thresholds: ``int(64 th)``).

Every network mixes, at random, the blocks that netx and our implementations agree on
(:data:`MIXED`: Input with or without a neuron and its weight/bias, Dense, Conv with stride,
padding, dilation and groups, Flatten, Recurrent, Dense with axonal delays); the ``kind`` names
the block or feature that the network is sure to hold (:data:`KINDS`). A kind that is not in
:data:`MIXED` is only ever drawn in its own networks, so a gap in one kind does not spread:
``bias`` (a neuron's ``MeanOnlyBatchNorm``, whose mean slayer exports as the layer's bias),
``graded`` (``graded_spike=True``), ``per_neuron_decay`` (``shared_param=False``, decays drawn
per neuron), ``affine_readout`` (an ``Affine`` last block: slayer writes ``vThMant``
``(1 << 18) - 1``, a layer that never spikes), ``one_output`` (a last layer of one neuron),
``recurrent_delay`` (``Recurrent(delay=True)``), ``conv_delay`` (``Conv(delay=True)``),
``inhibitory_256`` and ``zero_layer`` (the first projection all non-positive with -256 in 1/64,
or all zero).

Sizes stay tiny (a few neurons or channels, at most 60 per conv layer): netx on Lava costs
seconds per network.
"""
from __future__ import annotations

import h5py
import numpy as np
import torch

# Blocks and features mixed into every network (netx and our implementations agree on them).
MIXED = ("dense", "input", "conv", "recurrent", "delay")
# Features found only in their own kind's networks.
KINDS = MIXED + ("bias", "graded", "per_neuron_decay", "affine_readout", "one_output",
                 "recurrent_delay", "conv_delay", "inhibitory_256", "zero_layer")


class Net(torch.nn.Module):
    """A sequence of slayer blocks, exported as lava-dl's tutorials do."""

    def __init__(self, blocks):
        super().__init__()
        self.blocks = torch.nn.ModuleList(blocks)

    def forward(self, spike):
        for block in self.blocks:
            spike = block(spike)
        return spike

    def export_hdf5(self, filename) -> None:
        h = h5py.File(filename, "w")
        layer = h.create_group("layer")
        for i, b in enumerate(self.blocks):
            b.export_hdf5(layer.create_group(f"{i}"))
        h.close()


def _neuron(rng, kind: str) -> dict:
    """slayer CUBA parameters: threshold, decays (an end of [0, 1] now and then) in float units."""
    def decay(hi):
        return float(rng.choice([0.0, 1.0])) if rng.random() < 0.15 else float(rng.uniform(0, hi))

    p = {"threshold": float(rng.uniform(0.3, 2.0)), "current_decay": decay(1.0),
         "voltage_decay": decay(0.5), "requires_grad": False}
    if kind == "graded":
        p["graded_spike"] = True
    if kind == "per_neuron_decay":
        p["shared_param"] = False
    return p


def _mixed_sign(w: np.ndarray) -> np.ndarray:
    """Every output row with a positive and a negative weight (after slayer's rounding): netx's
    ``optimize_weight_bits`` mishandles one-sign layers, which only ``inhibitory_256`` and
    ``zero_layer`` draw."""
    rows = w.reshape(w.shape[0], -1)
    rows[:, 0] = np.abs(rows[:, 0]) + 0.1
    rows[:, -1] = -np.abs(rows[:, -1]) - 0.1
    return rows.reshape(w.shape)


def _set(param: torch.nn.Parameter, w: np.ndarray) -> None:
    with torch.no_grad():
        param.data = torch.tensor(w, dtype=torch.float32).reshape(param.shape)


def _weights(rng, shape, fan_in: int, gain: float = 1.0) -> np.ndarray:
    """Float weights around a small positive mean (so that layers spike), mixed in sign."""
    w = rng.normal(0.4 * gain / np.sqrt(fan_in), 1.2 * gain / np.sqrt(fan_in), size=shape)
    return _mixed_sign(w * 1.5)


def _dense(rng, slayer, kind, n_in, n_out, feature):
    """A Dense, Recurrent or Affine block (n_in -> n_out) with ``feature`` and random weights."""
    params = _neuron(rng, kind)
    if feature == "bias":
        params["norm"] = slayer.neuron.norm.MeanOnlyBatchNorm
    if feature == "recurrent" or feature == "recurrent_delay":
        block = slayer.block.cuba.Recurrent(params, n_in, n_out,
                                            delay=feature == "recurrent_delay")
        w = _weights(rng, (n_out, n_in), n_in)
        w_rec = _weights(rng, (n_out, n_out), n_out, 0.5)
        if feature == "recurrent_delay":    # |w| < 1: netx shifts them (scale_bits >= 1)
            w, w_rec = np.clip(w, -0.9, 0.9), np.clip(w_rec, -0.9, 0.9)
        _set(block.input_synapse.weight, w)
        _set(block.recurrent_synapse.weight, w_rec)
        return block
    if feature == "affine_readout":
        block = slayer.block.cuba.Affine(params, n_in, n_out)
    else:
        block = slayer.block.cuba.Dense(params, n_in, n_out, delay=feature == "delay")
    _set(block.synapse.weight, _weights(rng, (n_out, n_in), n_in))
    return block


def _conv_geometry(rng, shape, c_out_choices=(2, 3, 4)):
    """A Conv (stride, padding, dilation, groups) that fits ``shape`` (C, H, W); None if none."""
    c_in, h, w = shape
    for _ in range(50):
        groups = int(rng.choice([g for g in (1, 2, 3) if c_in % g == 0]))
        c_out = int(rng.choice(c_out_choices)) * groups
        k = tuple(int(v) for v in rng.integers(1, 4, 2))
        s = tuple(int(v) for v in rng.integers(1, 3, 2))
        p = tuple(int(v) for v in rng.integers(0, 2, 2))
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        out = [(n + 2 * p_ - d_ * (k_ - 1) - 1) // s_ + 1
               for n, k_, s_, p_, d_ in zip((h, w), k, s, p, d, strict=True)]
        if min(out) >= 1 and c_out * out[0] * out[1] <= 60:
            return {"in_features": c_in, "out_features": c_out, "kernel_size": k, "stride": s,
                    "padding": p, "dilation": d, "groups": groups}, (c_out, *out)
    return None, None


def network(kind: str, seed: int):
    """A random slayer network holding ``kind``: ``(net, input_shape)``, with ``input_shape``
    (C, H, W) or (N,) and every block's parameters set (the net has run one forward pass,
    which ``export_hdf5`` needs)."""
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    rng = np.random.default_rng([KINDS.index(kind), seed])
    torch.manual_seed(seed)
    conv = kind in ("conv", "conv_delay") or (kind in ("input", "bias", "graded")
                                             and rng.random() < 0.4)
    if conv:
        shape = (int(rng.integers(1, 4)), int(rng.integers(3, 7)), int(rng.integers(3, 7)))
    else:
        shape = (int(rng.integers(3, 9)),)
    blocks = _input(rng, kind, want=kind == "input" or conv or rng.random() < 0.5)
    size = _convs(rng, kind, shape, blocks) if conv else shape
    if len(size) == 1:
        _denses(rng, kind, seed, size[0], blocks)
    if kind in ONE_SIGN:
        _one_sign(rng, kind, blocks)
    net = Net(blocks).eval()
    with torch.no_grad():
        net(torch.zeros((1, *shape, 2)))
    _after_forward(rng, net, kind)
    return net, shape


# the first projection (dense, fed by the raw input) holds one sign only
ONE_SIGN = ("inhibitory_256", "zero_layer")
# kinds whose own layer is the first projection, fed by the raw input raster (no input neuron)
FIRST = ONE_SIGN + ("recurrent_delay",)


def _input(rng, kind, want: bool) -> list:
    """[] or [slayer Input] with or without a neuron, a weight and a bias."""
    from lava.lib.dl import slayer

    if not want:
        return []
    neuron = kind == "input" or (kind not in FIRST and rng.random() < 0.7)
    weight = float(rng.uniform(0.5, 3.0)) if neuron and rng.random() < 0.7 else None
    bias = float(rng.uniform(-0.3, 0.5)) if neuron and rng.random() < 0.5 else None
    if kind == "input":
        weight = float(rng.uniform(0.5, 3.0)) if weight is None else weight
        bias = float(rng.uniform(-0.3, 0.5)) if bias is None else bias
    # (slayer's step delay needs a neuron: an input without one shifts nothing)
    return [slayer.block.cuba.Input(_neuron(rng, kind) if neuron else None,
                                    weight=weight, bias=bias, delay_shift=neuron)]


def _convs(rng, kind, shape, blocks: list) -> tuple:
    """Append one or two Conv blocks (then mostly a Flatten); returns the output shape."""
    from lava.lib.dl import slayer

    size, n_conv = shape, int(rng.integers(1, 3))
    for i in range(n_conv):
        geometry, out = _conv_geometry(rng, size)
        if geometry is None:
            break
        params = _neuron(rng, kind)
        if kind == "bias":
            params["norm"] = slayer.neuron.norm.MeanOnlyBatchNorm
        block = slayer.block.cuba.Conv(params, **geometry,
                                       delay=kind == "conv_delay" and i == n_conv - 1)
        fan_in = geometry["in_features"] // geometry["groups"] * np.prod(geometry["kernel_size"])
        _set(block.synapse.weight, _weights(rng, tuple(block.synapse.weight.shape),
                                            int(fan_in), 1.5))
        blocks.append(block)
        size = out
    if rng.random() < 0.8 or kind == "conv_delay":
        blocks.append(slayer.block.cuba.Flatten())
        size = (int(np.prod(size)),)
    return size


def _denses(rng, kind, seed, n_in: int, blocks: list) -> None:
    """Append one to three Dense / Recurrent / delayed Dense blocks, one of them ``kind``'s."""
    from lava.lib.dl import slayer

    n_dense = int(rng.integers(1, 4))
    features = list(rng.choice(["dense", "dense", "recurrent", "delay"], n_dense))
    if kind in ("recurrent", "delay"):
        features[int(rng.integers(0, n_dense))] = kind
    if kind in ("bias", "graded", "per_neuron_decay"):
        features[0] = kind
    if kind in ONE_SIGN:        # not recurrent: netx picks the weight format of [W, W_rec]
        features[0] = "dense"
    if kind == "recurrent_delay":
        features[0] = kind
    if kind == "affine_readout":
        features[-1] = kind
    for i, feature in enumerate(features):
        n_out = 1 if kind == "one_output" and i == n_dense - 1 else int(rng.integers(2, 7))
        if feature == "recurrent_delay" and seed % 2:
            n_out = n_in            # netx loads a square one (and runs it otherwise)
        blocks.append(_dense(rng, slayer, kind, n_in, n_out, feature))
        n_in = n_out


def _one_sign(rng, kind, blocks) -> None:
    """The first projection's weights all non-positive, half of them -256/64 (or all zero)."""
    syn = next(b for b in blocks if hasattr(b, "synapse")).synapse
    w = -np.abs(syn.weight.detach().numpy())
    w[rng.random(w.shape) < 0.5] = -4.0
    _set(syn.weight, w if kind == "inhibitory_256" else 0 * w)


def _after_forward(rng, net, kind) -> None:
    """Set what only exists once slayer has seen the input: delays and normalisation means."""
    for block in net.blocks:
        delay = getattr(block, "delay", None)
        if isinstance(delay, torch.nn.Module):
            n = delay.delay.shape[0]
            delay.delay.data = torch.tensor(rng.uniform(0, 6, n), dtype=torch.float32)
        neuron = getattr(block, "neuron", None)
        if kind == "per_neuron_decay" and neuron is not None:
            n = neuron.current_decay.shape[0]           # (shared_param=False)
            neuron.current_decay.data = torch.tensor(rng.uniform(0, 4096, n), dtype=torch.float32)
            neuron.voltage_decay.data = torch.tensor(rng.uniform(0, 2048, n), dtype=torch.float32)
        norm = getattr(neuron, "norm", None)
        if norm is not None:
            norm.running_mean = torch.tensor(rng.uniform(-0.5, 0.3, norm.num_features),
                                             dtype=torch.float32)


def write(kind: str, seed: int, path) -> tuple:
    """Export ``network(kind, seed)`` to ``path``; returns its input shape."""
    net, shape = network(kind, seed)
    net.export_hdf5(path)
    return shape


def raster(shape, seed: int, batch: int = 1, steps: int = 12, rate: float = 0.4) -> np.ndarray:
    """Random input spikes (batch, prod(shape), steps), channels flattened in (C, H, W) order."""
    rng = np.random.default_rng(seed)
    return (rng.random((batch, int(np.prod(shape)), steps)) < rate).astype(np.int64)
