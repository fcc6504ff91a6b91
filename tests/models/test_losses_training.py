"""Losses (SLAYER's as oracles where it has them) and the training Assistant/LearningStats."""
import math

import pytest
import torch
import torch.nn.functional as F

from snnpipe.models import losses
from snnpipe.models.block import cuba as blk
from snnpipe.models.bounds import Bounds
from snnpipe.models.network import Network
from snnpipe.models.training import Assistant, LearningStats


def spikes(shape, rate=0.3, seed=0):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < rate).float()


def test_fir_is_a_causal_filter():
    x = torch.zeros(1, 1, 6)
    x[..., 1] = 1.0
    y = losses.fir(x, torch.tensor([1.0, 0.5, 0.25]))
    # computed by FFT: exact up to float32 rounding
    assert torch.allclose(y[0, 0], torch.tensor([0.0, 1.0, 0.5, 0.25, 0.0, 0.0]), rtol=0, atol=1e-6)


def test_second_order_kernel_is_the_first_convolved_with_itself():
    k1, k2 = losses.exp_kernel(2.0, 10, 1), losses.exp_kernel(2.0, 10, 2)
    assert k2[0] == pytest.approx(1.0) and k2[1] == pytest.approx(2 * math.exp(-0.5))
    assert k2[3] == pytest.approx(sum(k1[i] * k1[3 - i] for i in range(4)).item())


@pytest.mark.lava
def test_spike_losses_equal_slayers():
    from lava.lib.dl import slayer
    out, want = spikes((3, 5, 80), 0.2, 1), spikes((3, 5, 80), 0.2, 2)
    label = torch.tensor([0, 3, 4])
    torch.testing.assert_close(losses.SpikeTime(5, 100)(out, want),
                               slayer.loss.SpikeTime(5, 100)(out, want))
    torch.testing.assert_close(losses.SpikeTime(2, filter_order=2)(out, want),    # Oxford's
                               slayer.loss.SpikeTime(time_constant=2, filter_order=2)(out, want))
    torch.testing.assert_close(losses.SpikeRate(0.3, 0.02)(out, label),
                               slayer.loss.SpikeRate(0.3, 0.02)(out, label))
    torch.testing.assert_close(losses.SpikeMax()(out, label), slayer.loss.SpikeMax()(out, label),
                               rtol=1e-4, atol=1e-4)
    assert torch.equal(losses.predict_rate(out), slayer.classifier.Rate.predict(out))


def test_last_step_cross_entropy_and_membrane_mse():
    out = torch.randn(4, 3, 10)
    label = torch.tensor([0, 2, 1, 1])
    assert losses.LastStepCrossEntropy()(out, label) == F.cross_entropy(out[..., -1], label)
    assert torch.equal(losses.predict_last_step(out), out[..., -1].argmax(1))
    target = torch.randn(4, 3, 10)
    assert losses.MembraneMSE(start=4)(out, target) == F.mse_loss(out[..., 4:], target[..., 4:])


def test_learning_stats_tracks_best_and_writes_csv_and_png(tmp_path):
    stats = LearningStats()
    for epoch, (loss, correct) in enumerate([(4.0, 5), (2.0, 8), (3.0, 9)]):
        stats.add("train", loss * 10, 10, correct)
        stats.add("valid", loss * 20, 10)
        stats.update()
    assert stats.history["train"][1] == {"loss": 2.0, "accuracy": 0.8}
    assert stats.best["train"]["loss_epoch"] == 1 and stats.best["train"]["accuracy_epoch"] == 2
    assert math.isnan(stats.history["valid"][0]["accuracy"])
    assert not stats.is_best("valid") and "train loss 3" in str(stats)
    stats.save_csv(tmp_path / "stats.csv")
    lines = (tmp_path / "stats.csv").read_text().splitlines()
    assert lines[0] == "epoch,phase,loss,accuracy" and len(lines) == 7
    stats.plot(tmp_path / "stats.png")
    assert (tmp_path / "stats.png").read_bytes()[:4] == b"\x89PNG"


def test_assistant_learns_a_two_class_rate_task():
    torch.manual_seed(0)
    x = torch.cat([spikes((16, 8, 30), 0.05, 1), spikes((16, 8, 30), 0.05, 2)])
    x[:16, :4] = spikes((16, 4, 30), 0.6, 3)           # class 0: channels 0-3 busy
    x[16:, 4:] = spikes((16, 4, 30), 0.6, 4)           # class 1: channels 4-7 busy
    y = torch.cat([torch.zeros(16), torch.ones(16)]).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8,
                                         shuffle=True, generator=torch.Generator().manual_seed(0))
    p = dict(threshold=0.5, current_decay=0.5, voltage_decay=0.1, requires_grad=True)
    net = Network([("hidden", blk.Dense(p, 8, 10, weight_scale=2)),
                   ("out", blk.Dense(p, 10, 2, weight_scale=2))])
    stats = LearningStats()
    bounds = Bounds()
    assistant = Assistant(net, losses.SpikeRate(0.4, 0.03), torch.optim.Adam(net.parameters(), 0.02),
                          stats, classifier=losses.predict_rate, device="cpu", clip_grad=10.0,
                          bounds=bounds, progress=False)
    for epoch in range(8):
        assistant.train(loader, epoch)
        assistant.valid(loader, epoch)
        stats.update()
    assert stats.history["valid"][-1]["loss"] < stats.history["valid"][0]["loss"]
    assert stats.best["valid"]["accuracy"] >= 0.9
    assert not bounds.violations(net)
