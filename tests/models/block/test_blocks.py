"""Blocks and networks: records by layer name, graph export, trainability, bounds, dropout."""
import numpy as np
import pytest
import torch

from snnpipe.models.block import cuba as blk
from snnpipe.models.bounds import Bounds
from snnpipe.models.dropout import TimeStepDropout
from snnpipe.models.network import Network
from snnpipe.pipeline.ir import graph
from snnpipe.pipeline.ir.validate import validate

NP = dict(threshold=0.6, current_decay=0.25, voltage_decay=0.05)


def spikes(shape, rate=0.3, seed=0):
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < rate).float()


def small_net(**extra):
    torch.manual_seed(0)
    p = dict(NP, **extra)
    return Network([("input", blk.Input()),
                    ("hidden", blk.Dense(p, 6, 8, weight_scale=2)),
                    ("rec", blk.Recurrent(p, 8, 5, weight_scale=2)),
                    ("out", blk.Readout(dict(current_decay=0.5, voltage_decay=0.1,
                                             **{k: v for k, v in extra.items() if k != "train_threshold"}),
                                        5, 3, weight_scale=2))], name="small")


def test_record_returns_each_layers_spikes_and_states_by_name():
    net = small_net()
    out, rec = net(spikes((2, 6, 30)), record=True)
    assert out.shape == (2, 3, 30)
    assert list(rec) == ["input", "hidden", "rec", "out"]
    assert rec["hidden"]["spikes"].shape == (2, 8, 30)
    assert rec["hidden"]["u"].shape == (2, 1, 8, 30) and rec["rec"]["v"].shape == (2, 5, 30)
    assert torch.equal(rec["out"]["v"], out)                     # the readout emits v
    assert torch.equal(net(spikes((2, 6, 30))), out)


def test_delay_shift_delays_the_output_by_one_step():
    torch.manual_seed(1)
    a = blk.Dense(NP, 6, 4, weight_scale=3)
    b = blk.Dense(NP, 6, 4, weight_scale=3, delay_shift=False)
    b.load_state_dict(a.state_dict())
    x = spikes((1, 6, 20))
    ya, yb = a(x), b(x)
    assert ya[..., 0].abs().sum() == 0 and torch.equal(ya[..., 1:], yb[..., :-1])


def test_axonal_delay_shifts_each_channel():
    d = blk.Dense(NP, 6, 4, weight_scale=3, delay=True, delay_shift=False)
    x = spikes((1, 6, 20))
    y0 = d(x)
    d.delay.data = torch.tensor([0.0, 1.0, 2.0, 3.7])
    y = d(x)
    for c, k in enumerate([0, 1, 2, 3]):
        assert torch.equal(y[0, c, k:], y0[0, c, :20 - k])


def test_dense_network_exports_its_graph():
    net = small_net()
    net(spikes((1, 6, 10)))
    g = net.to_graph()
    assert validate(g) == []
    assert g.graph["inputs"] == ["input"] and g.graph["outputs"] == ["out"]
    assert graph.topological_order(g) == ["input", "hidden", "rec", "out"]
    h = g.nodes["hidden"]
    assert h["model"] == "cuba" and h["shape"] == (8,) and h["threshold"] == 0.59375  # trunc
    assert h["current_decay"].tolist() == [0.25]
    assert g.nodes["out"]["model"] == "li" and "threshold" not in g.nodes["out"]
    (_, _, w), = [(u, v, d["weight"]) for u, v, d in g.edges(data=True) if v == "hidden"]
    assert np.array_equal(w, net.blocks["hidden"].synapse.effective_weight().detach().double())
    assert np.all(w * 64 % 2 == 0)                                   # even 1/64 integers
    rec = [d for u, v, d in g.edges(data=True) if u == v == "rec"]
    assert len(rec) == 1 and rec[0]["recurrent"]


