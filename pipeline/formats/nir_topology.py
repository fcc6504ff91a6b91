"""The shape of a NIR graph as our importer needs it: nested subgraphs flattened, nodes sorted
into units (inputs, populations, merges, outputs) and projections, and every path of
projections from one unit to the next.

NIR sums everything that arrives at a node, so a unit fed by several projection chains gets one
of our edges per path; a chain of projections that loops without passing a population is a
cycle our Graph cannot step (GraphError).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import nir

from snnpipe.pipeline.formats.nir_chain import PROJECTIONS, Wire
from snnpipe.pipeline.formats.nir_neurons import NEURONS
from snnpipe.pipeline.ir.errors import GraphError

SUPPORTED = ("Input | Output | Affine | Linear | Scale | Threshold | Delay | Flatten | Conv1d | "
             "Conv2d | SumPool2d | AvgPool2d | IF | I | LI | LIF | CubaLI | CubaLIF | NIRGraph")


@dataclass
class Flat:
    """A NIR graph without nesting: ``nodes`` name -> node, ``edges`` (src, dst), ``preds``
    dst -> [src], and the ordered names of its ``inputs`` and ``outputs``."""

    nodes: dict
    edges: list
    preds: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)


def _ports(graph: nir.NIRGraph, kind) -> list:
    return [n for n, v in graph.nodes.items() if isinstance(v, kind)]


def flatten(graph: nir.NIRGraph) -> Flat:
    """Inline nested NIRGraph nodes (as snnTorch's RLeaky and Rockpool write them): their nodes
    are named ``outer.inner``, their Input and Output nodes become pass-through :class:`Wire` nodes.

    Raises:
        GraphError: an edge naming a node that does not exist (``where`` the edge).
    """
    nodes, edges = {}, []
    _inline(graph, "", nodes, edges, top=True)
    flat = Flat(nodes, edges)
    for a, b in edges:
        flat.preds.setdefault(b, []).append(a)
    flat.inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    flat.outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
    return flat


def _inline(graph, prefix: str, nodes: dict, edges: list, top: bool) -> None:
    subs = {}
    for name, node in graph.nodes.items():
        full = prefix + str(name)
        if isinstance(node, nir.NIRGraph):
            _inline(node, full + ".", nodes, edges, top=False)
            subs[str(name)] = ([full + "." + n for n in _ports(node, nir.Input)],
                               [full + "." + n for n in _ports(node, nir.Output)])
        elif not top and isinstance(node, (nir.Input, nir.Output)):
            nodes[full] = Wire()
        else:
            nodes[full] = node
    for edge in graph.edges:
        if len(edge) != 2:
            raise GraphError("an edge must join two nodes", where=prefix or None, field="edges",
                             expected="(source, target)", found=repr(edge))
        a, b = (str(x) for x in edge)
        srcs = subs[a][1] if a in subs else [prefix + a]
        dsts = subs[b][0] if b in subs else [prefix + b]
        for s in srcs:
            for d in dsts:
                for end in (s, d):
                    if end not in nodes:
                        raise GraphError("an edge names a node that does not exist",
                                         where=f"{prefix}{a} -> {prefix}{b}", field="edges",
                                         expected="names of the graph's nodes", found=end)
                edges.append((s, d))


def is_merge(node) -> bool:
    """Our own merge nodes: a Scale that ``to_nir`` marked ``metadata["snnpipe"] = "merge"``."""
    meta = node.metadata if isinstance(node.metadata, dict) else {}
    tag = meta.get("snnpipe")
    return isinstance(node, nir.Scale) and (tag.decode() if isinstance(tag, bytes) else tag) \
        == "merge"


def check_supported(flat: Flat) -> None:
    """GraphError naming the first node of a type we do not import."""
    for name, node in flat.nodes.items():
        if not isinstance(node, NEURONS + PROJECTIONS + (nir.Input, nir.Output)):
            raise GraphError("unsupported NIR node", where=name, field="type",
                             expected=SUPPORTED, found=type(node).__name__)


def is_unit(flat: Flat, name: str) -> bool:
    node = flat.nodes[name]
    return isinstance(node, NEURONS + (nir.Input, nir.Output)) or is_merge(node)


def paths_into(flat: Flat, unit: str) -> list[tuple[str, list]]:
    """Every ``(source unit, [(name, node)] in signal order)`` that ends at ``unit``.

    Raises:
        GraphError: a loop of projections without a population, or a projection without input.
    """
    out = []

    def back(name: str, chain: list, seen: tuple) -> None:
        preds = flat.preds.get(name, [])
        if not preds and name != unit:
            raise GraphError("a projection has no input", where=name, field="edges",
                             expected="at least one edge into it", found=0)
        for p in preds:
            if is_unit(flat, p):
                out.append((p, chain))
            elif p in seen:
                raise GraphError("a cycle of projections without a neuron", where=p,
                                 field="edges", expected="a population on every cycle",
                                 found=" -> ".join(reversed((p,) + seen)))
            else:
                back(p, [(p, flat.nodes[p])] + chain, seen + (p,))

    back(unit, [], ())
    return out
