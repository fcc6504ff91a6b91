"""The Xylo-style integer simulator (:mod:`snnpipe.hwmap.intsim.xylo`) on a mapped
:class:`~snnpipe.hwmap.mappers.xylo_config.XyloConfig`: bit-exact with xylosim, batched, with
event counts and an energy / latency estimate. Offset -1: an input event reaches the membrane
in its own step.

States in chip integers: ``u`` = (``Isyn``, ``Isyn2``) of hidden neurons, ``Isyn_out`` of
output neurons; ``v`` = ``Vmem`` / ``Vmem_out``; all after the step's decay and reset. With a
graph (a Compiled made from one) populations and outputs carry the graph's names, through the
mapper's layout; a configuration loaded alone has the populations ``hidden`` and ``output``.
An output neuron that never fires (:attr:`XyloConfig.readout`) emits ``Vmem_out``.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.intsim.xylo import simulate
from snnpipe.hwmap.targets.xylo import STATE_MAX, STATE_MIN, XYLO_AUDIO2
from snnpipe.pipeline.backends.base import Backend, Compiled, Run, channels
from snnpipe.pipeline.ir import readout


def chip_layout(c: Compiled) -> dict:
    """node -> ("hidden" | "output", start, stop): the mapper's layout, or the whole chip as
    the two populations ``hidden`` and ``output`` for a configuration loaded alone."""
    if c.layout is not None:
        return {n: r for n, r in c.layout.items() if c.graph.nodes[n]["kind"] == "neuron"}
    n_in, n_hid, n_out = c.artifact.shape
    return {"hidden": ("hidden", 0, n_hid), "output": ("output", 0, n_out)}


def chip_pops(c: Compiled, spikes, spikes_out, states: dict) -> dict:
    """Population -> {"u", "v", "spikes"} int64 from the chip's recorded arrays."""
    pops = {}
    for node, (kind, a, b) in chip_layout(c).items():
        if kind == "hidden":
            n_syn = int(c.graph.nodes[node].get("n_syn", 1)) if c.graph is not None else 2
            u = np.stack([states["Isyn"][:, a:b], states["Isyn2"][:, a:b]], 1)[:, :n_syn]
            d = {"u": u, "v": states["Vmem"][:, a:b], "spikes": spikes[:, a:b]}
        else:
            d = {"u": states["Isyn_out"][:, None, a:b], "v": states["Vmem_out"][:, a:b],
                 "spikes": spikes_out[:, a:b]}
        pops[node] = {k: np.asarray(val, np.int64) for k, val in d.items()}
    return pops


def chip_outputs(c: Compiled, spikes_out, v_out) -> dict:
    """Graph output -> output neurons' emission: spike counts, or ``Vmem_out`` for readouts."""
    emitted = np.asarray(v_out if c.artifact.readout else spikes_out, np.int64)
    out = {node: emitted[:, a:b] for node, (kind, a, b) in chip_layout(c).items()
           if kind == "output"}
    if c.graph is not None:                     # a host-side readout (pipeline.ir.readout)
        out = {node: readout.apply(c.graph.nodes[node], e) for node, e in out.items()}
    return out


def run(c: Compiled, x, record: bool = False) -> Run:
    """The configuration on x (B, Nin, T), inputs in graph order."""
    cfg = c.artifact
    inputs = c.graph.graph["inputs"] if c.graph is not None else []
    r = simulate(cfg, channels(inputs, x), record=record or cfg.readout, hidden=record,
                 limits=c.options.get("limits", XYLO_AUDIO2))
    outputs = chip_outputs(c, r.spikes_out, r.states.get("Vmem_out"))
    pops = chip_pops(c, r.spikes, r.spikes_out, r.states) if record else {}
    saturation = {"ordered 16-bit additions": int(r.ordered_states)}
    if record:
        saturation["states at 16-bit limits"] = int(sum(
            np.sum((s == STATE_MAX) | (s == STATE_MIN)) for s in r.states.values()))
    energy = {"energy_j": float(r.cost["energy_J"]),
              "latency_step_s": float(r.cost["latency_s_per_step"])}
    return Run("intsim-xylo", pops, outputs, saturation, t_offset=-1, energy=energy,
               counts=r.counts)


BACKEND = Backend("intsim-xylo", "xylo", -1, run, None, "the Xylo-style integer simulator")
