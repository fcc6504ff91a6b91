"""`snnpipe report`: a self-contained HTML report whose every plot loads in a real browser
(headless Chromium), built from what a run folder holds and computed where missing."""
import json
import re

import pytest

from snnpipe.pipeline.cli.main import main
from snnpipe.pipeline.formats.hdf5 import export
from snnpipe.pipeline.report.page import build
from snnpipe.pipeline.report.data import collect
import browser
import zoo



def _check_page(html_path, expected_keys):
    dom = browser.dump_dom(html_path)
    loaded, total = browser.images_loaded(dom)
    assert total == len(expected_keys) and loaded == total, (loaded, total)
    assert browser.plot_keys(dom) == list(expected_keys)
    assert not re.search(r'<(img|script|link)[^>]+(src|href)="(https?:|file:|//)', dom), \
        "the report must not fetch anything"
    return dom


@pytest.mark.lava
def test_report_of_a_bare_network_file_compiles_simulates_verifies_and_plots(tmp_path, capsys):
    export(zoo.sequential_dense(0), tmp_path / "net.h5")
    assert main(["report", str(tmp_path)]) == 0
    assert "report.html" in capsys.readouterr().out
    # what the report computed is left in the folder for the next run
    for f in ("deploy/lava/manifest.json", "deploy/loihi/config.json", "deploy/xylo/config.json",
              "sample/input.npy", "verify/loihi.json", "verify/xylo.json"):
        assert (tmp_path / f).is_file(), f
    assert json.loads((tmp_path / "verify/loihi.json").read_text())["ok"]
    data = collect(tmp_path)                      # second time: read back, nothing recomputed
    assert set(data.verify) == {"loihi", "xylo"} and all(v["ok"] for v in data.verify.values())
    assert set(data.energy) == {"Loihi-style", "Xylo-style"}
    dom = _check_page(tmp_path / "report.html", data.plots)
    assert "all agree" in dom and "Loihi-style core map" in dom
    assert {"graph", "input_gif", "rasters", "loihi_cores", "xylo_resources", "energy",
            "verification"} <= set(data.plots)


@pytest.mark.lava
def test_a_target_that_cannot_hold_the_network_is_reported_not_fatal(tmp_path):
    export(zoo.sequential_conv(0), tmp_path / "conv.h5")    # Xylo has no convolutions
    out = build(tmp_path)
    err = (tmp_path / "deploy/xylo/error.txt").read_text()
    assert "convolution" in err and not (tmp_path / "deploy/xylo/config.json").exists()
    html = out.read_text()
    assert "not deployable" in html and "xylo_resources" not in html
    data = collect(tmp_path)
    assert set(data.verify) == {"loihi"}
    assert data.validation["graph"] == [] and data.validation["loihi"] == []
    assert any("convolution" in p for p in data.validation["xylo"])


def test_report_without_compute_only_shows_what_is_there(tmp_path):
    export(zoo.sequential_dense(0), tmp_path / "net.h5")
    build(tmp_path, compute=False)
    assert not (tmp_path / "deploy").exists() and not (tmp_path / "verify").exists()
    _check_page(tmp_path / "report.html", ["graph"])


def test_a_folder_without_a_network_or_a_missing_path_is_a_bad_input(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_network_file_stands_for_its_folder(tmp_path):
    export(zoo.sequential_dense(0), tmp_path / "net.h5")
    assert build(tmp_path / "net.h5", compute=False) == tmp_path / "report.html"


@pytest.mark.lava
def test_results_of_an_earlier_network_are_made_again_not_shown(tmp_path):
    export(zoo.sequential_dense(0), tmp_path / "net.h5")
    build(tmp_path)
    first = (tmp_path / "deploy/loihi/config.json").read_bytes()
    (tmp_path / "verify/loihi.json").write_text('{"stale": true}')      # must not survive
    export(zoo.sequential_dense(1), tmp_path / "net.h5")                # trained again
    data = collect(tmp_path)
    assert (tmp_path / "deploy/loihi/config.json").read_bytes() != first
    assert data.verify["loihi"]["ok"] and "stale" not in data.verify["loihi"]
    assert json.loads((tmp_path / "derived.json").read_text())["network"] == "net.h5"
