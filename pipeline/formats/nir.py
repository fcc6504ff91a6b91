"""NIR interchange (nir 1.0): ``to_nir(graph) -> nir.NIRGraph`` and ``from_nir(nir_graph, dt)``.

NIR neurons are ODEs in continuous time (seconds). A step of ``dt`` seconds is their exact
(zero-order-hold) discretisation, spikes counted per step:

    I[t] = e_syn * I[t-1] + (1 - e_syn) * w_in * S[t]          e_syn = exp(-dt / tau_syn)
    v[t] = e_mem * v[t-1] + (1 - e_mem) * (v_leak + r * I[t])  e_mem = exp(-dt / tau_mem)

so our decays are ``1 - exp(-dt / tau)`` (DESIGN.md section 3) and our neuron equals NIR's with
``w_in = 1 / current_decay``, ``r = 1 / voltage_decay``, ``v_leak = bias / voltage_decay``
and ``v_reset = 0``. On import the input gain ``(1 - e_syn) w_in (1 - e_mem) r`` is folded into
the incoming weights (gains within 1e-12 of 1 count as 1, so our own exports come back with
identical weights; decays and biases come back to within float64 rounding).

Mapping: ``cuba`` -> CubaLIF (LIF when current_decay is 1), ``li`` -> CubaLI (LI when
current_decay is 1), ``dense`` -> Linear (Affine with zero bias on import), ``conv`` -> Conv2d,
a dense edge from a (C, H, W) source -> Flatten + Linear, ``identity`` -> Scale, ``merge`` ->
Scale of ones marked ``metadata["snnpipe"] = "merge"`` (NIR sums every edge into a node).
Recurrent edges are the NIR edges that close a cycle in depth-first order from the inputs.
A delay of d steps is a Delay node of d * dt seconds after the projection. Not expressible
(GraphError): several synaptic currents, per-synapse delays, subtractive reset, graded or
multi spikes, refractory periods, decays of exactly 0.
"""
from __future__ import annotations

import networkx as nx
import nir
import numpy as np

from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.validate import check

SNAP = 1e-12
PROJECTIONS = (nir.Linear, nir.Affine, nir.Conv2d, nir.Flatten, nir.Scale, nir.Delay)
NEURONS = (nir.CubaLIF, nir.LIF, nir.CubaLI, nir.LI)


# ------------------------------------------------------------------------------ to NIR

def _tau(decay, dt: float, node, field) -> np.ndarray:
    """Time constant (s) of a decay (fraction lost per step): ``-dt / log(1 - decay)``."""
    decay = np.asarray(decay, dtype=np.float64)
    if np.any(decay == 0):
        raise GraphError("NIR has no form for a decay of 0 (a perfect integrator)", where=node,
                         field=field, expected="decays in (0, 1]", found=0.0)
    with np.errstate(divide="ignore"):
        return -dt / np.log1p(-decay)


def _full(x, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=np.float64).reshape(
        np.shape(x) if np.ndim(x) == 0 else shape), shape).copy()


def _neuron_to_nir(node, d, dt: float) -> nir.NIRNode:
    shape = d["shape"]
    unsupported = {"n_syn": d["n_syn"] != 1, "reset": d["reset"] != "zero",
                   "spike": d["spike"] != "binary", "refractory": d["refractory"] != 0}
    for field, bad in unsupported.items():
        if bad:
            raise GraphError("NIR cannot express this neuron feature", where=node, field=field,
                             expected="n_syn 1, reset zero, binary spikes, no refractory period",
                             found=d[field])
    cd = _full(d["current_decay"][0], shape)
    vd = _full(d["voltage_decay"], shape)
    tau_mem, r, v_leak = _tau(vd, dt, node, "voltage_decay"), 1 / vd, _full(d["bias"], shape) / vd
    if d["model"] == "li":
        if np.all(cd == 1):
            return nir.LI(tau=tau_mem, r=r, v_leak=v_leak)
        return nir.CubaLI(tau_syn=_tau(cd, dt, node, "current_decay"), tau_mem=tau_mem, r=r,
                          v_leak=v_leak, w_in=1 / cd)
    th = _full(d["threshold"], shape)
    if np.all(cd == 1):
        return nir.LIF(tau=tau_mem, r=r, v_leak=v_leak, v_threshold=th)
    return nir.CubaLIF(tau_syn=_tau(cd, dt, node, "current_decay"), tau_mem=tau_mem, r=r,
                       v_leak=v_leak, v_threshold=th, w_in=1 / cd)


