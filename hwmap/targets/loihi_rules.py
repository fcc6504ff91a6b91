"""Design rules of the Loihi-style target: small named functions ``rule(graph, limits) -> None``.

Each raises a typed error (GraphError, QuantizationError, CapacityError) naming the node or
edge, the limit and the value found. :func:`check` runs :data:`RULES` in order and prefixes the
message with the name of the rule that fired. Capacity of cores and chips is checked by the
mapper (``loihi_map.partition``), which knows the placement.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.targets.loihi import (ACTIVATION_MAX, ACTIVATION_SHIFT, RF_DECAY_MAX,
                                         SD_EXP_MAX, VTH_MAX, WEIGHT_UNIT, LoihiLimits,
                                         rf_decays_to_int, threshold_to_int, weight_to_int)
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import CapacityError, GraphError, QuantizationError, SnnpipeError
from snnpipe.pipeline.ir.transpose import conv_transpose_entries


def _neurons(g):
    return [(n, d) for n, d in g.nodes(data=True) if d.get("kind") == "neuron"]


def rule_neuron_model(g, limits: LoihiLimits) -> None:
    """Only ``cuba``, ``li``, ``sigma_delta`` and ``rf`` populations exist on the chip."""
    for n, d in _neurons(g):
        if d.get("model") not in ("cuba", "li", "sigma_delta", "rf"):
            raise GraphError("unsupported neuron model", where=n, field="model",
                             expected="cuba|li|sigma_delta|rf", found=d.get("model"))


def rule_custom_features(g, limits: LoihiLimits) -> None:
    """Subtractive reset, refractory periods and multi spikes need a custom neuron; graded
    spikes run (a cuba population's pre-reset voltage as a 24-bit payload, slayer's
    ``graded_spike``)."""
    for n, d in _neurons(g):
        if d.get("reset", "zero") != "zero":
            raise GraphError("subtractive reset is a custom-neuron feature, not supported by the "
                             "standard Loihi LIF", where=n, field="reset", expected="zero",
                             found=d.get("reset"))
        if int(d.get("refractory", 0)) != 0:
            raise GraphError("a refractory period is a custom-neuron feature, not supported by "
                             "the standard Loihi LIF", where=n, field="refractory", expected=0,
                             found=d.get("refractory"))
        spike = d.get("spike", "binary")
        if spike == "multi" or (spike == "graded" and d.get("model") != "cuba"):
            raise GraphError("multi spikes (and graded ones out of anything but a cuba "
                             "population) are custom-neuron features", where=n, field="spike",
                             expected="binary | graded (cuba: the pre-reset voltage as "
                                      "payload, hwmap.targets.loihi.graded_payload)",
                             found=spike)


def rule_synaptic_currents(g, limits: LoihiLimits) -> None:
    """At most ``limits.max_n_syn`` synaptic currents per neuron; edges address existing ones."""
    for n, d in _neurons(g):
        if not 1 <= int(d.get("n_syn", 1)) <= limits.max_n_syn:
            raise CapacityError("too many synaptic currents", where=n, field="n_syn",
                                expected=f"1..{limits.max_n_syn}", found=d["n_syn"])
    for s, t, d in g.edges(data=True):
        n_syn = g.nodes[t].get("n_syn", 1)
        if g.nodes[t].get("kind") == "neuron" and not 0 <= d.get("syn", 0) < n_syn:
            raise GraphError("synaptic current index out of range", where=f"{s} -> {t}",
                             field="syn", expected=f"0..{n_syn - 1}", found=d["syn"])


def rule_edge_ops(g, limits: LoihiLimits) -> None:
    """Edges are dense, conv or identity; merges take identity edges only."""
    for s, t, d in g.edges(data=True):
        if d.get("op") not in G.EDGE_OPS:
            raise GraphError("unsupported projection", where=f"{s} -> {t}", field="op",
                             expected="|".join(G.EDGE_OPS), found=d.get("op"))
        if g.nodes[t].get("kind") == "merge" and d["op"] != "identity":
            raise GraphError("merge in-edges must be identity", where=f"{s} -> {t}", field="op",
                             expected="identity", found=d["op"])


def rule_decays(g, limits: LoihiLimits) -> None:
    """Decays are fractions in [0, 1] (12-bit integers 0..4096 on the chip)."""
    for n, d in _neurons(g):
        if d["model"] in ("sigma_delta", "rf"):
            continue
        for f in ("current_decay", "voltage_decay"):
            a = np.asarray(d[f], np.float64)
            if not np.all(np.isfinite(a)) or a.min(initial=0) < 0 or a.max(initial=0) > 1:
                raise QuantizationError("decay outside [0, 1]", where=n, field=f,
                                        expected="0..1", found=(float(a.min()), float(a.max())))


def rule_threshold(g, limits: LoihiLimits) -> None:
    """Threshold mantissas ``int(64 * threshold)`` are unsigned 17-bit."""
    for n, d in _neurons(g):
        if d["model"] == "li":
            continue
        vth = threshold_to_int(d["threshold"])
        if vth.min(initial=0) < 0 or vth.max(initial=0) > VTH_MAX:
            raise QuantizationError("threshold outside the 17-bit mantissa", where=n,
                                    field="threshold", expected=f"0..{VTH_MAX / WEIGHT_UNIT}",
                                    found=(float(np.min(d["threshold"])),
                                           float(np.max(d["threshold"]))))


def rule_weight_bits(g, limits: LoihiLimits) -> None:
    """Synapses hold at most 8 weight bits."""
    if not 1 <= limits.max_weight_bits <= 8:
        raise QuantizationError("weight bits beyond the synapse format", field="max_weight_bits",
                                expected="1..8", found=limits.max_weight_bits)


def rule_delays(g, limits: LoihiLimits) -> None:
    """Delays are integer steps in 0..max_delay; convolutions and merges carry none."""
    for s, t, d in g.edges(data=True):
        dl = np.asarray(d.get("delay", 0))
        where = f"{s} -> {t}"
        if dl.size and (dl.min() < 0 or dl.max() > limits.max_delay):
            raise CapacityError("delay beyond the synapse delay range", where=where,
                                field="delay", expected=f"0..{limits.max_delay} steps",
                                found=int(dl.max() if dl.max() > limits.max_delay else dl.min()))
        if dl.size and np.any(dl) and (d["op"] == "conv" or g.nodes[t].get("kind") == "merge"):
            raise GraphError("delays are supported on dense and identity projections into "
                             "neurons only", where=where, field="delay", expected=0,
                             found=int(dl.max()))


def _transposed_rows(g, s, d) -> tuple[np.ndarray, np.ndarray]:
    """Output neuron and kernel weight of every synapse of a conv_transpose edge."""
    rows, _, vals, _ = conv_transpose_entries(g.nodes[s]["shape"], d["weight"], d["stride"],
                                              d["padding"], d["dilation"], d["groups"])
    return rows, vals


def _max_activation(g, s, d: dict) -> int:
    if d["op"] == "conv_transpose":
        rows, vals = _transposed_rows(g, s, d)
        return int(np.bincount(rows, np.abs(weight_to_int(vals))).max(initial=0))
    w = np.abs(weight_to_int(d["weight"]))
    if d["op"] == "dense":
        return int(w.sum(axis=1).max(initial=0))
    if d["op"] == "conv":
        return int(w.reshape(w.shape[0], -1).sum(axis=1).max(initial=0))
    return int(w.max(initial=0))


def rule_activation_range(g, limits: LoihiLimits) -> None:
    """The summed input of one step (one event per source) fits 24 bits: no overflow in Dense."""
    for s, t, d in g.edges(data=True):
        a = _max_activation(g, s, d)
        if a > ACTIVATION_MAX:
            raise CapacityError("worst-case synaptic input per step exceeds 24 bits",
                                where=f"{s} -> {t}", field="weight",
                                expected=f"<= {ACTIVATION_MAX}", found=a)


def rule_fan_in(g, limits: LoihiLimits) -> None:
    """A neuron receives at most ``limits.max_fan_in`` synapses."""
    for n, d in _neurons(g):
        fan = 0
        for s, _, e in g.in_edges(n, data=True):
            w = np.asarray(e["weight"])
            if e["op"] == "conv_transpose":     # mapped as its dense matrix (map_graph)
                fan += G.size(g.nodes[s]["shape"])
                continue
            fan += w.shape[1] if e["op"] == "dense" else (
                int(np.prod(w.shape[1:])) if e["op"] == "conv" else 1)
        if fan > limits.max_fan_in:
            raise CapacityError("fan-in beyond the limit", where=n, field="fan_in",
                                expected=f"<= {limits.max_fan_in}", found=fan)


def _sd_error(where, field, message, expected, found) -> GraphError:
    return GraphError(message, where=where, field=field, expected=expected, found=found)


def _sigma_delta_node(n, d) -> None:
    """What Lava's Delta, SigmaDelta and Sigma hold: 3-bit exponents; a Delta without
    activation, a Sigma without activation or bias."""
    for f in ("spike_exp", "state_exp"):
        if not 0 <= d[f] <= SD_EXP_MAX:
            raise QuantizationError("sigma-delta exponent outside 3 bits", where=n, field=f,
                                    expected=f"0..{SD_EXP_MAX}", found=d[f])
    if d["stage"] != "sigma_delta" and d["activation"] != "none":
        raise _sd_error(n, "activation", f"Lava's {d['stage'].title()} has no activation",
                        "none", d["activation"])
    if d["stage"] == "sigma" and np.any(d["bias"]):
        raise _sd_error(n, "bias", "Lava's Sigma has no bias", 0, "a bias")


def _sigma_delta_edge(g, s, t, e) -> None:
    """A Delta takes the input (1/64 units) through an identity projection; the other stages
    take the messages of a delta-encoding population whose format meets theirs (messages in
    2^-(6 + spike_exp) float units times weights in 1/64 are the receiver's state units:
    ``spike_exp_src + 6 == spike_exp + state_exp``); spiking populations take no messages."""
    src, dst, where = g.nodes[s], g.nodes[t], f"{s} -> {t}"
    sd_src, sd_dst = src.get("model") == "sigma_delta", dst.get("model") == "sigma_delta"
    if not (sd_src or sd_dst):
        return
    if sd_dst and dst["stage"] == "delta":
        if src["kind"] != "input" or e["op"] != "identity":
            raise _sd_error(where, "op", "a delta stage takes the network input through an "
                            "identity projection", "input -identity->", f"{src['kind']} "
                            f"-{e['op']}->")
        return
    if not (sd_src and sd_dst) or src["stage"] == "sigma":
        raise _sd_error(where, "model", "sigma-delta messages go from a delta-encoding "
                        "sigma-delta population to a sigma-delta population only",
                        "sigma_delta (delta or sigma_delta stage) -> sigma_delta",
                        f"{src.get('model', src['kind'])} -> {dst.get('model')}")
    units = (src["spike_exp"] + ACTIVATION_SHIFT, dst["spike_exp"] + dst["state_exp"])
    if units[0] != units[1]:
        raise _sd_error(where, "spike_exp", "the sender's messages are not in the receiver's "
                        "state units", "spike_exp(src) + 6 == spike_exp + state_exp", units)


def rule_sigma_delta(g, limits: LoihiLimits) -> None:
    """Sigma-delta populations as Lava's Delta, SigmaDelta and Sigma hold them, joined as
    their units allow (:func:`_sigma_delta_node`, :func:`_sigma_delta_edge`)."""
    for n, d in _neurons(g):
        if d["model"] == "sigma_delta":
            _sigma_delta_node(n, d)
    for s, t, e in g.edges(data=True):
        _sigma_delta_edge(g, s, t, e)


def rule_rf(g, limits: LoihiLimits) -> None:
    """Resonate-and-fire decays as Lava's RF holds them: ``(1 - decay) sin|cos(2 pi / period)``
    unsigned 12-bit (sin >= 1, cos >= 0: a period of at least 4 steps, as slayer clamps); its
    two currents take spikes or raw input, not sigma-delta messages (``rule_sigma_delta``)."""
    for n, d in _neurons(g):
        if d["model"] != "rf":
            continue
        sin, cos = rf_decays_to_int(d["period"], d["decay"])
        for field, a, lo in (("period", sin, 1), ("period", cos, 0)):
            if a.min(initial=lo) < lo or a.max(initial=0) > RF_DECAY_MAX:
                raise QuantizationError("resonator decays outside unsigned 12 bits (Lava's RF: "
                                        "(1 - decay) sin and cos of 2 pi / period)", where=n,
                                        field=field, expected=">= 4 steps, decay in [0, 1]",
                                        found=(float(np.min(d["period"])),
                                               float(np.min(d["decay"]))))


RULES = [rule_neuron_model, rule_custom_features, rule_synaptic_currents, rule_edge_ops,
         rule_decays, rule_threshold, rule_weight_bits, rule_delays, rule_activation_range,
         rule_fan_in, rule_sigma_delta, rule_rf]


# The rules that take a Graph (all of them on this target): what snnpipe.pipeline.ir.validate runs.
GRAPH_RULES = RULES

def check(g, limits: LoihiLimits = LoihiLimits(), rules=None) -> None:
    """Run ``rules`` (default :data:`RULES`); re-raise the first error prefixed by the rule name."""
    for rule in RULES if rules is None else rules:
        try:
            rule(g, limits)
        except SnnpipeError as e:
            raise type(e)(f"[{rule.__name__}] {e.message}", where=e.where, field=e.field,
                          expected=e.expected, found=e.found) from None
