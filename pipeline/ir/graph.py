"""The Graph IR (DESIGN.md section 3): a ``networkx.MultiDiGraph`` and small functions over it.

Graph attributes: ``name``, ``dt`` (seconds), ``format_version``, ``inputs`` and ``outputs``
(ordered node ids).

Nodes (``kind``):
    ``input``   ``shape``.
    ``neuron``  ``shape``, ``model`` (``cuba`` | ``li``), ``n_syn``, ``current_decay``
                (float64 array (n_syn,) or (n_syn, N)), ``voltage_decay``, ``threshold``,
                ``bias`` (float64 arrays, 0-d or (N,)), ``reset`` (``zero`` | ``subtract``),
                ``spike`` (``binary`` | ``graded`` | ``multi``), ``refractory`` (steps);
                optional ``reset_interval`` (steps, > 0) and ``reset_offset`` (0..interval-1):
                u and v are set to zero at the start of Lava step t (1-based; index t - 1)
                whenever ``t % reset_interval == reset_offset`` (Lava's ``LIFReset``; absent:
                never).
                ``li`` nodes have no threshold; their output is ``v`` (a readout of the synaptic
                current is an ``li`` with ``voltage_decay = 1``).
                ``sigma_delta`` (lava-dl's SDNN; :func:`add_sigma_delta`): ``stage``,
                ``activation``, ``threshold``, ``bias``, ``spike_exp``, ``state_exp``,
                ``message_bits``; no decays, no ``n_syn``.
                ``rf`` (lava-dl's resonate-and-fire; :func:`add_rf`): ``variant``, ``period``,
                ``decay``, ``threshold``; ``n_syn`` = 2 (real, imaginary input).
    ``merge``   ``shape``; sums the spike counts of its ``identity`` in-edges.

Edges (``op``): ``dense`` (``weight`` (out, in)), ``conv`` (``weight`` (out_ch, in_ch/groups,
kh, kw), ``stride``, ``padding``, ``dilation``, ``groups``), ``conv_transpose`` (torch's
ConvTranspose2d without output padding: ``weight`` (in_ch, out_ch/groups, kh, kw), ``stride``,
``padding``, ``dilation``, ``groups``; a scalar delay), ``identity`` (``weight`` 0-d or per
channel); all carry ``syn`` (target current index), ``delay`` (steps) and ``recurrent``.

Parameters are float units as SLAYER trains them: decays are the fraction lost per step,
``threshold`` and ``bias`` are in units of the weighted input. N = prod(shape).
"""
from __future__ import annotations

from typing import Iterator

import networkx as nx
import numpy as np

from snnpipe.pipeline.ir import readout
from snnpipe.pipeline.ir.errors import GraphError

FORMAT_VERSION = 1
NODE_KINDS = ("input", "neuron", "merge")
NEURON_MODELS = ("cuba", "li", "sigma_delta", "rf")
EDGE_OPS = ("dense", "conv", "conv_transpose", "identity")
RESETS = ("zero", "subtract")
SPIKES = ("binary", "graded", "multi")
SD_STAGES = ("sigma_delta", "delta", "sigma")
SD_ACTIVATIONS = ("relu", "none")
RF_VARIANTS = ("phase", "izhikevich")
RF_REAL, RF_IMAG = 0, 1                # the synaptic currents of an rf population


def _f64(x) -> np.ndarray:
    return np.array(x, dtype=np.float64)


def _pair(x) -> tuple[int, int]:
    if np.ndim(x) == 0:
        return (int(x), int(x))
    a, b = (int(v) for v in x)
    return (a, b)


def new_graph(name: str = "net", dt: float = 1e-3) -> nx.MultiDiGraph:
    """An empty Graph with ``dt`` in seconds."""
    g = nx.MultiDiGraph()
    g.graph.update(name=name, dt=float(dt), format_version=FORMAT_VERSION, inputs=[], outputs=[])
    return g


def size(shape) -> int:
    """Number of neurons of a population of the given shape."""
    return int(np.prod(shape, dtype=np.int64))


