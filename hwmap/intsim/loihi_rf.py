"""Resonate-and-fire populations in the Loihi-style integer simulator
(:mod:`snnpipe.hwmap.intsim.loihi`).

Each ``rf`` population of a config keeps its own states, ``real`` and ``imag`` (B, N) int64 in
state units (1/4096 of the float unit), and updates them every step with
:func:`snnpipe.hwmap.targets.loihi.rf_step` (Lava's fixed-point RF and RF_IZ). Its inputs are
the step's Dense/Conv output into its two currents, current 0 the real part and current 1 the
imaginary part, which the simulator keeps shifted left by 6 (Lava's ``state_exp``): they enter
the rule as they are. What it emits are binary spikes.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.targets.loihi import rf_step, threshold_value


class ResonatorPops:
    """The rf populations of a config for a batch of ``B`` samples, placed at ``slices`` of the
    simulator's neuron vector."""

    def __init__(self, cfg, B: int, slices: dict):
        self.pops = []
        for p in cfg.populations:
            if p.model != "rf":
                continue
            zero = np.zeros((B, p.size), np.int64)
            self.pops.append({
                "name": p.name, "slice": slices[p.name],
                "izhikevich": p.rf["variant"] == "izhikevich",
                "sin": np.asarray(p.rf["sin_decay"], np.int64),
                "cos": np.asarray(p.rf["cos_decay"], np.int64),
                "theta": threshold_value(np.asarray(p.vth, np.int64)),
                "real": zero, "imag": zero.copy()})
        self.by_name = {q["name"]: q for q in self.pops}

    def __bool__(self) -> bool:
        return bool(self.pops)

    def step(self, a_shifted: np.ndarray, out: np.ndarray) -> np.ndarray:
        """One step: ``a_shifted`` (n_syn, B, N) the inputs of every neuron's currents, shifted
        left by 6; ``out`` (B, N) what the other neurons emitted, written into in place with
        each rf population's spikes in its slice, and returned."""
        for q in self.pops:
            sl = q["slice"]
            s, q["real"], q["imag"] = rf_step(
                a_shifted[0][:, sl], a_shifted[1][:, sl], q["real"], q["imag"], q["sin"],
                q["cos"], q["theta"], izhikevich=q["izhikevich"])
            out[:, sl] = s
        return out

    def state(self, pop: str, var: str) -> np.ndarray:
        """``real`` or ``imag`` (B, N) of one population, now."""
        return self.by_name[pop][var]
