"""The Loihi-style quantiser: float Graph -> integer populations and projections (DESIGN 6.1).

Float units follow SLAYER (DESIGN 3): decays are fractions lost per step, threshold and bias are
in units of the weighted input, weights are floats. Integers: weights in 1/64 units
(:func:`weight_to_int`) realised per projection by :func:`weight_format`; decays 12 bit
(:func:`decay_to_int`); threshold mantissa (:func:`threshold_to_int`); bias ``mant << exp`` in
state units (1/4096). Merge nodes are lowered by duplicating projections: each path
``src -identity-> merge -op-> dst`` becomes one projection ``src -op-> dst`` whose weight is
the composition and whose delay is the sum.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnpipe.hwmap.targets.loihi import (DECAY_UNIT, GRADED_BITS, rf_decays_to_int,
                                         WEIGHT_MAX, WEIGHT_MIN, WEIGHT_UNIT,
                                         LoihiLimits, bias_to_int, decay_to_int, threshold_to_int,
                                         weight_to_int)
from snnpipe.hwmap.mappers.loihi_config import Population, Projection
from snnpipe.hwmap.targets.loihi_weights import weight_format
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError

STATE_UNIT = DECAY_UNIT  # u, v, bias: 1/4096 of the float unit


@dataclass
class QuantReport:
    """What quantisation lost. ``projections``/``populations``: one dict each (JSON-ready)."""

    projections: list = field(default_factory=list)
    populations: list = field(default_factory=list)

    @property
    def all_zero(self) -> list:
        """``src -> dst`` names of projections whose integer weights are all zero."""
        return [f"{p['src']} -> {p['dst']}" for p in self.projections if p["all_zero"]]

    def to_dict(self) -> dict:
        return {"projections": self.projections, "populations": self.populations}

    def text(self) -> str:
        lines = ["projection                      op        bits exp  max|err|   rms err  clipped"]
        for p in self.projections:
            flag = "  ALL ZERO" if p["all_zero"] else ""
            lines.append(f"{p['src'] + ' -> ' + p['dst']:<31} {p['op']:<9} {p['num_weight_bits']:>4}"
                         f" {p['weight_exp']:>3} {p['max_abs_error']:9.3g} {p['rms_error']:9.3g}"
                         f" {p['n_clipped']:>8}{flag}")
        for p in self.populations:
            lines.append(f"population {p['name']}: threshold err {p['threshold_error']:.3g}, "
                         f"decay err {p['decay_error']:.3g}, bias err {p['bias_error']:.3g}")
        return "\n".join(lines)


def _per_neuron(x, n: int) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return np.broadcast_to(a.reshape(-1) if a.size == n else a, (n,)).copy()


def quantize_sigma_delta(name: str, d: dict) -> tuple[Population, dict]:
    """One ``sigma_delta`` node -> (Population, report dict): threshold (truncated, as slayer
    exports it) and bias (rounded) in 1/64 units, the exponent ``spike_exp + state_exp``."""
    n = G.size(d["shape"])
    th, bias = _per_neuron(d["threshold"], n), _per_neuron(d["bias"], n)
    vth, bias_mant = threshold_to_int(th), np.rint(bias * WEIGHT_UNIT).astype(np.int64)
    sd = {"stage": d["stage"], "relu": d["activation"] == "relu", "spike_exp": d["spike_exp"],
          "state_exp": d["state_exp"], "message_bits": d["message_bits"]}
    zero = np.zeros(n, np.int64)
    pop = Population(name, tuple(d["shape"]), "sigma_delta", zero[None], zero, vth, bias_mant,
                     np.full(n, d["spike_exp"] + d["state_exp"], np.int64), sd)
    rep = {"name": name, "threshold_error": float(np.max(np.abs(vth / WEIGHT_UNIT - th))),
           "decay_error": 0.0,
           "bias_error": float(np.max(np.abs(bias_mant / WEIGHT_UNIT - bias)))}
    return pop, rep


def quantize_rf(name: str, d: dict) -> tuple[Population, dict]:
    """One ``rf`` node -> (Population, report dict): the 12-bit decays Lava's RF computes from
    period and decay (:func:`rf_decays_to_int`) and the threshold mantissa (1/64, truncated as
    slayer exports it); two currents (real, imaginary), no LIF decays or bias."""
    n = G.size(d["shape"])
    sin, cos = (_per_neuron(a, n).astype(np.int64) for a in rf_decays_to_int(d["period"],
                                                                              d["decay"]))
    th = _per_neuron(d["threshold"], n)
    vth, zero = threshold_to_int(th), np.zeros(n, np.int64)
    rf = {"variant": d["variant"], "sin_decay": sin.tolist(), "cos_decay": cos.tolist()}
    pop = Population(name, tuple(d["shape"]), "rf", np.zeros((2, n), np.int64), zero, vth,
                     zero, zero, rf=rf)
    gain = 1 - _per_neuron(d["decay"], n)
    phi = 2 * np.pi / _per_neuron(d["period"], n)
    err = max(np.max(np.abs(sin / DECAY_UNIT - gain * np.sin(phi))),
              np.max(np.abs(cos / DECAY_UNIT - gain * np.cos(phi))))
    rep = {"name": name, "threshold_error": float(np.max(np.abs(vth / WEIGHT_UNIT - th))),
           "decay_error": float(err), "bias_error": 0.0}
    return pop, rep


def quantize_population(name: str, d: dict) -> tuple[Population, dict]:
    """One ``neuron`` node -> (Population, report dict). ``d`` are the node's attributes."""
    if d["model"] == "sigma_delta":
        return quantize_sigma_delta(name, d)
    if d["model"] == "rf":
        return quantize_rf(name, d)
    n = G.size(d["shape"])
    cd = np.asarray(d["current_decay"], np.float64)
    cd = np.broadcast_to(cd.reshape(cd.shape + (1,) * (2 - cd.ndim)) if cd.ndim < 2 else cd,
                         (int(d["n_syn"]), n))
    vd = _per_neuron(d["voltage_decay"], n)
    th = _per_neuron(d.get("threshold", 0.0), n)
    bias = _per_neuron(d.get("bias", 0.0), n)
    i_decay, v_decay = decay_to_int(cd), decay_to_int(vd)
    vth = threshold_to_int(th) if d["model"] != "li" else np.zeros(n, np.int64)
    bias_mant, bias_exp = bias_to_int(bias, name)
    pop = Population(name, tuple(d["shape"]), d["model"], i_decay.astype(np.int64), v_decay,
                     vth, bias_mant, bias_exp, spike=d.get("spike", "binary"),
                     reset_interval=int(d.get("reset_interval", 0)),
                     reset_offset=int(d.get("reset_offset", 0)))
    rep = {"name": name, "threshold_error": float(np.max(np.abs(vth / WEIGHT_UNIT - th)))
           if d["model"] != "li" else 0.0,
           "decay_error": float(max(np.max(np.abs(i_decay / DECAY_UNIT - cd)),
                                    np.max(np.abs(v_decay / DECAY_UNIT - vd)))),
           "bias_error": float(np.max(np.abs((bias_mant << bias_exp) / STATE_UNIT - bias)))}
    return pop, rep


