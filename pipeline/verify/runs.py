"""The implementations :mod:`snnpipe.pipeline.verify.chain` compares, each turned into a :class:`Run` in the
integer units of the target.

Loihi units: ``u``, ``v`` integers in 1/4096 of the float unit, spikes 0/1. Every run uses the
timing of :mod:`snnpipe.models.from_graph`: index t is Lava's raw index t (Lava step t + 1) and the
integer simulator's index t. Xylo runs live in :mod:`snnpipe.pipeline.verify.xylo`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from snnpipe.hwmap.intsim.loihi import simulate as loihi_simulate
from snnpipe.hwmap.targets import loihi
from snnpipe.hwmap.mappers.loihi_config import LoihiConfig
from snnpipe.models.from_graph import build
from snnpipe.pipeline.ir.graph import size, topological_order

LOIHI_UNIT = loihi.DECAY_UNIT


@dataclass
class Run:
    """One implementation's trajectory.

    ``pops``: population -> {``"spikes"`` (B, N, T) (spiking populations only), ``"u"``
    (B, n_syn, N, T), ``"v"`` (B, N, T) after reset}, int64 in the target's units;
    ``outputs``: graph output -> what it emits (B, N, T): spikes, ``v`` of an ``li``, a merge's
    sum; ``saturation``: event name -> count; ``notes``: texts for the report.
    """

    name: str
    pops: dict
    outputs: dict = field(default_factory=dict)
    saturation: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def n_steps(x) -> int:
    """Number of steps of an input raster (..., T) or of a dict of them."""
    return int(np.shape(next(iter(x.values())) if isinstance(x, dict) else x)[-1])


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
    """Graph output -> emission: ``spikes`` of a cuba, ``v`` of an li, a merge's sum."""
    spikes = {n: p["spikes"] for n, p in pops.items() if "spikes" in p}
    merges = merge_sums(graph, spikes, steps) if merges is None else merges
    out = {}
    for o in graph.graph["outputs"]:
        d = graph.nodes[o]
        if d["kind"] == "merge":
            out[o] = merges[o]
        elif o in pops:
            out[o] = pops[o]["v"] if d.get("model") == "li" else pops[o]["spikes"]
    return out


def torch_run(graph, x, precision: str, unit: float, name: str, **build_kw) -> tuple[Run, dict]:
    """Run :func:`snnpipe.models.from_graph.build` and convert its states to integers of ``unit`` per
    float unit. Returns the Run and the raw record (float units)."""
    model = build(graph, precision, **build_kw)
    _, rec = model(x, record=True)
    pops = {}
    for n in model.pops:
        r = rec[n]
        p = {"u": np.rint(r["u"].numpy() * unit).astype(np.int64),
             "v": np.rint(r["v"].numpy() * unit).astype(np.int64)}
        if graph.nodes[n]["model"] != "li":
            p["spikes"] = np.rint(r["spikes"].numpy()).astype(np.int64)
        pops[n] = p
    steps = n_steps(x)
    merges = {m: np.rint(rec[m]["spikes"].numpy()).astype(np.int64) for m in model.merges}
    run = Run(name, pops, outputs_of(graph, pops, steps, merges))
    return run, rec


def loihi_saturation(populations: list, rec: dict) -> dict:
    """Loihi register events along a torch-loihi trajectory ``rec`` (float units, exact) of the
    integer ``populations`` (``LoihiConfig.populations``):
    wraps of a current ``u`` at 24 bits and saturations of ``v`` at +-(2^23 - 1), counted over
    (sample, current, neuron, step). Recomputes the pre-wrap / pre-clip values from the previous
    state, the decays, the bias and the weighted input ``x``."""
    wraps = sats = 0
    for p in populations:
        r = rec[p.name]
        u = np.rint(r["u"].numpy() * LOIHI_UNIT).astype(np.int64)            # (B, S, N, T)
        v = np.rint(r["v"].numpy() * LOIHI_UNIT).astype(np.int64)
        a = np.trunc(r["x"].numpy() * LOIHI_UNIT).astype(np.int64)
        u_prev = np.concatenate([np.zeros_like(u[..., :1]), u[..., :-1]], -1)
        v_prev = np.concatenate([np.zeros_like(v[..., :1]), v[..., :-1]], -1)
        u_pre = loihi.decay(u_prev, np.asarray(p.i_decay, np.int64)[None, :, :, None]) + a
        wraps += int(np.sum((u_pre > loihi.U_HALF) | (u_pre <= -loihi.U_HALF)))
        bias = loihi.bias_array(p.bias_mant, p.bias_exp)[None, :, None]
        v_pre = loihi.decay(v_prev, np.asarray(p.v_decay, np.int64)[None, :, None]) \
            + u.sum(1) + bias
        sats += int(np.sum(np.abs(v_pre) > loihi.V_MAX))
    return {"u wraps (24 bit)": wraps, "v saturations (24 bit)": sats}


def intsim_loihi_run(graph, cfg: LoihiConfig, x) -> Run:
    """``snnpipe.hwmap.intsim.loihi.simulate`` on ``cfg`` (spikes, u, v of every population)."""
    r = loihi_simulate(cfg, x, record=("u", "v"))
    pops = {}
    for p in cfg.populations:
        d = {"u": r.states[f"{p.name}/u"], "v": r.states[f"{p.name}/v"]}
        if p.model != "li":
            d["spikes"] = r.spikes[p.name].astype(np.int64)
        pops[p.name] = d
    return Run("intsim-loihi", pops, outputs_of(graph, pops, n_steps(x)))


def lava_run(graph, x) -> Run:
    """Lava fixed point (``processes``): every population is probed (u, v) and recorded as an
    output (spikes), for ``T`` steps so that index t is Lava step t + 1."""
    from snnpipe.processes.compile import compile as lava_compile
    from snnpipe.processes.run import run as lava_execute

    g = copy.deepcopy(graph)
    pop_names = [n for n in topological_order(g) if g.nodes[n]["kind"] == "neuron"]
    g.graph["outputs"] = pop_names
    net = lava_compile(g, "fixed")
    probes = [f"{n}/{v}" for n in pop_names for v in ("u", "v")]
    rec = lava_execute(net, x, steps=n_steps(x), probes=probes)
    pops = {}
    for n in pop_names:
        d = {"u": rec.states[f"{n}/u"], "v": rec.states[f"{n}/v"]}
        if d["u"].ndim == 3:
            d["u"] = d["u"][:, None]
        if g.nodes[n]["model"] != "li":
            d["spikes"] = np.rint(rec.raw[n]).astype(np.int64)
        pops[n] = {k: np.asarray(v, np.int64) for k, v in d.items()}
    return Run("lava-fixed", pops, outputs_of(graph, pops, n_steps(x)))
