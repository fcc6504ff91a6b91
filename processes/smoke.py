"""A 3-neuron Lava run checked against spikes computed from the rules (used by ``snnpipe doctor``).

The network is a chain ``in -> a -> b -> c`` of single CUBA neurons. The expected spikes come
from a numpy loop over the same steps: fixed point with :mod:`snnpipe.hwmap.targets.loihi`'s integer
rules on the quantised parameters, float with DESIGN.md 5.3's float rule.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.targets.loihi import (current_step, decay_to_int, spike_and_reset,
                                         threshold_to_int, threshold_value, voltage_step,
                                         weight_to_int)
from snnpipe.pipeline.ir import graph as G

CHAIN = ("a", "b", "c")
WEIGHTS = (1.5, 1.25, 1.0)
CURRENT_DECAY, VOLTAGE_DECAY, THRESHOLD = 0.25, 0.25, 3.0


def chain_graph():
    """The 3-neuron chain: input (1,) -> a -> b -> c, all three are outputs."""
    g = G.new_graph("three_neurons")
    G.add_input(g, "in", 1)
    prev = "in"
    for node, w in zip(CHAIN, WEIGHTS):
        G.add_neuron(g, node, 1, current_decay=CURRENT_DECAY, voltage_decay=VOLTAGE_DECAY,
                     threshold=THRESHOLD)
        G.add_dense(g, prev, node, [[w]])
        prev = node
    G.set_outputs(g, list(CHAIN))
    return g


def expected_spikes(x: np.ndarray, precision: str) -> dict[str, np.ndarray]:
    """Spikes (1, T) of a, b, c at raw Lava index i (step i+1) for input ``x`` (1, T)."""
    steps = x.shape[1]
    fixed = precision == "fixed"
    state = {n: (np.zeros(1, np.int64 if fixed else float),) * 2 for n in CHAIN}
    out = {n: np.zeros((1, steps), np.int64) for n in CHAIN}
    for i in range(steps):
        prev = x[:, i - 1] if i else np.zeros(1)
        for node, w in zip(CHAIN, WEIGHTS):
            u, v = state[node]
            if fixed:
                a = weight_to_int(w) * prev.astype(np.int64)
                u = current_step(u, a, decay_to_int(CURRENT_DECAY))
                v = voltage_step(v, u, decay_to_int(VOLTAGE_DECAY), 0)
                s, v = spike_and_reset(v, threshold_value(threshold_to_int(THRESHOLD)))
            else:
                u = u * (1 - CURRENT_DECAY) + w * prev
                v = v * (1 - VOLTAGE_DECAY) + u
                s = v > THRESHOLD
                v = np.where(s, 0.0, v)
            state[node] = (u, v)
            out[node][:, i] = s
            prev = out[node][:, i - 1] if i else np.zeros(1)
    return out


def three_neuron_check(precision: str = "fixed") -> tuple[bool, str]:
    """Run the chain on Lava's CPU simulator in ``precision``; compare with the rules.

    Returns:
        (ok, detail): detail names the first disagreeing neuron and step, or the spike counts.
    """
    try:
        from snnpipe.processes.compile import compile
        from snnpipe.processes.run import run
    except ImportError as exc:
        return False, f"Lava is not importable: {exc}"
    x = np.zeros((1, 24), dtype=np.int64)
    x[0, [0, 1, 5, 6, 7, 12, 18]] = 1
    try:
        rec = run(compile(chain_graph(), precision), x, steps=x.shape[1])
    except Exception as exc:  # doctor reports any failure as text
        return False, f"Lava run failed: {type(exc).__name__}: {exc}"
    want = expected_spikes(x, precision)
    for node in CHAIN:
        got = np.asarray(rec.raw[node]).astype(np.int64)
        bad = np.flatnonzero(got[0] != want[node][0])
        if bad.size:
            return False, (f"neuron {node}: first difference at step {bad[0] + 1}: Lava "
                           f"{got[0, bad[0]]}, rules {want[node][0, bad[0]]}")
    counts = ", ".join(f"{n}={int(want[n].sum())}" for n in CHAIN)
    return True, f"{precision}: 3-neuron chain spikes as the rules say ({counts} spikes)"
