"""Validation of a Graph (DESIGN.md section 3): every problem at once, not just the first.

``validate(graph)`` returns a list of :class:`~snnpipe.pipeline.ir.errors.SnnpipeError` (empty when the
graph is sound); ``check(graph)`` raises :class:`~snnpipe.pipeline.ir.errors.ValidationErrors` instead.
With ``target="loihi"`` or ``"xylo"`` the target's design rules run too: the list
``GRAPH_RULES`` of ``hwmap/targets/<target>_rules.py``, each ``rule(graph[, limits])`` raising an
SnnpipeError (or returning a list of them) when the graph breaks a limit of the chip.
"""
from __future__ import annotations

import inspect

import networkx as nx
import numpy as np

from snnpipe.hwmap.targets import loihi_rules, xylo_rules
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir import readout
from snnpipe.pipeline.ir.errors import GraphError, SnnpipeError, ValidationErrors

GRAPH_RULES = {"loihi": loihi_rules.GRAPH_RULES, "xylo": xylo_rules.GRAPH_RULES}
TARGETS = tuple(GRAPH_RULES)


def validate(graph: nx.MultiDiGraph, target: str | None = None, limits=None) -> list[SnnpipeError]:
    """All problems of ``graph`` (structure, shapes, parameters; the target's rules if given).

    The target's rules run only on a structurally sound graph. Raises ValueError for a target
    that is not one of ``TARGETS`` or whose module has no ``RULES``.
    """
    problems: list[SnnpipeError] = []
    problems += _graph_problems(graph)
    for node, attrs in graph.nodes(data=True):
        problems += _node_problems(node, attrs)
    for src, dst, key, attrs in G.edges(graph):
        problems += _edge_problems(graph, src, dst, key, attrs)
    problems += _topology_problems(graph)
    problems += readout.problems(graph)
    if target is not None:
        rules = target_rules(target)
        if not problems:
            problems += _run_rules(graph, rules, limits)
    return problems


def check(graph: nx.MultiDiGraph, target: str | None = None, limits=None, *, file=None) -> None:
    """Raise :class:`ValidationErrors` listing every problem of ``graph``, if any."""
    problems = validate(graph, target, limits)
    if problems:
        raise ValidationErrors(problems, file=file)


def target_rules(target: str) -> list:
    """The design rules over a Graph of ``snnpipe.hwmap.targets.<target>``: its ``GRAPH_RULES``, each
    ``rule(graph[, limits])`` raising an SnnpipeError or returning a list of them."""
    if target not in GRAPH_RULES:
        raise ValueError(f"unknown target {target!r}: expected one of {', '.join(TARGETS)}")
    return list(GRAPH_RULES[target])


def _limits_args(rule, limits) -> tuple:
    """``(limits,)`` for a rule with a second parameter: the given limits, else the rule's
    default, else an instance of its annotated limits class built with no arguments."""
    params = list(inspect.signature(rule).parameters.values())[1:]
    if not params:
        return ()
    if limits is not None:
        return (limits,)
    p = params[0]
    if p.default is not inspect.Parameter.empty:
        return ()
    cls = rule.__globals__.get(p.annotation) if isinstance(p.annotation, str) else p.annotation
    if not callable(cls):
        raise ValueError(f"design rule {rule.__name__} needs limits: pass validate(..., limits=)")
    return (cls(),)


def _run_rules(graph, rules, limits) -> list[SnnpipeError]:
    problems = []
    for rule in rules:
        try:
            found = rule(graph, *_limits_args(rule, limits))
        except SnnpipeError as e:
            problems.append(e)
            continue
        if found:
            problems += list(found)
    return problems


def _err(message, where=None, field=None, expected=None, found=None) -> GraphError:
    return GraphError(message, where=where, field=field, expected=expected, found=found)


def _graph_problems(graph) -> list[SnnpipeError]:
    problems = []
    dt = graph.graph.get("dt")
    if not isinstance(dt, (int, float)) or not np.isfinite(dt) or dt <= 0:
        problems.append(_err("bad time step", "graph", "dt", "a positive number of seconds", dt))
    for field in ("inputs", "outputs"):
        ids = list(graph.graph.get(field) or [])
        if not ids:
            problems.append(_err(f"the graph has no {field[:-1]}", "graph", field,
                                 "at least one node id"))
        for n in ids:
            if n not in graph:
                problems.append(_err(f"unknown node listed in {field}", "graph", field,
                                     "an existing node id", repr(n)))
    for n in graph.graph.get("inputs") or []:
        if n in graph and graph.nodes[n].get("kind") != "input":
            problems.append(_err("listed as an input but not an input node", n, "kind",
                                 "input", graph.nodes[n].get("kind")))
    return problems


