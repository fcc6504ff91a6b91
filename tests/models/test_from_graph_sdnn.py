"""The graph runner on sigma-delta (SDNN) networks (:mod:`snnpipe.models.from_graph`,
:mod:`snnpipe.models.neurons.sigma_delta`): in the ``loihi`` precision it computes, value for
value, what lava-dl's own netx computes on Lava fixed point (the oracle) for networks that
slayer made and exported (:mod:`slayer_sdnn_zoo`: every layer's sigma, act, residue and
messages, every step); in the ``float`` precision what Lava's own floating-point Delta,
SigmaDelta and Sigma compute (our Lava compile, ``lava-float``). Two networks in the suite,
twelve under ``SNNPIPE_CROSSCHECK=full pytest -m crosscheck``.
"""
import numpy as np
import pytest

import slayer_sdnn_zoo
import snnpipe
from kernel_checks import CROSSCHECK
from snnpipe.models.from_graph import build
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError

pytestmark = pytest.mark.lava

SUITE = (3, 12)


def differing(ref, other) -> dict:
    """(population, state) -> number of values that differ, for every state ``ref`` recorded."""
    return {(node, var): int(np.sum(a != other.pops[node][var]))
            for node, states in ref.pops.items() for var, a in states.items()}


@pytest.mark.parametrize("seed", [pytest.param(s, marks=() if s in SUITE else CROSSCHECK)
                                  for s in range(12)])
def test_torch_loihi_runs_a_slayer_sdnn_as_netx_and_torch_float_as_lavas_float(seed, tmp_path):
    shape = slayer_sdnn_zoo.write(seed, tmp_path / "sdnn.net")
    g = snnpipe.load(tmp_path / "sdnn.net")
    x = slayer_sdnn_zoo.raster(shape, seed, batch=1 + seed % 2)
    c = snnpipe.compile(g, "graph")
    netx = snnpipe.simulate(c, x, "netx", record=True)
    ours = snnpipe.simulate(c, x, "torch-loihi", record=True)
    pops = [n for n in G.topological_order(g) if g.nodes[n]["kind"] == "neuron"]
    assert sorted(ours.pops) == sorted(netx.pops) == sorted(pops)
    assert np.count_nonzero(netx.pops[pops[1]]["spikes"])          # not a silent network
    diff = {k: n for k, n in differing(netx, ours).items() if n}
    assert not diff, f"torch-loihi differs from netx in (population, state): {diff}"
    if np.any(g.nodes[pops[0]]["bias"]):                             # Lava's Delta: no bias
        return
    lava = snnpipe.simulate(c, x, "lava-float", record=True)
    flt = snnpipe.simulate(c, x, "torch-float", record=True)
    diff = {k: n for k, n in differing(lava, flt).items() if n}
    assert not diff, f"torch-float differs from lava-float in (population, state): {diff}"


def test_the_xylo_precision_refuses_a_sigma_delta_population_by_node():
    g = G.new_graph("sd")
    G.add_input(g, "in", (3,))
    G.add_sigma_delta(g, "d", (3,), stage="delta", threshold=0.1)
    G.add_identity(g, "in", "d")
    G.set_outputs(g, ["d"])
    with pytest.raises(GraphError) as e:
        build(g, "xylo")
    assert (e.value.where, e.value.field) == ("d", "precision")
