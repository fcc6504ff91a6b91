"""The Graph IR (pipeline/ir/graph.py, DESIGN.md 3): construction, order, shapes, summary, drawing."""
import numpy as np
import pytest
import torch

from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError
import zoo


def test_new_graph_holds_dt_name_version_and_empty_io_lists():
    g = G.new_graph("net", dt=2e-3)
    assert g.graph == {"name": "net", "dt": 2e-3, "format_version": G.FORMAT_VERSION,
                       "inputs": [], "outputs": []}


def test_nodes_store_shapes_as_int_tuples_and_parameters_as_float64_arrays():
    g = G.new_graph()
    G.add_input(g, "in", 4)
    G.add_neuron(g, "h", (2, 3, 3), n_syn=2, current_decay=0.25, threshold=1, bias=[0.5] * 18)
    assert g.graph["inputs"] == ["in"] and g.nodes["in"] == {"kind": "input", "shape": (4,)}
    h = g.nodes["h"]
    assert h["shape"] == (2, 3, 3) and h["model"] == "cuba" and h["n_syn"] == 2
    assert h["current_decay"].dtype == np.float64 and h["current_decay"].tolist() == [0.25, 0.25]
    assert h["threshold"].dtype == np.float64 and h["threshold"].shape == ()
    assert h["bias"].shape == (18,)
    assert (h["reset"], h["spike"], h["refractory"]) == ("zero", "binary", 0)


def test_li_nodes_have_no_threshold():
    g = G.new_graph()
    G.add_neuron(g, "readout", 3, model="li", voltage_decay=0.1)
    assert "threshold" not in g.nodes["readout"]


def test_one_source_may_drive_two_synapses_of_a_target_through_keyed_edges():
    g = zoo.wavesense(0)
    to_dil = [(k, d["syn"], d["delay"]) for _, v, k, d in g.out_edges("pre", keys=True, data=True)
              if v == "dil"]
    assert to_dil == [(0, 0, 0), (1, 1, 2)]


def test_edges_carry_op_weight_syn_delay_and_recurrent():
    g = G.new_graph()
    G.add_input(g, "in", (2, 6, 6))
    G.add_neuron(g, "c", (3, 3, 3))
    k = G.add_conv(g, "in", "c", np.ones((3, 2, 3, 3)), stride=2, padding=1)
    d = g.edges["in", "c", k]
    assert d["op"] == "conv" and d["weight"].dtype == np.float64
    assert (d["stride"], d["padding"], d["dilation"], d["groups"]) == ((2, 2), (1, 1), (1, 1), 1)
    assert (d["syn"], d["delay"], d["recurrent"]) == (0, 0, False)
    assert G.edge_output_shape(g, "in", d) == (3, 3, 3)


def test_topological_order_ignores_recurrent_edges():
    for make in (zoo.recurrent_first, zoo.recurrent_second):
        g = make(0)
        order = G.topological_order(g)
        assert order[0] == "in" and order[-1] == "out" and len(order) == g.number_of_nodes()
    assert G.topological_order(zoo.recurrent_second(0)) == ["in", "h1", "h2", "out"]


def test_a_cycle_not_marked_recurrent_is_a_graph_error_naming_the_cycle():
    g = zoo.recurrent_second(0)
    for _, _, d in g.edges(data=True):
        d["recurrent"] = False
    with pytest.raises(GraphError) as e:
        G.topological_order(g)
    assert e.value.field == "recurrent" and "h1" in e.value.where and "h2" in e.value.where


@pytest.mark.parametrize("in_shape, w_shape, stride, padding, dilation", [
    ((2, 8, 6), (4, 2, 3, 3), 1, 0, 1),
    ((2, 8, 6), (4, 2, 3, 2), (2, 1), (1, 0), 1),
    ((3, 9, 7), (5, 3, 3, 3), 2, 2, (2, 1)),
    ((1, 5, 5), (2, 1, 5, 5), 1, 0, 1),
])
def test_conv_output_shape_is_torchs(in_shape, w_shape, stride, padding, dilation):
    y = torch.nn.functional.conv2d(torch.zeros((1,) + in_shape), torch.zeros(w_shape),
                                   stride=stride, padding=padding, dilation=dilation)
    assert G.conv_output_shape(in_shape, w_shape, stride, padding, dilation) == tuple(y.shape[1:])


def test_layers_give_the_longest_path_depth_from_the_inputs():
    assert G.layers(zoo.residual(0)) == {"in": 0, "h1": 1, "h2": 2, "res": 3, "out": 4}


def test_n_params_counts_every_weight():
    assert G.n_params(zoo.sequential_dense(0)) == 12 * 8 + 6 * 12


def test_summary_has_one_line_per_node_and_edge_with_shapes_and_ranges():
    g = zoo.wavesense(0)
    text = G.summary(g)
    lines = text.splitlines()
    assert lines[0].startswith("graph 'wavesense': dt=0.001 s, 8 nodes, 10 edges")
    assert "inputs: in" in lines and "outputs: readout" in lines
    assert sum(line.startswith("  ") for line in lines) == 8 + 10
    assert any("dil" in line and "n_syn=2" in line for line in lines)
    assert any("pre -> dil [1] dense w(8, 8)" in line and "syn=1 delay=2" in line for line in lines)
    assert "recurrent" in G.summary(zoo.recurrent_first(0))


def test_draw_writes_a_png_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "net.png"
    G.draw(zoo.recurrent_second(0), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["net.png"]


def test_describe_is_json_with_every_node_and_edge():
    import json

    g = zoo.wavesense(0)
    desc = json.loads(json.dumps(G.describe(g)))
    assert (desc["name"], desc["dt"], desc["inputs"], desc["outputs"]) == \
        ("wavesense", 1e-3, ["in"], ["readout"])
    assert [n["id"] for n in desc["nodes"]] == list(g.nodes)
    assert len(desc["edges"]) == g.number_of_edges() and desc["n_weights"] == G.n_params(g)
    dil = next(n for n in desc["nodes"] if n["id"] == "dil")
    assert dil["n_syn"] == 2 and dil["current_decay"] == {"min": 400 / 4096, "max": 1600 / 4096}
