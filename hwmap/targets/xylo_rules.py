"""Design rules of the Xylo-style target (DESIGN.md 6.2), as Rockpool's DRC: small named
functions that raise a typed error with a human message.

``GRAPH_RULES`` run on a float Graph (:func:`snnpipe.pipeline.ir.validate.validate` with
``target="xylo"``): what the chip cannot express and its sizes. ``RULES`` run on a mapped
configuration (:class:`snnpipe.hwmap.mappers.xylo_config.XyloConfig`, read through its
attributes): number ranges, aliases and fan-out. :func:`layout` is the placement of a Graph's
populations on the chip that both the rules and the mapper use.
"""
from __future__ import annotations

import numpy as np

from snnpipe.hwmap.targets.xylo import STATE_MAX, XYLO_AUDIO2, XyloLimits
from snnpipe.pipeline.ir.errors import (CapacityError, GraphError, QuantizationError, SnnpipeError,
                                        ValidationErrors)
from snnpipe.pipeline.ir.graph import size, topological_order

# ---- over a Graph -----------------------------------------------------------------------------

def structure_errors(g, limits: XyloLimits) -> list:
    """Everything of the graph Xylo cannot express, as CapacityError / GraphError."""
    errors = []
    outputs = set(g.graph.get("outputs", []))
    for node, d in g.nodes(data=True):
        kind = d.get("kind")
        if kind == "neuron" and d.get("model") not in ("cuba", "li"):
            errors.append(GraphError("Xylo has LIF neurons only", where=node, field="model",
                                     expected="cuba|li", found=d.get("model")))
            continue
        if kind == "neuron" and d.get("model") == "cuba" and d.get("n_syn", 1) > limits.n_syn:
            errors.append(CapacityError("too many synaptic currents", where=node, field="n_syn",
                                        expected=f"<= {limits.n_syn}", found=d["n_syn"]))
        if kind == "neuron" and d.get("refractory", 0):
            errors.append(CapacityError("Xylo has no refractory period", where=node,
                                        field="refractory", expected=0, found=d["refractory"]))
        if kind == "neuron" and d.get("reset_interval", 0):
            errors.append(CapacityError("Xylo has no periodic state reset (Lava's LIFReset)",
                                        where=node, field="reset_interval", expected=0,
                                        found=d["reset_interval"]))
        if kind == "neuron" and (d.get("model") == "li" or node in outputs):
            if d.get("n_syn", 1) > 1:
                errors.append(CapacityError("output neurons have one synaptic current",
                                            where=node, field="n_syn", expected=1, found=d["n_syn"]))
            consumers = [v for _, v in g.out_edges(node)]
            if consumers:
                errors.append(CapacityError("output neurons cannot project further", where=node,
                                            expected="no out-edges", found=consumers))
        if node in outputs and kind != "neuron":
            errors.append(GraphError("a Xylo output must be a neuron population", where=node,
                                     field="outputs", found=kind))
    for u, v, d in g.edges(data=True):
        where = f"{u} -> {v}"
        if d["op"] in ("conv", "conv_transpose"):
            errors.append(CapacityError("Xylo has no convolutions (flatten them to dense)",
                                        where=where, field="op", expected="dense|identity",
                                        found=d["op"]))
        if np.any(np.asarray(d.get("delay", 0)) != 0):
            errors.append(CapacityError("Xylo has no synaptic delays", where=where, field="delay",
                                        expected=0, found=np.max(d["delay"])))
        src, dst = g.nodes[u]["kind"], g.nodes[v]
        if d["op"] == "identity" and size(g.nodes[u]["shape"]) != size(dst["shape"]):
            errors.append(GraphError("identity edge between populations of different sizes",
                                     where=where, field="shape", expected=size(g.nodes[u]["shape"]),
                                     found=size(dst["shape"])))
        if dst["kind"] == "merge" and (d["op"] != "identity" or np.any(np.asarray(d["weight"]) != 1)):
            errors.append(GraphError("a merge sums spike counts: its in-edges are identity with "
                                     "weight 1", where=where, field="weight"))
        if src == "input" and is_output(g, v):
            errors.append(CapacityError("inputs cannot drive output neurons directly", where=where))
        if src == "input" and dst["kind"] == "merge":
            errors.append(CapacityError("inputs cannot be merged (aliases are between hidden "
                                        "neurons)", where=where))
    return errors


def is_output(g, node) -> bool:
    d = g.nodes[node]
    return d.get("kind") == "neuron" and (d.get("model") == "li" or node in g.graph.get("outputs", []))


def layout(g) -> tuple[dict, int, int, int]:
    """Index ranges per node ({"input", "hidden", "output"} -> node -> (start, stop)), n_in, n_hid, n_out."""
    hidden, out, inputs = {}, {}, {}
    n_hid = n_out = 0
    for node in topological_order(g):
        d = g.nodes[node]
        n = size(d["shape"])
        if d["kind"] == "merge" or (d["kind"] == "neuron" and not is_output(g, node)):
            hidden[node] = (n_hid, n_hid + n)
            n_hid += n
    for node in list(g.graph.get("outputs", [])) + [n for n in topological_order(g) if is_output(g, n)]:
        if node not in out and is_output(g, node):
            out[node] = (n_out, n_out + size(g.nodes[node]["shape"]))
            n_out += size(g.nodes[node]["shape"])
    n_in = 0
    for node in g.graph.get("inputs", []):
        inputs[node] = (n_in, n_in + size(g.nodes[node]["shape"]))
        n_in += size(g.nodes[node]["shape"])
    return {"input": inputs, "hidden": hidden, "output": out}, n_in, n_hid, n_out


