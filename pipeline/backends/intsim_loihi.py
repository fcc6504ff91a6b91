"""The Loihi-style integer simulator (:mod:`snnpipe.hwmap.intsim.loihi`) on a mapped
:class:`~snnpipe.hwmap.mappers.loihi_config.LoihiConfig`: bit-exact with Lava's fixed point,
batched, with event counts and an energy / latency estimate."""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.intsim.loihi import simulate
from snnpipe.hwmap.targets.loihi import DECAY_UNIT
from snnpipe.pipeline.backends.base import Backend, Compiled, Deferred, Run, n_steps
from snnpipe.pipeline.backends.emission import outputs_of

STATES = ("spikes", "u", "v", "sigma", "act", "residue", "real", "imag")


def run(c: Compiled, x, record: bool = False) -> Run:
    """Every population's spikes (sigma-delta messages) and with ``record`` its states (``u``,
    ``v``; ``sigma``, ``act``, ``residue``; ``real``, ``imag``); an ``li`` output's ``v`` always; Loihi integers."""
    cfg = c.artifact
    readouts = [p.name for p in cfg.populations if p.model == "li" and p.name in cfg.outputs]
    wanted = STATES if record else ("spikes",) + tuple(f"{o}/v" for o in readouts)
    res = simulate(cfg, x, record=wanted)
    # without record, only what the outputs read: the outputs and the sources of merges
    needed = None if record or c.graph is None else set(cfg.outputs) | {
        u for m, d in c.graph.nodes(data=True) if d["kind"] == "merge"
        for u, _ in c.graph.in_edges(m)}
    pops = {}
    for p in cfg.populations:
        if needed is not None and p.name not in needed:
            continue
        d = {k: res.states[f"{p.name}/{k}"] for k in STATES if f"{p.name}/{k}" in res.states}
        if p.model != "li":
            d["spikes"] = res.spikes[p.name].astype(np.int64)
        pops[p.name] = d
    steps = n_steps(x)
    if c.graph is not None:
        outputs = outputs_of(c.graph, pops, steps)
    else:
        outputs = {o: pops[o]["v"] if o in readouts else pops[o]["spikes"] for o in cfg.outputs}
    if not record:
        pops = {}
    energy = Deferred(lambda: {"energy_j": float(res.energy["mean_energy_j"]),
                               "latency_step_s": float(res.energy["latency_s"]) / max(steps, 1)})
    return Run("intsim-loihi", pops, outputs, energy=energy, counts=Deferred(
        lambda: vars(res.counts)))


BACKEND = Backend("intsim-loihi", "loihi", 0, run, float(DECAY_UNIT),
                  "the Loihi-style integer simulator")
