"""SDNN (sigma-delta) layers in lava-dl's netx layout, read by netx's own rules
(pipeline/formats/netx_sdnn.py) and written so that netx builds them."""
import h5py
import numpy as np
import pytest

import lavadl_files
from snnpipe.pipeline.formats import hdf5
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import FormatError


def _layer(f, i, kind, **data):
    lay = f.create_group(f"layer/{i}")
    lay.create_dataset("type", (1,), "S10", [kind.encode()])
    for k, v in data.items():
        lay.create_dataset(k, data=v)
    return lay


def _sdnn(lay, vth, **more):
    lay.create_dataset("neuron/type", data="SDNN")
    lay.create_dataset("neuron/activation", data="relu")
    lay.create_dataset("neuron/vThMant", data=np.int64(vth))
    for k, v in more.items():
        lay.create_dataset(f"neuron/{k}", data=v)


def write_sdnn(path, edit=None):
    """A netx SDNN file as slayer writes one: input (4,) -> dense 3 (bias) -> sigma output 2."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        _sdnn(_layer(f, 0, "input", shape=np.array([4])), 3)
        _sdnn(_layer(f, 1, "dense", shape=np.array([3]), inFeatures=4, outFeatures=3,
                     weight=(2 * rng.integers(-20, 20, (3, 4))).astype(np.float32),
                     bias=np.array([5, -7, 12], np.float32)), 10)
        _sdnn(_layer(f, 2, "dense", shape=np.array([2]), inFeatures=3, outFeatures=2,
                     weight=(2 * rng.integers(-20, 20, (2, 3))).astype(np.float32)), 6,
              sigma_output=True)
        if edit is not None:
            edit(f)
    return path


def test_pilotnet_sdnn_loads_as_netx_builds_it():
    """Delta input, SigmaDelta ReLU layers (conv, then dense after the flatten), a Sigma output;
    thresholds vThMant / 64, biases / 64, netx's formats (spike_exp 6, state_exp 6, 16 bits)."""
    path = lavadl_files.path("pilotnet_sdnn")
    g = hdf5.load(path)
    pops = [n for n in G.topological_order(g) if g.nodes[n]["kind"] == "neuron"]
    stages = [g.nodes[n]["stage"] for n in pops]
    assert stages == ["delta"] + ["sigma_delta"] * 7 + ["sigma"]
    assert [g.nodes[n]["activation"] for n in pops] == ["none"] + ["relu"] * 7 + ["none"]
    assert g.nodes["input"]["shape"] == (3, 33, 100)
    with h5py.File(path) as f:
        for n in pops[1:-1]:
            lay = f[f"layer/{n[5:]}"]
            assert float(g.nodes[n]["threshold"]) == lay["neuron/vThMant"][()] / 64
            b = np.asarray(g.nodes[n]["bias"]).reshape(len(lay["bias"]), -1)
            assert np.array_equal(b, np.repeat(lay["bias"][()][:, None] / 64, b.shape[1], 1))
    for n in pops:
        d = g.nodes[n]
        assert (d["spike_exp"], d["state_exp"], d["message_bits"]) == (6, 6, 16)
    assert [e["op"] for _, _, e in g.edges(data=True)] == ["identity"] + ["conv"] * 4 + \
        ["dense"] * 4


def test_an_sdnn_graph_exports_to_the_netx_layout_and_round_trips(tmp_path):
    g = hdf5.load(write_sdnn(tmp_path / "a.net"))
    hdf5.export(g, tmp_path / "b.h5")
    with h5py.File(tmp_path / "b.h5") as f:
        assert "graph" not in f                    # netx's integers hold it exactly
        assert f["layer/2/neuron/sigma_output"][()]
        assert f["layer/1/bias"][()].tolist() == [5, -7, 12]
    back = hdf5.load(tmp_path / "b.h5")
    for n, d in g.nodes(data=True):
        assert {k: np.asarray(v).tolist() for k, v in d.items()} == \
            {k: np.asarray(v).tolist() for k, v in back.nodes[n].items()}


