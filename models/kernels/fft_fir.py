"""Causal filtering along time by FFT (:func:`fir`, any kernel) and the low-pass kernels of the
spike-train losses (:func:`exp_kernel`).

``fir(x, kernel)``: ``y[..., t] = sum_k kernel[k] * x[..., t - k]`` (zero before t = 0) for x
(..., T) and a kernel (L,) in steps. Same result as a direct ``conv1d`` up to float32
rounding, with O(T log T) work per channel instead of O(T L). The backward (the input
gradient is the correlation of the output gradient with the kernel) is one more pair of FFTs
in a custom autograd function: both torch's ``conv1d`` backward for a single-channel long
kernel and its generic FFT backward are two orders of magnitude slower on CPU. The kernel
gets no gradient (the losses hold it as a buffer). Needs torch and scipy only (no numba):
:mod:`snnpipe.models.losses` imports it at load time; the order-1 IIR filter of
:func:`exp_kernel` is in :mod:`.fir`.
"""
from __future__ import annotations

import torch
from scipy.fft import next_fast_len


class _Fir(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel):
        steps = x.shape[-1]
        n = next_fast_len(steps + kernel.numel() - 1, real=True)   # no wrap into the first T
        spectrum = torch.fft.rfft(kernel.reshape(-1).to(x), n)
        ctx.save_for_backward(spectrum)
        ctx.n = n
        return torch.fft.irfft(torch.fft.rfft(x, n) * spectrum, n)[..., :steps]

    @staticmethod
    def backward(ctx, grad):
        (spectrum,) = ctx.saved_tensors
        steps, n = grad.shape[-1], ctx.n
        g = torch.fft.irfft(torch.fft.rfft(grad, n) * spectrum.conj(), n)[..., :steps]
        return g, None


def fir(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``y[..., t] = sum_k kernel[k] * x[..., t - k]`` (zero before t = 0).

    Args:
        x: (..., T) float tensor (e.g. (batch, channels, time) spikes).
        kernel: (L,) impulse response, steps (no gradient).
    Returns:
        (..., T) like x.
    """
    return _Fir.apply(x, kernel.detach())


def exp_kernel(time_constant: float = 5.0, length: int = 100, order: int = 1) -> torch.Tensor:
    """Causal low-pass impulse response (length,): ``exp(-t / time_constant)`` (t in steps)
    convolved with itself ``order - 1`` times and truncated to ``length`` steps."""
    base = torch.exp(-torch.arange(length, dtype=torch.float32) / float(time_constant))
    kernel = base
    for _ in range(order - 1):
        kernel = fir(kernel.reshape(1, 1, -1), base).reshape(-1)
    return kernel
