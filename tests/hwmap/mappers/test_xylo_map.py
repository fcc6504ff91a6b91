"""Quantiser and mapper: small Graphs (snnpipe.pipeline.ir.graph) onto a XyloConfig, and what it reports."""
from __future__ import annotations

import numpy as np
import pytest

from snnpipe.hwmap.intsim.xylo import simulate
from snnpipe.hwmap.targets.xylo import STATE_MAX
from snnpipe.hwmap.targets.xylo_rules import check
from snnpipe.hwmap.mappers.xylo_map import dash_to_tau, decay_to_dash, quantize_and_map
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import CapacityError, GraphError, ValidationErrors


def decay_for_tau(tau_steps: float) -> float:
    """The float decay fraction of a time constant in steps: ``1 - exp(-1 / tau)``."""
    return 1.0 - np.exp(-1.0 / tau_steps)


def feedforward(hidden=(8,), out_model="li", seed=0):
    """in(4) -> cuba layers -> readout(3); the first layer has two synaptic currents."""
    rng = np.random.default_rng(seed)
    g = G.new_graph("ff", dt=1e-3)
    G.add_input(g, "in", 4)
    prev, n_prev = "in", 4
    for k, n in enumerate(hidden):
        G.add_neuron(g, f"h{k}", n, n_syn=2 if k == 0 else 1,
                     current_decay=[decay_for_tau(4), decay_for_tau(32)] if k == 0 else decay_for_tau(8),
                     voltage_decay=decay_for_tau(16), threshold=1.0, bias=0.01, reset="subtract",
                     spike="multi")
        G.add_dense(g, prev, f"h{k}", rng.normal(0, 1, (n, n_prev)))
        if k == 0:
            G.add_dense(g, prev, f"h{k}", rng.normal(0, 0.5, (n, n_prev)), syn=1)
        prev, n_prev = f"h{k}", n
    kw = dict(threshold=0.5) if out_model == "cuba" else {}
    G.add_neuron(g, "out", 3, model=out_model, current_decay=decay_for_tau(4),
                 voltage_decay=decay_for_tau(8), **kw)
    G.add_dense(g, prev, "out", rng.normal(0, 0.5, (3, n_prev)))
    G.set_outputs(g, ["out"])
    return g


def test_decay_maps_to_dash_and_back():
    """tau = 8 steps -> dash 3; dash 3 decays by 1/8 per step: tau = -1/ln(7/8) steps."""
    assert decay_to_dash(decay_for_tau(8)) == 3
    assert decay_to_dash([0.0, 1.0]).tolist() == [15, 0]
    assert np.isclose(dash_to_tau(3, 1e-3), -1e-3 / np.log(7 / 8))


def test_two_layer_feedforward():
    g = feedforward(hidden=(8,))
    config, report = quantize_and_map(g)
    assert config.shape == (4, 8, 3) and check(config) == []
    assert not config.weights_rec.any()                       # one hidden layer: no recurrence
    assert config.weights_in[:, :, 0].any() and config.weights_in[:, :, 1].any()
    assert set(config.dash_syn) == {2} and set(config.dash_syn_2) == {5}      # tau 4, 32
    assert set(config.dash_mem) == {4} and set(config.dash_mem_out) == {3}
    assert report.layout == {"h0": ("hidden", 0, 8), "out": ("output", 0, 3)}
    assert all(loss < 0.02 and clipped == 0 for loss, clipped in report.weight_loss.values())
    dash, tau, eff = report.tau[("h0", "isyn2")]
    assert dash == 5 and np.isclose(tau, 32e-3, rtol=0.02) and np.isclose(eff, dash_to_tau(5, 1e-3))
    assert (config.threshold_out == STATE_MAX).all()          # li readout never spikes
    assert report.latency_steps == {"out": 1}
    # the threshold of 1.0 in state units sets the scale; the bias follows it
    assert config.threshold[0] == round(report.scale) and config.bias[0] == round(0.01 * report.scale)


def test_weights_are_compensated_for_decay_after_input():
    """Xylo adds the input, then decays: a weight into a current with dash d is divided by
    (1 - 2^-d), so that one event leaves w (float units) in the current after the step."""
    g = feedforward(hidden=(8,))
    config, report = quantize_and_map(g)
    w_float = next(d["weight"] for u, v, d in g.edges(data=True) if (u, v, d["syn"]) == ("in", "h0", 0))
    w_chip = config.weights_in[:, :, 0].T * 2.0 ** config.weight_shift_in / report.scale
    assert np.allclose(w_chip * (1 - 2.0 ** -2), w_float, atol=2.0 ** config.weight_shift_in / report.scale)
    config, report = quantize_and_map(g, decay_after_input=True)       # graph in Xylo's order
    w_chip = config.weights_in[:, :, 0].T * 2.0 ** config.weight_shift_in / report.scale
    assert np.allclose(w_chip, w_float, atol=2.0 ** config.weight_shift_in / report.scale)


