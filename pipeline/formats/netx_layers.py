"""The netx layer types that lava-dl's netx 0.6.0 refuses (``NotImplementedError``) although
slayer trains and exports them: ``pool``, ``convT`` and ``unpool`` load here as slayer's
forward computes them (``lava.lib.dl.slayer.synapse.layer``, DESIGN.md 5.5); ``average``,
``concat`` and ``dense_comp`` are refused, naming the layer and why.

Datasets (as ``slayer.block.base`` writes them; weights in 1/64, (H, W) pairs):

- ``pool``: ``shape`` (C, H', W'), ``kernelSize``, ``stride`` (default: the kernel),
  ``padding``, ``dilation``, ``weight`` (1, 1, kh, kw), ``neuron/*``. slayer's ``Pool`` is one
  convolution over the channels stacked along H, (1, C*H, W), after padding an H (W) that the
  kernel does not divide with ``H % kh`` zero rows below each channel (``W % kw`` columns to the
  right). Read as a ``conv`` edge with ``groups = C`` and the kernel repeated per channel, which
  is the same map when no window crosses a channel: H and W multiples of the kernel, and for
  C > 1 no H padding and ``H' * stride_h == H``. Other geometries are refused.
- ``convT``: ``shape``, ``inChannels``, ``outChannels``, ``kernelSize``, ``stride``,
  ``padding``, ``dilation``, ``groups``, ``weight`` (C_in, C_out/groups, kh, kw) (torch's
  ConvTranspose layout; slayer uses no output padding), optional ``bias`` per channel. Read as a
  ``conv_transpose`` edge.
- ``unpool``: as ``pool``, a transposed convolution of the stacked channels. Read as a
  ``conv_transpose`` edge with ``groups = C``, the same map when for C > 1 there is no H padding
  and ``dilation_h * (kh - 1) + 1 == stride_h`` (the default: stride = kernel).

Delays on these layers are refused (our conv-like edges carry one delay; slayer writes one per
channel). Node ids are ``layer<i>`` as for the other netx layers.
"""
from __future__ import annotations

import h5py
import numpy as np

from snnpipe.pipeline.formats.h5util import fail, read_array, read_int
from snnpipe.pipeline.formats.netx_neurons import geometry, layer_shape, population
from snnpipe.pipeline.ir import graph as G

READ = ("pool", "convT", "unpool")
# netx layer type -> why we refuse it
REFUSED = {
    "average": "slayer's Average block is a float mean over groups with no neuron (its own "
               "export_hdf5 raises AttributeError: 'Average' object has no attribute 'neuron'), "
               "a 1/k weight that Loihi's 8-bit weights do not hold in general",
    "concat": "no slayer block writes it and a sequential layer/ list names no second input",
    "dense_comp": "complex-valued dense layers have no form in our graph",
}


def read(g, lay: h5py.Group, kind: str, i: int, prev, file, where: str):
    """Add layer ``lay`` (netx ``type`` ``kind`` in :data:`READ`) after node ``prev``; returns
    its population node.

    Raises:
        FormatError: naming the file, ``layer/<i>`` and the field for a refused type, a missing
            or malformed dataset or a geometry that slayer's forward computes otherwise.
    """
    if kind in REFUSED:
        raise fail(file, where, "type", f"netx layer type {kind!r} is not supported: "
                   + REFUSED[kind], " | ".join(READ), kind)
    in_shape = tuple(g.nodes[prev]["shape"])
    if len(in_shape) != 3:
        raise fail(file, where, "type", f"{kind} needs a (C, H, W) input", "3-d input", in_shape)
    if "delay" in lay:
        raise fail(file, where, "delay", f"{kind} delays are not supported")
    if kind == "convT":
        return _conv_transpose(g, lay, i, prev, in_shape, file, where)
    return _pooling(g, lay, kind, i, prev, in_shape, file, where)


