"""Validation (pipeline/ir/validate.py): every problem at once, each naming node or edge and field."""

import numpy as np
import pytest

from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import CapacityError, GraphError, ValidationErrors
from snnpipe.pipeline.ir.validate import check, validate
import zoo


def fields(problems) -> set:
    return {(p.where, p.field) for p in problems}


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_every_zoo_graph_is_valid(name):
    g = zoo.ZOO[name](0)
    assert validate(g) == []
    check(g)


def test_unknown_kind_model_and_op_are_reported():
    g = zoo.branches_merge(0)
    g.nodes["sum"]["kind"] = "adder"
    g.nodes["a"]["model"] = "izhikevich"
    g.edges["in", "b", 0]["op"] = "sparse"
    assert {("sum", "kind"), ("a", "model"), ("in -> b [0]", "op")} <= fields(validate(g))


def test_all_problems_are_returned_not_just_the_first():
    g = zoo.sequential_dense(0)
    g.nodes["h1"]["voltage_decay"] = np.array(1.5)
    g.nodes["h2"]["threshold"] = np.array(np.nan)
    g.edges["h1", "h2", 0]["weight"] = np.zeros((6, 11))
    problems = validate(g)
    assert fields(problems) == {("h1", "voltage_decay"), ("h2", "threshold"),
                                ("h1 -> h2 [0]", "weight")}
    assert all(isinstance(p, GraphError) for p in problems)
    with pytest.raises(ValidationErrors) as e:
        check(g)
    assert len(e.value.problems) == 3 and "voltage_decay" in str(e.value)


def test_dense_weight_must_be_n_dst_by_n_src():
    g = zoo.sequential_dense(0)
    g.edges["in", "h1", 0]["weight"] = np.zeros((8, 12))          # transposed
    (p,) = validate(g)
    assert (p.where, p.field, p.expected, p.found) == ("in -> h1 [0]", "weight",
                                                       "(N_dst, N_src) = (12, 8)", (8, 12))


def test_conv_output_shape_must_match_the_target():
    g = zoo.sequential_conv(0)
    g.edges["in", "c1", 0]["stride"] = (1, 1)
    (p,) = validate(g)
    assert (p.where, p.field, p.expected, p.found) == ("in -> c1 [0]", "shape", (4, 8, 6),
                                                       (4, 4, 3))


def test_conv_channels_must_match_the_source():
    g = zoo.sequential_conv(0)
    g.edges["c1", "c2", 0]["weight"] = np.zeros((6, 3, 3, 2))
    assert fields(validate(g)) == {("c1 -> c2 [0]", "weight")}


def test_identity_edges_join_equal_shapes_and_merges_take_identity_edges_only():
    g = zoo.residual(0)
    G.add_neuron(g, "wide", 9)
    G.add_dense(g, "in", "wide", np.zeros((9, 6)))
    G.add_identity(g, "wide", "res")
    G.add_dense(g, "in", "res", np.zeros((8, 6)))
    assert {("wide -> res [0]", "shape"), ("in -> res [0]", "op")} <= fields(validate(g))


def test_missing_and_non_finite_parameters():
    g = zoo.synnet(0)
    del g.nodes["h1"]["threshold"]
    g.nodes["h2"]["bias"][3] = np.inf
    g.edges["in", "h1", 0]["weight"][0, 0] = np.nan
    assert fields(validate(g)) == {("h1", "threshold"), ("h2", "bias"), ("in -> h1 [0]", "weight")}


def test_decays_outside_zero_one_per_current_and_per_neuron():
    g = zoo.synnet(0)
    g.nodes["h1"]["current_decay"][0, 5] = -0.01
    g.nodes["h2"]["voltage_decay"][0] = 1.0001
    assert fields(validate(g)) == {("h1", "current_decay"), ("h2", "voltage_decay")}


def test_parameter_shapes_must_be_scalar_per_neuron_or_per_current():
    g = zoo.wavesense(0)
    g.nodes["dil"]["current_decay"] = np.array([0.1, 0.2, 0.3])    # n_syn is 2
    g.nodes["pre"]["threshold"] = np.ones(7)                        # 8 neurons
    assert fields(validate(g)) == {("dil", "current_decay"), ("pre", "threshold")}


def test_syn_index_must_address_a_current_of_the_target():
    g = zoo.wavesense(0)
    g.edges["pre", "dil", 1]["syn"] = 2
    (p,) = validate(g)
    assert (p.where, p.field, p.expected, p.found) == ("pre -> dil [1]", "syn", "0..1", 2)


def test_cycles_must_be_marked_recurrent():
    g = zoo.recurrent_first(0)
    g.edges["h1", "h1", 0]["recurrent"] = False
    assert fields(validate(g)) == {("h1 -> h1", "recurrent")}


def test_unreachable_nodes_and_missing_inputs_or_outputs():
    g = zoo.li_readout(0)
    G.add_neuron(g, "island", 3)
    assert fields(validate(g)) == {("island", "in-edges")}
    g.graph["outputs"] = []
    g.graph["inputs"] = ["nowhere"]
    assert {("graph", "outputs"), ("graph", "inputs")} <= fields(validate(g))


