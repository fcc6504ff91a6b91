"""Quantiser and mapper: Graph IR (float units) -> :class:`XyloConfig` (DESIGN.md 6.2).

Placement: ``cuba`` populations (n_syn <= 2) become hidden neurons, in topological order (a
feed-forward layer is an off-diagonal block of ``weights_rec``); the graph's output nodes and
every ``li`` readout become output neurons; each ``merge`` becomes silent relay neurons that its
sources alias onto (Xylo copies a neuron's spike count to its alias target in the same step),
whose outgoing weights carry the merged counts. Every hidden -> hidden or hidden -> output hop
adds one step of latency on the chip.

Quantisation (global per network): hidden states use one scale ``s`` (state units per float
unit) and outputs another ``s_out``. ``s`` is the largest value with ``max(threshold) * s <=
state_headroom`` whose weights still fit int8 with a shift <= 7; a group's shift is the
smallest with ``max|w| * s / 2^shift <= 127``. For ``li`` readouts (no output spikes) ``s_out``
keeps their steady-state response to one spike per step from every hidden neuron in 16 bits. Weights, thresholds and biases are rounded and
always clipped; what clipping and rounding lost is reported. Xylo decays a current after
adding the step's input, so weights into a current with ``dash`` are divided by
``1 - 2^-dash`` to keep the Graph's response ``u = u (1 - d) + W s`` (not with
``decay_after_input=True``, for graphs trained in Xylo's order). Time constants:
``tau/dt = -1 / ln(1 - d)``, ``dash = round(log2(tau/dt))`` clipped to 0..15, reported with
the effective ``tau = -dt / ln(1 - 2^-dash)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snnpipe.hwmap.mappers.xylo_config import XyloConfig
from snnpipe.hwmap.targets.xylo import STATE_MAX, XYLO_AUDIO2, XyloLimits
from snnpipe.hwmap.targets.xylo_rules import capacity_errors, check, layout, structure_errors
from snnpipe.pipeline.ir.errors import CapacityError, GraphError, ValidationErrors
from snnpipe.pipeline.ir.graph import topological_order


@dataclass
class QuantReport:
    """What the mapper did and lost.

    ``layout``: node -> (``"hidden"`` | ``"output"``, start, stop) neuron indices;
    ``scale`` / ``scale_out``: state units per float unit; ``weight_shift``: per group;
    ``weight_loss``: per edge, relative L2 error of the quantised weights and clipped count;
    ``tau``: per population and state, (dash, requested tau s, effective tau s);
    ``silent``: populations whose quantised input weights are all zero; ``warnings``: texts;
    ``latency_steps``: per output node, hops from the inputs on the chip.
    """

    layout: dict = field(default_factory=dict)
    scale: float = 1.0
    scale_out: float = 1.0
    weight_shift: dict = field(default_factory=dict)
    weight_loss: dict = field(default_factory=dict)
    tau: dict = field(default_factory=dict)
    clipped: dict = field(default_factory=dict)
    silent: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    latency_steps: dict = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"state scale: hidden {self.scale:.4g}, output {self.scale_out:.4g} units per float unit",
                 "weight shifts: " + ", ".join(f"{k}={v}" for k, v in self.weight_shift.items())]
        for node, (kind, a, b) in self.layout.items():
            lines.append(f"  {node:<16} {kind:<6} neurons {a}..{b - 1}")
        for edge, (loss, clipped) in self.weight_loss.items():
            lines.append(f"  {edge}: weight error {loss:.3%}, {clipped} clipped")
        for (node, state), (dash, tau, eff) in self.tau.items():
            lines.append(f"  {node}.{state}: dash {dash}, tau {tau:.4g} s -> {eff:.4g} s")
        lines += [f"silent: {node}" for node in self.silent] + [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# ---- time constants --------------------------------------------------------------------------

def decay_to_dash(decay, max_dash: int = 15) -> np.ndarray:
    """Fraction lost per step (0..1) -> dash: ``round(log2(-1 / ln(1 - d)))`` clipped to 0..max."""
    d = np.clip(np.asarray(decay, np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        tau_steps = -1.0 / np.log1p(-d)
        dash = np.round(np.log2(tau_steps))
    return np.nan_to_num(dash, nan=0.0, posinf=max_dash, neginf=0.0).clip(0, max_dash).astype(np.int64)


def dash_to_tau(dash, dt: float) -> np.ndarray:
    """Effective time constant in seconds of a decay shift: ``-dt / ln(1 - 2^-dash)`` (0 for 0)."""
    dash = np.asarray(dash, np.float64)
    with np.errstate(divide="ignore"):
        return np.where(dash > 0, -dt / np.log1p(-np.exp2(-np.maximum(dash, 1))), 0.0)


def decay_to_tau(decay, dt: float) -> np.ndarray:
    """Float decay fraction -> tau in seconds: ``-dt / ln(1 - d)``."""
    d = np.clip(np.asarray(decay, np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore"):
        return np.where(d < 1, -dt / np.log1p(-np.minimum(d, 1 - 1e-300)), 0.0)


# ---- placement -------------------------------------------------------------------------------

def _per_neuron(value, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float64), (n,)).astype(np.float64)


def _current_decays(d: dict, n: int) -> np.ndarray:
    """(2, n) float decay per synaptic current (a second current that does not exist: 0)."""
    cd = np.asarray(d["current_decay"], np.float64)
    cd = cd.reshape(cd.shape[0], -1) if cd.ndim else cd.reshape(1, 1)
    out = np.zeros((2, n))
    out[:cd.shape[0]] = np.broadcast_to(cd, (cd.shape[0], n))
    return out


def _edge_matrix(d: dict, n_src: int, n_dst: int) -> np.ndarray:
    """Float weights (n_dst, n_src) of a dense or identity edge."""
    w = np.asarray(d["weight"], np.float64)
    return w.reshape(n_dst, n_src) if d["op"] == "dense" else np.diag(np.broadcast_to(w, (n_src,)))


class _Builder:
    """Float parameters gathered into Xylo's layout before quantisation."""

    def __init__(self, g, lay, n_in, n_hid, n_out, limits, report):
        self.g, self.lay, self.limits, self.report = g, lay, limits, report
        self.dt = float(g.graph.get("dt", 1e-3))
        self.w = {"in": np.zeros((n_in, n_hid, 2)), "rec": np.zeros((n_hid, n_hid, 2)),
                  "out": np.zeros((n_hid, n_out))}
        self.dash = {"syn": np.zeros((2, n_hid), np.int64), "mem": np.zeros(n_hid, np.int64),
                     "syn_out": np.zeros(n_out, np.int64), "mem_out": np.zeros(n_out, np.int64)}
        self.theta = np.full(n_hid, np.inf)
        self.theta_out = np.full(n_out, np.inf)
        self.bias, self.bias_out = np.zeros(n_hid), np.zeros(n_out)
        self.aliases = [[] for _ in range(n_hid)]
        self.blocks = {}

    def neurons(self):
        """Dashes, thresholds, biases of every population; relays keep dash 0, no threshold."""
        for node, (a, b) in self.lay["hidden"].items():
            d = self.g.nodes[node]
            if d["kind"] == "merge":
                continue
            cd = _current_decays(d, b - a)
            for k in range(int(d.get("n_syn", 1))):
                self.dash["syn"][k, a:b] = self._dash(node, f"isyn{k + 1}" if k else "isyn", cd[k])
            self.dash["mem"][a:b] = self._dash(node, "vmem", _per_neuron(d["voltage_decay"], b - a))
            self.theta[a:b] = _per_neuron(d["threshold"], b - a)
            self.bias[a:b] = _per_neuron(d["bias"], b - a)
            self._notes(node, d)
        for node, (a, b) in self.lay["output"].items():
            d = self.g.nodes[node]
            self.dash["syn_out"][a:b] = self._dash(node, "isyn", _current_decays(d, b - a)[0])
            self.dash["mem_out"][a:b] = self._dash(node, "vmem", _per_neuron(d["voltage_decay"], b - a))
            if "threshold" in d:
                self.theta_out[a:b] = _per_neuron(d["threshold"], b - a)
                self._notes(node, d)
            else:
                self.report.warnings.append(f"{node}: li readout; its output is Vmem_out")
            self.bias_out[a:b] = _per_neuron(d["bias"], b - a)

    def _dash(self, node, state, decay) -> np.ndarray:
        dash = decay_to_dash(decay, self.limits.max_dash)
        if state.startswith("isyn") and np.any(dash == 0) and np.any(np.asarray(decay) > 0):
            self.report.warnings.append(f"{node}.{state}: decay {np.max(decay):.3g} -> dash 0 would "
                                        "clear the current before it reaches V; using dash 1")
            dash = np.maximum(dash, 1)
        tau = decay_to_tau(decay, self.dt)
        self.report.tau[(node, state)] = (dash.tolist() if dash.ndim and np.unique(dash).size > 1 else int(dash.flat[0]),
                                          float(np.mean(tau)), float(np.mean(dash_to_tau(dash, self.dt))))
        return dash

    def _notes(self, node, d):
        if d.get("reset", "zero") == "zero":
            self.report.warnings.append(f"{node}: reset 'zero' approximated by Xylo's subtractive reset")
        if d.get("spike", "binary") == "binary":
            self.report.warnings.append(f"{node}: binary spikes approximated by Xylo's multi-spike "
                                        "neurons (up to 31 per step)")

    def edges(self, compensate: bool = True):
        """Weights (compensated for Xylo's decay after input) and aliases of every edge."""
        for u, v, k, d in self.g.edges(keys=True, data=True):
            src, dst = self._range(u), self._range(v)
            if self.g.nodes[v]["kind"] == "merge":
                self._alias(u, v, src, dst)
                continue
            w = _edge_matrix(d, src[2] - src[1], dst[2] - dst[1]).T       # (n_src, n_dst)
            syn = int(d.get("syn", 0))
            if dst[0] == "output":
                dash = self.dash["syn_out"][dst[1]:dst[2]]
            else:
                dash = self.dash["syn"][syn, dst[1]:dst[2]]
            if compensate:
                w = w / np.where(dash > 0, 1.0 - np.exp2(-dash.astype(np.float64)), 1.0)
            group = "in" if src[0] == "input" else ("out" if dst[0] == "output" else "rec")
            block = (slice(src[1], src[2]), slice(dst[1], dst[2])) + ((syn,) if group != "out" else ())
            self.w[group][block] += w
            self.blocks[f"{u} -> {v} [{k}]"] = (group, block, w)

    def _range(self, node):
        for kind in ("input", "hidden", "output"):
            if node in self.lay[kind]:
                return (kind,) + self.lay[kind][node]
        raise GraphError("node is neither an input, a hidden nor an output population", where=node)

    def _alias(self, u, v, src, dst):
        for i, a in zip(range(src[1], src[2]), range(dst[1], dst[2])):
            if self.aliases[i]:
                raise ValidationErrors([CapacityError("a neuron can alias onto one target only",
                                                      where=f"{u} -> {v}", field="aliases",
                                                      expected="one merge per population",
                                                      found=self.aliases[i] + [a])])
            self.aliases[i] = [a]


