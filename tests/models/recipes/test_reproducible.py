"""Reproducible runs: the same command and seed give the same figures."""
import json

from snnpipe.models.recipes import registry


def test_the_same_command_and_seed_give_the_same_figures(tmp_path):
    """Reproducible: training and the whole evaluation, twice with one seed, write identical
    metrics (threads, kernels and data generators are deterministic)."""
    docs = []
    for folder in (tmp_path / "a", tmp_path / "b"):
        registry.train("synnet", folder, epochs=1, seed=3, progress=False, n_train=16,
                       n_test=16, batch_size=16)
        docs.append(json.dumps({"trained": json.loads((folder / "metrics.json").read_text()),
                                "deployed": registry.deployment_metrics("synnet", folder, ["xylo"])},
                               sort_keys=True, default=str))
    assert docs[0] == docs[1]