def test_bad_delays_and_edges_into_inputs():
    g = zoo.sequential_dense(0)
    g.edges["in", "h1", 0]["delay"] = -1
    G.add_dense(g, "h2", "in", np.zeros((8, 6)), recurrent=True)
    assert fields(validate(g)) == {("in -> h1 [0]", "delay"), ("h2 -> in [0]", "kind")}


def test_an_unknown_target_is_a_value_error():
    with pytest.raises(ValueError, match="unknown target 'spinnaker'"):
        validate(zoo.sequential_dense(0), target="spinnaker")


def target_module(monkeypatch, name, rules):
    """A stand-in target whose design rules are hand-written rules, to test the rule runner."""
    from snnpipe.pipeline.ir import validate as V

    monkeypatch.setitem(V.GRAPH_RULES, name, rules)


def test_every_rule_of_the_target_runs_and_each_violation_is_returned(monkeypatch):
    seen = []

    def max_neurons(graph, limits=None):
        seen.append(limits)
        n = sum(G.size(d["shape"]) for _, d in graph.nodes(data=True) if d["kind"] == "neuron")
        if n > (limits or {}).get("neurons", 1000):
            raise CapacityError("too many neurons", where="graph", field="neurons",
                                expected=f"<= {limits['neurons']}", found=n)

    def no_conv(graph):
        return [GraphError("conv is not supported", where=f"{u} -> {v}", field="op")
                for u, v, d in graph.edges(data=True) if d["op"] == "conv"]

    target_module(monkeypatch, "xylo", [max_neurons, no_conv])
    assert validate(zoo.sequential_dense(0), target="xylo") == []
    problems = validate(zoo.sequential_conv(0), target="xylo", limits={"neurons": 10})
    assert [type(p) for p in problems] == [CapacityError, GraphError, GraphError]
    assert seen == [None, {"neurons": 10}]


def test_target_rules_run_only_on_a_structurally_valid_graph(monkeypatch):
    target_module(monkeypatch, "xylo", [lambda graph: 1 / 0])
    g = zoo.sequential_dense(0)
    g.nodes["h1"]["kind"] = "blob"
    assert fields(validate(g, target="xylo")) == {("h1", "kind")}


def test_the_loihi_target_rules_run_with_default_or_given_limits():
    from snnpipe.hwmap.targets.loihi import LoihiLimits

    for name, make in zoo.ZOO.items():
        assert validate(make(0), target="loihi") == [], name
    g = zoo.sequential_dense(0)
    g.edges["in", "h1", 0]["delay"] = 100
    assert fields(validate(g, target="loihi")) == {("in -> h1", "delay")}
    (p,) = validate(zoo.wavesense(0), target="loihi", limits=LoihiLimits(max_delay=1))
    assert (type(p), p.where, p.field) == (CapacityError, "pre -> dil", "delay")


def test_the_xylo_target_rules_name_what_the_chip_cannot_express():
    from snnpipe.hwmap.targets.xylo import XyloLimits

    assert validate(zoo.synnet(0), target="xylo") == []
    problems = validate(zoo.sequential_conv(0), target="xylo")
    assert ("in -> c1", "op") in fields(problems) and all(isinstance(p, CapacityError) for p in problems)
    (p,) = validate(zoo.synnet(0), target="xylo", limits=XyloLimits(n_hidden=8))
    assert (type(p), p.field, p.where) == (CapacityError, None, "hidden") and "too many hidden" in str(p)


def _sigma_delta_graph():
    g = G.new_graph()
    G.add_input(g, "in", (3,))
    G.add_sigma_delta(g, "d", (3,), stage="delta", activation="none", threshold=0.1)
    G.add_identity(g, "in", "d")
    G.add_sigma_delta(g, "h", (4,), threshold=0.2, bias=[0.0, 0.5, 1.0, -1.0])
    G.add_dense(g, "d", "h", np.ones((4, 3)))
    G.add_sigma_delta(g, "o", (2,), stage="sigma", activation="none")
    G.add_dense(g, "h", "o", np.ones((2, 4)))
    G.set_outputs(g, ["o"])
    return g


def test_a_sigma_delta_graph_is_valid_and_its_fields_are_checked():
    g = _sigma_delta_graph()
    assert validate(g) == []
    g.nodes["d"]["stage"] = "sigma_delta_relu"
    g.nodes["h"]["activation"] = "tanh"
    g.nodes["h"]["threshold"] = np.array(-1.0)
    g.nodes["o"]["spike_exp"] = -1
    g.nodes["o"]["message_bits"] = 1.5
    g.nodes["o"]["bias"] = np.zeros(3)
    assert fields(validate(g)) == {("d", "stage"), ("h", "activation"), ("h", "threshold"),
                                   ("o", "spike_exp"), ("o", "message_bits"), ("o", "bias")}
