"""The Xylo integer simulator against the real xylosim.v2.XyloLayer (no mocks), and by hand.

Every recorded state (Vmem, Isyn, Isyn2, Vmem_out, Isyn_out) and every spike count must agree
at every step. The normal suite runs a dozen small random configs plus targeted ones
(saturation, wrapped shifted weights, the 31-spike cap, aliases onto neuron 0, input counts
above 15) and a few Xylo v1 configs against xylosim.v1; ``SNNPIPE_CROSSCHECK=full`` runs
>= 100 configs up to the full 16 x 1000 x 8, and 50 more for Xylo v1.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from snnpipe.hwmap.intsim.xylo import simulate
from snnpipe.hwmap.intsim.xylo_ref import XyloReference, random_config
from snnpipe.hwmap.mappers.xylo_config import XyloConfig
from snnpipe.hwmap.targets.xylo import STATE_MAX, STATE_MIN, XYLO_AUDIO2, XYLO_V1
from snnpipe.pipeline.ir.errors import FormatError

FULL = os.environ.get("SNNPIPE_CROSSCHECK") == "full"
COMPARED = ("spikes_out", "spikes", "Vmem", "Isyn", "Isyn2", "Vmem_out", "Isyn_out")


def random_inputs(rng, config, batch=3, steps=40, density=0.4, high=21):
    """Integer counts (batch, Nin, steps), up to ``high - 1`` events (xylosim clips at 15).

    Batches of 1 or 2 take the simulator's gather path, larger ones its sparse-matrix path."""
    shape = (batch, config.shape[0], steps)
    return rng.integers(0, high, shape) * (rng.random(shape) < density)


def assert_same_as_xylosim(config, inputs, version=2):
    """Run both; fail at the first (sample, neuron, step) where anything differs."""
    pytest.importorskip(f"xylosim.v{version}")
    ours = simulate(config, inputs, record=True, limits=XYLO_AUDIO2 if version == 2 else XYLO_V1)
    ref = XyloReference(config, version=version).run(inputs)
    got = {"spikes_out": ours.spikes_out, "spikes": ours.spikes, **ours.states}
    for name in COMPARED:
        a, b = got[name].astype(np.int64), ref[name]
        assert a.shape == b.shape, f"{name}: shape {a.shape} != xylosim {b.shape}"
        if not np.array_equal(a, b):
            s, n, t = np.argwhere(a != b)[0]
            pytest.fail(f"{name} differs first at sample {s}, neuron {n}, step {t}: "
                        f"ours {a[s, n, t]}, xylosim {b[s, n, t]}")
    return ours


@pytest.mark.parametrize("seed", range(12))
def test_random_small_configs_match_xylosim(seed):
    rng = np.random.default_rng(seed)
    config = random_config(rng)
    assert_same_as_xylosim(config, random_inputs(rng, config, batch=1 + 2 * (seed % 2)))


@pytest.mark.crosscheck
@pytest.mark.skipif(not FULL, reason="full randomised cross-check: runs under `make crosscheck` (SNNPIPE_CROSSCHECK=full); the suite runs a subset")
@pytest.mark.parametrize("seed", range(100, 220))
def test_random_configs_full_crosscheck(seed):
    rng = np.random.default_rng(seed)
    big = seed % 10 == 0
    config = random_config(rng, n_hidden=int(rng.integers(200, 1001)) if big else None,
                           density=0.05 if big else None, alias_p=0.02 if big else 0.2)
    x = random_inputs(rng, config, batch=1 + 2 * (seed % 2), steps=30 if big else 60)
    assert_same_as_xylosim(config, x)


def _v1_case(seed):
    rng = np.random.default_rng(seed)
    config = random_config(rng)
    config.bias[:] = 0
    config.bias_out[:] = 0
    assert_same_as_xylosim(config, random_inputs(rng, config, batch=1 + 2 * (seed % 2)), version=1)


