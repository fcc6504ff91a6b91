"""The ``xylo`` precision equals the Xylo integer simulator (snnpipe.hwmap.intsim.xylo, itself checked
against xylosim) on a hidden layer with two synaptic currents and an output layer."""
import numpy as np
import pytest
import torch

from snnpipe.models.block import cuba as blk
from snnpipe.models.block.multi import MultiDense
from snnpipe.models.populations.cuba import Cuba


def test_xylo_impulse_response_by_hand():
    # I = 3072 -> leak 3072 >> 1 -> 1536; V = 1536 >= 1024: one spike, V = 512;
    # I = 768, V = 512 - (512 >> 2) + 768 = 1152: spike, V = 128; I = 384, V = 128 - 32 + 384
    n = Cuba(current_decay=0.5, voltage_decay=0.25, threshold=1.0, spike="multi",
             precision="xylo")
    x = torch.zeros(1, 1, 4)
    x[..., 0] = 3.0
    s, rec = n(x, record=True)
    assert (rec["u"][0, 0, 0] * 1024).tolist() == [1536, 768, 384, 192]
    assert (rec["v"][0, 0] * 1024).tolist() == [1536, 1152, 480, 552]
    assert s[0, 0].tolist() == [1, 1, 0, 0]


def test_xylo_multi_spikes_are_capped_and_use_greater_or_equal():
    # current decay 1/2 (dash 1) halves the input before it reaches V; voltage decay 1 (dash 0)
    # clears V every step, so V = x / 2
    n = Cuba(current_decay=0.5, voltage_decay=1.0, threshold=0.5, spike="multi", precision="xylo")
    x = torch.tensor([[[1.0, 2.0, 40.0]]])
    assert n(x)[0, 0].tolist() == [1, 2, 31]
    n.spike = "binary"
    assert n(x)[0, 0].tolist() == [1, 1, 1]


@pytest.mark.parametrize("seed", [0, 1])
def test_xylo_blocks_equal_the_integer_simulator(seed):
    from snnpipe.hwmap.intsim.xylo import simulate
    from snnpipe.hwmap.mappers.xylo_config import XyloConfig

    torch.manual_seed(seed)
    n_in, n_hid, n_out = 5, 7, 3
    hid = MultiDense(dict(threshold=1.5, current_decay=[0.5, 0.0625], voltage_decay=0.25,
                          bias=0.0625, spike="multi", reset="subtract", precision="xylo"),
                     n_in, n_hid, weight_scale=4)
    out = blk.Dense(dict(threshold=1.0, current_decay=0.25, voltage_decay=0.125,
                         precision="xylo"), n_hid, n_out, weight_scale=3, delay_shift=False)
    x = torch.randint(0, 3, (2, n_in, 40), generator=torch.Generator().manual_seed(seed)).float()
    h, rh = hid(x, record=True)                 # hidden output shifted: one step per hop
    _, ro = out(h, record=True)

    def ints(w):
        return (w.detach() * 64).round().long().numpy()

    w_in = np.stack([ints(s.effective_weight()) for s in hid.synapses], -1).transpose(1, 0, 2)
    cfg = XyloConfig(weights_in=w_in, weights_out=ints(out.synapse.effective_weight()).T,
                     dash_syn=np.full(n_hid, 1), dash_syn_2=np.full(n_hid, 4),
                     dash_mem=np.full(n_hid, 2), threshold=np.full(n_hid, 1536),
                     bias=np.full(n_hid, 64), dash_syn_out=np.full(n_out, 2),
                     dash_mem_out=np.full(n_out, 3), threshold_out=np.full(n_out, 1024),
                     weight_shift_in=4, weight_shift_out=4)
    ref = simulate(cfg, x.long().numpy(), record=True)
    spikes = rh["spikes"].long().numpy()
    assert spikes.sum() > 0 and ref.spikes_out.sum() > 0
    assert np.array_equal(ref.spikes, spikes)
    assert np.array_equal(ref.spikes_out, ro["spikes"].long().numpy())
    for k, name in enumerate(("Isyn", "Isyn2")):
        assert np.array_equal(ref.states[name], (rh["u"][:, k] * 1024).round().long().numpy())
    v_post = (rh["v"] * 1024).round().long().numpy() - spikes * 1536
    assert np.array_equal(ref.states["Vmem"], v_post)


def test_xylo_gradients_reach_weights_and_time_constants():
    torch.manual_seed(0)
    d = blk.Dense(dict(threshold=0.5, current_decay=0.25, voltage_decay=0.125, spike="multi",
                       requires_grad=True, precision="xylo"), 6, 4, weight_scale=3)
    d(torch.randint(0, 3, (2, 6, 30)).float()).sum().backward()
    assert d.synapse.weight.grad.abs().sum() > 0
    assert d.neuron.current_decay.grad.abs().sum() > 0
    assert d.neuron.voltage_decay.grad.abs().sum() > 0
