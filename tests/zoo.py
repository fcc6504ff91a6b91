"""A zoo of small Graph topologies, shared by the tests of every part of snnpipe.

Each ``zoo.<name>(seed) -> graph`` builds a valid float Graph (DESIGN.md section 3) whose
parameters are exactly representable in Loihi's integer formats: weights are multiples of 1/32
in [-4, 254/64] (even integers in 1/64 units), decays multiples of 1/4096, thresholds and biases
multiples of 1/64. Quantising a zoo graph is therefore lossless; a test that needs arbitrary
floats perturbs the parameters itself. ``ZOO`` maps each name to its function.

Node ids are strings; ``dt`` is 1 ms.
"""
from __future__ import annotations

import numpy as np

from snnpipe.pipeline.ir import graph as G


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _weight(rng, shape, scale: float = 1.0) -> np.ndarray:
    """Float weights that are even integers in 1/64 units, within [-256, 254] / 64."""
    w = np.rint(rng.normal(0.0, 48.0 * scale, size=shape) / 2) * 2
    return np.clip(w, -256, 254) / 64.0


def _decay(rng, shape=()) -> np.ndarray:
    return rng.integers(200, 2000, size=shape) / 4096.0


def _cuba(g, rng, node, shape, **kw) -> str:
    kw.setdefault("current_decay", _decay(rng))
    kw.setdefault("voltage_decay", _decay(rng))
    kw.setdefault("threshold", rng.integers(40, 100) / 64.0)
    return G.add_neuron(g, node, shape, **kw)


def sequential_dense(seed: int = 0):
    """input (8) -> h1 (12) -> h2 (6): the netx-expressible dense chain."""
    rng, g = _rng(seed), G.new_graph("sequential_dense")
    G.add_input(g, "in", 8)
    _cuba(g, rng, "h1", 12)
    _cuba(g, rng, "h2", 6)
    G.add_dense(g, "in", "h1", _weight(rng, (12, 8)))
    G.add_dense(g, "h1", "h2", _weight(rng, (6, 12)))
    G.set_outputs(g, ["h2"])
    return g


def sequential_conv(seed: int = 0):
    """input (2, 8, 6) -> conv 3x3 s2 p1 (4, 4, 3) -> conv 3x2 (6, 2, 2) -> dense (5).

    Height and width differ, and so do the kernel's, so that any H/W swap shows."""
    rng, g = _rng(seed), G.new_graph("sequential_conv")
    G.add_input(g, "in", (2, 8, 6))
    _cuba(g, rng, "c1", (4, 4, 3))
    _cuba(g, rng, "c2", (6, 2, 2))
    _cuba(g, rng, "fc", 5)
    G.add_conv(g, "in", "c1", _weight(rng, (4, 2, 3, 3), 2.0), stride=2, padding=1)
    G.add_conv(g, "c1", "c2", _weight(rng, (6, 4, 3, 2), 2.0))
    G.add_dense(g, "c2", "fc", _weight(rng, (5, 24), 2.0))
    G.set_outputs(g, ["fc"])
    return g


def recurrent_first(seed: int = 0):
    """input (6) -> h1 (10, recurrent dense on itself) -> out (4)."""
    rng, g = _rng(seed), G.new_graph("recurrent_first")
    G.add_input(g, "in", 6)
    _cuba(g, rng, "h1", 10)
    _cuba(g, rng, "out", 4)
    G.add_dense(g, "in", "h1", _weight(rng, (10, 6)))
    G.add_dense(g, "h1", "h1", _weight(rng, (10, 10), 0.5), recurrent=True)
    G.add_dense(g, "h1", "out", _weight(rng, (4, 10)))
    G.set_outputs(g, ["out"])
    return g


def recurrent_second(seed: int = 0):
    """input (6) -> h1 (8) -> h2 (8) -> out (3), with a recurrent loop h2 -> h1."""
    rng, g = _rng(seed), G.new_graph("recurrent_second")
    G.add_input(g, "in", 6)
    for node, n in (("h1", 8), ("h2", 8), ("out", 3)):
        _cuba(g, rng, node, n)
    G.add_dense(g, "in", "h1", _weight(rng, (8, 6)))
    G.add_dense(g, "h1", "h2", _weight(rng, (8, 8)))
    G.add_dense(g, "h2", "h1", _weight(rng, (8, 8), 0.5), recurrent=True)
    G.add_dense(g, "h2", "out", _weight(rng, (3, 8)))
    G.set_outputs(g, ["out"])
    return g


def branches_merge(seed: int = 0):
    """input (6) feeds two branches a (8) and b (8) whose spikes a merge sums into out (4)."""
    rng, g = _rng(seed), G.new_graph("branches_merge")
    G.add_input(g, "in", 6)
    _cuba(g, rng, "a", 8)
    _cuba(g, rng, "b", 8)
    G.add_merge(g, "sum", 8)
    _cuba(g, rng, "out", 4)
    G.add_dense(g, "in", "a", _weight(rng, (8, 6)))
    G.add_dense(g, "in", "b", _weight(rng, (8, 6)))
    G.add_identity(g, "a", "sum")
    G.add_identity(g, "b", "sum")
    G.add_dense(g, "sum", "out", _weight(rng, (4, 8)))
    G.set_outputs(g, ["out"])
    return g