@pytest.mark.parametrize("seed", range(20, 24))
def test_xylo_v1_matches_xylosim_v1(seed):
    """Xylo v1: no bias, and the membrane saturates once: V = sat(V - decay(V) + I1 + I2)."""
    _v1_case(seed)


@pytest.mark.crosscheck
@pytest.mark.skipif(not FULL, reason="full randomised cross-check: runs under `make crosscheck` (SNNPIPE_CROSSCHECK=full); the suite runs a subset")
@pytest.mark.parametrize("seed", range(24, 74))
def test_xylo_v1_full_crosscheck(seed):
    _v1_case(seed)


def test_saturating_currents_take_the_ordered_path():
    """Large shifted weights of both signs: partial sums hit +-32768 and order matters."""
    rng = np.random.default_rng(3)
    config = random_config(rng, n_in=16, n_hidden=40, n_out=4, density=0.8, threshold_bits=15)
    config.weight_shift_in = config.weight_shift_rec = config.weight_shift_out = 7
    config.dash_syn[:] = config.dash_syn_2[:] = 15   # a saturated current loses exactly 1
    ours = assert_same_as_xylosim(config, random_inputs(rng, config, density=0.7))
    assert ours.ordered_states > 0
    isyn = ours.states["Isyn"]
    assert np.any(isyn == STATE_MAX - 1) and np.any(isyn == STATE_MIN + 1)


def test_shifted_weights_wrap_to_16_bits():
    """Shifts beyond the chip's 0..7 (xylosim accepts them) wrap ``w << shift`` to int16."""
    rng = np.random.default_rng(4)
    config = random_config(rng, n_in=4, n_hidden=10, n_out=2, density=0.5)
    config.weight_shift_in, config.weight_shift_rec, config.weight_shift_out = 9, 8, 10
    assert_same_as_xylosim(config, random_inputs(rng, config))


def test_spike_cap_and_input_clipping():
    """Tiny thresholds hit the 31-spike cap; counts up to 40 are clipped to 15."""
    rng = np.random.default_rng(5)
    config = random_config(rng, n_in=8, n_hidden=30, n_out=3, threshold_bits=2)
    ours = assert_same_as_xylosim(config, random_inputs(rng, config, high=41))
    assert ours.spikes.max() == 31 and ours.spikes_out.max() == 1


def test_alias_chains_onto_neuron_zero():
    """Aliases forward counts up and down the index order, onto neuron 0 and in a cycle."""
    rng = np.random.default_rng(6)
    config = random_config(rng, n_in=6, n_hidden=12, n_out=2, threshold_bits=6, alias_p=0.0)
    config.aliases = [[] for _ in range(12)]
    for src, dst in [(0, 3), (3, 7), (7, 0), (5, 0), (11, 0), (2, 9), (9, 4), (10, 1)]:
        config.aliases[src] = [dst]
    ours = assert_same_as_xylosim(config, random_inputs(rng, config, density=0.6))
    assert ours.spikes[:, 0].sum() > 0


# ---- specification by hand (Norse style) -----------------------------------------------------

def one_neuron(w=10, threshold=15, dash=1, bias=0, shift=0):
    return XyloConfig(weights_in=np.array([[[w, 0]]]), weights_out=np.array([[7]]),
                      dash_mem=[dash], dash_syn=[dash], dash_syn_2=[dash], dash_mem_out=[1],
                      dash_syn_out=[1], threshold=[threshold], threshold_out=[5], bias=[bias],
                      weight_shift_in=shift)


