"""Recipe data generators: seeded, the shapes and statistics the tutorials define."""
import numpy as np
import pytest
import torch

from snnpipe.models.recipes.chirp import ChirpTask, correlation
from snnpipe.models.recipes.ipd import IPDTask, mean_abs_error_deg
from snnpipe.models.recipes.synnet import ToneKeywords
from snnpipe.models.recipes.wavesense import TemporalXOR


def test_temporal_xor_matches_the_tutorials_definition():
    task = TemporalXOR()
    x, y = task.sample(8, seed=1)
    assert x.shape == (8, 16, 100) and y.tolist() == [0, 1, 1, 0] * 2
    a, b = task.stimuli()
    assert a[:8].sum() == 0 and b[8:].sum() == 0 and a.max() <= 15
    assert torch.equal(x[1, :, :20], torch.from_numpy(a).float())       # key 1 = (A, B)
    onset = [int(np.nonzero(xi[:, 20:].sum(0))[0][0]) + 20 for xi in x.numpy()]
    assert all(30 <= t <= 70 for t in onset), onset                      # 20 + 30 - [-20, 20)


def test_temporal_xor_is_seeded_and_shares_stimuli_across_splits():
    task = TemporalXOR()
    assert torch.equal(task.sample(4, 3)[0], task.sample(4, 3)[0])
    assert not torch.equal(task.sample(16, 3)[0], task.sample(16, 4)[0])
    assert np.array_equal(task.stimuli(), TemporalXOR().stimuli())


def test_ipd_stimulus_has_the_tutorials_rates_and_classes():
    task = IPDTask()
    x, label, ipd = task.sample(64, seed=0)
    assert x.shape == (64, 200, 100)
    # mean rate of (0.5(1 + sin))^2 is 3/8 of rate_max: 600 Hz * 1 ms * 0.375 = 0.225 per step
    assert abs(x.mean().item() - 0.225) < 0.01
    assert label.min() >= 0 and label.max() <= 11
    assert torch.equal(label, torch.from_numpy(task.discretise(ipd.numpy())))
    assert mean_abs_error_deg(task, label.numpy(), ipd.numpy()) < 7.5 + 1e-9   # half a class


def test_chirp_target_and_frozen_noise():
    task = ChirpTask()
    tgt, noise = task.target(), task.noise(seed=0)
    assert tgt.shape == (1, 1, 1000) and noise.shape == (1, 200, 1000)
    assert torch.equal(noise, task.noise(seed=0))
    assert abs(noise.mean().item() - 0.01) < 0.002
    assert correlation(tgt, tgt) == pytest.approx(1.0, abs=1e-12)    # corrcoef rounds by BLAS
    assert correlation(tgt, -tgt) == pytest.approx(-1.0, abs=1e-12)


def test_tone_keywords_are_told_apart_by_tone_order_only():
    task = ToneKeywords()
    x, y = task.sample(8, seed=0)
    assert x.shape == (8, 16, 200) and y.tolist() == [0, 1, 2, 3] * 2
    assert x.max() <= 15 and x.min() >= 0
    # classes 0 (L, M, H) and 1 (H, M, L) have the same total energy per channel band
    # within noise, but opposite temporal order: the early and late halves swap.
    early0, late0 = x[0, :, :70].sum(-1), x[0, :, -90:].sum(-1)
    assert torch.argmax(early0) < torch.argmax(late0)
    early1, late1 = x[1, :, :70].sum(-1), x[1, :, -90:].sum(-1)
    assert torch.argmax(early1) > torch.argmax(late1)


@pytest.mark.parametrize("name", ["ipd", "wavesense", "synnet"])
def test_test_inputs_are_the_held_out_samples_evaluate_draws(name):
    from snnpipe.models.recipes import registry

    few = registry.test_inputs(name, 2, seed=3)
    assert few.dim() == 3 and len(few) == 2 and few.sum() > 0
    assert torch.equal(few, registry.test_inputs(name, 2, seed=3))
    assert not torch.equal(few, registry.test_inputs(name, 2, seed=4))
    assert registry.test_inputs("chirp", 1) is None
