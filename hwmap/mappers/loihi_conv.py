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
