"""Design rules of the Loihi-style target: small named functions ``rule(graph, limits) -> None``.

Each raises a typed error (GraphError, QuantizationError, CapacityError) naming the node or
edge, the limit and the value found. :func:`check` runs :data:`RULES` in order and prefixes the
message with the name of the rule that fired. Capacity of cores and chips is checked by the
mapper (``loihi_map.partition``), which knows the placement.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.targets.loihi import (ACTIVATION_MAX, VTH_MAX, WEIGHT_UNIT, LoihiLimits,
                                         threshold_to_int, weight_to_int)
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import CapacityError, GraphError, QuantizationError, SnnpipeError


def _neurons(g):
    return [(n, d) for n, d in g.nodes(data=True) if d.get("kind") == "neuron"]


def rule_neuron_model(g, limits: LoihiLimits) -> None:
    """Only ``cuba`` and ``li`` populations exist on the chip."""
    for n, d in _neurons(g):
        if d.get("model") not in ("cuba", "li"):
            raise GraphError("unsupported neuron model", where=n, field="model",
                             expected="cuba|li", found=d.get("model"))


def rule_custom_features(g, limits: LoihiLimits) -> None:
    """Subtractive reset, refractory periods and graded/multi spikes need a custom neuron."""
    for n, d in _neurons(g):
        if d.get("reset", "zero") != "zero":
            raise GraphError("subtractive reset is a custom-neuron feature, not supported by the "
                             "standard Loihi LIF", where=n, field="reset", expected="zero",
                             found=d.get("reset"))
        if int(d.get("refractory", 0)) != 0:
            raise GraphError("a refractory period is a custom-neuron feature, not supported by "
                             "the standard Loihi LIF", where=n, field="refractory", expected=0,
                             found=d.get("refractory"))
        if d.get("spike", "binary") != "binary":
            raise GraphError("graded and multi spikes are custom-neuron features", where=n,
                             field="spike", expected="binary", found=d.get("spike"))


def rule_synaptic_currents(g, limits: LoihiLimits) -> None:
    """At most ``limits.max_n_syn`` synaptic currents per neuron; edges address existing ones."""
    for n, d in _neurons(g):
        if not 1 <= int(d["n_syn"]) <= limits.max_n_syn:
            raise CapacityError("too many synaptic currents", where=n, field="n_syn",
                                expected=f"1..{limits.max_n_syn}", found=d["n_syn"])
    for s, t, d in g.edges(data=True):
        if g.nodes[t].get("kind") == "neuron" and not 0 <= d.get("syn", 0) < g.nodes[t]["n_syn"]:
            raise GraphError("synaptic current index out of range", where=f"{s} -> {t}",
                             field="syn", expected=f"0..{g.nodes[t]['n_syn'] - 1}", found=d["syn"])


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


def _max_activation(d: dict) -> int:
    w = np.abs(weight_to_int(d["weight"]))
    if d["op"] == "dense":
        return int(w.sum(axis=1).max(initial=0))
    if d["op"] == "conv":
        return int(w.reshape(w.shape[0], -1).sum(axis=1).max(initial=0))
    return int(w.max(initial=0))


def rule_activation_range(g, limits: LoihiLimits) -> None:
    """The summed input of one step (one event per source) fits 24 bits: no overflow in Dense."""
    for s, t, d in g.edges(data=True):
        a = _max_activation(d)
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
            fan += w.shape[1] if e["op"] == "dense" else (
                int(np.prod(w.shape[1:])) if e["op"] == "conv" else 1)
        if fan > limits.max_fan_in:
            raise CapacityError("fan-in beyond the limit", where=n, field="fan_in",
                                expected=f"<= {limits.max_fan_in}", found=fan)


RULES = [rule_neuron_model, rule_custom_features, rule_synaptic_currents, rule_edge_ops,
         rule_decays, rule_threshold, rule_weight_bits, rule_delays, rule_activation_range,
         rule_fan_in]


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