def test_trace_single_neuron_by_hand():
    """3 events of w=10 at t=0, dash 1, threshold 15.

    t0: I = 30 - (30>>1) = 15; V = 0 + 15 = 15 >= 15: one spike, V = 0.
    t1: I = 15 - 7 = 8; V = 0 + 8 = 8. t2: I = 8 - 4 = 4; V = 8 - 4 + 4 = 8.
    t3: I = 4 - 2 = 2; V = 8 - 4 + 2 = 6.
    Readout (w=7, dash 1): the spike of t0 arrives at t1: I_out = 7 - 3 = 4, V_out = 4;
    t2: I_out = 4 - 2 = 2, V_out = 4 - 2 + 2 = 4; t3: I_out = 1, V_out = 4 - 2 + 1 = 3.
    """
    r = simulate(one_neuron(), np.array([[[3, 0, 0, 0]]]), record=True)
    assert r.states["Isyn"][0, 0].tolist() == [15, 8, 4, 2]
    assert r.states["Vmem"][0, 0].tolist() == [0, 8, 8, 6]
    assert r.spikes[0, 0].tolist() == [1, 0, 0, 0]
    assert r.states["Isyn_out"][0, 0].tolist() == [0, 4, 2, 1]
    assert r.states["Vmem_out"][0, 0].tolist() == [0, 4, 4, 3]


def test_trace_decay_minimum_step_and_bias_by_hand():
    """Bias -7, no input, dash 1: V = -7; then -(-7 >> 1) = 4: V = -7 + 4 - 7 = -10;
    then -(-10 >> 1) = 5: V = -12. A current of 1 with dash 15 still loses 1 per step."""
    r = simulate(one_neuron(bias=-7, threshold=1000), np.zeros((1, 1, 3), int), record=True)
    assert r.states["Vmem"][0, 0].tolist() == [-7, -10, -12]
    r = simulate(one_neuron(w=2, dash=15, threshold=1000), np.array([[[1, 0, 0]]]), record=True)
    assert r.states["Isyn"][0, 0].tolist() == [1, 0, 0]


def test_trace_multi_spike_subtractive_reset_by_hand():
    """15 events of w=100 (1500 - 1 = 1499 after dash 15) with threshold 1: 31 spikes (the cap),
    V = 1499 - 31 = 1468; with threshold 400: 3 spikes, V = 1499 - 1200 = 299."""
    r = simulate(one_neuron(w=100, threshold=1, dash=15), np.array([[[20]]]), record=True)
    assert (r.spikes[0, 0, 0], r.states["Vmem"][0, 0, 0]) == (31, 1468)
    r = simulate(one_neuron(w=100, threshold=400, dash=15), np.array([[[15]]]), record=True)
    assert (r.spikes[0, 0, 0], r.states["Vmem"][0, 0, 0]) == (3, 299)


def test_event_counts_and_cost():
    """Synaptic operations = events x non-zero synapses of their source; costs are positive."""
    config = one_neuron()
    r = simulate(config, np.array([[[3, 0, 20, 0]]]))
    assert r.counts["input_events"] == 3 + 15
    assert r.counts["syn_ops_in"] == 18
    assert r.counts["syn_ops_out"] == r.counts["spikes_hidden"] - int(r.spikes[0, 0, -1])
    assert r.counts["neuron_updates"] == 4 * 2
    assert r.cost["energy_J"] > r.cost["dynamic_energy_J"] > 0


def test_bad_inputs_are_format_errors():
    with pytest.raises(FormatError) as e:
        simulate(one_neuron(), np.zeros((1, 2, 5), int))
    assert e.value.field == "inputs" and e.value.expected == 1
    with pytest.raises(FormatError):
        simulate(one_neuron(), np.zeros((1, 1, 5)))


def test_batch_equals_separate_runs():
    rng = np.random.default_rng(8)
    config = random_config(rng, n_hidden=20)
    x = random_inputs(rng, config, batch=3)
    whole = simulate(config, x, record=True)
    for b in range(3):
        part = simulate(config, x[b:b + 1], record=True)
        assert np.array_equal(part.spikes, whole.spikes[b:b + 1])
        assert np.array_equal(part.states["Vmem"], whole.states["Vmem"][b:b + 1])
