"""compile + run against the same networks built by hand from lava-nc's LIF and Dense."""
from __future__ import annotations

import numpy as np
import pytest

from snnpipe.hwmap.targets.loihi import decay_to_int, threshold_to_int, weight_to_int
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.processes.compile import compile
from snnpipe.processes.run import run
from lava_handbuilt import sequential_lif
from lowered_reference import simulate

pytestmark = pytest.mark.lava

SIZES = (10, 12, 8, 4)
T = 30


def random_chain(seed: int):
    """A 3-layer dense chain with arbitrary float weights, decays and thresholds, and biases
    on the 1/64 grid (the netx bias convention, ``bias_mant << 6``)."""
    rng = np.random.default_rng(seed)
    g = G.new_graph(f"chain{seed}")
    G.add_input(g, "in", SIZES[0])
    prev = "in"
    for i, n in enumerate(SIZES[1:]):
        node = f"l{i}"
        G.add_neuron(g, node, n, current_decay=rng.uniform(0, 0.5),
                     voltage_decay=rng.uniform(0, 0.3), threshold=rng.uniform(0.5, 1.5),
                     bias=rng.integers(-8, 12, n) / 64)
        G.add_dense(g, prev, node, rng.normal(0.15, 0.8, (n, SIZES[i])))
        prev = node
    G.set_outputs(g, [f"l{i}" for i in range(len(SIZES) - 1)])
    x = (rng.random((SIZES[0], T)) < 0.3).astype(np.int64)
    return g, x


def hand_layers(g, precision: str) -> list[dict]:
    """LIF/Dense parameters a user would write by hand (netx's mapping for fixed point)."""
    layers = []
    for src, dst, d in g.edges(data=True):
        nd = g.nodes[dst]
        cd, vd = float(nd["current_decay"][0]), float(nd["voltage_decay"])
        th = float(nd["threshold"])
        if precision == "fixed":
            layers.append(dict(weights=weight_to_int(d["weight"]), du=int(decay_to_int(cd)) - 1,
                               dv=int(decay_to_int(vd)), vth=int(threshold_to_int(th)),
                               bias_mant=np.rint(nd["bias"] * 64).astype(int), bias_exp=6))
        else:
            layers.append(dict(weights=d["weight"], du=cd, dv=vd, vth=th, bias_mant=nd["bias"]))
    return layers


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fixed_compile_equals_hand_built_lava(seed):
    g, x = random_chain(seed)
    rec = run(compile(g, "fixed"), x, steps=T)
    hand = sequential_lif(x, hand_layers(g, "fixed"), "fixed", T)
    for i, spikes in enumerate(hand):
        assert np.array_equal(rec.raw[f"l{i}"], spikes.T.astype(np.int64)), f"layer {i}"
    assert hand[-1].sum() > 0 and rec.latency == {"l0": 1, "l1": 2, "l2": 3}


@pytest.mark.parametrize("seed", [1])
def test_float_compile_equals_hand_built_lava(seed):
    g, x = random_chain(seed)
    rec = run(compile(g, "float"), x, steps=T)
    hand = sequential_lif(x, hand_layers(g, "float"), "float", T)
    for i, spikes in enumerate(hand):
        assert np.array_equal(rec.raw[f"l{i}"], spikes.T), f"layer {i}"
    assert hand[-1].sum() > 0


def test_weight_edge_cases_stay_exact():
    """An all-non-positive layer holding -256 (netx loses precision) and an all-zero layer."""
    rng = np.random.default_rng(5)
    g = G.new_graph("edges")
    G.add_input(g, "in", 6)
    G.add_neuron(g, "a", 5, current_decay=0.1, voltage_decay=0.1, threshold=0.5, bias=1.5)
    G.add_neuron(g, "b", 4, current_decay=0.1, voltage_decay=0.1, threshold=0.5, bias=0.75)
    G.add_neuron(g, "c", 3, current_decay=0.1, voltage_decay=0.1, threshold=0.5)
    w = -rng.integers(0, 128, (5, 6)) * 2 / 64
    w[0, 0] = -4.0
    G.add_dense(g, "in", "a", w)
    G.add_dense(g, "a", "b", rng.normal(0, 1, (4, 5)))
    G.add_dense(g, "b", "c", np.zeros((3, 4)))
    G.set_outputs(g, ["a", "b", "c"])
    x = (rng.random((6, T)) < 0.4).astype(np.int64)
    rec = run(compile(g, "fixed"), x, steps=T)
    ref = simulate(g, x, "fixed", T)
    for node in "abc":
        assert np.array_equal(rec.raw[node], ref[node]), node
    assert rec.raw["a"].sum() > 0 and rec.raw["c"].sum() == 0


def test_batch_samples_start_from_rest():
    g, x = random_chain(0)
    y = x[:, ::-1].copy()
    net = compile(g, "fixed")
    both = run(net, np.stack([x, y]))
    alone = run(net, y)  # a used network is recompiled
    assert both.raw["l2"].shape == (2, 4, T + 3)
    assert np.array_equal(both.raw["l2"][1], alone.raw["l2"])
    assert np.array_equal(both.outputs["l2"][1], alone.raw["l2"][:, 3:])


def test_delays_beyond_62_are_a_graph_error():
    g = G.new_graph("late")
    G.add_input(g, "in", 2)
    G.add_neuron(g, "h", 2)
    G.add_dense(g, "in", "h", np.eye(2), delay=63)
    G.set_outputs(g, ["h"])
    with pytest.raises(GraphError, match="delay"):
        compile(g, "fixed")
