"""netx's periodic state reset: ``lava.lib.dl.netx.hdf5.Network(net_config, reset_interval=I,
reset_offset=k)``, a run-time argument of netx that no file stores.

netx (hdf5.py ``_create``) builds Lava's ``LIFReset`` instead of ``LIF`` for every CUBA layer
(our ``cuba`` and ``li`` populations) with ``reset_interval = I`` and ``reset_offset = k + 1 +
j``, j the index of the layer among the blocks it builds (``net.layers``; the offset grows by
one per block to follow the one-step latency of each projection). SDNN and RF blocks (slayer's
rf Dense blocks are ``dense`` layers with complex weights) count but do not reset: netx warns
for SDNN and builds RF and RF_IZ without a reset. (A ``dense_comp`` layer, which would not
count, is one our reader refuses.) ``LIFReset`` zeroes u and v at the
start of Lava step t (1-based) when ``t % I == (k + 1 + j) % I``: the Graph's ``reset_interval``
and ``reset_offset`` of the population (:mod:`snnpipe.pipeline.ir.graph`).
"""
from __future__ import annotations

import networkx as nx

from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError

RESET_MODELS = ("cuba", "li")


def _layers(graph: nx.MultiDiGraph) -> list[tuple[str, int]]:
    """(population, j) in netx's block order: j the offset step of the block."""
    pops = [n for n in G.topological_order(graph) if graph.nodes[n]["kind"] == "neuron"]
    return [(n, j) for j, n in enumerate(pops)]


def _sequential(graph: nx.MultiDiGraph) -> bool:
    """One input, then populations each fed (recurrent edges aside) by the one before."""
    order = G.topological_order(graph)
    links = {(u, v) for u, v, d in graph.edges(data=True) if not d.get("recurrent")}
    return (len(graph.graph["inputs"]) == 1 and order[0] == graph.graph["inputs"][0]
            and all(graph.nodes[n]["kind"] == "neuron" for n in order[1:])
            and links == set(zip(order[:-1], order[1:])))


def apply(graph: nx.MultiDiGraph, interval: int, offset: int = 0) -> nx.MultiDiGraph:
    """Set netx's reset (``reset_interval`` I > 0 steps, ``reset_offset`` k >= 0) on every
    ``cuba`` / ``li`` population of a sequence of layers (a netx file's), in place, with
    each population's phase ``(k + 1 + j) % I`` (see the module docstring). Returns ``graph``.

    Raises:
        GraphError: I < 1 or k < 0, or a graph that is no sequence of layers.
    """
    if isinstance(interval, bool) or int(interval) != interval or interval < 1:
        raise GraphError("netx's reset interval is a number of steps >= 1", field="reset_interval",
                         expected="an int >= 1", found=interval)
    if isinstance(offset, bool) or int(offset) != offset or offset < 0:
        raise GraphError("netx's reset offset is a step >= 0", field="reset_offset",
                         expected="an int >= 0", found=offset)
    if not _sequential(graph):
        raise GraphError("netx's reset applies to the layers of a netx file: this graph is "
                         "no sequence of layers", where=graph.graph.get("name"),
                         field="reset_interval")
    for n, j in _layers(graph):
        if graph.nodes[n]["model"] in RESET_MODELS:
            graph.nodes[n].update(reset_interval=int(interval),
                                  reset_offset=(int(offset) + 1 + j) % int(interval))
    return graph


def netx_arguments(graph: nx.MultiDiGraph) -> tuple[int, int] | None:
    """``(reset_interval, reset_offset)`` to hand netx's Network so that it builds the resets
    of ``graph``, or None when no population resets.

    Raises:
        GraphError: the resets are not netx's (a cuba / li population without one, another
            interval, or a phase other than ``(k + 1 + j) % I``), naming the population.
    """
    layers = [(n, j) for n, j in _layers(graph) if graph.nodes[n]["model"] in RESET_MODELS]
    resets = {n: graph.nodes[n].get("reset_interval", 0) for n, _ in layers}
    if not any(resets.values()):
        return None
    n0, j0 = next((n, j) for n, j in layers if resets[n])
    interval = int(resets[n0])
    k = (int(graph.nodes[n0]["reset_offset"]) - 1 - j0) % interval
    for n, j in layers:
        d = graph.nodes[n]
        want = (k + 1 + j) % interval
        if resets[n] != interval or d.get("reset_offset") != want:
            raise GraphError("netx resets every CUBA layer with one interval, the phase "
                             "growing by one per layer", where=n, field="reset_interval/offset",
                             expected=(interval, want),
                             found=(d.get("reset_interval"), d.get("reset_offset")))
    return interval, k
