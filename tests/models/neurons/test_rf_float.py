"""The float precision of the resonate-and-fire neurons (models/neurons/rf_float.py), by hand:
a quarter-turn resonator without decay (period 4) rotates its state by 90 degrees a step."""
import torch

from snnpipe.models.neurons.rf_float import RESET_GAP, rf_float, rf_float_params


def test_a_quarter_turn_resonator_rotates_and_fires_on_the_upward_crossing():
    xr = torch.tensor([[[0.0, 0.0, 0.0, 0.0]]])
    xi = torch.tensor([[[-1.0, 0.25, 0.0, 0.0]]])
    s, re, im = rf_float(xr, xi, rf_float_params(0.5, 4.0, 0.0))
    # z: -i, then i * -i + 0.25 i = 1 + 0.25 i, then -0.25 + i, then -1 - 0.25 i
    assert torch.allclose(re, torch.tensor([[[0.0, 1.0, -0.25, -1.0]]], dtype=torch.float64),
                          atol=1e-12)
    assert torch.allclose(im, torch.tensor([[[-1.0, 0.25, 1.0, -0.25]]], dtype=torch.float64),
                          atol=1e-12)
    assert s.tolist() == [[[0.0, 1.0, 0.0, 0.0]]]    # Re 1 >= 0.5 as Im goes -1 -> 0.25


def test_izhikevich_resets_just_below_the_threshold():
    xi = torch.tensor([[[0.75, 0.0]]])
    s, re, im = rf_float(torch.zeros_like(xi), xi, rf_float_params(0.5, 4.0, 0.5, "izhikevich"))
    assert s.tolist() == [[[1.0, 0.0]]]
    assert im[0, 0, 0].item() == 0.5 - RESET_GAP and re[0, 0, 0].item() == 0.0
    # then (1 - 0.5) i z: re = -0.5 (0.5 - 1e-5), im = 0
    assert abs(re[0, 0, 1].item() + 0.5 * (0.5 - RESET_GAP)) < 1e-12
