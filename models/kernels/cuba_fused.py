"""The CUBA sequence (forward over all steps and its backward) as one fused kernel: the entry
point :func:`cuba_fused`, the case selection :func:`supports` and the precisions' effective
parameters (:func:`effective`).

:func:`cuba_fused` has the signature and the results of the reference sequence functions
:func:`snnpipe.models.neurons.cuba_float.cuba_float` /
:func:`~snnpipe.models.neurons.cuba_loihi.cuba_loihi` /
:func:`snnpipe.models.neurons.cuba_xylo.cuba_xylo`: values are identical (loihi, xylo: bit for
bit; float: the same float32 operations in the same order) and the gradients are those of the
reference autograd (surrogate spike, straight-through roundings, true decay derivatives, reset
ignored), up to float32 summation order.

The parameters enter the kernel's Function as the precision's effective tensors (current and
voltage decay, threshold, bias in float units, as scalars or per channel: after the
quantisers' straight-through estimators and clamps, which keep their ordinary autograd); the
Function expands them per neuron (``a = 1 - current decay``, ``b = 1 - voltage decay``) and its
backward sums the per-neuron gradients back to each tensor's shape (no autograd nodes for
the broadcasting).

Layout: the kernel works on time-major buffers (T, K, B, N) / (T, B, N) (batch and neurons
as one contiguous axis of columns) and returns (B, K, N, T) / (B, N, T) *views* of them. The
blocks keep that layout end to end (the synapses compute their products time-major, the
output shift preserves strides), so no transposing copies are made between layers.

Three implementations of the same loops, behind one ``torch.autograd.Function``
(:class:`snnpipe.models.kernels.cuba_function.FusedCuba`): the numba CPU kernel
(:mod:`snnpipe.models.kernels.cuba_numba`) for CPU tensors; Triton kernels
(:mod:`snnpipe.models.kernels.cuba_triton`, the whole time loop in one program per block of
columns) for CUDA tensors where triton is installed; and a time loop of torch elementwise ops
(:mod:`snnpipe.models.kernels.cuba_torch`) on any device, the CUDA fallback without triton
(``impl="torch"`` forces it, which is how the CPU tests check it against the reference;
``impl="triton"`` on CPU tensors runs Triton's interpreter, for tests). All keep the
reference's float32 operation order (separate multiply and add; the Triton forward is
compiled without FMA contraction).

Supported (see :func:`supports`): precisions ``float``, ``loihi`` and ``xylo``; spikes
``binary`` and ``multi``; resets ``zero`` and ``subtract`` (xylo: always subtractive, as the
chip; a xylo population without threshold is the chip's output neuron whose threshold is
``xylo.STATE_MAX``: V is reduced by it where it reaches it, and v is that post-reset V, as
the reference); no refractory period; the surrogates of
:mod:`snnpipe.models.surrogate`; float32 tensors on the CPU (numba importable) or a CUDA device; an
initial state without refractory counts and without gradient. Anything else stays on the
reference functions. The surrogate derivative of SLAYER's exponential surrogate is evaluated
in the kernel; any other surrogate with a ``derivative`` method is evaluated with it (torch
ops) on the recorded voltage.
"""
from __future__ import annotations

import numpy as np
import torch

from snnpipe.hwmap.targets import loihi, xylo
from snnpipe.models.kernels import cuba_triton     # imports without triton (available() is False)
from snnpipe.models.kernels.cuba_function import Config, FusedCuba, numba_available
from snnpipe.models.neurons import cuba_xylo
from snnpipe.models.neurons.cuba_loihi import loihi_ints
from snnpipe.models.neurons.state import CubaParams, CubaState

LOIHI_UNIT = float(loihi.DECAY_UNIT)       # state units per float unit of the loihi precision
LOIHI_W_UNIT = float(loihi.WEIGHT_UNIT)    # threshold mantissa units per float unit
PRECISIONS = ("float", "loihi", "xylo")


def available() -> bool:
    """Whether the numba CPU kernel can run (numba importable)."""
    return numba_available()


def supports(x: torch.Tensor, p: CubaParams, state: CubaState | None,
             precision: str) -> bool:
    """Whether :func:`cuba_fused` computes this case (otherwise use the reference)."""
    device_ok = x.device.type == "cuda" or (x.device.type == "cpu" and available())
    if not device_ok or precision not in PRECISIONS or x.dtype != torch.float32 \
            or x.dim() != 4:
        return False
    if p.refractory != 0 or p.spike not in ("binary", "multi") \
            or p.reset not in ("zero", "subtract") or not hasattr(p.surrogate, "derivative"):
        return False
    if state is not None and (state.u.requires_grad or state.v.requires_grad
                              or bool((state.r != 0).any())):
        return False
    return True


