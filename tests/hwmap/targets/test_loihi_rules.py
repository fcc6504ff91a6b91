"""Loihi-style number formats, quantiser and design rules, as specifications.

Impulse responses are checked against a scalar reference written with Python integers from the
equations of DESIGN.md 5.1 (not the vectorised rule functions under test).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snnpipe.hwmap.intsim.loihi import simulate
from snnpipe.hwmap.targets import loihi as L
from snnpipe.hwmap.mappers.loihi_config import LoihiConfig, Population, Projection
from snnpipe.hwmap.mappers.loihi_quant import quantize
from snnpipe.hwmap.targets.loihi import bias_to_int
from snnpipe.hwmap.targets.loihi_rules import RULES, check
from snnpipe.hwmap.targets.loihi_weights import (EXCITATORY, INHIBITORY, MIXED, effective_weights,
                                                 sign_mode, weight_format)
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import CapacityError, GraphError, QuantizationError


# ---------------------------------------------------------------- scalar reference (DESIGN 5.1)
def _trunc0(p: int, k: int) -> int:
    return -((-p) >> k) if p < 0 else p >> k


def ref_neuron(a_seq, i_decay, v_decay, vth, bias=0, li=False):
    """Python-int reference of one neuron: lists u, v, s over steps (a_seq[t] = a at step t+1)."""
    u = v = 0
    us, vs, ss = [], [], []
    for a in a_seq:
        u = _trunc0(u * (4096 - i_decay), 12) + (a << 6)
        if u > 2 ** 23:
            u -= 2 ** 24
        elif u <= -(2 ** 23):
            u += 2 ** 24
        v = max(-(2 ** 23 - 1), min(2 ** 23 - 1, _trunc0(v * (4096 - v_decay), 12) + u + bias))
        s = (not li) and v > (vth << 6)
        if s:
            v = 0
        us.append(u), vs.append(v), ss.append(int(s))
    return us, vs, ss


def _one_neuron(w, i_decay, v_decay, vth, bias_mant=0, bias_exp=0, li=False, weight_exp=0,
                n_syn=1, syn_w=None):
    pop = Population("n", (1,), "li" if li else "cuba", np.array([[i_decay]] * n_syn, np.int64),
                     np.array([v_decay]), np.array([vth]), np.array([bias_mant]),
                     np.array([bias_exp]))
    projs = [Projection("in", "n", "dense", np.array([[w]]), 8, weight_exp, 0)]
    for k, wk in enumerate(syn_w or []):
        projs.append(Projection("in", "n", "dense", np.array([[wk]]), 8, 0, k + 1))
    return LoihiConfig("one", 1e-3, {"in": (1,)}, [pop], projs, ["n"])


@pytest.mark.parametrize("w,i_decay,v_decay,vth", [
    (100, 0, 0, 10_000), (101, 1, 4096, 50), (-255, 4096, 10, 3), (254, 300, 1000, 100),
    (2, 4095, 0, 0)])
def test_impulse_response_u_v_s(w, i_decay, v_decay, vth):
    T = 12                                     # single weights: excitatory or inhibitory, 8 bits
    x = np.zeros((1, 1, T), np.int64)
    x[0, 0, [0, 4]] = 1
    r = simulate(_one_neuron(w, i_decay, v_decay, vth), x, record=("u", "v"))
    a = [0] + [int(x[0, 0, t - 1]) * w for t in range(1, T)]       # one-step Dense latency
    u, v, s = ref_neuron(a, i_decay, v_decay, vth)
    assert r.states["n/u"][0, 0, 0].tolist() == u
    assert r.states["n/v"][0, 0].tolist() == v
    assert r.spikes["n"][0, 0].tolist() == s


def test_impulse_bias_and_weight_exp():
    """bias = mant << exp (floor for exp < 0) every step; Dense output floor-shifted by weight_exp."""
    T = 6
    x = np.ones((1, 1, T), np.int64)
    for bm, be, we in ((5, 3, -1), (-5, -1, 2), (-7, 0, -3)):
        r = simulate(_one_neuron(-7, 100, 200, 1000, bm, be, weight_exp=we), x, record=("v",))
        bias = bm << be if be >= 0 else bm >> -be
        a_t = (-7 << we) if we > 0 else (-7 >> -we)                 # inhibitory keeps odd values
        u, v, s = ref_neuron([0] + [a_t] * (T - 1), 100, 200, 1000, bias)
        assert r.states["n/v"][0, 0].tolist() == v


def test_u_wrap_and_v_saturation():
    T = 40
    x = np.ones((1, 1, T), np.int64)
    cfg = _one_neuron(254, 0, 0, 0, weight_exp=6, li=True)
    r = simulate(cfg, x, record=("u", "v"))
    a = [0] + [254 << 6] * (T - 1)
    u, v, _ = ref_neuron(a, 0, 0, 0, li=True)
    assert r.states["n/u"][0, 0, 0].tolist() == u and min(u) < 0       # wrapped
    assert r.states["n/v"][0, 0].tolist() == v and max(v) == 2 ** 23 - 1  # saturated


def test_multi_synapse_currents_and_li_readout():
    """n_syn = 2: each u_k follows the u rule with its own decay; v integrates u_0 + u_1."""
    T = 10
    x = np.zeros((1, 1, T), np.int64)
    x[0, 0, 1] = 1
    cfg = _one_neuron(100, 500, 300, 0, li=True, n_syn=2, syn_w=[-60])
    cfg.populations[0].i_decay = np.array([[500], [50]])
    r = simulate(cfg, x, record=("u", "v"))
    a = [int(x[0, 0, t - 1]) if t else 0 for t in range(T)]
    u0, _, _ = ref_neuron([100 * k for k in a], 500, 0, 0, li=True)
    u1, _, _ = ref_neuron([-60 * k for k in a], 50, 0, 0, li=True)
    v = 0
    vs = []
    for k in range(T):
        v = _trunc0(v * (4096 - 300), 12) + u0[k] + u1[k]
        vs.append(v)
    assert r.states["n/u"][0, :, 0].tolist() == [u0, u1]
    assert r.states["n/v"][0, 0].tolist() == vs
    assert r.spikes["n"].sum() == 0                                # li never spikes


# ---------------------------------------------------------------- weight formats
def test_sign_mode_and_truncation():
    assert sign_mode([[0, 3]]) == EXCITATORY and sign_mode([[-1, 0]]) == INHIBITORY
    assert sign_mode([[-1, 1]]) == MIXED and sign_mode([[1, 2]], implicit_zero=True) == EXCITATORY
    assert effective_weights([[255, -256, 3, -3]]).tolist() == [[254, -256, 2, -4]]
    assert effective_weights([[-256, -3]], 7).tolist() == [[-254, -2]]   # inhibitory clip, magnitude
    assert effective_weights([[255, 7]], 6).tolist() == [[252, 4]]


@pytest.mark.parametrize("w", [[-256, -128, -2, 0], [0, 0, 0], [254, 2], [-256, 254], [-4, 8]])
def test_weight_format_is_exact(w):
    f = weight_format(np.array([w]))
    assert f.exact and np.array_equal(f.effective, [w]) and 1 <= f.num_weight_bits <= 8


def test_weight_format_fewer_bits_rounds_and_reports():
    f = weight_format(np.array([[254, -256, 6]]), max_weight_bits=4)
    assert not f.exact and f.num_weight_bits == 4
    assert np.all(f.effective % 32 == 0)


# ---------------------------------------------------------------- quantiser
def _netx_like_graph(rng):
    g = G.new_graph("q")
    G.add_input(g, "in", (6,))
    G.add_neuron(g, "h", (5,), current_decay=1024 / 4096, voltage_decay=128 / 4096,
                 threshold=80 / 64, bias=rng.integers(-100, 100, 5) / 64)
    G.add_neuron(g, "o", (3,), model="li", current_decay=4096 / 4096, voltage_decay=0.0)
    G.add_dense(g, "in", "h", rng.integers(-128, 128, (5, 6)) * 2 / 64)
    G.add_dense(g, "h", "o", np.zeros((3, 5)))
    G.set_outputs(g, ["o"])
    return g


def test_quantize_integer_graph_round_trips_exactly():
    rng = np.random.default_rng(3)
    g = _netx_like_graph(rng)
    params, rep = quantize(g)
    h = params["populations"][0]
    assert h.i_decay.tolist() == [[1024] * 5] and h.v_decay.tolist() == [128] * 5
    assert h.vth.tolist() == [80] * 5
    assert np.array_equal(h.bias_mant << h.bias_exp, np.rint(g.nodes["h"]["bias"] * 4096))
    p0 = params["projections"][0]
    eff = effective_weights(p0.weight, p0.num_weight_bits) << p0.weight_exp
    assert np.array_equal(eff, np.rint(g.edges["in", "h", 0]["weight"] * 64))
    assert rep.projections[0]["max_abs_error"] == 0.0
    assert rep.all_zero == ["h -> o"] and "ALL ZERO" in rep.text()


def test_bias_exponent_chosen_for_range():
    mant, exp = bias_to_int(np.array([0.5, -60.0, 100.0]))
    assert np.array_equal(mant << exp, np.rint(np.array([0.5, -60.0, 100.0]) * 4096))
    assert np.all((-4096 <= mant) & (mant <= 4095))
    with pytest.raises(QuantizationError, match="bias"):
        bias_to_int(np.array([200.0]), "h")


# ---------------------------------------------------------------- design rules
def _graph(**neuron):
    g = G.new_graph("r")
    G.add_input(g, "in", (4,))
    G.add_neuron(g, "h", (3,), **neuron)
    G.add_dense(g, "in", "h", np.full((3, 4), 0.5))
    G.set_outputs(g, ["h"])
    return g


@pytest.mark.parametrize("neuron,err,words", [
    (dict(reset="subtract"), GraphError, "custom-neuron"),
    (dict(refractory=2), GraphError, "refractory"),
    (dict(spike="multi"), GraphError, "multi"),
    (dict(n_syn=9), CapacityError, "synaptic currents"),
    (dict(threshold=5000.0), QuantizationError, "threshold"),
    (dict(voltage_decay=1.5), QuantizationError, "decay"),
])
def test_rules_name_population_limit_and_value(neuron, err, words):
    with pytest.raises(err, match=words) as e:
        check(_graph(**neuron))
    assert e.value.where == "h" and e.value.found is not None and "[rule_" in str(e.value)


def test_rule_delay_and_weight_bits():
    g = _graph()
    g.edges["in", "h", 0]["delay"] = 63
    with pytest.raises(CapacityError, match="rule_delays.*0..62") as e:
        check(g)
    assert e.value.where == "in -> h" and e.value.found == 63
    with pytest.raises(QuantizationError, match="weight bits"):
        check(_graph(), L.LoihiLimits(max_weight_bits=9))
    check(_graph())
    assert len(RULES) >= 8


def test_quant_report_counts_clipped_weights():
    g = _graph()
    g.edges["in", "h", 0]["weight"] = np.array([[5.0, -4.5, 3.96, -4.0]] * 3)
    _, rep = quantize(g)
    assert rep.projections[0]["n_clipped"] == 2 * 3            # 5.0 and -4.5; 3.96 rounds to 254
    assert rep.projections[0]["max_abs_error"] == pytest.approx(5.0 - 254 / 64)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 3))
def test_inplace_step_equals_the_rule_functions(seed, n_syn):
    """The simulator's fused in-place step is the composition of the generic rule functions."""
    rng = np.random.default_rng(seed)
    shape = (n_syn, 2, 7)
    u = rng.integers(-(2 ** 23) + 1, 2 ** 23 + 1, shape)
    v = rng.integers(-(2 ** 23) + 1, 2 ** 23, shape[1:])
    a = rng.integers(-(2 ** 17), 2 ** 17, shape) * rng.integers(0, 2, shape)
    i_dec = rng.integers(0, 4097, (n_syn, 7))
    v_dec = rng.integers(0, 4097, 7)
    bias = L.bias_array(rng.integers(-4096, 4096, 7), rng.integers(-2, 8, 7))
    theta = L.threshold_value(rng.integers(0, L.VTH_MAX + 1, 7))
    u_ref = L.current_step(u, a, i_dec[:, None, :])
    s_ref, v_ref = L.spike_and_reset(L.voltage_step(v, u_ref.sum(axis=0), v_dec, bias), theta)
    x = np.concatenate([u, v[None]])
    keep = L.DECAY_UNIT - np.concatenate([i_dec, v_dec[None]])[:, None, :]
    s = L.neuron_step_inplace(x, a << 6, keep, bias, theta, np.empty_like(x))
    assert np.array_equal(x[:-1], u_ref) and np.array_equal(x[-1], v_ref)
    assert np.array_equal(s, s_ref)