def test_conv_network_exports_shapes_and_flatten():
    torch.manual_seed(2)
    net = Network([("conv", blk.Conv(NP, 2, 3, 3, stride=2, padding=1, weight_scale=3)),
                   ("flat", blk.Flatten()),
                   ("fc", blk.Dense(NP, 3 * 4 * 4, 5, weight_scale=3))])
    out = net(spikes((1, 2, 8, 8, 12)))
    assert out.shape == (1, 5, 12)
    g = net.to_graph(input_shape=(2, 8, 8))
    assert validate(g) == []
    assert g.nodes["conv"]["shape"] == (3, 4, 4)
    assert [(u, v, d["op"]) for u, v, d in g.edges(data=True)] == [
        ("input", "conv", "conv"), ("conv", "fc", "dense")]


def test_gradients_reach_every_trainable_parameter():
    net = small_net(requires_grad=True, train_threshold=True, train_bias=True, bias=0.01)
    out = net(spikes((2, 6, 40), 0.5))
    out.pow(2).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_bounds_hold_after_an_optimizer_step():
    net = small_net(requires_grad=True, train_threshold=True)
    bounds = Bounds()
    opt = torch.optim.SGD(net.parameters(), lr=1e4)
    net(spikes((2, 6, 40), 0.5)).sum().backward()
    opt.step()
    assert bounds.violations(net), "the huge step should leave the bounds"
    assert bounds.penalty(net) > 0
    bounds.clamp_(net)
    assert not bounds.violations(net) and bounds.penalty(net) == 0
    for name, p in net.named_parameters():
        if name.endswith("decay"):
            assert 0 <= p.min() and p.max() <= 1


def test_custom_bounds_by_pattern():
    net = small_net(train_threshold=True)
    Bounds({"*hidden.neuron.threshold": (0.7, 2.0)}).clamp_(net)
    assert net.blocks["hidden"].neuron.threshold.item() == pytest.approx(0.7)
    assert net.blocks["rec"].neuron.threshold.item() == pytest.approx(0.6)


def test_time_step_dropout_drops_per_step_and_neuron_in_training_only():
    drop = TimeStepDropout(0.3, generator=torch.Generator().manual_seed(0))
    x = torch.ones(4, 50, 200)
    y = drop(x)
    assert set(y.unique().tolist()) == {0.0, 1.0}
    assert y.mean().item() == pytest.approx(0.7, abs=0.01)
    assert not torch.equal(y[:, :, 0], y[:, :, 1]) and not torch.equal(y[:, 0], y[:, 1])
    drop.eval()
    assert torch.equal(drop(x), x)


def test_float_precision_blocks_do_not_quantise():
    torch.manual_seed(3)
    d = blk.Dense(dict(NP, precision="float"), 6, 4)
    assert d.synapse.pre_hook_fx is None
    assert d(spikes((1, 6, 10))).shape == (1, 4, 10)


def test_weight_norm_keeps_the_forward_and_exports_the_effective_weight():
    torch.manual_seed(4)
    d = blk.Dense(NP, 6, 4, weight_scale=3, weight_norm=True)
    names = {n for n, _ in d.named_parameters()}
    assert {"synapse.parametrizations.weight.original0",
            "synapse.parametrizations.weight.original1"} <= names
    net = Network([("d", d)])
    out = net(spikes((1, 6, 10)))
    out.sum().backward()
    g = net.to_graph(input_shape=(6,))
    w = g.edges["input", "d", 0]["weight"]
    assert np.array_equal(w, d.synapse.effective_weight().detach().double().numpy())


def test_graph_export_without_an_input_shape_says_what_is_missing():
    from snnpipe.pipeline.ir.errors import GraphError
    net = Network([("d", blk.Dense(NP, 6, 4))])
    with pytest.raises(GraphError, match="input_shape"):
        net.to_graph()


def test_input_block_with_a_neuron_exports_input_identity_and_population():
    inp = blk.Input(dict(NP), weight=1.5)
    net = Network([("in", inp), ("d", blk.Dense(NP, 6, 4))])
    net(spikes((1, 6, 10)))
    g = net.to_graph()
    assert validate(g) == [] and g.graph["inputs"] == ["in/in"]
    assert float(g.edges["in/in", "in", 0]["weight"]) == 1.5
    from snnpipe.pipeline.ir.errors import GraphError
    with pytest.raises(GraphError, match="bias"):
        Network([("in", blk.Input(dict(NP), bias=0.1))]).to_graph(input_shape=(6,))
