"""A sigma-delta (SDNN) file from lava-dl on the command line: its graded input is signed, so
`simulate` takes negative values for it (and refuses them for a spiking network), and a netx
file named ``*.net`` is a network file, not a config; the output equals lava-dl's netx, and
`verify` compares our implementations with netx state by state."""
import json

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


@pytest.mark.lava
def test_verify_an_sdnn_file_against_netx_with_signed_input(tmp_path, capsys):
    """``snnpipe verify`` on a slayer SDNN whose input layer has a bias: netx is the reference,
    torch-loihi and intsim-loihi equal it in every state; our Lava compile cannot hold the
    input's bias (Lava's Delta has none), which a note says, naming the layer and field."""
    pytest.importorskip("lava.lib.dl.slayer")
    import slayer_sdnn_zoo

    net = tmp_path / "sdnn.net"
    shape = slayer_sdnn_zoo.write(12, net)
    np.save(tmp_path / "x.npy", slayer_sdnn_zoo.raster(shape, 12, batch=1, steps=8))
    capsys.readouterr()                   # what importing slayer printed
    assert main(["verify", str(net), "--target", "loihi", "--input", str(tmp_path / "x.npy"),
                 "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["implementations"] == ["netx", "torch-loihi", "intsim-loihi"]
    assert {r["var"] for r in rep["rows"]} >= {"sigma", "act", "residue", "spikes"}
    assert all(n == 0 for r in rep["rows"] for n in r["diffs"].values())
    assert any("lava-fixed skipped" in n and "layer0: bias" in n for n in rep["notes"])
