"""netx's periodic reset (issue #17): ``netx.hdf5.Network(net_config, reset_interval=I,
reset_offset=k)`` builds Lava's ``LIFReset`` for every CUBA layer. Random slayer-made networks
(:mod:`slayer_zoo`) loaded with that option (``snnpipe.load(path, reset_interval=I,
reset_offset=k)``) run on netx on Lava fixed point (the oracle, handed the same I and k by our
netx backend), on intsim-loihi, on our Lava compile (lava-fixed: Lava's own LIFReset) and on
torch-loihi: every population's spikes, u and v are equal, value for value.

Several intervals and offsets (an offset beyond the interval too); the kinds of
:data:`slayer_zoo.MIXED` and a leaky readout (``affine_readout``: netx resets it as a CUBA
layer; our Lava compile has no LIFReset form for an ``li`` and refuses it by node and field),
and slayer RF networks with a CUBA layer among the RF blocks (:mod:`slayer_rf_zoo`: RF blocks
do not reset but move netx's phase on).
A few cases run in the suite, the rest under ``SNNPIPE_CROSSCHECK=full pytest -m crosscheck``.
"""
import numpy as np
import pytest

import slayer_zoo
import snnpipe
from kernel_checks import CROSSCHECK
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import GraphError

pytestmark = pytest.mark.lava

STEPS = 12
KINDS = slayer_zoo.MIXED + ("affine_readout",)
RESETS = [(1, 0), (3, 0), (4, 2), (5, 7), (6, 1)]
SUITE = {("dense", 0, (4, 2)), ("conv", 2, (5, 7)), ("input", 1, (3, 0))}


def cases():
    for kind in KINDS:
        for seed in range(3):
            for reset in RESETS:
                suite = (kind, seed, reset) in SUITE
                yield pytest.param(kind, seed, reset, id=f"{kind}-{seed}-{reset[0]}-{reset[1]}",
                                   marks=[] if suite else CROSSCHECK)


def differing(ref, other) -> dict:
    """(population, state) -> number of values that differ, for every recorded state."""
    return {(node, var): int(np.sum(a != other.pops[node][var]))
            for node, states in ref.pops.items() for var, a in states.items()}


@pytest.mark.parametrize("kind,seed,reset", cases())
def test_a_slayer_network_with_netx_reset_runs_on_every_backend_as_on_netx(kind, seed, reset,
                                                                           tmp_path):
    interval, offset = reset
    path = tmp_path / f"{kind}{seed}.net"
    shape = slayer_zoo.write(kind, seed, path)
    g = snnpipe.load(path, reset_interval=interval, reset_offset=offset)
    pops = [n for n in G.topological_order(g) if g.nodes[n]["kind"] == "neuron"]
    # netx's phases: the j-th block resets where t % I == (k + 1 + j) % I
    assert [(g.nodes[n]["reset_interval"], g.nodes[n]["reset_offset"]) for n in pops] == \
        [(interval, (offset + 1 + j) % interval) for j in range(len(pops))]
    batch = 2 if STEPS % interval == 0 else 1
    x = slayer_zoo.raster(shape, seed, batch=batch, steps=STEPS)
    netx = snnpipe.simulate(snnpipe.compile(g, "graph"), x, "netx", record=True)
    assert any(states["u"].any() for states in netx.pops.values())   # not a silent network
    plain = snnpipe.simulate(snnpipe.compile(snnpipe.load(path), "loihi"), x, "intsim-loihi",
                             record=True)
    assert any(differing(netx, plain).values()), "the reset changed nothing: a vacuous case"
    backends = {"intsim-loihi": "loihi", "torch-loihi": "graph", "lava-fixed": "graph"}
    if g.nodes[pops[-1]]["model"] == "li":
        with pytest.raises(GraphError) as e:
            snnpipe.simulate(snnpipe.compile(g, "graph"), x, "lava-fixed")
        assert e.value.where == pops[-1] and e.value.field == "reset_interval"
        del backends["lava-fixed"]
    for backend, target in backends.items():
        run = snnpipe.simulate(snnpipe.compile(g, target), x, backend, record=True)
        diff = {k: n for k, n in differing(netx, run).items() if n}
        assert not diff, f"{backend} differs from netx in (population, state): {diff}"


RF_SEEDS = (0, 8, 19, 27, 29, 38)   # slayer_rf_zoo networks with a CUBA layer among RF (37: silent)


@pytest.mark.parametrize("seed,reset", [
    pytest.param(seed, reset, id=f"rf{seed}-{reset[0]}-{reset[1]}",
                 marks=[] if (seed, reset) == (8, (3, 1)) else CROSSCHECK)
    for seed in RF_SEEDS for reset in ((2, 0), (3, 1), (5, 3))])
def test_rf_blocks_do_not_reset_but_move_netx_reset_phase_on(seed, reset, tmp_path):
    """netx builds slayer's RF blocks (``dense`` layers with complex weights) without a reset,
    but each moves the phase on like any block: the CUBA layer after j RF blocks resets at
    phase k + 1 + j; intsim-loihi and lava-fixed equal netx in every state."""
    import slayer_rf_zoo

    interval, offset = reset
    path = tmp_path / f"rf{seed}.net"
    shape = slayer_rf_zoo.write(seed, path)
    g = snnpipe.load(path, reset_interval=interval, reset_offset=offset)
    pops = [n for n in G.topological_order(g) if g.nodes[n]["kind"] == "neuron"]
    assert [(g.nodes[n]["model"], g.nodes[n].get("reset_offset")) for n in pops] == \
        [("rf", None) if k.startswith("rf") else ("cuba", (offset + 1 + j) % interval)
         for j, k in enumerate(slayer_rf_zoo.kinds(seed))]
    x = slayer_rf_zoo.raster(shape, seed, batch=1, steps=24)
    netx = snnpipe.simulate(snnpipe.compile(g, "graph"), x, "netx", record=True)
    plain = snnpipe.simulate(snnpipe.compile(snnpipe.load(path), "loihi"), x, "intsim-loihi",
                             record=True)
    assert any(differing(netx, plain).values()), "the reset changed nothing: a vacuous case"
    for backend, target in (("intsim-loihi", "loihi"), ("lava-fixed", "graph")):
        run = snnpipe.simulate(snnpipe.compile(g, target), x, backend, record=True)
        diff = {k: n for k, n in differing(netx, run).items() if n}
        assert not diff, f"{backend} differs from netx in (population, state): {diff}"