def test_deeper_net_uses_off_diagonal_blocks_and_spiking_outputs():
    g = feedforward(hidden=(8, 6), out_model="cuba")
    config, report = quantize_and_map(g)
    rec = np.abs(config.weights_rec[:, :, 0]) > 0
    assert rec[0:8, 8:14].any() and not rec[:, 0:8].any() and not rec[8:14, :].any()
    assert not config.weights_in[:, 8:14].any()
    assert report.latency_steps == {"out": 2}
    assert (config.threshold_out < STATE_MAX).all()
    x = (np.random.default_rng(1).random((2, 4, 30)) < 0.5) * 3
    r = simulate(config, x)
    assert r.spikes[:, 0:8].sum() > 0 and r.spikes[:, 8:14].sum() > 0


def merge_net():
    """in(4) -> a(5) -> b(5); m = a + b (merge); m -> readout(2)."""
    rng = np.random.default_rng(2)
    g = G.new_graph("residual")
    G.add_input(g, "in", 4)
    for node in ("a", "b"):
        G.add_neuron(g, node, 5, current_decay=decay_for_tau(2), voltage_decay=decay_for_tau(4),
                     threshold=0.5, reset="subtract", spike="multi")
    G.add_dense(g, "in", "a", rng.uniform(0.2, 1.0, (5, 4)))
    G.add_dense(g, "a", "b", rng.uniform(0.2, 1.0, (5, 5)))
    G.add_merge(g, "m", 5)
    G.add_identity(g, "a", "m")
    G.add_identity(g, "b", "m")
    G.add_neuron(g, "o", 2, model="li", current_decay=decay_for_tau(4), voltage_decay=1.0)
    G.add_dense(g, "m", "o", rng.normal(0, 1, (2, 5)))
    G.set_outputs(g, ["o"])
    return g


def test_merge_becomes_aliases_onto_relay_neurons():
    config, report = quantize_and_map(merge_net())
    a, b, m = (report.layout[n][1:] for n in ("a", "b", "m"))
    assert config.aliases[a[0]:a[1]] == [[i] for i in range(*m)]
    assert config.aliases[b[0]:b[1]] == [[i] for i in range(*m)]
    assert not config.weights_out[a[0]:b[1]].any() and config.weights_out[m[0]:m[1]].any()
    x = (np.random.default_rng(3).random((1, 4, 40)) < 0.6) * 2
    s = simulate(config, x).spikes[0]
    merged = np.minimum(s[a[0]:a[1]] + s[b[0]:b[1]], 31)
    assert s[a[0]:a[1]].sum() > 0 and s[b[0]:b[1]].sum() > 0
    assert np.array_equal(s[m[0]:m[1]], merged)               # same step, no extra latency
    assert report.latency_steps == {"o": 2}


def test_silent_population_and_clipping_are_reported():
    g = feedforward(hidden=(8, 6))
    for _, v, d in g.edges(data=True):
        if v == "h1":
            d["weight"] = d["weight"] * 1e-6                  # rounds to zero next to the others
    g.nodes["h0"]["bias"] = np.array(5.0)                     # 5 * scale >> 127
    _, report = quantize_and_map(g)
    assert "h1" in report.silent and report.clipped["bias"] == 8
    assert "h1" in str(report)


def _errors(g) -> list:
    with pytest.raises(ValidationErrors) as e:
        quantize_and_map(g)
    return e.value.problems


def test_unsupported_graphs_are_design_rule_errors():
    g = G.new_graph()
    G.add_input(g, "img", (1, 4, 4))
    G.add_neuron(g, "c", (2, 3, 3))
    G.add_conv(g, "img", "c", np.ones((2, 1, 2, 2)))
    G.add_neuron(g, "h", 5, n_syn=3, current_decay=0.5, refractory=2)
    G.add_dense(g, "c", "h", np.ones((5, 18)), delay=3)
    G.add_neuron(g, "o", 2, model="li")
    G.add_dense(g, "img", "o", np.ones((2, 16)))
    G.set_outputs(g, ["o"])
    problems = _errors(g)
    fields = {(type(p), p.field) for p in problems}
    assert {(CapacityError, "op"), (CapacityError, "delay"), (CapacityError, "n_syn"),
            (CapacityError, "refractory")} <= fields
    assert any("directly" in p.message for p in problems)


