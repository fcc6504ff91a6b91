"""`snnpipe demo`: the main job on tiny settings (--quick): two ipd networks trained, deployed to
Lava and both targets, verified, and one report whose every plot loads in headless Chromium;
`snnpipe verify` on a recipe's network adds the task metric before and after deployment."""
import json

import numpy as np
import pytest

from snnpipe.pipeline.cli.main import main
import browser

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--quick", "-o", str(out)])
    return out, code


def test_quick_demo_trains_deploys_verifies_and_writes_a_report_that_loads(demo, capsys):
    out, code = demo
    assert code == 0
    for run in ("ipd-float", "ipd-xylo"):
        assert (out / run / "ipd.h5").is_file() and (out / run / "deployment.json").is_file()
    float_metrics = json.loads((out / "ipd-float/deployment.json").read_text())
    assert set(float_metrics) == {"torch", "torch/loihi", "torch/xylo", "lava-fixed",
                                  "intsim/loihi", "intsim/xylo", "xylosim"}
    xylo_metrics = json.loads((out / "ipd-xylo/deployment.json").read_text())
    assert set(xylo_metrics) == {"torch", "intsim/xylo", "xylosim"}
    for metrics in (float_metrics, xylo_metrics):
        assert {m["n"] for m in metrics.values()} == {64}               # the whole held-out set
        assert all(0 <= m["ci"]["accuracy"][0] <= m["accuracy"] <= m["ci"]["accuracy"][1]
                   for m in metrics.values())
        assert all("paired" in m for k, m in metrics.items() if k != "torch")
    for slow, fast in (("lava-fixed", "intsim/loihi"), ("xylosim", "intsim/xylo")):
        assert float_metrics[slow]["checked"] == {"against": fast, "samples": 16, "equal": 16}
    for v in ("ipd-float/verify/loihi.json", "ipd-float/verify/xylo.json", "ipd-xylo/verify/xylo.json"):
        doc = json.loads((out / v).read_text())
        assert doc["ok"], v
    from snnpipe.models.recipes.registry import test_inputs

    sample = np.load(out / "ipd-float" / "sample" / "input.npy")
    assert np.array_equal(sample, test_inputs("ipd", 1)[0].numpy())   # a real test input
    pngs = sorted(p.name for p in (out / "ipd-float" / "plots").iterdir())
    assert pngs == ["energy.png", "graph.png", "input.gif", "loihi_cores.png", "rasters.png",
                    "training.png", "verification.png", "xylo_resources.png"]
    dom = browser.dump_dom(out / "report.html")
    loaded, total = browser.images_loaded(dom)
    assert loaded == total >= 2 * 5 + 5      # per run: training, graph, gif, rasters, energy ... + confusions
    keys = browser.plot_keys(dom)
    for key in ("training", "graph", "input_gif", "rasters", "loihi_cores", "xylo_resources",
                "energy", "verification", "confusion_torch", "confusion_lava-fixed", "confusion_intsim_loihi"):
        assert key in keys, key


def test_verify_of_a_recipe_network_reports_the_metric_before_and_after(demo, capsys):
    out, _ = demo
    capsys.readouterr()
    expected = json.loads((out / "ipd-xylo/deployment.json").read_text())
    n = expected["torch"]["n"]                    # the demo's metric samples
    code = main(["verify", str(out / "ipd-xylo" / "ipd.h5"), "--target", "xylo", "--random", "1",
                 "--steps", "20", "--metric-samples", str(n), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["ok"]
    m = doc["metric"]
    assert m["n"] == n and m["backend"] == "intsim/xylo"
    for key, entry in (("torch", m["before"]), ("intsim/xylo", m["after"])):    # same samples
        assert {k: entry[k] for k in ("n", "accuracy", "mae_deg", "ci")} == \
            {k: expected[key][k] for k in ("n", "accuracy", "mae_deg", "ci")}
    assert m["after"]["paired"] == expected["intsim/xylo"]["paired"]
    trained = doc["trained"]                   # the checkpoint's model on the verify inputs
    assert trained["precision"] == "xylo" and trained["differing"] == {"intsim/xylo": 0}
    assert trained["values"] == 20 * 12 and any("weights" in line for line in trained["mapping"])


def test_report_of_a_recipe_run_deploys_it_as_the_recipe_evaluates_it(demo, tmp_path, capsys):
    import shutil

    out, _ = demo
    for f in ("ipd.h5", "ipd.pt"):                     # a bare run: network and checkpoint
        shutil.copy(out / "ipd-xylo" / f, tmp_path / f)
    assert main(["report", str(tmp_path), "--samples", "4"]) == 0
    metrics = json.loads((tmp_path / "deployment.json").read_text())   # the metric per target
    assert set(metrics) == {"torch", "intsim/xylo", "xylosim"} and metrics["torch"]["n"] == 4
    assert {"confusion_torch.png", "confusion_intsim_xylo.png"} <= {p.name for p in tmp_path.iterdir()}
    mapping = json.loads((tmp_path / "deploy/xylo/mapping.json").read_text())
    assert mapping["limits"]["n_in"] == 200 and mapping["limits"]["n_out"] == 12   # widened Xylo
    assert json.loads((tmp_path / "verify/xylo.json").read_text())["ok"]
