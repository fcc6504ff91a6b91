"""Host-side readouts of an output node: what the host computes from a node's emission after
a run, outside the network (no chip holds it).

One kind, ``mean`` (slayer's ``block.cuba.Average``, netx's ``average`` layer): the mean of the
node's emission over ``groups`` contiguous groups of its neurons, (B, N, T) -> (B, groups, T),
``mean(x.reshape(B, groups, N / groups, T), axis=2)`` as slayer computes it. It is held as two
attributes of the output node, ``readout`` ("mean") and ``readout_groups`` (int), so that it
travels with the node in every file format that keeps node attributes.
"""
from __future__ import annotations

import networkx as nx
import numpy as np

from snnpipe.pipeline.ir.errors import GraphError

READOUTS = ("mean",)


def set_mean(g: nx.MultiDiGraph, node: str, groups: int) -> None:
    """Read output ``node`` out as the mean over ``groups`` contiguous groups of its neurons."""
    g.nodes[node].update(readout="mean", readout_groups=int(groups))


def of(attrs: dict) -> str | None:
    """The readout of a node (its attributes), or None."""
    return attrs.get("readout")


def label(attrs: dict) -> str:
    """`` readout=mean of G groups`` for a node's summary line, or ''."""
    return f" readout={of(attrs)} of {attrs.get('readout_groups')} groups" if of(attrs) else ""


def apply(attrs: dict, emission: np.ndarray) -> np.ndarray:
    """A node's emission (B, N, T) -> its readout, float64 (B, groups, T); unchanged without
    one."""
    if of(attrs) is None:
        return emission
    b, n, t = emission.shape
    groups = int(attrs["readout_groups"])
    return np.asarray(emission, np.float64).reshape(b, groups, n // groups, t).mean(axis=2)


def problems(g: nx.MultiDiGraph) -> list[GraphError]:
    """Readouts that are not one of :data:`READOUTS` on a graph output whose size the groups
    divide."""
    out = []
    for node, d in g.nodes(data=True):
        kind = of(d)
        if kind is None:
            continue
        if kind not in READOUTS:
            out.append(GraphError("unknown readout", where=node, field="readout",
                                  expected=" | ".join(READOUTS), found=kind))
            continue
        if node not in g.graph.get("outputs", []):
            out.append(GraphError("a readout is computed on an output only", where=node,
                                  field="readout", expected="a node listed in outputs"))
        groups, n = d.get("readout_groups"), int(np.prod(d.get("shape", (0,))))
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1 \
                or n % groups:
            out.append(GraphError("readout groups must divide the node's size", where=node,
                                  field="readout_groups", expected=f"a divisor of {n}",
                                  found=groups))
    return out


def refuse(g: nx.MultiDiGraph, what: str) -> None:
    """GraphError naming the first node with a readout, for a target or format ``what`` that
    cannot express one."""
    for node, d in g.nodes(data=True):
        if of(d) is not None:
            raise GraphError(f"{what} has no host-side readout", where=node, field="readout",
                             expected="no readout", found=of(d))