def test_too_many_neurons_and_merge_errors():
    g = G.new_graph()
    G.add_input(g, "in", 20)
    G.add_neuron(g, "h", 1001)
    G.add_dense(g, "in", "h", np.ones((1001, 20)))
    G.add_neuron(g, "o", 9, model="li")
    G.add_dense(g, "h", "o", np.ones((9, 1001)))
    G.set_outputs(g, ["o"])
    assert {p.where for p in _errors(g)} >= {"inputs", "hidden", "outputs"}
    g = merge_net()
    G.add_merge(g, "m2", 5)
    G.add_identity(g, "a", "m2")
    G.add_identity(g, "b", "m2", weight=2.0)
    G.add_dense(g, "m2", "o", np.ones((2, 5)))
    problems = _errors(g)
    assert any(isinstance(p, GraphError) and p.field == "weight" for p in problems)


def test_fanout_over_64_is_reported():
    g = feedforward(hidden=(70, 70))
    assert any(p.field == "weights_rec" and "fan-out" in p.message for p in _errors(g))


@pytest.mark.parametrize("make", [lambda: feedforward(hidden=(8, 6), out_model="cuba"), merge_net])
def test_mapped_configs_run_identically_on_xylosim(make):
    pytest.importorskip("xylosim.v2")
    from snnpipe.hwmap.intsim.xylo_ref import XyloReference

    config, _ = quantize_and_map(make())
    x = (np.random.default_rng(4).random((2, 4, 30)) < 0.5) * 2
    ours = simulate(config, x, record=True)
    ref = XyloReference(config).run(x)
    assert np.array_equal(ours.spikes, ref["spikes"]) and np.array_equal(ours.spikes_out, ref["spikes_out"])
    assert np.array_equal(ours.states["Vmem_out"], ref["Vmem_out"])


def test_relays_do_not_count_as_clipped_thresholds():
    config, report = quantize_and_map(merge_net())
    m = report.layout["m"]
    assert (config.threshold[m[1]:m[2]] == STATE_MAX).all() and "threshold" not in report.clipped


def test_quantised_network_follows_the_float_dynamics():
    """With decays the shifts represent exactly (1/4, 1/32, 1/16), the integer network and a
    float simulation of the same graph (Xylo timing: one step per hidden -> output hop;
    ``u = u (1 - d) + W s``) agree up to rounding: similar spike counts, same readout trace."""
    rng = np.random.default_rng(5)
    g = G.new_graph("exact-decays")
    G.add_input(g, "in", 4)
    G.add_neuron(g, "h", 8, n_syn=2, current_decay=[0.25, 1 / 32], voltage_decay=1 / 16,
                 threshold=1.0, bias=0.02, reset="subtract", spike="multi")
    w0, w1, w_o = rng.uniform(-0.1, 0.3, (8, 4)), rng.uniform(-0.02, 0.03, (8, 4)), rng.normal(0, 0.3, (3, 8))
    G.add_dense(g, "in", "h", w0)
    G.add_dense(g, "in", "h", w1, syn=1)
    G.add_neuron(g, "o", 3, model="li", current_decay=0.25, voltage_decay=1 / 16)
    G.add_dense(g, "h", "o", w_o)
    G.set_outputs(g, ["o"])
    config, report = quantize_and_map(g)
    x = (rng.random((1, 4, 200)) < 0.3) * rng.integers(1, 3, (1, 4, 200))
    ours = simulate(config, x, record=True)

    u0, u1, v, uo, vo, s_prev = np.zeros(8), np.zeros(8), np.zeros(8), np.zeros(3), np.zeros(3), np.zeros(8)
    spikes, v_out = [], []
    for t in range(x.shape[2]):
        u0 = u0 * 0.75 + w0 @ x[0, :, t]
        u1 = u1 * (31 / 32) + w1 @ x[0, :, t]
        v = v * (15 / 16) + u0 + u1 + 0.02
        n = np.clip(np.floor(v), 0, 31)
        v -= n
        uo = uo * 0.75 + w_o @ s_prev
        vo = vo * (15 / 16) + uo
        s_prev = n
        spikes.append(n)
        v_out.append(vo.copy())
    spikes, v_out = np.array(spikes).T, np.array(v_out).T
    assert spikes.sum() > 50
    assert abs(int(ours.spikes.sum()) - spikes.sum()) <= 0.05 * spikes.sum()
    chip = ours.states["Vmem_out"][0] / report.scale_out
    assert np.corrcoef(chip.ravel(), v_out.ravel())[0, 1] > 0.99
