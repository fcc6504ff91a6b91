"""Train = deploy: a network trained in a target's integer precision emits, on that target's
simulators (and on Lava for Loihi), what the trained model emits: value for value on held-out
samples."""
import numpy as np
import pytest

import snnpipe.processes.compile  # noqa: F401  (Lava sets the multiprocessing start method on import)

from snnpipe.models.recipes import common, registry
from snnpipe.pipeline.formats.hdf5 import load
from snnpipe.pipeline.ir.validate import validate


def test_ipd_in_loihi_precision_deploys_exactly_on_the_loihi_simulator_and_lava(tmp_path):
    run = registry.train("ipd", tmp_path, epochs=1, precision="loihi", progress=False,
                         n_train=32, n_test=8, batch_size=32)
    x, _, _ = registry.get("ipd").dataset(registry.get("ipd").IPDTask(), 4, 1)
    net, _ = common.load_checkpoint(run["checkpoint"], registry.get("ipd").build)
    torch_out = common.run_torch(net, x)
    sim_out = common.run_deployed(load(run["hdf5"]), x.numpy(), "intsim-loihi")
    np.testing.assert_array_equal(sim_out, torch_out)
    lava_out = common.run_deployed(load(run["hdf5"]), x[:2].numpy(), "lava-fixed")
    np.testing.assert_array_equal(lava_out, torch_out[:2])


def test_wavesense_in_loihi_precision_runs_bit_exactly_on_lava(tmp_path):
    run = registry.train("wavesense", tmp_path, epochs=1, precision="loihi", progress=False,
                         n_train=8, n_test=4, batch_size=8)
    x, _ = registry.get("wavesense").TemporalXOR().sample(2, 5)
    net, _ = common.load_checkpoint(run["checkpoint"], registry.get("wavesense").build)
    np.testing.assert_array_equal(common.run_deployed(load(run["hdf5"]), x.numpy(), "lava-fixed"),
                                  common.run_torch(net, x))


@pytest.mark.parametrize("name,train", [
    ("ipd", dict(n_train=32, n_test=16, batch_size=32, n_hidden=30)),   # a widened Xylo
    ("wavesense", dict(n_train=8, n_test=8, batch_size=8)),
    ("synnet", dict(n_train=16, n_test=16, batch_size=16)),
])
def test_a_network_trained_in_the_xylo_precision_is_what_the_xylo_chip_computes(tmp_path, name,
                                                                                 train):
    """Train = deploy: the trained model (fused kernels, xylo precision), the Xylo-style
    simulator and xylosim emit the same outputs, value for value, on the held-out set."""
    from snnpipe.models.recipes.evaluation import evaluate

    registry.train(name, tmp_path, epochs=1, precision="xylo", progress=False, **train)
    assert validate(load(tmp_path / f"{name}.h5")) == []
    scores = evaluate(name, tmp_path, ("torch", "intsim/xylo", "xylosim"), check=4)
    for key in ("intsim/xylo", "xylosim"):
        paired = scores[key]["paired"]
        assert paired["differing_outputs"] == 0 and paired.get("changed", 0) == 0, (key, paired)
    assert scores["xylosim"]["checked"]["equal"] == 4
