"""read_nir on broken and unusual files (pipeline/formats/nir_read.py): typed errors naming the
file, node and field, never a traceback; nir's failed type inference is a warning."""
import h5py
import nir
import numpy as np
import pytest

from snnpipe.pipeline.formats.nir import NirTypeWarning, import_nir, read_nir, to_nir
from snnpipe.pipeline.ir.errors import FormatError, GraphError
import zoo


def lif(n=3):
    return nir.LIF(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n),
                   v_threshold=np.ones(n))


def small():
    return nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])),
                                  nir.Linear(np.ones((3, 2))), lif(),
                                  nir.Output(output_type=np.array([3])))


def written(tmp_path, graph=None):
    path = tmp_path / "net.nir"
    nir.write(path, graph or small())
    return path


def test_our_files_come_back_with_producer_and_dt_from_their_metadata(tmp_path):
    path = written(tmp_path, to_nir(zoo.sequential_dense(0)))
    g, info = read_nir(path)
    assert (info.producer, info.detected, info.dt) == ("snnpipe", True, 1e-3)


def test_a_file_without_dt_or_producer_needs_dt(tmp_path):
    with pytest.raises(FormatError) as e:
        read_nir(written(tmp_path))
    assert (e.value.field, e.value.file) == ("dt", str(tmp_path / "net.nir"))
    g, info = read_nir(tmp_path / "net.nir", dt=1e-3)
    assert (info.producer, info.dt) == ("exact", 1e-3)


def test_an_unknown_producer_is_a_format_error(tmp_path):
    with pytest.raises(FormatError) as e:
        read_nir(written(tmp_path), dt=1e-3, producer="brian")
    assert (e.value.field, e.value.found) == ("producer", "brian")


@pytest.mark.parametrize("version, field", [(b"0.2.0", "version"), (None, "version")])
def test_pre_1_0_files_are_refused(tmp_path, version, field):
    path = written(tmp_path)
    with h5py.File(path, "a") as f:
        del f["version"]
        if version is not None:
            f["version"] = version
    with pytest.raises(FormatError) as e:
        read_nir(path, dt=1e-3)
    assert e.value.field == field


def test_not_an_hdf5_file(tmp_path):
    (tmp_path / "x.nir").write_text("hello")
    with pytest.raises(FormatError, match="not an HDF5 file"):
        read_nir(tmp_path / "x.nir")


def test_an_edge_naming_a_missing_node_is_a_graph_error():
    ng = small()
    ng.edges.append(("lif", "nowhere"))
    with pytest.raises(GraphError) as e:
        import_nir(ng, dt=1e-3)
    assert (e.value.where, e.value.field, e.value.found) == ("lif -> nowhere", "edges", "nowhere")


def test_an_unknown_node_type_in_a_file(tmp_path):
    path = written(tmp_path)
    with h5py.File(path, "a") as f:
        del f["node/nodes/lif/type"]
        f["node/nodes/lif/type"] = b"Spiky"
    with pytest.raises(GraphError, match="unsupported NIR node") as e:
        read_nir(path, dt=1e-3)
    assert (e.value.field, e.value.found) == ("type", "Spiky")


def test_a_missing_dataset_and_a_nan_parameter(tmp_path):
    path = written(tmp_path)
    with h5py.File(path, "a") as f:
        del f["node/nodes/linear/weight"]
    with pytest.raises(FormatError, match="missing") as e:
        read_nir(path, dt=1e-3)
    assert e.value.field == "weight"
    ng = small()
    ng.nodes["lif"].tau[1] = np.nan
    with pytest.raises(GraphError) as e:
        import_nir(ng, dt=1e-3)
    assert (e.value.where, e.value.field) == ("lif", "tau")


def test_a_cycle_of_projections_without_a_neuron():
    ng = small()
    ng.nodes["loop"] = nir.Linear(np.eye(3))
    ng.nodes["back"] = nir.Linear(np.eye(3))
    ng.edges += [("linear", "loop"), ("loop", "back"), ("back", "loop"), ("loop", "lif")]
    with pytest.raises(GraphError, match="cycle of projections without a neuron"):
        import_nir(ng, dt=1e-3)


def test_a_file_that_fails_nirs_type_inference_loads_with_a_warning(tmp_path):
    ng = small()
    ng.nodes["input"] = nir.Input(input_type=np.array([1, 2]))    # a batch dimension
    path = tmp_path / "net.nir"
    nir.write(path, ng)
    with pytest.warns(NirTypeWarning, match="type inference"):
        g, info = read_nir(path, dt=1e-3)
    assert g.nodes["input"]["shape"] == (2,) and len(info.warnings) == 2


def test_nested_subgraphs_are_inlined_and_their_cycle_acts_one_step_later():
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([3])), "lif": lif(),
                              "w_rec": nir.Linear(np.eye(3) * 0.5),
                              "output": nir.Output(output_type=np.array([3]))},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                              ("lif", "output")])
    ng = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([2])),
                             "w": nir.Linear(np.ones((3, 2))), "rec": sub,
                             "output": nir.Output(output_type=np.array([3]))},
                      edges=[("input", "w"), ("w", "rec"), ("rec", "output")])
    g, info = import_nir(ng, dt=1e-3)
    assert info.offsets == {"rec.lif": 1}
    assert [(u, v, d["recurrent"], d["delay"]) for u, v, d in g.edges(data=True)] == \
        [("input", "rec.lif", False, 0), ("rec.lif", "rec.lif", True, 0)]


def test_a_delay_node_is_whole_steps_on_the_edge():
    ng = nir.NIRGraph.from_list(nir.Input(input_type=np.array([2])),
                                nir.Linear(np.ones((3, 2))), nir.Delay(np.full(3, 3e-3)),
                                lif(), nir.Output(output_type=np.array([3])))
    g, info = import_nir(ng, dt=1e-3)
    (d,) = [d for *_, d in g.edges(data=True)]
    assert d["delay"] == 0 and info.offsets == {"lif": 0} or d["delay"] + 1 - info.offsets["lif"] == 3
