"""Lowering of a Graph to the projections a Lava network is made of (numpy only, no Lava).

Merges are folded away: a merge's consumer projection is duplicated for each of the merge's
identity in-edges (weights multiplied per source channel, delays added), so a merge adds its
inputs at the consumer's ``a_in`` without a process and without latency; merges of merges fold
recursively. Identity projections become diagonal dense ones; conv edges stay convolutions;
transposed convolutions, which Lava lacks, become dense ones (snnpipe.pipeline.ir.transpose).
Every projection delivers a spike emitted at Lava step t at step ``t + 1 + delay`` (Lava's
Dense latency, DESIGN.md 5.2), forward and recurrent edges alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snnpipe.hwmap.targets.loihi import MAX_DELAY
from snnpipe.pipeline.ir.errors import GraphError
from snnpipe.pipeline.ir.graph import edges, size
from snnpipe.pipeline.ir.transpose import as_dense


@dataclass
class Projection:
    """One Lava synapse process: ``src`` (input or neuron node) -> synapse ``syn`` of ``dst``.

    ``op`` "dense": ``weight`` (N_dst, N_src) float units, ``delay`` (N_dst, N_src) int steps
    or None (no delays anywhere). ``op`` "conv": ``weight`` (C_out, C_in/groups, kh, kw) as
    torch, ``conv`` holds ``stride``, ``padding``, ``dilation`` (pairs, (H, W) order),
    ``groups``, ``in_shape`` and ``out_shape`` (C, H, W); no delay. ``graded``: the source
    sends integer counts or values, not 0/1 spikes.
    """

    name: str
    src: str
    dst: str
    syn: int
    weight: np.ndarray
    delay: np.ndarray | None
    graded: bool
    op: str = "dense"
    conv: dict | None = None


@dataclass
class Tap:
    """A contribution to a merge output: ``weight`` (N,) times ``src``'s output ``delay`` steps
    ago."""

    src: str
    weight: np.ndarray
    delay: int


def _channel_weight(w, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(w, dtype=np.float64), (n,)).copy()


def _dense_of(g, src, dst, d) -> np.ndarray:
    """The (N_dst, N_src) float matrix of a dense or identity edge."""
    n_src, n_dst = size(g.nodes[src]["shape"]), size(g.nodes[dst]["shape"])
    if d["op"] == "dense":
        w = np.asarray(d["weight"], dtype=np.float64)
        if w.shape != (n_dst, n_src):
            raise GraphError("dense weight shape does not match the populations",
                             where=f"{src} -> {dst}", field="weight",
                             expected=(n_dst, n_src), found=w.shape)
        return w
    if d["op"] == "identity":
        if n_src != n_dst:
            raise GraphError("identity edge between populations of different sizes",
                             where=f"{src} -> {dst}", field="shape", expected=n_src, found=n_dst)
        return np.diag(_channel_weight(d["weight"], n_src))
    raise GraphError("edge op not supported by the Lava backend", where=f"{src} -> {dst}",
                     field="op", expected="dense | identity", found=d["op"])


def _delay_of(d, shape, where) -> np.ndarray:
    """Broadcast an edge delay (scalar, (N_dst,) axonal, or (N_dst, N_src)) to ``shape``."""
    delay = np.asarray(d.get("delay", 0), dtype=np.int64)
    if delay.ndim == 1 and delay.shape[0] == shape[0]:
        delay = delay[:, None]  # per target neuron (for identity edges: per channel)
    try:
        delay = np.broadcast_to(delay, shape).copy()
    except ValueError:
        raise GraphError("delay shape does not match the weight", where=where, field="delay",
                         expected=f"scalar, ({shape[0]},) or {shape}", found=delay.shape) from None
    return delay


def _sources(g, node, weight, delay, seen=()) -> list[tuple[str, np.ndarray, int | np.ndarray]]:
    """Resolve ``node`` through merges: [(source, channel weight (N,), delay)]."""
    if g.nodes[node]["kind"] != "merge":
        return [(node, weight, delay)]
    if node in seen:
        raise GraphError("cycle through merge nodes", where=node, field="kind")
    out = []
    for src, _, d in g.in_edges(node, data=True):
        if d["op"] != "identity":
            raise GraphError("merge in-edges must be identity edges", where=f"{src} -> {node}",
                             field="op", expected="identity", found=d["op"])
        n = size(g.nodes[node]["shape"])
        w = weight * _channel_weight(d["weight"], n)
        dd = np.asarray(d.get("delay", 0), dtype=np.int64)
        out += _sources(g, src, w, delay + dd, seen + (node,))
    return out


def _is_graded(g, node) -> bool:
    d = g.nodes[node]
    return (d["kind"] == "input" or d.get("model") == "li" or d.get("spike", "binary") != "binary"
            or d.get("message_bits", 0) > 0)


def _lower_conv(g, src, dst, key, d) -> list[Projection]:
    """Conv projections of one conv edge (one per source when ``src`` is a merge)."""
    where = f"{src} -> {dst} [{key}]"
    if np.any(np.asarray(d.get("delay", 0)) != 0):
        raise GraphError("Lava's Conv has no delays", where=where, field="delay",
                         expected=0, found=d.get("delay"))
    in_shape = tuple(g.nodes[src]["shape"])
    conv = dict(stride=tuple(d["stride"]), padding=tuple(d["padding"]),
                dilation=tuple(d["dilation"]), groups=int(d["groups"]), in_shape=in_shape,
                out_shape=tuple(g.nodes[dst]["shape"]))
    out = []
    for i, (s, w, extra) in enumerate(_sources(g, src, np.ones(size(in_shape)), 0)):
        if np.any(w != 1) or np.any(np.asarray(extra) != 0):
            raise GraphError("a conv after a merge needs unit, undelayed merge inputs",
                             where=where, field="weight", expected="identity weight 1, delay 0")
        out.append(Projection(name=f"{s}->{dst}[{key}.{i}]", src=s, dst=dst,
                              syn=int(d.get("syn", 0)), weight=np.asarray(d["weight"], float),
                              delay=None, graded=_is_graded(g, s), op="conv", conv=conv))
    return out


def lower(g) -> list[Projection]:
    """The projections of the Lava network of ``g``, one per (source, edge).

    Raises:
        GraphError: unsupported ops, shape mismatches, delays outside 0..62.
    """
    projections = []
    g = as_dense(g)
    for src, dst, key, d in edges(g):
        if g.nodes[dst]["kind"] == "merge":
            continue
        if d["op"] == "conv":
            projections += _lower_conv(g, src, dst, key, d)
            continue
        base = _dense_of(g, src, dst, d)
        where = f"{src} -> {dst} [{key}]"
        delay = _delay_of(d, base.shape, where)
        for i, (s, w, extra) in enumerate(_sources(g, src, np.ones(base.shape[1]), 0)):
            extra = np.asarray(extra, dtype=np.int64)
            if extra.ndim == 1:
                extra = extra[None, :]
            total = delay + extra
            if total.min() < 0 or total.max() > MAX_DELAY:
                raise GraphError("delay outside the range Lava's DelayDense supports",
                                 where=where, field="delay", expected=f"0..{MAX_DELAY} steps",
                                 found=f"{total.min()}..{total.max()}")
            projections.append(Projection(
                name=f"{s}->{dst}[{key}.{i}]", src=s, dst=dst, syn=int(d.get("syn", 0)),
                weight=base * w[None, :], delay=total if total.any() else None,
                graded=_is_graded(g, s)))
    return projections


def output_taps(g, node) -> list[Tap]:
    """What an output node emits: itself, or for a merge the weighted, delayed sum of its
    sources."""
    n = size(g.nodes[node]["shape"])
    taps = []
    for src, w, d in _sources(g, node, np.ones(n), 0):
        d = np.asarray(d)
        if d.ndim != 0 and not np.all(d == d.flat[0]):
            raise GraphError("per-channel delays into an output merge are not supported",
                             where=node, field="delay", expected="scalar delays")
        taps.append(Tap(src=src, weight=w, delay=int(np.asarray(d).flat[0])))
    return taps


def latencies(g, projections: list[Projection]) -> dict[str, int]:
    """Earliest Lava step offset at which each node can respond to an input (steps).

    An input's column t is sent at Lava step t+1; a node at latency L emits its first possible
    response to it at step t+1+L. Nodes unreachable from the inputs are left out.
    """
    dist = {n: 0 for n in g.graph["inputs"]}
    changed = True
    while changed:
        changed = False
        for p in projections:
            if p.src not in dist:
                continue
            hop = 1 + (0 if p.delay is None else int(p.delay.min()))
            if dist[p.src] + hop < dist.get(p.dst, np.iinfo(np.int64).max):
                dist[p.dst] = dist[p.src] + hop
                changed = True
    for node in g.graph["outputs"]:
        if g.nodes[node]["kind"] == "merge":
            cands = [dist[t.src] + t.delay for t in output_taps(g, node) if t.src in dist]
            if cands:
                dist[node] = min(cands)
    return dist
