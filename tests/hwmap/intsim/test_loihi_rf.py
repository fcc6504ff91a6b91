"""Resonate-and-fire populations on the Loihi-style target: the mapper's integers, the
configuration file, the design rules, and a trace by hand on the integer simulator."""
from __future__ import annotations

import numpy as np
import pytest

from snnpipe.hwmap.intsim.loihi import simulate
from snnpipe.hwmap.mappers import loihi_config
from snnpipe.hwmap.mappers.loihi_map import map_graph
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import FormatError, GraphError, QuantizationError
from snnpipe.pipeline.ir.validate import validate


def resonator(variant="phase", period=8.0, threshold=0.25):
    """input (1,) -> rf (1,): real weight 1.0, imaginary 0.5."""
    g = G.new_graph("rf")
    G.add_input(g, "x", (1,))
    G.add_rf(g, "r", (1,), variant=variant, period=period, decay=0.0, threshold=threshold)
    G.add_dense(g, "x", "r", np.ones((1, 1)), syn=G.RF_REAL)
    G.add_dense(g, "x", "r", np.full((1, 1), 0.5), syn=G.RF_IMAG)
    G.set_outputs(g, ["r"])
    return g


def test_the_mapper_holds_lavas_decays_and_the_threshold_mantissa():
    pop = map_graph(resonator()).population("r")
    # sin(pi/4) * 4096 = 2896.3 -> 2896, truncated as Lava's RF; threshold int(64 * 0.25)
    assert (pop.model, pop.rf, pop.vth.tolist(), pop.n_syn) == (
        "rf", {"variant": "phase", "sin_decay": [2896], "cos_decay": [2896]}, [16], 2)


def test_an_impulse_resonates_by_hand():
    """A spike at t = 0 arrives at t = 1 as 64 << 6 = 4096 (real) and 2048 (imaginary); then
    re' = t(2896 re / 4096) - t(2896 im / 4096), im' = t(2896 re / 4096) + t(2896 im / 4096):
    (1448, 4344), then (1023 - 3071, 1023 + 3071) = (-2048, 4094)."""
    res = simulate(map_graph(resonator()), np.array([[1, 0, 0, 0]]), record=("real", "imag"))
    assert res.states["r/real"][0, 0].tolist() == [0, 4096, 1448, -2048]
    assert res.states["r/imag"][0, 0].tolist() == [0, 2048, 4344, 4094]
    assert not res.spikes["r"].any()        # imag never crossed zero upwards


def test_izhikevich_fires_on_imag_and_resets_by_hand():
    """theta = int(64 * 0.5) << 6 = 2048: the arriving 2048 fires; real 0, imag 2047."""
    res = simulate(map_graph(resonator("izhikevich", threshold=0.5)), np.array([[1, 0, 0]]),
                   record=("real", "imag"))
    assert res.spikes["r"][0, 0].tolist() == [0, 1, 0]
    assert res.states["r/real"][0, 0].tolist()[:2] == [0, 0]
    assert res.states["r/imag"][0, 0].tolist()[:2] == [0, 2047]


def test_the_configuration_file_keeps_the_rf_fields_and_checks_them(tmp_path):
    cfg = map_graph(resonator("izhikevich"))
    back = loihi_config.load(loihi_config.save(cfg, tmp_path / "cfg"))
    assert back.population("r").rf == cfg.population("r").rf
    cfg.population("r").rf["sin_decay"] = [5000]
    path = loihi_config.save(cfg, tmp_path / "bad")
    with pytest.raises(FormatError) as e:
        loihi_config.load(path)
    assert (e.value.where, e.value.field) == ("r", "rf.sin_decay")


def test_decays_beyond_unsigned_12_bits_are_refused_by_node_and_field():
    problems = validate(resonator(period=3.0), "loihi")     # cos(2 pi / 3) < 0
    assert [(type(p), p.where, p.field) for p in problems] == [(QuantizationError, "r", "period")]


def test_sigma_delta_messages_into_an_rf_population_are_refused():
    g = G.new_graph("mix")
    G.add_input(g, "x", (1,))
    G.add_sigma_delta(g, "d", (1,), stage="delta", activation="none")
    G.add_identity(g, "x", "d")
    G.add_rf(g, "r", (1,), period=8.0)
    G.add_dense(g, "d", "r", np.ones((1, 1)))
    G.set_outputs(g, ["r"])
    problems = validate(g, "loihi")
    assert [(type(p), p.where, p.field) for p in problems] == [(GraphError, "d -> r", "model")]
