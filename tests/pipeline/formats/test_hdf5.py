"""HDF5 files (pipeline/formats/hdf5.py, DESIGN.md 4): exact round trips, the netx layout, atomic writes."""
import h5py
import numpy as np
import pytest

from snnpipe.hwmap.targets import loihi
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.formats import hdf5, hdf5_graph, netx_layout
from snnpipe.pipeline.ir.errors import FormatError, GraphError, ValidationErrors
import zoo

NETX_EXPRESSIBLE = {"sequential_dense", "sequential_conv", "recurrent_first"}


def groups(path) -> set:
    with h5py.File(path, "r") as f:
        return set(f.keys())


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_every_zoo_graph_round_trips_with_every_array_identical(name, tmp_path):
    g = zoo.ZOO[name](7)
    hdf5.export(g, tmp_path / "net.h5")
    zoo.assert_same_graph(g, hdf5.load(tmp_path / "net.h5"))


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_sequential_cuba_chains_use_the_netx_layout_and_the_rest_the_graph_group(name, tmp_path):
    hdf5.export(zoo.ZOO[name](0), tmp_path / "net.h5")
    assert groups(tmp_path / "net.h5") == ({"layer"} if name in NETX_EXPRESSIBLE else {"graph"})


def test_root_attributes_name_the_format_version_dt_and_writer(tmp_path):
    g = zoo.synnet(0)
    g.graph["dt"] = 5e-4
    hdf5.export(g, tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "r") as f:
        assert f.attrs["format"] == "snnpipe"
        assert f.attrs["format_version"] == hdf5.FORMAT_VERSION
        assert f.attrs["dt"] == 5e-4
        assert f.attrs["created_by"].startswith("snnpipe")
    assert hdf5.load(tmp_path / "net.h5").graph["dt"] == 5e-4


def test_float_parameters_become_netx_integers_and_stay_exact_in_the_graph_group(tmp_path):
    g = zoo.sequential_dense(0)
    rng = np.random.default_rng(1)
    w = rng.normal(0, 1.2, size=(12, 8))
    g.edges["in", "h1", 0]["weight"] = w
    g.nodes["h1"].update(current_decay=np.array([0.1234]), voltage_decay=np.array(0.05),
                         threshold=np.array(1.3))
    hdf5.export(g, tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "r") as f:
        lay = f["layer/1"]
        assert lay["weight"].dtype == np.float32
        assert np.array_equal(lay["weight"][()], loihi.weight_to_int(w))
        assert np.all(lay["weight"][()] % 2 == 0) and lay["weight"][()].min() >= -256
        assert lay["weight"][()].max() <= 254
        assert lay["neuron/iDecay"][()] == round(4096 * 0.1234) == 505
        assert lay["neuron/vDecay"][()] == 205                 # round(204.8)
        assert lay["neuron/vThMant"][()] == int(64 * 1.3) == 83
        assert "graph" in f
    zoo.assert_same_graph(g, hdf5.load(tmp_path / "net.h5"))


def test_netx_integers_load_exactly_and_quantise_back_to_the_same_integers(tmp_path):
    hdf5.export(zoo.sequential_conv(3), tmp_path / "net.h5")
    g = hdf5.load(tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "r") as f:
        for i, node in ((1, "c1"), (2, "c2"), (4, "fc")):
            lay = f[f"layer/{i}"]
            (src, _, e), = g.in_edges(node, data=True)
            assert np.array_equal(loihi.weight_to_int(e["weight"]), lay["weight"][()])
            d = g.nodes[node]
            assert loihi.decay_to_int(d["current_decay"][0]) == lay["neuron/iDecay"][()]
            assert loihi.decay_to_int(d["voltage_decay"]) == lay["neuron/vDecay"][()]
            assert loihi.threshold_to_int(d["threshold"]) == lay["neuron/vThMant"][()]
        assert f["layer/3/type"][0] == b"flatten" and list(f["layer/3/shape"]) == [24, 1, 1]


def test_a_netx_layer_file_without_our_node_ids_names_nodes_by_layer_index(tmp_path):
    hdf5.export(zoo.sequential_dense(0), tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "r+") as f:
        del f.attrs["node_ids"]
    g = hdf5.load(tmp_path / "net.h5")
    assert list(g.nodes) == ["input", "layer1", "layer2"] and g.graph["outputs"] == ["layer2"]


def test_a_newer_format_version_is_refused(tmp_path):
    hdf5.export(zoo.li_readout(0), tmp_path / "net.h5")
    with h5py.File(tmp_path / "net.h5", "r+") as f:
        f.attrs["format_version"] = hdf5.FORMAT_VERSION + 1
    with pytest.raises(FormatError, match="newer snnpipe") as e:
        hdf5.load(tmp_path / "net.h5")
    assert e.value.field == "format_version" and str(tmp_path / "net.h5") in str(e.value)


def test_a_failed_export_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "net.h5"
    hdf5.export(zoo.sequential_dense(0), path)
    before = path.read_bytes()

    def fail_midway(f, graph):
        f.create_group("graph").create_dataset("half", data=np.zeros(1000))
        raise OSError("disk full")

    monkeypatch.setattr(hdf5_graph, "write", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        hdf5.export(zoo.wavesense(0), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["net.h5"]
    zoo.assert_same_graph(zoo.sequential_dense(0), hdf5.load(path))


def test_an_invalid_graph_is_not_written(tmp_path):
    g = zoo.sequential_dense(0)
    g.nodes["h1"]["voltage_decay"] = np.array(2.0)
    with pytest.raises(ValidationErrors, match="voltage_decay"):
        hdf5.export(g, tmp_path / "net.h5")
    assert not (tmp_path / "net.h5").exists()


def test_node_ids_must_be_strings(tmp_path):
    g = G.new_graph()
    G.add_input(g, 0, 3)
    G.add_neuron(g, 1, 2)
    G.add_dense(g, 0, 1, np.zeros((2, 3)))
    G.set_outputs(g, [1])
    with pytest.raises(GraphError, match="string"):
        hdf5.export(g, tmp_path / "net.h5")


def test_netx_cannot_express_branches_multi_synapse_li_per_neuron_decays_or_delays():
    for name in ("branches_merge", "residual", "wavesense", "synnet", "li_readout",
                 "recurrent_second"):
        assert netx_layout.chain(zoo.ZOO[name](0)) is None, name
    g = zoo.sequential_dense(0)
    g.edges["h1", "h2", 0]["delay"] = 1
    assert netx_layout.chain(g) is None
