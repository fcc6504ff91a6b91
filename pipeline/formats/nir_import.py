"""NIR graph -> our Graph under one producer's conventions (:mod:`.nir_conventions`).

``import_nir(nir_graph, dt, producer) -> (graph, NirInfo)``. Each NIR neuron node becomes a
population (:mod:`.nir_neurons`), each path of projections between two of them one edge
(:mod:`.nir_chain`), our own merges come back as merges.

Timing. Every framework steps a NIR graph with projections acting within the step: a
population at depth k responds to input step t at step t, and a cycle acts one step later. In
our Graph every projection takes one step (DESIGN.md 3), so under ``timing="framework"``
population b runs ``offset[b]`` steps behind the framework (its longest path from the inputs,
less the NIR Delays on it) and every edge gets the delay that keeps all populations aligned;
a cycle back to a population less far behind is refused. Constant drives (Affine and Conv
biases, ``v_leak``) must start at the step the population starts, not at step 0: they come from
one extra population, :data:`BIAS` (one neuron that fires every step), through a dense edge
delayed to the target's offset. So an imported network's population b emits at index
``t + offset[b]`` exactly what the framework's emits at step t (``NirInfo.offsets``).
Under ``timing="graph"`` (our own files) edges keep their own delays and drives are neuron
biases.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import nir
import numpy as np
import torch

from snnpipe.pipeline.formats import nir_chain, nir_detect, nir_topology as topo
from snnpipe.pipeline.formats.nir_conventions import PRODUCERS, Conventions
from snnpipe.pipeline.formats.nir_neurons import NEURONS, Population, population
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import FormatError, GraphError
from snnpipe.pipeline.ir.validate import check

BIAS = "bias"


@dataclass
class NirInfo:
    """What an import used: ``producer`` (a key of PRODUCERS), whether it was ``detected`` and
    why (``reason``), ``dt`` (seconds per step), ``offsets`` (population -> steps our Graph
    runs behind the framework), the ``bias`` population's id (None without one) and
    ``warnings``."""

    producer: str
    detected: bool
    reason: str
    dt: float
    offsets: dict = field(default_factory=dict)
    bias: str | None = None
    warnings: list = field(default_factory=list)


def _rockpool_dt(neurons: dict) -> float | None:
    """Rockpool writes r = tau_mem exp(-dt / tau_mem) / dt: dt = tau W(1 / r)."""
    from scipy.special import lambertw

    for node in neurons.values():
        tau = getattr(node, "tau_mem", getattr(node, "tau", None))
        if tau is not None and getattr(node, "r", None) is not None:
            tau, r = (nir_chain.as_array(x).reshape(-1)[0] for x in (tau, node.r))
            if r > 0:
                return float(tau * lambertw(1.0 / r).real)
    return None


def resolve(flat, nir_graph, dt, producer) -> tuple[Conventions, NirInfo]:
    """The conventions and time step of an import (see :func:`import_nir`)."""
    detected, reason = nir_detect.detect(flat.nodes, nir_graph)
    name = producer or detected or "exact"
    if name not in PRODUCERS:
        raise FormatError("unknown NIR producer", field="producer",
                          expected=" | ".join(PRODUCERS), found=name)
    c = PRODUCERS[name]
    if producer is None and detected is None:
        reason = "none detected (" + reason + "): NIR's exact discretisation"
    elif producer is not None:
        reason = "given"
    step = dt if dt is not None else nir_detect.metadata_dt(nir_graph)
    if step is None and c.tau == "rockpool":
        step = _rockpool_dt({n: v for n, v in flat.nodes.items() if isinstance(v, NEURONS)})
    step = step if step is not None else c.dt
    needs = any(isinstance(v, NEURONS + (nir.Delay,)) and not isinstance(v, nir.Threshold)
                for v in flat.nodes.values())
    if step is None and needs:
        raise FormatError("this NIR file states no time step and its producer has none",
                          field="dt", expected="--dt SECONDS (or --producer)",
                          found=f"producer {name} ({reason})")
    if step is not None and not (np.isfinite(step) and step > 0):
        raise FormatError("bad time step", field="dt", expected="seconds > 0", found=step)
    info = NirInfo(name, producer is None and detected is not None, reason,
                   float(step) if step is not None else 1e-3)
    return c, info


def _ints(a) -> np.ndarray | None:
    """A declared shape as a flat int array; None when it is not one (strings, NaN, ...)."""
    a = np.asarray(a).reshape(-1)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        return a.astype(np.int64)
    return None


def _shape_of(node) -> tuple | None:
    t = getattr(node, "output_type", None) or {}
    s = t.get("output") if isinstance(t, dict) else None
    s = _ints(s) if s is not None else None
    return tuple(int(v) for v in s) if s is not None and s.size and np.all(s > 0) else None


def _input_shape(flat, name: str, notes: list) -> tuple | None:
    """An Input's shape without the batch dimension that exporters tracing a batched sample
    leave in it (Norse, Rockpool: (1, 5) for 5 channels), when what follows says so."""
    s = _shape_of(flat.nodes[name])
    if s is None or len(s) < 2 or s[0] != 1:
        return s
    for a, b in flat.edges:
        node = flat.nodes[b] if a == name else None
        t = getattr(node, "input_type", None) or {}
        t = t.get("input") if isinstance(t, dict) else None
        t = _ints(t) if t is not None else None
        t = tuple(int(v) for v in t) if t is not None else ()
        conv = isinstance(node, (nir.Conv1d, nir.Conv2d)) and len(s) == node.weight.ndim
        if t == s[1:] or conv or isinstance(node, (nir.Linear, nir.Affine)):
            notes.append(f"Input {name} of shape {s} read as {s[1:]} (a batch dimension)")
            return s[1:]
    return s


def _shapes(flat, paths: dict, dt: float, notes: list) -> dict:
    """Every unit's shape: inputs as declared, the rest as the first path from a unit of known
    shape delivers it (neurons of no path: their parameters' shape)."""
    shapes = {n: _input_shape(flat, n, notes) for n in flat.inputs}
    if any(s is None for s in shapes.values()):
        raise GraphError("an Input without a shape", where=[n for n, s in shapes.items()
                                                            if s is None][0],
                         field="input_type", expected="a shape of positive ints")
    todo = [u for u in paths if u not in shapes]
    while todo:
        progress = False
        for u in list(todo):
            for src, chain in paths[u]:
                if src in shapes:
                    shapes[u] = nir_chain.compose(chain, shapes[src], dt).out_shape
                    todo.remove(u)
                    progress = True
                    break
        if not progress:
            for u in todo:
                shape = _shape_of(flat.nodes[u])
                if shape is None:
                    raise GraphError("no path from an input reaches this node", where=u,
                                     field="edges", expected="a path from an Input")
                shapes[u] = shape
            todo = []
    return shapes


def _drive(flat, unit: str, shapes: dict) -> np.ndarray:
    """What the projections into ``unit`` deliver when every source is silent: their biases."""
    memo: dict = {}

    def value(name):
        if name not in memo:
            total = 0
            for p in flat.preds.get(name, []):
                total = total + (torch.zeros((1,) + shapes[p], dtype=torch.float64)
                                 if topo.is_unit(flat, p) else value(p))
            memo[name] = nir_chain.run([(name, flat.nodes[name])], total) \
                if name != unit else total
        return memo[name]

    v = value(unit)
    return np.zeros(G.size(shapes[unit])) if isinstance(v, int) else v.reshape(-1).numpy()


def _gain_weight(op: str, attrs: dict, gain: np.ndarray, shape: tuple, where: str):
    """(op, attrs) with the target's per-neuron input gain folded into the weight."""
    w = np.asarray(attrs["weight"], np.float64)
    if np.all(gain == 1):
        return op, attrs
    if op == "dense":
        return op, dict(attrs, weight=w * gain[:, None])
    per = gain.reshape(shape[0], -1)
    if np.all(per == per[:, :1]):
        c = per[:, 0]
        if op == "conv":
            return op, dict(attrs, weight=w * c[:, None, None, None])
        w = np.broadcast_to(w, c.shape) * c if w.ndim else w * c
        return op, dict(attrs, weight=np.array(w[0]) if np.all(w == w[0]) else w)
    raise GraphError("a per-neuron input gain on a conv or identity projection", where=where,
                     field="w_in/r/tau", expected="gains uniform per channel")


def import_nir(nir_graph: nir.NIRGraph, dt: float | None = None,
               producer: str | None = None) -> tuple[nx.MultiDiGraph, NirInfo]:
    """Our Graph of ``nir_graph`` and what was used (:class:`NirInfo`).

    Args:
        nir_graph: a NIR graph (nested subgraphs allowed).
        dt: seconds per step (default: the file's metadata, else the producer's own step,
            else Rockpool's solved from r); needed by ``exact`` files with neurons or delays.
        producer: a key of :data:`PRODUCERS`; None detects it (else ``exact``).
    Raises:
        FormatError: an unknown producer, a missing or bad dt.
        GraphError: an unsupported node or feature, a broken edge, naming node and field.
        ValidationErrors: the Graph built is not valid.
    """
    flat = topo.flatten(nir_graph)
    topo.check_supported(flat)
    c, info = resolve(flat, nir_graph, dt, producer)
    units = [n for n in flat.nodes if topo.is_unit(flat, n) and n not in flat.inputs]
    paths = {u: topo.paths_into(flat, u) for u in units}
    shapes = _shapes(flat, paths, info.dt, info.warnings)
    meta = nir_detect.metadata(nir_graph)
    g = G.new_graph(str(meta.get("name", "nir")), info.dt)
    pops: dict[str, Population] = {}
    for n in flat.inputs:
        G.add_input(g, n, shapes[n])
    for u in units:
        node = flat.nodes[u]
        if isinstance(node, NEURONS):
            pops[u] = population(u, node, G.size(shapes[u]), c, info.dt)
            G.add_neuron(g, u, shapes[u], **pops[u].attrs)
        elif topo.is_merge(node):
            G.add_merge(g, u, shapes[u])
    planned = _plan_edges(flat, g, paths, pops, shapes, info.dt)
    outputs = _outputs(flat, paths, g)
    G.set_outputs(g, outputs)
    _mark_recurrent(g, planned)
    if c.timing == "framework":
        _align(g, planned, pops, flat, shapes, info)
    else:
        _graph_timing(g, planned, pops, flat, shapes)
    check(g)
    return g, info


def _plan_edges(flat, g, paths, pops, shapes, dt) -> list:
    """[(src, dst, op, attrs, delay steps of NIR Delays)] of every unit-to-unit path."""
    planned = []
    for dst, ps in paths.items():
        if dst not in g:
            continue
        for src, chain in ps:
            if src not in g:
                raise GraphError("a path from an Output", where=src, field="edges")
            e = nir_chain.compose(chain, shapes[src], dt)
            if e.out_shape != tuple(shapes[dst]) and G.size(e.out_shape) != G.size(shapes[dst]):
                raise GraphError("a projection delivers another shape than its target's",
                                 where=" -> ".join([src] + [n for n, _ in chain] + [dst]),
                                 field="shape", expected=tuple(shapes[dst]), found=e.out_shape)
            op, attrs = e.op, e.attrs
            if dst in pops:
                op, attrs = _gain_weight(op, attrs, pops[dst].gain, shapes[dst], dst)
            elif op != "identity":
                raise GraphError("a merge sums identity projections only", where=dst,
                                 field="type", expected="Scale", found=op)
            planned.append([src, dst, op, attrs, e.delay])
    return planned


def _outputs(flat, paths, g) -> list:
    outs = []
    for o in flat.outputs:
        ps = paths.get(o, [])
        wired = len(ps) == 1 and all(isinstance(n, nir_chain.Wire) for _, n in ps[0][1])
        if not wired or ps[0][0] not in g or g.nodes[ps[0][0]]["kind"] == "input":
            found = ", ".join(type(flat.nodes[p]).__name__ for p in flat.preds.get(o, []))
            raise GraphError("an Output must follow a neuron population", where=o,
                             field="edges", expected="CubaLIF | LIF | CubaLI | LI | IF | I | "
                             "Threshold before Output", found=found or "nothing")
        outs.append(ps[0][0])
    return outs


def _mark_recurrent(g, planned) -> None:
    """Flag (as planned[i][5]) the edges that close a cycle, depth first from the inputs."""
    out: dict = {}
    for i, (s, d, *_) in enumerate(planned):
        out.setdefault(s, []).append(i)
        planned[i].append(False)
    state: dict = {}

    def visit(n):
        state[n] = "open"
        for i in out.get(n, []):
            v = planned[i][1]
            if state.get(v) == "open":
                planned[i][5] = True
            elif v not in state:
                visit(v)
        state[n] = "done"

    for n in list(g.graph["inputs"]) + list(g.nodes):
        if n not in state:
            visit(n)


def _add(g, src, dst, op, attrs, delay, recurrent, syn=0) -> None:
    add = {"dense": G.add_dense, "conv": G.add_conv, "identity": G.add_identity}[op]
    add(g, src, dst, syn=syn, delay=delay, recurrent=recurrent, **attrs)


def _graph_timing(g, planned, pops, flat, shapes) -> None:
    for src, dst, op, attrs, delay, rec in planned:
        _add(g, src, dst, op, attrs, delay, rec)
    for u, p in pops.items():
        drive = _drive(flat, u, shapes) * p.gain
        if np.any(drive):
            if np.any(np.asarray(g.nodes[u]["current_decay"])[0] != 1):
                raise GraphError("a projection bias into a synaptic current (our Graph's "
                                 "biases act on v)", where=u, field="bias", expected="zeros")
            g.nodes[u]["bias"] = np.asarray(g.nodes[u]["bias"]) + drive
        if p.self_weight is not None:
            raise GraphError("snnTorch's reset needs framework timing", where=u, field="reset")


def _align(g, planned, pops, flat, shapes, info) -> None:
    """Delays that keep every population ``offset`` steps behind the framework, and the
    constant drives from the bias population (see the module docstring)."""
    offset = {n: 0 for n in g.graph["inputs"]}
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    h.add_edges_from((s, d) for s, d, *_, rec in planned if not rec)
    for n in nx.topological_sort(h):
        ins = [(s, dl, g.nodes[d]["kind"]) for s, d, _, _, dl, rec in planned
               if d == n and not rec]
        if n not in offset:
            offset[n] = max([0] + [offset[s] + (k == "neuron") - dl for s, dl, k in ins])
    for src, dst, op, attrs, dl, rec in planned:
        lat = 1 if g.nodes[dst]["kind"] == "neuron" else 0
        delay = offset[dst] - offset[src] - lat + dl + (1 if rec else 0)
        if delay < 0:
            raise GraphError("a cycle back to an earlier population: our Graph takes one step "
                             "per projection and cannot act on it within the framework's step",
                             where=f"{src} -> {dst}", field="recurrent",
                             expected="cycles within one population's depth",
                             found=f"{-delay} step(s) too late")
        _add(g, src, dst, op, attrs, delay, rec)
    drives = {}
    for u, p in pops.items():
        if p.self_weight is not None:
            w = p.self_weight
            op, attrs = ("identity", dict(weight=w)) if len(shapes[u]) == 1 else \
                ("dense", dict(weight=np.diag(w)))
            if np.all(w == w[0]):
                op, attrs = "identity", dict(weight=np.array(w[0]))
            _add(g, u, u, op, attrs, 0, True, syn=p.direct)
        syn = _drive(flat, u, shapes) * p.gain
        for current, d in ((0, syn), (p.direct, p.drive)):
            if np.any(d):
                drives[(u, current)] = drives.get((u, current), 0) + d
    info.offsets = {n: int(offset[n]) for n in g.nodes if n in pops}
    if drives:
        _bias_population(g, drives, offset, info)


def _bias_population(g, drives: dict, offset: dict, info) -> None:
    """One neuron firing every step from step 0 (v = 1 > 0.5, no memory) and a dense edge to
    each driven current, delayed so that it starts at the target's offset."""
    name = BIAS
    while name in g:
        name = "_" + name
    G.add_neuron(g, name, (1,), current_decay=1.0, voltage_decay=1.0, threshold=0.5, bias=1.0)
    for (u, syn), d in drives.items():
        if offset[u] < 1:
            raise GraphError("a constant drive into a population with no projection latency",
                             where=u, field="bias", expected="a population at depth >= 1")
        G.add_dense(g, name, u, np.asarray(d, np.float64).reshape(-1, 1), syn=syn,
                    delay=offset[u] - 1)
    info.bias = name
