"""Resonate-and-fire layers (slayer's rf / rf_iz Dense: complex weights, RF_PHASE and
RF_IZHIKEVICH neurons) in lava-dl's netx layout, read by netx's own rules
(pipeline/formats/netx_rf.py) and written so that netx builds what the Graph means; what netx
ignores or cannot build is refused by layer and field."""
import h5py
import numpy as np
import pytest

import slayer_rf_zoo
from snnpipe.hwmap.targets import loihi
from snnpipe.pipeline.formats import hdf5
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import FormatError


def _layer(f, i, kind, **data):
    lay = f.create_group(f"layer/{i}")
    lay.create_dataset("type", (1,), "S10", [kind.encode()])
    for k, v in data.items():
        lay.create_dataset(k, data=v)
    return lay


def _rf(lay, kind="RF_PHASE", sin=2882, cos=2298, vth=19, **more):
    for k, v in dict(type=kind, sinDecay=sin, cosDecay=cos, vThMant=vth, gradedSpike=False,
                     **more).items():
        lay.create_dataset(f"neuron/{k}", data=v)


def write_rf(path, edit=None):
    """A netx file as slayer writes rf.Dense(4 -> 3) then rf_iz.Dense(3 -> 2), no input layer."""
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        for i, (n_in, n_out, kind) in enumerate(((4, 3, "RF_PHASE"), (3, 2, "RF_IZHIKEVICH"))):
            lay = _layer(f, i, "dense", shape=np.array([n_out]), inFeatures=n_in,
                         outFeatures=n_out)
            for part in ("real", "imag"):
                lay.create_dataset(f"weight/{part}", data=(2 * rng.integers(
                    -20, 20, (n_out, n_in))).astype(np.float32))
            _rf(lay, kind, sin=2882 - 500 * i, cos=2298 + 300 * i, vth=19 + i)
        if edit is not None:
            edit(f)
    return path


def test_an_rf_file_loads_as_rf_nodes_with_two_dense_edges(tmp_path):
    path = write_rf(tmp_path / "rf.net")
    g = hdf5.load(path)
    assert G.topological_order(g) == ["input", "layer0", "layer1"]
    assert g.nodes["input"]["shape"] == (4,)
    with h5py.File(path) as f:
        for i, variant in enumerate(("phase", "izhikevich")):
            d, lay = g.nodes[f"layer{i}"], f[f"layer/{i}"]
            assert (d["model"], d["variant"], d["n_syn"]) == ("rf", variant, 2)
            assert float(d["threshold"]) == lay["neuron/vThMant"][()] / 64
            # period and decay as netx computes them from the file's integers
            want = loihi.rf_decays_from_int(lay["neuron/sinDecay"][()], lay["neuron/cosDecay"][()])
            assert (float(d["period"]), float(d["decay"])) == tuple(map(float, want))
            src = "input" if i == 0 else "layer0"
            edges = {e["syn"]: e["weight"] for _, _, e in g.in_edges(f"layer{i}", data=True)}
            assert set(edges) == {G.RF_REAL, G.RF_IMAG}
            assert np.array_equal(edges[G.RF_REAL] * 64, lay["weight/real"][()])
            assert np.array_equal(edges[G.RF_IMAG] * 64, lay["weight/imag"][()])
            assert all(u == src for u, _ in g.in_edges(f"layer{i}"))


def _refused(tmp_path, edit, where, field):
    with pytest.raises(FormatError) as e:
        hdf5.load(write_rf(tmp_path / "bad.net", edit))
    assert (e.value.where, e.value.field) == (where, field), str(e.value)
    return e.value


@pytest.mark.parametrize("edit,where,field", [
    (lambda f: f.create_dataset("layer/1/bias", data=np.ones(2, np.float32)), "layer/1", "bias"),
    (lambda f: f.create_dataset("layer/1/delay", data=np.ones(2)), "layer/1", "delay"),
    (lambda f: f["layer/0/neuron/gradedSpike"].__setitem__((), True), "layer/0/neuron",
     "gradedSpike"),
    (lambda f: (f["layer/1/neuron"].__delitem__("vThMant"),
                f.create_dataset("layer/1/neuron/vThMant", data=np.array([19, 20]))),
     "layer/1/neuron", "vThMant"),
    (lambda f: (f["layer/0/neuron"].__delitem__("sinDecay"),
                f.create_dataset("layer/0/neuron/sinDecay", data=0)), "layer/0/neuron",
     "sinDecay"),
    (lambda f: (f["layer/1/neuron"].__delitem__("type"),
                f.create_dataset("layer/1/neuron/type", data="CUBA")), "layer/1", "weight/imag"),
    (lambda f: (f["layer/1"].__delitem__("weight"),
                f.create_dataset("layer/1/weight", data=np.ones((2, 3), np.float32))),
     "layer/1", "weight"),
    (lambda f: (f["layer/1"].__delitem__("type"),
                f["layer/1"].create_dataset("type", (1,), "S10", [b"dense_rec"])),
     "layer/1", "weight_rec"),
])
def test_what_netx_ignores_or_cannot_build_is_refused_by_layer_and_field(tmp_path, edit, where,
                                                                          field):
    _refused(tmp_path, edit, where, field)


