"""Host-side readouts (:mod:`snnpipe.pipeline.ir.readout`): the mean over contiguous groups of
an output's neurons, validated by node and field, applied by every backend's outputs, kept by
our HDF5 file."""
import numpy as np
import pytest

import snnpipe
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir import readout
from snnpipe.pipeline.ir.validate import validate


def graph(groups=2):
    g = G.new_graph("mean")
    G.add_input(g, "in", (3,))
    G.add_neuron(g, "h", (4,), current_decay=1.0, voltage_decay=0.0, threshold=0.5)
    G.add_dense(g, "in", "h", np.full((4, 3), 1.0))
    G.set_outputs(g, ["h"])
    readout.set_mean(g, "h", groups)
    return g


def test_the_mean_of_contiguous_groups_as_slayers_average():
    e = np.arange(2 * 6 * 3, dtype=np.float64).reshape(2, 6, 3)
    out = readout.apply({"readout": "mean", "readout_groups": 2}, e)
    assert out.shape == (2, 2, 3)
    assert np.array_equal(out[:, 0], e[:, :3].mean(axis=1))
    assert readout.apply({}, e) is e


@pytest.mark.parametrize("change,field", [
    (lambda g: g.nodes["h"].update(readout="max"), "readout"),
    (lambda g: g.nodes["h"].update(readout_groups=3), "readout_groups"),
    (lambda g: g.nodes["h"].update(readout_groups=True), "readout_groups"),
    (lambda g: G.set_outputs(g, ["in"]) or g.nodes["in"].update(readout="mean",
                                                                readout_groups=1), "readout"),
])
def test_a_bad_readout_is_named_by_node_and_field(change, field):
    g = graph()
    change(g)
    assert field in {e.field for e in validate(g)}


def test_every_implementation_reads_the_mean_out_and_our_file_keeps_it(tmp_path):
    g = graph()
    assert validate(g) == [] and "readout=mean of 2 groups" in G.summary(g)
    snnpipe.save(g, tmp_path / "g.h5")
    h = snnpipe.load(tmp_path / "g.h5")
    assert (h.nodes["h"]["readout"], h.nodes["h"]["readout_groups"]) == ("mean", 2)
    x = (np.random.default_rng(0).random((1, 3, 12)) < 0.5).astype(np.int64)
    spikes = snnpipe.simulate(snnpipe.compile(h, "loihi"), x, "intsim-loihi",
                              record=True).pops["h"]["spikes"]
    for backend, target in (("torch-loihi", "graph"), ("intsim-loihi", "loihi")):
        out = snnpipe.simulate(snnpipe.compile(h, target), x, backend).output
        assert np.array_equal(out, spikes.reshape(1, 2, 2, 12).mean(axis=2)), backend
