""".nir is a network file like any other: inspect says the producer and dt it used, compile,
simulate, verify and report take it, convert goes between NIR and HDF5 both ways; what a file
does not say (dt, producer) is an option, and what is wrong exits 2 naming the file and field,
with nothing written. The oracle for what the file means is snnTorch, which wrote it."""
import json
import warnings

import nir
import numpy as np
import pytest

from snnpipe.pipeline.cli.main import main
from snnpipe.pipeline.formats.hdf5 import export
from snnpipe.pipeline.ir import graph as G
import zoo

B, T = 2, 30


@pytest.fixture(scope="module")
def snntorch_file(tmp_path_factory):
    """A snnTorch Linear-Leaky-Linear-Leaky network exported by snnTorch's own exporter,
    its input spikes (.npy) and what snnTorch emits at the output on them."""
    snn = pytest.importorskip("snntorch")
    import torch
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    f = lambda n, v: torch.full((n,), float(v))        # noqa: E731 - per-neuron parameters
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 10), snn.Leaky(beta=f(10, 0.85), threshold=f(10, 0.6), init_hidden=True),
        torch.nn.Linear(10, 4), snn.Leaky(beta=f(4, 0.9), threshold=f(4, 0.5), init_hidden=True,
                                          output=True))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * (2.0 / np.sqrt(p.shape[-1]) if p.dim() == 2 else 0.3))
    x = (torch.rand(B, 6, T, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    utils.reset(net)
    with torch.no_grad():
        out = torch.stack([net(x[..., t])[0] for t in range(T)], -1).numpy()
    folder = tmp_path_factory.mktemp("nir")
    path = folder / "net.nir"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nir.write(path, export_to_nir(net, torch.zeros(1, 6), ignore_dims=[0]), compression=None)
    np.save(folder / "x.npy", x.long().numpy())
    assert out.sum() > 0
    return path, folder / "x.npy", out


def _inspect(path, capsys, *options) -> dict:
    capsys.readouterr()
    assert main(["inspect", str(path), "--json", *options]) == 0
    return json.loads(capsys.readouterr().out)


def _simulate(path, x, out, *options) -> np.ndarray:
    assert main(["simulate", str(path), "--input", str(x), "--backend", "torch-float",
                 "-o", str(out), *options]) == 0
    return np.load(out)["output"]


def test_inspect_says_the_producer_and_dt_it_detected(snntorch_file, capsys):
    doc = _inspect(snntorch_file[0], capsys)
    assert doc["valid"] and doc["nir"]["producer"] == "snntorch" and doc["nir"]["detected"]
    assert doc["nir"]["dt"] == pytest.approx(1e-4)
    assert main(["inspect", str(snntorch_file[0])]) == 0
    assert "NIR file: producer snntorch (detected" in capsys.readouterr().out


def test_simulate_of_a_nir_file_emits_what_snntorch_emitted(snntorch_file, tmp_path, capsys):
    path, x, want = snntorch_file
    info = _inspect(path, capsys)["nir"]
    out_node = _inspect(path, capsys)["graph"]["outputs"][0]
    k = info["offsets"][out_node]                # steps our graph runs behind snnTorch
    padded = tmp_path / "x.npy"
    xs = np.load(x)
    np.save(padded, np.concatenate([xs, np.zeros(xs.shape[:2] + (k,), xs.dtype)], -1))
    got = _simulate(path, padded, tmp_path / "o.npz")
    assert np.array_equal(got[..., k:k + T], want)


def test_convert_goes_nir_to_hdf5_and_back_and_every_copy_runs_the_same(snntorch_file,
                                                                           tmp_path, capsys):
    path, x, _ = snntorch_file
    h5 = tmp_path / "net.h5"
    assert main(["convert", str(path), "-o", str(h5)]) == 0
    assert np.array_equal(_simulate(path, x, tmp_path / "a.npz"), _simulate(h5, x, tmp_path / "b.npz"))
    # snnTorch's reset by subtraction has no NIR form of ours: refused, naming the field
    assert main(["convert", str(h5), "-o", str(tmp_path / "back.nir")]) == 2
    assert "reset" in capsys.readouterr().err and not (tmp_path / "back.nir").exists()
    own, back, again = tmp_path / "own.h5", tmp_path / "own.nir", tmp_path / "again.h5"
    export(zoo.sequential_dense(0), own)
    assert main(["convert", str(own), "-o", str(back)]) == 0
    assert main(["convert", str(back), "-o", str(again), "--netx"]) == 0
    assert _inspect(back, capsys)["nir"]["producer"] == "snnpipe"      # our own export
    xs = tmp_path / "own_x.npy"
    np.save(xs, (np.random.default_rng(0).random((B, 8, T)) < 0.3).astype(np.int64))
    runs = [_simulate(p, xs, tmp_path / f"{i}.npz") for i, p in enumerate((own, back, again))]
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])


