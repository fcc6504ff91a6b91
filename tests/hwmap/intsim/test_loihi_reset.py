"""A periodic state reset (Lava's LIFReset, issue #17) by hand: the timing rule of the target,
one neuron's trace on every backend that runs it (torch loihi and float, each intsim-loihi
path, our Lava compile on Lava's own LIFReset in fixed and floating point), and the
configuration field saved, loaded and checked."""
from __future__ import annotations

import numpy as np
import pytest

import snnpipe
import snnpipe.hwmap.intsim.loihi as intsim
from snnpipe.hwmap.mappers import loihi_config
from snnpipe.hwmap.mappers.loihi_map import map_graph
from snnpipe.hwmap.targets.loihi import reset_due
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import FormatError

# One neuron, current decay 1/2, no voltage decay, never spiking, fed 1.0 every step from
# step 2 on (one step of Dense latency), reset at steps t with t % 3 == 1 (1, 4, 7): at a reset
# step u and v start from 0, then decay and take the step's input.
U = [0, 1, 1.5, 1, 1.5, 1.75, 1, 1.5]
V = [0, 1, 2.5, 1, 2.5, 4.25, 1, 2.5]


def one_neuron(interval=3, offset=1):
    g = G.new_graph("reset")
    G.add_input(g, "in", (1,))
    G.add_neuron(g, "h", (1,), current_decay=0.5, voltage_decay=0.0, threshold=100.0,
                 reset_interval=interval, reset_offset=offset)
    G.add_dense(g, "in", "h", [[1.0]])
    G.set_outputs(g, ["h"])
    return g


def test_reset_due_is_lavas_lifreset_timing():
    """``t % interval == offset`` for 1-based steps; interval 0 never; per neuron."""
    assert [bool(reset_due(t, 3, 1)) for t in range(1, 9)] == \
        [True, False, False, True, False, False, True, False]
    assert all(reset_due(t, 1, 0) for t in range(1, 5))
    assert not any(reset_due(t, 0, 0) for t in range(1, 5))
    assert reset_due(4, np.array([0, 2, 3, 4]), np.array([0, 0, 1, 0])).tolist() == \
        [False, True, True, True]


BACKENDS = [("torch-loihi", "graph", 4096), ("torch-float", "graph", 1),
            ("intsim-loihi", "loihi", 4096), ("lava-fixed", "graph", 4096),
            ("lava-float", "graph", 1)]


@pytest.mark.parametrize("backend,target,unit", [
    pytest.param(*b, id=b[0], marks=[pytest.mark.lava] if b[0].startswith("lava") else [])
    for b in BACKENDS])
def test_one_neuron_resets_by_hand_on_every_backend(backend, target, unit):
    x = np.ones((1, 1, 8), np.int64)
    run = snnpipe.simulate(snnpipe.compile(one_neuron(), target), x, backend, record=True)
    assert np.array_equal(run.pops["h"]["u"].ravel(), np.array(U) * unit)
    assert np.array_equal(run.pops["h"]["v"].ravel(), np.array(V) * unit)


@pytest.mark.parametrize("path", ["numpy", "numba", "layered"])
def test_every_intsim_path_resets_by_hand(path, monkeypatch):
    monkeypatch.setattr(intsim, "KERNEL", path)
    cfg = map_graph(one_neuron())
    assert (cfg.population("h").reset_interval, cfg.population("h").reset_offset) == (3, 1)
    res = intsim.simulate(cfg, np.ones((2, 1, 8), np.int64), record=("u", "v"))
    assert np.array_equal(res.states["h/u"][:, 0, 0], np.tile(np.array(U) * 4096, (2, 1)))
    assert np.array_equal(res.states["h/v"][:, 0], np.tile(np.array(V) * 4096, (2, 1)))


def test_the_reset_is_saved_loaded_and_checked_by_field(tmp_path):
    cfg = map_graph(one_neuron(5, 4))
    loaded = loihi_config.load(loihi_config.save(cfg, tmp_path / "c"))
    p = loaded.population("h")
    assert (p.reset_interval, p.reset_offset) == (5, 4)
    for interval, offset, fld in ((-1, 0, "reset_interval"), (3, 3, "reset_offset"),
                                  (2, -1, "reset_offset")):
        p.reset_interval, p.reset_offset = interval, offset
        with pytest.raises(FormatError) as e:
            loihi_config.validate(loaded)
        assert (e.value.where, e.value.field) == ("h", fld)
    plain = map_graph(one_neuron(0, 0))
    assert plain.population("h").reset_interval == 0
