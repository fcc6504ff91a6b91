"""The Loihi target's sigma-delta rule (hwmap/targets/loihi.py ``sigma_delta_step``): short
traces by hand, on numpy and torch integers, and the design rules of rule_sigma_delta."""
import numpy as np
import pytest
import torch

from snnpipe.hwmap.targets.loihi import sigma_delta_step
from snnpipe.hwmap.targets.loihi_rules import check, rule_sigma_delta
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError, QuantizationError


def trace(xs, stage, relu=True, theta=8, bias=0, in_shift=0, state_exp=2, lib=np):
    """Messages and states of one neuron over the inputs ``xs``."""
    arr = (lambda v: lib.tensor([v], dtype=lib.int64)) if lib is torch else \
        (lambda v: np.array([v], np.int64))
    sigma, act, res = arr(0), arr(0), arr(0)
    out = []
    for a in xs:
        msg, sigma, act, res = sigma_delta_step(arr(a), sigma, act, res, arr(bias), arr(theta),
                                                stage=stage, relu=relu, in_shift=in_shift,
                                                state_exp=state_exp)
        out.append((int(msg[0]), int(sigma[0]), int(act[0]), int(res[0])))
    return out


@pytest.mark.parametrize("lib", [np, torch], ids=["numpy", "torch"])
def test_sigma_delta_sums_rectifies_and_sends_changes_of_at_least_theta(lib):
    # (message, sigma, act, residue) after each input
    assert trace([20, 0, -30, 5], "sigma_delta", lib=lib) == [
        (5, 20, 20, 0),        # d = 20 >= 8: sent, 20 >> 2
        (0, 20, 20, 0),        # no change
        (-5, -10, 0, 0),       # relu(-10) = 0: d = -20, -20 >> 2
        (0, -5, 0, 0)]         # still below zero
    assert trace([5, 2, 2], "sigma_delta", lib=lib) == [
        (0, 5, 5, 5),          # d = 5 < 8: kept as residue (act moves on)
        (0, 7, 7, 7),          # d = 7 - 5 + 5
        (2, 9, 9, 0)]          # d = 9 - 7 + 7 = 9 sent; 9 >> 2 = 2, the low bits are lost


@pytest.mark.parametrize("lib", [np, torch], ids=["numpy", "torch"])
def test_bias_activation_and_floor_of_negative_messages(lib):
    assert trace([0, 0, -9], "sigma_delta", bias=12, lib=lib) == [
        (3, 0, 12, 0), (0, 0, 12, 0), (-3, -9, 3, 0)]          # 12 >> 2; -9 >> 2 = -3 (floor)
    assert trace([0, -9], "sigma_delta", relu=False, bias=3, theta=0, lib=lib) == [
        (0, 0, 3, 0), (-3, -9, -6, 0)]                          # theta 0: every change goes


@pytest.mark.parametrize("lib", [np, torch], ids=["numpy", "torch"])
def test_delta_encodes_its_input_each_step_and_sigma_emits_its_sum(lib):
    assert trace([1, 1, 3, 0], "delta", in_shift=4, lib=lib) == [   # a << 4, no sum, no relu
        (4, 0, 16, 0), (0, 0, 16, 0), (8, 0, 48, 0), (-12, 0, 0, 0)]
    assert trace([5, -7, 1], "sigma", relu=False, lib=lib) == [     # no shift: the sum itself
        (5, 5, 5, 0), (-2, -2, -2, 0), (-1, -1, -1, 0)]


def _net(stage_in="delta", op_in="identity"):
    g = G.new_graph()
    G.add_input(g, "x", (3,))
    G.add_sigma_delta(g, "d", (3,), stage=stage_in,
                      activation="relu" if stage_in == "sigma_delta" else "none")
    (G.add_identity if op_in == "identity" else
     lambda g, s, t: G.add_dense(g, s, t, np.ones((3, 3))))(g, "x", "d")
    G.add_sigma_delta(g, "h", (4,), threshold=0.1)
    G.add_dense(g, "d", "h", np.ones((4, 3)) / 4)
    G.add_sigma_delta(g, "o", (2,), stage="sigma", activation="none")
    G.add_dense(g, "h", "o", np.ones((2, 4)) / 4)
    G.set_outputs(g, ["o"])
    return g


def test_the_rules_take_netx_chains():
    check(_net())


@pytest.mark.parametrize("edit,err,where,field", [
    (lambda g: g.nodes["o"].update(bias=np.array(0.5)), GraphError, "o", "bias"),
    (lambda g: g.nodes["d"].update(activation="relu"), GraphError, "d", "activation"),
    (lambda g: g.nodes["h"].update(spike_exp=9), QuantizationError, "h", "spike_exp"),
    (lambda g: g.nodes["h"].update(spike_exp=5), GraphError, "d -> h", "spike_exp"),
    (lambda g: g.add_edge("o", "o", op="dense", weight=np.ones((2, 2)), syn=0, delay=0,
                          recurrent=True), GraphError, "o -> o", "model"),
], ids=["sigma_bias", "delta_relu", "exp_bits", "units", "from_sigma"])
def test_what_lava_cannot_hold_is_refused_by_node_and_field(edit, err, where, field):
    g = _net()
    edit(g)
    with pytest.raises(err) as e:
        rule_sigma_delta(g, None)
    assert (e.value.where, e.value.field) == (where, field)


def test_a_sigma_delta_layer_fed_by_the_raw_input_or_spikes_is_refused():
    with pytest.raises(GraphError) as e:
        rule_sigma_delta(_net("sigma_delta", "dense"), None)
    assert (e.value.where, e.value.field) == ("x -> d", "model")
    g = _net()
    G.add_neuron(g, "lif", (2,))
    G.add_dense(g, "h", "lif", np.ones((2, 4)))
    with pytest.raises(GraphError) as e:
        rule_sigma_delta(g, None)
    assert (e.value.where, e.value.field) == ("h -> lif", "model")