def _shape_ok(shape) -> bool:
    return (isinstance(shape, tuple) and len(shape) > 0
            and all(isinstance(s, (int, np.integer)) and s > 0 for s in shape))


def _array_problems(node, field, value, shapes, unit_range=False) -> list[SnnpipeError]:
    """Problems of a float parameter: present, numeric, one of ``shapes``, finite, in [0, 1]."""
    if value is None:
        return [_err("missing parameter", node, field, "a float array")]
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return [_err("not a number", node, field, "a float array", type(value).__name__)]
    if a.shape not in shapes:
        return [_err("wrong shape", node, field, " or ".join(map(str, shapes)), a.shape)]
    if not np.all(np.isfinite(a)):
        return [_err("non-finite value", node, field, "finite numbers", "NaN or inf")]
    if unit_range and (a.min(initial=0.0) < 0 or a.max(initial=0.0) > 1):
        return [_err("decay outside [0, 1]", node, field, "a fraction lost per step in [0, 1]",
                     f"{a.min():.6g}..{a.max():.6g}")]
    return []


def _node_problems(node, attrs) -> list[SnnpipeError]:
    kind = attrs.get("kind")
    if kind not in G.NODE_KINDS:
        return [_err("unknown node kind", node, "kind", " | ".join(G.NODE_KINDS), kind)]
    shape = attrs.get("shape")
    if not _shape_ok(shape):
        return [_err("bad shape", node, "shape", "a tuple of positive ints", shape)]
    if kind != "neuron":
        return []
    return _neuron_problems(node, attrs, G.size(shape))


def _neuron_problems(node, attrs, n) -> list[SnnpipeError]:
    model = attrs.get("model")
    if model not in G.NEURON_MODELS:
        return [_err("unknown neuron model", node, "model", " | ".join(G.NEURON_MODELS), model)]
    if model in ("sigma_delta", "rf") and (RESET_FIELDS & set(attrs)):
        return [_err("a periodic state reset is for cuba and li populations (Lava's LIFReset)",
                     node, "reset_interval", "no reset_interval", attrs.get("reset_interval"))]
    if model == "sigma_delta":
        return _sigma_delta_problems(node, attrs, n)
    if model == "rf":
        return _rf_problems(node, attrs, n)
    n_syn = attrs.get("n_syn")
    if not isinstance(n_syn, (int, np.integer)) or n_syn < 1:
        return [_err("bad number of synaptic currents", node, "n_syn", "an int >= 1", n_syn)]
    per = {(), (n,)}
    problems = _array_problems(node, "current_decay", attrs.get("current_decay"),
                               {(n_syn,), (n_syn, n)}, unit_range=True)
    problems += _array_problems(node, "voltage_decay", attrs.get("voltage_decay"), per, True)
    problems += _array_problems(node, "bias", attrs.get("bias"), per)
    if model == "cuba":
        problems += _array_problems(node, "threshold", attrs.get("threshold"), per)
    for field, allowed in (("reset", G.RESETS), ("spike", G.SPIKES)):
        if attrs.get(field) not in allowed:
            problems.append(_err(f"unknown {field}", node, field, " | ".join(allowed),
                                 attrs.get(field)))
    ref = attrs.get("refractory")
    if not isinstance(ref, (int, np.integer)) or ref < 0:
        problems.append(_err("bad refractory period", node, "refractory", "an int >= 0 (steps)",
                             ref))
    return problems + _reset_problems(node, attrs)


RESET_FIELDS = {"reset_interval", "reset_offset"}


def _reset_problems(node, attrs) -> list[SnnpipeError]:
    """The optional periodic reset of a cuba / li node: both fields or neither, an interval
    > 0 steps and an offset in 0..interval - 1."""
    if not RESET_FIELDS & set(attrs):
        return []
    interval, offset = attrs.get("reset_interval"), attrs.get("reset_offset")

    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    if not is_int(interval) or interval < 1:
        return [_err("bad reset interval", node, "reset_interval", "an int >= 1 (steps)",
                     interval)]
    if not is_int(offset) or not 0 <= offset < interval:
        return [_err("bad reset offset", node, "reset_offset", f"an int in 0..{interval - 1}",
                     offset)]
    return []


