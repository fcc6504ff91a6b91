"""Graded CUBA spikes on the Loihi-style target (issue #17) by hand: the payload (the
pre-reset voltage where the neuron spikes), the step's graded input truncated once toward zero
(slayer's ``trunc(4096 x)``), on torch-loihi and on each intsim-loihi path; the
configuration field saved, loaded and checked (test_loihi.py's random multi-current
networks draw graded populations too, for the numba, numpy and layered paths). slayer itself
is the oracle in tests/pipeline/formats/test_slayer_graded_crosscheck.py."""
from __future__ import annotations

import numpy as np
import pytest

import snnpipe
import snnpipe.hwmap.intsim.loihi as intsim
from snnpipe.hwmap.mappers import loihi_config
from snnpipe.hwmap.mappers.loihi_map import map_graph
from snnpipe.hwmap.targets.loihi import GRADED_BITS, graded_input, graded_payload
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import FormatError

# a: graded, u = the step's input (1.0 from step 2 on), v never decays, bias 0.3 (1229/4096),
# threshold 1.0 (4096): v = 1229, then 1229 + 4096 + 1229 = 6554 (spike, payload 6554), then
# 4096 + 1229 = 5325 every step (spike). b: u = the step's input, -0.75 (-48/64) times a's
# payload of the step before: trunc0(-48 * 6554 / 64) = trunc0(-4915.5) = -4915 (floor would
# give -4916), trunc0(-48 * 5325 / 64) = trunc0(-3993.75) = -3993.
A = [0, 6554, 5325, 5325, 5325, 5325]
B_U = [0, 0, -4915, -3993, -3993, -3993]


def graded_pair():
    g = G.new_graph("graded")
    G.add_input(g, "in", (1,))
    G.add_neuron(g, "a", (1,), current_decay=1.0, voltage_decay=0.0, threshold=1.0, bias=0.3,
                 spike="graded")
    G.add_neuron(g, "b", (1,), current_decay=1.0, voltage_decay=1.0, threshold=100.0)
    G.add_dense(g, "in", "a", [[1.0]])
    G.add_dense(g, "a", "b", [[-0.75]])
    G.set_outputs(g, ["b"])
    return g


def test_the_payload_and_the_truncated_graded_input():
    assert graded_payload(np.array([6554, 4000]), np.array([True, False])).tolist() == [6554, 0]
    assert graded_input(np.array([0, 0, 64]), np.array([-314592, 314592, -32])).tolist() == \
        [-4915, 4915, 63]                   # one truncation toward zero of the whole input
    assert graded_input(np.array([128]), np.array([0])).tolist() == [128]


@pytest.mark.parametrize("path", ["torch", "numpy", "numba", "layered"])
def test_a_graded_pair_by_hand(path, monkeypatch):
    g, x = graded_pair(), np.ones((2, 1, 6), np.int64)
    if path == "torch":
        run = snnpipe.simulate(snnpipe.compile(g, "graph"), x, "torch-loihi", record=True)
        spikes, u = run.pops["a"]["spikes"], run.pops["b"]["u"]
    else:
        monkeypatch.setattr(intsim, "KERNEL", path)
        res = intsim.simulate(map_graph(g), x, record=("u",))
        spikes, u = res.spikes["a"], res.states["b/u"]
    assert np.array_equal(spikes[:, 0], np.tile(A, (2, 1)))
    assert np.array_equal(u.reshape(2, 6), np.tile(B_U, (2, 1)))


def test_the_graded_population_is_saved_loaded_and_checked(tmp_path):
    cfg = map_graph(graded_pair())
    assert cfg.population("a").spike == "graded" and cfg.population("b").spike == "binary"
    assert [q.message_bits for q in cfg.projections if q.src == "a"] == [GRADED_BITS]
    loaded = loihi_config.load(loihi_config.save(cfg, tmp_path / "c"))
    assert loaded.population("a").spike == "graded"
    loaded.population("a").spike = "multi"
    with pytest.raises(FormatError) as e:
        loihi_config.validate(loaded)
    assert (e.value.where, e.value.field) == ("a", "spike")
