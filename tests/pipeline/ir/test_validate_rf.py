"""Resonate-and-fire nodes in the Graph IR (graph.add_rf): valid as built, each field checked
with a typed error naming node and field."""
import numpy as np

from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.validate import validate


def rf_graph():
    g = G.new_graph()
    G.add_input(g, "in", (3,))
    G.add_rf(g, "r", (4,), period=[5.0, 6.0, 7.0, 8.0], decay=0.1, threshold=0.3)
    G.add_dense(g, "in", "r", np.ones((4, 3)), syn=G.RF_REAL)
    G.add_dense(g, "in", "r", -np.ones((4, 3)), syn=G.RF_IMAG)
    G.add_rf(g, "z", (2,), variant="izhikevich", period=12.0, decay=0.0, threshold=0.5)
    G.add_dense(g, "r", "z", np.ones((2, 4)), syn=G.RF_IMAG)
    G.set_outputs(g, ["z"])
    return g


def test_an_rf_graph_is_valid():
    assert validate(rf_graph()) == []
    assert validate(rf_graph(), "loihi") == []


def test_each_rf_field_is_checked_by_node_and_field():
    g = rf_graph()
    g.nodes["r"]["variant"] = "hopf"
    g.nodes["r"]["period"] = np.array([5.0, -1.0, 7.0, 8.0])
    g.nodes["r"]["decay"] = np.array(1.5)
    g.nodes["z"]["threshold"] = np.array([np.nan, 1.0])
    g.nodes["z"]["n_syn"] = 1
    found = {(p.where, p.field) for p in validate(g)}
    assert {("r", "variant"), ("r", "period"), ("r", "decay"), ("z", "threshold"),
            ("z", "n_syn")} <= found
    assert all(isinstance(p, GraphError) for p in validate(g))


def test_an_edge_into_a_third_current_is_refused():
    g = rf_graph()
    G.add_dense(g, "in", "r", np.ones((4, 3)), syn=2)
    assert [(p.where, p.field) for p in validate(g)] == [("in -> r [2]", "syn")]


def test_summary_and_describe_show_the_rf_fields():
    g = rf_graph()
    assert "model=rf variant=phase period=5..8 decay=0.1" in G.summary(g)
    node = next(n for n in G.describe(g)["nodes"] if n["id"] == "z")
    assert (node["variant"], node["period"], node["n_syn"]) == ("izhikevich",
                                                                 {"min": 12.0, "max": 12.0}, 2)
