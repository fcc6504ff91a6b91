"""A numpy reference of a lowered Graph, step by step, for the Lava backend's tests.

Fixed point applies snnpipe.hwmap.targets.loihi's rules to the integer parameters; float applies
DESIGN.md 5.3. Timing as Lava: input column i is sent at step i+1 and every projection
delivers at step t + 1 + delay. Returns node -> (N, steps) emissions (spikes, or v for li).
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.targets.loihi import (bias_array, current_step, spike_and_reset, threshold_value,
                                         voltage_step, weight_to_int, wrap_activation)
from snnpipe.hwmap.mappers.loihi_conv import conv_apply
from snnpipe.pipeline.ir.graph import size
from snnpipe.processes.lowering import lower
from snnpipe.processes.params import neuron_params


def simulate(g, x: np.ndarray, precision: str, steps: int) -> dict:
    fixed = precision == "fixed"
    em = {g.graph["inputs"][0]: np.zeros((x.shape[0], steps))}
    em[g.graph["inputs"][0]][:, :min(steps, x.shape[1])] = x[:, :steps]
    pops = {n: d for n, d in g.nodes(data=True) if d["kind"] == "neuron"}
    par = {n: neuron_params(n, d, precision) for n, d in pops.items()}
    st = {}
    for n, d in pops.items():
        em[n] = np.zeros((size(d["shape"]), steps))
        st[n] = [np.zeros((par[n].n_syn, size(d["shape"])), np.int64 if fixed else float),
                 np.zeros(size(d["shape"]), np.int64 if fixed else float)]
    projs = lower(g)
    for p in projs:
        p.w = weight_to_int(p.weight) if fixed else p.weight
        p.d = np.zeros(p.weight.shape, int) if p.delay is None else p.delay
    for t in range(steps):
        a = {n: np.zeros_like(st[n][0]) for n in pops}
        for p in projs:
            if p.op == "conv":
                if t:
                    s = em[p.src][:, t - 1].reshape((1,) + p.conv["in_shape"])
                    c = conv_apply(s if p.graded else (s != 0), p.w, p.conv).reshape(-1)
                    a[p.dst][p.syn] += wrap_activation(c.astype(np.int64)) if fixed else c
                continue
            for k in np.unique(p.d):
                ts = t - 1 - k
                if ts >= 0:
                    s = em[p.src][:, ts]
                    s = s if p.graded else (s != 0)
                    a[p.dst][p.syn] += (np.where(p.d == k, p.w, 0) @ s).astype(a[p.dst].dtype)
        for n, d in pops.items():
            q, (u, v) = par[n], st[n]
            if fixed:
                u = current_step(u, a[n], q.du + 1)
                v = voltage_step(v, u.sum(0), q.dv, bias_array(q.bias_mant, q.bias_exp))
            else:
                u = u * (1 - q.du) + a[n]
                v = v * (1 - q.dv) + u.sum(0) + q.bias_mant
            if d["model"] == "li":
                em[n][:, t] = v
            elif fixed:
                theta = threshold_value(q.vth)
                if d["reset"] == "subtract":
                    s = v > theta
                    v = v - s * theta
                else:
                    s, v = spike_and_reset(v, theta)
                em[n][:, t] = s
            else:
                s = v > q.vth
                v = np.where(s, v - q.vth if d["reset"] == "subtract" else 0.0, v)
                em[n][:, t] = s
            st[n] = [u, v]
    return em
