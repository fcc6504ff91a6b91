"""Sigma-delta populations on the Loihi-style integer simulator: traces by hand through
Delta -> SigmaDelta -> Sigma, batching and time blocks, the configuration file."""
from __future__ import annotations

import numpy as np
import pytest

import snnpipe.hwmap.intsim.loihi as intsim
from snnpipe.hwmap.intsim.loihi import simulate
from snnpipe.hwmap.mappers import loihi_config
from snnpipe.hwmap.mappers.loihi_map import map_graph
from snnpipe.pipeline.ir import graph as G


def chain(n_in=1, n_hidden=1, w_hidden=0.5, threshold=0.0, bias=0.0):
    """input -identity-> delta -dense-> sigma_delta (relu) -dense (1.0)-> sigma."""
    g = G.new_graph("sd")
    G.add_input(g, "x", (n_in,))
    G.add_sigma_delta(g, "d", (n_in,), stage="delta", activation="none")
    G.add_identity(g, "x", "d")
    G.add_sigma_delta(g, "h", (n_hidden,), threshold=threshold, bias=bias)
    G.add_dense(g, "d", "h", np.full((n_hidden, n_in), w_hidden))
    G.add_sigma_delta(g, "o", (1,), stage="sigma", activation="none")
    G.add_dense(g, "h", "o", np.ones((1, n_hidden)))
    G.set_outputs(g, ["o"])
    return g


def test_a_step_of_the_input_travels_as_messages_by_hand():
    """x steps 0 -> 1 -> 0. The delta gets 64 x (1/64 units) a step later and holds it as
    64 x << 12 = 2^18 x (state units: 2^-18 of the float unit), sending its change >> 6:
    4096. The hidden layer sums 32 (0.5 in 1/64) x 4096 = 2^17 and sends 2^17 >> 6 = 2048;
    the sigma output sums 64 x 2048 = 2^17 = 0.5 float units: 0.5 x."""
    res = simulate(map_graph(chain()), np.array([[1, 1, 0, 0, 0, 0, 0]]),
                   record=("act", "sigma", "residue"))
    assert res.spikes["d"][0, 0].tolist() == [0, 4096, 0, -4096, 0, 0, 0]
    assert res.states["d/act"][0, 0].tolist() == [0, 2 ** 18, 2 ** 18, 0, 0, 0, 0]
    assert res.spikes["h"][0, 0].tolist() == [0, 0, 2048, 0, -2048, 0, 0]
    assert res.states["h/sigma"][0, 0].tolist() == [0, 0, 2 ** 17, 2 ** 17, 0, 0, 0]
    assert res.spikes["o"][0, 0].tolist() == [0, 0, 0, 2 ** 17, 2 ** 17, 0, 0]
    assert set(res.states) == {"d/act", "d/residue", "h/sigma", "h/act", "h/residue",
                               "o/sigma"}


def test_threshold_residue_and_bias_by_hand():
    """threshold 0.75 (48 << 12 = 3 * 2^16 state units), bias 0.25 (2^16): the bias alone stays
    in the residue; with the input's 0.5 (2^17) the change reaches the threshold and goes out
    whole (3 * 2^16 >> 6 = 3072); the fall that follows is held back, and cancelled by the
    next rise."""
    res = simulate(map_graph(chain(threshold=0.75, bias=0.25)), np.array([[1, 0, 1, 1, 1]]),
                   record=("sigma", "act", "residue"))
    assert res.states["h/sigma"][0, 0].tolist() == [0, 0, 2 ** 17, 0, 2 ** 17]
    assert res.states["h/act"][0, 0].tolist() == [2 ** 16, 2 ** 16, 3 * 2 ** 16, 2 ** 16,
                                                  3 * 2 ** 16]
    assert res.states["h/residue"][0, 0].tolist() == [2 ** 16, 2 ** 16, 0, -2 ** 17, 0]
    assert res.spikes["h"][0, 0].tolist() == [0, 0, 3072, 0, 0]


def test_batch_equals_samples_and_blocks_equal_whole(monkeypatch):
    g = chain(n_in=5, n_hidden=4, threshold=0.1, bias=0.05)
    g.edges["d", "h", 0]["weight"] = np.random.default_rng(0).integers(-20, 20, (4, 5)) / 32
    cfg = map_graph(g)
    x = np.random.default_rng(1).integers(-2, 3, (3, 5, 20))
    full = simulate(cfg, x, record=("sigma", "act", "residue"))
    assert np.count_nonzero(full.spikes["h"]) > 10
    for b in range(3):
        one = simulate(cfg, x[b], record=("sigma", "act", "residue"))
        assert all(np.array_equal(one.spikes[k][0], full.spikes[k][b]) for k in full.spikes)
        assert all(np.array_equal(one.states[k][0], full.states[k][b]) for k in full.states)
    monkeypatch.setattr(intsim, "BLOCK_ELEMENTS", 3 * 3 * 11)       # blocks of 3 steps
    blocked = simulate(cfg, x, record=("sigma",))
    assert all(np.array_equal(blocked.spikes[k], full.spikes[k]) for k in full.spikes)


def test_a_sigma_delta_config_saves_and_loads(tmp_path):
    cfg = map_graph(chain(threshold=0.5, bias=-0.25))
    back = loihi_config.load(loihi_config.save(cfg, tmp_path))
    h = back.population("h")
    assert h.model == "sigma_delta" and h.sd == {"stage": "sigma_delta", "relu": True,
                                                  "spike_exp": 6, "state_exp": 6,
                                                  "message_bits": 16}
    assert h.vth.tolist() == [32] and h.bias_mant.tolist() == [-16] and h.bias_exp.tolist() == [12]
    x = np.random.default_rng(2).integers(0, 2, (1, 1, 9))
    assert np.array_equal(simulate(back, x).spikes["o"], simulate(cfg, x).spikes["o"])


@pytest.mark.parametrize("stage", ["sigma_delta", "delta", "sigma"])
@pytest.mark.parametrize("relu", [True, False])
def test_the_compiled_loop_is_the_step_rule_operation_for_operation(stage, relu):
    """:func:`sigma_delta_scan` (what an unrecorded layer-by-layer run uses) against
    :func:`targets.loihi.sigma_delta_step` step by step: messages every step and the states
    left at the end, with per-neuron biases and thresholds and states carried in."""
    kernel = pytest.importorskip("snnpipe.hwmap.intsim.loihi_kernel")
    from snnpipe.hwmap.targets.loihi import sigma_delta_step

    rng = np.random.default_rng(len(stage) + relu)
    T, B, N = 9, 3, 50
    a = rng.integers(-2 ** 16, 2 ** 16, (T, B, N)) << 6
    bias, theta = rng.integers(-3000, 3000, N), rng.integers(0, 9000, N)
    start = [rng.integers(-5000, 5000, (B, N)) for _ in range(3)]
    states = [s.copy() for s in start]
    out = np.empty_like(a)
    kernel.sigma_delta_scan(a, *states, bias, theta, kernel.SD_STAGE_CODES[stage], relu, 5, 3, out)
    sigma, act, residue = start
    for t in range(T):
        msg, sigma, act, residue = sigma_delta_step(a[t] >> 6, sigma, act, residue, bias, theta,
                                                    stage=stage, relu=relu, in_shift=5,
                                                    state_exp=3)
        assert np.array_equal(out[t], msg), t
    assert all(np.array_equal(x, y) for x, y in zip(states, (sigma, act, residue)))