def _sigma_delta_problems(node, attrs, n) -> list[SnnpipeError]:
    """A ``sigma_delta`` node (graph.add_sigma_delta): its stage, activation, threshold (>= 0),
    bias and fixed-point format (non-negative ints)."""
    problems = []
    for field, allowed in (("stage", G.SD_STAGES), ("activation", G.SD_ACTIVATIONS)):
        if attrs.get(field) not in allowed:
            problems.append(_err(f"unknown {field}", node, field, " | ".join(allowed),
                                 attrs.get(field)))
    per = {(), (n,)}
    th = _array_problems(node, "threshold", attrs.get("threshold"), per)
    if not th and np.min(attrs["threshold"]) < 0:
        th = [_err("negative threshold", node, "threshold", ">= 0",
                   float(np.min(attrs["threshold"])))]
    problems += th + _array_problems(node, "bias", attrs.get("bias"), per)
    for field in ("spike_exp", "state_exp", "message_bits"):
        v = attrs.get(field)
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            problems.append(_err(f"bad {field}", node, field, "an int >= 0", v))
    return problems


def _rf_problems(node, attrs, n) -> list[SnnpipeError]:
    """An ``rf`` node (graph.add_rf): its variant, two currents (real, imaginary), a period
    > 0 steps, a decay in [0, 1] and a threshold, each 0-d or (N,)."""
    problems = []
    if attrs.get("variant") not in G.RF_VARIANTS:
        problems.append(_err("unknown variant", node, "variant", " | ".join(G.RF_VARIANTS),
                             attrs.get("variant")))
    if attrs.get("n_syn") != 2:
        problems.append(_err("an rf population has two currents (real, imaginary)", node,
                             "n_syn", 2, attrs.get("n_syn")))
    per = {(), (n,)}
    period = _array_problems(node, "period", attrs.get("period"), per)
    if not period and np.min(attrs["period"]) <= 0:
        period = [_err("non-positive period", node, "period", "> 0 steps",
                       float(np.min(attrs["period"])))]
    problems += period + _array_problems(node, "decay", attrs.get("decay"), per, True)
    return problems + _array_problems(node, "threshold", attrs.get("threshold"), per)


def _edge_problems(graph, src, dst, key, attrs) -> list[SnnpipeError]:
    where = f"{src} -> {dst} [{key}]"
    op = attrs.get("op")
    if op not in G.EDGE_OPS:
        return [_err("unknown edge op", where, "op", " | ".join(G.EDGE_OPS), op)]
    s, d = graph.nodes[src], graph.nodes[dst]
    if not (_shape_ok(s.get("shape")) and _shape_ok(d.get("shape"))):
        return []                              # reported on the node
    problems = _common_edge_problems(where, attrs, s, d)
    w = attrs.get("weight")
    if w is None:
        return problems + [_err("missing weight", where, "weight", "a float array")]
    w = np.asarray(w)
    if w.dtype.kind not in "fiu":
        return problems + [_err("non-numeric weight", where, "weight", "finite floats",
                                str(w.dtype))]
    if not np.all(np.isfinite(w)):
        return problems + [_err("non-finite weight", where, "weight", "finite floats",
                                "NaN or inf")]
    check = {"dense": _dense_problems, "conv": _conv_problems,
             "conv_transpose": _conv_transpose_problems, "identity": _identity_problems}
    return problems + check[op](where, w, attrs, s, d)


def _common_edge_problems(where, attrs, s, d) -> list[SnnpipeError]:
    problems = []
    if d.get("kind") == "input":
        problems.append(_err("an edge ends at an input node", where, "kind",
                             "a neuron or merge target", "input"))
    syn = attrs.get("syn")
    n_syn = d.get("n_syn", 1) if d.get("kind") == "neuron" else 1
    if not isinstance(syn, (int, np.integer)) or not 0 <= syn < (n_syn or 1):
        problems.append(_err("synapse index out of range", where, "syn",
                             f"0..{(n_syn or 1) - 1}", syn))
    delay = np.asarray(attrs.get("delay", 0))
    if not np.issubdtype(delay.dtype, np.integer) or np.any(delay < 0):
        problems.append(_err("bad delay", where, "delay", "non-negative integer steps",
                             f"{delay.dtype} {delay.min() if delay.size else ''}"))
    if not isinstance(attrs.get("recurrent"), (bool, np.bool_)):
        problems.append(_err("bad recurrent flag", where, "recurrent", "True or False",
                             attrs.get("recurrent")))
    if d.get("kind") == "merge" and attrs.get("op") != "identity":
        problems.append(_err("a merge sums identity edges only", where, "op", "identity",
                             attrs.get("op")))
    return problems


def _delay_shape_problems(where, attrs, w) -> list[SnnpipeError]:
    delay = np.asarray(attrs.get("delay", 0))
    if delay.ndim and delay.shape != w.shape:
        return [_err("delay shape differs from the weight's", where, "delay", w.shape,
                     delay.shape)]
    return []