def add_input(g: nx.MultiDiGraph, node: str, shape) -> str:
    """Add an input node of ``shape`` (channels,) or (C, H, W) and append it to ``g.graph['inputs']``."""
    g.add_node(node, kind="input", shape=tuple(int(s) for s in np.atleast_1d(shape)))
    g.graph["inputs"].append(node)
    return node


def add_neuron(g: nx.MultiDiGraph, node: str, shape, *, model: str = "cuba", n_syn: int = 1,
               current_decay=0.0, voltage_decay=0.0, threshold=1.0, bias=0.0,
               reset: str = "zero", spike: str = "binary", refractory: int = 0,
               reset_interval: int = 0, reset_offset: int = 0) -> str:
    """Add a neuron population. Decays are fractions lost per step (0..1), float units elsewhere.

    ``current_decay`` may be a scalar (shared by all currents), (n_syn,) or (n_syn, N).
    ``reset_interval`` > 0 (steps) sets u and v to zero at the start of Lava step t (1-based)
    where ``t % reset_interval == reset_offset`` (Lava's ``LIFReset``); 0: never (the
    attributes are then left out).
    """
    shape = tuple(int(s) for s in np.atleast_1d(shape))
    cd = _f64(current_decay)
    if cd.ndim == 0:
        cd = np.full((n_syn,), float(cd))
    attrs = dict(kind="neuron", shape=shape, model=model, n_syn=int(n_syn), current_decay=cd,
                 voltage_decay=_f64(voltage_decay), bias=_f64(bias), reset=reset, spike=spike,
                 refractory=int(refractory))
    if model != "li":
        attrs["threshold"] = _f64(threshold)
    if reset_interval:
        attrs.update(reset_interval=int(reset_interval), reset_offset=int(reset_offset))
    g.add_node(node, **attrs)
    return node


def add_sigma_delta(g: nx.MultiDiGraph, node: str, shape, *, stage: str = "sigma_delta",
                    activation: str = "relu", threshold=0.0, bias=0.0, spike_exp: int = 6,
                    state_exp: int = 6, message_bits: int = 16) -> str:
    """Add a sigma-delta population (lava-dl's SDNN; Lava's SigmaDelta, Delta and Sigma).

    Per step t, in float units, with ``a`` the weighted input of the step:

    - ``x = sigma = sigma + a`` (stages ``sigma_delta`` and ``sigma``: the sigma dendrite sums
      its input), or ``x = a`` (stage ``delta``: the input as it arrives, netx's input layer);
    - ``act = f(x + bias)``, ``f`` = ``activation`` (``relu`` or ``none``);
    - stage ``sigma`` emits ``act``; the others delta-encode it: ``d = act - act_prev +
      residue``, emit ``s = d`` where ``|d| >= threshold`` else 0, keep ``residue = d - s``.

    Messages are graded (a projection multiplies its weights by them) when ``message_bits`` >
    0, else binary events. ``spike_exp`` and ``state_exp`` are the fixed-point format of a
    chip: messages carry ``6 + spike_exp`` fraction bits, states ``state_exp`` more (netx:
    6 and 6); a chip truncates the ``state_exp`` low bits of every message it sends.
    """
    g.add_node(node, kind="neuron", shape=tuple(int(s) for s in np.atleast_1d(shape)),
               model="sigma_delta", stage=stage, activation=activation,
               threshold=_f64(threshold), bias=_f64(bias), spike_exp=int(spike_exp),
               state_exp=int(state_exp), message_bits=int(message_bits))
    return node


