"""NIR interchange (pipeline/formats/nir*.py): zoo round trips, the discretisation, unsupported
nodes. Our own files say ``producer = "snnpipe"`` and come back with our own timing; hand-built
NIR graphs here are read with ``producer="snnpipe"`` where a test is about that timing."""
import nir
import numpy as np
import pytest

from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.formats.nir import from_nir, to_nir
from snnpipe.pipeline.ir.validate import validate
import zoo

EXPRESSIBLE = sorted(set(zoo.ZOO) - {"wavesense"})       # wavesense: two currents and a delay
INEXACT = {"current_decay", "voltage_decay", "bias"}     # pass through log/exp and 1/decay


def assert_close_graph(a, b):
    """Same structure, ids, keys and types; weights and thresholds identical; decays and biases
    equal to float64 rounding."""
    assert a.graph == b.graph and list(a.nodes) == list(b.nodes)
    assert [e[:3] for e in G.edges(a)] == [e[:3] for e in G.edges(b)]
    pairs = [(a.nodes[n], b.nodes[n]) for n in a.nodes]
    pairs += [(da, db) for (*_, da), (*_, db) in zip(G.edges(a), G.edges(b))]
    for da, db in pairs:
        assert set(da) == set(db)
        for key, x in da.items():
            y = db[key]
            if isinstance(x, np.ndarray):
                assert x.shape == y.shape, key
                if key in INEXACT:
                    assert np.allclose(x, y, rtol=1e-12, atol=1e-15), (key, x, y)
                else:
                    assert np.array_equal(x, y), (key, x, y)
            else:
                assert x == y, (key, x, y)


@pytest.mark.parametrize("name", EXPRESSIBLE)
def test_zoo_graphs_round_trip_through_nir(name):
    g = zoo.ZOO[name](5)
    back = from_nir(to_nir(g))
    assert validate(back) == []
    assert_close_graph(g, back)


def canonical(g):
    """The same graph with nodes and edges sorted (a NIR file does not keep node order)."""
    out = G.new_graph(g.graph["name"], g.graph["dt"])
    out.graph.update(g.graph)
    out.add_nodes_from(sorted(g.nodes(data=True)))
    for u, v, k, d in sorted(G.edges(g), key=lambda e: e[:3]):
        out.add_edge(u, v, key=k, **d)
    return out


@pytest.mark.parametrize("name", ["sequential_conv", "recurrent_second", "residual", "synnet"])
def test_zoo_graphs_round_trip_through_a_nir_file(name, tmp_path):
    g = zoo.ZOO[name](2)
    nir.write(tmp_path / "net.nir", to_nir(g))
    square = name != "sequential_conv"          # nir 1.0.8 mistypes non-square conv kernels
    back = from_nir(nir.read(tmp_path / "net.nir", type_check=square))
    assert_close_graph(canonical(g), canonical(back))


def test_the_nir_graph_has_a_node_per_population_and_per_projection():
    ng = to_nir(zoo.residual(0))
    kinds = {k: type(v).__name__ for k, v in ng.nodes.items()}
    assert kinds == {"in": "Input", "h1": "CubaLIF", "h2": "CubaLIF", "res": "Scale",
                     "out": "CubaLIF", "in->h1#0": "Linear", "h1->h2#0": "Linear",
                     "h1->res#0": "Scale", "h2->res#0": "Scale", "res->out#0": "Linear",
                     "output": "Output"}
    assert ng.nodes["res"].metadata == {"snnpipe": "merge"}
    assert ng.metadata == {"producer": "snnpipe", "dt": 1e-3, "name": "residual"}
    assert ("res", "res->out#0") in ng.edges and ("out", "output") in ng.edges


def test_neuron_parameters_follow_the_zero_order_hold_discretisation():
    dt = 1e-3
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3))
    tau_syn, tau_mem = np.full(4, 5e-3), np.array([10e-3, 20e-3, 20e-3, 40e-3])
    r, v_leak, w_in = np.full(4, 2.0), np.full(4, 0.1), np.full(4, 3.0)
    ng = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([3])),
        nir.Affine(weight=w, bias=np.zeros(4)),
        nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=v_leak,
                    v_threshold=np.full(4, 0.5), w_in=w_in),
        nir.Output(output_type=np.array([4])))
    g = from_nir(ng, dt=dt, producer="snnpipe")
    (node,) = [n for n, d in g.nodes(data=True) if d["kind"] == "neuron"]
    d = g.nodes[node]
    cd, vd = 1 - np.exp(-dt / tau_syn), 1 - np.exp(-dt / tau_mem)
    assert np.allclose(d["current_decay"], cd[:1]) and d["current_decay"].shape == (1,)
    assert np.allclose(d["voltage_decay"], vd) and d["threshold"] == 0.5
    assert np.allclose(d["bias"], vd * v_leak)
    (_, _, e), = g.in_edges(node, data=True)
    assert np.allclose(e["weight"], w * (cd * w_in * vd * r)[:, None])


