"""The reference networks: shapes, records by layer name, options, and their exported graphs."""
import numpy as np
import pytest
import torch

from snnpipe.models import losses
from snnpipe.models.networks import SynNet, WaveSenseNet, chirp_bounds, chirp_net, ipd_net, oxford
from snnpipe.pipeline.ir.validate import validate


def spikes(shape, rate=0.2, seed=0):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < rate).float()


def test_oxford_is_dense_200_256_200_and_exports_netx_style_weights():
    torch.manual_seed(0)
    net = oxford()
    out = net(spikes((1, 200, 30)))
    assert out.shape == (1, 200, 30)
    g = net.to_graph(input_shape=(200,))
    assert validate(g) == []
    assert [g.nodes[n]["shape"] for n in ("input", "fc1", "fc2")] == [(200,), (256,), (200,)]
    w = g.edges["input", "fc1", 0]["weight"]
    assert np.all(w * 64 == np.round(w * 64)) and w.min() >= -4 and w.max() <= 254 / 64
    losses.SpikeTime(2, filter_order=2)(out, spikes((1, 200, 30), 0.1, 1)).backward()
    assert net.blocks["fc1"].neuron.current_decay.grad is not None


def test_wavesense_graph_has_two_synapse_neurons_and_merges():
    torch.manual_seed(0)
    net = WaveSenseNet(dilations=[2, 32], n_classes=2, n_channels_in=16, n_channels_res=8,
                       n_channels_skip=8, n_hidden=8, tau_mem=0.002, base_tau_syn=0.002,
                       tau_lp=0.01, threshold=1.0, dt=1e-3)
    x = torch.poisson(torch.full((2, 16, 60), 0.3), generator=torch.Generator().manual_seed(1))
    out, rec = net(x, record=True)
    assert out.shape == (2, 2, 60)
    g = net.to_graph()
    assert validate(g) == []
    neurons = [n for n, d in g.nodes(data=True) if d["kind"] == "neuron"]
    assert set(rec) == set(neurons)
    dil = g.nodes["wave1/dilate"]
    assert dil["n_syn"] == 2
    np.testing.assert_allclose(dil["current_decay"], 1 - np.exp(-1 / np.array([2.0, 64.0])),
                               rtol=1e-6)
    assert sorted(d["syn"] for _, _, d in g.in_edges("wave1/dilate", data=True)) == [0, 1]
    assert sorted(u for u, _ in g.in_edges("wave0/sum")) == ["spk_in", "wave0/res"]
    assert sorted(u for u, _ in g.in_edges("skip_sum")) == ["wave0/skip", "wave1/skip"]
    assert all(d["op"] == "identity" for *_, d in g.in_edges("skip_sum", data=True))
    assert g.graph["outputs"] == ["lowpass"] and g.nodes["lowpass"]["model"] == "li"
    losses.LastStepCrossEntropy()(out, torch.tensor([0, 1])).backward()
    assert net.wave_blocks[1].dilate.extra[0].weight.grad is not None


def test_synnet_layers_time_constants_dropout_and_output_modes():
    torch.manual_seed(0)
    net = SynNet(n_channels=16, n_classes=1, size_hidden_layers=[24, 24, 24],
                 time_constants_per_layer=[2, 4, 8], p_dropout=0.1)
    assert net.lif_names == ["0", "1", "2", "out"]
    cd = net.blocks["1"].neuron.current_decay.detach().numpy()[0]
    assert cd[:5].tolist() == [0.5, 0.25, 0.125, 0.0625, 0.5]     # taus 2, 4, 8, 16 ms cycling
    assert net.blocks["0"].dropout is not None and net.blocks["out"].dropout is None
    assert not any(p.requires_grad for n, p in net.named_parameters() if "neuron" in n)
    x = spikes((2, 16, 40), 0.3)
    net.eval()
    s = net(x)
    net.output = "vmem"
    v, rec = net(x, record=True)
    assert s.shape == v.shape == (2, 1, 40) and torch.equal(v, rec["out"]["v"])
    g = net.to_graph(input_shape=(16,))
    assert validate(g) == []
    assert g.nodes["2"]["current_decay"].shape == (1, 24)


def test_synnet_trains_time_constants_and_thresholds_on_request():
    net = SynNet(n_channels=4, n_classes=1, size_hidden_layers=[6],
                 time_constants_per_layer=[2], train_time_constants=True, train_threshold=True,
                 output="vmem", quantize_time_constants=False)
    torch.nn.functional.mse_loss(net(spikes((1, 4, 30), 0.5)), torch.ones(1, 1, 30)).backward()
    n0 = net.blocks["0"].neuron
    for p in (n0.current_decay, n0.voltage_decay, n0.threshold):
        assert p.requires_grad and p.grad is not None and p.grad.abs().sum() > 0


def test_chirp_net_trains_every_lif_parameter_within_bounds():
    torch.manual_seed(0)
    net = chirp_net(n_in=20, n_hidden=10)
    bounds = chirp_bounds()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x = spikes((1, 20, 50), 0.1)
    target = torch.sin(torch.linspace(0, 6, 50)).reshape(1, 1, 50)
    for _ in range(3):
        opt.zero_grad()
        loss = losses.MembraneMSE()(net(x), target)
        loss.backward()
        opt.step()
        bounds.clamp_(net)
    lif = net.blocks["lif"].neuron
    assert {n for n, p in lif.named_parameters() if p.requires_grad} == {
        "current_decay", "voltage_decay", "threshold", "bias"}
    assert not bounds.violations(net)
    g = net.to_graph(input_shape=(20,))
    assert validate(g) == [] and g.nodes["readout"]["model"] == "li"


@pytest.mark.parametrize("spiking", [True, False])
def test_ipd_classifier_and_its_membrane_only_baseline(spiking):
    torch.manual_seed(0)
    net = ipd_net(n_in=20, n_hidden=6, spiking=spiking)
    v = net(spikes((3, 20, 40), 0.2))
    assert v.shape == (3, 12, 40)
    label = torch.tensor([0, 5, 11])
    losses.MaxCrossEntropy()(v, label).backward()
    assert losses.predict_max(v).shape == (3,)
    g = net.to_graph(input_shape=(20,))
    assert validate(g) == [] and g.graph["outputs"] == ["readout"]
    assert ("hidden" in g) == spiking
