"""Xylo-style target: limits, number formats and the integer rules (DESIGN.md 6.2).

This module is the single source of truth for Xylo arithmetic. The rule functions use operators
and ``.clip`` only, so that they run unchanged on numpy integer arrays (the integer simulator,
``snnpipe.hwmap.intsim.xylo``) and on torch int64 tensors (the ``xylo`` precision of the models).

Units: every state (``Isyn``, ``Isyn2``, ``Vmem``), threshold and shifted weight is a 16-bit
signed integer in the chip's own units (no float scale); ``dash`` is a decay shift: one step
removes ``v >> dash`` (at least one unit towards zero). Time is counted in steps of ``dt`` seconds.

Semantics checked against ``xylosim.v2`` by experiment (tests/hwmap/test_xylo_sim.py):
input counts above 15 per channel and step are clipped; ``w << shift`` wraps to 16 bits; every
addition into a state saturates, in event order; aliases forward the spike count a neuron holds
when it is processed (its own spikes plus copies already received), capped at 31.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


TARGET = "xylo"
STATE_BITS = 16
STATE_MIN, STATE_MAX = -(1 << (STATE_BITS - 1)), (1 << (STATE_BITS - 1)) - 1
MAX_INPUT_EVENTS = 15       # input events per channel and step; more are dropped
HIDDEN_CAP = 31             # spikes per hidden neuron and step
OUTPUT_CAP = 1              # spikes per output neuron and step
MAX_DASH = 15               # 4-bit decay shifts

# The models' ``xylo`` precision (quantisation-aware training) in float units: a state unit is
# 1/UNIT of a float unit; int8 weights are in 1/WEIGHT_UNIT and enter the state shifted left by
# WEIGHT_SHIFT (log2(UNIT / WEIGHT_UNIT)).
UNIT = 1024.0
WEIGHT_UNIT = 64.0
WEIGHT_SHIFT = 4


@dataclass(frozen=True)
class XyloLimits:
    """Resources and number formats of a Xylo chip (defaults: Xylo Audio 2, SYNS61201)."""

    name: str = "xylo-audio2"
    n_in: int = 16                 # input channels
    n_hidden: int = 1000           # hidden neurons
    n_out: int = 8                 # output neurons
    n_syn: int = 2                 # synaptic currents per hidden neuron (outputs have one)
    weight_bits: int = 8           # signed weights
    max_weight_shift: int = 7      # one left shift each for input / recurrent / output weights
    max_dash: int = MAX_DASH       # 4-bit decay shifts
    bias_bits: int = 8             # signed bias; 0: no bias (Xylo v1)
    max_input_events: int = MAX_INPUT_EVENTS
    max_hidden_spikes: int = HIDDEN_CAP
    max_output_spikes: int = OUTPUT_CAP
    max_fanout: int = 64           # recurrent target neurons per hidden neuron (not in xylosim)
    max_alias_targets: int = 1     # per hidden neuron

    @property
    def has_bias(self) -> bool:
        return self.bias_bits > 0

    @property
    def weight_range(self) -> tuple[int, int]:
        return -(1 << (self.weight_bits - 1)), (1 << (self.weight_bits - 1)) - 1

    @property
    def bias_range(self) -> tuple[int, int]:
        return (-(1 << (self.bias_bits - 1)), (1 << (self.bias_bits - 1)) - 1) if self.has_bias else (0, 0)


XYLO_AUDIO2 = XyloLimits()
XYLO_V1 = XyloLimits(name="xylo-v1", bias_bits=0)


# ---- integer rules (numpy int arrays and torch int64 tensors) --------------------------------

def sat16(x):
    """Saturate to the 16-bit state range [-32768, 32767]."""
    return x.clip(STATE_MIN, STATE_MAX)


def wrap16(x):
    """Two's complement wrap to 16 bits: ``((x + 2^15) mod 2^16) - 2^15``."""
    return ((x - STATE_MIN) & 0xFFFF) + STATE_MIN


def decay(v, dash):
    """Amount removed by one step of decay: ``v >> dash`` (floor), or ``sign(v)`` where that is 0.

    Negative values decay slightly faster (floor; ``v >> dash`` is never 0 for ``v < 0``);
    ``dash = 0`` removes everything.
    """
    d = v >> dash
    return d + ((d == 0) & (v > 0))


def decay_shift(decay) -> np.ndarray:
    """The decay shift ``dash`` (0..15) that the models' ``xylo`` precision gives a float decay
    (fraction lost per step): ``round(-log2(decay))``, so that a step removes ``v >> dash``,
    about ``2^-dash`` of v. numpy, float64; ``2^-dash`` is the decay it computes."""
    d = np.clip(np.asarray(decay, np.float64), 2.0 ** -MAX_DASH, 1.0)
    return np.clip(np.round(-np.log2(d)), 0, MAX_DASH).astype(np.int64)


def shifted_weight(w, shift: int):
    """Weight as added to a state: ``wrap16(w << shift)``."""
    return wrap16(w << shift)


def current_step(i_syn, dash):
    """Leak of a synaptic current after this step's events: ``I - decay(I, dash)``."""
    return i_syn - decay(i_syn, dash)


def membrane_step(v, i_total, dash_mem, bias=None):
    """``dV = sat(wrap16(-decay(V)) + I1 + I2)``, ``dV = sat(dV + bias)``, ``V = sat(V + dV)``.

    ``i_total`` is ``I1 + I2`` (each within 16 bits); ``bias=None`` skips the bias addition.
    Xylo Audio 2; Xylo v1 saturates once instead: :func:`membrane_step_v1`.
    """
    dv = sat16(wrap16(-decay(v, dash_mem)) + i_total)
    if bias is not None:
        dv = sat16(dv + bias)
    return sat16(v + dv)


def membrane_step_v1(v, i_total, dash_mem):
    """Xylo v1 (no bias): ``V = sat(V - decay(V, dash_mem) + I1 + I2)``, one saturation."""
    return sat16(v - decay(v, dash_mem) + i_total)


def spike_count(v, threshold, room):
    """Spikes a neuron emits this step: ``while V >= theta and n < cap: n += 1; V -= theta``.

    ``room`` is the cap (31 hidden, 1 output) minus the spikes already counted (alias copies);
    an int or an array like ``v``. Returns ``(n, v)``: the neuron's own spikes and the membrane
    after subtractive reset. A threshold <= 0 fires ``room`` times whenever ``V >= theta`` and
    raises V (as xylosim does).
    """
    pos, nonpos = threshold > 0, threshold <= 0
    n = (v // (threshold * pos + nonpos * 1)) * pos + (v >= threshold) * nonpos * room
    n = n.clip(0, None).clip(None, room)
    return n, sat16(v - n * threshold)


def spike_count_positive(v, threshold, room):
    """:func:`spike_count` for thresholds > 0 only: ``n = clip(V // theta, 0, room)``."""
    n = (v // threshold).clip(0, None).clip(None, room)
    return n, v - n * threshold


def spike_count_numpy(v: np.ndarray, threshold_f32: np.ndarray, threshold: np.ndarray, room):
    """:func:`spike_count_positive` for numpy int32 arrays, several times faster.

    ``V // theta`` is computed as ``trunc(float32(V) / float32(theta))`` (negative quotients
    are clipped to 0 anyway): exact for 16-bit V and theta >= 1, because a non-integer quotient
    lies at least ``1/|V| >= 2^-15`` (relative) from the next integer, far above float32's 2^-24.
    """
    n = np.minimum(np.maximum((v / threshold_f32).astype(np.int32), 0), room)
    return n, v - n * threshold