def test_an_rf_input_layer_is_refused(tmp_path):
    def edit(f):
        f.move("layer/1", "layer/2")
        f.move("layer/0", "layer/1")
        _rf(_layer(f, 0, "input", shape=np.array([4])))
    _refused(tmp_path, edit, "layer/0", "neuron/type")


def _same_rf(a, b) -> None:
    """Two rf nodes that every target runs alike: variant, threshold and the decay integers."""
    assert a["variant"] == b["variant"] and a["threshold"] == b["threshold"]
    for x, y in zip(loihi.rf_decays_to_int(a["period"], a["decay"]),
                    loihi.rf_decays_to_int(b["period"], b["decay"])):
        assert np.array_equal(np.broadcast_to(x, np.shape(y)), y)


def test_an_rf_file_round_trips_through_our_netx_layout(tmp_path):
    """Our writer: netx's layout (complex weights, the decays netx's round trip turns into the
    Graph's: the file's 2882 was read as netx's 2881, and is written so netx builds 2881)."""
    g = hdf5.load(write_rf(tmp_path / "rf.net"))
    hdf5.export(g, tmp_path / "ours.h5")
    with h5py.File(tmp_path / "ours.h5") as f:
        assert "layer" in f and "graph" not in f
        assert f["layer/1/neuron/type"][()] == b"RF_PHASE"      # layer/0: the input
    back = hdf5.load(tmp_path / "ours.h5")
    for n in ("layer0", "layer1"):
        _same_rf(back.nodes[n], g.nodes[n])
    assert sorted((u, v, e["syn"]) for u, v, e in back.edges(data=True)) == \
        sorted((u, v, e["syn"]) for u, v, e in g.edges(data=True))


def test_decays_no_netx_file_expresses_go_to_our_graph_layout(tmp_path):
    """period 7, decay 0.07 is (2978, 2375) in 1/4096: no file's integers does netx turn into
    those (its round trip of 2978 and 2979 gives 2977 and 2979), so the graph is written to
    graph/ and read back exactly."""
    g = G.new_graph("mine")
    G.add_input(g, "x", (4,))
    G.add_rf(g, "a", (3,), variant="izhikevich", period=[7.0, 9.5, 31.0], decay=0.07,
             threshold=0.25)
    G.add_dense(g, "x", "a", np.full((3, 4), 0.125), syn=G.RF_REAL)
    G.add_dense(g, "x", "a", np.full((3, 4), -0.25), syn=G.RF_IMAG)
    G.set_outputs(g, ["a"])
    assert tuple(int(v) for v in loihi.rf_decays_to_int(7.0, 0.07)) == (2978, 2375)
    hdf5.export(g, tmp_path / "ours.h5")
    with h5py.File(tmp_path / "ours.h5") as f:
        assert "graph" in f and "layer" not in f
    back = hdf5.load(tmp_path / "ours.h5")
    _same_rf(back.nodes["a"], g.nodes["a"])
    assert np.array_equal(back.nodes["a"]["period"], g.nodes["a"]["period"])


def test_decays_netx_expresses_only_as_integers_are_written_both_ways(tmp_path):
    """period 9, decay 0.05: netx builds the same integers from the layer we write, but reads
    another period and decay from it; the file holds graph/ too, which we read back exactly."""
    g = G.new_graph("mine")
    G.add_input(g, "x", (2,))
    G.add_rf(g, "a", (1,), period=9.0, decay=0.05, threshold=0.25)
    G.add_dense(g, "x", "a", np.full((1, 2), 0.5), syn=G.RF_REAL)
    G.add_dense(g, "x", "a", np.full((1, 2), 0.25), syn=G.RF_IMAG)
    G.set_outputs(g, ["a"])
    hdf5.export(g, tmp_path / "ours.h5")
    with h5py.File(tmp_path / "ours.h5") as f:
        assert "graph" in f and "layer" in f
        sin, cos = f["layer/1/neuron/sinDecay"][()], f["layer/1/neuron/cosDecay"][()]
    netx_reads = loihi.rf_decays_from_int(sin, cos)
    _same_rf({**g.nodes["a"], "period": netx_reads[0], "decay": netx_reads[1]}, g.nodes["a"])
    assert float(netx_reads[0]) != 9.0
    back = hdf5.load(tmp_path / "ours.h5")
    assert (float(back.nodes["a"]["period"]), float(back.nodes["a"]["decay"])) == (9.0, 0.05)


@pytest.mark.parametrize("seed", [0, 5])
def test_slayers_rf_files_load(seed, tmp_path):
    slayer_rf_zoo.write(seed, tmp_path / "z.net")
    g = hdf5.load(tmp_path / "z.net")
    models = [g.nodes[n]["model"] for n in G.topological_order(g)[1:]]
    assert models == [{"rf_iz": "rf"}.get(k, k) for k in slayer_rf_zoo.kinds(seed)]
