"""Line builders of the generated Triton source (:mod:`.triton_forward_source`,
:mod:`.triton_backward_source`): each returns a list of source lines (str) that compute one
value with only what both the compiler and Triton 2.3.1's interpreter run (``tl.where``
selects, no ``tl.minimum``/``maximum``, no ``tl.math``, no runtime ``if``).
"""
from __future__ import annotations


def indent(lines, depth):
    """``lines`` indented by ``depth`` levels (4 spaces each)."""
    return ["    " * depth + ln for ln in lines]


def clamp(var, lo, hi):
    """Lines clamping ``var`` to [lo, hi] as ``min(max(var, lo), hi)`` with selects
    (``tl.minimum``/``maximum`` are jit functions the 2.3.1 interpreter cannot run)."""
    return [f"{var} = tl.where({var} < {lo}, {lo}, {var})",
            f"{var} = tl.where({var} > {hi}, {hi}, {var})"]


def rint(var, expr):
    """Lines setting ``var`` to ``rint(expr)`` (float32, round half to even, as torch.round /
    np.rint): ``(|y| + 2^23) - 2^23`` rounds to an integer in IEEE arithmetic (two adds: no
    contraction) for ``|y| < 2^23``; larger float32 values are integers already."""
    return [f"{var} = {expr}",
            f"ry = tl.abs({var})",
            "rr = (ry + 8388608.0) - 8388608.0",
            f"rr = tl.where({var} < 0.0, -rr, rr)",
            f"{var} = tl.where(ry < 8388608.0, rr, {var})"]


def xylo_decay(dst, var, dash):
    """Lines: ``dst = decay(var, dash)`` of :func:`snnpipe.hwmap.targets.xylo.decay` (int64)."""
    return [f"{dst} = {var} >> {dash}",
            f"{dst} = {dst} + ((({dst} == 0) & ({var} > 0)).to(tl.int64))"]
