"""`snnpipe compile` and `snnpipe simulate`: files on disk in, files on disk out, exit codes."""
import json

import numpy as np
import pytest

from snnpipe.pipeline.cli.main import main
from snnpipe.pipeline.formats.hdf5 import export
import zoo

pytestmark = pytest.mark.lava


@pytest.fixture
def files(tmp_path):
    export(zoo.sequential_dense(0), tmp_path / "dense.h5")
    export(zoo.synnet(0), tmp_path / "synnet.h5")
    export(zoo.sequential_conv(0), tmp_path / "conv.h5")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "in8.npy", (rng.random((8, 30)) < 0.4).astype(np.int64))
    np.save(tmp_path / "in6.npy", rng.integers(0, 3, (2, 6, 30)))
    return tmp_path


def test_compile_loihi_writes_config_and_report_and_prints_json(files, capsys):
    assert main(["compile", str(files / "dense.h5"), "--target", "loihi", "-o", str(files / "lo"),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["resources"]["totals"]["neurons"] == 12 + 6
    assert report["resources"]["totals"]["cores"] == 2
    assert {p["src"] for p in report["quantisation"]["projections"]} == {"in", "h1"}
    assert (files / "lo" / "config.json").is_file() and (files / "lo" / "report.txt").is_file()


def test_compile_xylo_of_a_conv_net_is_a_design_rule_error_with_nothing_written(files, capsys):
    assert main(["compile", str(files / "conv.h5"), "--target", "xylo", "-o", str(files / "xy")]) == 2
    err = capsys.readouterr().err
    assert "convolutions" in err and "op" in err
    assert not (files / "xy" / "config.json").exists()


def test_lava_fixed_point_and_the_loihi_simulator_give_the_same_output_file(files, capsys):
    assert main(["compile", str(files / "dense.h5"), "--target", "loihi", "-o", str(files / "lo")]) == 0
    assert main(["compile", str(files / "dense.h5"), "--target", "lava", "-o", str(files / "la")]) == 0
    runs = {"lava": ["simulate", str(files / "la"), "--backend", "lava-fixed"],
            "intsim": ["simulate", str(files / "lo" / "config.json"), "--backend", "intsim", "--record"]}
    out = {}
    for name, argv in runs.items():
        assert main(argv + ["--input", str(files / "in8.npy"), "-o", str(files / f"{name}.npz")]) == 0
        out[name] = np.load(files / f"{name}.npz")
    assert out["lava"]["output"].shape == (6, 30)                       # 2-D in, 2-D out
    assert out["lava"]["output"].sum() > 0
    assert np.array_equal(out["lava"]["output"], out["intsim"]["output"])
    assert int(out["intsim"]["t_offset"]) == 0 and str(out["intsim"]["backend"]) == "intsim-loihi"
    assert out["intsim"]["h1/v"].shape == (12, 30) and out["intsim"]["h1/u"].shape == (1, 12, 30)


def test_xylo_simulation_of_a_batch_keeps_the_batch_and_reports_the_offset(files, capsys):
    assert main(["compile", str(files / "synnet.h5"), "--target", "xylo", "-o", str(files / "xy")]) == 0
    assert "hidden neurons" in (files / "xy" / "report.txt").read_text()
    capsys.readouterr()
    assert main(["simulate", str(files / "xy"), "--backend", "intsim", "--input", str(files / "in6.npy"),
                 "-o", str(files / "xy.npz"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["t_offset"] == -1 and summary["shape"] == [2, 3, 30]
    with np.load(files / "xy.npz") as z:
        assert z["output"].shape == (2, 3, 30) and int(z["t_offset"]) == -1


def test_an_input_of_the_wrong_width_exits_2(files, capsys):
    code = main(["simulate", str(files / "dense.h5"), "--backend", "lava-fixed",
                 "--input", str(files / "in6.npy"), "-o", str(files / "x.npz")])
    assert code == 2
    err = capsys.readouterr().err
    assert "in6.npy" in err and "channels" in err and "expected 8" in err
    assert not (files / "x.npz").exists()


@pytest.mark.parametrize("target", ["loihi", "lava"])
def test_verify_reports_agreement_and_exits_0(files, capsys, target):
    assert main(["verify", str(files / "dense.h5"), "--target", target, "--random", "2",
                 "--steps", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True


def test_verify_with_an_input_file_of_the_wrong_width_exits_2(files, capsys):
    assert main(["verify", str(files / "dense.h5"), "--target", "loihi",
                 "--input", str(files / "in6.npy")]) == 2
    err = capsys.readouterr().err
    assert "in6.npy" in err and "channels" in err and "expected 8" in err


def test_simulate_takes_2d_event_files_in_the_networks_input_layout(files, capsys):
    from snnpipe.pipeline.formats.events import Events, write_bs2

    # two events of a (2, 8, 6) input that reach neither the largest x/y nor polarity 1
    write_bs2(files / "in.bs2", Events(x=np.array([1, 2]), y=np.array([0, 3]), c=np.array([0, 0]),
                                       t=np.array([0.0, 5.0])))
    assert main(["simulate", str(files / "conv.h5"), "--input", str(files / "in.bs2"),
                 "--backend", "lava-fixed", "-o", str(files / "o.npz")]) == 0
    assert "lava-fixed" in capsys.readouterr().out
    write_bs2(files / "far.bs2", Events(x=np.array([7]), y=np.array([0]), c=np.array([0]),
                                        t=np.array([0.0])))                 # x beyond width 6
    assert main(["simulate", str(files / "conv.h5"), "--input", str(files / "far.bs2"),
                 "--backend", "lava-fixed", "-o", str(files / "o2.npz")]) == 2
    err = capsys.readouterr().err
    assert "far.bs2" in err and "x" in err and not (files / "o2.npz").exists()


def test_raster_draws_spike_files_as_png_and_gif(files, capsys):
    from PIL import Image

    assert main(["raster", str(files / "in8.npy"), "-o", str(files / "r.png")]) == 0
    assert main(["raster", str(files / "in6.npy"), "--sample", "1", "-o", str(files / "r.gif")]) == 0
    assert Image.open(files / "r.gif").n_frames == 6 and Image.open(files / "r.png").format == "PNG"
    assert main(["raster", str(files / "in8.npy"), "-o", str(files / "r.svg")]) == 2
    assert main(["raster", str(files / "in6.npy"), "--sample", "2", "-o", str(files / "x.png")]) == 2
    assert "sample" in capsys.readouterr().err and not (files / "x.png").exists()
