"""What a graph's outputs emit, from the recorded populations: ``spikes`` of a ``cuba``
population, ``v`` of an ``li`` readout, and the weighted sum of a ``merge`` (which emits in the
same step as its sources, after their in-edge delays)."""
from __future__ import annotations

import numpy as np

from snnpipe.pipeline.ir import readout
from snnpipe.pipeline.ir.graph import size, topological_order


def merge_sums(graph, spikes: dict, steps: int) -> dict:
    """Emission (B, N, T) of every merge from the spikes (B, N, T) of its sources (no latency,
    in-edge delays and weights applied)."""
    out = {}
    for m in (n for n in topological_order(graph) if graph.nodes[n]["kind"] == "merge"):
        total = 0
        for u, _, d in graph.in_edges(m, data=True):
            src = spikes.get(u, out.get(u))
            if src is None:
                continue
            dl = int(np.max(d.get("delay", 0)))
            shifted = np.zeros_like(src)
            shifted[..., dl:] = src[..., :steps - dl]
            w = np.asarray(d["weight"], np.float64).reshape(-1)
            n = size(graph.nodes[m]["shape"])
            w = w if w.size in (1, n) else np.repeat(w, n // graph.nodes[m]["shape"][0])
            total = total + shifted * w.reshape(1, -1, 1)
        out[m] = np.rint(np.asarray(total)).astype(np.int64)
    return out


def outputs_of(graph, pops: dict, steps: int, merges: dict | None = None) -> dict:
    """Graph output -> emission (B, N, T): ``spikes`` of a cuba, ``v`` of an li, a merge's sum;
    a node's host-side readout applied (:mod:`snnpipe.pipeline.ir.readout`: (B, groups, T))."""
    spikes = {n: p["spikes"] for n, p in pops.items() if "spikes" in p}
    merges = merge_sums(graph, spikes, steps) if merges is None else merges
    out = {}
    for o in graph.graph["outputs"]:
        d = graph.nodes[o]
        if d["kind"] == "merge":
            out[o] = merges[o]
        elif o in pops:
            out[o] = pops[o]["v"] if d.get("model") == "li" else pops[o]["spikes"]
        if o in out:
            out[o] = readout.apply(d, out[o])
    return out
