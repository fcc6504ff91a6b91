"""A projection prepared for the integer simulator (:class:`Synapses`): its sums do not depend
on how the rows of a source's events are grouped."""
from __future__ import annotations

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
    x = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [1, 0]])
    first, which = repeated_rows(x)
    assert first.tolist() == [0, 3, 5] and which.tolist() == [0, 0, 0, 1, 1, 2]
    assert np.array_equal(x[first][which], x)
    assert repeated_rows(x[2:]) is None              # rows 0 and 1 differ: not looked at
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
