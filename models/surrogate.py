"""Surrogate gradients for the spike function ``s = H(v - theta)``.

Each surrogate is a frozen dataclass with ``derivative(x, theta) -> ds/dv`` where
``x = v - theta`` (float units, any shape) and ``theta`` the threshold (float units, broadcast to
``x``). :func:`spike` attaches one of them to an exactly computed spike tensor.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from snnpipe.pipeline.ir.errors import SnnpipeError

TAU_RHO_MULT = 100.0      # SLAYER's heuristic scales (lava.lib.dl.slayer.neuron.cuba)
SCALE_RHO_MULT = 0.1


@dataclass(frozen=True)
class SlayerExp:
    """SLAYER's exponential surrogate.

    ``ds/dv = (0.1 * scale_grad) / (2 * tau) * exp(-|v - theta| / tau)`` with
    ``tau = 100 * tau_grad * theta`` in float units of the voltage (SLAYER computes it with the
    voltage divided by its state scale, so theta is the float threshold, e.g. 1.25).
    """

    tau_grad: float = 1.0
    scale_grad: float = 1.0

    def derivative(self, x: torch.Tensor, theta) -> torch.Tensor:
        tau = TAU_RHO_MULT * self.tau_grad * torch.as_tensor(theta, dtype=x.dtype).abs()
        tau = tau.clamp_min(1e-6)
        scale = SCALE_RHO_MULT * self.scale_grad
        return scale / (2 * tau) * torch.exp(-x.abs() / tau)


@dataclass(frozen=True)
class Sigmoid:
    """Derivative of ``sigmoid(slope * x)``: ``slope * sig * (1 - sig)``."""

    slope: float = 5.0

    def derivative(self, x: torch.Tensor, theta=None) -> torch.Tensor:
        sig = torch.sigmoid(self.slope * x)
        return self.slope * sig * (1 - sig)


@dataclass(frozen=True)
class FastSigmoid:
    """SuperSpike's fast sigmoid: ``1 / (slope * |x| + 1)^2``."""

    slope: float = 10.0

    def derivative(self, x: torch.Tensor, theta=None) -> torch.Tensor:
        return 1.0 / (self.slope * x.abs() + 1.0) ** 2


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, theta, value, surrogate):
        ctx.save_for_backward(x)
        ctx.theta = theta.detach() if torch.is_tensor(theta) else theta
        ctx.surrogate = surrogate
        return value.to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x, ctx.theta), None, None, None


def spike(x: torch.Tensor, theta, surrogate, value: torch.Tensor | None = None) -> torch.Tensor:
    """Spikes with a surrogate gradient.

    Args:
        x: ``v - theta`` in float units (carries the gradient to v and theta).
        theta: threshold in float units (only used to shape the surrogate; no gradient).
        surrogate: an object with ``derivative(x, theta)``.
        value: the exact forward value; default ``x > 0`` (strict, as Loihi).
    Returns:
        ``value`` with ``d/dx = surrogate.derivative(x, theta)``.
    """
    if value is None:
        value = x.detach() > 0
    return _Spike.apply(x, theta, value, surrogate)


def make(name: str = "slayer", **kwargs):
    """A surrogate by name: ``slayer`` (tau_grad, scale_grad), ``sigmoid`` or ``fast_sigmoid`` (slope)."""
    table = {"slayer": SlayerExp, "sigmoid": Sigmoid, "fast_sigmoid": FastSigmoid}
    if name not in table:
        raise SnnpipeError("unknown surrogate", field="surrogate", expected=sorted(table), found=name)
    return table[name](**kwargs)


__all__ = ["SlayerExp", "Sigmoid", "FastSigmoid", "spike", "make"]
