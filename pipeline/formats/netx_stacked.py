"""slayer's Pool and Unpool as it computes them (``lava.lib.dl.slayer.synapse.layer``): one
(transposed) convolution of the channels stacked along H.

``Pool.forward`` pads an input (C, H, W) that the kernel does not divide with ``H % kh`` zero
rows below each channel and ``W % kw`` zero columns to the right, views it as one (C * Hp, Wp)
image, convolves it with the (kh, kw) kernel (stride, padding, dilation) and views the result
(Ho, Wo) as (C, Ho / C, Wo). ``Unpool.forward`` views (C, H, W) as (C * H, W), applies the
transposed convolution and views the result the same way. The views are C-order reshapes, the
order of our flat (C, H, W) neuron index, so each is a (N_out, N_in) matrix of kernel weights.
Where Ho is not a multiple of C, slayer's own view fails (a RuntimeError in its forward).
"""
from __future__ import annotations

import numpy as np

from snnpipe.pipeline.ir.graph import conv_output_shape, size
from snnpipe.pipeline.ir.transpose import conv_transpose_entries


def pool_entries(in_shape, kernel: np.ndarray, stride, padding, dilation):
    """``(rows, cols, values, out_shape)`` of slayer's Pool of ``in_shape`` (C, H, W) with the
    (kh, kw) ``kernel``; ``out_shape`` is (C, Ho / C, Wo), or None where slayer's view fails."""
    c, h, w = in_shape
    kh, kw = kernel.shape
    hp, wp = h + h % kh, w + w % kw
    _, ho, wo = conv_output_shape((1, c * hp, wp), (1, 1, kh, kw), stride, padding, dilation)
    if ho < 1 or wo < 1 or ho % c:
        return None, None, None, None
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oy, ox, i, j = np.meshgrid(np.arange(ho), np.arange(wo), np.arange(kh), np.arange(kw),
                               indexing="ij")
    y, x = oy * sh - ph + i * dh, ox * sw - pw + j * dw     # padded stacked input row, column
    ch, yy = np.divmod(y, hp)
    real = (y >= 0) & (y < c * hp) & (yy < h) & (x >= 0) & (x < w)   # not padding
    return ((oy * wo + ox)[real], ((ch * h + yy) * w + x)[real], kernel[i, j][real],
            (c, ho // c, wo))


def unpool_entries(in_shape, kernel: np.ndarray, stride, padding, dilation):
    """As :func:`pool_entries` for slayer's Unpool."""
    c, h, w = in_shape
    rows, cols, vals, (_, ho, wo) = conv_transpose_entries((1, c * h, w), kernel[None, None],
                                                           stride, padding, dilation)
    if ho < 1 or wo < 1 or ho % c:
        return None, None, None, None
    return rows, cols, vals, (c, ho // c, wo)


def matrix(in_shape, entries) -> np.ndarray:
    """The dense (N_out, N_in) float64 matrix of ``(rows, cols, values, out_shape)``."""
    rows, cols, vals, out = entries
    m = np.zeros((size(out), size(in_shape)))
    m[rows, cols] = vals
    return m
