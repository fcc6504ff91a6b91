"""Dense projections of spike trains as sparse gathers: ``z[b, :, t] = W @ x[b, :, t]`` where
most ``x`` are zero (spikes), and its weight gradient, in numba loops over the active inputs.

A training step of the Oxford network spends most of its matmul time multiplying weights by
spike trains of a few percent activity. Here the forward adds, for every step, the weight
columns of the active inputs (times their spike counts) into the time-major output row
(T, B, N); the weight gradient adds the output gradient of that step into the rows of the
active inputs. Work is ``nnz * N`` instead of ``B * T * C * N``. The input gradient (a dense
product of the dense output gradient) stays a BLAS matmul.

Exactness: the forward is used only where the result equals the BLAS product bit for bit:
integer-valued inputs (spike counts) and weights on a grid of ``2^-GRID_BITS`` (the 8-bit
quantisers), with sums small enough that every partial sum is exact in float32; then any
summation order gives the same value. :func:`project` checks the weight and the size bound
in Python and the inputs in the scan (a non-integer input or too many active inputs
abandons the sparse path for the dense matmul). The weight gradient is a sum of the same
products in another order (float32 rounding, as any two BLAS calls).
"""
from __future__ import annotations

import os

import numpy as np
import torch
from numba import njit

from snnpipe.hwmap.targets import loihi
from snnpipe.models.kernels.numba_options import OPTS, U

ENV = "SNNPIPE_SPIKE_DENSE"   # "off": always the dense matmul (for comparisons)
# weights must be multiples of 2^-GRID_BITS = 1 / WEIGHT_UNIT (the loihi 8-bit quantiser's
# steps are 2 / WEIGHT_UNIT)
GRID_BITS = loihi.WEIGHT_UNIT.bit_length() - 1
MAX_RATE = 0.08          # above this fraction of nonzero inputs MKL's dense matmul was faster
                         # (2-core Xeon with AVX-512: 200 x 256 weights, 5% of spikes: the
                         # sparse forward and weight gradient 10-25% faster; 12%: 50% slower)


TILE = 32                # steps per tile of a (B, C, T) input: the tile's output rows stay in cache


@njit(cache=True, **OPTS)
def _scan(x, x_max):
    """(number of nonzeros, number of entries that are not integers of at most ``x_max`` in
    size) of a contiguous array, in one vectorised pass."""
    xf = x.reshape(-1)
    nnz = 0
    bad = 0
    for i in range(U(xf.size)):
        val = xf[i]
        nnz += val != 0
        bad += (val != np.floor(val)) | (abs(val) > x_max)
    return nnz, bad


@njit(cache=True, **OPTS)
def _forward(x, time_major, wt, z, budget, x_max):
    """The product into z (T, B, N) of wt (C, N) = W^T (contiguous) and the input x,
    C-contiguous, (T, B, C) if ``time_major`` else (B, C, T) (read in tiles of ``TILE``
    steps). Returns the number of active inputs, or -1 (an input not an integer of at most
    ``x_max`` in size) / -2 (more than ``budget`` active inputs); z is then incomplete."""
    nu = U(wt.shape[1])
    wf, zf = wt.reshape(-1), z.reshape(-1)
    nnz = 0
    if time_major:
        n_c = x.shape[2]
        xr = x.reshape(-1, n_c)
        acc = np.empty(wt.shape[1], np.float32)
        for r in range(xr.shape[0]):
            acc[:] = 0
            for c in range(n_c):
                val = xr[r, c]
                if val != 0:
                    if val != np.floor(val) or abs(val) > x_max:
                        return -1
                    nnz += 1
                    oc = U(c) * nu
                    for j in range(nu):
                        acc[j] += val * wf[oc + j]
            if nnz > budget:
                return -2
            o = U(r) * nu
            for j in range(nu):
                zf[o + j] = acc[j]
        return nnz
    n_b, n_c, n_t = x.shape
    zf[:] = 0
    for b in range(n_b):
        for t0 in range(0, n_t, TILE):
            t1 = min(t0 + TILE, n_t)
            for c in range(n_c):
                oc = U(c) * nu
                for t in range(t0, t1):
                    val = x[b, c, t]
                    if val != 0:
                        if val != np.floor(val) or abs(val) > x_max:
                            return -1
                        nnz += 1
                        o = U(t * n_b + b) * nu
                        for j in range(nu):
                            zf[o + j] += val * wf[oc + j]
            if nnz > budget:
                return -2
    return nnz