# ---- quantisation ----------------------------------------------------------------------------

def _scale(max_theta, weight_max: list, headroom: float, max_shift: int) -> float:
    """Largest state scale with ``max_theta * s <= headroom`` and every group fitting int8."""
    caps = [headroom / max_theta] if max_theta is not None and max_theta > 0 else []
    caps += [127 * 2.0 ** max_shift / wm for wm in weight_max if wm > 0]
    return float(min(caps)) if caps else 1.0


def _quantize_group(w: np.ndarray, s: float, max_shift: int,
                    lo: int = -128, hi: int = 127) -> tuple[np.ndarray, int]:
    """Float weights times ``s`` -> (mantissas in [lo, hi], shift) with the smallest shift at
    which the largest positive weight fits ``hi`` and the most negative fits ``lo`` (the
    whole, asymmetric, two's complement range: -128 is a weight too)."""
    need = max(float(w.max(initial=0.0)) * s / hi, float(-w.min(initial=0.0)) * s / -lo)
    if need == 0:
        return np.zeros(w.shape, np.int64), 0
    shift = int(np.clip(np.ceil(np.log2(need)), 0, max_shift))
    return np.clip(np.round(w * s / 2.0 ** shift), lo, hi).astype(np.int64), shift


def _quantize(values, s: float, lo: int, hi: int, name: str, report: QuantReport) -> np.ndarray:
    raw = np.round(np.asarray(values, np.float64) * s)
    clipped = int(np.sum((raw < lo) | (raw > hi)))
    if clipped:
        report.clipped[name] = clipped
    return raw.clip(lo, hi).astype(np.int64)


