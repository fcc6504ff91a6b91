"""The Graph that a Xylo configuration computes, in the units of the models' ``xylo`` precision.

The Graph's CUBA decays a current before adding the input (``u = u (1 - d) + x``); the chip adds
first (``I = (I + x) - decay(I + x)``), and the mapper divides weights by ``1 - 2^-dash`` to
keep the Graph's response. So the float Graph and the chip agree only approximately; what can
be verified bit for bit is the mapped configuration. :func:`mapped_graph` turns a
:class:`XyloConfig` back into a Graph of the original topology whose parameters are the chip's
integers over ``UNIT`` (1024, the state units per float unit of the models' ``xylo``
precision): weights ``wrap16(w << shift) / 1024``, thresholds and biases ``/ 1024``, decays
``2^-dash``; hidden populations multi-spike (cap 31), outputs binary, both with Xylo's
subtractive ``>=`` reset; ``li`` readouts become output neurons with the config's threshold
(``STATE_MAX``: they fire only when ``Vmem_out`` saturates). ``snnpipe.models.from_graph.build(...,
"xylo", quantize=False)`` on it computes the chip's integers exactly: input edges have latency
0, hidden -> hidden and hidden -> output 1; a step's input that could saturate is added event
by event in the chip's order; merges are alias sums capped at 31.

States in chip integers: ``u`` = (``Isyn``, ``Isyn2``) of hidden neurons, ``Isyn_out`` of
outputs; ``v`` = ``Vmem`` / ``Vmem_out``; all after the step's decay and reset.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.mappers.xylo_config import XyloConfig
from snnpipe.hwmap.targets.xylo import UNIT, shifted_weight
from snnpipe.pipeline.ir import graph as G


def _decay(dash) -> np.ndarray:
    return np.exp2(-np.asarray(dash, np.float64))


def mapped_graph(g, config: XyloConfig, layout: dict):
    """The Graph that the integers of ``config`` compute (see the module docstring).

    ``layout``: ``QuantReport.layout`` of the mapper, node -> ("hidden" | "output", a, b).
    """
    h = G.new_graph(f"{g.graph.get('name', 'net')}@xylo", g.graph.get("dt", 1e-3))
    starts, n_in = {}, 0
    for node in g.graph["inputs"]:
        G.add_input(h, node, g.nodes[node]["shape"])
        starts[node] = ("input", n_in, n_in + G.size(g.nodes[node]["shape"]))
        n_in = starts[node][2]
    starts.update(layout)
    c = config
    for node in G.topological_order(g):
        d = g.nodes[node]
        if d["kind"] == "merge":
            G.add_merge(h, node, d["shape"])
        elif d["kind"] == "neuron":
            kind, a, b = layout[node]
            if kind == "hidden":
                n_syn = int(d.get("n_syn", 1))
                cd = np.stack([_decay(c.dash_syn[a:b]), _decay(c.dash_syn_2[a:b])])[:n_syn]
                G.add_neuron(h, node, d["shape"], n_syn=n_syn, current_decay=cd,
                             voltage_decay=_decay(c.dash_mem[a:b]),
                             threshold=c.threshold[a:b] / UNIT, bias=c.bias[a:b] / UNIT,
                             reset="subtract", spike="multi")
            else:
                G.add_neuron(h, node, d["shape"], current_decay=_decay(c.dash_syn_out[a:b])[None],
                             voltage_decay=_decay(c.dash_mem_out[a:b]),
                             threshold=c.threshold_out[a:b] / UNIT, bias=c.bias_out[a:b] / UNIT,
                             reset="subtract", spike="binary")
    seen = set()
    for u, v, d in g.edges(data=True):
        syn = int(d.get("syn", 0))
        if g.nodes[v]["kind"] == "merge":
            G.add_identity(h, u, v)
            continue
        if (u, v, syn) in seen:        # the mapper sums parallel edges into one block
            continue
        seen.add((u, v, syn))
        (src_kind, a, b), (dst_kind, p, q) = starts[u], starts[v]
        if src_kind == "input":
            w = shifted_weight(c.weights_in[a:b, p:q, syn], c.weight_shift_in)
        elif dst_kind == "output":
            w = shifted_weight(c.weights_out[a:b, p:q], c.weight_shift_out)
        else:
            w = shifted_weight(c.weights_rec[a:b, p:q, syn], c.weight_shift_rec)
        G.add_dense(h, u, v, w.T / UNIT, syn=syn, recurrent=bool(d.get("recurrent")))
    G.set_outputs(h, g.graph["outputs"])
    return h