def _kernel(lay, file, where) -> np.ndarray:
    """``weight`` without slayer's trailing time axis (…, kh, kw, 1), as a 4-d array."""
    w = read_array(lay, "weight", file, where, "float")
    if w.ndim == 5 and w.shape[4] == 1:
        w = w[..., 0]
    if w.ndim == 2:
        w = w[None, None]
    if w.ndim != 4:
        raise fail(file, where, "weight", "bad kernel", "(C_a, C_b, kh, kw)", w.shape)
    if "kernelSize" in lay:
        k = read_array(lay, "kernelSize", file, where, "int", {(), (1,), (2,)})
        if tuple(np.broadcast_to(k.reshape(-1), (2,))) != w.shape[2:]:
            raise fail(file, where, "kernelSize", "kernelSize differs from the weight's",
                       w.shape[2:], k.tolist())
    return w / 64.0


def _check_shape(lay, out, file, where, kind) -> tuple:
    shape = layer_shape(lay, file, where, (3,))
    if tuple(out) != shape:
        raise fail(file, where, "shape", f"{kind} output shape differs from the layer's",
                   tuple(out), shape)
    return shape


def _conv_transpose(g, lay, i, prev, in_shape, file, where):
    w = _kernel(lay, file, where)
    groups = read_int(lay, "groups", file, where) if "groups" in lay else 1
    if groups < 1 or w.shape[0] != in_shape[0] or in_shape[0] % groups:
        raise fail(file, where, "weight", "convT weight does not fit its input",
                   f"({in_shape[0]}, C_out/groups, kh, kw), groups dividing {in_shape[0]}",
                   f"{w.shape}, groups={groups}")
    for field, n in (("inChannels", in_shape[0]), ("outChannels", w.shape[1] * groups)):
        if field in lay and read_int(lay, field, file, where) != n:
            raise fail(file, where, field, f"{field} differs from the weight's", n,
                       read_int(lay, field, file, where))
    geo = geometry(lay, file, where)
    shape = _check_shape(lay, G.conv_transpose_output_shape(in_shape, w.shape, groups=groups,
                                                            **geo), file, where, "convT")
    node = population(g, f"layer{i}", shape, lay, shape[0], prev, file, where)
    G.add_conv_transpose(g, prev, node, w, groups=groups, **geo)
    return node


def _pooling(g, lay, kind, i, prev, in_shape, file, where):
    w = _kernel(lay, file, where)
    if w.shape[:2] != (1, 1):
        raise fail(file, where, "weight", f"{kind} has one kernel for every channel",
                   "(1, 1, kh, kw)", w.shape)
    c, h, wd = in_shape
    kh, kw = w.shape[2:]
    geo = geometry(lay, file, where, stride=(kh, kw))   # slayer: stride defaults to the kernel
    (sh, _), (ph, _), (dh, _) = geo["stride"], geo["padding"], geo["dilation"]
    per_channel = np.repeat(w, c, axis=0)           # (C, 1, kh, kw), groups = C
    if kind == "pool":
        if h % kh or wd % kw:
            raise fail(file, where, "kernelSize", "slayer's Pool pads an input that the kernel "
                       "does not divide with H % kh zero rows below each channel (W % kw "
                       "columns right), a one-sided padding that a conv does not express",
                       "input H, W multiples of the kernel", f"{(h, wd)} by {(kh, kw)}")
        out = G.conv_output_shape(in_shape, per_channel.shape, **geo)
        if c > 1 and (ph or out[1] * sh != h):
            raise _stacked(file, where, kind, "H padding 0 and H' * stride_h == H", geo)
        shape = _check_shape(lay, out, file, where, kind)
        node = population(g, f"layer{i}", shape, lay, shape[0], prev, file, where)
        G.add_conv(g, prev, node, per_channel, groups=c, **geo)
        return node
    if c > 1 and (ph or dh * (kh - 1) + 1 != sh):
        raise _stacked(file, where, kind, "H padding 0 and dilation_h * (kh - 1) + 1 == "
                       "stride_h", geo)
    out = G.conv_transpose_output_shape(in_shape, per_channel.shape, groups=c, **geo)
    shape = _check_shape(lay, out, file, where, kind)
    node = population(g, f"layer{i}", shape, lay, shape[0], prev, file, where)
    G.add_conv_transpose(g, prev, node, per_channel, groups=c, **geo)
    return node


def _stacked(file, where, kind, expected, geo):
    name = "Pool" if kind == "pool" else "Unpool"
    return fail(file, where, "stride", f"slayer's {name} convolves the channels stacked along H "
                "(synapse.layer." + name + ".forward): with this geometry its windows cross "
                "channels, which no per-channel convolution expresses", expected, geo)