def test_our_step_equals_the_discretised_nir_ode():
    """u = (1 - cd) u + W s, v = (1 - vd) v + u + bias  ==  NIR's ODE stepped exactly."""
    g = zoo.synnet(1)
    ng = to_nir(g)
    dt, d, n = g.graph["dt"], g.nodes["h1"], ng.nodes["h1"]
    w = g.edges["in", "h1", 0]["weight"]
    s = (np.random.default_rng(0).random((6, 20)) < 0.5).astype(float)
    u = v = i_nir = v_nir = np.zeros(16)
    e_syn, e_mem = np.exp(-dt / n.tau_syn), np.exp(-dt / n.tau_mem)
    for t in range(20):
        u = (1 - d["current_decay"][0]) * u + w @ s[:, t]
        v = (1 - d["voltage_decay"]) * v + u + d["bias"]
        i_nir = e_syn * i_nir + (1 - e_syn) * n.w_in * (ng.nodes["in->h1#0"].weight @ s[:, t])
        v_nir = e_mem * v_nir + (1 - e_mem) * (n.v_leak + n.r * i_nir)
        assert np.allclose(v, v_nir, rtol=1e-10, atol=1e-12)


def test_lif_and_li_nodes_have_no_synaptic_current():
    ng = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2])),
        nir.Linear(weight=np.ones((3, 2))),
        nir.LIF(tau=np.full(3, 0.01), r=np.full(3, 1.0), v_leak=np.zeros(3),
                v_threshold=np.ones(3)),
        nir.Linear(weight=np.ones((2, 3))),
        nir.LI(tau=np.full(2, 0.02), r=np.full(2, 1.0), v_leak=np.zeros(2)),
        nir.Output(output_type=np.array([2])))
    g = from_nir(ng, dt=1e-3)
    models = [(d["model"], d["current_decay"].tolist()) for _, d in g.nodes(data=True)
              if d["kind"] == "neuron"]
    assert models == [("cuba", [1.0]), ("li", [1.0])]
    assert validate(g) == []


def test_nir_cycles_become_edges_marked_recurrent():
    g = from_nir(to_nir(zoo.recurrent_second(0)))
    assert [(u, v) for u, v, d in g.edges(data=True) if d["recurrent"]] == [("h2", "h1")]


class Unknown(nir.NIRNode):
    """A node type no importer knows."""

    def __init__(self):
        self.input_type = {"input": np.array([3])}
        self.output_type = {"output": np.array([3])}
        self.metadata = {}


def test_unsupported_nir_nodes_are_graph_errors_naming_the_node_and_type():
    ng = nir.NIRGraph(nodes={"in": nir.Input(input_type=np.array([3])), "odd": Unknown(),
                             "output": nir.Output(output_type=np.array([3]))},
                      edges=[("in", "odd"), ("odd", "output")], type_check=False)
    with pytest.raises(GraphError, match="unsupported NIR node") as e:
        from_nir(ng)
    assert (e.value.where, e.value.field, e.value.found) == ("odd", "type", "Unknown")


def test_a_reset_to_a_non_zero_potential_is_a_graph_error():
    lif = dict(tau_syn=np.full(2, 0.01), tau_mem=np.full(2, 0.01), r=np.ones(2),
               v_leak=np.zeros(2), v_threshold=np.ones(2))
    ng = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])),
                                nir.Linear(weight=np.ones((2, 2))),
                                nir.CubaLIF(**lif, v_reset=np.ones(2)),
                                nir.Output(output_type=np.array([2])))
    with pytest.raises(GraphError) as e:
        from_nir(ng, dt=1e-3)
    assert (e.value.where, e.value.field) == ("cubalif", "v_reset")


def test_delays_become_nir_delay_nodes_of_whole_steps():
    g = zoo.sequential_dense(0)
    g.edges["h1", "h2", 0]["delay"] = 3
    ng = to_nir(g)
    delay = ng.nodes["h1->h2#0:delay"]
    assert isinstance(delay, nir.Delay) and np.allclose(delay.delay, 3e-3)
    assert ("h1->h2#0", "h1->h2#0:delay") in ng.edges and ("h1->h2#0:delay", "h2") in ng.edges
    assert_close_graph(g, from_nir(ng))


def test_a_delay_that_is_not_whole_steps_is_a_graph_error():
    g = zoo.sequential_dense(0)
    g.edges["h1", "h2", 0]["delay"] = 3
    ng = to_nir(g)
    ng.nodes["h1->h2#0:delay"].delay[0] = 2.5e-3
    with pytest.raises(GraphError) as e:
        from_nir(ng)
    assert (e.value.where, e.value.field) == ("h1->h2#0:delay", "delay")


def one_current_and_per_synapse_delays(g):
    g.nodes["dil"].update(n_syn=1, current_decay=np.array([0.5]))
    g.edges["pre", "dil", 1].update(syn=0, delay=np.full((8, 8), 2))


@pytest.mark.parametrize("change, field", [(lambda g: None, "n_syn"),
                                           (one_current_and_per_synapse_delays, "delay")])
def test_graph_features_nir_cannot_hold_are_graph_errors(change, field):
    g = zoo.wavesense(0)
    change(g)
    with pytest.raises(GraphError) as e:
        to_nir(g)
    assert e.value.field == field


@pytest.mark.parametrize("attr, value", [("reset", "subtract"), ("spike", "graded"),
                                         ("refractory", 2), ("voltage_decay", np.array(0.0))])
def test_neuron_features_nir_cannot_hold(attr, value):
    g = zoo.sequential_dense(0)
    g.nodes["h1"][attr] = value
    with pytest.raises(GraphError) as e:
        to_nir(g)
    assert (e.value.where, e.value.field) == ("h1", attr)


def test_an_output_fed_by_a_projection_is_a_graph_error():
    ng = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])),
                                nir.Linear(weight=np.ones((3, 2))),
                                nir.Output(output_type=np.array([3])))
    with pytest.raises(GraphError, match="Output must follow a neuron population"):
        from_nir(ng)