def add_rf(g: nx.MultiDiGraph, node: str, shape, *, variant: str = "phase", period=8.0,
           decay=0.0, threshold=1.0) -> str:
    """Add a resonate-and-fire population (lava-dl's ``slayer.neuron.rf`` / ``rf_iz``; Lava's
    ``RF`` / ``RF_IZ``). Its input is complex: edges with ``syn = RF_REAL`` (0) feed the real
    part, ``syn = RF_IMAG`` (1) the imaginary part.

    Per step t, in float units, with ``x`` the weighted input of the step and
    ``phi = 2 pi / period`` (``period`` in steps, ``decay`` the fraction of the magnitude lost
    per step, 0..1)::

        z[t] = (1 - decay) * exp(i phi) * z[t-1] + x[t]

    - ``variant = "phase"``: spike when ``Re z[t] >= threshold`` and ``Im z`` crosses zero
      upwards (``Im z[t] >= 0 > Im z[t-1]``); no reset;
    - ``variant = "izhikevich"``: spike when ``Im z[t] >= threshold``, then ``Re z = 0`` and
      ``Im z`` just below the threshold (one state unit of a chip; 1e-5 in float, as Lava's
      floating-point RF_IZ).

    ``period``, ``decay`` and ``threshold`` are 0-d or (N,). A chip holds
    ``(1 - decay) sin(phi)`` and ``(1 - decay) cos(phi)`` in 12 bits
    (:func:`snnpipe.hwmap.targets.loihi.rf_decays_to_int`).
    """
    g.add_node(node, kind="neuron", shape=tuple(int(s) for s in np.atleast_1d(shape)),
               model="rf", variant=variant, period=_f64(period), decay=_f64(decay),
               threshold=_f64(threshold), n_syn=2)
    return node


def add_merge(g: nx.MultiDiGraph, node: str, shape) -> str:
    """Add a merge node: the sum of the spike counts on its identity in-edges."""
    g.add_node(node, kind="merge", shape=tuple(int(s) for s in np.atleast_1d(shape)))
    return node


def _add_edge(g, src, dst, op, *, syn=0, delay=0, recurrent=False, **attrs) -> int:
    d = np.asarray(delay, dtype=np.int64)
    return g.add_edge(src, dst, op=op, syn=int(syn), delay=int(d) if d.ndim == 0 else d,
                      recurrent=bool(recurrent), **attrs)


def add_dense(g, src, dst, weight, *, syn=0, delay=0, recurrent=False) -> int:
    """Dense projection ``src -> dst`` with ``weight`` (N_dst, N_src) float. Returns the edge key."""
    return _add_edge(g, src, dst, "dense", weight=_f64(weight), syn=syn, delay=delay,
                     recurrent=recurrent)


def add_conv(g, src, dst, weight, *, stride=1, padding=0, dilation=1, groups=1, syn=0,
             delay=0, recurrent=False) -> int:
    """2-D convolution ``src`` (C_in, H, W) -> ``dst`` (C_out, H', W') with ``weight``
    (C_out, C_in/groups, kh, kw)."""
    return _add_edge(g, src, dst, "conv", weight=_f64(weight), stride=_pair(stride),
                     padding=_pair(padding), dilation=_pair(dilation), groups=int(groups),
                     syn=syn, delay=delay, recurrent=recurrent)


def add_conv_transpose(g, src, dst, weight, *, stride=1, padding=0, dilation=1, groups=1, syn=0,
                       delay=0, recurrent=False) -> int:
    """2-D transposed convolution (torch's ``conv_transpose2d``, no output padding) ``src``
    (C_in, H, W) -> ``dst`` (C_out, H', W') with ``weight`` (C_in, C_out/groups, kh, kw)."""
    return _add_edge(g, src, dst, "conv_transpose", weight=_f64(weight), stride=_pair(stride),
                     padding=_pair(padding), dilation=_pair(dilation), groups=int(groups),
                     syn=syn, delay=delay, recurrent=recurrent)


def add_identity(g, src, dst, weight=1.0, *, syn=0, delay=0, recurrent=False) -> int:
    """One-to-one projection with a scalar or per-channel ``weight``."""
    return _add_edge(g, src, dst, "identity", weight=_f64(weight), syn=syn, delay=delay,
                     recurrent=recurrent)


def set_outputs(g: nx.MultiDiGraph, nodes) -> None:
    """Declare the ordered output node ids."""
    g.graph["outputs"] = list(nodes)


def edges(g: nx.MultiDiGraph) -> Iterator[tuple[str, str, int, dict]]:
    """Iterate ``(src, dst, key, attrs)`` over every edge, in insertion order."""
    yield from g.edges(keys=True, data=True)


