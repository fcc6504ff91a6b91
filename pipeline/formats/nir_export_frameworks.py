"""Our Graph -> NIR that one framework's own importer reads back into our network.

``to_framework(graph, name) -> nir.NIRGraph`` for ``name`` in :data:`READERS` (``to_nir(graph,
producer=name)`` calls it). Read by that framework's importer (``snntorch.import_nir.
import_from_nir``, ``norse.torch.from_nir``, ``sinabs.from_nir``,
``rockpool.nn.modules.torch.nir.from_nir``), the file builds a network whose forward emits at
step t what our float model of the graph emits at step ``t + offsets(graph)[p]``: our Graph
takes one step per projection, the frameworks none (:func:`offsets`).

One source of truth. Each importer steps the nodes it builds by the rules of one entry of
:data:`~snnpipe.pipeline.formats.nir_conventions.PRODUCERS` (measured by running them); the
export inverts that entry: a decay becomes the tau its rule turns back into the decay, and each
neuron node written is read back by :func:`~snnpipe.pipeline.formats.nir_neurons.population`,
the import's own code, which says the input gain the framework applies; the weights into the
population are divided by it. The metadata names the entry (``producer``) and our ``dt``, so
``read_nir`` reads the file back as the graph it came from.

The conventions of each framework's importer, and what is written for it, are the table of
:mod:`.nir_readers`.

A population's recurrent edge onto itself is written nested, ``Input -> neuron <-> Linear ->
Output``, as snnTorch and Rockpool export it: nirtorch steps it one step late in snnTorch and
Norse (snnTorch's own rewrite of a flat cycle would feed the input through the recurrent
weights), Rockpool builds ``LIFTorch(has_rec=True)`` from it.

What the importer would build differently is refused (GraphError naming the node or edge and
the field; the list and the importers' defects behind it: :mod:`.nir_readers`).
"""
from __future__ import annotations

import re

import networkx as nx
import nir
import numpy as np

from snnpipe.hwmap.targets.loihi import MAX_SPIKES
from snnpipe.pipeline.formats.nir_conventions import Conventions
from snnpipe.pipeline.formats.nir_neurons import population
from snnpipe.pipeline.formats.nir_readers import READERS, Reader
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError


def _node_type(d) -> str:
    cd = np.asarray(d["current_decay"], np.float64)[0]
    current = not np.all(cd == 1)
    if d["model"] == "li":
        return "CubaLI" if current else "LI"
    if np.all(np.asarray(d["voltage_decay"]) == 0):
        return "CubaIF" if current else "IF"
    return "CubaLIF" if current else "LIF"


def _full(x, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, np.float64).reshape(-1), (n,)).copy()


def _check_neuron(name: str, node, d, reader: Reader) -> str:
    """The NIR node type of population ``node``, or GraphError naming what cannot be written."""
    if d.get("model") not in ("cuba", "li"):
        raise GraphError(f"{name} reads CUBA neurons and leaky readouts only", where=node,
                         field="model", expected="cuba | li", found=d.get("model"))
    if reader.multi_dim is not None and len(d["shape"]) > 1:
        raise GraphError(f"{name} cannot read this population: {reader.multi_dim}",
                         where=node, field="shape", expected="one dimension",
                         found=tuple(d["shape"]))
    for f, want in (("n_syn", 1), ("refractory", 0)):
        if d[f] != want:
            raise GraphError(f"{name}'s importer has no form for this", where=node, field=f,
                             expected=want, found=d[f])
    if d["model"] == "cuba":
        for f, want in (("spike", reader.spike), ("reset", reader.reset)):
            if d[f] != want:
                raise GraphError(f"{name}'s importer builds neurons with {f} {want!r} only",
                                 where=node, field=f, expected=want, found=d[f])
        if reader.one_threshold and np.unique(d["threshold"]).size > 1:
            raise GraphError(f"{name}'s importer takes one threshold per population",
                             where=node, field="threshold", expected="one value",
                             found=f"{np.unique(d['threshold']).size} values")
    kind = _node_type(d)
    reason = reader.nodes.get(kind, f"{kind}: a synaptic current into a perfect integrator has "
                                    "no NIR node")
    if reason is not None:
        field_ = "voltage_decay" if kind in ("IF", "CubaIF") else \
            "model" if kind in ("LI", "CubaLI") else "current_decay"
        raise GraphError(f"{name} cannot read this population: {reason}", where=node,
                         field=field_, expected=" | ".join(k for k, v in reader.nodes.items()
                                                           if v is None), found=kind)
    if np.any(np.asarray(d["bias"]) != 0):
        raise GraphError(f"a bias: ours acts from step 0, before the first input reaches the "
                         f"population; {name} adds it from the step the input arrives",
                         where=node, field="bias", expected=0.0,
                         found=float(np.abs(d["bias"]).max()))
    return kind


