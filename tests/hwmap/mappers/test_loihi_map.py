"""The Loihi-style mapper, its resource report, and config files (save, load, corruption)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from snnpipe.hwmap.intsim.loihi import simulate
from snnpipe.hwmap.targets.loihi import LoihiLimits
from snnpipe.hwmap.mappers.loihi_config import load, save
from snnpipe.hwmap.mappers.loihi_map import map_graph, resource_report, report_text
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import CapacityError, FormatError


def chain(sizes=(20, 25, 7), seed=0, density=1.0):
    rng = np.random.default_rng(seed)
    g = G.new_graph("chain")
    G.add_input(g, "in", (sizes[0],))
    prev = "in"
    for k, n in enumerate(sizes[1:]):
        G.add_neuron(g, f"p{k}", (n,), current_decay=0.2, voltage_decay=0.1, threshold=1.0)
        w = rng.normal(0, 1, (n, sizes[k])) * (rng.random((n, sizes[k])) < density)
        G.add_dense(g, prev, f"p{k}", w)
        prev = f"p{k}"
    G.set_outputs(g, [prev])
    return g


def test_populations_span_cores_within_the_neuron_limit():
    cfg = map_graph(chain(), LoihiLimits(neurons_per_core=10))
    per_pop = {}
    for c in cfg.cores:
        assert c["stop"] - c["start"] <= 10
        per_pop.setdefault(c["pop"], []).append((c["start"], c["stop"]))
    assert per_pop["p0"] == [(0, 10), (10, 20), (20, 25)] and per_pop["p1"] == [(0, 7)]
    # every p0 core sends to the p1 core; the input reaches every p0 core
    assert {(r["src"], r["dst"]) for r in cfg.routes} == {
        ("input:in", 0), ("input:in", 1), ("input:in", 2), (0, 3), (1, 3), (2, 3)}


def test_synapse_memory_limits_the_slice():
    limits = LoihiLimits(synapse_memory_bytes=200)
    cfg = map_graph(chain(), limits)
    assert len([c for c in cfg.cores if c["pop"] == "p0"]) > 1
    assert all(c["memory_bits"] <= 200 * 8 for c in cfg.cores)
    with pytest.raises(CapacityError, match="one neuron") as e:
        map_graph(chain(), LoihiLimits(synapse_memory_bytes=8))
    assert e.value.where == "p0"


def test_several_chips_and_capacity_error_names_population():
    cfg = map_graph(chain(), LoihiLimits(neurons_per_core=5, cores_per_chip=4, max_chips=3))
    assert max(c["chip"] for c in cfg.cores) == 1 + (len(cfg.cores) - 1) // 4 - 1
    assert any(r["inter_chip"] for r in cfg.routes)
    with pytest.raises(CapacityError, match="more cores than the chips") as e:
        map_graph(chain(), LoihiLimits(neurons_per_core=5, cores_per_chip=2, max_chips=2))
    assert e.value.where == "p0" and "4 cores" in str(e.value)


def test_resource_report_dict_and_text():
    cfg = map_graph(chain(density=0.3), LoihiLimits(neurons_per_core=10))
    rep = resource_report(cfg)
    assert rep["totals"]["neurons"] == 32 and rep["totals"]["cores"] == len(cfg.cores)
    assert rep["totals"]["synapses"] == sum(c["synapses"] for c in cfg.cores)
    assert rep["max_fan_in"]["node"] in ("p0", "p1") and rep["max_fan_out"]["synapses"] > 0
    assert all(0 < r["memory_util"] < 1 for r in rep["cores"])
    json.dumps(rep)
    text = report_text(rep)
    assert "core" in text and "total:" in text and "largest fan-in" in text


def test_config_round_trip(tmp_path):
    g = chain((300, 40, 5), seed=2)
    G.add_dense(g, "p0", "p0", np.random.default_rng(1).normal(0, 0.3, (40, 40)), recurrent=True,
                delay=3)
    cfg = map_graph(g, LoihiLimits(neurons_per_core=16))
    path = save(cfg, tmp_path / "cfg")
    back = load(path)
    for a, b in zip(cfg.populations, back.populations):
        assert a.name == b.name and a.shape == b.shape
        assert all(np.array_equal(getattr(a, k), getattr(b, k))
                   for k in ("i_decay", "v_decay", "vth", "bias_mant", "bias_exp"))
    for a, b in zip(cfg.projections, back.projections):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.delay, b.delay)
        assert (a.num_weight_bits, a.weight_exp, a.syn, a.message_bits) == \
               (b.num_weight_bits, b.weight_exp, b.syn, b.message_bits)
    assert back.cores == json.loads(json.dumps(cfg.cores)) and back.limits == cfg.limits
    assert back.quant == cfg.quant and len(back.quant["projections"]) == 3
    x = (np.random.default_rng(0).random((2, 300, 30)) < 0.1).astype(int)
    assert np.array_equal(simulate(cfg, x).spikes["p1"], simulate(back, x).spikes["p1"])


@pytest.mark.parametrize("corrupt,field", [
    (lambda d: d.update(target="xylo"), "target"),
    (lambda d: d["fields"].pop("pop0.vth"), "pop0.vth"),
    (lambda d: d["fields"]["pop1.v_decay"]["array"].update(data=[5000] * 5), "v_decay"),
    (lambda d: d["fields"]["proj1.weight"]["array"].update(shape=[5, 3], data=[0] * 15), "weight"),
    (lambda d: d["fields"]["projections"]["value"][0].update(syn=3), "syn"),
    (lambda d: d["fields"]["projections"]["value"][0].pop("op"), "op"),
    (lambda d: d["fields"]["pop0.bias_exp"]["array"].update(dtype="float64"), "pop0.bias_exp"),
])
def test_corrupt_configs_give_format_errors(tmp_path, corrupt, field):
    cfg = map_graph(chain((6, 4, 5)))
    path = save(cfg, tmp_path)
    doc = json.loads(path.read_text())
    corrupt(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError) as e:
        load(path)
    assert field in str(e.value)


def test_merges_lower_to_duplicated_projections_with_composed_weights():
    rng = np.random.default_rng(0)
    g = G.new_graph("zoo")
    G.add_input(g, "in", (2, 8, 8))
    for n in ("c1", "c2"):
        G.add_neuron(g, n, (4, 4, 4), current_decay=0.1, voltage_decay=0.1, threshold=0.5)
    G.add_neuron(g, "o", (3,), model="li")
    G.add_conv(g, "in", "c1", rng.normal(0, 1, (4, 2, 3, 3)), stride=2, padding=1)
    G.add_identity(g, "c1", "c2", weight=np.array([1.0, 0.5, -1, 2]), delay=2)
    G.add_merge(g, "m", (4, 4, 4))
    G.add_identity(g, "c1", "m")
    G.add_identity(g, "c2", "m", weight=0.5)
    w_out = rng.normal(0, 1, (3, 64))
    G.add_dense(g, "m", "o", w_out)
    G.set_outputs(g, ["o"])
    cfg = map_graph(g)
    lowered = [(q.src, q.dst, q.op) for q in cfg.projections]
    assert sorted(lowered) == sorted([("in", "c1", "conv"), ("c1", "c2", "identity"),
                                      ("c1", "o", "dense"), ("c2", "o", "dense")])
    ident = cfg.projections[lowered.index(("c1", "c2", "identity"))]
    assert ident.delay == 2 and np.array_equal(ident.weight << ident.weight_exp,
                                               np.repeat([64, 32, -64, 128], 16))
    from snnpipe.hwmap.targets.loihi import weight_to_int
    half = cfg.projections[lowered.index(("c2", "o", "dense"))]
    assert np.array_equal(half.weight << half.weight_exp, weight_to_int(w_out * 0.5))
    x = (rng.random((2, 2, 8, 8, 20)) < 0.3).astype(int)     # (B, C, H, W, T) accepted
    r = simulate(cfg, x, record=("o/v",))
    assert r.states["o/v"].shape == (2, 3, 20) and r.spikes["c1"].shape == (2, 64, 20)