def topological_order(g: nx.MultiDiGraph) -> list:
    """Node ids in dependency order, recurrent edges excluded.

    Raises:
        GraphError: when a cycle is made of edges not marked ``recurrent``.
    """
    h = nx.DiGraph()
    h.add_nodes_from(g.nodes)
    h.add_edges_from((u, v) for u, v, d in g.edges(data=True) if not d.get("recurrent"))
    try:
        return list(nx.topological_sort(h))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(h)
        path = " -> ".join(str(u) for u, _ in cycle) + f" -> {cycle[0][0]}"
        raise GraphError("cycle of edges not marked recurrent", where=path, field="recurrent",
                         expected="recurrent=True on one edge of the cycle") from None


def conv_output_shape(in_shape, weight_shape, stride, padding, dilation) -> tuple[int, int, int]:
    """Output (C_out, H', W') of a 2-D convolution, as torch computes it."""
    _, h, w = in_shape
    kh, kw = weight_shape[2], weight_shape[3]
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    return (int(weight_shape[0]), int(ho), int(wo))


def conv_transpose_output_shape(in_shape, weight_shape, stride, padding, dilation,
                                groups=1) -> tuple[int, int, int]:
    """Output (C_out, H', W') of a 2-D transposed convolution, as torch computes it:
    H' = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + 1."""
    _, h, w = in_shape
    kh, kw = weight_shape[2], weight_shape[3]
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + 1
    wo = (w - 1) * sw - 2 * pw + dw * (kw - 1) + 1
    return (int(weight_shape[1]) * int(groups), int(ho), int(wo))


def edge_output_shape(g: nx.MultiDiGraph, src, attrs) -> tuple:
    """The shape an edge delivers, inferred from its source's shape and its weight."""
    in_shape = g.nodes[src]["shape"]
    op = attrs["op"]
    if op == "dense":
        return (int(attrs["weight"].shape[0]),)
    if op == "conv":
        return conv_output_shape(in_shape, attrs["weight"].shape, attrs["stride"],
                                 attrs["padding"], attrs["dilation"])
    if op == "conv_transpose":
        return conv_transpose_output_shape(in_shape, attrs["weight"].shape, attrs["stride"],
                                           attrs["padding"], attrs["dilation"], attrs["groups"])
    return tuple(in_shape)


def n_params(g: nx.MultiDiGraph) -> int:
    """Number of weights in the graph."""
    return int(sum(np.size(d["weight"]) for _, _, d in g.edges(data=True)))


def _range(a) -> str:
    a = np.asarray(a)
    if a.size == 0:
        return "-"
    lo, hi = float(a.min()), float(a.max())
    return f"{lo:.4g}" if lo == hi else f"{lo:.4g}..{hi:.4g}"


def summary(g: nx.MultiDiGraph) -> str:
    """A text summary: one line per node and per edge with shapes and parameter ranges."""
    lines = [f"graph {g.graph.get('name')!r}: dt={g.graph.get('dt')} s, "
             f"{g.number_of_nodes()} nodes, {g.number_of_edges()} edges, {n_params(g)} weights",
             f"inputs: {', '.join(map(str, g.graph.get('inputs', [])))}",
             f"outputs: {', '.join(map(str, g.graph.get('outputs', [])))}", "nodes:"]
    try:
        order = topological_order(g)
    except GraphError:
        order = list(g.nodes)
    for n in order:
        d = g.nodes[n]
        line = f"  {n:<16} {d.get('kind', '?'):<7} shape={d.get('shape')}"
        if d.get("kind") == "neuron":
            line += f" model={d.get('model')}"
            if d.get("model") == "sigma_delta":
                line += f" stage={d.get('stage')} activation={d.get('activation')}"
            elif d.get("model") == "rf":
                line += (f" variant={d.get('variant')} period={_range(d.get('period', []))}"
                         f" decay={_range(d.get('decay', []))}")
            else:
                line += (f" n_syn={d.get('n_syn')} cd={_range(d.get('current_decay', []))}"
                         f" vd={_range(d.get('voltage_decay', []))}")
            if "threshold" in d:
                line += f" th={_range(d['threshold'])}"
            if "bias" in d:
                line += f" bias={_range(d['bias'])}"
            if d.get("model") in ("cuba", "li"):
                line += f" reset={d.get('reset')} spike={d.get('spike')}"
        lines.append(line + readout.label(d))
    lines.append("edges:")
    for u, v, k, d in edges(g):
        w = d.get("weight")
        extra = " recurrent" if d.get("recurrent") else ""
        if np.any(np.asarray(d.get("delay", 0)) != 0):
            extra += f" delay={_range(d['delay'])}"
        lines.append(f"  {u} -> {v} [{k}] {d.get('op')} w{tuple(np.shape(w))}={_range(w)}"
                     f" syn={d.get('syn', 0)}{extra}")
    return "\n".join(lines)


