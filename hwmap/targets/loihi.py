"""Loihi-style target: number formats, limits and the integer neuron rule (DESIGN.md 5.1, 6.1).

This module is the single source of truth for Loihi-style arithmetic. The rule functions are
written with operators only (``*``, ``>>``, comparisons, ``.clip``) so that they run unchanged
on numpy integer arrays (the integer simulator) and on torch int64 tensors (the ``loihi``
precision of the models).

Units: currents ``u`` and voltage ``v`` are integers in 1/4096 of the float unit (that is,
weights in 1/64 units shifted left by 6); decays are 12-bit integers ``0..4096`` giving the
amount removed per step in 1/4096 (netx's ``iDecay``/``vDecay``; Lava's ``du = iDecay - 1``).

The other facts of the target sit beside it: weight formats (:mod:`.loihi_weights`) and the
design rules over a Graph (:mod:`.loihi_rules`); the quantiser, the configuration and the
mapper are in :mod:`snnpipe.hwmap.mappers` (``loihi_quant``, ``loihi_config``, ``loihi_map``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnpipe.pipeline.ir.errors import QuantizationError

DECAY_BITS = 12
DECAY_UNIT = 1 << DECAY_BITS          # 4096: decays are in 1/4096 per step
STATE_BITS = 24                       # u and v registers
U_WRAP = 1 << STATE_BITS              # u wraps modulo 2^24 ...
U_HALF = 1 << (STATE_BITS - 1)        # ... into (-2^23, 2^23]
V_MAX = (1 << (STATE_BITS - 1)) - 1   # v saturates to [-V_MAX, V_MAX]
WEIGHT_UNIT = 64                      # weights are integers in 1/64 of the float weight
ACTIVATION_SHIFT = 6                  # a_in << 6 enters u; vth << 6 is the threshold
WEIGHT_MIN, WEIGHT_MAX = -256, 254    # netx / slayer weight range (even integers)
MAX_DELAY = 62                        # steps, DelayDense


VTH_MAX = (1 << 17) - 1               # Lava LIF vth: unsigned 17 bit
BIAS_MANT_MIN, BIAS_MANT_MAX = -4096, 4095   # Lava LIF bias_mant: signed 13 bit
BIAS_EXP_MAX = 7                      # bias_exp: 3 bit
ACTIVATION_MAX = (1 << 23) - 1        # |a| per step: Conv wraps a_out at 24 bits
MAX_SPIKES = 31                       # spikes per step of a multi-spike (custom) neuron
GRADED_BITS = 24                      # payload of a graded CUBA spike: the 24-bit voltage
SD_SPIKE_EXP = 6                      # sigma-delta (netx SDNN): messages in 2^-(6 + spike_exp)
SD_STATE_EXP = 6                      # ... states in 2^-(6 + spike_exp + state_exp) float units
SD_EXP_MAX = 7                        # Lava: spike_exp and state_exp are 3-bit
SD_MESSAGE_BITS = 16                  # netx's default messageBits of an SDNN layer
# the states of each sigma-delta stage (the Var names of Lava's SigmaDelta, Delta and Sigma)
SD_STATES = {"sigma_delta": ("sigma", "act", "residue"), "delta": ("act", "residue"),
             "sigma": ("sigma",)}
RF_DECAY_BITS = 12                    # resonate-and-fire: (1 - decay) sin/cos(phi) in 1/4096
RF_DECAY_MAX = (1 << RF_DECAY_BITS) - 1   # ... unsigned 12 bit (Lava's RF: uint16, precision 12)
RF_STATES = ("real", "imag")          # the states of Lava's RF and RF_IZ


@dataclass(frozen=True)
class LoihiLimits:
    """Resource limits of a Loihi-style chip (defaults modelled on Loihi 2), all configurable.

    Synapse memory cost model (bits, see ``hwmap/mappers/loihi_map.py``): every stored synapse
    costs its weight bits plus ``delay_bits`` when its projection has delays; a projection is
    stored densely or, when cheaper, sparsely with ``index_bits`` more per synapse; every source
    neuron (axon) that reaches a core costs ``axon_bits``; a conv kernel is stored once per core.
    ``max_delay`` is 62 as netx clamps (Lava's DelayDense accepts 0..63).
    """

    cores_per_chip: int = 128
    max_chips: int = 1
    neurons_per_core: int = 8192
    synapse_memory_bytes: int = 128 * 1024
    max_weight_bits: int = 8
    max_delay: int = MAX_DELAY
    max_n_syn: int = 4
    max_fan_in: int = 1 << 16
    index_bits: int = 13
    axon_bits: int = 32
    delay_bits: int = 6


def trunc_shift(p, k: int):
    """``trunc0(p / 2**k)``: arithmetic shift that rounds toward zero. Works on numpy and torch ints."""
    return (p + (p < 0) * ((1 << k) - 1)) >> k


def decay(x, amount):
    """``trunc0(x * (4096 - amount) / 4096)``: one step of decay by ``amount`` (0..4096) in 1/4096."""
    return trunc_shift(x * (DECAY_UNIT - amount), DECAY_BITS)


def wrap_current(u):
    """The 24-bit wrap of the current register: ``u > 2^23 -> u - 2^24``, ``u <= -2^23 -> u + 2^24``."""
    return u - (u > U_HALF) * U_WRAP + (u <= -U_HALF) * U_WRAP


def saturate_voltage(v):
    """The 24-bit saturation of the voltage register: clip to [-(2^23 - 1), 2^23 - 1]."""
    return v.clip(-V_MAX, V_MAX)


def bias_value(bias_mant, bias_exp: int):
    """``bias_mant << bias_exp`` (floor shift right for a negative exponent)."""
    return bias_mant << bias_exp if bias_exp >= 0 else bias_mant >> (-bias_exp)


def bias_array(bias_mant, bias_exp):
    """Per-neuron bias in state units: ``bias_mant << bias_exp`` (floor shift for exp < 0), numpy."""
    m, e = np.asarray(bias_mant, np.int64), np.asarray(bias_exp, np.int64)
    return np.where(e >= 0, m << np.maximum(e, 0), m >> np.maximum(-e, 0))


def wrap_activation(a):
    """Lava Conv's 24-bit wrap of its output: ``(a + 2^23) mod 2^24 - 2^23`` (numpy or torch
    integers; the mod of a power of two is a bit mask in two's complement)."""
    return ((a + U_HALF) & (U_WRAP - 1)) - U_HALF


def current_step(u, a, i_decay):
    """One step of one synaptic current: ``wrap(trunc0(u * (4096 - i_decay) / 4096) + (a << 6))``.

    ``i_decay`` is netx's ``iDecay`` (Lava ``du + 1``); ``a`` the integer Dense output this step.
    """
    return wrap_current(decay(u, i_decay) + (a << ACTIVATION_SHIFT))


def voltage_step(v, u_total, v_decay, bias):
    """``clip(trunc0(v * (4096 - v_decay) / 4096) + u_total + bias)`` to 24 bits."""
    return saturate_voltage(decay(v, v_decay) + u_total + bias)


def reset_due(step, interval, offset):
    """Whether a population sets u and v to zero at the start of ``step`` (1-based, Lava's
    ``time_step``), before that step's decay and input, as Lava's ``LIFReset``:
    ``step % interval == offset`` with ``interval`` > 0 steps (0: never) and ``offset`` in
    ``0..interval - 1``. Scalars or numpy int arrays (per neuron), element-wise."""
    interval = np.asarray(interval)
    return (interval > 0) & (step % np.maximum(interval, 1) == np.asarray(offset))


def threshold_value(vth_mant):
    """Threshold in state units: ``vth_mant << 6``."""
    return vth_mant << ACTIVATION_SHIFT


def spike_and_reset(v, theta):
    """Strict threshold ``v > theta``; reset to zero where spiking. Returns ``(spikes, v)``."""
    s = v > theta
    return s, v * (~s)


def graded_payload(v, spikes):
    """The messages of a graded CUBA population (slayer's ``graded_spike``; a Loihi 2 graded
    spike of :data:`GRADED_BITS`): the pre-reset voltage ``v`` (state units, 1/4096) where the
    neuron spikes, 0 elsewhere. numpy or torch integers."""
    return v * spikes


def graded_input(a_shifted, acc):
    """The input of one current in one step when graded CUBA payloads arrive:
    ``trunc0(((a_shifted << 6) + acc) / 64)`` in state units, with ``a_shifted`` the sum of
    the binary and count inputs already shifted (``a << 6``, state units) and ``acc`` the sum
    over every graded projection into the current that step of ``sum_j w_j p_j`` (weights in
    1/64, payloads in 1/4096: ``acc`` in 1/2^18). The whole step's input is truncated once, as
    slayer's forward does (``trunc(4096 * x)`` of the summed weighted input, ``s = v / 4096``);
    ``acc`` is kept whole (no 24-bit wrap, also through a conv: slayer has none). Without
    graded input (``acc = 0``) it is ``a_shifted``. numpy or torch integers."""
    return trunc_shift((a_shifted << ACTIVATION_SHIFT) + acc, ACTIVATION_SHIFT)


def spike_count(v, theta):
    """Spikes of a multi-spike neuron (a Loihi 2 custom neuron): the number of thresholds ``v``
    exceeds, strictly, ``ceil(v / theta) - 1`` for ``v > theta``, at most :data:`MAX_SPIKES`
    (0 otherwise). ``theta > 0`` in state units; numpy or torch integers."""
    return ((v - 1) // theta.clip(1, None)).clip(1, MAX_SPIKES) * (v > theta)


def sigma_delta_step(a, sigma, act, residue, bias, theta, *, stage: str, relu: bool,
                     in_shift: int, state_exp: int):
    """One step of a sigma-delta population, as Lava's fixed-point SigmaDelta, Delta and Sigma
    (``stage`` ``sigma_delta``, ``delta``, ``sigma``; numpy or torch integers, element-wise).

    ``a``: the integer input of the step (Dense/Conv output; for ``delta`` the input in 1/64
    float units, shifted left by ``in_shift = spike_exp + state_exp`` into state units);
    ``bias``, ``theta``: ``mant << (spike_exp + state_exp)`` in state units. Then::

        x = sigma = sigma + a           (sigma_delta, sigma)     x = a << in_shift   (delta)
        new = relu(x + bias) | x + bias
        sigma:  message = new
        else:   d = new - act + residue;  s = d if |d| >= theta else 0;  residue = d - s
                message = s >> state_exp  (floor: the low bits are lost, not kept in residue)

    Returns ``(message, sigma, act, residue)`` with ``act = new``. Lava holds these states in
    int32; values beyond 2^31 (which wrap there) are not modelled.
    """
    if stage == "delta":
        x = a << in_shift
    else:
        sigma = sigma + a
        x = sigma
    new = x + bias
    if relu:
        new = new.clip(0, None)
    if stage == "sigma":
        return new, sigma, new, residue
    d = new - act + residue
    s = d * (abs(d) >= theta)
    return s >> state_exp, sigma, new, d - s


def rf_decays_to_int(period, decay):
    """Float ``period`` (steps) and ``decay`` (fraction of the magnitude lost per step) ->
    ``(sin_decay, cos_decay)`` int64, ``int32((1 - decay) * sin|cos(2 pi / period) * 4096)``
    (truncation), with the float operations of Lava's ``RF`` process, which netx builds."""
    alpha, period = np.asarray(decay, np.float64), np.asarray(period, np.float64)
    sin_decay = (1 - alpha) * np.sin(np.pi * 2 * 1 / period)
    cos_decay = (1 - alpha) * np.cos(np.pi * 2 * 1 / period)
    return (np.int32(sin_decay * (1 << RF_DECAY_BITS)).astype(np.int64),
            np.int32(cos_decay * (1 << RF_DECAY_BITS)).astype(np.int64))


def rf_decays_from_int(sin_decay, cos_decay) -> tuple[np.ndarray, np.ndarray]:
    """``(period, decay)`` float64 of integer ``sin_decay``, ``cos_decay`` (1/4096), as lava-dl
    computes them (``slayer.neuron.rf.neuron_params``, which netx calls)."""
    s = np.asarray(sin_decay, np.float64) / (1 << RF_DECAY_BITS)
    c = np.asarray(cos_decay, np.float64) / (1 << RF_DECAY_BITS)
    decay = 1 - np.sqrt(s ** 2 + c ** 2)
    frequency = np.arctan2(s, c) / 2 / np.pi
    with np.errstate(divide="ignore"):
        return 1 / frequency, decay


def rf_step(x_real, x_imag, real, imag, sin_decay, cos_decay, theta, *, izhikevich: bool):
    """One step of a resonate-and-fire population as Lava's fixed-point ``RF`` (phase) and
    ``RF_IZ`` (``izhikevich``) (numpy or torch integers, element-wise).

    ``x_real``, ``x_imag``: the input of the step in state units (the Dense output shifted left
    by 6, Lava's ``state_exp``); ``real``, ``imag``: last step's state; ``sin_decay``,
    ``cos_decay``: 12-bit integers (:func:`rf_decays_to_int`); ``theta = vth << 6``. Then,
    with ``t(p) = trunc0(p / 4096)`` and a 24-bit saturation ``clip``::

        re = clip(t(cos * real) - t(sin * imag) + x_real)
        im = clip(t(sin * real) + t(cos * imag) + x_imag)
        phase:       s = re >= theta and im >= 0 and imag < 0
        izhikevich:  s = im >= theta;  where s: re = 0, im = theta - 1

    Returns ``(spikes, real, imag)``; spikes boolean.
    """
    re = (trunc_shift(cos_decay * real, RF_DECAY_BITS) - trunc_shift(sin_decay * imag, RF_DECAY_BITS)
          + x_real).clip(-V_MAX, V_MAX)
    im = (trunc_shift(sin_decay * real, RF_DECAY_BITS) + trunc_shift(cos_decay * imag, RF_DECAY_BITS)
          + x_imag).clip(-V_MAX, V_MAX)
    if not izhikevich:
        return (re >= theta) & (im >= 0) & (imag < 0), re, im
    s = im >= theta
    return s, re * ~s, s * (theta - 1) + ~s * im


def _trunc12_inplace(p, tmp) -> None:
    """``p = trunc0(p / 4096)`` in place (numpy int64): ``(p + (4095 if p < 0)) >> 12``."""
    np.right_shift(p, 63, out=tmp)
    np.bitwise_and(tmp, DECAY_UNIT - 1, out=tmp)
    np.add(p, tmp, out=p)
    np.right_shift(p, DECAY_BITS, out=p)


def neuron_step_inplace(x, a_shifted, keep, bias, theta, tmp, v_pre=None):
    """One step of :func:`current_step` (per current), :func:`voltage_step` and
    :func:`spike_and_reset`, bit-identical, in place on numpy int64 arrays (the integer
    simulator's fast path).

    ``x`` (n_syn + 1, B, N): the currents ``u_k`` then ``v``; ``a_shifted`` (n_syn, B, N): the
    Dense input of the step already shifted, ``a << 6``; ``keep`` (n_syn + 1, 1, N):
    ``4096 - i_decay_k`` then ``4096 - v_decay``; ``bias``, ``theta`` (N,) in state units
    (a theta of ``V_MAX`` never spikes); ``tmp`` scratch like ``x``; ``v_pre`` (B, N), when
    given, receives the pre-reset voltage (graded payloads). Returns spikes, bool (B, N).
    """
    np.multiply(x, keep, out=x)                          # both decays use last step's values
    _trunc12_inplace(x, tmp)
    u, v = x[:-1], x[-1]
    np.add(u, a_shifted, out=u)
    np.subtract(u, U_WRAP, out=u, where=u > U_HALF)      # a single correction, as Lava
    np.add(u, U_WRAP, out=u, where=u <= -U_HALF)
    for k in range(u.shape[0]):
        np.add(v, u[k], out=v)
    np.add(v, bias, out=v)
    np.maximum(v, -V_MAX, out=v)
    np.minimum(v, V_MAX, out=v)
    s = v > theta
    if v_pre is not None:
        np.copyto(v_pre, v)
    np.copyto(v, 0, where=s)
    return s


def bias_to_int(bias, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Float bias (N,) -> (mantissa, exponent) int64 (N,), ``mant << exp ~= 4096 * bias``.

    Uses the smallest exponent in 0..7 whose mantissa fits 13 signed bits.

    Raises:
        QuantizationError: when ``|4096 * bias|`` exceeds ``4095 << 7``.
    """
    b = np.rint(np.asarray(bias, np.float64) * DECAY_UNIT)
    mant = b.astype(np.int64)
    exp = np.zeros(b.shape, np.int64)
    todo = (mant < BIAS_MANT_MIN) | (mant > BIAS_MANT_MAX)
    for e in range(1, BIAS_EXP_MAX + 1):
        m = np.rint(b / (1 << e)).astype(np.int64)
        mant = np.where(todo, m, mant)
        exp = np.where(todo, e, exp)
        todo = (mant < BIAS_MANT_MIN) | (mant > BIAS_MANT_MAX)
    if np.any(todo):
        raise QuantizationError("bias too large for 13-bit mantissa and 3-bit exponent",
                                where=where, field="bias",
                                expected=f"|bias| <= {(BIAS_MANT_MAX << BIAS_EXP_MAX) / DECAY_UNIT}",
                                found=float(np.abs(bias).max()))
    return mant, exp


def decay_to_int(fraction):
    """Float decay (fraction lost per step, 0..1) -> 12-bit integer, round half to even (SLAYER)."""
    return np.rint(np.asarray(fraction, dtype=np.float64) * DECAY_UNIT).astype(np.int64)


def threshold_to_int(threshold):
    """Float threshold -> mantissa ``int(64 * threshold)`` (truncation, as SLAYER exports)."""
    return np.trunc(np.asarray(threshold, dtype=np.float64) * WEIGHT_UNIT).astype(np.int64)


def weight_to_int(weight):
    """Float weights -> even integers in [-256, 254] (1/64 units), SLAYER's round-half-even to 1/32."""
    w = np.rint(np.asarray(weight, dtype=np.float64) * (WEIGHT_UNIT // 2)) * 2
    return np.clip(w, WEIGHT_MIN, WEIGHT_MAX).astype(np.int64)
