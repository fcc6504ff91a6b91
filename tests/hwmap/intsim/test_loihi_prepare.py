"""A projection prepared for the integer simulator (:class:`Synapses`): its sums do not depend
on how the rows of a source's events are grouped."""
from __future__ import annotations

import dataclasses

import numpy as np

from snnpipe.hwmap.intsim.loihi_prepare import Synapses, repeated_rows
from snnpipe.hwmap.mappers.loihi_map import map_graph
from snnpipe.pipeline.ir import graph as G


def _conv_config(rng):
    g = G.new_graph("conv")
    G.add_input(g, "in", (2, 6, 6))
    G.add_neuron(g, "c", (3, 3, 3), threshold=1.0)
    G.add_conv(g, "in", "c", rng.normal(0, 1, (3, 2, 3, 3)).round(2), stride=2, padding=1)
    G.set_outputs(g, ["c"])
    return map_graph(g)


def test_repeated_rows_finds_runs_of_a_held_pattern():
    x = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [1, 0]])
    first, which = repeated_rows(x)
    assert first.tolist() == [0, 4, 6] and which.tolist() == [0, 0, 0, 0, 1, 1, 2]
    assert np.array_equal(x[first][which], x)
    held_then_changed = x[[0, 1, 2, 4, 5, 4]]
    assert repeated_rows(held_then_changed) is None      # its middle rows (2, 3) differ
    assert repeated_rows(np.array([[1], [1], [2], [3], [4]])) is None   # most rows change


def test_a_conv_from_a_steady_source_sums_as_row_by_row():
    """An input layer firing every step (PilotNet's) or held graded values: the sums of the
    distinct rows, spread over their runs, are every row's sums."""
    rng = np.random.default_rng(3)
    cfg = _conv_config(rng)
    syn = Synapses(cfg, cfg.projections[0])
    held = rng.integers(-40, 40, (3, 72))
    for x in (np.repeat(held, [5, 1, 4], axis=0), np.ones((8, 72), np.uint8),
              rng.integers(0, 2, (8, 72)).astype(np.uint8)):
        ((_, whole),) = syn.apply(x)
        rows = np.concatenate([syn.apply(r[None])[0][1] for r in x])
        assert whole.dtype == np.int64 and np.array_equal(whole, rows)


def _dense_config(rng, n_in, weight_exp=0, message_bits=0, delays=False):
    g = G.new_graph("dense")
    G.add_input(g, "in", (n_in,))
    G.add_neuron(g, "c", (5,), threshold=1.0, voltage_decay=0.1)
    G.add_dense(g, "in", "c", rng.uniform(-1, 1, (5, n_in)),
                delay=rng.integers(0, 3, (5, n_in)) if delays else 0)
    G.set_outputs(g, ["c"])
    cfg = map_graph(g)
    q = cfg.projections[0]
    q = dataclasses.replace(q, weight=rng.integers(-255, 256, q.weight.shape),
                            weight_exp=weight_exp, message_bits=message_bits)
    return dataclasses.replace(cfg, projections=[q])


def test_a_projections_sums_stay_within_its_bound():
    """:meth:`Synapses.bound` (what decides whether a step's sums may be held in int32) is
    never exceeded, over all delays of a projection together; the int32 sums are the int64
    ones where they fit."""
    rng = np.random.default_rng(5)
    conv = _conv_config(rng)
    graded = dataclasses.replace(conv, projections=[dataclasses.replace(conv.projections[0],
                                                                        message_bits=24)])
    for cfg, x in ((conv, rng.integers(0, 2, (9, 72))),
                   (graded, rng.integers(-2 ** 22, 2 ** 22, (9, 72))),     # wraps at 24 bits
                   (_dense_config(rng, 40, delays=True), rng.integers(0, 2, (9, 40))),
                   (_dense_config(rng, 40, 3, 8), rng.integers(-255, 256, (9, 40)))):
        syn = Synapses(cfg, cfg.projections[0])
        sums = syn.apply(x)
        reach = np.sum([np.abs(acc) for _, acc in sums], axis=0).max()
        bound = syn.bound(1.0 if syn.q.message_bits == 0 else float(np.abs(x).max()))
        assert 0 < reach <= bound < 2 ** 31
        assert all(np.array_equal(a, b) and b.dtype == np.int32
                   for (_, a), (_, b) in zip(sums, syn.apply(x, np.int32)))


def test_step_sums_are_held_in_int32_only_where_they_fit(monkeypatch):
    """A LIF population's shifted input sums go in int32 when its projections' bounds allow it
    (binary spikes, small fan-in), in int64 when not (3000 graded inputs of up to 255 with
    weights of 255 << 7); either way the layer-by-layer run is the step-by-step one."""
    import snnpipe.hwmap.intsim.loihi as intsim
    from snnpipe.hwmap.intsim import loihi_layered

    rng = np.random.default_rng(6)
    cases = ((_dense_config(rng, 40), rng.integers(0, 2, (2, 40, 12)), np.int32),
             (_dense_config(rng, 3000, 7, 8), rng.integers(-255, 256, (2, 3000, 12)), np.int64))
    for cfg, x, kind in cases:
        syns = [Synapses(cfg, q) for q in cfg.projections]
        events = {"in": x.transpose(2, 0, 1)}
        assert loihi_layered._arrival_type(cfg.populations[0], syns, events, True) == kind
        runs = {}
        for path in ("layered", "numpy"):
            monkeypatch.setattr(intsim, "KERNEL", path)
            runs[path] = intsim.simulate(cfg, x, record=("u", "v"))
        assert all(np.array_equal(runs["layered"].states[k], runs["numpy"].states[k])
                   for k in runs["numpy"].states)
        assert np.array_equal(runs["layered"].spikes["c"], runs["numpy"].spikes["c"])
