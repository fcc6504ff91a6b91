"""Lava backends: the graph compiled to Lava processes (:mod:`snnpipe.processes`) and run on
Lava's CPU simulator, in fixed point (``lava-fixed``: Loihi integers, bit-accurate) or floating
point (``lava-float``). A batch runs sample after sample in one Lava runtime.

Outputs are Lava's raw emissions (index t is Lava step t + 1, offset 0 to the torch model);
with ``record`` every population's ``u``, ``v`` (sigma-delta: ``sigma``, ``act``, ``residue``;
resonate-and-fire: ``real``, ``imag``)
and spikes (graded messages) are probed.
"""
from __future__ import annotations

import copy

import numpy as np

from snnpipe.hwmap.targets.loihi import DECAY_UNIT, RF_STATES, SD_STATES
from snnpipe.pipeline.backends.base import Backend, Compiled, Run, n_steps
from snnpipe.pipeline.backends.emission import outputs_of
from snnpipe.pipeline.ir import readout
from snnpipe.pipeline.ir.graph import topological_order


def _run(c: Compiled, x, precision: str, record: bool, progress: bool = False) -> Run:
    from snnpipe.processes.compile import compile as lava_compile
    from snnpipe.processes.run import run as lava_execute

    g = c.artifact
    steps = n_steps(x)
    pops = [n for n in topological_order(g) if g.nodes[n]["kind"] == "neuron"]
    if record:                       # every population is recorded as an output (spikes)
        g = copy.deepcopy(g)
        g.graph["outputs"] = pops
    probes = [f"{n}/{v}" for n in pops for v in _states(g.nodes[n])] if record else ()
    rec = lava_execute(lava_compile(g, precision), x, steps=steps, probes=probes,
                       progress=progress)
    dtype = np.int64 if precision == "fixed" else np.float64
    name = f"lava-{precision}"
    if not record:
        return Run(name, {}, {o: readout.apply(c.artifact.nodes[o],
                                               np.asarray(rec.raw[o])[..., :steps].astype(dtype))
                              for o in c.artifact.graph["outputs"]})
    recorded = {}
    for n in pops:
        d = {v: rec.states[f"{n}/{v}"] for v in _states(g.nodes[n])}
        if "u" in d and d["u"].ndim == 3:
            d["u"] = d["u"][:, None]
        messages = g.nodes[n]["model"] == "sigma_delta" and precision == "float"
        if g.nodes[n]["model"] != "li":
            d["spikes"] = rec.raw[n] if messages else np.rint(rec.raw[n]).astype(np.int64)
        recorded[n] = {k: np.asarray(v)[..., :steps].astype(
            np.int64 if k == "spikes" and not messages else dtype) for k, v in d.items()}
    return Run(name, recorded, outputs_of(c.artifact, recorded, steps))


def _states(d: dict) -> tuple:
    """The states recorded of a population: ``u``, ``v``, a sigma-delta stage's or ``real``,
    ``imag``."""
    if d["model"] == "rf":
        return RF_STATES
    return SD_STATES[d["stage"]] if d["model"] == "sigma_delta" else ("u", "v")


def run_fixed(c: Compiled, x, record: bool = False, progress: bool = False) -> Run:
    """Lava fixed point (integers, 4096 per float unit)."""
    return _run(c, x, "fixed", record, progress)


def run_float(c: Compiled, x, record: bool = False, progress: bool = False) -> Run:
    """Lava floating point (float units)."""
    return _run(c, x, "float", record, progress)


FIXED = Backend("lava-fixed", "graph", 0, run_fixed, float(DECAY_UNIT),
                "Lava CPU simulator, fixed point",
                batched=False, requires="lava")
FLOAT = Backend("lava-float", "graph", 0, run_float, 1.0, "Lava CPU simulator, floating point",
                batched=False, requires="lava")
