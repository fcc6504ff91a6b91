"""A Graph lowered for the torch graph runner (:mod:`snnpipe.models.from_graph`): one
:class:`Hop` per (edge into a neuron population, source through merges), with its weights in
the runner's precision, delays split into terms, and each node's latency from the inputs.
The timing and weight conventions are the runner's (see its module docstring).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from snnpipe.hwmap.targets import loihi
from snnpipe.models.neurons.cuba_xylo import quantize_weight_xylo
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.graph import edges, size

MAX_CONV_MATRIX = 1 << 22    # convolutions up to this N_dst * N_src run as one matrix product


@dataclass
class Hop:
    """One projection into a neuron population after folding merges.

    ``terms``: [(delay steps, weight)] with weight (N_dst, N_src) for dense, (N,) for identity,
    (C_out, C_in/g, kh, kw) for conv (one term, its delay); ``in_scale`` (N_src,) multiplies the
    source before a conv (merge weights); ``latency`` steps (0 or 1).
    """

    src: str
    dst: str
    syn: int
    op: str
    terms: list
    latency: int
    conv: dict | None = None
    in_scale: torch.Tensor | None = None


def _sources(g, node, weight: np.ndarray, delay) -> list:
    """Resolve ``node`` through merges: [(source, channel weight (N,), delay)]."""
    if g.nodes[node]["kind"] != "merge":
        return [(node, weight, delay)]
    out = []
    n = size(g.nodes[node]["shape"])
    for src, _, d in g.in_edges(node, data=True):
        if d["op"] != "identity":
            raise GraphError("merge in-edges must be identity edges", where=f"{src} -> {node}",
                             field="op", expected="identity", found=d["op"])
        w = weight * channel_weight(d["weight"], g.nodes[node]["shape"], n)
        out += _sources(g, src, w, delay + np.asarray(d.get("delay", 0), np.int64))
    return out


def channel_weight(w, shape, n: int) -> np.ndarray:
    """A scalar, per-channel (C,) or per-neuron (N,) weight as (N,) float64."""
    w = np.asarray(w, np.float64).reshape(-1)
    if w.size in (1, n):
        return np.broadcast_to(w, (n,)).copy()
    return np.repeat(w, n // int(shape[0]))


def convolve(x: torch.Tensor, w: torch.Tensor, c: dict) -> torch.Tensor:
    """A conv or, ``c["transposed"]``, a transposed conv (no output padding) of (B, C, H, W)."""
    fn = F.conv_transpose2d if c.get("transposed") else F.conv2d
    return fn(x, w, None, stride=c["stride"], padding=c["padding"], dilation=c["dilation"],
              groups=c["groups"])


def _conv_matrix(w: torch.Tensor, conv: dict, n_src: int) -> torch.Tensor:
    """The (N_dst, N_src) matrix of a convolution (each entry one kernel weight or 0): the
    convolution of every one-hot input."""
    eye = torch.eye(n_src, dtype=w.dtype).reshape((n_src,) + conv["in_shape"])
    return convolve(eye, w, conv).reshape(n_src, -1).T.contiguous()


def _quantize(w: np.ndarray, precision: str, quantize: bool) -> np.ndarray:
    if not quantize or precision == "float":
        return w
    if precision == "loihi":
        return loihi.weight_to_int(w) / loihi.WEIGHT_UNIT
    return quantize_weight_xylo(torch.as_tensor(w)).double().numpy()


def _terms(w: np.ndarray, delay: np.ndarray, dtype) -> list:
    """Split weights by delay value: [(d, weight where delay == d)]."""
    delay = np.broadcast_to(delay, w.shape)
    return [(int(d), torch.as_tensor(np.where(delay == d, w, 0.0), dtype=dtype))
            for d in np.unique(delay)]


def _dense_delay(d: dict, extra, shape) -> np.ndarray:
    """Edge delay (scalar, (N_dst,), (N_dst, N_src)) plus merge delay (scalar or (N_src,))."""
    dl = np.asarray(d.get("delay", 0), np.int64)
    if dl.ndim == 1 and dl.shape[0] == shape[0]:
        dl = dl[:, None]
    extra = np.asarray(extra, np.int64)
    return np.broadcast_to(dl, shape) + (extra[None, :] if extra.ndim == 1 else extra)


def lower(g, precision: str = "loihi", quantize: bool = True, input_latency: int | None = None,
          dtype=torch.float64, fold_merges: bool | None = None) -> list:
    """The :class:`Hop` list of ``g``: one per (edge into a neuron, source through merges).

    ``fold_merges`` (default: all precisions but xylo) resolves merges into their sources as
    Lava does; unfolded, a hop reads the merge's own emission (as Xylo's alias relay neurons).
    """
    if input_latency is None:
        input_latency = 0 if precision == "xylo" else 1
    if fold_merges is None:
        fold_merges = precision != "xylo"
    hops = []
    for src, dst, key, d in edges(g):
        if g.nodes[dst]["kind"] != "neuron":
            continue
        n_src, n_dst = size(g.nodes[src]["shape"]), size(g.nodes[dst]["shape"])
        sources = _sources(g, src, np.ones(n_src), np.zeros((), np.int64)) if fold_merges \
            else [(src, np.ones(n_src), np.zeros((), np.int64))]
        for s, w, extra in sources:
            lat = input_latency if g.nodes[s]["kind"] == "input" else 1
            syn = int(d.get("syn", 0))
            if d["op"] in ("conv", "conv_transpose"):
                conv = {k: tuple(d[k]) for k in ("stride", "padding", "dilation")}
                conv.update(groups=int(d.get("groups", 1)), in_shape=tuple(g.nodes[src]["shape"]),
                            transposed=d["op"] == "conv_transpose")
                wq = torch.as_tensor(_quantize(np.asarray(d["weight"], np.float64), precision,
                                               quantize), dtype=dtype)
                dl = int(np.max(np.asarray(d.get("delay", 0)) + np.asarray(extra)))
                if n_src * n_dst <= MAX_CONV_MATRIX:
                    conv["matrix"] = _conv_matrix(wq, conv, n_src)
                hops.append(Hop(s, dst, syn, "conv", [(dl, wq)], lat, conv,
                                torch.as_tensor(w, dtype=dtype)))
            elif d["op"] == "dense":
                wf = np.asarray(d["weight"], np.float64).reshape(n_dst, n_src) * w[None, :]
                wq = _quantize(wf, precision, quantize)
                hops.append(Hop(s, dst, syn, "dense",
                                _terms(wq, _dense_delay(d, extra, wq.shape), dtype), lat))
            else:
                wf = channel_weight(d["weight"], g.nodes[dst]["shape"], n_dst) * w
                wq = _quantize(wf, precision, quantize)
                dl = np.broadcast_to(np.asarray(d.get("delay", 0), np.int64), (n_dst,)) + extra
                hops.append(Hop(s, dst, syn, "identity", _terms(wq, dl, dtype), lat))
    return hops


def latencies(g, hops: list) -> dict:
    """Fewest steps from an input to each reachable node (index of its first response)."""
    dist = {n: 0 for n in g.graph["inputs"]}
    arcs = [(h.src, h.dst, h.latency + min(d for d, _ in h.terms)) for h in hops]
    arcs += [(u, m, int(np.min(d.get("delay", 0)))) for u, m, d in g.edges(data=True)
             if g.nodes[m]["kind"] == "merge"]
    for _ in range(g.number_of_nodes() + 1):
        changed = False
        for src, dst, steps in arcs:
            if src in dist and dist[src] + steps < dist.get(dst, 1 << 60):
                dist[dst], changed = dist[src] + steps, True
        if not changed:
            break
    return dist
