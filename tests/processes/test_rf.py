"""Our Lava compile of resonate-and-fire populations (processes/rf.py): lava-nc's own RF and
RF_IZ, in fixed point as the integer simulator computes them, in floating point as the
Graph's float semantics say; what Lava's RF cannot hold is refused."""
import numpy as np
import pytest

import snnpipe
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError

pytestmark = pytest.mark.lava


def chain(threshold=0.25):
    """input (2,) -> rf phase (3,), per-neuron periods -> rf_iz (2,)."""
    g = G.new_graph("rf")
    G.add_input(g, "x", (2,))
    G.add_rf(g, "r", (3,), period=[6.0, 9.0, 14.0], decay=[0.0, 0.05, 0.1], threshold=threshold)
    G.add_dense(g, "x", "r", np.array([[0.5, 0.25], [-0.5, 1.0], [0.75, -0.25]]),
                syn=G.RF_REAL)
    G.add_dense(g, "x", "r", np.array([[-0.25, 0.5], [0.5, 0.5], [0.0, -0.75]]),
                syn=G.RF_IMAG)
    G.add_rf(g, "z", (2,), variant="izhikevich", period=10.0, decay=0.02, threshold=0.4)
    G.add_dense(g, "r", "z", np.array([[1.0, 0.5, -1.0], [0.5, 0.5, 0.5]]), syn=G.RF_REAL)
    G.add_dense(g, "r", "z", np.array([[0.75, 0.75, 0.75], [1.0, -0.5, 1.0]]), syn=G.RF_IMAG)
    G.set_outputs(g, ["z"])
    return g


X = (np.random.default_rng(3).random((1, 2, 30)) < 0.4).astype(np.int64)


def test_lava_fixed_point_equals_the_integer_simulator_in_every_state():
    g = chain()
    lava = snnpipe.simulate(snnpipe.compile(g, "graph"), X, "lava-fixed", record=True)
    ours = snnpipe.simulate(snnpipe.compile(g, "loihi"), X, "intsim-loihi", record=True)
    assert sorted(lava.pops["r"]) == ["imag", "real", "spikes"]
    for node, states in ours.pops.items():
        for var, a in states.items():
            assert np.array_equal(lava.pops[node][var], a), (node, var)
    assert np.count_nonzero(ours.pops["r"]["spikes"]) > 2
    assert np.count_nonzero(ours.pops["z"]["spikes"]) > 2


def test_lava_floating_point_is_the_graphs_float_semantics():
    """z[t] = (1 - decay) exp(2 pi i / period) z[t-1] + x[t], the input one step late (one
    projection); a phase spike where Re z >= threshold as Im z crosses zero upwards."""
    g = chain()
    g.remove_node("z")
    G.set_outputs(g, ["r"])
    lava = snnpipe.simulate(snnpipe.compile(g, "graph"), X, "lava-float", record=True)
    d = g.nodes["r"]
    rot = (1 - d["decay"]) * np.exp(2j * np.pi / d["period"])
    w = g.edges["x", "r", 0]["weight"] + 1j * g.edges["x", "r", 1]["weight"]
    z, prev, want_z, want_s = np.zeros(3, complex), np.zeros(3), [], []
    for t in range(X.shape[-1]):
        z = rot * z + (w @ X[0, :, t - 1] if t else 0)
        want_s.append((z.real >= d["threshold"]) & (z.imag >= 0) & (prev < 0))
        want_z.append(z)
        prev = z.imag
    want_z = np.array(want_z).T
    assert np.allclose(lava.pops["r"]["real"][0], want_z.real)
    assert np.allclose(lava.pops["r"]["imag"][0], want_z.imag)
    assert np.array_equal(lava.pops["r"]["spikes"][0], np.array(want_s).T)
    assert np.any(want_s)


def test_a_per_neuron_threshold_is_refused_by_node_and_field():
    g = chain(threshold=np.array([0.25, 0.5, 0.25]))
    with pytest.raises(GraphError) as e:
        snnpipe.simulate(snnpipe.compile(g, "graph"), X, "lava-fixed")
    assert (e.value.where, e.value.field) == ("r", "threshold")


def test_lava_floating_point_rf_iz_is_the_float_precision_of_models():
    """The Izhikevich population in float: models/neurons/rf_float.py (reset 1e-5 below the
    threshold, as Lava's float RF_IZ), fed the same complex input a step late."""
    import torch

    from snnpipe.models.neurons.rf_float import rf_float, rf_float_params

    g = G.new_graph("iz")
    G.add_input(g, "x", (2,))
    G.add_rf(g, "z", (2,), variant="izhikevich", period=[7.0, 11.0], decay=0.05, threshold=0.4)
    wr, wi = np.array([[0.5, -0.25], [0.25, 0.5]]), np.array([[0.5, 0.5], [-0.25, 0.75]])
    G.add_dense(g, "x", "z", wr, syn=G.RF_REAL)
    G.add_dense(g, "x", "z", wi, syn=G.RF_IMAG)
    G.set_outputs(g, ["z"])
    lava = snnpipe.simulate(snnpipe.compile(g, "graph"), X, "lava-float", record=True)
    late = np.concatenate([np.zeros((1, 2, 1)), X[..., :-1]], axis=-1)
    xr, xi = (torch.tensor(np.einsum("oi,bit->bot", w, late)) for w in (wr, wi))
    d = g.nodes["z"]
    s, re, im = rf_float(xr, xi, rf_float_params(0.4, d["period"], d["decay"], "izhikevich"))
    assert np.count_nonzero(s.numpy()) > 2
    assert np.array_equal(lava.pops["z"]["spikes"], s.numpy())
    assert np.allclose(lava.pops["z"]["real"], re.numpy())
    assert np.allclose(lava.pops["z"]["imag"], im.numpy())
