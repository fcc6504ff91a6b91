"""The netx layer types that lava-dl's netx 0.6.0 refuses (``NotImplementedError``) although
slayer trains and exports them: ``pool``, ``convT`` and ``unpool`` load here as slayer's
forward computes them (``lava.lib.dl.slayer.synapse.layer``, DESIGN.md 5.5); a last
``average`` layer is the output's host-side mean (:func:`average_groups`); ``concat`` and
``dense_comp`` are refused, naming the layer and why.

Datasets (as ``slayer.block.base`` writes them; weights in 1/64, (H, W) pairs):

- ``pool``: ``shape`` (C, H', W'), ``kernelSize``, ``stride`` (default: the kernel),
  ``padding``, ``dilation``, ``weight`` (1, 1, kh, kw), ``neuron/*``. slayer's ``Pool`` is one
  convolution over the channels stacked along H, (1, C*H, W), after padding an H (W) that the
  kernel does not divide with ``H % kh`` zero rows below each channel (``W % kw`` columns to the
  right) (:mod:`snnpipe.pipeline.formats.netx_stacked`). Where that is a per-channel conv (H
  and W multiples of the kernel and, for C > 1, no H padding and ``H' * stride_h == H``: the
  default stride = kernel on such sizes) it is read as a ``conv`` edge with ``groups = C`` and
  the kernel repeated per channel; otherwise (windows that cross channels or meet the one-sided
  padding) as the ``dense`` edge of slayer's exact map, up to ``MAX_DENSE`` entries.
- ``convT``: ``shape``, ``inChannels``, ``outChannels``, ``kernelSize``, ``stride``,
  ``padding``, ``dilation``, ``groups``, ``weight`` (C_in, C_out/groups, kh, kw) (torch's
  ConvTranspose layout; slayer uses no output padding), optional ``bias`` per channel. Read as a
  ``conv_transpose`` edge.
- ``unpool``: as ``pool``, a transposed convolution of the stacked channels: a
  ``conv_transpose`` edge with ``groups = C`` where for C > 1 there is no H padding and
  ``dilation_h * (kh - 1) + 1 == stride_h`` (the default: stride = kernel), else the ``dense``
  edge of slayer's exact map.

Geometries on which slayer's own forward fails (output rows that the channels do not divide)
are refused, and so are delays on these layers (our conv-like edges carry one delay; slayer
writes one per channel). Node ids are ``layer<i>`` as for the other netx layers.
"""
from __future__ import annotations

import h5py
import numpy as np

from snnpipe.pipeline.formats import netx_stacked
from snnpipe.pipeline.formats.h5util import fail, read_array, read_int
from snnpipe.pipeline.formats.netx_neurons import geometry, layer_shape, population
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.transpose import MAX_DENSE

READ = ("pool", "convT", "unpool")
# netx layer type -> why we refuse it
AVERAGE = "average"    # the last layer only: a host-side mean (average_groups)
REFUSED = {
    "concat": "a concat layer joins the outputs of the layers its 'layers' lists (netx's "
              "skip connections); our graph has no concatenation (a merge sums) and no slayer "
              "block writes one",
    "dense_comp": "complex-valued dense layers have no form in our graph",
}


def read(g, lay: h5py.Group, kind: str, i: int, prev, file, where: str):
    """Add layer ``lay`` (netx ``type`` ``kind``, one of :data:`READ` or :data:`REFUSED`)
    after node ``prev``; returns its population node.

    Raises:
        FormatError: naming the file, ``layer/<i>`` and the field for a refused type, a missing
            or malformed dataset, a delay, a geometry that slayer's own forward cannot run or a
            stacked-channel map larger than ``MAX_DENSE``.
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
        out = G.conv_output_shape(in_shape, per_channel.shape, **geo)
        if not (h % kh or wd % kw) and (c == 1 or (ph == 0 and out[1] * sh == h)):
            node = _node(g, lay, i, prev, out, file, where, kind)
            G.add_conv(g, prev, node, per_channel, groups=c, **geo)
            return node
    elif c == 1 or (ph == 0 and dh * (kh - 1) + 1 == sh):
        out = G.conv_transpose_output_shape(in_shape, per_channel.shape, groups=c, **geo)
        node = _node(g, lay, i, prev, out, file, where, kind)
        G.add_conv_transpose(g, prev, node, per_channel, groups=c, **geo)
        return node
    return _stacked(g, lay, kind, i, prev, in_shape, w[0, 0], geo, file, where)


def _node(g, lay, i, prev, out, file, where, kind) -> str:
    shape = _check_shape(lay, out, file, where, kind)
    return population(g, f"layer{i}", shape, lay, shape[0], prev, file, where)


def _stacked(g, lay, kind, i, prev, in_shape, kernel, geo, file, where):
    """A geometry where slayer's stacked-channel view mixes channels or pads one side: the
    exact map as a dense edge (netx_stacked)."""
    entries = (netx_stacked.pool_entries if kind == "pool" else netx_stacked.unpool_entries)(
        in_shape, kernel, **geo)
    name = "Pool" if kind == "pool" else "Unpool"
    if entries[0] is None:
        raise fail(file, where, "stride", f"slayer's {name} cannot run this geometry: its "
                   "output rows of the channels stacked along H do not split into the channels "
                   f"(synapse.layer.{name}.forward raises RuntimeError)",
                   "a number of output rows that the channels divide", geo)
    n = G.size(entries[3]) * G.size(in_shape)
    if n > MAX_DENSE:
        raise fail(file, where, "stride", f"slayer's {name} mixes channels (or pads one side) "
                   "with this geometry; its exact map is too large for a dense projection",
                   f"N_out * N_in <= {MAX_DENSE}", n)
    node = _node(g, lay, i, prev, entries[3], file, where, kind)
    G.add_dense(g, prev, node, netx_stacked.matrix(in_shape, entries))
    return node


def average_groups(g, lay: h5py.Group, prev, last: bool, file, where: str) -> int:
    """The groups of an ``average`` layer (``shape`` (k, 1, 1): slayer's ``Average(k)``, the
    mean of the previous layer's emission over k contiguous groups of its neurons), which we
    read as a host-side readout of that layer (:mod:`snnpipe.pipeline.ir.readout`): no
    neuron, no weight, no chip holds it, so it must be the last layer."""
    if not last:
        raise fail(file, where, "type", "an average layer is read as the output's host-side "
                   "mean, so it must be the last layer", "the last layer", where)
    shape = layer_shape(lay, file, where)
    n = G.size(g.nodes[prev]["shape"])
    if G.size(shape) != shape[0] or n % shape[0]:
        raise fail(file, where, "shape", "average groups must divide the previous layer",
                   f"(k, 1, 1) with k dividing {n}", list(shape))
    return int(shape[0])
