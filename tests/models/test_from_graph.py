"""snnpipe.models.from_graph: any Graph in torch, spike for spike with the integer simulators.

Oracles: ``snnpipe.hwmap.intsim.loihi`` (itself cross-checked bit for bit against Lava) and
``snnpipe.hwmap.intsim.xylo`` (cross-checked against xylosim), plus hand-computed impulse responses for
the timing convention.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from snnpipe.hwmap.intsim.loihi import simulate as loihi_simulate
from snnpipe.hwmap.intsim.xylo import simulate as xylo_simulate
from snnpipe.hwmap.mappers.loihi_map import map_graph
from snnpipe.hwmap.mappers.xylo_map import quantize_and_map
from snnpipe.models.from_graph import build
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError
from zoo import ZOO

XYLO_ZOO = ("sequential_dense", "recurrent_first", "recurrent_second", "branches_merge",
            "residual", "synnet", "li_readout")


def _raster(g, batch=2, steps=40, rate=0.3, seed=1):
    n = G.size(g.nodes[g.graph["inputs"][0]]["shape"])
    return (np.random.default_rng(seed).random((batch, n, steps)) < rate).astype(np.int64)


def _ints(t: torch.Tensor, unit: float) -> np.ndarray:
    return np.rint(t.numpy() * unit).astype(np.int64)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_loihi_precision_equals_the_loihi_integer_simulator(name):
    g = ZOO[name](0)
    x = _raster(g)
    out, rec = build(g, "loihi")(x, record=True)
    sim = loihi_simulate(map_graph(g), x, record=("u", "v"))
    for p in (n for n in g if g.nodes[n]["kind"] == "neuron"):
        assert np.array_equal(_ints(rec[p]["u"], 4096), sim.states[f"{p}/u"]), p
        assert np.array_equal(_ints(rec[p]["v"], 4096), sim.states[f"{p}/v"]), p
        if g.nodes[p]["model"] == "cuba":
            assert np.array_equal(rec[p]["spikes"].numpy(), sim.spikes[p]), p
    first = g.graph["outputs"][0]
    assert torch.equal(out, rec[first]["v" if g.nodes[first]["model"] == "li" else "spikes"])


@pytest.mark.parametrize("name", XYLO_ZOO)
def test_xylo_precision_on_the_mapped_graph_equals_the_xylo_simulator(name):
    from snnpipe.hwmap.mappers.xylo_graph import mapped_graph

    g = ZOO[name](0)
    cfg, rep = quantize_and_map(g)
    x = _raster(g)
    hidden = sorted((r[1], n) for n, r in rep.layout.items() if r[0] == "hidden")
    order = list(g.graph["inputs"]) + [n for _, n in hidden]
    _, rec = build(mapped_graph(g, cfg, rep.layout), "xylo", quantize=False, source_order=order)(
        x, record=True)
    sim = xylo_simulate(cfg, x, record=True)
    assert sim.ordered_states > 0          # the zoo saturates: the ordered path is exercised
    for node, (kind, a, b) in rep.layout.items():
        if g.nodes[node]["kind"] != "neuron":
            continue
        r = rec[node]
        if kind == "hidden":
            assert np.array_equal(_ints(r["u"][:, 0], 1024), sim.states["Isyn"][:, a:b]), node
            assert np.array_equal(_ints(r["v"], 1024), sim.states["Vmem"][:, a:b]), node
            assert np.array_equal(r["spikes"].numpy(), sim.spikes[:, a:b]), node
        else:
            assert np.array_equal(_ints(r["u"][:, 0], 1024), sim.states["Isyn_out"][:, a:b]), node
            assert np.array_equal(_ints(r["v"], 1024), sim.states["Vmem_out"][:, a:b]), node
            assert np.array_equal(r["spikes"].numpy(), sim.spikes_out[:, a:b]), node


def _chain(delay=0, current_decay=1.0, threshold=0.5):
    """in (1) -> a (1) -> b (1): weights large enough that one spike makes one spike."""
    g = G.new_graph("chain")
    G.add_input(g, "in", 1)
    for node in ("a", "b"):
        G.add_neuron(g, node, 1, current_decay=current_decay, voltage_decay=1.0,
                     threshold=threshold)
    G.add_dense(g, "in", "a", [[1.0]])
    G.add_dense(g, "a", "b", [[1.0]], delay=delay)
    G.set_outputs(g, ["b"])
    return g


@pytest.mark.parametrize("precision", ["loihi", "float"])
def test_every_projection_adds_one_step_plus_its_delay(precision):
    x = np.zeros((1, 1, 8), np.int64)
    x[0, 0, 2] = 1
    for delay in (0, 3):
        model = build(_chain(delay), precision)
        out, rec = model(x, record=True)
        assert np.flatnonzero(rec["a"]["spikes"][0, 0].numpy()).tolist() == [3]
        assert np.flatnonzero(out[0, 0].numpy()).tolist() == [4 + delay]
        assert model.latency == {"in": 0, "a": 1, "b": 2 + delay}


def test_xylo_input_events_act_in_the_same_step():
    g = _chain(current_decay=0.5, threshold=0.4)    # dash 1: I = 1024 - 512 >= 410 fires once
    x = np.zeros((1, 1, 8), np.int64)
    x[0, 0, 2] = 1
    model = build(g, "xylo")
    _, rec = model(x, record=True)
    assert np.flatnonzero(rec["a"]["spikes"][0, 0].numpy()).tolist() == [2]
    assert np.flatnonzero(rec["b"]["spikes"][0, 0].numpy()).tolist() == [3]
    assert model.latency["b"] == 1


def test_float_precision_by_hand():
    """u = u (1 - 0.5) + x, v = v (1 - 0.25) + u; threshold 1.2, zero reset."""
    g = G.new_graph("one")
    G.add_input(g, "in", 1)
    G.add_neuron(g, "n", 1, current_decay=0.5, voltage_decay=0.25, threshold=1.2)
    G.add_dense(g, "in", "n", [[1.0]])
    G.set_outputs(g, ["n"])
    x = np.zeros((1, 1, 5), np.int64)
    x[0, 0, 0] = 1
    out, rec = build(g, "float")(x, record=True)
    assert np.allclose(rec["n"]["u"][0, 0, 0].numpy(), [0, 1, 0.5, 0.25, 0.125])
    assert np.allclose(rec["n"]["v"][0, 0].numpy(), [0, 1, 0, 0.25, 0.3125])   # 1.5 > 1.2 resets
    assert out[0, 0].tolist() == [0, 0, 1, 0, 0]


def test_merge_output_is_the_sum_of_its_sources():
    g = ZOO["branches_merge"](0)
    G.set_outputs(g, ["sum"])
    x = _raster(g)
    out, rec = build(g, "loihi")(x, record=True)
    assert torch.equal(out, rec["a"]["spikes"] + rec["b"]["spikes"])


def test_unknown_precision_is_refused():
    with pytest.raises(GraphError, match="precision"):
        build(_chain(), "double")


@pytest.mark.parametrize("precision", ["loihi", "xylo", "float"])
def test_a_trained_network_and_its_graph_emit_the_same_spikes(precision, monkeypatch):
    """SLAYER-style blocks delay their output by one step: ``input_latency=1`` lines them up.

    The blocks run the reference neuron functions: a numba kernel run sets the multiprocessing
    start method, after which importing Lava (``mp.set_start_method('fork')``) fails in the
    same process, and Lava tests follow in this session."""
    from snnpipe.models.block.cuba import Dense, Recurrent
    from snnpipe.models.network import Network

    monkeypatch.setenv("SNNPIPE_KERNEL", "reference")
    torch.manual_seed(0)
    p = dict(threshold=0.5, current_decay=0.25, voltage_decay=0.03, precision=precision)
    net = Network([Dense(p, 6, 10, weight_scale=2), Recurrent(p, 10, 8, weight_scale=2),
                   Dense(p, 8, 4, weight_scale=2)])
    x = (torch.rand(2, 6, 30) < 0.3).float()
    with torch.no_grad():
        expected = net(x)
    got = build(net.to_graph((6,)), precision, input_latency=1)(x)
    assert expected.sum() > 0
    assert torch.equal(got.float(), expected)
