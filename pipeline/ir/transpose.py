"""Transposed convolutions as the connectivity matrices of backends without a native one.

A ``conv_transpose`` edge (:mod:`snnpipe.pipeline.ir.graph`) is torch's ``conv_transpose2d``:
input neuron (ci, h, w) sends ``weight[ci, co_local, i, j]`` to output neuron
(co, h * sh - ph + i * dh, w * sw - pw + j * dw) when that lies inside the output, with
``co = (ci // (C_in / groups)) * (C_out / groups) + co_local``. Every (output, input) pair is
reached by at most one kernel tap, so each matrix entry is one kernel weight or 0 and any
per-weight quantisation (Loihi's, Lava's) gives the same values on the matrix as on the kernel.

Lava and the Loihi-style mapper have no transposed convolution: :func:`as_dense` rewrites each
``conv_transpose`` edge of a graph into the ``dense`` edge of this matrix, which they run as any
other dense projection (torch runs ``conv_transpose2d`` itself: snnpipe.models.from_graph).
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.graph import conv_transpose_output_shape, size

# Largest dense matrix (N_dst * N_src entries, float64) that as_dense builds.
MAX_DENSE = 1 << 25


def conv_transpose_entries(in_shape, weight, stride, padding, dilation, groups=1):
    """The non-structural-zero entries of the (N_dst, N_src) matrix of a transposed convolution.

    Args:
        in_shape: (C_in, H, W) of the source. weight: (C_in, C_out/groups, kh, kw), floats.
        stride, padding, dilation: (H, W) pairs. groups: channel groups.
    Returns:
        ``(rows, cols, values, out_shape)``: flat output and input indices (C, H, W order),
        the kernel weight of each, and the output shape (C_out, H', W').
    """
    w = np.asarray(weight, np.float64)
    c_in, h, wd = (int(v) for v in in_shape)
    _, co_g, kh, kw = w.shape
    out = conv_transpose_output_shape(in_shape, w.shape, stride, padding, dilation, groups)
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    ci, co, i, j, y, x = np.meshgrid(np.arange(c_in), np.arange(co_g), np.arange(kh),
                                     np.arange(kw), np.arange(h), np.arange(wd), indexing="ij")
    oy, ox = y * sh - ph + i * dh, x * sw - pw + j * dw
    oc = (ci // (c_in // groups)) * co_g + co
    inside = (oy >= 0) & (oy < out[1]) & (ox >= 0) & (ox < out[2])
    rows = ((oc * out[1] + oy) * out[2] + ox)[inside]
    cols = ((ci * h + y) * wd + x)[inside]
    return rows, cols, w[ci, co, i, j][inside], out


def conv_transpose_matrix(in_shape, weight, stride, padding, dilation, groups=1) -> np.ndarray:
    """The dense (N_dst, N_src) float64 matrix of a transposed convolution (see
    :func:`conv_transpose_entries` for the arguments)."""
    rows, cols, vals, out = conv_transpose_entries(in_shape, weight, stride, padding, dilation,
                                                   groups)
    m = np.zeros((size(out), size(in_shape)))
    m[rows, cols] = vals
    return m


def as_dense(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """``g`` with every ``conv_transpose`` edge replaced by the equivalent ``dense`` edge (same
    key, ``syn``, ``delay`` and ``recurrent``, in the same order); ``g`` itself when it has none.

    Raises:
        GraphError: a transposed convolution whose matrix exceeds :data:`MAX_DENSE` entries.
    """
    if not any(d.get("op") == "conv_transpose" for _, _, d in g.edges(data=True)):
        return g
    h = nx.MultiDiGraph()
    h.graph.update(g.graph)
    h.add_nodes_from(g.nodes(data=True))
    for u, v, k, d in g.edges(keys=True, data=True):
        if d.get("op") == "conv_transpose":
            n = size(g.nodes[u]["shape"]) * size(g.nodes[v]["shape"])
            if n > MAX_DENSE:
                raise GraphError("transposed convolution too large for a dense projection",
                                 where=f"{u} -> {v} [{k}]", field="weight",
                                 expected=f"N_dst * N_src <= {MAX_DENSE}", found=n)
            m = conv_transpose_matrix(g.nodes[u]["shape"], d["weight"], d["stride"],
                                      d["padding"], d["dilation"], d["groups"])
            d = {"op": "dense", "weight": m, "syn": d["syn"], "delay": d["delay"],
                 "recurrent": d["recurrent"]}
        h.add_edge(u, v, key=k, **d)
    return h
