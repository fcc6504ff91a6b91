"""Bad HDF5 input (pipeline/formats/hdf5.py): a FormatError or GraphError naming file, layer and field."""
import h5py
import numpy as np
import pytest

from snnpipe.pipeline.formats import hdf5
from snnpipe.pipeline.ir.errors import FormatError, GraphError
import zoo


@pytest.fixture
def netx_file(tmp_path):
    """Our netx-layout file of zoo.sequential_conv without node ids: layers 0 input, 1-2 conv,
    3 flatten, 4 dense; nodes ``input``, ``layer1``, ``layer2``, ``layer4``."""
    path = tmp_path / "netx.h5"
    hdf5.export(zoo.sequential_conv(0), path)
    with h5py.File(path, "r+") as f:
        del f.attrs["node_ids"]
    return path


@pytest.fixture
def graph_file(tmp_path):
    """Our graph-group file of zoo.wavesense; node 1 is ``pre``, edge 0 is ``in -> pre``."""
    path = tmp_path / "graph.h5"
    hdf5.export(zoo.wavesense(0), path)
    return path


def load_error(path, error=FormatError):
    with pytest.raises(error) as e:
        hdf5.load(path)
    assert str(path) in str(e.value)
    return e.value


def edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)


def test_a_missing_file(tmp_path):
    err = load_error(tmp_path / "nope.h5")
    assert "no such file" in str(err)


def test_a_file_that_is_not_hdf5(tmp_path):
    (tmp_path / "net.h5").write_text("layer 0: dense\n")
    assert "not an HDF5 file" in str(load_error(tmp_path / "net.h5"))


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_file(graph_file, keep):
    data = graph_file.read_bytes()
    graph_file.write_bytes(data[:int(len(data) * keep)])
    load_error(graph_file)


def retype(path, kind):
    def change(f):
        del f["layer/2/type"]
        f["layer/2"].create_dataset("type", (1,), "S10", [kind.encode()])
    edit(path, change)


@pytest.mark.parametrize("kind", ["concat", "dense_comp"])
def test_netx_layer_types_that_we_cannot_hold_are_refused(netx_file, kind):
    retype(netx_file, kind)
    err = load_error(netx_file)
    assert (err.where, err.field, err.found) == ("layer/2", "type", kind)
    assert "not supported" in str(err)


def test_an_average_layer_that_is_not_the_last_is_refused(netx_file):
    """an ``average`` is read as the output's host-side mean: the last layer only."""
    with h5py.File(netx_file) as f:
        assert len(f["layer"]) > 3
    retype(netx_file, "average")
    err = load_error(netx_file)
    assert (err.where, err.field) == ("layer/2", "type") and "last layer" in str(err)


@pytest.mark.parametrize("kind,field", [("pool", "weight"), ("convT", "weight"),
                                        ("unpool", "weight")])
def test_a_conv_layer_retyped_as_pool_convT_or_unpool_does_not_fit(netx_file, kind, field):
    """pool/unpool want one (1, 1, kh, kw) kernel; convT's weight is (C_in, C_out/g, kh, kw)."""
    retype(netx_file, kind)
    err = load_error(netx_file)
    assert (err.where, err.field) == ("layer/2", field)


@pytest.mark.parametrize("dataset", ["layer/1/weight", "layer/1/neuron/iDecay",
                                     "layer/4/neuron/vThMant", "layer/2/shape", "layer/0/shape",
                                     "layer/4/type"])
def test_missing_netx_datasets(netx_file, dataset):
    edit(netx_file, lambda f: f.__delitem__(dataset))
    err = load_error(netx_file)
    where, field = dataset.rsplit("/", 1)
    assert (err.where, err.field) == (where, field) and "missing" in str(err)


@pytest.mark.parametrize("dataset, value, message", [
    ("layer/1/weight", np.array(["a"] * 4, dtype="S1"), "wrong dtype"),
    ("layer/1/neuron/iDecay", np.float64(0.5), "wrong dtype"),
    ("layer/4/weight", np.zeros((24, 5), np.float32), "does not fit its input"),
    ("layer/4/shape", np.array([6]), "layer size differs"),
    ("layer/2/stride", np.array([1, 1, 1]), "wrong shape"),
    ("layer/1/shape", np.array([4, 3, 4]), "conv output shape"),
])
def test_wrong_dtypes_and_shapes_of_netx_datasets(netx_file, dataset, value, message):
    def replace(f):
        del f[dataset]
        f.create_dataset(dataset, data=value)
    edit(netx_file, replace)
    err = load_error(netx_file)
    where, field = dataset.rsplit("/", 1)
    assert (err.where, err.field) == (where, field) and message in str(err)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_netx_weights(netx_file, bad):
    def poison(f):
        f["layer/4/weight"][0, 0] = bad
    edit(netx_file, poison)
    err = load_error(netx_file, GraphError)
    assert (err.where, err.field) == ("layer2 -> layer4 [0]", "weight")


@pytest.mark.parametrize("dataset, value, field", [("layer/1/neuron/iDecay", 5000, "current_decay"),
                                                   ("layer/2/neuron/vDecay", -1, "voltage_decay")])
def test_netx_decays_outside_zero_4096(netx_file, dataset, value, field):
    def replace(f):
        f[dataset][()] = value
    edit(netx_file, replace)
    err = load_error(netx_file, GraphError)
    assert err.where == "layer" + dataset.split("/")[1] and err.field == field


def test_graph_group_non_finite_weights_and_bad_decays(graph_file):
    def poison(f):
        f["graph/edges/0/weight"][1, 1] = np.nan
        f["graph/nodes/1/current_decay"][0] = 1.5
    edit(graph_file, poison)
    with pytest.raises(Exception) as e:
        hdf5.load(graph_file)
    text = str(e.value)
    assert str(graph_file) in text and "in -> pre [0]: weight" in text
    assert "pre: current_decay: decay outside [0, 1]" in text


def test_graph_group_unmarked_cycle(tmp_path):
    path = tmp_path / "rec.h5"
    hdf5.export(zoo.recurrent_second(0), path)

    def unmark(f):
        edge = next(e for e in f["graph/edges"].values() if e.attrs["recurrent"])
        edge.attrs["recurrent"] = False                              # h2 -> h1
    edit(path, unmark)
    err = load_error(path, GraphError)
    assert (err.where, err.field) == ("h1 -> h2 -> h1", "recurrent")


@pytest.mark.parametrize("obj, field, value, message", [
    ("graph/nodes/1", "model", 3, "wrong type"),
    ("graph/nodes/1", "n_syn", "one", "wrong type"),
    ("graph/edges/0", "dst", "ghost", "unknown node"),
    ("graph", "outputs", "[1, 2]", "bad node id list"),
])
def test_graph_group_wrong_attribute_types(graph_file, obj, field, value, message):
    edit(graph_file, lambda f: f[obj].attrs.__setitem__(field, value))
    err = load_error(graph_file)
    assert err.where.startswith(obj) and err.field == field and message in str(err)


def test_graph_group_shape_retyped_to_floats(graph_file):
    def retype(f):
        del f["graph/nodes/1/shape"]
        f["graph/nodes/1"].create_dataset("shape", data=np.array([8.0]))
    edit(graph_file, retype)
    err = load_error(graph_file)
    assert err.where.startswith("graph/nodes/1") and err.field == "shape"


def test_an_unknown_format_name(graph_file):
    edit(graph_file, lambda f: f.attrs.__setitem__("format", "nir"))
    err = load_error(graph_file)
    assert (err.field, err.found) == ("format", "nir")
