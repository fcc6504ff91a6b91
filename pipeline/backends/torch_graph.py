"""Torch backends: the graph run by :func:`snnpipe.models.from_graph.build` in one precision.

``torch-float`` and ``torch-loihi`` run a ``graph`` Compiled (float units; Loihi integers,
4096 per float unit); ``torch-xylo`` runs a ``xylo`` Compiled: the Graph that the mapped
configuration computes (:func:`snnpipe.hwmap.mappers.xylo_graph.mapped_graph`), in chip
integers, so that the mapper's rounding is part of what runs. Every population is recorded.
``torch-loihi`` also counts the Loihi register events along its trajectory (24-bit wraps of
``u``, saturations of ``v``), which Lava's fixed point and the Loihi-style simulator apply
identically; ``torch-xylo`` counts the step inputs added event by event because they could
saturate 16 bits.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.mappers.loihi_quant import quantize
from snnpipe.hwmap.mappers.xylo_graph import mapped_graph
from snnpipe.hwmap.targets import loihi
from snnpipe.hwmap.targets.loihi import SD_STATES
from snnpipe.hwmap.targets.xylo import UNIT as XYLO_UNIT
from snnpipe.pipeline.backends.base import Backend, Compiled, Run, n_steps
from snnpipe.pipeline.backends.emission import outputs_of


def _record(graph, x, precision: str, unit: float | None, name: str, **build_kw):
    """``build(graph, precision)`` on x with every population recorded; states as integers of
    ``unit`` per float unit (kept in float units when ``unit`` is None). Returns
    ``(Run, raw record)``."""
    from snnpipe.models.from_graph import build          # torch: imported when a run needs it

    model = build(graph, precision, **build_kw)
    _, rec = model(x, record=True)

    def conv(t, u):
        a = t.numpy()
        return a if u is None else np.rint(a * u).astype(np.int64)

    pops = {}
    for n in model.pops:
        if n in model.sd:                   # sigma-delta: the chip's integers of its formats
            sd = model.sd[n]
            p = {k: conv(rec[n][k], unit and sd.state_unit) for k in ("sigma", "act", "residue")
                 if k in SD_STATES[sd.stage]}
            pops[n] = dict(p, spikes=conv(rec[n]["spikes"], unit and sd.message_unit))
            continue
        if n in model.rf:                   # resonate-and-fire: real, imag in 1/4096
            pops[n] = {k: conv(rec[n][k], unit) for k in ("real", "imag")}
            pops[n]["spikes"] = np.rint(rec[n]["spikes"].numpy()).astype(np.int64)
            continue
        p = {"u": conv(rec[n]["u"], unit), "v": conv(rec[n]["v"], unit)}
        if graph.nodes[n].get("spike") == "graded":     # payloads: the pre-reset voltage
            p["spikes"] = conv(rec[n]["spikes"], unit)
        elif graph.nodes[n]["model"] != "li":
            p["spikes"] = np.rint(rec[n]["spikes"].numpy()).astype(np.int64)
        pops[n] = p
    merges = {m: np.rint(rec[m]["spikes"].numpy()).astype(np.int64) for m in model.merges}
    return Run(name, pops, outputs_of(graph, pops, n_steps(x), merges)), rec


def loihi_saturation(populations: list, rec: dict) -> dict:
    """Loihi register events along a torch-loihi trajectory ``rec`` (float units, exact) of the
    integer ``populations`` (``LoihiConfig.populations``): wraps of a current ``u`` at 24 bits
    and saturations of ``v`` at +-(2^23 - 1), counted over (sample, current, neuron, step).
    Recomputes the pre-wrap / pre-clip values from the previous state, the decays, the bias
    and the weighted input ``x``."""
    unit = loihi.DECAY_UNIT
    wraps = sats = 0
    for p in populations:
        if p.model in ("sigma_delta", "rf"):    # no u and v (Lava's int32 sigma-delta
            continue                              # states are not modelled)
        r = rec[p.name]
        u = np.rint(r["u"].numpy() * unit).astype(np.int64)            # (B, S, N, T)
        v = np.rint(r["v"].numpy() * unit).astype(np.int64)
        a = np.trunc(r["x"].numpy() * unit).astype(np.int64)
        u_prev = np.concatenate([np.zeros_like(u[..., :1]), u[..., :-1]], -1)
        v_prev = np.concatenate([np.zeros_like(v[..., :1]), v[..., :-1]], -1)
        u_pre = loihi.decay(u_prev, np.asarray(p.i_decay, np.int64)[None, :, :, None]) + a
        wraps += int(np.sum((u_pre > loihi.U_HALF) | (u_pre <= -loihi.U_HALF)))
        bias = loihi.bias_array(p.bias_mant, p.bias_exp)[None, :, None]
        v_pre = loihi.decay(v_prev, np.asarray(p.v_decay, np.int64)[None, :, None]) \
            + u.sum(1) + bias
        sats += int(np.sum(np.abs(v_pre) > loihi.V_MAX))
    return {"u wraps (24 bit)": wraps, "v saturations (24 bit)": sats}


def run_float(c: Compiled, x, record: bool = True) -> Run:
    """The graph in floating point (float units)."""
    return _record(c.artifact, x, "float", None, "torch-float")[0]


def run_loihi(c: Compiled, x, record: bool = True) -> Run:
    """The graph in the loihi precision (integers, 4096 per float unit), with the register
    events of the trajectory."""
    run, rec = _record(c.artifact, x, "loihi", loihi.DECAY_UNIT, "torch-loihi")
    run.saturation = loihi_saturation(quantize(c.artifact)[0]["populations"], rec)
    return run


def run_xylo(c: Compiled, x, record: bool = True) -> Run:
    """The graph of the mapped XyloConfig in the xylo precision (chip integers); outputs
    follow the original graph: ``v`` for an ``li`` readout, else spikes."""
    g, layout = c.graph, c.layout
    h = mapped_graph(g, c.artifact, layout)
    hidden = sorted((r[1], n) for n, r in layout.items() if r[0] == "hidden")
    order = list(g.graph["inputs"]) + [n for _, n in hidden]
    run, rec = _record(h, x, "xylo", XYLO_UNIT, "torch-xylo", quantize=False, source_order=order)
    run.outputs = outputs_of(g, run.pops, n_steps(x))
    run.t_offset = -1
    run.saturation = {"ordered 16-bit additions": int(sum(r["ordered"].sum() for r in rec.values()
                                                          if "ordered" in r))}
    return run


FLOAT = Backend("torch-float", "graph", 0, run_float, 1.0, "torch, float precision (from_graph)")
LOIHI = Backend("torch-loihi", "graph", 0, run_loihi, float(loihi.DECAY_UNIT),
                "torch, loihi precision: SLAYER / Lava fixed-point integers (from_graph)")
XYLO = Backend("torch-xylo", "xylo", -1, run_xylo, None,
               "torch, xylo precision, on the graph of the mapped Xylo configuration")
