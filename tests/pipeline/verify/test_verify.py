"""snnpipe.pipeline.verify.chain: every implementation of a target agrees on the zoo, and an altered mapped
configuration is caught at the right step and neuron.

The expected divergence is computed here from the unaltered integer simulation alone: an
altered synapse (source j -> target i) first matters one step after source j first spikes.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from snnpipe.hwmap.intsim.loihi import simulate as loihi_simulate
from snnpipe.hwmap.intsim.xylo import simulate as xylo_simulate
from snnpipe.hwmap.mappers.loihi_map import effective, map_graph
from snnpipe.hwmap.mappers.xylo_map import quantize_and_map
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import SnnpipeError, ValidationErrors, VerificationError
from snnpipe.pipeline.backends.base import Run
from snnpipe.pipeline.verify.chain import random_inputs, verify
from snnpipe.pipeline.verify.compare import compare
from zoo import ZOO

XYLO_ZOO = ("sequential_dense", "recurrent_first", "recurrent_second", "branches_merge",
            "residual", "synnet", "li_readout")


@pytest.mark.lava
def test_loihi_torch_lava_and_intsim_agree_on_wavesense():
    """Two currents, a delay, merges and an li readout, through real Lava."""
    rep = verify(ZOO["wavesense"](0), "loihi", random_inputs(ZOO["wavesense"](0), 2, seed=3))
    assert rep.implementations == ["torch-loihi", "lava-fixed", "intsim-loihi"]
    assert rep.ok, rep.text()
    assert all(set(r["diffs"]) == {"lava-fixed", "intsim-loihi"} for r in rep.rows)
    assert rep.first is None
    assert rep.saturation["torch-loihi"] == {"u wraps (24 bit)": 0, "v saturations (24 bit)": 0}


@pytest.mark.lava
def test_lava_target_agrees_on_a_recurrent_graph():
    rep = verify(ZOO["recurrent_second"](0), "lava", n_random=2, seed=4)
    assert rep.implementations == ["torch-loihi", "lava-fixed"]
    assert rep.ok, rep.text()


@pytest.mark.parametrize("name", sorted(set(ZOO) - {"wavesense"}))
def test_loihi_torch_and_intsim_agree_on_the_zoo(name):
    rep = verify(ZOO[name](0), "loihi", implementations=("torch", "intsim"), n_random=2, seed=5)
    assert rep.ok, rep.text()
    assert sum(r["kind"] == "output" for r in rep.rows) == 1


@pytest.mark.parametrize("name", XYLO_ZOO)
def test_xylo_torch_intsim_and_xylosim_agree_on_the_zoo(name):
    rep = verify(ZOO[name](0), "xylo", random_inputs(ZOO[name](0), 2, seed=6, rate=0.3))
    assert rep.implementations == ["torch-xylo", "intsim-xylo", "xylosim"]
    assert rep.ok, rep.text()
    assert rep.saturation["intsim-xylo"]["ordered 16-bit additions"] >= 0


def _two_currents():
    """in (4) -> dil (8, two currents, bias) <-> h (6) -> li readout (3); the second current of
    dil is fed from the input and, recurrently, from h. Bias in 1/64 units (see the report)."""
    rng = np.random.default_rng(0)
    g = G.new_graph("two_currents")
    G.add_input(g, "in", 4)
    G.add_neuron(g, "dil", 8, n_syn=2, current_decay=[0.4, 0.05], voltage_decay=0.25,
                 threshold=1.0, bias=1 / 64)
    G.add_neuron(g, "h", 6, current_decay=0.3, voltage_decay=0.1, threshold=0.8)
    G.add_neuron(g, "out", 3, model="li", current_decay=0.2, voltage_decay=0.1)
    G.add_dense(g, "in", "dil", rng.normal(0, 1, (8, 4)), syn=0)
    G.add_dense(g, "in", "dil", rng.normal(0, 1, (8, 4)), syn=1)
    G.add_dense(g, "dil", "h", rng.normal(0, 1, (6, 8)))
    G.add_dense(g, "h", "dil", rng.normal(0, 0.5, (8, 6)), syn=1, recurrent=True)
    G.add_dense(g, "h", "out", rng.normal(0, 1, (3, 6)))
    G.set_outputs(g, ["out"])
    return g


@pytest.mark.parametrize("target", ["loihi", "xylo"])
def test_two_synaptic_currents_and_a_recurrent_loop_agree(target):
    g = _two_currents()
    impls = ("torch", "intsim") if target == "loihi" else None
    rep = verify(g, target, random_inputs(g, 2, seed=1, rate=0.4), implementations=impls)
    assert rep.ok, rep.text()
    rep.check()
    if target == "xylo":
        assert rep.saturation["intsim-xylo"]["ordered 16-bit additions"] > 0


def test_loihi_current_wraps_are_counted_and_reproduced():
    """Graded input counts of 1000 through weight 254/64 push u past 2^23: it wraps."""
    g = G.new_graph("wrap")
    G.add_input(g, "in", 1)
    G.add_neuron(g, "n", 1, current_decay=0.0, voltage_decay=0.0, threshold=100.0)
    G.add_dense(g, "in", "n", [[254 / 64]])
    G.set_outputs(g, ["n"])
    x = np.zeros((1, 1, 6), np.int64)
    x[0, 0, :2] = 1000
    rep = verify(g, "loihi", x, implementations=("torch", "intsim"))
    assert rep.ok, rep.text()
    sat = rep.saturation["torch-loihi"]
    assert sat["u wraps (24 bit)"] > 0
    assert "u wraps (24 bit)" in rep.text()


def _first_spike(spikes: np.ndarray, j: int) -> tuple[int, int]:
    """(step, sample) of the earliest spike of neuron j in (B, N, T)."""
    hits = np.argwhere(spikes[:, j, :] > 0)
    t = int(hits[:, 1].min())
    return t, int(hits[hits[:, 1] == t][0, 0])


def test_an_altered_loihi_weight_is_found_at_the_right_step_and_neuron():
    g = ZOO["sequential_dense"](0)
    x = random_inputs(g, 2, seed=7, rate=0.3)
    cfg = map_graph(g)
    k = next(i for i, q in enumerate(cfg.projections) if (q.src, q.dst) == ("h1", "h2"))
    pad = 2
    sim = loihi_simulate(cfg, np.concatenate([x, np.zeros(x.shape[:2] + (pad,), x.dtype)], -1))
    j = int(np.argmin([_first_spike(sim.spikes["h1"], n)[0] if sim.spikes["h1"][:, n].any()
                       else 1 << 30 for n in range(12)]))
    i = 4

    def alter(c):
        q = c.projections[k]
        q.weight[i, j] += -64 if q.weight[i, j] > 0 else 64

    altered = map_graph(g)
    alter(altered)
    changed = np.argwhere(effective(altered.projections[k]) != effective(cfg.projections[k]))
    assert changed.tolist() == [[i, j]]
    t, b = _first_spike(sim.spikes["h1"], j)
    rep = verify(g, "loihi", x, implementations=("torch", "intsim"), alter=alter, pad=pad)
    assert not rep.ok
    f = rep.first
    assert (f["step"], f["sample"], f["node"], f["var"], f["neuron"]) == (t + 1, b, "h2", "u", i)
    assert f["implementation"] == "intsim-loihi"
    ref, alt = f["states"]["torch-loihi"], f["states"]["intsim-loihi"]
    assert ref["u"][0] == alt["u"][0] and ref["u"][1] != alt["u"][1]
    h1 = next(r for r in rep.rows if (r["node"], r["var"]) == ("h1", "spikes"))
    assert h1["diffs"] == {"intsim-loihi": 0}
    assert "first divergence: step" in rep.text()
    json.dumps(rep.to_dict())
    with pytest.raises(VerificationError, match="h2.u neuron"):
        rep.check()


def test_an_altered_xylo_weight_is_found_at_the_right_step_and_neuron():
    g = ZOO["sequential_dense"](0)          # h1 hidden 0..11 -> h2 output 0..5
    x = random_inputs(g, 2, seed=8, rate=0.3)
    cfg, rep_map = quantize_and_map(g)
    pad = max(rep_map.latency_steps.values())
    xp = np.concatenate([x, np.zeros(x.shape[:2] + (pad,), x.dtype)], -1)
    sim = xylo_simulate(cfg, xp, record=True)
    firsts = [_first_spike(sim.spikes, n) if sim.spikes[:, n].any() else (1 << 30, 0)
              for n in range(12)]
    j = int(np.argmin([f[0] for f in firsts]))
    t, b = firsts[j]
    count = int(sim.spikes[b, j, t])
    delta = 10 if cfg.weights_out[j].max() < 100 else -10
    step = delta * count << cfg.weight_shift_out
    isyn = sim.states["Isyn_out"][b, :, t + 1].astype(int)
    # an output whose current cannot saturate with the change, so the change must show
    i = next(n for n in range(6) if abs(isyn[n]) + abs(step) < 32767 - 1000)

    def alter(c):
        c.weights_out[j, i] += delta

    rep = verify(g, "xylo", x, alter=alter)
    assert not rep.ok
    f = rep.first
    assert (f["step"], f["sample"], f["node"], f["var"], f["neuron"]) == (t + 1, b, "h2", "u", i)
    assert f["states"]["intsim-xylo"] == f["states"]["xylosim"]
    assert f["states"]["torch-xylo"]["u"][1] != f["states"]["intsim-xylo"]["u"][1]
    json.dumps(rep.to_dict())


def test_compare_reports_counts_and_the_earliest_divergence():
    z = np.zeros((2, 3, 6), np.int64)
    u = np.zeros((2, 1, 3, 6), np.int64)
    ref = Run("a", {"p": {"u": u, "v": z, "spikes": z}}, {"p": z})
    v2, s2 = z.copy(), z.copy()
    v2[1, 2, 4] = 7
    v2[0, 0, 5] = 1
    s2[0, 1, 4] = 1
    other = Run("b", {"p": {"u": u, "v": v2, "spikes": s2}}, {"p": s2}, {"ordered": 3})
    rep = compare([ref, other], "test")
    diffs = {(r["kind"], r["var"]): r["diffs"]["b"] for r in rep.rows}
    assert diffs == {("output", "out"): 1, ("population", "u"): 0, ("population", "v"): 2,
                     ("population", "spikes"): 1}
    assert (rep.first["step"], rep.first["var"], rep.first["sample"], rep.first["neuron"]) == \
        (4, "v", 1, 2)
    assert rep.first["states"]["b"]["v"] == [0, 7]
    assert "ordered 3" in rep.text() and not rep.ok


def test_random_inputs_are_seeded_binary_rasters():
    g = ZOO["synnet"](0)
    a = random_inputs(g, 3, seed=1, rate=0.5, steps=20)
    b = random_inputs(g, 3, seed=1, rate=0.5, steps=20)
    assert a.shape == (3, 6, 20) and np.array_equal(a, b) and set(np.unique(a)) <= {0, 1}


def test_xylo_target_refuses_what_the_chip_cannot_hold():
    with pytest.raises(ValidationErrors, match="convolutions"):
        verify(ZOO["sequential_conv"](0), "xylo")


def test_alter_needs_an_integer_simulator():
    with pytest.raises(SnnpipeError, match="alter"):
        verify(ZOO["sequential_dense"](0), "lava", alter=lambda c: c)


def test_inputs_may_be_given_in_the_input_shape():
    g = ZOO["sequential_conv"](0)                       # input (2, 8, 6)
    x = (np.random.default_rng(0).random((2, 8, 6, 12)) < 0.3).astype(np.int64)
    rep = verify(g, "loihi", x, implementations=("torch", "intsim"), pad=0)
    assert rep.ok and (rep.batch, rep.steps) == (1, 12)


def test_biases_off_the_1_64_grid_agree_across_torch_lava_and_the_simulator():
    """One bias format for every implementation: the Loihi target's (1/4096 mantissa and
    exponent), which the torch loihi precision imports."""
    import zoo

    g = zoo.sequential_dense(0)
    g.nodes["h1"]["bias"] = np.linspace(-0.05, 0.07, 12) + 0.0031
    report = verify(g, "loihi", random_inputs(g, 1, seed=4, steps=30))
    assert report.ok, report.text()
