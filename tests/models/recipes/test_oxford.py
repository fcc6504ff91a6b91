"""The Oxford recipe trains on lava-dl's own data: the shipped ``input.bs1`` / ``output.bs1``
give the tutorial's rasters (slayer.io is the oracle), and a few epochs on them lower the
SpikeTime loss."""
from importlib import resources

import numpy as np
import pytest
import torch

from snnpipe.models.recipes import oxford
from snnpipe.pipeline.formats.events import read_bs1


def test_the_shipped_files_hold_the_tutorials_events_and_their_licence():
    x_ev, y_ev = oxford.read_events("input"), oxford.read_events("target")
    assert (len(x_ev), len(y_ev)) == (1889, 10361)
    for ev in (x_ev, y_ev):
        assert ev.y is None and set(np.unique(ev.c)) == {1}        # ON events only
        assert ev.x.min() == 0 and ev.x.max() == 199 and ev.t.max() < 1900
    notice = oxford.data_file("NOTICE").read_text()
    assert "Copyright (c) 2021, Intel Corporation" in notice and "BSD 3-Clause" in notice


def test_load_gives_one_spike_per_bin_over_200_neurons():
    x, target = oxford.load()
    assert x.shape == target.shape == (1, 200, 2000) and x.dtype == torch.float32
    assert set(torch.unique(x).tolist()) == set(torch.unique(target).tolist()) == {0.0, 1.0}
    # 1889 input events in 1881 bins: 8 pairs fall into one 1 ms bin (slayer's OR binning)
    assert (int(x.sum()), int(target.sum())) == (1881, 10361)
    short_x, short_target = oxford.load(100)
    assert short_x.shape == (1, 200, 100)
    assert torch.equal(short_x, x[..., :100]) and torch.equal(short_target, target[..., :100])


@pytest.mark.lava
def test_load_equals_the_tutorials_dataset():
    """The tutorial's ``OxfordDataset``: ``read_1d_spikes``, target times ``astype(int)``,
    ``fill_tensor(torch.zeros(1, 1, 200, 2000))``."""
    from lava.lib.dl.slayer import io

    with_slayer = []
    for name, truncate in (("input.bs1", False), ("output.bs1", True)):
        ev = io.read_1d_spikes(str(oxford.data_file(name)))
        if truncate:
            ev.t = ev.t.astype(int)
        with_slayer.append(ev.fill_tensor(torch.zeros(1, 1, 200, 2000)).squeeze())
    x, target = oxford.load()
    assert torch.equal(x[0], with_slayer[0]) and torch.equal(target[0], with_slayer[1])


def test_the_recipe_reads_through_the_event_format_module():
    """One reader: the recipe's events are :func:`read_bs1`'s."""
    with resources.as_file(oxford.data_file("output.bs1")) as path:
        ev = read_bs1(path)
    assert np.array_equal(ev.t, oxford.read_events("target").t)


def test_a_few_epochs_on_the_real_data_lower_the_loss():
    torch.manual_seed(0)
    config = dict(oxford.DEFAULTS, precision="loihi")
    x, target = oxford.load(config["steps"])
    net = oxford.build(config)
    stats = oxford.fit(net, config, x, target, epochs=4, progress=False)
    losses = [e["loss"] for e in stats.history["train"]]
    assert losses[0] > 1e5 and losses[-1] < 0.5 * losses[0], losses


def test_the_decays_step_at_slayers_rate():
    """SLAYER's decays are parameters in 1/4096 units: Adam moves them lr/4096 per step."""
    config = dict(oxford.DEFAULTS, precision="loihi")
    groups = oxford.optimizer(oxford.build(config), config).param_groups
    assert [g["lr"] for g in groups] == [config["lr"], config["lr"] / 4096]
    assert [len(g["params"]) for g in groups] == [2, 4]         # 2 weights; 2 decays x 2 blocks


def test_the_recipe_trains_with_its_own_surrogate_width():
    """SLAYER's surrogate with the recipe's width (TAU_GRAD, narrower than lava-dl 0.6.0's
    default 1, with which this task stalls near 48k); a config may set another."""
    config = dict(oxford.DEFAULTS, precision="loihi")
    for tau in (config["tau_grad"], 1.0):
        net = oxford.build(dict(config, tau_grad=tau, scale_grad=2.0))
        widths = {(b.neuron.surrogate.tau_grad, b.neuron.surrogate.scale_grad)
                  for b in net.blocks.values()}
        assert widths == {(tau, 2.0)}
    assert config["tau_grad"] == oxford.TAU_GRAD < 1
