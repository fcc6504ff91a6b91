"""The custom multi-synapse CUBA and leaky-readout processes, against lava-nc's LIF and by hand."""
from __future__ import annotations

import numpy as np
import pytest


from snnpipe.processes.multisyn.process import LeakyReadout, MultiSynCuba
from lava_handbuilt import LIF, Source, probe_run

pytestmark = pytest.mark.lava

N, T = 6, 40

LIF_CASES = {
    "decaying": dict(du=300, dv=200, vth=5000, bias_exp=3),
    "no_current_decay_saturating": dict(du=-1, dv=0, vth=(1 << 17) - 1, bias_exp=0),
    "full_decay_negative_bias": dict(du=4095, dv=17, vth=40, bias_exp=6),
}


def _drive(seed: int) -> np.ndarray:
    """Random graded input (N, T) with bursts that wrap u past +-2^23 and saturate v."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-300, 300, (N, T))
    a[:, 5:8] = (1 << 17) + rng.integers(0, 1 << 16, (N, 3))
    a[:, 20:22] = -(1 << 17) - rng.integers(0, 1 << 16, (N, 2))
    a[:3, 30:33] = (1 << 16)
    return a


@pytest.mark.parametrize("case", sorted(LIF_CASES))
def test_one_synapse_fixed_equals_lava_lif_bit_for_bit(case):
    kw = dict(LIF_CASES[case])
    kw["bias_mant"] = np.random.default_rng(1).integers(-400, 400, N)
    src = Source(data=_drive(len(case)).astype(np.int32))
    lif = LIF(shape=(N,), **kw)
    ms = MultiSynCuba(shape=(N,), n_syn=1, **kw)
    src.s_out.connect(lif.a_in)
    src.s_out.connect(ms.a_in0)
    d = probe_run(src, {"lu": lif.u, "lv": lif.v, "ls": lif.s_out,
                        "mu": ms.u, "mv": ms.v, "ms": ms.s_out}, T, "fixed")
    assert np.array_equal(d["mu"][:, 0], d["lu"])
    assert np.array_equal(d["mv"], d["lv"])
    assert np.array_equal(d["ms"], d["ls"])
    u = d["lu"]
    assert (np.abs(u) > 1 << 22).any() and (np.diff(np.sign(u), axis=0) != 0).any()
    if case == "no_current_decay_saturating":
        assert (np.abs(d["lv"]) == (1 << 23) - 1).any(), "v must reach saturation"


def test_one_synapse_float_equals_lava_lif():
    rng = np.random.default_rng(3)
    kw = dict(du=0.2, dv=0.05, vth=1.5, bias_mant=rng.normal(0, 0.1, N))
    src = Source(data=rng.normal(0, 1, (N, T)))
    lif, ms = LIF(shape=(N,), **kw), MultiSynCuba(shape=(N,), n_syn=1, **kw)
    src.s_out.connect(lif.a_in)
    src.s_out.connect(ms.a_in0)
    d = probe_run(src, {"lv": lif.v, "ls": lif.s_out, "mv": ms.v, "ms": ms.s_out}, T, "float")
    assert np.array_equal(d["mv"], d["lv"]) and np.array_equal(d["ms"], d["ls"])
    assert d["ls"].sum() > 0


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_two_synapses_hand_trace(precision):
    """Neuron 0: current 0 halves each step (du=2047 | 0.5), current 1 keeps (du=-1 | 0),
    dv=0, vth=40 (fixed: theta 40 << 6), subtractive reset. Neuron 1: current 0 decays fully
    (du=4095 | 1). Inputs 10 and 20 at step 1. Fixed point is 64 x the float trace."""
    fixed = precision == "fixed"
    a0, a1 = np.zeros((2, 8)), np.zeros((2, 8))
    a0[:, 0], a1[:, 0] = 10, 20
    dtype = np.int32 if fixed else float
    s0, s1 = Source(data=a0.astype(dtype)), Source(data=a1.astype(dtype))
    du = [[2047, 4095], [-1, -1]] if fixed else [[0.5, 1.0], [0.0, 0.0]]
    ms = MultiSynCuba(shape=(2,), n_syn=2, du=du, dv=0, vth=40, reset="subtract")
    s0.s_out.connect(ms.a_in0)
    s1.s_out.connect(ms.a_in1)
    d = probe_run(s0, {"u": ms.u, "v": ms.v, "s": ms.s_out}, 6, precision)
    scale = 64 if fixed else 1
    u, v = d["u"] / scale, d["v"] / scale
    assert u[:, 0, 0].tolist() == [10, 5, 2.5, 1.25, 0.625, 0.3125]
    assert u[:, 1, 0].tolist() == [20] * 6
    assert u[:, 0, 1].tolist() == [10, 0, 0, 0, 0, 0]
    assert v[:, 0].tolist() == [30, 15, 37.5, 18.75, 39.375, 19.6875]
    assert d["s"][:, 0].tolist() == [0, 1, 0, 1, 0, 1]
    assert v[:, 1].tolist() == [30, 10, 30, 10, 30, 10]


@pytest.mark.parametrize("precision", ["fixed", "float"])
def test_leaky_readout_sends_v(precision):
    """du=2047 / 0.5 halves u; dv=2048 / 0.5 halves v; one input of 10 at step 1."""
    a = np.zeros((1, 6))
    a[0, 0] = 10
    fixed = precision == "fixed"
    src = Source(data=a.astype(np.int32 if fixed else float))
    li = LeakyReadout(shape=(1,), du=2047 if fixed else 0.5, dv=2048 if fixed else 0.5)
    src.s_out.connect(li.a_in0)
    d = probe_run(src, {"v": li.v, "s": li.s_out}, 5, precision)
    scale = 64 if fixed else 1
    assert (d["v"][:, 0] / scale).tolist() == [10, 10, 7.5, 5, 3.125]
    assert np.array_equal(d["s"], d["v"])