@njit(cache=True, **OPTS)
def _grad_weight(x, time_major, gz, gwt):
    """gwt (C, N) = sum over b, t of x[b, c, t] * gz[t, b, :] (x as in :func:`_forward`,
    gz (T, B, N) contiguous)."""
    nu = U(gz.shape[2])
    gf, gwf = gz.reshape(-1), gwt.reshape(-1)
    gwf[:] = 0
    if time_major:
        n_c = x.shape[2]
        xr = x.reshape(-1, n_c)
        for r in range(xr.shape[0]):
            o = U(r) * nu
            for c in range(n_c):
                val = xr[r, c]
                if val != 0:
                    oc = U(c) * nu
                    for j in range(nu):
                        gwf[oc + j] += val * gf[o + j]
        return
    n_b, n_c, n_t = x.shape
    for b in range(n_b):
        for t0 in range(0, n_t, TILE):
            t1 = min(t0 + TILE, n_t)
            for c in range(n_c):
                oc = U(c) * nu
                for t in range(t0, t1):
                    val = x[b, c, t]
                    if val != 0:
                        o = U(t * n_b + b) * nu
                        for j in range(nu):
                            gwf[oc + j] += val * gf[o + j]


def _memory_order(x: torch.Tensor):
    """x (B, C, T) as a C-contiguous numpy array in its memory order, (T, B, C) or (B, C, T),
    and whether it is the former; copies only an input that is neither."""
    x = x.detach()
    xt = x.permute(2, 0, 1)
    if xt.is_contiguous():
        return xt.numpy(), True
    return x.contiguous().numpy(), False


class SpikeDense(torch.autograd.Function):
    """``apply(x, w, z_tm) -> z``: x (B, C, T), w (N, C), z_tm (T, B, N) the forward result
    computed by :func:`_forward`; z is its (B, N, T) view. The backward gives the weight
    gradient by the sparse scatter and the input gradient by a matmul."""

    @staticmethod
    def forward(ctx, x, w, z_tm):
        ctx.save_for_backward(x, w)
        return z_tm.permute(1, 2, 0)

    @staticmethod
    def backward(ctx, gz):
        x, w = ctx.saved_tensors
        g_tm = gz.permute(2, 0, 1).contiguous()             # (T, B, N), free if time-major
        gw = gx = None
        if ctx.needs_input_grad[1]:
            gwt = torch.empty(w.shape[1], w.shape[0])
            _grad_weight(*_memory_order(x), g_tm.numpy(), gwt.numpy())
            gw = gwt.t()
        if ctx.needs_input_grad[0]:
            gx = torch.matmul(g_tm, w.detach()).permute(1, 2, 0)
        return gx, gw, None


def _exact_grid(w: torch.Tensor, n_in: int, x_max: float) -> bool:
    """Whether every partial sum of ``W @ x`` is exact in float32 for integer inputs up to
    ``x_max``: w on the 2^-GRID_BITS grid and sum(|x| |w|) below 2^(24 - GRID_BITS)."""
    scaled = w.detach() * (1 << GRID_BITS)
    if not bool((scaled == scaled.round()).all()):
        return False
    return float(w.detach().abs().max()) * n_in * x_max < 2.0 ** (24 - GRID_BITS)


MAX_COUNT = float(loihi.MAX_SPIKES)     # integer inputs are spike counts


def project(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor | None:
    """``W @ x`` as a (B, N, T) view of (T, B, N) memory by the sparse path, or None where
    it does not apply (non-CPU or non-float32 tensors, weights off the grid, non-integer or
    too many nonzero inputs): the caller then runs the dense matmul.

    x: (B, C, T) (spike counts, any strides); w: (N, C) float32.
    """
    if os.environ.get(ENV, "auto") == "off" or x.device.type != "cpu" \
            or x.dtype != torch.float32 or w.dtype != torch.float32 \
            or x.dim() != 3 or w.dim() != 2:
        return None
    n_b, n_c, n_t = x.shape
    if not _exact_grid(w, n_c, MAX_COUNT):
        return None
    xn, time_major = _memory_order(x)
    nnz, bad = _scan(xn, MAX_COUNT)
    if bad or nnz > MAX_RATE * x.numel():
        return None
    wt = w.detach().t().contiguous()
    z = torch.empty(n_t, n_b, w.shape[0])
    _forward(xn, time_major, wt.numpy(), z.numpy(), x.numel(), MAX_COUNT)
    return SpikeDense.apply(x, w, z)