def _edge_to_nir(g, src, dst, key, e) -> list[tuple[str, nir.NIRNode]]:
    """The NIR nodes of one projection, in signal order (a Delay last when it has one)."""
    name = f"{src}->{dst}#{key}"
    nodes = _projection_to_nir(g, src, e, name)
    delay = np.asarray(e["delay"])
    if delay.ndim:
        raise GraphError("NIR holds one delay per projection, not one per synapse",
                         where=f"{src} -> {dst} [{key}]", field="delay", expected="a scalar",
                         found=delay.shape)
    if delay:
        shape = g.nodes[dst]["shape"]
        nodes.append((name + ":delay", nir.Delay(delay=np.full(shape, delay * g.graph["dt"]))))
    return nodes


def _projection_to_nir(g, src, e, name) -> list[tuple[str, nir.NIRNode]]:
    in_shape = g.nodes[src]["shape"]
    if e["op"] == "identity":
        return [(name, nir.Scale(scale=_full(_per_channel(e["weight"], in_shape), in_shape)))]
    if e["op"] == "conv":
        w = e["weight"]
        return [(name, nir.Conv2d(input_shape=tuple(in_shape[1:]), weight=w, stride=e["stride"],
                                  padding=e["padding"], dilation=e["dilation"],
                                  groups=e["groups"], bias=np.zeros(w.shape[0])))]
    nodes = []
    if len(in_shape) > 1:
        nodes.append((name + ":flatten", nir.Flatten(input_type={"input": np.array(in_shape)},
                                                     start_dim=0, end_dim=-1)))
    return nodes + [(name, nir.Linear(weight=e["weight"]))]


def _per_channel(w, shape) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    return w if w.ndim == 0 else w.reshape((shape[0],) + (1,) * (len(shape) - 1))


def to_nir(graph: nx.MultiDiGraph) -> nir.NIRGraph:
    """The NIR graph of a valid Graph (see the module docstring for the mapping).

    Raises:
        GraphError: a node or edge NIR cannot express, naming it and the field.
    """
    dt = graph.graph["dt"]
    nodes: dict[str, nir.NIRNode] = {}
    for n, d in graph.nodes(data=True):
        if d["kind"] == "input":
            nodes[n] = nir.Input(input_type=np.array(d["shape"]))
        elif d["kind"] == "merge":
            nodes[n] = nir.Scale(scale=np.ones(d["shape"]), metadata={"snnpipe": "merge"})
        else:
            nodes[n] = _neuron_to_nir(n, d, dt)
    edges = []
    for src, dst, key, e in G.edges(graph):
        chain = _edge_to_nir(graph, src, dst, key, e)
        nodes.update(chain)
        names = [src] + [name for name, _ in chain] + [dst]
        edges += list(zip(names[:-1], names[1:]))
    for i, n in enumerate(graph.graph["outputs"]):
        out = "output" if len(graph.graph["outputs"]) == 1 else f"output{i}"
        while out in nodes:
            out = "_" + out
        nodes[out] = nir.Output(output_type=np.array(graph.nodes[n]["shape"]))
        edges.append((n, out))
    # nir 1.0.8 infers a Conv2d's output from weight.shape[2] for both axes, so its type check
    # rejects non-square kernels: check types only when every kernel is square.
    square = all(n.weight.shape[2] == n.weight.shape[3] for n in nodes.values()
                 if isinstance(n, nir.Conv2d))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=square,
                        metadata={"dt": dt, "name": graph.graph.get("name", "net")})


# ---------------------------------------------------------------------------- from NIR

def _decay(tau, dt: float) -> np.ndarray:
    """Fraction lost per step of a time constant (s): ``1 - exp(-dt / tau)``."""
    with np.errstate(divide="ignore"):
        return -np.expm1(-dt / np.asarray(tau, dtype=np.float64))


def _collapse(a) -> np.ndarray:
    """A per-neuron array as our Graph stores it: 0-d when uniform, else flat (N,)."""
    a = np.asarray(a, dtype=np.float64)
    return np.array(a.flat[0]) if np.all(a == a.flat[0]) else a.reshape(-1)


