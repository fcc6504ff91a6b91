"""A run's energy estimate and event counts: reported by the Loihi-style simulator, computed
only when read (counting every synaptic event costs about as much as the run)."""
from __future__ import annotations

import numpy as np

import snnpipe
from snnpipe.hwmap.intsim.loihi import simulate as intsim
from snnpipe.models.networks import oxford
from snnpipe.pipeline.backends.base import Deferred


def test_deferred_computes_once_on_first_use():
    calls = []
    d = Deferred(lambda: calls.append(1) or {"a": 1.0, "b": 2.0})
    assert calls == [] and "not computed" in repr(d)
    assert d["a"] == 1.0 and dict(d) == {"a": 1.0, "b": 2.0} and len(d) == 2
    assert calls == [1]


def test_intsim_loihi_energy_is_the_simulators_estimate_when_read():
    g = oxford(n_in=12, n_hidden=16, n_out=6).to_graph((12,))
    chip = snnpipe.compile(g, "loihi")
    x = (np.random.default_rng(0).random((3, 12, 20)) < 0.4).astype(np.int64)
    run = snnpipe.simulate(chip, x, "intsim-loihi")
    assert isinstance(run.energy, Deferred) and isinstance(run.counts, Deferred)
    ref = intsim(chip.artifact, x)
    assert run.energy["energy_j"] == ref.energy["mean_energy_j"] > 0
    assert run.energy["latency_step_s"] == ref.energy["latency_s"] / 20
    assert np.array_equal(run.counts["synops"], ref.counts.synops)
