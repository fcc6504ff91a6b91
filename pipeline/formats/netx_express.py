"""Which Graphs lava-dl's netx can express (DESIGN.md 5.5), and whether exactly.

:func:`chain` gives the netx layers of a sequential graph (CUBA or SDNN populations fed by
Dense, Conv or, for the input layer, identity projections), or None; :func:`lossless` says
whether quantising them to netx's integers loses nothing. The writer is
:mod:`snnpipe.pipeline.formats.netx_layout`.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from snnpipe.hwmap.targets import loihi
from snnpipe.pipeline.formats import netx_rf, netx_sdnn
from snnpipe.pipeline.ir import readout


def _cuba(d) -> bool:
    """A cuba population netx runs as written: one current, scalar decays and threshold."""
    return (d.get("kind") == "neuron" and d.get("model") == "cuba" and d.get("n_syn") == 1
            and np.shape(d["current_decay"]) == (1,) and np.ndim(d["voltage_decay"]) == 0
            and np.ndim(d["threshold"]) == 0 and d.get("reset") == "zero"
            and d.get("spike") == "binary" and d.get("refractory") == 0
            and (np.ndim(d["bias"]) == 0 or len(d["shape"]) == 1))


def _netx_neuron(d) -> bool:
    return _cuba(d) or netx_sdnn.expressible(d) or netx_rf.expressible(d)


def _plain(e) -> bool:
    return e["syn"] == 0 and not np.any(np.asarray(e["delay"]))


def channel_bias(d) -> bool:
    """The bias of a (C, H, W) population is one value per channel (netx's conv bias)."""
    b = np.asarray(d["bias"])
    return b.ndim == 0 or bool(np.all(b.reshape(d["shape"][0], -1) == b.reshape(
        d["shape"][0], -1)[:, :1]))


def chain(graph: nx.MultiDiGraph):
    """The netx layers of a sequential graph, or None when netx cannot express it.

    Returns ``[(node, in_edge_attrs, recurrent_self_edge_attrs | None), ...]`` from the first
    population to the output. An ``identity`` first edge (scalar weight) is netx's input neuron.
    An ``rf`` population has two dense in-edges: its step's edge is the real one, with the
    imaginary one under ``"imag"``.
    """
    ins, outs = graph.graph["inputs"], graph.graph["outputs"]
    if len(ins) != 1 or len(outs) != 1 or len(graph.nodes[ins[0]]["shape"]) not in (1, 3):
        return None
    if any(readout.of(d) for _, d in graph.nodes(data=True)):
        return None                                 # netx builds no average layer
    node, steps = ins[0], []
    while True:
        fwd = [(v, d) for _, v, d in graph.out_edges(node, data=True) if not d["recurrent"]]
        if not fwd:
            break
        if graph.nodes[fwd[0][0]].get("model") == "rf":
            pair = netx_rf.edge_pair([d for _, d in fwd])
            nxt = fwd[0][0]
            if (pair is None or any(v != nxt for v, _ in fwd) or graph.in_degree(nxt) != 2
                    or not netx_rf.expressible(graph.nodes[nxt])):
                return None
            steps.append((nxt, dict(pair[0], imag=pair[1]), None))
            node = nxt
            continue
        if len(fwd) != 1:
            return None
        nxt, edge = fwd[0]
        into = list(graph.in_edges(nxt, data=True))
        rec = [(u, d) for u, _, d in into if d["recurrent"]]
        if (len(into) - len(rec) != 1 or len(rec) > 1 or not _netx_neuron(graph.nodes[nxt])
                or not _plain(edge)):
            return None
        if rec and not (rec[0][0] == nxt and rec[0][1]["op"] == "dense" and _plain(rec[0][1])
                        and graph.nodes[nxt]["model"] == "cuba"):
            return None
        if edge["op"] not in ("dense", "conv", "identity"):
            return None                             # conv_transpose: no netx layer reads it
        if edge["op"] == "dense" and len(graph.nodes[nxt]["shape"]) != 1:
            return None                             # a netx dense layer is (n,)
        if edge["op"] == "identity" and (steps or np.ndim(edge["weight"])):
            return None
        if edge["op"] == "conv" and not channel_bias(graph.nodes[nxt]):
            return None
        steps.append((nxt, edge, rec[0][1] if rec else None))
        node = nxt
    if node != outs[0] or len(steps) + 1 != graph.number_of_nodes():
        return None
    first_is_input = bool(steps) and steps[0][1]["op"] == "identity"
    if not netx_sdnn.order_ok([graph.nodes[n] for n, _, _ in steps], first_is_input):
        return None
    return steps


def to_64ths(x):
    """Float values in 1/64 units, rounded to integers (float64)."""
    return np.rint(np.asarray(x, dtype=np.float64) * 64)


def _exact(x, to_int, unit) -> bool:
    x = np.asarray(x, dtype=np.float64)
    return bool(np.array_equal(to_int(x) / unit, x))


def lossless(graph: nx.MultiDiGraph, steps) -> bool:
    """True when quantising ``steps`` to netx integers and reading them back is exact (a
    periodic reset is a run-time argument of netx that no netx file stores: never)."""
    for node, edge, rec in steps:
        d = graph.nodes[node]
        if d.get("reset_interval"):
            return False
        if d["model"] == "rf":
            if not (netx_rf.lossless(d) and _exact(edge["imag"]["weight"], loihi.weight_to_int,
                                                   64)):
                return False
        elif d["model"] == "sigma_delta":
            if not netx_sdnn.lossless(d):
                return False
        elif not (_exact(d["current_decay"], loihi.decay_to_int, 4096)
                  and _exact(d["voltage_decay"], loihi.decay_to_int, 4096)
                  and _exact(d["threshold"], loihi.threshold_to_int, 64)
                  and _exact(d["bias"], to_64ths, 64)):
            return False
        for e in (edge, rec) if rec is not None else (edge,):
            w = e["weight"]
            to_int = to_64ths if e["op"] == "identity" else loihi.weight_to_int
            if not _exact(w, to_int, 64):
                return False
    return True