def layers(g: nx.MultiDiGraph) -> dict:
    """Depth of each node (longest path from an input, recurrent edges excluded)."""
    depth = {}
    for n in topological_order(g):
        preds = [u for u, _, d in g.in_edges(n, data=True) if not d.get("recurrent")]
        depth[n] = 1 + max((depth[u] for u in preds), default=-1)
    return depth


def draw(g: nx.MultiDiGraph, path) -> None:
    """Draw the graph to a PNG: layers left to right, edges labelled with op and weight shape."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snnpipe.pipeline.ir.atomic import atomic_path

    depth = layers(g)
    columns: dict[int, list] = {}
    for n, d in depth.items():
        columns.setdefault(d, []).append(n)
    pos = {n: (d, -i + (len(columns[d]) - 1) / 2) for d, ns in columns.items()
           for i, n in enumerate(ns)}
    colors = {"input": "#9ecae1", "neuron": "#fdae6b", "merge": "#a1d99b"}
    fig, ax = plt.subplots(figsize=(2.2 * (len(columns) + 1), 1.2 * max(map(len, columns.values())) + 2))
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=1400,
                           node_color=[colors.get(g.nodes[n].get("kind"), "#cccccc") for n in g])
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=8,
                            labels={n: f"{n}\n{g.nodes[n].get('shape')}" for n in g})
    straight = [(u, v) for u, v, d in g.edges(data=True) if not d.get("recurrent")]
    rec = [(u, v) for u, v, d in g.edges(data=True) if d.get("recurrent")]
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=straight, node_size=1400, arrows=True)
    nx.draw_networkx_edges(g, pos, ax=ax, edgelist=rec, node_size=1400, arrows=True,
                           style="dashed", connectionstyle="arc3,rad=0.4")
    labels = {}
    for u, v, _, d in edges(g):
        labels[(u, v)] = f"{d['op']} {tuple(np.shape(d.get('weight')))}"
    nx.draw_networkx_edge_labels(g, pos, ax=ax, edge_labels=labels, font_size=6)
    ax.set_title(f"{g.graph.get('name')} (dt={g.graph.get('dt')} s)")
    ax.axis("off")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _stats(a) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {"min": float(a.min()), "max": float(a.max())} if a.size else {}


def describe(g: nx.MultiDiGraph) -> dict:
    """A JSON-able description: graph attributes, nodes and edges with shapes and parameter ranges."""
    nodes = []
    for n, d in g.nodes(data=True):
        item = {"id": str(n), "kind": d.get("kind"), "shape": list(d.get("shape", ()))}
        if d.get("kind") == "neuron":
            keys = {"sigma_delta": ("stage", "activation", "spike_exp", "state_exp", "message_bits"),
                    "rf": ("variant", "n_syn")}.get(d.get("model"),
                                                  ("n_syn", "reset", "spike", "refractory"))
            item.update(model=d.get("model"), **{k: d.get(k) for k in keys})
            for f in ("current_decay", "voltage_decay", "threshold", "bias", "period", "decay"):
                if f in d:
                    item[f] = _stats(d[f])
        nodes.append(item)
    edge_list = [{"src": str(u), "dst": str(v), "key": k, "op": d.get("op"),
                  "weight_shape": list(np.shape(d.get("weight"))), "weight": _stats(d.get("weight", [])),
                  "syn": d.get("syn", 0), "delay": _stats(d.get("delay", 0)),
                  "recurrent": bool(d.get("recurrent"))} for u, v, k, d in edges(g)]
    return {"name": g.graph.get("name"), "dt": g.graph.get("dt"),
            "inputs": [str(x) for x in g.graph.get("inputs", [])],
            "outputs": [str(x) for x in g.graph.get("outputs", [])],
            "n_weights": n_params(g), "nodes": nodes, "edges": edge_list}