def _neuron_from_nir(g, name, node, dt) -> np.ndarray:
    """Add our neuron for a NIR neuron node; return its input gain per neuron (flat)."""
    shape = tuple(int(s) for s in node.output_type["output"])
    if isinstance(node, (nir.LIF, nir.LI)):
        tau_mem, cd, w_in = node.tau, np.ones(shape), np.ones(shape)
    else:
        tau_mem, cd, w_in = node.tau_mem, _decay(node.tau_syn, dt), node.w_in
    vd = _decay(tau_mem, dt)
    params = dict(current_decay=_collapse(cd)[None], voltage_decay=_collapse(vd),
                  bias=_collapse(vd * node.v_leak))
    if isinstance(node, (nir.LIF, nir.CubaLIF)):
        if np.any(np.asarray(node.v_reset) != 0):
            raise GraphError("only reset to zero is supported", where=name, field="v_reset",
                             expected=0, found=node.v_reset)
        G.add_neuron(g, name, shape, threshold=_collapse(node.v_threshold), **params)
    else:
        G.add_neuron(g, name, shape, model="li", **params)
    gain = (cd * w_in * vd * node.r).reshape(-1)
    return np.where(np.abs(gain - 1) <= SNAP, 1.0, gain)


def _scale_weight(name, scale, shape) -> np.ndarray:
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), shape)
    if np.all(s == s.flat[0]):
        return np.array(s.flat[0])
    per = s.reshape(shape[0], -1)
    if np.all(per == per[:, :1]):
        return per[:, 0].copy()
    raise GraphError("a Scale must be uniform or per channel", where=name, field="scale",
                     expected="one factor per channel")


def _delay_steps(name, delay, dt: float) -> int:
    """A NIR Delay (seconds, one value for the whole projection) in whole steps of ``dt``."""
    d = np.asarray(delay, dtype=np.float64) / dt
    steps = int(np.rint(d.flat[0])) if d.size else 0
    if not d.size or np.any(np.abs(d - steps) > 1e-9 * max(1, steps)) or steps < 0:
        raise GraphError("a Delay must be one whole number of steps", where=name, field="delay",
                         expected=f"a uniform multiple of dt = {dt} s", found=delay)
    return steps


def _trace(nn, preds, name, shape_of, dt) -> tuple[str, dict]:
    """Follow a projection chain back from NIR node ``name`` to a population; return
    ``(population, edge attributes)`` for our edge."""
    delay = 0
    if isinstance(nn[name], nir.Delay):
        delay, name = _delay_steps(name, nn[name].delay, dt), _single_pred(preds, name)
        if name not in nn or not isinstance(nn[name], PROJECTIONS):
            return name, dict(op="identity", weight=np.array(1.0), delay=delay)
    src, attrs = _trace_projection(nn, preds, name, shape_of)
    return src, dict(attrs, delay=delay)


def _trace_projection(nn, preds, name, shape_of) -> tuple[str, dict]:
    node, attrs = nn[name], None
    if isinstance(node, (nir.Linear, nir.Affine)):
        if isinstance(node, nir.Affine) and np.any(node.bias != 0):
            raise GraphError("Affine bias is not supported", where=name, field="bias",
                             expected="zeros", found="non-zero")
        attrs = dict(op="dense", weight=np.asarray(node.weight, dtype=np.float64))
    elif isinstance(node, nir.Conv2d):
        if np.any(node.bias != 0) or isinstance(node.padding, str):
            raise GraphError("Conv2d needs zero bias and numeric padding", where=name,
                             field="bias/padding", expected="zeros, ints")
        attrs = dict(op="conv", weight=np.asarray(node.weight, dtype=np.float64),
                     stride=node.stride, padding=node.padding, dilation=node.dilation,
                     groups=int(node.groups))
    src = _single_pred(preds, name)
    while isinstance(nn[src], nir.Flatten):
        src = _single_pred(preds, src)
    if isinstance(nn[src], PROJECTIONS) and not _is_merge(nn, preds, src):
        raise GraphError("chained projections are not supported", where=name, field="edges",
                         expected="a population before each projection", found=src)
    if isinstance(node, nir.Scale):
        attrs = dict(op="identity", weight=_scale_weight(name, node.scale, shape_of(src)))
    if attrs is None:
        raise GraphError("a projection must end in Linear, Affine, Conv2d or Scale", where=name,
                         field="type", expected="Linear | Affine | Conv2d | Scale",
                         found=type(node).__name__)
    return src, attrs


def _single_pred(preds, name) -> str:
    if len(preds.get(name, [])) != 1:
        raise GraphError("a projection needs exactly one input", where=name, field="edges",
                         expected=1, found=len(preds.get(name, [])))
    return preds[name][0]


