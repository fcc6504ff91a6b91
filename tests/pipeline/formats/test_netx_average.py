"""netx's ``average`` layer (slayer's ``block.cuba.Average``: the mean of the last layer's
spikes over k contiguous groups of neurons), which netx 0.6.0 refuses (NotImplementedError)
and slayer cannot export (its ``export_hdf5`` reads a ``neuron`` the block lacks), read as the
output's host-side mean (:mod:`snnpipe.pipeline.ir.readout`). The oracle is slayer's own
forward: a slayer network ending in ``Average``, its other blocks exported by slayer and the
average layer written as lava-dl's own ``ntidigits.net`` holds it (``type``, ``shape``
(k, 1, 1)), runs on torch-loihi, intsim-loihi and our Lava compile to slayer's output, value
for value. lava-dl's ``ntidigits.net`` itself (64 -> 256 -> 256 -> 242 -> average of 11, with
axonal delays) loads, runs equal on all three, and verify takes torch-loihi as its reference
(netx cannot build the file: refused by layer and field).
"""
import h5py
import numpy as np
import pytest
import torch

import lavadl_files
import snnpipe
from slayer_zoo import Net
from snnpipe.pipeline.ir.errors import BackendError, FormatError, GraphError
from snnpipe.pipeline.verify.chain import verify

pytestmark = pytest.mark.lava

P = {"threshold": 0.4, "current_decay": 0.25, "voltage_decay": 0.125, "requires_grad": False}
BACKENDS = (("torch-loihi", "graph"), ("intsim-loihi", "loihi"), ("lava-fixed", "graph"))


def _net_with_average(tmp_path, groups: int, seed: int):
    """A slayer Dense 12 -> 10 -> 6 then Average(groups): (net, file with the average layer)."""
    from lava.lib.dl import slayer

    torch.manual_seed(seed)
    cuba = slayer.block.cuba
    dense = [cuba.Dense(dict(P), 12, 10, weight_scale=3), cuba.Dense(dict(P), 10, 6,
                                                                       weight_scale=3)]
    net = Net(dense + [cuba.Average(groups)]).eval()
    with torch.no_grad():
        net(torch.zeros(1, 12, 2))
    path = tmp_path / "avg.net"
    Net(dense).export_hdf5(path)
    with h5py.File(path, "a") as f:                 # as lava-dl's ntidigits.net holds it
        lay = f.create_group("layer/2")
        lay.create_dataset("type", (1,), "S10", [b"average"])
        lay.create_dataset("shape", data=np.array([groups, 1, 1]))
    return net, path


@pytest.mark.parametrize("groups,seed", [(2, 0), (3, 1), (6, 2)])
def test_an_average_layer_is_the_outputs_mean_as_slayer_computes_it(groups, seed, tmp_path):
    net, path = _net_with_average(tmp_path, groups, seed)
    g = snnpipe.load(path)
    out = g.graph["outputs"][0]
    assert (g.nodes[out]["readout"], g.nodes[out]["readout_groups"]) == ("mean", groups)
    x = (np.random.default_rng(seed).random((2, 12, 20)) < 0.4).astype(np.int64)
    with torch.no_grad():
        ref = net(torch.as_tensor(x, dtype=torch.float32)).numpy()
    assert ref.shape == (2, groups, 20) and ref.any()
    assert groups == 6 or not np.all(ref == np.round(ref))      # fractions (6: one per group)
    for backend, target in BACKENDS:
        run = snnpipe.simulate(snnpipe.compile(g, target), x, backend)
        assert run.output.shape == ref.shape
        assert np.array_equal(run.output.astype(np.float32), ref), backend


def test_the_netx_backend_refuses_a_file_with_an_average_layer(tmp_path):
    _, path = _net_with_average(tmp_path, 2, 0)
    g = snnpipe.load(path)
    with pytest.raises(BackendError) as e:
        snnpipe.simulate(snnpipe.compile(g, "graph"), np.zeros((1, 12, 4), np.int64), "netx")
    assert "netx cannot express" in str(e.value)


def test_an_average_layer_before_the_last_is_refused_by_layer_and_field(tmp_path):
    _, path = _net_with_average(tmp_path, 2, 0)
    with h5py.File(path, "a") as f:
        f.copy(f["layer/1"], "layer/3")             # a dense layer after the average
    with pytest.raises(FormatError) as e:
        snnpipe.load(path)
    assert (e.value.where, e.value.field) == ("layer/2", "type")
    assert "last layer" in str(e.value)


def test_average_groups_that_do_not_divide_the_layer_are_refused(tmp_path):
    _, path = _net_with_average(tmp_path, 2, 0)
    with h5py.File(path, "a") as f:
        del f["layer/2/shape"]
        f["layer/2"].create_dataset("shape", data=np.array([4, 1, 1]))
    with pytest.raises(FormatError) as e:
        snnpipe.load(path)
    assert (e.value.where, e.value.field) == ("layer/2", "shape")


def test_lavadls_ntidigits_loads_runs_equal_everywhere_and_verifies_without_netx():
    g = snnpipe.load(lavadl_files.path("ntidigits"))
    out = g.graph["outputs"][0]
    assert (out, g.nodes[out]["readout_groups"], g.nodes[out]["shape"]) == ("layer4", 11, (242,))
    x = (np.random.default_rng(4).random((2, 64, 25)) < 0.3).astype(np.int64)
    runs = [snnpipe.simulate(snnpipe.compile(g, t), x, b, record=True) for b, t in BACKENDS]
    assert runs[0].output.shape == (2, 11, 25) and runs[0].output.any()
    for run in runs[1:]:
        assert np.array_equal(run.output, runs[0].output), run.name
        assert all(np.array_equal(a, run.pops[n][v]) for n, d in runs[0].pops.items()
                   for v, a in d.items()), run.name
    rep = verify(g, "loihi", x)
    assert rep.ok and rep.implementations[0] == "torch-loihi"


def test_nir_has_no_host_side_mean(tmp_path):
    _, path = _net_with_average(tmp_path, 2, 0)
    g = snnpipe.load(path)
    with pytest.raises(GraphError) as e:
        snnpipe.save(g, tmp_path / "g.nir")
    assert (e.value.where, e.value.field) == (g.graph["outputs"][0], "readout")