def _tau(decay: np.ndarray, c: Conventions, dt: float, node, field_: str) -> np.ndarray:
    """The written time constant whose decay under ``c`` is ``decay`` (the import's inverse)."""
    top = 1.0 if c.decay == "exact" else np.inf
    bad = decay[(decay <= 0) | (decay >= top)]
    if bad.size:
        raise GraphError("a decay of 0 (a perfect integrator) has no time constant" if bad[0] <= 0
                         else "a decay of 1 needs tau = 0 under this framework's exact decay",
                         where=node, field=field_,
                         expected="(0, 1)" if c.decay == "exact" else "(0, 1]",
                         found=float(bad[0]))
    steps = 1.0 / decay if c.decay == "euler" else -1.0 / np.log1p(-decay)
    per = {"dt": dt, "rockpool": dt, "fixed": c.step_tau, "norse": dt * c.step_tau}[c.tau]
    return steps * per


def _gain_free(rule: str, vd: np.ndarray, dt: float) -> np.ndarray:
    """The factor that r multiplies in the membrane gain ``rule`` of nir_neurons."""
    return {"ode": vd, "one": np.ones_like(vd), "dt": np.full_like(vd, dt)}.get(rule)


def _neuron(node, d, kind: str, reader: Reader, dt: float) -> tuple[nir.NIRNode, np.ndarray]:
    """(NIR node, (N,) gain the framework applies to the input) of population ``node``."""
    c, n = reader.conventions, G.size(d["shape"])
    cd = _full(np.asarray(d["current_decay"], np.float64)[0], n)
    vd = _full(d["voltage_decay"], n)
    params: dict = {}
    if kind in ("CubaLIF", "CubaLI"):
        params["tau_syn"] = _tau(cd, c, dt, node, "current_decay")
        unit = {"ode": cd, "jump": np.ones(n), "decayed": 1 - cd}[c.syn_gain]
        params["w_in"] = np.ones(n) if (kind, "w_in") in reader.ignores else 1 / unit
    if kind != "IF":
        params["tau_mem" if kind.startswith("Cuba") else "tau"] = _tau(vd, c, dt, node,
                                                                     "voltage_decay")
        params["v_leak"] = np.zeros(n)
    free = _gain_free(c.gain(kind), vd, dt)
    if reader.r_is_dt:
        tau = params.get("tau_mem", params.get("tau"))
        params["r"] = tau / dt - 1
    elif (kind, "r") in reader.ignores or free is None:
        params["r"] = np.ones(n)
    else:
        params["r"] = 1 / free
    if d["model"] == "cuba":
        th = _full(d["threshold"], n)
        params["v_threshold"] = np.nextafter(th, np.inf) if c.threshold == ">=" else th
    out = getattr(nir, kind)(**{k: v.reshape(d["shape"]) for k, v in params.items()})
    p = population(node, out, n, c, dt)
    back = {k: np.asarray(p.attrs[k], np.float64) for k in ("current_decay", "voltage_decay")}
    assert np.allclose(back["voltage_decay"], vd, rtol=1e-9, atol=0), (node, "voltage_decay")
    assert np.allclose(back["current_decay"][0], cd, rtol=1e-9, atol=0), (node, "current_decay")
    return out, p.gain


