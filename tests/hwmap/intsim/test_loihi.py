"""The Loihi-style integer simulator: batching, time blocks, merges, events, energy; the numba
loop against the numpy path and the neuron rule; and netx's weight defects against real Lava."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import snnpipe.hwmap.intsim.loihi as intsim
import snnpipe.hwmap.intsim.loihi_prepare as prepare
from snnpipe.hwmap.intsim.energy import LoihiCosts
from snnpipe.hwmap.intsim.loihi import simulate
from snnpipe.hwmap.targets.loihi import (DECAY_UNIT, U_HALF, V_MAX, VTH_MAX, LoihiLimits,
                                         bias_array, decay, graded_payload, neuron_step_inplace,
                                         threshold_value)
from snnpipe.hwmap.mappers.loihi_config import LoihiConfig, Population, Projection
from snnpipe.hwmap.mappers.loihi_map import map_graph, place
from snnpipe.hwmap.targets.loihi_weights import weight_format
from snnpipe.pipeline.ir import graph as G
from snnpipe.pipeline.ir.errors import FormatError


def recurrent_graph(seed=0):
    rng = np.random.default_rng(seed)
    g = G.new_graph("rec")
    G.add_input(g, "in", (12,))
    G.add_neuron(g, "h", (16,), current_decay=0.3, voltage_decay=0.1, threshold=1.0, bias=0.02)
    G.add_neuron(g, "o", (4,), model="li", current_decay=0.5, voltage_decay=0.2)
    G.add_dense(g, "in", "h", rng.normal(0, 1, (16, 12)))
    G.add_dense(g, "h", "h", rng.normal(0, 0.4, (16, 16)), recurrent=True,
                delay=rng.integers(0, 4, (16, 16)))
    G.add_dense(g, "h", "o", rng.normal(0, 1, (4, 16)))
    G.set_outputs(g, ["o"])
    return g


def test_batch_equals_samples_and_blocks_equal_whole(monkeypatch):
    cfg = map_graph(recurrent_graph())
    x = (np.random.default_rng(1).random((3, 12, 50)) < 0.3).astype(int)
    full = simulate(cfg, x, record=("v", "h/u"))
    assert set(full.states) == {"h/v", "o/v", "h/u"} and full.states["h/u"].shape == (3, 1, 16, 50)
    assert full.spikes["h"].sum() > 0
    for b in range(3):
        one = simulate(cfg, x[b], record=("v",))
        assert np.array_equal(one.spikes["h"][0], full.spikes["h"][b])
        assert np.array_equal(one.states["o/v"][0], full.states["o/v"][b])
    monkeypatch.setattr(intsim, "KERNEL", "numpy")                   # the numpy path, ...
    monkeypatch.setattr(intsim, "BLOCK_ELEMENTS", 7 * 3 * 16)       # blocks of 7 steps
    monkeypatch.setattr(prepare, "SPARSE_DENSITY", 1.1)              # force the sparse path
    monkeypatch.setattr(prepare, "SPARSE_MIN_ROWS", 1)
    blocked = simulate(cfg, x, record=("v",))
    assert np.array_equal(blocked.spikes["h"], full.spikes["h"])
    assert np.array_equal(blocked.states["o/v"], full.states["o/v"])


def _extreme(rng, shape, values, lo, hi):
    """Half the entries from ``values`` (the edges), half uniform in [lo, hi]."""
    return np.where(rng.random(shape) < 0.5, rng.choice(np.asarray(values, np.int64), shape),
                    rng.integers(lo, hi + 1, shape))


def test_numba_neuron_step_equals_the_rule():
    """The numba neuron update gives the integers of ``neuron_step_inplace``. Half the neurons
    take extreme values: zero and full decays, currents and inputs that land exactly on and
    beyond the 24-bit wrap edges, voltages at saturation, the largest biases, thresholds 0,
    VTH_MAX << 6 and V_MAX (never spikes); the other half small integers, where v equals the
    threshold and truncation toward zero matters."""
    from snnpipe.hwmap.intsim import loihi_kernel as kernel       # numba is a core dependency
    rng = np.random.default_rng(7)
    B, N = 3, 96
    small = np.arange(N) % 2 == 0
    for n_syn in (1, 2, 3):
        keep = DECAY_UNIT - _extreme(rng, (n_syn + 1, 1, N), [0, 1, 2048, 4095, 4096], 0, 4096)
        bias = np.where(small, rng.integers(-3, 4, N),
                        bias_array(_extreme(rng, N, [-4096, 4095, 0], -4096, 4095),
                                   rng.integers(0, 8, N)))
        theta = np.where(small, rng.integers(0, 6, N),
                         _extreme(rng, N, [0, threshold_value(VTH_MAX), V_MAX], 0, 1 << 20))
        x = np.concatenate([_extreme(rng, (n_syn, B, N), [U_HALF, U_HALF - 1, 1 - U_HALF, 0],
                                     1 - U_HALF, U_HALF),
                            _extreme(rng, (1, B, N), [V_MAX, -V_MAX, 0], -V_MAX, V_MAX)])
        x[:, :, small] = rng.integers(-8, 9, x[:, :, small].shape)
        per_sample = [np.ascontiguousarray(x[:, b]) for b in range(B)]
        tmp, s_b = np.empty_like(x), np.empty(N, np.int64)
        graded = (rng.random(N) < 0.3).astype(np.int64)     # graded CUBA neurons: payloads
        v_pre = np.empty((B, N), np.int64)
        spiked = 0
        for _ in range(40):
            a = np.where(small, rng.integers(-6, 7, (n_syn, B, N)),
                         _extreme(rng, (n_syn, B, N), [0, 1 << 23, -(1 << 23)], -(1 << 24),
                                  1 << 24))
            # decayed current + input exactly on the wrap edges (2^23 stays, -2^23 wraps)
            edge = rng.choice([U_HALF, U_HALF + 1, -U_HALF, 1 - U_HALF], a.shape)
            hit = (rng.random(a.shape) < 0.25) & ~small
            a[hit] = (edge - decay(x[:-1], DECAY_UNIT - keep[:-1]))[hit]
            s = neuron_step_inplace(x, a, keep, bias, theta, tmp, v_pre)
            message = np.where(graded == 1, graded_payload(v_pre, s), s)
            for b in range(B):
                kernel.neuron_step(per_sample[b], np.ascontiguousarray(a[:, b]),
                                   np.ascontiguousarray(keep[:, 0]), bias, theta, graded, s_b)
                assert np.array_equal(per_sample[b], x[:, b])
                assert np.array_equal(s_b, message[b])
            spiked += int(s.sum())
        assert 0 < spiked < 40 * B * N


def _multi_net(rng, n=7):
    """Three populations with 1-3 synaptic currents, graded spikes and periodic resets now
    and then, two
    inputs (one graded with negative counts), Dense with per-synapse or uniform delays and
    weight_exp -4..3, an identity."""
    def pop(name, k):
        interval = int(rng.choice([0, 1, 3, 7]))          # Lava's LIFReset, 0: never
        return Population(name, (n,), "cuba", rng.choice([0, 1, 2000, 4096], (k, n)),
                          rng.choice([0, 300, 4096], n), rng.integers(0, 300, n),
                          rng.integers(-4096, 4096, n), rng.integers(-3, 8, n),
                          spike=str(rng.choice(["binary", "graded"])),
                          reset_interval=interval,
                          reset_offset=int(rng.integers(0, interval)) if interval else 0)

    pops = {name: pop(name, k) for name, k in (("a", 2), ("b", 1), ("c", 3))}

    def bits(src):
        return 24 if src in pops and pops[src].spike == "graded" else int(rng.choice([0, 8]))

    def dense(src, dst, syn, n_src=n):
        delay = (rng.integers(0, 5, (n, n_src)) if rng.random() < 0.5
                 else np.asarray(int(rng.integers(0, 3))))
        return Projection(src, dst, "dense", rng.integers(-256, 256, (n, n_src)),
                          int(rng.integers(1, 9)), int(rng.integers(-4, 4)), syn, delay,
                          bits(src))

    projs = [dense("i1", "a", 0, 5), dense("i2", "a", 1, 3), dense("a", "b", 0),
             dense("b", "c", 2), dense("c", "a", 1), dense("c", "c", 0),
             Projection("a", "c", "identity", rng.integers(-256, 256, n), 8,
                        int(rng.integers(-3, 3)), 1, rng.integers(0, 4, n), bits("a"))]
    return LoihiConfig("t", 1e-3, {"i1": (5,), "i2": (3,)}, list(pops.values()), projs, ["c"])


def test_numba_path_equals_numpy_path(monkeypatch):
    """The compiled loop and the numpy path give the same spikes, u, v and event counts."""
    import snnpipe.hwmap.intsim.loihi_kernel  # noqa: F401  (numba is a core dependency: no skip)
    rng = np.random.default_rng(3)
    cases = [(map_graph(recurrent_graph()), (rng.random((2, 12, 60)) < 0.3).astype(int))]
    for _ in range(6):
        x = {"i1": rng.integers(-2, 4, (2, 5, 50)) * (rng.random((2, 5, 50)) < 0.4),
             "i2": (rng.random((2, 3, 50)) < 0.5).astype(int)}
        cases.append((place(_multi_net(rng), LoihiLimits(neurons_per_core=4)), x))
    spikes = 0
    for cfg, x in cases:
        runs = {}
        for path in ("numba", "numpy"):
            monkeypatch.setattr(intsim, "KERNEL", path)
            runs[path] = simulate(cfg, x, record=("u", "v"))
        a, b = runs["numba"], runs["numpy"]
        for part in ("spikes", "states", "energy"):
            pa, pb = getattr(a, part), getattr(b, part)
            assert pa.keys() == pb.keys()
            assert all(np.array_equal(pa[k], pb[k]) for k in pa), part
        for f in a.counts.__dataclass_fields__:
            assert np.array_equal(getattr(a.counts, f), getattr(b.counts, f)), f
        spikes += sum(int(np.count_nonzero(v)) for v in a.spikes.values())
    assert spikes > 0


def _sdnn_graph(rng):
    """input (2, 3, 3) -> Delta -> conv -> SigmaDelta (bias) -> dense -> Sigma."""
    g = G.new_graph("sdnn")
    G.add_input(g, "in", (2, 3, 3))
    G.add_sigma_delta(g, "d", (2, 3, 3), stage="delta", activation="none", threshold=0.1)
    G.add_sigma_delta(g, "h", (4, 2, 2), threshold=0.2, bias=rng.uniform(-0.2, 0.2, 16).round(2))
    G.add_sigma_delta(g, "o", (3,), stage="sigma", activation="none")
    G.add_identity(g, "in", "d")
    G.add_conv(g, "d", "h", rng.normal(0, 1, (4, 2, 2, 2)).round(1))
    G.add_dense(g, "h", "o", rng.normal(0, 1, (3, 16)).round(1))
    G.set_outputs(g, ["o"])
    return g


def test_layer_by_layer_path_equals_step_by_step_path(monkeypatch):
    """Feed-forward networks (conv, dense, identity; delays, several currents, merges, li
    readouts, sigma-delta populations, several inputs, a batch, in one chunk or one sample per
    chunk) run population by population over all steps give the
    spikes, u, v and event counts of the step-by-step path; recurrent ones are not taken."""
    import zoo
    from snnpipe.hwmap.intsim import loihi_layered

    rng = np.random.default_rng(8)
    cases = []
    for name in ("sequential_dense", "sequential_conv", "branches_merge", "residual",
                 "wavesense", "synnet", "li_readout"):
        cfg = map_graph(zoo.ZOO[name](1))
        x = {k: (rng.random((3, int(np.prod(shape)), 30)) < 0.4).astype(int)
             for k, shape in cfg.inputs.items()}
        cases.append((name, cfg, x))
    for i in range(4):
        x = {"i1": rng.integers(-2, 4, (2, 5, 40)) * (rng.random((2, 5, 40)) < 0.4),
             "i2": (rng.random((2, 3, 40)) < 0.5).astype(int)}
        cfg = _multi_net(rng)                       # without its projections back from c
        cfg = dataclasses.replace(cfg, projections=[q for q in cfg.projections if q.src != "c"])
        cases.append((f"multi{i}", place(cfg, LoihiLimits(neurons_per_core=4)), x))
    cases.append(("sdnn", map_graph(_sdnn_graph(rng)), rng.integers(-3, 4, (2, 18, 30))))
    assert loihi_layered.order(map_graph(recurrent_graph())) is None
    spikes = 0
    for name, cfg, x in cases:
        runs = {}
        for path in ("layered", "numpy"):
            monkeypatch.setattr(intsim, "KERNEL", path)
            runs[path] = simulate(cfg, x, record=("u", "v"))
        monkeypatch.setattr(intsim, "KERNEL", "layered")
        monkeypatch.setattr(loihi_layered, "CHUNK_ELEMENTS", 1)       # one sample per chunk
        runs["chunked"] = simulate(cfg, x, record=("u", "v"))
        monkeypatch.undo()
        a, b = runs["layered"], runs["numpy"]
        for part in ("spikes", "states", "energy"):
            pa, pb, pc = getattr(a, part), getattr(b, part), getattr(runs["chunked"], part)
            assert pa.keys() == pb.keys() == pc.keys(), (name, part)
            assert all(np.array_equal(pa[k], pb[k]) for k in pa), (name, part)
            assert all(np.array_equal(pc[k], pb[k]) for k in pa), (name, part, "chunked")
        for f in a.counts.__dataclass_fields__:
            assert np.array_equal(getattr(runs["chunked"].counts, f), getattr(b.counts, f)), f
            assert np.array_equal(getattr(a.counts, f), getattr(b.counts, f)), (name, f)
        spikes += sum(int(np.count_nonzero(v)) for v in a.spikes.values())
    assert spikes > 0


def test_a_convs_synapse_events_per_core_are_its_events_times_its_fan():
    """Counted by convolution with the 0/1 kernel (the fast way) = the sparse product with
    the (source, core) synapse table, on a conv network split over many cores."""
    import zoo
    from snnpipe.hwmap.intsim.loihi_events import projection_costs

    cfg = place(map_graph(zoo.ZOO["sequential_conv"](2)), LoihiLimits(neurons_per_core=5))
    rng = np.random.default_rng(0)
    convs = [c for c in projection_costs(cfg) if c.conv is not None]
    assert len(convs) == 2 and len(cfg.cores) > 8
    for c in convs:
        events = rng.integers(0, 9, (7, c.fan.shape[0])).astype(np.float64)
        assert np.array_equal(c.synapse_events(events), np.asarray(events @ c.fan.toarray()))


def test_merge_equals_duplicated_projections():
    rng = np.random.default_rng(4)
    w1, w2, w3 = (rng.normal(0, 1, (6, 6)) for _ in range(3))
    graphs = []
    for merged in (True, False):
        g = G.new_graph("m")
        G.add_input(g, "in", (6,))
        for n in ("a", "b"):
            G.add_neuron(g, n, (6,), current_decay=0.2, voltage_decay=0.1, threshold=0.5)
        G.add_neuron(g, "c", (6,), current_decay=0.2, voltage_decay=0.1, threshold=0.5)
        G.add_dense(g, "in", "a", w1)
        G.add_dense(g, "in", "b", w2)
        if merged:
            G.add_merge(g, "m", (6,))
            G.add_identity(g, "a", "m")
            G.add_identity(g, "b", "m")
            G.add_dense(g, "m", "c", w3)
        else:
            G.add_dense(g, "a", "c", w3)
            G.add_dense(g, "b", "c", w3)
        G.set_outputs(g, ["c"])
        graphs.append(map_graph(g))
    x = (rng.random((2, 6, 40)) < 0.4).astype(int)
    a, b = (simulate(c, x).spikes["c"] for c in graphs)
    assert a.sum() > 0 and np.array_equal(a, b)


def _counting_net():
    """in (3) -> p (4) on two cores; weights: input 0 reaches neurons 0 and 3 only."""
    w = np.zeros((4, 3), np.int64)
    w[0, 0] = w[3, 0] = 200
    w[:, 1] = 2
    full = np.full(4, 4096, np.int64)                    # full decays: v = input of the step
    pop = Population("p", (4,), "cuba", full[None], full,
                     np.zeros(4, np.int64), np.zeros(4, np.int64), np.zeros(4, np.int64))
    cfg = LoihiConfig("c", 1e-3, {"in": (3,)}, [pop], [Projection("in", "p", "dense", w)], ["p"])
    return place(cfg, LoihiLimits(neurons_per_core=2))


@pytest.mark.parametrize("kernel", ["numba", "numpy", "layered"])
def test_event_counts_and_energy_on_every_path_when_first_asked_for(kernel, monkeypatch):
    monkeypatch.setattr(intsim, "KERNEL", kernel)
    cfg = _counting_net()
    x = np.zeros((2, 3, 5), np.int64)
    x[0, 0, 0] = 1                     # 2 synapses, one per core -> 2 input messages
    x[1, 1, [0, 1]] = 3                # binary projection: count 3 is one event, 4 synapses
    r = simulate(cfg, x, costs=LoihiCosts(synop_pj=1.0, neuron_update_pj=0.0,
                                          input_spike_pj=0.0))
    assert "counts" not in vars(r) and "energy" not in vars(r)     # not counted yet
    c = r.counts
    assert r.counts is c
    assert c.synops.tolist() == [[1, 1], [4, 4]]
    assert c.input_messages.tolist() == [2, 4]
    assert c.step_synops[0].tolist() == [3, 3] and c.step_synops[1].tolist() == [2, 2]
    assert c.neuron_updates.tolist() == [10, 10]
    # a neuron fires at each step where it receives input (theta = 0, full decays)
    assert c.spikes.tolist() == [[1, 1], [4, 4]]
    assert r.energy["energy_synops_j"] == pytest.approx([2e-12, 8e-12])
    assert r.energy["latency_s"] > 0


def test_bad_inputs_raise_format_errors():
    cfg = _counting_net()
    with pytest.raises(FormatError, match="integer counts"):
        simulate(cfg, np.zeros((1, 4, 5)))
    with pytest.raises(FormatError, match="integer counts"):
        simulate(cfg, np.full((1, 3, 5), 0.5))
    with pytest.raises(FormatError, match="record"):
        simulate(cfg, np.zeros((1, 3, 5), int), record=("q/v",))


@pytest.mark.lava
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_netx_all_non_positive_defect_and_our_format():
    """netx's optimize_weight_bits loses -128 in an all-non-positive layer with -256; ours is
    exact in real Lava. netx crashes on an all-zero layer; ours maps it."""
    pytest.importorskip("lava.lib.dl.netx")
    from lava.lib.dl.netx.utils import optimize_weight_bits
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    w = np.array([[-256, -128, 0], [-2, -130, -64]])
    s = np.eye(3)                                            # one input per step
    nx_w, nx_bits, nx_exp, _ = optimize_weight_bits(w)
    ours = weight_format(w)
    src = RingBuffer(data=np.concatenate([s, np.zeros((3, 2))], axis=1))
    lifs, mons = [], []
    for mant, bits, exp in ((nx_w, nx_bits, nx_exp),
                            (ours.mantissa, ours.num_weight_bits, ours.weight_exp)):
        d = Dense(weights=mant, num_weight_bits=bits, weight_exp=exp)
        lif = LIF(shape=(2,), du=-1, dv=4096, vth=1 << 16)  # u accumulates a << 6, no decay
        src.s_out.connect(d.s_in)
        d.a_out.connect(lif.a_in)
        mons.append(Monitor())
        mons[-1].probe(lif.u, 5)
        lifs.append(lif)
    try:
        lifs[0].run(condition=RunSteps(num_steps=5), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        a = [np.diff(m.get_data()[lif.name]["u"][:4], axis=0, prepend=0)[1:] / 64
             for m, lif in zip(mons, lifs)]
    finally:
        lifs[0].stop()
    exact = w.T                                              # a at step t+1 = W[:, t]
    assert not np.array_equal(a[0], exact)                   # netx: precision lost
    assert np.array_equal(a[1], exact)                       # ours: exact
    with pytest.raises(Exception):
        optimize_weight_bits(np.zeros((2, 3)))
    zero = weight_format(np.zeros((2, 3), np.int64))
    assert zero.exact and not np.any(zero.effective)
