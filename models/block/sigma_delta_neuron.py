"""The sigma-delta neuron of the SDNN blocks, as ``lava.lib.dl.slayer.neuron.sigma_delta``
computes it: forward values and gradients.

Per population, tensors (batch, channels, ..., time), float units::

    sigma = cumsum(z)                    (the Sigma dendrite)
    x = norm(sigma) + bias               (optional MeanOnlyBatchNorm; bias once set_bias)
    a = activation(x)                    (relu for a netx SDNN)
    messages = delta(a)                  (threshold, residue; slayer's Delta)

Precision ``loihi``: slayer's forward, operation for operation in the input's dtype (float32):
messages floored to 1/4096, the threshold compared as slayer compares it, ``|d| >= threshold``
(a trained threshold off the 1/64 grid included; netx and the Graph hold ``int(64 threshold)``,
as slayer exports it). With 8-bit weights and inputs and on-grid biases every value lies on the
2^-18 grid and the float32 arithmetic is exact below 64: the chip's integer rule
(:func:`snnpipe.hwmap.targets.loihi.sigma_delta_step`, which
:func:`snnpipe.models.neurons.sigma_delta_loihi.sigma_delta_loihi` runs and intsim-loihi
simulates) computes the same values. Precision ``float``: the Graph's float semantics (no
floor).

Backward, as slayer's ``_DeltaUnit``: the delta is transparent to the gradient
(``grad_a[t] = g[t] - g[t+1]``, the last ``g[T-1]``), the message floor straight-through; the
threshold's gradient is ``sum g * (-d * scale_grad * exp(-(|d| - th)/tau_grad) / th)`` where
``|d| > th`` and ``-sign(d) g`` elsewhere; weights reach slayer's quantiser straight through.
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.hwmap.targets import loihi
from snnpipe.models.ste import quantize_weight_8bit
from snnpipe.pipeline.ir.errors import SnnpipeError

MESSAGE_UNIT = float(1 << (loihi.ACTIVATION_SHIFT + loihi.SD_SPIKE_EXP))
SLAYER_KEYS = {"threshold", "activation", "tau_grad", "scale_grad", "scale", "cum_error", "norm",
               "dropout", "shared_param", "persistent_state", "requires_grad"}


def quantize_8bit(x: torch.Tensor, descale: bool = False) -> torch.Tensor:
    """slayer's ``neuron.quantize_8bit`` (scale 64): even integers in 1/64, clamped to
    [-4, 254/64], straight through; ``descale`` gives the integers (1/64 units)."""
    q = quantize_weight_8bit(x)
    return q * loihi.WEIGHT_UNIT if descale else q


def no_quantize(x: torch.Tensor, descale: bool = False) -> torch.Tensor:
    """The float precision's pre-hook: the value itself (``descale``: in 1/64 units)."""
    return x * loihi.WEIGHT_UNIT if descale else x


class MeanOnlyBatchNorm(torch.nn.Module):
    """slayer's ``neuron.norm.MeanOnlyBatchNorm``: ``x - pre_hook_fx(mean)`` per channel, the
    batch mean (over batch, space and time) in training, the running mean otherwise. The
    neuron sets ``pre_hook_fx`` to its quantiser; slayer exports ``-q(running_mean)`` as the
    layer's bias."""

    def __init__(self, num_features=None, momentum=0.1, pre_hook_fx=None):
        super().__init__()
        self.num_features, self.momentum = num_features, momentum
        self.pre_hook_fx = pre_hook_fx or no_quantize
        self.register_buffer("running_mean",
                             torch.zeros(1 if num_features is None else num_features))
        self.update = True

    @property
    def bias(self) -> torch.Tensor:
        """The equivalent bias, 1/64 units (as slayer's)."""
        return -self.pre_hook_fx(self.running_mean, descale=True)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        if self.num_features is None:
            self.num_features = inp.shape[1]
        if self.training and self.update:
            mean = torch.mean(inp.reshape(inp.shape[0], self.num_features, -1), dim=[0, 2])
            with torch.no_grad():
                self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
        else:
            mean = self.running_mean
        return inp - self.pre_hook_fx(mean.reshape(1, -1, *([1] * (inp.dim() - 2))))


def delta_sequence(a: torch.Tensor, threshold: torch.Tensor, precision: str):
    """``(messages, d)`` of slayer's Delta over ``a`` (..., T), no gradients: ``d[t] = a[t] -
    a[t-1] + residue``, ``s = d`` where ``|d| >= threshold`` else 0, ``residue = d - s``, in
    ``a``'s dtype as slayer computes it; the loihi precision sends ``s`` floored to 1/4096."""
    act, res = torch.zeros_like(a[..., 0]), torch.zeros_like(a[..., 0])
    msg, d = torch.empty_like(a), torch.empty_like(a)
    th = threshold.to(a.dtype).reshape(())
    for t in range(a.shape[-1]):
        d[..., t] = a[..., t] - act + res
        msg[..., t] = torch.where(d[..., t].abs() >= th, d[..., t], 0.0)
        act, res = a[..., t], d[..., t] - msg[..., t]
    if precision == "loihi":
        msg = torch.floor(msg * MESSAGE_UNIT) / MESSAGE_UNIT
    return msg, d