def offsets(graph: nx.MultiDiGraph) -> dict:
    """Population -> the steps our Graph runs behind a framework stepping its NIR export.

    A framework's projections act within its step, each of ours takes one (and its delay), so
    a population at the end of paths of ``L`` steps emits at our step ``t + L`` what the
    framework emits at step t. A population's recurrent edge to itself without delay acts one
    step later in both. Raises GraphError where paths of different lengths meet (the framework
    would add spikes that we add at different steps), for other recurrent edges and merges.
    """
    order = G.topological_order(graph)
    sources = constant_sources(graph)
    lag = {n: 0 for n in list(graph.graph["inputs"]) + list(sources)}
    for n in order:
        if graph.nodes[n]["kind"] == "merge":
            raise GraphError("a merge: the frameworks' importers read no Scale junction",
                             where=n, field="kind", expected="input | neuron", found="merge")
        for src, dst, key, e in graph.in_edges(n, keys=True, data=True):
            where = f"{src} -> {dst} [{key}]"
            delay = np.asarray(e["delay"])
            if delay.ndim:
                raise GraphError("one delay per projection, not one per synapse",
                                 where=where, field="delay", expected="a scalar",
                                 found=delay.shape)
            if e.get("recurrent"):
                if src != dst or delay != 0:
                    raise GraphError("the frameworks read a population's recurrence onto "
                                     "itself without delay only", where=where,
                                     field="recurrent" if src != dst else "delay",
                                     expected="a self-loop of delay 0",
                                     found=f"{src} -> {dst}, delay {int(delay)}")
                continue
            at = lag[src] + 1 + int(delay)
            if lag.setdefault(n, at) != at:
                raise GraphError("paths of different lengths reach this population: the "
                                 "framework adds within one step what ours adds at "
                                 f"{lag[n]} and {at} steps", where=where, field="delay",
                                 expected=f"{lag[n] - lag[src] - 1} step(s)", found=int(delay))
    return {n: lag[n] for n in graph.nodes
            if graph.nodes[n]["kind"] == "neuron" and n not in sources}


def constant_sources(graph: nx.MultiDiGraph) -> dict:
    """Population -> (N,) spikes it emits every step from step 0, for the populations without
    input whose bias crosses the threshold every step: the import's ``bias`` population, which
    carries a framework's Affine biases (and v_leak). Their edges become Affine biases."""
    out = {}
    for n, d in graph.nodes(data=True):
        if d["kind"] != "neuron" or d.get("model") != "cuba" or graph.in_degree(n) \
                or d["refractory"] or d["spike"] == "graded":
            continue
        size = G.size(d["shape"])
        bias, th = _full(d["bias"], size), _full(d["threshold"], size)
        steady = d["reset"] == "zero" or np.all(np.asarray(d["voltage_decay"]) == 1)
        if steady and np.all(bias > th):
            out[n] = np.ones(size) if d["spike"] == "binary" else \
                np.clip(np.ceil(bias / th) - 1, 1, MAX_SPIKES)
    return out


def _names(graph) -> dict:
    """Our node ids -> names every importer takes (torch module names: word characters)."""
    out: dict = {}
    for n in graph.nodes:
        name = re.sub(r"\W", "_", str(n))
        name = "n_" + name if not name or name[0].isdigit() else name
        while name in out.values():
            name += "_"
        out[n] = name
    return out


def _refuse(name: str, why: str | None, where: str, field_: str, found) -> None:
    if why is not None:
        raise GraphError(f"{name} cannot read this projection: {why}", where=where,
                         field=field_, found=found)


def _weight(graph, src, e) -> np.ndarray:
    """The (N_dst, N_src) matrix of a dense or identity projection."""
    w = np.asarray(e["weight"], np.float64)
    if e["op"] == "identity":
        w = np.diag(np.broadcast_to(w.reshape(-1), (G.size(graph.nodes[src]["shape"]),)))
    return w


def _projection(graph, src, dst, e, gain, name: str, where: str, drive=None) -> list:
    """[(suffix, NIR node)] of one projection in signal order, the target's input gain
    divided out of the weight and of the constant ``drive`` (N,) it carries as a bias."""
    reader, shape = READERS[name], tuple(graph.nodes[src]["shape"])
    w = np.asarray(e["weight"], np.float64)
    drive = np.zeros(len(gain)) if drive is None else drive
    if e["op"] == "conv":
        _refuse(name, reader.conv, where, "op", "conv")
        per = gain.reshape(w.shape[0], -1)
        b = (drive / gain).reshape(w.shape[0], -1)
        for a, f in ((per, "voltage_decay"), (b, "bias")):
            if np.any(a != a[:, :1]):
                raise GraphError("per-neuron values into a conv projection", where=where,
                                 field=f, expected="one value per channel")
        return [("", nir.Conv2d(input_shape=shape[1:], weight=w / per[:, :1, None, None],
                                stride=e["stride"], padding=e["padding"],
                                dilation=e["dilation"], groups=e["groups"], bias=b[:, 0]))]
    if e["op"] == "identity":
        if len(shape) > 1:
            _refuse(name, "an identity projection between multi-dimensional populations",
                    where, "op", "identity")
        w = _weight(graph, src, e)
    chain = []
    if len(shape) > 1:
        _refuse(name, reader.flatten, where, "shape", shape)
        chain.append(("_flatten", nir.Flatten(input_type={"input": np.array(shape)},
                                              start_dim=0, end_dim=-1)))
    w = w / gain[:, None]
    node = nir.Affine(weight=w, bias=drive / gain) if reader.affine or np.any(drive) else \
        nir.Linear(weight=w)
    return chain + [("", node)]