def capacity_errors(n_in: int, n_hid: int, n_out: int, limits: XyloLimits) -> list:
    found = [("input channels", n_in, limits.n_in, "inputs"), ("hidden neurons", n_hid, limits.n_hidden,
             "hidden"), ("output neurons", n_out, limits.n_out, "outputs")]
    return [CapacityError(f"too many {what}", where=where, expected=f"<= {lim}", found=n)
            for what, n, lim, where in found if n > lim]


def rule_graph_structure(g, limits: XyloLimits = XYLO_AUDIO2) -> list:
    """What Xylo cannot express: conv, delays, n_syn > 2, refractory, outputs that project on..."""
    return structure_errors(g, limits)


def rule_graph_capacity(g, limits: XyloLimits = XYLO_AUDIO2) -> list:
    """Input channels, hidden and output neurons within the chip's sizes."""
    _, n_in, n_hid, n_out = layout(g)
    return capacity_errors(n_in, n_hid, n_out, limits)


GRAPH_RULES = [rule_graph_structure, rule_graph_capacity]


# ---- over a configuration -------------------------------------------------------------------

def rule_input_count(c, lim: XyloLimits) -> None:
    """At most ``n_in`` input channels."""
    if c.shape[0] > lim.n_in:
        raise CapacityError("too many input channels", where="input", field="weights_in",
                            expected=f"<= {lim.n_in}", found=c.shape[0])


def rule_hidden_count(c, lim: XyloLimits) -> None:
    """At most ``n_hidden`` hidden neurons."""
    if c.shape[1] > lim.n_hidden:
        raise CapacityError("too many hidden neurons", where="hidden", field="weights_rec",
                            expected=f"<= {lim.n_hidden}", found=c.shape[1])


def rule_output_count(c, lim: XyloLimits) -> None:
    """At most ``n_out`` output neurons."""
    if c.shape[2] > lim.n_out:
        raise CapacityError("too many output neurons", where="output", field="weights_out",
                            expected=f"<= {lim.n_out}", found=c.shape[2])


def rule_synapses(c, lim: XyloLimits) -> None:
    """Only ``n_syn`` synaptic currents per hidden neuron carry weights."""
    for name in ("weights_in", "weights_rec"):
        used = np.flatnonzero(np.any(getattr(c, name) != 0, axis=(0, 1)))
        if used.size and used.max() >= lim.n_syn:
            raise CapacityError("weights on a synaptic current the chip lacks", where="hidden",
                                field=name, expected=f"synapse index < {lim.n_syn}",
                                found=int(used.max()))


def rule_weight_range(c, lim: XyloLimits) -> None:
    """Weights are signed ``weight_bits`` integers."""
    lo, hi = lim.weight_range
    for name in ("weights_in", "weights_rec", "weights_out"):
        _in_range(getattr(c, name), name, lo, hi)


def rule_weight_shift(c, lim: XyloLimits) -> None:
    """Weight shifts are 0..``max_weight_shift``."""
    for name in ("weight_shift_in", "weight_shift_rec", "weight_shift_out"):
        _in_range(np.array(getattr(c, name)), name, 0, lim.max_weight_shift)


def rule_dash_range(c, lim: XyloLimits) -> None:
    """Decay shifts are 0..``max_dash``."""
    for name in ("dash_mem", "dash_syn", "dash_syn_2", "dash_mem_out", "dash_syn_out"):
        _in_range(getattr(c, name), name, 0, lim.max_dash)


def rule_threshold_range(c, lim: XyloLimits) -> None:
    """Thresholds are positive 16-bit values (a threshold <= 0 fires at the spike cap)."""
    for name in ("threshold", "threshold_out"):
        _in_range(getattr(c, name), name, 1, STATE_MAX)


def rule_bias_range(c, lim: XyloLimits) -> None:
    """Biases are signed ``bias_bits`` integers; all zero on a chip without bias."""
    lo, hi = lim.bias_range
    for name in ("bias", "bias_out"):
        _in_range(getattr(c, name), name, lo, hi)


def rule_aliases(c, lim: XyloLimits) -> None:
    """At most ``max_alias_targets`` alias targets per hidden neuron, never itself."""
    for i, targets in enumerate(c.aliases):
        if len(targets) > lim.max_alias_targets:
            raise CapacityError("too many alias targets", where=f"hidden neuron {i}",
                                field="aliases", expected=f"<= {lim.max_alias_targets}",
                                found=len(targets))
        if i in targets:
            raise CapacityError("a neuron cannot alias itself", where=f"hidden neuron {i}",
                                field="aliases", expected="another neuron", found=targets)


def rule_fanout(c, lim: XyloLimits) -> None:
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


def check(config, limits: XyloLimits = XYLO_AUDIO2) -> list[SnnpipeError]:
    """Run every rule of :data:`RULES`; returns the errors raised (empty when the config fits)."""
    errors = []
    for rule in RULES:
        try:
            rule(config, limits)
        except SnnpipeError as e:
            e.rule = rule.__name__
            errors.append(e)
    return errors


def validate(config, limits: XyloLimits = XYLO_AUDIO2) -> None:
    """Raise :class:`ValidationErrors` listing every rule that fails."""
    errors = check(config, limits)
    if errors:
        raise ValidationErrors(errors)
