"""lava-dl's own network files (shipped with lava-dl's netx tests) load as netx reads them and
run as netx runs them; what netx runs but we cannot yet is refused with the layer and field."""
import numpy as np
import pytest

import lavadl_files
from kernel_checks import FULL
from snnpipe.pipeline import backends
from snnpipe.pipeline.backends.artifacts import compile as compile_for
from snnpipe.pipeline.formats import hdf5
from snnpipe.pipeline.verify.chain import random_inputs, verify

pytestmark = pytest.mark.lava
LARGE = [pytest.mark.crosscheck,
         pytest.mark.skipif(not FULL, reason="a larger lava-dl file on netx (20-70 s): under "
                            "`make crosscheck` (SNNPIPE_CROSSCHECK=full)")]


def test_pilotnet_snn_loads_with_its_one_output_layer():
    """Its last dense layer has one neuron and a 1-d weight (10,), which netx reshapes."""
    g = hdf5.load(lavadl_files.path("pilotnet_lif"))
    (out,) = g.graph["outputs"]
    ((src, _, e),) = g.in_edges(out, data=True)
    assert g.nodes[out]["shape"] == (1,) and e["weight"].shape == (1, 10)
    assert g.nodes[g.graph["inputs"][0]]["shape"] == (3, 66, 200)


def test_a_layer_without_neuron_is_netx_default_integrator_read_as_a_readout():
    """mnist.net's last layer has no neuron group: netx gives it iDecay 0, vDecay 4096 and
    vThMant 1 << 17, a threshold v never reaches (24-bit v), so it is an ``li`` readout."""
    g = hdf5.load(lavadl_files.path("mnist"))
    d = g.nodes[g.graph["outputs"][0]]
    assert d["model"] == "li" and "threshold" not in d
    assert d["current_decay"].tolist() == [0.0] and float(d["voltage_decay"]) == 1.0
    compile_for(g, "loihi")                      # deploys (was: threshold outside 17 bits)


def test_verify_of_a_lavadl_file_takes_netx_as_reference_and_every_state_agrees():
    """tiny.net (input layer with a neuron and a bias transform, two convs with biases): every
    population's spikes, u and v equal netx's on Lava fixed point."""
    g = hdf5.load(lavadl_files.path("tiny"))
    rep = verify(g, "loihi", random_inputs(g, 1, seed=3, steps=10))
    assert rep.implementations == ["netx", "torch-loihi", "lava-fixed", "intsim-loihi"]
    assert rep.ok, rep.text()
    assert any(r["kind"] == "population" and r["var"] == "v" for r in rep.rows)


@pytest.mark.parametrize("name", [pytest.param("mnist", marks=LARGE),
                                  pytest.param("pilotnet_lif", marks=LARGE)])
def test_lavadl_file_on_intsim_equals_netx_in_every_state(name):
    g = hdf5.load(lavadl_files.path(name))
    x = random_inputs(g, 1, seed=1, steps=12 if name == "mnist" else 6)
    ref = backends.run(compile_for(g, "graph"), "netx", x, record=True)
    ours = backends.run(compile_for(g, "loihi"), "intsim-loihi", x, record=True)
    for node, d in ref.pops.items():
        for var, a in d.items():
            assert np.array_equal(a, ours.pops[node][var]), (node, var)


def test_cli_verify_refuses_a_reference_the_target_does_not_have(capsys):
    from snnpipe.pipeline.cli.main import main

    assert main(["verify", str(lavadl_files.path("tiny")), "--target", "loihi",
                 "--reference", "xylosim"]) == 2
    assert "reference" in capsys.readouterr().err