class DeltaFunction(torch.autograd.Function):
    """Messages forward (:func:`delta_sequence`), slayer's ``_DeltaUnit`` gradients backward."""

    @staticmethod
    def forward(ctx, a, threshold, tau_grad, scale_grad, precision):
        msg, d = delta_sequence(a.detach(), threshold.detach(), precision)
        ctx.save_for_backward(d, threshold)
        ctx.tau_grad, ctx.scale_grad = tau_grad, scale_grad
        return msg

    @staticmethod
    def backward(ctx, grad):
        d, th = ctx.saved_tensors
        grad_a = grad.clone()
        grad_a[..., :-1] -= grad[..., 1:]
        grad_th = None
        if ctx.needs_input_grad[1]:
            sub = d.abs() - th
            near = ctx.scale_grad * torch.exp(-sub.abs() / ctx.tau_grad)
            grad_th = (torch.where(sub > 0, -d * near / th, -torch.sign(d)) * grad).sum()
            grad_th = grad_th.reshape(th.shape)
        return grad_a, grad_th, None, None, None


class SigmaDelta(torch.nn.Module):
    """slayer's sigma-delta neuron from its ``neuron_params`` (``threshold``, ``activation``,
    ``tau_grad``, ``scale_grad``, ``norm`` (a class, e.g. :class:`MeanOnlyBatchNorm` or
    slayer's), ``dropout``, ``requires_grad`` (threshold and bias trainable); ``scale`` 64,
    ``cum_error`` False, ``shared_param`` True and ``persistent_state`` False only)."""

    def __init__(self, neuron_params: dict, precision: str = "loihi"):
        super().__init__()
        p = dict(neuron_params)
        p.pop("precision", None)
        unknown = set(p) - SLAYER_KEYS
        if unknown:
            raise SnnpipeError("unknown sigma-delta neuron parameter", field="neuron_params",
                               expected=sorted(SLAYER_KEYS), found=sorted(unknown))
        for key, ok in (("scale", 64), ("cum_error", False), ("shared_param", True),
                        ("persistent_state", False)):
            if p.get(key, ok) != ok:
                raise SnnpipeError(f"only {key}={ok} is supported in the sigma-delta blocks",
                                   field=f"neuron_params.{key}", expected=ok, found=p[key])
        if precision not in ("loihi", "float"):
            raise SnnpipeError("sigma-delta blocks run in the loihi or float precision",
                               field="precision", expected="loihi | float", found=precision)
        self.precision = precision
        self.activation = p.get("activation", torch.nn.functional.relu)
        self.tau_grad, self.scale_grad = float(p.get("tau_grad", 1)), float(p.get("scale_grad", 1))
        self.requires_grad = bool(p.get("requires_grad", False))
        th = float(p["threshold"])
        if precision == "loihi":
            th = int(th * loihi.WEIGHT_UNIT) / loihi.WEIGHT_UNIT      # slayer's int(th * 64) / 64
        self.threshold = torch.nn.Parameter(torch.tensor([th]), requires_grad=self.requires_grad)
        self.bias = torch.nn.Parameter(torch.zeros(1), requires_grad=self.requires_grad)
        self.bias_is_set = False
        self.quantize = quantize_8bit if precision == "loihi" else no_quantize
        self.norm = None if p.get("norm") is None else p["norm"]()
        if self.norm is not None and hasattr(self.norm, "pre_hook_fx"):
            self.norm.pre_hook_fx = self.quantize
        self.drop = p.get("dropout")

    def set_bias(self, bias: torch.Tensor) -> None:
        """A bias per neuron (shape of the population without batch and time), as slayer's."""
        self.bias.data = torch.as_tensor(bias, dtype=torch.float32).to(self.bias.device)
        self.bias_is_set = True

    def delta(self, a: torch.Tensor) -> torch.Tensor:
        """slayer's ``neuron.delta``: messages of ``a`` (threshold clamped to >= 1/4096)."""
        with torch.no_grad():
            self.threshold.clamp_(min=1.0 / MESSAGE_UNIT)
        return DeltaFunction.apply(a, self.threshold, self.tau_grad, self.scale_grad,
                                   self.precision)

    def activations(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sigma, a)``: the dendrite's running sum and the activation of ``z``."""
        sigma = torch.cumsum(z, dim=-1)
        x = sigma if self.norm is None else self.norm(sigma)
        if self.bias_is_set:
            x = x + self.bias.unsqueeze(0).unsqueeze(-1)
        return sigma, self.activation(x)

    def forward(self, z: torch.Tensor, record: bool = False):
        sigma, a = self.activations(z)
        out = self.delta(a)
        if self.drop is not None:
            out = self.drop(out)
        return (out, {"sigma": sigma, "act": a}) if record else out

    def graph_threshold(self) -> float:
        """The threshold the Graph holds: ``int(64 th) / 64`` in loihi (slayer's vThMant)."""
        th = float(self.threshold.detach().reshape(-1)[0])
        return int(th * loihi.WEIGHT_UNIT) / loihi.WEIGHT_UNIT if self.precision == "loihi" \
            else th

    def graph_bias(self, shape):
        """The bias the Graph holds, float64 numpy: per neuron of ``shape`` flattened (C order),
        ``-q(running mean)`` of the norm per channel plus the set bias (netx's reading of
        slayer's export: one value when the population has one neuron); 0 without either."""
        if self.norm is None and not self.bias_is_set:
            return np.zeros(())
        with torch.no_grad():
            b = torch.zeros(tuple(shape), dtype=torch.float64)
            if self.norm is not None:
                if hasattr(self.norm, "weight_exp") or not hasattr(self.norm, "running_mean"):
                    raise SnnpipeError("only a mean-only batch norm exports as a bias",
                                       field="neuron_params.norm", expected="MeanOnlyBatchNorm",
                                       found=type(self.norm).__name__)
                mean = self.norm.pre_hook_fx(self.norm.running_mean.cpu()).double()
                b = b - mean.reshape(-1, *([1] * (len(shape) - 1)))
            if self.bias_is_set:
                b = b + self.bias.detach().cpu().double().reshape(tuple(shape))
        b = b.numpy().reshape(-1)
        return b.reshape(()) if b.size == 1 else b
