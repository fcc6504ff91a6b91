"""Our Graph -> NIR 1.0: ``to_nir(graph) -> nir.NIRGraph``.

NIR neurons are ODEs in continuous time (seconds). A step of ``dt`` seconds is their exact
(zero-order-hold) discretisation, spikes counted per step:

    I[t] = e_syn * I[t-1] + (1 - e_syn) * w_in * S[t]          e_syn = exp(-dt / tau_syn)
    v[t] = e_mem * v[t-1] + (1 - e_mem) * (v_leak + r * I[t])  e_mem = exp(-dt / tau_mem)

so our decays are ``1 - exp(-dt / tau)`` (DESIGN.md section 3) and our neuron equals NIR's with
``w_in = 1 / current_decay``, ``r = 1 / voltage_decay``, ``v_leak = bias / voltage_decay``
and ``v_reset = 0``. The graph's metadata says ``producer = "snnpipe"``, ``dt`` and ``name``,
so that :func:`snnpipe.pipeline.formats.nir_read.read_nir` reads it back with our own timing
(every projection one step; biases from step 0) and identical weights.

Mapping: ``cuba`` -> CubaLIF (LIF when current_decay is 1), ``li`` -> CubaLI (LI when
current_decay is 1), ``dense`` -> Linear, ``conv`` -> Conv2d, a dense edge from a (C, H, W)
source -> Flatten + Linear, ``identity`` -> Scale, ``merge`` -> Scale of ones marked
``metadata["snnpipe"] = "merge"`` (NIR sums every edge into a node). A delay of d steps is a
Delay node of d * dt seconds after the projection. Not expressible (GraphError): several
synaptic currents, per-synapse delays, subtractive reset, graded or multi spikes, refractory
periods, a voltage decay of exactly 0 (NIR's IF has no current; a decay of 0 has no tau).

``to_nir(graph, producer=F)`` for a framework F (snntorch, norse, sinabs, rockpool) writes
instead the parameters F's own NIR importer needs to run the graph as we do
(:mod:`.nir_export_frameworks`).
"""
from __future__ import annotations

import networkx as nx
import nir
import numpy as np

from snnpipe.pipeline.formats.nir_export_frameworks import to_framework
from snnpipe.pipeline.formats.nir_readers import READERS
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir import readout
from snnpipe.pipeline.ir.errors import GraphError


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
    if d.get("model") not in ("cuba", "li"):
        raise GraphError("NIR has no form for this neuron model", where=node, field="model",
                         expected="cuba | li", found=d.get("model"))
    unsupported = {"n_syn": d["n_syn"] != 1, "reset": d["reset"] != "zero",
                   "spike": d["spike"] != "binary", "refractory": d["refractory"] != 0,
                   "reset_interval": bool(d.get("reset_interval", 0))}
    for field, bad in unsupported.items():
        if bad:
            raise GraphError("NIR cannot express this neuron feature", where=node, field=field,
                             expected="n_syn 1, reset zero, binary spikes, no refractory period, "
                                      "no periodic reset",
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
    if e["op"] == "conv_transpose":
        raise GraphError("NIR has no transposed convolution", where=name, field="op",
                         expected="dense | conv | identity", found="conv_transpose")
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


def to_nir(graph: nx.MultiDiGraph, producer: str | None = None) -> nir.NIRGraph:
    """The NIR graph of a valid Graph.

    Args:
        producer: None or ``"exact"``: NIR's exact ODEs (see the module docstring for the
            mapping); a framework (``snntorch | norse | sinabs | rockpool``): parameters in the
            conventions of that framework's own importer, which then builds a network emitting
            our float outputs (:mod:`.nir_export_frameworks`, its ``offsets`` steps earlier).
    Raises:
        GraphError: a node or edge NIR (or that framework) cannot express, naming it and the
            field; an unknown producer.
    """
    readout.refuse(graph, "NIR")
    if producer not in (None, "exact"):
        if producer not in READERS:
            raise GraphError("no NIR export for this producer", field="producer",
                             expected="exact | " + " | ".join(READERS), found=producer)
        return to_framework(graph, producer)
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
                        metadata={"producer": "snnpipe", "dt": dt,
                                  "name": graph.graph.get("name", "net")})
