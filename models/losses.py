"""Losses on spike trains and membrane traces. Tensors are (batch, channels, time) (any spatial
dimensions between batch and time are collapsed). ``reduction`` is ``"sum"`` or ``"mean"``.

The filters of :class:`SpikeTime` are kernels (:mod:`snnpipe.models.kernels.fft_fir`: ``fir``
by FFT and ``exp_kernel``, both importable from here too; :mod:`snnpipe.models.kernels.fir`:
the order-1 IIR)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from snnpipe.models.kernels.fft_fir import exp_kernel, fir
from snnpipe.pipeline.ir.errors import SnnpipeError


def rate(spikes: torch.Tensor) -> torch.Tensor:
    """Mean spike count per step: (batch, channels)."""
    return spikes.reshape(spikes.shape[0], -1, spikes.shape[-1]).mean(-1)


def predict_rate(spikes: torch.Tensor) -> torch.Tensor:
    """The class with the highest spike rate: (batch,) int64."""
    return rate(spikes).argmax(1)


class SpikeTime(torch.nn.Module):
    """Squared distance of low-pass filtered spike trains (van Rossum-like, as SLAYER's).

    Args:
        time_constant: of the exponential filter, steps.
        length: filter length, steps.
        filter_order: the filter applied ``filter_order`` times.

    Order 1 (the truncated exponential): :func:`snnpipe.models.kernels.fir.exp_distance`, the IIR
    recursion of the difference ``output - desired`` with the squared sum in the same pass
    (CPU; elsewhere the FFT); other orders by FFT (:func:`fir`). Both equal
    ``F.mse_loss(fir(output, kernel).flatten(), fir(desired, kernel).flatten())`` up to
    float32 rounding (the flatten only where the shapes differ: it then broadcasts).
    """

    def __init__(self, time_constant: float = 5.0, length: int = 100, filter_order: int = 1,
                 reduction: str = "sum"):
        super().__init__()
        self.register_buffer("kernel", exp_kernel(time_constant, length, filter_order))
        self.time_constant, self.length, self.filter_order = time_constant, length, filter_order
        self.reduction = reduction

    def forward(self, output: torch.Tensor, desired: torch.Tensor) -> torch.Tensor:
        from snnpipe.models.kernels.fir import exp_distance, exp_filter

        if getattr(self, "filter_order", None) == 1:       # (None: a module pickled before)
            if output.shape == desired.shape and self.reduction in ("sum", "mean"):
                return exp_distance(output, desired, self.time_constant, self.length,
                                    self.reduction)
            fo = exp_filter(output, self.time_constant, self.length)
            fd = exp_filter(desired, self.time_constant, self.length)
        else:
            fo, fd = fir(output, self.kernel), fir(desired, self.kernel)
        if fo.shape != fd.shape or self.reduction not in ("sum", "mean"):
            return F.mse_loss(fo.flatten(), fd.flatten(), reduction=self.reduction)
        return F.mse_loss(fo, fd, reduction=self.reduction)      # no flatten copies


class SpikeRate(torch.nn.Module):
    """Squared error between each output's spike rate and ``true_rate`` (label) or
    ``false_rate`` (other classes); ``label`` (batch,) int64."""

    def __init__(self, true_rate: float, false_rate: float, reduction: str = "sum"):
        super().__init__()
        if not (0 <= true_rate <= 1 and 0 <= false_rate <= 1):
            raise SnnpipeError("rates are spikes per step", field="true_rate/false_rate",
                               expected="values in [0, 1]", found=(true_rate, false_rate))
        self.true_rate, self.false_rate, self.reduction = true_rate, false_rate, reduction

    def forward(self, output: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        r = rate(output)
        one_hot = F.one_hot(label, r.shape[1]).to(r)
        target = self.true_rate * one_hot + self.false_rate * (1 - one_hot)
        return F.mse_loss(r.flatten(), target.flatten(), reduction=self.reduction)


class SpikeMax(torch.nn.Module):
    """Negative log-likelihood of the label under the rate confidence: ``probability``
    (rate / sum of rates) or ``softmax`` of the rates."""

    def __init__(self, mode: str = "probability", reduction: str = "sum", eps: float = 1e-6):
        super().__init__()
        self.mode, self.reduction, self.eps = mode, reduction, eps

    def forward(self, output: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        r = rate(output)
        if self.mode == "probability":
            log_p = torch.log(r / (r.sum(1, keepdim=True) + self.eps) + self.eps)
        else:
            log_p = F.log_softmax(r, 1)
        return F.nll_loss(log_p, label, reduction=self.reduction)


class MembraneMSE(torch.nn.Module):
    """Mean squared error between an output trace (membrane or readout) and a target of the
    same shape, optionally from step ``start`` on."""

    def __init__(self, start: int = 0, reduction: str = "mean"):
        super().__init__()
        self.start, self.reduction = start, reduction

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(output[..., self.start:], target[..., self.start:],
                          reduction=self.reduction)


class LastStepCrossEntropy(torch.nn.Module):
    """Cross-entropy of the output at the last time step as logits; ``label`` (batch,)."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, output: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        logits = output.reshape(output.shape[0], -1, output.shape[-1])[..., -1]
        return F.cross_entropy(logits, label, reduction=self.reduction)


def predict_last_step(output: torch.Tensor) -> torch.Tensor:
    """The class with the highest output at the last step: (batch,) int64."""
    return output.reshape(output.shape[0], -1, output.shape[-1])[..., -1].argmax(1)


class MaxCrossEntropy(torch.nn.Module):
    """Cross-entropy of the maximum over time of the output as logits; ``label`` (batch,)."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, output: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        logits = output.reshape(output.shape[0], -1, output.shape[-1]).amax(-1)
        return F.cross_entropy(logits, label, reduction=self.reduction)


def predict_max(output: torch.Tensor) -> torch.Tensor:
    """The class whose output reaches the highest value over time: (batch,) int64."""
    return output.reshape(output.shape[0], -1, output.shape[-1]).amax(-1).argmax(1)
