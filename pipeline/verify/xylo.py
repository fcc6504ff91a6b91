"""Xylo runs for :mod:`snnpipe.pipeline.verify.chain`, all on the SAME integer configuration.

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

from snnpipe.hwmap.intsim.xylo import simulate as xylo_simulate
from snnpipe.hwmap.mappers.xylo_config import XyloConfig
from snnpipe.hwmap.targets.xylo import STATE_MAX, STATE_MIN, shifted_weight
from snnpipe.hwmap.targets.xylo import UNIT
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.verify.runs import Run, n_steps, outputs_of, torch_run


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


def torch_xylo_run(g, config: XyloConfig, layout: dict, x) -> Run:
    """``snnpipe.models.from_graph`` in the ``xylo`` precision on :func:`mapped_graph` (chip integers).
    ``outputs`` follow the original graph: ``v`` for an ``li`` readout, else spikes."""
    h = mapped_graph(g, config, layout)
    hidden = sorted((r[1], n) for n, r in layout.items() if r[0] == "hidden")
    order = list(g.graph["inputs"]) + [n for _, n in hidden]
    run, rec = torch_run(h, x, "xylo", UNIT, "torch-xylo", quantize=False, source_order=order)
    run.outputs = outputs_of(g, run.pops, n_steps(x))
    run.saturation = {"ordered 16-bit additions": int(sum(r["ordered"].sum() for n, r in rec.items()
                                                          if "ordered" in r))}
    return run


def _pops(g, layout: dict, spikes, spikes_out, states: dict) -> dict:
    pops = {}
    for node, (kind, a, b) in layout.items():
        if g.nodes[node]["kind"] != "neuron":
            continue
        if kind == "hidden":
            n_syn = int(g.nodes[node].get("n_syn", 1))
            u = np.stack([states["Isyn"][:, a:b], states["Isyn2"][:, a:b]], 1)[:, :n_syn]
            d = {"u": u, "v": states["Vmem"][:, a:b], "spikes": spikes[:, a:b]}
        else:
            d = {"u": states["Isyn_out"][:, None, a:b], "v": states["Vmem_out"][:, a:b],
                 "spikes": spikes_out[:, a:b]}
        pops[node] = {k: np.asarray(val, np.int64) for k, val in d.items()}
    return pops


def _channels(g, x) -> np.ndarray:
    """Input rasters as one (B, Nin, T) int64 array, inputs in graph order (the mapper's)."""
    if isinstance(x, dict):
        x = np.concatenate([np.asarray(x[n]) for n in g.graph["inputs"]], axis=1)
    return np.asarray(x, np.int64)


def intsim_xylo_run(g, config: XyloConfig, layout: dict, x) -> Run:
    """``snnpipe.hwmap.intsim.xylo.simulate`` with states; saturation: entries that took the ordered
    (saturating) path and recorded states at the 16-bit limits."""
    r = xylo_simulate(config, _channels(g, x), record=True)
    pops = _pops(g, layout, r.spikes, r.spikes_out, r.states)
    run = Run("intsim-xylo", pops, outputs_of(g, pops, n_steps(x)))
    run.saturation = {"ordered 16-bit additions": int(r.ordered_states),
                      "states at 16-bit limits": int(sum(
                          np.sum((s == STATE_MAX) | (s == STATE_MIN)) for s in r.states.values()))}
    return run


def xylosim_run(g, config: XyloConfig, layout: dict, x) -> Run:
    """SynSense's ``xylosim.v2`` (the reference of the target) on the same config."""
    from snnpipe.hwmap.intsim.xylo_ref import XyloReference

    r = XyloReference(config).run(_channels(g, x), record=True)
    pops = _pops(g, layout, r["spikes"], r["spikes_out"], r)
    return Run("xylosim", pops, outputs_of(g, pops, n_steps(x)))