def _np(t: torch.Tensor, dtype=np.float32) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)


def effective(p: CubaParams, precision: str, n_n: int, device=None):
    """(current decay, voltage decay, threshold, bias) as the precision's step function uses
    them (tensors with autograd, any shape that broadcasts to (K, N) / (N,); the kernel's
    wrapper expands them), and the integer parameters of the loihi and xylo precisions (numpy
    int64 (K, N) / (N,), the forward kernels' arguments)."""
    n_k = p.n_syn
    ints = None
    if precision == "xylo":
        q = cuba_xylo.xylo_ints(p)
        cd, vd, bias = q.syn_decay, q.mem_decay, q.bias / xylo.UNIT
        th = None if q.theta is None else q.theta / xylo.UNIT
        theta_i = torch.zeros(()) if q.theta is None else q.theta
        ints = (_np(torch.broadcast_to(q.dash_syn, (n_k, n_n)), np.int64),
                _np(torch.broadcast_to(q.dash_mem, (n_n,)), np.int64),
                _np(torch.broadcast_to(theta_i, (n_n,)), np.int64),
                _np(torch.broadcast_to(q.bias, (n_n,)), np.int64))
    elif precision == "loihi":
        q = loihi_ints(p)
        cd, vd, bias = q.i_decay / LOIHI_UNIT, q.v_decay / LOIHI_UNIT, q.bias / LOIHI_UNIT
        th = None if q.vth_mant is None else q.vth_mant / LOIHI_W_UNIT
        vth_i = torch.zeros(()) if q.vth_mant is None else q.vth_mant
        ints = (_np(torch.broadcast_to(q.i_decay, (n_k, n_n)), np.int64),
                _np(torch.broadcast_to(q.v_decay, (n_n,)), np.int64),
                _np(torch.broadcast_to(vth_i, (n_n,)), np.int64) << loihi.ACTIVATION_SHIFT,
                _np(torch.broadcast_to(q.bias, (n_n,)), np.int64))
    else:
        cd, vd, th, bias = p.current_decay, p.voltage_decay, p.threshold, p.bias
    as_t = (lambda t: t if torch.is_tensor(t) else torch.tensor(float(t), device=device))
    th = torch.zeros((), device=device) if th is None else th
    return (as_t(cd), as_t(vd), th, as_t(bias)), ints


def cuba_fused(x: torch.Tensor, p: CubaParams, state: CubaState | None = None,
               precision: str = "loihi", impl: str | None = None):
    """The CUBA sequence of ``precision`` in one kernel call; a drop-in for the reference.

    Args:
        x: (batch, n_syn, N, T) float32 weighted input, float units.
        p: parameters; ``supports(x, p, state, precision)`` must hold.
        state: initial state or None (zeros).
        impl: ``numba`` (CPU), ``triton`` (CUDA; the interpreter on CPU) or ``torch`` (the
            elementwise time loop, any device); default numba for CPU tensors, triton for
            CUDA tensors where available, torch otherwise.
    Returns:
        ``(s, u, v, state)``: s (batch, N, T) spike counts (None without threshold),
        u (batch, n_syn, N, T), v (batch, N, T) pre-reset voltage (xylo without threshold:
        after the readout's reset, see :func:`snnpipe.models.neurons.cuba_xylo.cuba_step_xylo`),
        final state; as the reference sequence function.
    """
    n_b, n_k, n_n, _ = x.shape
    if impl is None:
        if x.device.type == "cpu":
            impl = "numba"
        elif cuba_triton.available() and cuba_triton.supports(x.shape[3], n_k, n_b * n_n):
            impl = "triton"
        else:
            impl = "torch"
    if state is None:
        u0 = v0 = None          # zeros, made by the kernel's wrapper
        r = torch.zeros(n_b, n_n, dtype=torch.int64, device=x.device)
    else:
        u0, v0, r = state
    params, ints = effective(p, precision, n_n, x.device)
    cfg = Config(p, precision, ints, impl)
    s, u, v, v_last = FusedCuba.apply(x, *params, u0, v0, cfg)
    final = CubaState(u[..., -1], v_last, r)
    return (s if cfg.spiking else None), u, v, final