def _channel_weight(w, shape) -> np.ndarray:
    """A scalar or per-channel identity weight -> one float per neuron of ``shape``."""
    w = np.asarray(w, np.float64)
    n = G.size(shape)
    if w.size in (1, n):
        return np.broadcast_to(w.reshape(-1), (n,)).copy()
    return np.repeat(w.reshape(-1), n // shape[0])


def _sources(g, node) -> list:
    """Resolve ``node`` through merges: [(source, per-neuron weight (N,) or None, delay)].

    A merge in-edge's delay is taken as its largest value (merges carry uniform delays).
    """
    if g.nodes[node]["kind"] != "merge":
        return [(node, None, 0)]
    out = []
    for s, _, d in g.in_edges(node, data=True):
        if d["op"] != "identity":
            raise GraphError("merge in-edges must be identity", where=f"{s} -> {node}",
                             field="op", expected="identity", found=d["op"])
        w = _channel_weight(d["weight"], g.nodes[node]["shape"])
        for src, w2, dl in _sources(g, s):
            out.append((src, w if w2 is None else w * w2, dl + int(np.max(d["delay"]))))
    return out


def lowered_edges(g) -> list:
    """Edges into neuron nodes with merges lowered: [(src, dst, attrs)] with float weights."""
    out = []
    for s, t, d in g.edges(data=True):
        if g.nodes[t]["kind"] != "neuron":
            continue
        for src, w, dl in _sources(g, s):
            a = dict(d)
            if w is not None:
                a["weight"] = _compose(d, w, g.nodes[s]["shape"], f"{s} -> {t}")
                a["delay"] = np.asarray(d["delay"]) + dl
            out.append((src, t, a))
    return out


def _compose(d: dict, w: np.ndarray, shape, where: str) -> np.ndarray:
    """Weight of ``op`` applied after a per-input-neuron scaling ``w`` (N_in,)."""
    if d["op"] == "dense":
        return d["weight"] * w[None, :]
    if d["op"] == "identity":
        return _channel_weight(d["weight"], shape) * w
    per_ch = w.reshape(shape[0], -1)[:, 0]
    if d.get("groups", 1) != 1 and np.ptp(per_ch) != 0:
        raise GraphError("grouped conv after a merge with per-channel weights", where=where,
                         field="weight", expected="equal merge weights per channel")
    return d["weight"] * (per_ch[None, :, None, None] if d.get("groups", 1) == 1 else per_ch[0])


def _delay(d: dict, w_shape) -> np.ndarray:
    """Edge delay (steps) -> 0-d when uniform, else per synapse ((N_dst, N_src) for dense)."""
    dl = np.asarray(d.get("delay", 0), np.int64)
    if dl.ndim == 0 or np.ptp(dl) == 0:
        return np.asarray(int(dl.reshape(-1)[0]) if dl.size else 0, np.int64)
    if d["op"] != "dense" or dl.shape == tuple(w_shape):
        return dl
    if dl.size == w_shape[0]:
        return np.repeat(dl.reshape(-1, 1), w_shape[1], 1)
    return np.repeat(dl.reshape(1, -1), w_shape[0], 0)


def quantize_projection(g, src, dst, d: dict, limits: LoihiLimits,
                        input_message_bits: int) -> tuple[Projection, dict]:
    """One lowered edge -> (Projection, report dict)."""
    wf = np.asarray(d["weight"], np.float64)
    if d["op"] == "identity":
        wf = _channel_weight(wf, g.nodes[dst]["shape"])
    w_int = weight_to_int(wf)
    raw = np.rint(wf * (WEIGHT_UNIT // 2)) * 2
    clipped = int(np.sum((raw < WEIGHT_MIN) | (raw > WEIGHT_MAX)))
    conv = {}
    if d["op"] == "conv":
        mant, bits, exp, eff = w_int, 8, 0, w_int
        conv = {k: [int(x) for x in d[k]] for k in ("stride", "padding", "dilation")}
        conv["groups"] = int(d.get("groups", 1))
    else:
        fmt = weight_format(w_int, limits.max_weight_bits,
                            implicit_zero=d["op"] == "identity" and wf.size > 1)
        mant, bits, exp, eff = fmt.mantissa, fmt.num_weight_bits, fmt.weight_exp, fmt.effective
    s = g.nodes[src]
    mbits = input_message_bits if s["kind"] == "input" else \
        GRADED_BITS if s.get("spike") == "graded" else s.get("message_bits", 0)
    proj = Projection(src, dst, d["op"], mant, bits, exp, int(d.get("syn", 0)),
                      _delay(d, w_int.shape), mbits, conv)
    err = eff / WEIGHT_UNIT - wf
    rep = {"src": src, "dst": dst, "op": d["op"], "num_weight_bits": bits, "weight_exp": exp,
           "max_abs_error": float(np.max(np.abs(err), initial=0.0)),
           "rms_error": float(np.sqrt(np.mean(err ** 2))) if err.size else 0.0,
           "n_clipped": clipped, "all_zero": bool(not np.any(eff))}
    return proj, rep


def quantize(g, limits: LoihiLimits = LoihiLimits(), input_message_bits: int = 8):
    """Float Graph -> ``({"populations", "projections"}, QuantReport)``.

    Populations come in topological order, projections in lowered-edge order. Projections
    from inputs carry ``input_message_bits`` (> 0: inputs are graded counts), from sigma-delta
    populations their ``message_bits``, from other neurons 0 (binary spikes).
    """
    order = G.topological_order(g)
    report = QuantReport()
    pops = []
    for n in order:
        if g.nodes[n]["kind"] == "neuron":
            pop, rep = quantize_population(n, g.nodes[n])
            pops.append(pop)
            report.populations.append(rep)
    projs = []
    for src, dst, d in lowered_edges(g):
        proj, rep = quantize_projection(g, src, dst, d, limits, input_message_bits)
        projs.append(proj)
        report.projections.append(rep)
    return {"populations": pops, "projections": projs}, report