def residual(seed: int = 0):
    """input (6) -> h1 (8) -> h2 (8); merge = h1 + h2 (the residual add) -> out (4)."""
    rng, g = _rng(seed), G.new_graph("residual")
    G.add_input(g, "in", 6)
    _cuba(g, rng, "h1", 8)
    _cuba(g, rng, "h2", 8)
    G.add_merge(g, "res", 8)
    _cuba(g, rng, "out", 4)
    G.add_dense(g, "in", "h1", _weight(rng, (8, 6)))
    G.add_dense(g, "h1", "h2", _weight(rng, (8, 8)))
    G.add_identity(g, "h1", "res")
    G.add_identity(g, "h2", "res")
    G.add_dense(g, "res", "out", _weight(rng, (4, 8)))
    G.set_outputs(g, ["out"])
    return g


def wavesense(seed: int = 0):
    """A WaveSense-like block: a dilated neuron with two synaptic currents (short and long tau,
    both driven by the same source, the second through a 2-step delay), a residual merge, a skip
    merge and an ``li`` readout.

    input (4) -> pre (8) -> dil (8, n_syn 2) -> post (8); res = pre + post; skip = post + res2
    where res2 is a second hidden layer after res; readout li (3) from skip.
    """
    rng, g = _rng(seed), G.new_graph("wavesense")
    G.add_input(g, "in", 4)
    _cuba(g, rng, "pre", 8)
    _cuba(g, rng, "dil", 8, n_syn=2,
          current_decay=np.array([1600.0, 400.0]) / 4096, voltage_decay=1024 / 4096)
    _cuba(g, rng, "post", 8)
    G.add_merge(g, "res", 8)
    _cuba(g, rng, "hid2", 8)
    G.add_merge(g, "skip", 8)
    G.add_neuron(g, "readout", 3, model="li", current_decay=512 / 4096,
                 voltage_decay=256 / 4096)
    G.add_dense(g, "in", "pre", _weight(rng, (8, 4)))
    G.add_dense(g, "pre", "dil", _weight(rng, (8, 8)), syn=0)
    G.add_dense(g, "pre", "dil", _weight(rng, (8, 8)), syn=1, delay=2)
    G.add_dense(g, "dil", "post", _weight(rng, (8, 8)))
    G.add_identity(g, "pre", "res")
    G.add_identity(g, "post", "res")
    G.add_dense(g, "res", "hid2", _weight(rng, (8, 8)))
    G.add_identity(g, "post", "skip")
    G.add_identity(g, "hid2", "skip")
    G.add_dense(g, "skip", "readout", _weight(rng, (3, 8)))
    G.set_outputs(g, ["readout"])
    return g


def synnet(seed: int = 0):
    """A SynNet-like net: per-neuron current and voltage decays, biases, and an li readout.

    input (6) -> h1 (16) -> h2 (8) -> readout li (3).
    """
    rng, g = _rng(seed), G.new_graph("synnet")
    G.add_input(g, "in", 6)
    for node, n in (("h1", 16), ("h2", 8)):
        _cuba(g, rng, node, n, current_decay=_decay(rng, (1, n)), voltage_decay=_decay(rng, n),
              threshold=rng.integers(40, 100, size=n) / 64.0,
              bias=rng.integers(-8, 8, size=n) / 64.0)
    G.add_neuron(g, "readout", 3, model="li", current_decay=_decay(rng, (1, 3)),
                 voltage_decay=_decay(rng, 3))
    G.add_dense(g, "in", "h1", _weight(rng, (16, 6)))
    G.add_dense(g, "h1", "h2", _weight(rng, (8, 16)))
    G.add_dense(g, "h2", "readout", _weight(rng, (3, 8)))
    G.set_outputs(g, ["readout"])
    return g


def li_readout(seed: int = 0):
    """input (5) -> h (10) -> readout li (3): a spiking layer with a leaky-integrator readout."""
    rng, g = _rng(seed), G.new_graph("li_readout")
    G.add_input(g, "in", 5)
    _cuba(g, rng, "h", 10)
    G.add_neuron(g, "readout", 3, model="li", current_decay=_decay(rng), voltage_decay=_decay(rng))
    G.add_dense(g, "in", "h", _weight(rng, (10, 5)))
    G.add_dense(g, "h", "readout", _weight(rng, (3, 10)))
    G.set_outputs(g, ["readout"])
    return g


ZOO = {f.__name__: f for f in (sequential_dense, sequential_conv, recurrent_first,
                               recurrent_second, branches_merge, residual, wavesense, synnet,
                               li_readout)}


def assert_same_graph(a, b) -> None:
    """Assert two Graphs are identical: graph attributes, node and edge order, ids, keys, every
    attribute with the same Python type, and every array with the same dtype, shape and values."""
    assert a.graph == b.graph, (a.graph, b.graph)
    assert list(a.nodes) == list(b.nodes)
    for n in a.nodes:
        _assert_same_attrs(a.nodes[n], b.nodes[n], n)
    ea, eb = list(G.edges(a)), list(G.edges(b))
    assert [e[:3] for e in ea] == [e[:3] for e in eb]
    for (u, v, k, da), (*_, db) in zip(ea, eb):
        _assert_same_attrs(da, db, f"{u} -> {v} [{k}]")


def _assert_same_attrs(da: dict, db: dict, where) -> None:
    assert set(da) == set(db), (where, set(da) ^ set(db))
    for key, x in da.items():
        y = db[key]
        assert type(x) is type(y), (where, key, type(x), type(y))
        if isinstance(x, np.ndarray):
            assert (x.dtype, x.shape) == (y.dtype, y.shape), (where, key)
            assert np.array_equal(x, y), (where, key, x, y)
        else:
            assert x == y, (where, key, x, y)
