"""Our Lava compile of sigma-delta populations (processes/sdnn.py): lava-nc's own Delta,
SigmaDelta and Sigma, in fixed point as the integer simulator computes them, in floating point
as the Graph's float semantics say; what Lava's processes cannot hold is refused."""
import numpy as np
import pytest

import snnpipe
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError

pytestmark = pytest.mark.lava


def chain(bias=0.0, threshold=0.0, delta_bias=0.0):
    g = G.new_graph("sd")
    G.add_input(g, "x", (2,))
    G.add_sigma_delta(g, "d", (2,), stage="delta", activation="none", bias=delta_bias)
    G.add_identity(g, "x", "d")
    G.add_sigma_delta(g, "h", (3,), threshold=threshold, bias=bias)
    G.add_dense(g, "d", "h", np.array([[0.5, 0.25], [-0.5, 1.0], [0.75, -0.25]]))
    G.add_sigma_delta(g, "o", (1,), stage="sigma", activation="none")
    G.add_dense(g, "h", "o", np.array([[1.0, 0.5, -1.0]]))
    G.set_outputs(g, ["o"])
    return g


X = np.array([[[1, 1, 0, 2, 2, 0, 0, 0], [0, 1, 1, 1, -1, -1, 0, 0]]])


def test_lava_fixed_point_equals_the_integer_simulator_in_every_state():
    g = chain(bias=np.array([0.25, -0.125, 0.0]), threshold=0.3)
    lava = snnpipe.simulate(snnpipe.compile(g, "graph"), X, "lava-fixed", record=True)
    ours = snnpipe.simulate(snnpipe.compile(g, "loihi"), X, "intsim-loihi", record=True)
    assert sorted(lava.pops["h"]) == ["act", "residue", "sigma", "spikes"]
    for node, states in ours.pops.items():
        for var, a in states.items():
            assert np.array_equal(lava.pops[node][var], a), (node, var)
    assert np.count_nonzero(ours.pops["h"]["spikes"]) > 3


def test_lava_floating_point_is_the_graphs_float_semantics():
    """Threshold 0 and no truncation: the sigma output is the weighted sum of the relu'd
    hidden sums, three steps (three projections) after the input."""
    g = chain()
    out = snnpipe.simulate(snnpipe.compile(g, "graph"), X, "lava-float").output[0, 0]
    w1, w2 = g.edges["d", "h", 0]["weight"], g.edges["h", "o", 0]["weight"]
    want = np.zeros(8)
    want[3:] = (w2 @ np.maximum(w1 @ X[0], 0))[0, :5]
    assert np.allclose(out, want)


@pytest.mark.parametrize("edit,where,field", [
    (lambda g: g.nodes["h"].update(threshold=np.array([0.1, 0.2, 0.3])), "h", "threshold"),
    (lambda g: g.nodes["d"].update(bias=np.array(0.5)), "d", "bias"),
    (lambda g: g.nodes["o"].update(bias=np.array(0.5)), "o", "bias"),
], ids=["per_neuron_threshold", "delta_bias", "sigma_bias"])
def test_what_lavas_processes_cannot_hold_is_refused(edit, where, field):
    from snnpipe.processes.compile import compile as lava_compile

    g = chain()
    edit(g)
    with pytest.raises(GraphError) as e:
        lava_compile(g, "fixed")
    assert (e.value.where, e.value.field) == (where, field)
