"""Loihi-style synaptic weight formats (DESIGN.md 5.2, 6.1), numpy only.

A projection's weights are stored as 8-bit mantissas with a shared ``num_weight_bits`` and
``weight_exp``. Lava's fixed-point Dense processes them once (:func:`effective_weights`: sign
mode, clip, truncation of ``8 - num_weight_bits + mixed`` low bits) and every step emits
``shift(sum of effective weights of the active inputs, weight_exp)`` (:func:`shift_exp`, floor
for a negative exponent). Network weights are integers in 1/64 of the float weight
(:func:`snnpipe.hwmap.targets.loihi.weight_to_int`); :func:`weight_format` finds a mantissa/exponent
pair that reproduces them exactly, avoiding netx's ``optimize_weight_bits`` defects (an
all-non-positive layer with -256 loses precision; an all-zero layer crashes).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIXED, EXCITATORY, INHIBITORY = "mixed", "excitatory", "inhibitory"
MANTISSA_BITS = 8


def sign_mode(weights, implicit_zero: bool = False) -> str:
    """Lava's ``determine_sign_mode``: excitatory if min >= 0, inhibitory if max <= 0, else mixed.

    ``implicit_zero`` adds a 0 to the values (the off-diagonal of an identity projection).
    """
    w = np.asarray(weights)
    lo = min(int(w.min()) if w.size else 0, 0 if implicit_zero else 1 << 30)
    hi = max(int(w.max()) if w.size else 0, 0 if implicit_zero else -(1 << 30))
    if lo >= 0:
        return EXCITATORY
    if hi <= 0:
        return INHIBITORY
    return MIXED


def effective_weights(mantissa, num_weight_bits: int = 8, mode: str | None = None) -> np.ndarray:
    """The weights Lava's fixed-point Dense uses: clip by sign mode, then ``(W >> k) << k``.

    Mixed: clip to [-256, 255], ``k = 9 - num_weight_bits``; excitatory: [0, 255],
    ``k = 8 - num_weight_bits``; inhibitory: [-255, 0], truncation on the magnitude.
    Returns int64 of the same shape.
    """
    w = np.asarray(mantissa, dtype=np.int64)
    mode = mode or sign_mode(w)
    k = MANTISSA_BITS - int(num_weight_bits) + (mode == MIXED)
    if mode == INHIBITORY:
        return -((np.clip(-w, 0, 255) >> k) << k)
    lo = -256 if mode == MIXED else 0
    return (np.clip(w, lo, 255) >> k) << k


def shift_exp(acc, weight_exp: int):
    """``acc << weight_exp``, or ``acc >> -weight_exp`` (floor) for a negative exponent."""
    return acc << weight_exp if weight_exp > 0 else acc >> (-weight_exp)


@dataclass(frozen=True)
class WeightFormat:
    """One projection's weight realisation.

    ``mantissa`` int64 (shape of the weights), ``num_weight_bits`` 1..8, ``weight_exp`` (the
    Dense output is shifted by it), ``mode`` the sign mode Lava will infer, ``effective`` the
    integer weights in 1/64 units actually applied (``effective_weights(mantissa) << exp`` for
    exp >= 0), ``exact`` whether they equal the requested ones.
    """

    mantissa: np.ndarray
    num_weight_bits: int
    weight_exp: int
    mode: str
    effective: np.ndarray
    exact: bool


def trailing_zeros(values) -> int:
    """Number of low zero bits shared by all non-zero ``values`` (8 when all are zero)."""
    v = np.abs(np.asarray(values, dtype=np.int64))
    v = v[v != 0]
    if v.size == 0:
        return MANTISSA_BITS
    tz = 0
    while tz < MANTISSA_BITS and not np.any(v & (1 << tz)):
        tz += 1
    return tz


def weight_format(w_int, max_weight_bits: int = 8, implicit_zero: bool = False) -> WeightFormat:
    """Realise integer weights (1/64 units, normally even in [-256, 254]) in Lava's Dense format.

    Chooses the smallest ``weight_exp >= 0`` such that the mantissas ``w >> weight_exp`` fit the
    sign mode's range and then the fewest ``num_weight_bits`` that keep them exact. When more
    than ``max_weight_bits`` bits are needed the mantissas are rounded (half to even) to the
    available bits, and ``exact`` is False. An all-zero projection gets mantissa 0, 1 bit.
    """
    w = np.asarray(w_int, dtype=np.int64)
    mode = sign_mode(w, implicit_zero)
    mixed = int(mode == MIXED)
    lo, hi = {MIXED: (-256, 255), EXCITATORY: (0, 255), INHIBITORY: (-255, 0)}[mode]
    exp = 0
    while exp < 30 and (w.min(initial=0) >> exp < lo or w.max(initial=0) >> exp > hi):
        exp += 1
    mant = _round_shift(w, exp)
    mant = np.clip(mant, lo, hi)
    tz = trailing_zeros(mant)
    bits = max(1, MANTISSA_BITS + mixed - tz)
    if bits > max_weight_bits:
        k = MANTISSA_BITS + mixed - max_weight_bits
        mant = np.clip(_round_shift(mant, k) << k, lo, hi)
        mant = (mant >> k) << k if mode != INHIBITORY else -((-mant >> k) << k)
        bits = max_weight_bits
    eff = shift_exp(effective_weights(mant, bits, mode), exp)
    return WeightFormat(mant, int(bits), int(exp), mode, eff, bool(np.array_equal(eff, w)))


def _round_shift(w: np.ndarray, k: int) -> np.ndarray:
    """``w / 2^k`` rounded half to even, as int64."""
    if k == 0:
        return w.copy()
    return np.rint(w / float(1 << k)).astype(np.int64)
