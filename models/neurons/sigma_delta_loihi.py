"""The ``loihi`` precision of the sigma-delta neuron (lava-dl's SDNN, ``slayer.neuron.
sigma_delta``): slayer's forward is Loihi integer arithmetic in float32, which this module
computes in int64 with the rule of :func:`snnpipe.hwmap.targets.loihi.sigma_delta_step`.

Units: inputs, biases, thresholds and messages are float units. States are integers in
``2^-(6 + spike_exp + state_exp)`` (2^-18 for netx's formats): the input of a step enters as
``round(x * 2^18)`` (exact for slayer's inputs: 8-bit weights in 1/32 times messages in
1/4096), the threshold as ``trunc(64 th) << 12`` (slayer's ``int(th * 64)``), the bias as
``round(64 b) << 12``; messages leave as ``(s >> state_exp) / 2^(6 + spike_exp)`` (slayer's
floor to 1/4096). Values only: no gradients.
"""
from __future__ import annotations

import torch

from snnpipe.hwmap.targets import loihi


def sigma_delta_loihi(x: torch.Tensor, threshold: float, bias=0.0, *, stage: str = "sigma_delta",
                      relu: bool = True, spike_exp: int = loihi.SD_SPIKE_EXP,
                      state_exp: int = loihi.SD_STATE_EXP) -> torch.Tensor:
    """Messages (B, N, T) of a sigma-delta population for inputs ``x`` (B, N, T), float units.

    ``stage``: ``sigma_delta`` (slayer's neuron: sigma, activation, delta), ``delta`` (slayer's
    ``neuron.delta``: the Input block's encoder) or ``sigma`` (the Output block's
    ``neuron.sigma``: the running sum). ``bias``: a float or (N,) tensor.
    """
    exp = spike_exp + state_exp
    scale = float(1 << (loihi.ACTIVATION_SHIFT + exp))
    a = torch.round(x.double() * scale).long()
    w_unit = float(loihi.WEIGHT_UNIT)
    theta = int(threshold * w_unit) << exp
    b = torch.round(torch.as_tensor(bias, dtype=torch.float64) * w_unit).long() << exp
    b = b.reshape(-1, 1) if b.ndim else b
    sigma, act, residue = (torch.zeros_like(a[..., 0]) for _ in range(3))
    theta_t = torch.full_like(a[..., 0], theta)
    out = torch.empty_like(a)
    for t in range(a.shape[-1]):
        # the delta stage's input is in state units already here: no further shift
        msg, sigma, act, residue = loihi.sigma_delta_step(
            a[..., t], sigma, act, residue, b.reshape(-1) if b.ndim else b, theta_t,
            stage=stage, relu=relu, in_shift=0, state_exp=state_exp)
        out[..., t] = msg
    unit = scale if stage == "sigma" else float(1 << (loihi.ACTIVATION_SHIFT + spike_exp))
    return out.to(x.dtype) / unit
