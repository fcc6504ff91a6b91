"""Xylo-style target: limits, integer rules, the configuration and its design rules (DESIGN.md 6.2).

This module is the single source of truth for Xylo arithmetic. The rule functions use operators
and ``.clip`` only, so that they run unchanged on numpy integer arrays (the integer simulator,
``hwmap.intsim.xylo``) and on torch int64 tensors (the ``xylo`` precision of the models).

Units: every state (``Isyn``, ``Isyn2``, ``Vmem``), threshold and shifted weight is a 16-bit
signed integer in the chip's own units (no float scale); ``dash`` is a decay shift: one step
removes ``v >> dash`` (at least one unit towards zero). Time is counted in steps of ``dt`` seconds.

Semantics checked against ``xylosim.v2`` by experiment (tests/hwmap/test_xylo_sim.py):
input counts above 15 per channel and step are clipped; ``w << shift`` wraps to 16 bits; every
addition into a state saturates, in event order; aliases forward the spike count a neuron holds
when it is processed (its own spikes plus copies already received), capped at 31.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields as dc_fields
from pathlib import Path

import numpy as np

from hwmap.configio import load_config, save_config
from pipeline.errors import CapacityError, FormatError, QuantizationError, SnnpipeError, ValidationErrors

TARGET = "xylo"
STATE_BITS = 16
STATE_MIN, STATE_MAX = -(1 << (STATE_BITS - 1)), (1 << (STATE_BITS - 1)) - 1


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
    max_dash: int = 15             # 4-bit decay shifts
    bias_bits: int = 8             # signed bias; 0: no bias (Xylo v1)
    max_input_events: int = 15     # per channel per step; more are dropped
    max_hidden_spikes: int = 31    # per hidden neuron per step
    max_output_spikes: int = 1     # per output neuron per step
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


# ---- configuration ---------------------------------------------------------------------------

ARRAY_FIELDS = ("weights_in", "weights_rec", "weights_out", "dash_mem", "dash_mem_out", "dash_syn",
                "dash_syn_2", "dash_syn_out", "threshold", "threshold_out", "bias", "bias_out")
SCALAR_FIELDS = ("weight_shift_in", "weight_shift_rec", "weight_shift_out")


@dataclass
class XyloConfig:
    """A Xylo network in Rockpool's specification names; integer numpy arrays.

    Shapes: ``weights_in`` (Nin, Nhid, 2), ``weights_rec`` (Nhid, Nhid, 2), ``weights_out``
    (Nhid, Nout); ``dash_mem``, ``dash_syn``, ``dash_syn_2``, ``threshold``, ``bias`` (Nhid,);
    ``dash_mem_out``, ``dash_syn_out``, ``threshold_out``, ``bias_out`` (Nout,). ``aliases`` is a
    list per hidden neuron of alias target ids (``[]`` or ``[a]``; ``-1`` is read as ``[]``).
    ``dt`` is the step in seconds. Missing per-neuron arrays default to 0 (Rockpool's default).
    Raises FormatError naming the field on a shape or type mismatch.
    """

    weights_in: np.ndarray
    weights_out: np.ndarray
    weights_rec: np.ndarray | None = None
    dash_mem: np.ndarray | None = None
    dash_mem_out: np.ndarray | None = None
    dash_syn: np.ndarray | None = None
    dash_syn_2: np.ndarray | None = None
    dash_syn_out: np.ndarray | None = None
    threshold: np.ndarray | None = None
    threshold_out: np.ndarray | None = None
    bias: np.ndarray | None = None
    bias_out: np.ndarray | None = None
    weight_shift_in: int = 0
    weight_shift_rec: int = 0
    weight_shift_out: int = 0
    aliases: list = field(default_factory=list)
    dt: float = 1e-3

    def __post_init__(self):
        w_in = _int_array(self.weights_in, "weights_in")
        if w_in.ndim == 2:
            w_in = np.stack([w_in, np.zeros_like(w_in)], axis=-1)
        _shape(w_in, "weights_in", 3, (None, None, 2))
        n_in, n_hid, _ = w_in.shape
        w_out = _int_array(self.weights_out, "weights_out")
        _shape(w_out, "weights_out", 2, (n_hid, None))
        n_out = w_out.shape[1]
        w_rec = np.zeros((n_hid, n_hid, 2), np.int64) if self.weights_rec is None else \
            _int_array(self.weights_rec, "weights_rec")
        if w_rec.ndim == 2:
            w_rec = np.stack([w_rec, np.zeros_like(w_rec)], axis=-1)
        _shape(w_rec, "weights_rec", 3, (n_hid, n_hid, 2))
        self.weights_in, self.weights_rec, self.weights_out = w_in, w_rec, w_out
        for name in ARRAY_FIELDS[3:]:
            n = n_out if name.endswith("_out") else n_hid
            value = getattr(self, name)
            arr = np.zeros(n, np.int64) if value is None else _int_array(value, name)
            if arr.ndim == 0:
                arr = np.full(n, int(arr), np.int64)
            _shape(arr, name, 1, (n,))
            setattr(self, name, arr)
        for name in SCALAR_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise FormatError("weight shift must be an integer", field=name, found=repr(value))
            setattr(self, name, int(value))
        self.aliases = _aliases(self.aliases, n_hid)
        if not isinstance(self.dt, (int, float)) or not self.dt > 0:
            raise FormatError("time step must be a positive number of seconds", field="dt",
                              found=repr(self.dt))
        self.dt = float(self.dt)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(Nin, Nhid, Nout)."""
        return self.weights_in.shape[0], self.weights_in.shape[1], self.weights_out.shape[1]

    def to_fields(self) -> dict:
        """The plain fields saved to ``config.json``; aliases as an (Nhid,) array, -1 for none."""
        out = {name: getattr(self, name) for name in ARRAY_FIELDS + SCALAR_FIELDS}
        out["aliases"] = np.array([a[0] if len(a) == 1 else -1 for a in self.aliases], np.int64)
        if any(len(a) > 1 for a in self.aliases):
            out["aliases"] = [list(a) for a in self.aliases]
        out["dt"] = self.dt
        return out

    def save(self, path) -> Path:
        """Write ``config.json`` (+ ``config.npz``) into directory ``path``; returns the JSON path."""
        return save_config(path, TARGET, self.to_fields())

    @classmethod
    def load(cls, path) -> "XyloConfig":
        """Read a config written by :meth:`save`; FormatError names the file and the field."""
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        target, fields = load_config(path)
        if target != TARGET:
            raise FormatError("config is for another target", file=path, field="target",
                              expected=TARGET, found=target)
        missing = [n for n in ("weights_in", "weights_out") if n not in fields]
        if missing:
            raise FormatError("missing field", file=path, field=missing[0])
        known = {f.name for f in dc_fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise FormatError("unknown field", file=path, field=unknown[0], expected=sorted(known))
        try:
            return cls(**fields)
        except FormatError as e:
            raise FormatError(e.message, file=path, field=e.field, expected=e.expected,
                              found=e.found) from None


def _int_array(value, name: str) -> np.ndarray:
    """An integer-valued array as int64 (floats holding whole numbers are accepted)."""
    arr = np.asarray(value)
    integral = np.issubdtype(arr.dtype, np.integer)
    whole = np.issubdtype(arr.dtype, np.floating) and bool(np.all(np.isfinite(arr) & (arr == np.round(arr))))
    if not (integral or whole or arr.size == 0):
        raise FormatError("expected an integer array", field=name, found=str(arr.dtype))
    return arr.astype(np.int64)


def _shape(arr: np.ndarray, name: str, ndim: int, dims: tuple) -> None:
    ok = arr.ndim == ndim and all(d is None or d == s for d, s in zip(dims, arr.shape))
    if not ok:
        want = "(" + ", ".join("?" if d is None else str(d) for d in dims) + ")"
        raise FormatError("array has the wrong shape", field=name, expected=want, found=arr.shape)


def _aliases(value, n_hid: int) -> list:
    if value is None or (isinstance(value, (list, tuple)) and len(value) == 0):
        return [[] for _ in range(n_hid)]
    if len(value) != n_hid:
        raise FormatError("one alias entry per hidden neuron", field="aliases", expected=n_hid,
                          found=len(value))
    out = []
    for i, a in enumerate(value):
        targets = [int(a)] if np.ndim(a) == 0 else [int(x) for x in a]
        targets = [t for t in targets if t != -1]
        if any(not 0 <= t < n_hid for t in targets):
            raise FormatError("alias target out of range", field=f"aliases[{i}]",
                              expected=f"0..{n_hid - 1} or -1", found=targets)
        out.append(targets)
    return out


# ---- design rules ----------------------------------------------------------------------------

def rule_input_count(c: XyloConfig, lim: XyloLimits) -> None:
    """At most ``n_in`` input channels."""
    if c.shape[0] > lim.n_in:
        raise CapacityError("too many input channels", where="input", field="weights_in",
                            expected=f"<= {lim.n_in}", found=c.shape[0])


def rule_hidden_count(c: XyloConfig, lim: XyloLimits) -> None:
    """At most ``n_hidden`` hidden neurons."""
    if c.shape[1] > lim.n_hidden:
        raise CapacityError("too many hidden neurons", where="hidden", field="weights_rec",
                            expected=f"<= {lim.n_hidden}", found=c.shape[1])


def rule_output_count(c: XyloConfig, lim: XyloLimits) -> None:
    """At most ``n_out`` output neurons."""
    if c.shape[2] > lim.n_out:
        raise CapacityError("too many output neurons", where="output", field="weights_out",
                            expected=f"<= {lim.n_out}", found=c.shape[2])


def rule_synapses(c: XyloConfig, lim: XyloLimits) -> None:
    """Only ``n_syn`` synaptic currents per hidden neuron carry weights."""
    for name in ("weights_in", "weights_rec"):
        used = np.flatnonzero(np.any(getattr(c, name) != 0, axis=(0, 1)))
        if used.size and used.max() >= lim.n_syn:
            raise CapacityError("weights on a synaptic current the chip lacks", where="hidden",
                                field=name, expected=f"synapse index < {lim.n_syn}",
                                found=int(used.max()))


def rule_weight_range(c: XyloConfig, lim: XyloLimits) -> None:
    """Weights are signed ``weight_bits`` integers."""
    lo, hi = lim.weight_range
    for name in ("weights_in", "weights_rec", "weights_out"):
        _in_range(getattr(c, name), name, lo, hi)


def rule_weight_shift(c: XyloConfig, lim: XyloLimits) -> None:
    """Weight shifts are 0..``max_weight_shift``."""
    for name in SCALAR_FIELDS:
        _in_range(np.array(getattr(c, name)), name, 0, lim.max_weight_shift)


def rule_dash_range(c: XyloConfig, lim: XyloLimits) -> None:
    """Decay shifts are 0..``max_dash``."""
    for name in ("dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out"):
        _in_range(getattr(c, name), name, 0, lim.max_dash)


def rule_threshold_range(c: XyloConfig, lim: XyloLimits) -> None:
    """Thresholds are positive 16-bit values (a threshold <= 0 fires at the spike cap)."""
    for name in ("threshold", "threshold_out"):
        _in_range(getattr(c, name), name, 1, STATE_MAX)


def rule_bias_range(c: XyloConfig, lim: XyloLimits) -> None:
    """Biases are signed ``bias_bits`` integers; all zero on a chip without bias."""
    lo, hi = lim.bias_range
    for name in ("bias", "bias_out"):
        _in_range(getattr(c, name), name, lo, hi)


def rule_aliases(c: XyloConfig, lim: XyloLimits) -> None:
    """At most ``max_alias_targets`` alias targets per hidden neuron, never itself."""
    for i, targets in enumerate(c.aliases):
        if len(targets) > lim.max_alias_targets:
            raise CapacityError("too many alias targets", where=f"hidden neuron {i}",
                                field="aliases", expected=f"<= {lim.max_alias_targets}",
                                found=len(targets))
        if i in targets:
            raise CapacityError("a neuron cannot alias itself", where=f"hidden neuron {i}",
                                field="aliases", expected="another neuron", found=targets)


def rule_fanout(c: XyloConfig, lim: XyloLimits) -> None:
    """Each hidden neuron projects to at most ``max_fanout`` hidden neurons."""
    fan = np.any(c.weights_rec != 0, axis=2).sum(axis=1)
    if fan.size and fan.max() > lim.max_fanout:
        i = int(np.argmax(fan))
        raise CapacityError("recurrent fan-out too large", where=f"hidden neuron {i}",
                            field="weights_rec", expected=f"<= {lim.max_fanout}", found=int(fan[i]))


def _in_range(arr, name: str, lo: int, hi: int) -> None:
    arr = np.asarray(arr)
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        pop = "output" if name.endswith("_out") else ("input" if name.endswith("_in") else "hidden")
        raise QuantizationError("value out of range", where=f"{pop} {idx}" if idx else pop,
                                field=name, expected=f"{lo}..{hi}", found=int(arr[bad][0]))


RULES = [rule_input_count, rule_hidden_count, rule_output_count, rule_synapses, rule_weight_range,
         rule_weight_shift, rule_dash_range, rule_threshold_range, rule_bias_range, rule_aliases,
         rule_fanout]


def check(config: XyloConfig, limits: XyloLimits = XYLO_AUDIO2) -> list[SnnpipeError]:
    """Run every rule of :data:`RULES`; returns the errors raised (empty when the config fits)."""
    errors = []
    for rule in RULES:
        try:
            rule(config, limits)
        except SnnpipeError as e:
            e.rule = rule.__name__
            errors.append(e)
    return errors


def validate(config: XyloConfig, limits: XyloLimits = XYLO_AUDIO2) -> None:
    """Raise :class:`ValidationErrors` listing every rule that fails."""
    errors = check(config, limits)
    if errors:
        raise ValidationErrors(errors)


_LAZY = {"GRAPH_RULES": "xylo_map", "quantize_and_map": "xylo_map", "QuantReport": "xylo_map",
         "resource_report": "xylo_report", "report_text": "xylo_report"}


def __getattr__(name: str):
    """Lazy re-exports of the target's other modules (they import this one)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"hwmap.targets.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
