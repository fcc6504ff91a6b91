"""Sigma-delta populations in the Loihi-style integer simulator (:mod:`snnpipe.hwmap.intsim.loihi`).

Each ``sigma_delta`` population of a config keeps its own states, ``sigma``, ``act`` and
``residue`` (B, N) int64 in state units, and updates them every step with
:func:`snnpipe.hwmap.targets.loihi.sigma_delta_step` (Lava's fixed-point Delta, SigmaDelta and
Sigma; an unrecorded run of the layer-by-layer path uses its compiled form,
:func:`snnpipe.hwmap.intsim.loihi_kernel.sigma_delta_scan`). Its input is the Dense/Conv
output of the step, which the simulator keeps shifted left by 6 for LIF currents
(``a << 6``): shifted back here, exactly. What it emits are graded
messages (integers), which the projections out of it multiply by their weights.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.intsim.loihi_prepare import per_config
from snnpipe.hwmap.targets.loihi import (ACTIVATION_SHIFT, RF_STATES, SD_STATES, bias_array,
                                         sigma_delta_step)


def state_names(pop) -> tuple:
    """The states a population records: ``u``, ``v``, its stage's ``SD_STATES`` or ``RF_STATES``."""
    if pop.model == "rf":
        return RF_STATES
    return SD_STATES[pop.sd["stage"]] if pop.model == "sigma_delta" else ("u", "v")


SD_VARS = ("sigma", "act", "residue")


def _constants(cfg) -> list:
    """[(population, bias, theta)] of the sigma-delta populations of ``cfg``: bias and
    threshold (N,) int64 in state units, read-only (prepared once per config)."""
    out = []
    for p in cfg.populations:
        if p.model == "sigma_delta":
            exp = np.asarray(p.bias_exp, np.int64)
            consts = [np.array(np.broadcast_to(a, (p.size,)), np.int64) for a in
                      (bias_array(p.bias_mant, exp), np.asarray(p.vth, np.int64) << exp)]
            for a in consts:
                a.setflags(write=False)
            out.append((p, *consts))
    return out


class SigmaDeltaPops:
    """The sigma-delta populations of a config for a batch of ``B`` samples, placed at
    ``slices`` of the simulator's neuron vector."""

    def __init__(self, cfg, B: int, slices: dict):
        self.pops = []
        for p, bias, theta in per_config(cfg, _constants):
            self.pops.append({
                "name": p.name, "slice": slices[p.name], "sd": p.sd, "bias": bias,
                "theta": theta, **{v: np.zeros((B, p.size), np.int64) for v in SD_VARS}})
        self.by_name = {q["name"]: q for q in self.pops}

    def __bool__(self) -> bool:
        return bool(self.pops)

    def step(self, a_shifted: np.ndarray, spikes: np.ndarray) -> np.ndarray:
        """One step: ``a_shifted`` (B, N) the inputs of every neuron, shifted left by 6;
        ``spikes`` (B, N) what the LIF neurons emitted. Returns (B, N) int64: the spikes, with
        each sigma-delta population's messages in its slice."""
        out = spikes.astype(np.int64)
        for q in self.pops:
            out[:, q["slice"]] = self.step_one(q["name"], a_shifted[:, q["slice"]])
        return out

    def step_one(self, pop: str, a_shifted: np.ndarray) -> np.ndarray:
        """One step of the population ``pop`` alone: its input (B, N_pop) shifted left by 6
        -> its messages (B, N_pop) int64."""
        q = self.by_name[pop]
        sd = q["sd"]
        msg, q["sigma"], q["act"], q["residue"] = sigma_delta_step(
            a_shifted >> ACTIVATION_SHIFT, q["sigma"], q["act"], q["residue"], q["bias"],
            q["theta"], stage=sd["stage"], relu=sd["relu"],
            in_shift=sd["spike_exp"] + sd["state_exp"], state_exp=sd["state_exp"])
        return msg

    def run(self, pop: str, arrivals: np.ndarray, keep: list) -> tuple:
        """The population ``pop`` over all steps: ``arrivals`` (T, B, N) its inputs shifted
        left by 6 -> messages (T, B, N) int64 and the states in ``keep`` {var: (B, N, T)}.
        The compiled loop (:func:`snnpipe.hwmap.intsim.loihi_kernel.sigma_delta_scan`) when
        numba imports and no state is recorded, else :meth:`step_one` step by step."""
        if keep:
            return self._run_steps(pop, arrivals, keep)
        try:
            from snnpipe.hwmap.intsim.loihi_kernel import SD_STAGE_CODES, sigma_delta_scan
        except ImportError:                       # numba missing
            return self._run_steps(pop, arrivals, keep)
        q = self.by_name[pop]
        sd = q["sd"]
        out = np.empty(arrivals.shape, np.int64)
        for v in SD_VARS:
            q[v] = np.array(q[v], np.int64)               # own, contiguous: updated in place
        sigma_delta_scan(np.ascontiguousarray(arrivals), q["sigma"], q["act"], q["residue"],
                         q["bias"], q["theta"], SD_STAGE_CODES[sd["stage"]], bool(sd["relu"]),
                         sd["spike_exp"] + sd["state_exp"], sd["state_exp"], out)
        return out, {}

    def _run_steps(self, pop: str, arrivals: np.ndarray, keep: list) -> tuple:
        """:meth:`run` step by step in numpy."""
        out = np.empty(arrivals.shape, np.int64)
        rec = {v: np.empty(arrivals.shape, np.int64) for v in keep}
        for t in range(len(arrivals)):
            out[t] = self.step_one(pop, arrivals[t])
            for v, a in rec.items():
                a[t] = self.state(pop, v)
        return out, {v: np.ascontiguousarray(a.transpose(1, 2, 0)) for v, a in rec.items()}

    def state(self, pop: str, var: str) -> np.ndarray:
        """``sigma``, ``act`` or ``residue`` (B, N) of one population, now."""
        return self.by_name[pop][var]