def test_compile_verify_and_report_take_a_nir_file(snntorch_file, tmp_path, capsys):
    path = tmp_path / "run" / "net.nir"
    path.parent.mkdir()
    path.write_bytes(snntorch_file[0].read_bytes())
    assert main(["compile", str(path), "--target", "lava", "-o", str(tmp_path / "bundle")]) == 0
    assert (tmp_path / "bundle" / "net.h5").exists()
    assert main(["verify", str(path), "--target", "lava", "--random", "1", "--steps", "20"]) == 0
    # snnTorch resets by subtraction: the standard Loihi LIF cannot, and says so
    assert main(["compile", str(path), "--target", "loihi", "-o", str(tmp_path / "dep")]) == 2
    assert "subtractive reset" in capsys.readouterr().err and not (tmp_path / "dep").exists()
    assert main(["report", str(path), "--no-compute"]) == 0
    assert (path.parent / "net.h5").exists() and (path.parent / "report.html").exists()


def test_a_producer_given_overrides_detection_and_a_missing_dt_is_bad_input(snntorch_file,
                                                                           tmp_path, capsys):
    doc = _inspect(snntorch_file[0], capsys, "--producer", "exact", "--dt", "1e-3")
    assert (doc["nir"]["producer"], doc["nir"]["detected"], doc["nir"]["dt"]) == \
        ("exact", False, 1e-3)
    g = nir.NIRGraph(nodes={"input": nir.Input(np.array([2])),
                            "w": nir.Linear(weight=np.ones((2, 2))),
                            "lif": nir.LIF(tau=np.full(2, 0.01), r=np.ones(2),
                                           v_leak=np.zeros(2), v_threshold=np.ones(2)),
                            "output": nir.Output(np.array([2]))},
                     edges=[("input", "w"), ("w", "lif"), ("lif", "output")])
    bare = tmp_path / "bare.nir"
    nir.write(bare, g)                            # no metadata: no dt, no producer
    assert main(["inspect", str(bare)]) == 2
    err = capsys.readouterr().err
    assert "bare.nir" in err and "dt" in err
    assert _inspect(bare, capsys, "--dt", "1e-3")["nir"]["producer"] == "exact"


def test_convert_refuses_what_the_output_cannot_hold_and_writes_nothing(tmp_path, capsys):
    g = G.new_graph("two-synapses")
    G.add_input(g, "in", (3,))
    G.add_neuron(g, "n", (2,), n_syn=2, current_decay=np.array([0.5, 0.25]), voltage_decay=0.1,
                 threshold=1.0)
    G.add_dense(g, "in", "n", np.ones((2, 3)), syn=0)
    G.add_dense(g, "in", "n", -np.ones((2, 3)), syn=1)
    G.set_outputs(g, ["n"])
    src = tmp_path / "multi.h5"
    export(g, src)
    assert main(["convert", str(src), "-o", str(tmp_path / "multi.nir")]) == 2
    assert "n_syn" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing.nir"), "-o", str(tmp_path / "x.h5")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi.h5"]
