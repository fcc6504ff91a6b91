"""Recipes: each trains a few steps on a small data set and its loss falls; the run writes its
files; the exported graph loads and validates; the deployment backends run and reproduce the
torch model where the arithmetic is the same. Full-accuracy runs are commands (see
models/recipes/registry.py), not tests."""
import csv
import json

import numpy as np
import pytest
import torch

import snnpipe.processes.compile  # noqa: F401  (Lava sets the multiprocessing start method on import)

from snnpipe.hwmap.mappers.xylo_map import quantize_and_map
from snnpipe.models.recipes import common, registry
from snnpipe.pipeline.formats.hdf5 import load
from snnpipe.pipeline.ir.validate import validate

FAST = {
    "ipd": dict(n_train=96, n_test=16, batch_size=32),
    "wavesense": dict(n_train=16, n_test=8, batch_size=8, lr=1e-2),
    "synnet": dict(n_train=48, n_test=16, batch_size=16, lr=1e-2),
    "chirp": dict(duration=0.1),
    "oxford": dict(steps=100),
}
EPOCHS = {"ipd": 3, "wavesense": 3, "synnet": 3, "chirp": 4, "oxford": 3}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def train_losses(folder):
    with open(folder / "stats.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f) if r["phase"] == "train"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One short training run per recipe (float precision unless the recipe says otherwise)."""
    out = {}
    for name in registry.RECIPES:
        folder = tmp_path_factory.mktemp(name)
        out[name] = (folder, registry.train(name, folder, epochs=EPOCHS[name], seed=0,
                                            progress=False, **FAST[name]))
    return out


@pytest.mark.parametrize("name", sorted(registry.RECIPES))
def test_training_lowers_the_loss_and_writes_the_run(runs, name):
    folder, result = runs[name]
    losses = train_losses(folder)
    assert len(losses) == EPOCHS[name] and min(losses[1:]) < losses[0], losses
    for f in (f"{name}.pt", f"{name}.h5", "stats.csv", "learning.png", "metrics.json"):
        assert (folder / f).stat().st_size > 0, f
    saved = json.loads((folder / "metrics.json").read_text())
    assert all(saved[k] == pytest.approx(result[k]) for k in saved)


@pytest.mark.parametrize("name", sorted(registry.RECIPES))
def test_the_exported_graph_is_valid_for_its_targets(runs, name):
    folder, _ = runs[name]
    g = load(folder / f"{name}.h5")
    assert validate(g) == []
    for target in registry.get(name).TARGETS:
        if target == "loihi":
            assert validate(g, "loihi") == []
        else:       # Xylo's design rules run on the mapped configuration
            recipe = registry.get(name)
            quantize_and_map(g, common.wide_xylo(*getattr(recipe, "XYLO_LIMITS_ARGS", (16, 8))))


@pytest.mark.parametrize("name", sorted(registry.RECIPES))
def test_torch_evaluation_reproduces_the_training_metrics(runs, name):
    folder, result = runs[name]
    metrics = registry.evaluate(name, folder, "torch")
    key = {"ipd": "accuracy", "wavesense": "accuracy", "synnet": "accuracy",
           "chirp": "correlation", "oxford": "loss"}[name]
    assert metrics[key] == pytest.approx(result[key])


@pytest.mark.parametrize("name,backend,target", [
    (n, b, t) for n in sorted(registry.RECIPES) for b, t in registry.get(n).DEPLOY
    if b == "intsim"])
def test_integer_simulators_run_the_exported_network(runs, name, backend, target):
    folder, _ = runs[name]
    metrics = registry.evaluate(name, folder, backend, target, n=8)
    values = [v for k, v in metrics.items() if k in ("accuracy", "correlation", "loss")]
    assert values and all(np.isfinite(v) for v in values)


def test_oxford_in_loihi_precision_deploys_exactly_on_lava_and_the_loihi_simulator(runs):
    folder, _ = runs["oxford"]
    for backend, target in registry.get("oxford").DEPLOY:
        m = registry.evaluate("oxford", folder / "oxford.h5", backend, target)
        assert m["paired"]["differing_outputs"] == 0, (backend, m)
        assert "checked" not in m or m["checked"]["equal"] == m["checked"]["samples"] == 1


def test_unknown_names_are_refused():
    from snnpipe.pipeline.ir.errors import SnnpipeError

    with pytest.raises(SnnpipeError):
        registry.get("mnist")
    with pytest.raises(SnnpipeError):
        registry.train("ipd", "/nonexistent", precision="double")


def test_deploy_evaluates_torch_and_every_deployment_backend(runs):
    folder, _ = runs["synnet"]
    out = registry.deploy("synnet", folder, n=8)
    assert set(out) == {"torch", "intsim/xylo"}
    assert all(m["n"] == 8 for m in out.values())


def test_a_saved_target_config_evaluates_like_the_network_file(runs, tmp_path):
    from snnpipe.hwmap.mappers.loihi_config import save as save_loihi
    from snnpipe.hwmap.mappers.loihi_map import map_graph

    folder, _ = runs["synnet"]
    cfg, _ = quantize_and_map(load(folder / "synnet.h5"))
    path = cfg.save(tmp_path / "xylo")
    assert registry.evaluate("synnet", path, "intsim", n=8)["accuracy"] == \
        registry.evaluate("synnet", folder, "intsim", "xylo", n=8)["accuracy"]
    folder, _ = runs["ipd"]
    path = save_loihi(map_graph(load(folder / "ipd.h5")), tmp_path / "loihi")
    from_config = registry.evaluate("ipd", path, "intsim", n=8)      # the target from the file
    from_run = registry.evaluate("ipd", folder, "intsim", "loihi", n=8)
    assert from_config["target"] == "loihi" and "paired" not in from_config   # no checkpoint
    same = ("n", "accuracy", "mae_deg", "ci")
    assert {k: from_config[k] for k in same} == {k: from_run[k] for k in same}


def test_the_command_line_knows_every_recipe():
    from snnpipe.pipeline.cli.main import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    recipe_arg = next(a for a in train._actions if a.dest == "recipe")
    assert set(recipe_arg.choices) == set(registry.RECIPES)


def test_snnpipe_train_and_evaluate_write_a_run_and_print_its_metrics(tmp_path, capsys):
    from snnpipe.pipeline.cli.main import main

    run = tmp_path / "synnet"
    assert main(["train", "synnet", "--epochs", "1", "-o", str(run), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert {"synnet.pt", "synnet.h5", "stats.csv", "learning.png"} <= {p.name for p in run.iterdir()}
    assert 0.0 <= trained["accuracy"] <= 1.0
    assert main(["evaluate", "synnet", str(run / "synnet.h5"), "--backend", "intsim",
                 "--target", "xylo", "-n", "32", "--json"]) == 0
    deployed = json.loads(capsys.readouterr().out)
    assert deployed["n"] == 32 and deployed["backend"] == "intsim" and "accuracy" in deployed
    assert main(["evaluate", "synnet", str(tmp_path / "missing.h5")]) == 2


def _verify_targets(name):
    """The targets ``snnpipe verify`` checks a recipe on, from its ``DEPLOY``: loihi (torch, Lava,
    intsim) when it deploys to the Loihi-style simulator, else lava (torch, Lava) when it
    deploys to Lava (custom neurons: Lava's processes have them, the Loihi target not), and
    xylo (torch, intsim, xylosim)."""
    targets = {t or "lava" for _, t in registry.get(name).DEPLOY}
    return (["loihi"] if "loihi" in targets else ["lava"] if "lava" in targets else []) + \
        (["xylo"] if "xylo" in targets else [])


@pytest.mark.lava
@pytest.mark.parametrize("name", sorted(registry.RECIPES))
def test_snnpipe_verify_finds_no_difference_for_each_recipe_and_target(runs, name, capsys):
    from snnpipe.pipeline.cli.main import main

    folder, _ = runs[name]
    for target in _verify_targets(name):
        code = main(["verify", str(folder / f"{name}.h5"), "--target", target, "--random", "1",
                     "--steps", "30", "--metric-samples", "0", "--json"])
        doc = json.loads(capsys.readouterr().out)
        assert code == 0 and doc["ok"], (target, doc["first_divergence"])
        assert all(not any(r["diffs"].values()) for r in doc["rows"])
        assert len(doc["implementations"]) == (2 if target == "lava" else 3)
