"""The sigma-delta neuron (lava-dl's SDNN; Lava's SigmaDelta, Delta and Sigma) one step at a
time, in the ``float`` and ``loihi`` precisions, for the graph runner
(:mod:`snnpipe.models.from_graph`). The ``loihi`` step is the integer rule of
:func:`snnpipe.hwmap.targets.loihi.sigma_delta_step`; :func:`sigma_delta_loihi` in
:mod:`snnpipe.models.neurons.sigma_delta_loihi` runs the same rule over a sequence.

Per step, with ``z`` the weighted input (float units, (B, N)) and the stage of
:func:`snnpipe.pipeline.ir.graph.add_sigma_delta`::

    x = sigma = sigma + z   (sigma_delta, sigma)        x = z   (delta)
    act' = f(x + bias)      (f: relu or identity)
    sigma:  message = act'
    else:   d = act' - act + residue;  s = d where |d| >= threshold else 0;  residue = d - s
            message = s

``float`` computes this in floating point; ``loihi`` in integers of ``2^-(6 + spike_exp +
state_exp)`` float units (the states) and sends ``s`` truncated to ``2^-(6 + spike_exp)`` (the
chip drops the low ``state_exp`` bits of a message). States are returned in float units (exact
in float64). Values only: no gradients.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from snnpipe.hwmap.targets import loihi


@dataclass(frozen=True)
class SigmaDeltaParams:
    """``threshold``, ``bias``: () or (N,) float units; ``stage``, ``relu``; the chip formats
    ``spike_exp`` and ``state_exp`` (used by the ``loihi`` precision)."""

    stage: str
    relu: bool
    threshold: torch.Tensor
    bias: torch.Tensor
    spike_exp: int = loihi.SD_SPIKE_EXP
    state_exp: int = loihi.SD_STATE_EXP

    @property
    def state_unit(self) -> float:
        """Integer states per float unit in the loihi precision: ``2^(6 + spike_exp +
        state_exp)``."""
        return float(1 << (loihi.ACTIVATION_SHIFT + self.spike_exp + self.state_exp))

    @property
    def message_unit(self) -> float:
        """Integer messages per float unit on the chip: the state unit for a Sigma (it sends
        its activation), ``2^(6 + spike_exp)`` otherwise."""
        return self.state_unit if self.stage == "sigma" else \
            float(1 << (loihi.ACTIVATION_SHIFT + self.spike_exp))


class SigmaDeltaState(NamedTuple):
    """``sigma``, ``act``, ``residue`` (B, N), float units."""

    sigma: torch.Tensor
    act: torch.Tensor
    residue: torch.Tensor


def sigma_delta_params(attrs: dict, dtype=torch.float64) -> SigmaDeltaParams:
    """:class:`SigmaDeltaParams` from a Graph node's attributes."""
    def t(x):
        a = np.asarray(x, np.float64)
        return torch.as_tensor(a.reshape(-1) if a.size > 1 else a.reshape(()), dtype=dtype)

    return SigmaDeltaParams(attrs["stage"], attrs["activation"] == "relu", t(attrs["threshold"]),
                            t(attrs.get("bias", 0.0)), int(attrs["spike_exp"]),
                            int(attrs["state_exp"]))


def initial_sigma_delta(batch: int, n: int, dtype=torch.float64) -> SigmaDeltaState:
    """The rest state: every state zero."""
    return SigmaDeltaState(*(torch.zeros(batch, n, dtype=dtype) for _ in range(3)))


def sigma_delta_step_float(z: torch.Tensor, state: SigmaDeltaState, p: SigmaDeltaParams):
    """One step in floating point: ``(message (B, N), state)``."""
    sigma = state.sigma if p.stage == "delta" else state.sigma + z
    x = z if p.stage == "delta" else sigma
    new = x + p.bias
    if p.relu:
        new = new.clamp(min=0)
    if p.stage == "sigma":
        return new, SigmaDeltaState(sigma, new, state.residue)
    d = new - state.act + state.residue
    s = torch.where(d.abs() >= p.threshold, d, torch.zeros_like(d))
    return s, SigmaDeltaState(sigma, new, d - s)


def sigma_delta_step_loihi(z: torch.Tensor, state: SigmaDeltaState, p: SigmaDeltaParams):
    """One step in the chip's integers (:func:`snnpipe.hwmap.targets.loihi.sigma_delta_step`):
    the input ``z`` enters as ``round(z * state_unit)`` (exact for weights on the 8-bit grid
    times messages of the chip), threshold ``trunc(64 th) << exp``, bias ``round(64 b) <<
    exp``. Returns ``(message (B, N), state)`` in float units."""
    exp = p.spike_exp + p.state_exp
    unit = p.state_unit
    ints = [torch.round(s * unit).long() for s in state]
    a = torch.round(z.double() * unit).long()
    theta = torch.trunc(p.threshold.double() * loihi.WEIGHT_UNIT).long() << exp
    bias = torch.round(p.bias.double() * loihi.WEIGHT_UNIT).long() << exp
    msg, sigma, act, residue = loihi.sigma_delta_step(
        a, *ints, bias, theta.expand_as(a), stage=p.stage, relu=p.relu, in_shift=0,
        state_exp=p.state_exp)
    out = SigmaDeltaState(*(s.to(z.dtype) / unit for s in (sigma, act, residue)))
    return msg.to(z.dtype) / p.message_unit, out


STEPS = {"float": sigma_delta_step_float, "loihi": sigma_delta_step_loihi}