def _latency(g, lay) -> dict:
    """Steps from the inputs to each output on the chip: +1 per hop out of a hidden neuron,
    except into a merge (aliases act in the same step)."""
    hops = {}
    for node in topological_order(g):
        ins = [(u, d) for u, _, d in g.in_edges(node, data=True) if not d.get("recurrent")]
        hops[node] = max((hops[u] + (0 if u in lay["input"] or g.nodes[node]["kind"] == "merge" else 1)
                          for u, _ in ins), default=0)
    return {node: hops[node] for node in lay["output"]}


def _readout_gain(b: "_Builder") -> float:
    """Largest steady-state |V_out| per float unit when every hidden neuron spikes once per
    step: ``sum_j |w_jm| / (a_syn * a_mem)`` with ``a = 2^-dash`` the decay per step."""
    a_syn = np.exp2(-b.dash["syn_out"].astype(np.float64))
    a_mem = np.where(b.dash["mem_out"] > 0, np.exp2(-b.dash["mem_out"].astype(np.float64)), 1.0)
    return float((np.abs(b.w["out"]).sum(axis=0) / (a_syn * a_mem)).max(initial=0.0))


def quantize_and_map(g, limits: XyloLimits = XYLO_AUDIO2, state_headroom: float = 2.0 ** 12,
                     readout_rate: float = 1.0, decay_after_input: bool = False,
                     scale: float | None = None
                     ) -> tuple[XyloConfig, QuantReport]:
    """Map a float Graph onto one Xylo core; returns the integer config and what was lost.

    Args:
        g: the Graph IR (snnpipe.pipeline.ir.graph), float parameters, ``dt`` in seconds.
        limits: the chip (Xylo Audio 2 by default; ``XYLO_V1`` has no bias).
        state_headroom: state units given to the largest threshold (2^12 leaves room for
            8 thresholds of membrane, e.g. multi-spike bursts, before V saturates).
        readout_rate: spikes per step per hidden neuron that ``li`` readouts (whose
            ``Vmem_out`` is the output) must represent without saturating; sets ``s_out``
            from the readout's steady-state gain when no output neuron spikes.
        decay_after_input: the graph's currents already follow Xylo's order,
            ``u = (u + W s)(1 - d)`` (as models trained in the ``xylo`` precision do): weights
            are then not divided by ``1 - 2^-dash``. Default: the Graph's CUBA semantics,
            ``u = u (1 - d) + W s`` (DESIGN.md 5.3).
        scale: one fixed state scale (state units per float unit) for the hidden and the
            output neurons instead of the chosen ones (``state_headroom``, ``readout_rate``):
            a network trained in the models' ``xylo`` precision computes at
            :data:`snnpipe.hwmap.targets.xylo.UNIT` and saturates where it did in training.
    Raises:
        ValidationErrors: every design-rule violation (Conv, delays, n_syn > 2, too many
            neurons, fan-out, several alias targets...), each a CapacityError / GraphError /
            QuantizationError naming the node or field.
    """
    report = QuantReport()
    lay, n_in, n_hid, n_out = layout(g)
    errors = structure_errors(g, limits) + capacity_errors(n_in, n_hid, n_out, limits)
    if errors:
        raise ValidationErrors(errors)
    b = _Builder(g, lay, n_in, n_hid, n_out, limits, report)
    b.neurons()
    b.edges(compensate=not decay_after_input)
    shift_max = limits.max_weight_shift
    finite = np.isfinite(b.theta)
    s = _scale(b.theta[finite].max(initial=0.0), [np.abs(b.w[k]).max(initial=0.0) for k in ("in", "rec")],
               state_headroom, shift_max)
    spiking_out = np.isfinite(b.theta_out)
    w_out_max = float(np.abs(b.w["out"]).max(initial=0.0))
    s_out = _scale(b.theta_out[spiking_out].max(initial=0.0) if spiking_out.any() else None,
                   [w_out_max], state_headroom, shift_max)
    gain = _readout_gain(b) * readout_rate
    if not spiking_out.any() and gain > 0:
        s_out = min(s_out, STATE_MAX / gain)
    if scale is not None:
        s = s_out = float(scale)
    report.scale, report.scale_out = s, s_out
    q = {}
    for group, unit in (("in", s), ("rec", s), ("out", s_out)):
        q[group], report.weight_shift[group] = _quantize_group(b.w[group], unit, shift_max,
                                                               *limits.weight_range)
    lo, hi = limits.bias_range
    theta = np.full(n_hid, STATE_MAX, np.int64)               # relays and li readouts never fire
    theta[finite] = _quantize(b.theta[finite], s, 1, STATE_MAX, "threshold", report)
    theta_out = np.full(n_out, STATE_MAX, np.int64)
    theta_out[spiking_out] = _quantize(b.theta_out[spiking_out], s_out, 1, STATE_MAX, "threshold_out", report)
    config = XyloConfig(weights_in=q["in"], weights_rec=q["rec"], weights_out=q["out"],
                        dash_syn=b.dash["syn"][0], dash_syn_2=b.dash["syn"][1], dash_mem=b.dash["mem"],
                        dash_syn_out=b.dash["syn_out"], dash_mem_out=b.dash["mem_out"],
                        threshold=theta, threshold_out=theta_out,
                        bias=_quantize(b.bias, s, lo, hi, "bias", report),
                        bias_out=_quantize(b.bias_out, s_out, lo, hi, "bias_out", report),
                        weight_shift_in=report.weight_shift["in"],
                        weight_shift_rec=report.weight_shift["rec"],
                        weight_shift_out=report.weight_shift["out"], aliases=b.aliases, dt=b.dt)
    _losses(b, q, report)
    report.layout = {n: ("hidden",) + r for n, r in lay["hidden"].items()}
    report.layout.update({n: ("output",) + r for n, r in lay["output"].items()})
    report.latency_steps = _latency(g, lay)
    errors = check(config, limits)
    if errors:
        raise ValidationErrors(errors)
    return config, report


def _losses(b: _Builder, q: dict, report: QuantReport) -> None:
    """Per edge: relative L2 error and clipped count; populations left without input."""
    scale = {"in": report.scale, "rec": report.scale, "out": report.scale_out}
    for name, (group, block, w) in b.blocks.items():
        unit = 2.0 ** report.weight_shift[group] / scale[group]
        back = q[group][block] * unit
        norm = float(np.linalg.norm(w))
        loss = float(np.linalg.norm(back - w)) / norm if norm > 0 else 0.0
        lo, hi = b.limits.weight_range
        report.weight_loss[name] = (loss, int(np.sum((w / unit > hi + 0.5) | (w / unit < lo - 0.5))))
    for node, (a, c) in b.lay["hidden"].items():
        if b.g.nodes[node]["kind"] == "neuron" and not (q["in"][:, a:c].any() or q["rec"][:, a:c].any()):
            report.silent.append(node)
    for node, (a, c) in b.lay["output"].items():
        if not q["out"][:, a:c].any():
            report.silent.append(node)