@pytest.mark.lava
def test_our_sdnn_export_builds_in_netx_with_lavas_sigma_delta_processes(tmp_path):
    netx = pytest.importorskip("lava.lib.dl.netx")
    g = G.new_graph()
    G.add_input(g, "x", (2, 5, 5))
    G.add_sigma_delta(g, "d", (2, 5, 5), stage="delta", activation="none", threshold=0.25,
                      bias=0.5)
    G.add_identity(g, "x", "d", 2.0)
    G.add_sigma_delta(g, "c", (3, 3, 3), threshold=0.5, bias=np.repeat([0.25, -0.5, 1.0], 9))
    G.add_conv(g, "d", "c", np.random.default_rng(1).integers(-9, 9, (3, 2, 3, 3)) / 32)
    G.add_sigma_delta(g, "o", (2,), stage="sigma", activation="none")
    G.add_dense(g, "c", "o", np.random.default_rng(2).integers(-9, 9, (2, 27)) / 32)
    G.set_outputs(g, ["o"])
    hdf5.export(g, tmp_path / "n.h5")
    net = netx.hdf5.Network(net_config=str(tmp_path / "n.h5"))
    assert [type(layer.neuron).__name__ for layer in net.layers] == ["Delta", "SigmaDelta",
                                                                    "Sigma"]
    assert net.layers[0].transform == {"weight": 128, "bias": 32}
    back = hdf5.load(tmp_path / "n.h5")
    assert np.array_equal(back.nodes["c"]["bias"], g.nodes["c"]["bias"])


def test_what_netx_cannot_express_is_kept_in_the_graph_group(tmp_path):
    g = hdf5.load(write_sdnn(tmp_path / "a.net"))
    g.nodes["layer1"]["activation"] = "none"      # netx's SigmaDelta is always a ReLU
    g.nodes["layer1"]["spike_exp"] = 3
    hdf5.export(g, tmp_path / "b.h5")
    with h5py.File(tmp_path / "b.h5") as f:
        assert "graph" in f and "layer" not in f
    back = hdf5.load(tmp_path / "b.h5")
    assert back.nodes["layer1"]["activation"] == "none" and back.nodes["layer1"]["spike_exp"] == 3


def _replace(path, name, value):
    def edit(f):
        del f[name]
        f.create_dataset(name, data=value)
    return edit


@pytest.mark.parametrize("edit,check", [
    (_replace("x", "layer/2/neuron/sigma_output", False),        # presence, not the value
     lambda g: g.nodes["layer2"]["stage"] == "sigma"),
    (_replace("x", "layer/1/neuron/activation", "sigmoid"),       # ignored: always a ReLU
     lambda g: g.nodes["layer1"]["activation"] == "relu"),
    (_replace("x", "layer/1/bias", np.array([1.7, -2.7, 3], np.float32)),   # astype(int)
     lambda g: (g.nodes["layer1"]["bias"] * 64).tolist() == [1, -2, 3]),
    (lambda f: f.create_dataset("layer/1/neuron/messageBits", data=4),
     lambda g: g.nodes["layer1"]["message_bits"] == 4),
    (lambda f: f["layer/2/neuron"].__delitem__("vThMant"),        # a Sigma ignores it
     lambda g: float(g.nodes["layer2"]["threshold"]) == 0),
], ids=["sigma_output_false", "activation", "float_bias", "message_bits", "sigma_no_vth"])
def test_netx_reading_rules(tmp_path, edit, check):
    assert check(hdf5.load(write_sdnn(tmp_path / "a.net", lambda f: edit(f))))


@pytest.mark.parametrize("edit,where,field", [
    (lambda f: f.create_dataset("layer/2/bias", data=np.array([1.0, 2.0])), "layer/2", "bias"),
    (_replace("x", "layer/1/neuron/vThMant", np.arange(3)), "layer/1/neuron", "vThMant"),
    (lambda f: f["layer/1/neuron"].__delitem__("vThMant"), "layer/1/neuron", "vThMant"),
    (lambda f: f["layer"].__delitem__("0") or f.move("layer/1", "layer/0")
     or f.move("layer/2", "layer/1"), "layer/0", "type"),
], ids=["sigma_bias", "per_neuron_threshold", "no_threshold", "no_input_layer"])
def test_what_netx_cannot_load_or_runs_otherwise_is_refused_by_layer_and_field(tmp_path, edit,
                                                                             where, field):
    with pytest.raises(FormatError) as e:
        hdf5.load(write_sdnn(tmp_path / "a.net", edit))
    assert (e.value.where, e.value.field) == (where, field)
