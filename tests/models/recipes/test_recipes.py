"""Recipes: each trains a few steps on a small data set and its loss falls; the run writes its
files; the exported graph loads and validates; the deployment backends run and reproduce the
torch model where the arithmetic is the same. Full-accuracy runs are commands (see
models/recipes/registry.py), not tests."""
import csv
import json

import numpy as np
import pytest
import torch

from hwmap.targets.xylo_map import quantize_and_map
from models.recipes import common, registry
from pipeline.hdf5 import load
from pipeline.validate import validate

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
        assert m["exact"] and m["mismatches"] == 0, (backend, m)


def test_wavesense_runs_on_lava(runs):
    folder, _ = runs["wavesense"]
    m = registry.evaluate("wavesense", folder, "lava-fixed", n=2)
    assert 0.0 <= m["accuracy"] <= 1.0 and m["n"] == 2


def test_ipd_li_readout_matches_between_the_loihi_simulator_and_loihi_precision(tmp_path):
    run = registry.train("ipd", tmp_path, epochs=1, precision="loihi", progress=False,
                         n_train=32, n_test=8, batch_size=32)
    x, _, _ = registry.get("ipd").dataset(registry.get("ipd").IPDTask(), 4, 1)
    net, _ = common.load_checkpoint(run["checkpoint"], registry.get("ipd").build)
    torch_out = common.run_torch(net, x)
    sim_out = common.run_loihi(load(run["hdf5"]), x.numpy())
    np.testing.assert_array_equal(sim_out, torch_out)


def test_unknown_names_are_refused():
    from pipeline.errors import SnnpipeError

    with pytest.raises(SnnpipeError):
        registry.get("mnist")
    with pytest.raises(SnnpipeError):
        registry.train("ipd", "/nonexistent", precision="double")
