"""2-D convolution (cross-correlation, as torch) in numpy float64: exact for integer operands
whose partial sums stay below 2^53. Used by the mapper (connectivity) and the integer simulator.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv_apply(x, weight, conv: dict) -> np.ndarray:
    """``x`` (B, C_in, H, W), ``weight`` (C_out, C_in/groups, kh, kw) -> (B, C_out, H', W').

    ``conv`` holds ``stride``, ``padding``, ``dilation`` (pairs) and ``groups``.
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(weight, np.float64)
    (sh, sw), (ph, pw), (dh, dw) = (tuple(conv.get(k, (d, d))) for k, d in
                                    (("stride", 1), ("padding", 0), ("dilation", 1)))
    g = int(conv.get("groups", 1))
    co, cig, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]              # (B, C_in, H', W', kh, kw)
    b, _, ho, wo = win.shape[:4]
    win = win.reshape(b, g, cig, ho, wo, kh, kw)
    wg = w.reshape(g, co // g, cig, kh, kw)
    out = np.einsum("bgchwij,gocij->bgohw", win, wg, optimize=True)
    return out.reshape(b, co, ho, wo)


def conv_int(x, weight, conv: dict, out_dtype=np.float64, bound: float | None = None):
    """:func:`conv_apply` by torch's convolution (im2col and BLAS): the same exact sums for
    integer operands, in float32 where every partial sum stays below 2^24, else float64;
    returned as ``out_dtype`` (exact for integer sums). ``bound``: the largest |sum| when the
    caller knows it (else computed from ``x`` and ``weight``)."""
    import torch

    x, w = np.asarray(x), np.asarray(weight)
    if bound is None:
        bound = float(np.abs(w).reshape(len(w), -1).sum(axis=1).max(initial=0)) * \
            float(np.abs(x).max(initial=0))
    dtype = np.float32 if bound < 2 ** 24 else np.float64

    (sh, sw), (ph, pw), (dh, dw) = (tuple(conv.get(k, (d, d))) for k, d in
                                    (("stride", 1), ("padding", 0), ("dilation", 1)))
    out = torch.nn.functional.conv2d(torch.from_numpy(x.astype(dtype)),
                                     torch.from_numpy(w.astype(dtype)),
                                     stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw),
                                     groups=int(conv.get("groups", 1)))
    return out.numpy().astype(out_dtype)


def conv_connectivity(in_shape, weight, conv: dict):
    """Which synapses of a convolution exist: a sparse bool (N_dst, N_src) CSR matrix, True
    where a non-zero kernel weight joins source neuron (c, y, x) to destination (o, y', x'),
    both flattened in (C, H, W) order. Built from indices, so any layer size fits in memory."""
    from scipy.sparse import csr_matrix

    c_in, h, w_in = (int(v) for v in in_shape)
    w = np.asarray(weight)
    (sh, sw), (ph, pw), (dh, dw) = (tuple(conv.get(k, (d, d))) for k, d in
                                    (("stride", 1), ("padding", 0), ("dilation", 1)))
    groups = int(conv.get("groups", 1))
    co, cig, kh, kw = w.shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w_in + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    o, c, i, j = (a[:, None, None] for a in np.nonzero(w))            # (K, 1, 1) each
    y, x = np.arange(ho)[None, :, None], np.arange(wo)[None, None, :]
    iy, ix = y * sh - ph + i * dh, x * sw - pw + j * dw               # (K, H', W')
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w_in)
    src_c = (o // (co // groups)) * cig + c
    rows = np.broadcast_to((o * ho + y) * wo + x, ok.shape)[ok]
    cols = np.broadcast_to((src_c * h + iy) * w_in + ix, ok.shape)[ok]
    m = csr_matrix((np.ones(rows.size, bool), (rows, cols)), shape=(co * ho * wo, c_in * h * w_in))
    m.sum_duplicates()
    return m
