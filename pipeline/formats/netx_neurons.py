"""Neurons, biases and geometry of netx layers (DESIGN.md 5.5), shared by the readers of
:mod:`snnpipe.pipeline.formats.netx_layout` and :mod:`snnpipe.pipeline.formats.netx_layers`.

``neuron/*`` (CUBA: ``iDecay``, ``vDecay`` in 1/4096 per step, ``vThMant`` in 1/64,
``refDelay``, ``gradedSpike``; SDNN: :mod:`snnpipe.pipeline.formats.netx_sdnn`), ``bias`` in
1/64 (netx truncates it to an integer), ``shape`` and (H, W) pairs.
"""
from __future__ import annotations

import numpy as np

from snnpipe.pipeline.formats import netx_sdnn
from snnpipe.pipeline.formats.h5util import fail, group, read_array, read_int, read_str
from snnpipe.pipeline.ir import graph as G

# netx's neuron for a layer without ``neuron/`` (hdf5.py: ``1 << 18 - 1`` is 1 << 17).
NETX_DEFAULT_NEURON = {"iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}


def layer_shape(lay, file, where, ndims=(1, 2, 3)) -> tuple:
    """The layer's ``shape`` (netx: (C, H, W) or (N,)), positive, with a length in ``ndims``."""
    s = read_array(lay, "shape", file, where, "int")
    if s.ndim != 1 or len(s) not in ndims or np.any(s <= 0):
        raise fail(file, where, "shape", "bad shape", f"{ndims} positive ints", s.tolist())
    return tuple(int(v) for v in s)


def population(g, node, shape, lay, per_channel: int, prev, file, where) -> str:
    """Add the population of layer ``lay`` (its ``neuron/*`` and ``bias``) as ``node``."""
    n = G.size(shape)
    bias = read_bias(lay, n, per_channel, file, where)
    p = neuron_params(lay, n, file, where, first=prev is None)
    if p.pop("model") == "sigma_delta":
        netx_sdnn.check_layer(p, bias, g.nodes[prev]["kind"] if prev else "", file, where)
        return G.add_sigma_delta(g, node, shape, bias=bias, **p)
    return G.add_neuron(g, node, shape, bias=bias, **p)


def neuron_params(lay, n: int, file, where, first: bool = False) -> dict:
    """Float neuron parameters from ``neuron/*`` (netx's default when absent)."""
    if "neuron" not in lay:
        p, graded, ref = dict(NETX_DEFAULT_NEURON), False, 1
    else:
        nrn = group(lay, "neuron", file, where)
        w = where + "/neuron"
        kind = read_str(nrn, "type", file, w)
        if kind == netx_sdnn.TYPE:
            return netx_sdnn.read_neuron(nrn, file, w, first=first)
        if kind not in ("CUBA", "LOIHI"):
            raise fail(file, w, "type", "unsupported neuron type",
                       "CUBA | LOIHI | SDNN | RF_PHASE | RF_IZHIKEVICH", kind)
        per = {(), (1,), (n,)}
        p = {k: read_array(nrn, k, file, w, "int", per) for k in ("iDecay", "vDecay", "vThMant")}
        graded = bool(read_array(nrn, "gradedSpike", file, w, "bool", {(), (1,)}).reshape(())
                      ) if "gradedSpike" in nrn else False
        ref = read_int(nrn, "refDelay", file, w) if "refDelay" in nrn else 1

    def squeeze(a):
        a = np.asarray(a, dtype=np.float64)
        return a.reshape(()) if a.size == 1 else a

    cd = squeeze(p["iDecay"]) / 4096.0
    return dict(model="cuba", n_syn=1, current_decay=cd.reshape((1,) + cd.shape),
                voltage_decay=squeeze(p["vDecay"]) / 4096.0,
                threshold=squeeze(p["vThMant"]) / 64.0,
                spike="graded" if graded else "binary", refractory=max(ref - 1, 0))


def read_bias(lay, n_out: int, per_channel: int, file, where) -> np.ndarray:
    if "bias" not in lay:
        return np.zeros(())
    b = read_array(lay, "bias", file, where, "float", {(), (1,), (per_channel,)})
    b = np.trunc(b.astype(np.float64)) / 64.0           # netx: bias.astype(int)
    return b.reshape(()) if b.size == 1 else np.repeat(b, n_out // per_channel)


def pair(lay, name, file, where, default) -> tuple[int, int]:
    """An (H, W) pair of ints (a scalar is broadcast); ``default`` for both when absent."""
    if name not in lay:
        return (default, default)
    a = read_array(lay, name, file, where, "int", {(), (1,), (2,)})
    return tuple(int(v) for v in np.broadcast_to(a.reshape(-1), (2,)))


def geometry(lay, file, where, stride=(1, 1)) -> dict:
    """``stride``, ``padding`` and ``dilation`` (H, W) pairs of a conv-like layer (defaults
    ``stride``, 0, 1), checked: stride >= 1, padding >= 0, dilation >= 1."""
    geo = {"stride": pair(lay, "stride", file, where, 1) if "stride" in lay else tuple(stride),
           "padding": pair(lay, "padding", file, where, 0),
           "dilation": pair(lay, "dilation", file, where, 1)}
    if min(geo["stride"]) < 1 or min(geo["dilation"]) < 1 or min(geo["padding"]) < 0:
        raise fail(file, where, "stride", "bad conv geometry",
                   "stride >= 1, padding >= 0, dilation >= 1", geo)
    return geo