def _is_merge(nn, preds, name) -> bool:
    node = nn[name]
    return isinstance(node, nir.Scale) and (node.metadata.get("snnpipe") == "merge"
                                            or len(preds.get(name, [])) != 1)


def _check_supported(nn) -> None:
    for name, node in nn.items():
        if not isinstance(node, NEURONS + PROJECTIONS + (nir.Input, nir.Output)):
            raise GraphError("unsupported NIR node", where=name, field="type",
                             expected="CubaLIF | LIF | CubaLI | LI | Affine | Linear | Conv2d | "
                                      "Flatten | Scale | Delay | Input | Output",
                             found=type(node).__name__)


def from_nir(nir_graph: nir.NIRGraph, dt: float | None = None) -> nx.MultiDiGraph:
    """Our Graph of a NIR graph, discretised with step ``dt`` seconds (default: the graph's
    ``metadata["dt"]``, else 1 ms).

    Raises:
        GraphError: a NIR node or feature we cannot express, naming the node and field.
        ValidationErrors: the graph built is not valid (shapes that do not fit).
    """
    meta = nir_graph.metadata if isinstance(nir_graph.metadata, dict) else {}
    dt = float(dt if dt is not None else meta.get("dt", 1e-3))
    nn = nir_graph.nodes
    _check_supported(nn)
    preds: dict[str, list] = {}
    for a, b in nir_graph.edges:
        preds.setdefault(b, []).append(a)
    g = G.new_graph(str(meta.get("name", "nir")), dt)
    gains = {}
    for name, node in nn.items():
        if isinstance(node, nir.Input):
            G.add_input(g, name, tuple(int(s) for s in node.output_type["output"]))
        elif isinstance(node, NEURONS):
            gains[name] = _neuron_from_nir(g, name, node, dt)
        elif _is_merge(nn, preds, name):
            if np.any(np.asarray(node.scale) != 1):
                raise GraphError("a Scale that sums several inputs must be all ones",
                                 where=name, field="scale", expected=1.0)
            G.add_merge(g, name, tuple(int(s) for s in node.output_type["output"]))
    for a, b in nir_graph.edges:
        if b in g and not isinstance(nn[b], nir.Output):
            src, attrs = (a, dict(op="identity", weight=np.array(1.0))) if a in g else \
                _trace(nn, preds, a, lambda n: g.nodes[n]["shape"], dt)
            _add_edge(g, src, b, attrs, gains.get(b))
    outputs = [_single_pred(preds, n) for n, node in nn.items() if isinstance(node, nir.Output)]
    for n in outputs:
        if n not in g:
            raise GraphError("an Output must follow a neuron population", where=n,
                             field="edges", expected="CubaLIF | LIF | CubaLI | LI before Output",
                             found=type(nn[n]).__name__)
    G.set_outputs(g, outputs)
    _mark_recurrent(g)
    check(g)
    return g


def _add_edge(g, src, dst, attrs, gain) -> None:
    """Add our edge, folding the target's per-neuron input gain into its weight."""
    w, op = attrs.pop("weight"), attrs.pop("op")
    if gain is not None and np.any(gain != 1):
        w = _apply_gain(w, op, gain, g.nodes[dst]["shape"], dst)
    add = {"dense": G.add_dense, "conv": G.add_conv, "identity": G.add_identity}[op]
    add(g, src, dst, w, **attrs)


def _apply_gain(w, op, gain, shape, dst) -> np.ndarray:
    if op == "dense":
        return w * gain[:, None]
    per = gain.reshape(shape[0], -1)
    if not np.all(per == per[:, :1]):
        raise GraphError("a per-neuron input gain on a conv or identity edge", where=dst,
                         field="w_in/r", expected="gains uniform per channel")
    c = per[:, 0]
    if op == "conv":
        return w * c[:, None, None, None]
    return _scale_weight(dst, _full(_per_channel(w, shape), shape) * c.reshape(
        (-1,) + (1,) * (len(shape) - 1)), shape)


def _mark_recurrent(g) -> None:
    """Mark the edges that close a cycle in depth-first order from the inputs."""
    state: dict = {}

    def visit(n):
        state[n] = "open"
        for _, v, k in list(g.out_edges(n, keys=True)):
            if state.get(v) == "open":
                g.edges[n, v, k]["recurrent"] = True
            elif v not in state:
                visit(v)
        state[n] = "done"

    for n in list(g.graph["inputs"]) + list(g.nodes):
        if n not in state:
            visit(n)