def _drives(graph, sources: dict) -> dict:
    """Population -> (N,) constant input from the constant sources, per step."""
    drives: dict = {}
    for src, dst, key, e in G.edges(graph):
        if src in sources:
            if e["op"] == "conv":
                raise GraphError("a conv projection from a constant source", field="op",
                                 where=f"{src} -> {dst} [{key}]", expected="dense | identity")
            drives[dst] = drives.get(dst, 0) + _weight(graph, src, e) @ sources[src]
    return drives


def _recurrent(neuron, weight, reader: Reader, shape) -> nir.NIRGraph:
    """A population with its recurrence onto itself, nested as snnTorch and Rockpool export
    it (Rockpool's importer takes exactly these four nodes)."""
    w = nir.Affine(weight=weight, bias=np.zeros(weight.shape[0])) if reader.affine else \
        nir.Linear(weight=weight)
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array(shape)), "neuron": neuron,
                               "recurrent": w, "output": nir.Output(output_type=np.array(shape))},
                        edges=[("input", "neuron"), ("neuron", "recurrent"),
                               ("recurrent", "neuron"), ("neuron", "output")])


def to_framework(graph: nx.MultiDiGraph, name: str) -> nir.NIRGraph:
    """The NIR graph of a valid Graph that framework ``name`` (a key of :data:`READERS`) reads
    back into a network emitting our float outputs, :func:`offsets` steps earlier.

    Raises:
        GraphError: what that framework's importer cannot build as we run it, naming the node
            or edge and the field (see the module docstring).
    """
    reader = READERS[name]
    dt = graph.graph["dt"]
    lag = offsets(graph)
    names = _names(graph)
    sources = constant_sources(graph)
    drives = _drives(graph, sources)
    nodes: dict = {}
    gains: dict = {}
    for n, d in graph.nodes(data=True):
        if d["kind"] == "input":
            nodes[names[n]] = nir.Input(input_type=np.array(d["shape"]))
            continue
        if n in sources:
            continue
        kind = _check_neuron(name, n, d, reader)
        nodes[names[n]], gains[n] = _neuron(n, d, kind, reader, dt)
    edges = []
    loops: dict = {}
    for src, dst, key, e in G.edges(graph):
        where = f"{src} -> {dst} [{key}]"
        if src in sources:
            continue
        chain = _projection(graph, src, dst, e, gains[dst], name, where,
                            drives.pop(dst, None) if src != dst else None)
        if src == dst:
            if reader.recurrent is not None:
                raise GraphError(f"{name} reads no recurrence: {reader.recurrent}",
                                 where=where, field="recurrent", expected=False, found=True)
            loops[src] = loops.get(src, 0) + chain[-1][1].weight
            continue
        path = [names[src]]
        for suffix, node in chain:
            label = f"{names[src]}_{names[dst]}_{key}{suffix}"
            while label in nodes:
                label += "_"
            nodes[label] = node
            path.append(label)
        path.append(names[dst])
        edges += list(zip(path[:-1], path[1:]))
    if drives:
        raise GraphError("a population whose only input is a constant drive", where=next(
            iter(drives)), field="bias", expected="a projection from another population")
    for n, w in loops.items():
        nodes[names[n]] = _recurrent(nodes[names[n]], w, reader, graph.nodes[n]["shape"])
    for i, n in enumerate(graph.graph["outputs"]):
        if n in sources:
            raise GraphError("a constant source as an output", where=n, field="outputs")
        out = "output" if len(graph.graph["outputs"]) == 1 else f"output{i}"
        while out in nodes:
            out = "_" + out
        nodes[out] = nir.Output(output_type=np.array(graph.nodes[n]["shape"]))
        edges.append((names[n], out))
    assert set(lag) == set(gains)
    # nir 1.0.8 infers a Conv2d's output from weight.shape[2] for both axes (as in to_nir)
    square = all(v.weight.shape[2] == v.weight.shape[3] for v in nodes.values()
                 if isinstance(v, nir.Conv2d))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=square,
                        metadata={"producer": reader.producer, "dt": dt, "written_for": name,
                                  "writer": "snnpipe", "name": graph.graph.get("name", "net")})
