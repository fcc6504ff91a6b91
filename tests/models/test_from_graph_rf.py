"""The graph runner on resonate-and-fire networks (:mod:`snnpipe.models.from_graph`,
:mod:`snnpipe.models.neurons.rf`): in the ``loihi`` precision it computes, value for value,
what lava-dl's own netx computes on Lava fixed point (the oracle) for rf / rf_iz networks that
slayer made and exported (:mod:`slayer_rf_zoo`: every layer's spikes, real and imaginary
states, u and v of the CUBA layers between, every step); in the ``float`` precision what
Lava's own floating-point RF and RF_IZ compute (our Lava compile, ``lava-float``). Two
networks in the suite, twelve under ``SNNPIPE_CROSSCHECK=full pytest -m crosscheck``.
"""
import numpy as np
import pytest

import slayer_rf_zoo
import snnpipe
from kernel_checks import CROSSCHECK
from snnpipe.models.from_graph import build
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError

pytestmark = pytest.mark.lava

SUITE = (0, 1)


def differing(ref, other) -> dict:
    """(population, state) -> number of values that differ, for every state ``ref`` recorded."""
    return {(node, var): int(np.sum(a != other.pops[node][var]))
            for node, states in ref.pops.items() for var, a in states.items()}


@pytest.mark.parametrize("seed", [pytest.param(s, marks=() if s in SUITE else CROSSCHECK)
                                  for s in range(12)])
def test_torch_loihi_runs_a_slayer_rf_network_as_netx_and_torch_float_as_lavas_float(
        seed, tmp_path):
    shape = slayer_rf_zoo.write(seed, tmp_path / "rf.net")
    g = snnpipe.load(tmp_path / "rf.net")
    assert any(d.get("model") == "rf" for _, d in g.nodes(data=True))
    x = slayer_rf_zoo.raster(shape, seed, batch=1 + seed % 2)
    c = snnpipe.compile(g, "graph")
    netx = snnpipe.simulate(c, x, "netx", record=True)
    ours = snnpipe.simulate(c, x, "torch-loihi", record=True)
    assert sorted(ours.pops) == sorted(netx.pops)
    assert any(np.count_nonzero(d["spikes"]) for d in netx.pops.values())
    diff = {k: n for k, n in differing(netx, ours).items() if n}
    assert not diff, f"torch-loihi differs from netx in (population, state): {diff}"
    lava = snnpipe.simulate(c, x, "lava-float", record=True)
    flt = snnpipe.simulate(c, x, "torch-float", record=True)
    worst = {k: float(np.max(np.abs(a - flt.pops[k[0]][k[1]]), initial=0))
             for k, a in ((k, lava.pops[k[0]][k[1]]) for k in differing(lava, flt))}
    assert max(worst.values()) < 1e-9, f"torch-float differs from lava-float: {worst}"


def _rf_graph(threshold):
    g = G.new_graph("rf")
    G.add_input(g, "in", (2,))
    G.add_rf(g, "r", (2,), period=6.0, decay=0.1, threshold=threshold)
    G.add_dense(g, "in", "r", np.eye(2), syn=G.RF_REAL)
    G.set_outputs(g, ["r"])
    return g


def test_the_torch_rf_step_refuses_what_it_does_not_hold_by_node_and_field():
    with pytest.raises(GraphError) as e:
        build(_rf_graph(0.5), "xylo")
    assert (e.value.where, e.value.field) == ("r", "precision")
    with pytest.raises(GraphError) as e:
        build(_rf_graph([0.5, 0.7]), "loihi")
    assert (e.value.where, e.value.field) == ("r", "threshold")
