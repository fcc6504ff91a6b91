"""A sigma-delta (SDNN) file from lava-dl on the command line: its graded input is signed, so
`simulate` takes negative values for it (and refuses them for a spiking network), and a netx
file named ``*.net`` is a network file, not a config; the output equals lava-dl's netx."""
import numpy as np
import pytest

import lavadl_files
from snnpipe.pipeline.cli.main import main


@pytest.mark.lava
def test_simulate_takes_signed_input_for_an_sdnn_file_and_equals_netx(tmp_path, capsys):
    net = tmp_path / "sdnn.net"
    pytest.importorskip("lava.lib.dl.slayer")
    import slayer_sdnn_zoo

    shape = slayer_sdnn_zoo.write(12, net)
    x = slayer_sdnn_zoo.raster(shape, 12, batch=1, steps=8)
    assert x.min() < 0
    np.save(tmp_path / "x.npy", x)
    out = {}
    for backend in ("intsim-loihi", "netx"):
        assert main(["simulate", str(net), "--input", str(tmp_path / "x.npy"), "--backend",
                     backend, "-o", str(tmp_path / f"{backend}.npz")]) == 0
        out[backend] = np.load(tmp_path / f"{backend}.npz")["output"]
    assert np.array_equal(out["intsim-loihi"], out["netx"])


def test_a_spiking_network_refuses_negative_input(tmp_path, capsys):
    np.save(tmp_path / "x.npy", -np.ones((1, 28 * 28, 4), np.int64))
    code = main(["simulate", str(lavadl_files.path("mnist")), "--input", str(tmp_path / "x.npy"),
                 "--backend", "intsim-loihi", "-o", str(tmp_path / "o.npz")])
    assert code == 2 and ">= 0" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()