def _dense_problems(where, w, attrs, s, d) -> list[SnnpipeError]:
    expected = (G.size(d["shape"]), G.size(s["shape"]))
    if w.shape != expected:
        return [_err("dense weight shape does not match its ends", where, "weight",
                     f"(N_dst, N_src) = {expected}", w.shape)]
    return _delay_shape_problems(where, attrs, w)


def _geometry_problems(where, w, attrs, s, op, layout) -> list[SnnpipeError]:
    if len(s["shape"]) != 3 or w.ndim != 4:
        return [_err(f"{op} needs a (C, H, W) source and a 4-d weight", where, "weight",
                     f"{layout} from (C, H, W)", f"{w.shape} from {s['shape']}")]
    groups = attrs.get("groups")
    pairs = [attrs.get(k) for k in ("stride", "padding", "dilation")]
    if (not isinstance(groups, (int, np.integer)) or groups < 1
            or any(np.shape(p) != (2,) for p in pairs)
            or min(pairs[0]) < 1 or min(pairs[1]) < 0 or min(pairs[2]) < 1):
        return [_err(f"bad {op} geometry", where, "stride/padding/dilation/groups",
                     "pairs stride>=1, padding>=0, dilation>=1 and groups>=1",
                     f"{pairs}, groups={groups}")]
    return []


def _conv_transpose_problems(where, w, attrs, s, d) -> list[SnnpipeError]:
    problems = _geometry_problems(where, w, attrs, s, "conv_transpose",
                                  "(C_in, C_out/groups, kh, kw)")
    if problems:
        return problems
    groups = attrs["groups"]
    if w.shape[0] != s["shape"][0] or w.shape[0] % groups:
        return [_err("conv_transpose channels do not match the source", where, "weight",
                     f"C_in = {s['shape'][0]}, a multiple of groups = {groups}", w.shape)]
    out = G.conv_transpose_output_shape(s["shape"], w.shape, attrs["stride"], attrs["padding"],
                                        attrs["dilation"], groups)
    if out != tuple(d["shape"]):
        return [_err("conv_transpose output shape does not match the target", where, "shape",
                     out, tuple(d["shape"]))]
    if np.ndim(attrs.get("delay", 0)):
        return [_err("conv_transpose delays are one value", where, "delay", "a scalar",
                     np.shape(attrs["delay"]))]
    return []


def _conv_problems(where, w, attrs, s, d) -> list[SnnpipeError]:
    problems = _geometry_problems(where, w, attrs, s, "conv", "(C_out, C_in/groups, kh, kw)")
    if problems:
        return problems
    groups = attrs["groups"]
    pairs = [attrs.get(k) for k in ("stride", "padding", "dilation")]
    if w.shape[1] * groups != s["shape"][0] or w.shape[0] % groups:
        return [_err("conv channels do not match the source", where, "weight",
                     f"C_in/groups = {s['shape'][0]}/{groups}", w.shape)]
    out = G.conv_output_shape(s["shape"], w.shape, *pairs)
    if out != tuple(d["shape"]):
        return [_err("conv output shape does not match the target", where, "shape",
                     out, tuple(d["shape"]))]
    return _delay_shape_problems(where, attrs, w) if np.ndim(attrs.get("delay", 0)) else []


def _identity_problems(where, w, attrs, s, d) -> list[SnnpipeError]:
    if tuple(s["shape"]) != tuple(d["shape"]):
        return [_err("identity edge joins different shapes", where, "shape",
                     tuple(s["shape"]), tuple(d["shape"]))]
    if w.shape not in {(), (s["shape"][0],)}:
        return [_err("identity weight must be a scalar or per channel", where, "weight",
                     f"() or ({s['shape'][0]},)", w.shape)]
    return []


def _topology_problems(graph) -> list[SnnpipeError]:
    problems = []
    try:
        G.topological_order(graph)
    except GraphError as e:
        problems.append(e)
    for n, attrs in graph.nodes(data=True):
        if attrs.get("kind") == "merge" and graph.in_degree(n) == 0:
            problems.append(_err("a merge without in-edges", n, "in-edges", ">= 1 identity edge"))
    inputs = [n for n in graph.graph.get("inputs") or [] if n in graph]
    # a population without in-edges that its bias alone makes fire is a source too (the
    # constant drive of an imported NIR network: pipeline/formats/nir_import.py)
    driven = [n for n, d in graph.nodes(data=True) if d.get("kind") == "neuron"
              and graph.in_degree(n) == 0 and np.any(np.asarray(d.get("bias", 0)) != 0)]
    reached = set(inputs) | set(driven)
    for n in inputs + driven:
        reached |= nx.descendants(graph, n)
    for n in graph.nodes:
        if n not in reached and inputs:
            problems.append(_err("node unreachable from the inputs", n, "in-edges",
                                 "a path from an input"))
    return problems
