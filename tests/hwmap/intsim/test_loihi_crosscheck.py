"""The integer simulator against real Lava fixed-point processes (no mocks).

Random integer networks are built as LoihiConfigs, then twice: once run by
``snnpipe.hwmap.intsim.loihi.simulate`` and once as lava-nc processes (RingBuffer -> Dense / DelayDense /
Conv -> LIF) with the same integers under ``Loihi2SimCfg(select_tag="fixed_pt")``. Spikes, u and
v must agree at every step for every neuron. Several independent networks share one Lava run
(glued by all-zero Dense projections, which add nothing). ``SNNPIPE_CROSSCHECK=full`` runs >= 50
networks per kind.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from snnpipe.hwmap.intsim.loihi import simulate
from snnpipe.hwmap.targets.loihi import VTH_MAX
from snnpipe.hwmap.mappers.loihi_config import LoihiConfig, Population, Projection
from snnpipe.hwmap.mappers.loihi_map import place

lava = pytest.importorskip("lava.proc.lif.process")
pytestmark = pytest.mark.lava

FULL = os.environ.get("SNNPIPE_CROSSCHECK") == "full"
KINDS = ("dense", "recurrent", "delay", "conv", "extreme", "graph")


# ----------------------------------------------------------------------------- Lava side
def _lava_shape(shape):
    return tuple(shape[::-1]) if len(shape) == 3 else tuple(shape)


def _to_lava(a, shape):
    """Flat C-order (N, ...) of (C, H, W) -> Lava (W, H, C, ...)."""
    if len(shape) != 3:
        return a
    return a.reshape(tuple(shape) + a.shape[1:]).transpose((2, 1, 0) + tuple(range(3, a.ndim + 2)))


def _from_lava(a, shape):
    """Monitor data (T, *lava_shape) -> (N, T) in our flat order."""
    a = np.asarray(a)
    if len(shape) == 3:
        a = a.transpose(0, 3, 2, 1)
    return a.reshape(a.shape[0], -1).T


def _out_port(proc, shape, dst_is_flat):
    port = proc.s_out
    if len(shape) == 3 and dst_is_flat:
        port = port.transpose([2, 1, 0]).flatten()
    return port


def run_lava(cfg: LoihiConfig, x: dict, steps: int) -> dict:
    """Run ``cfg`` in Lava fixed point on one sample ``x``: name -> (N_in, T).

    Returns {pop: {"s", "u", "v"}: (N, T)}.
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.conv.process import Conv
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    procs = {}
    for name, shape in cfg.inputs.items():
        procs[name] = RingBuffer(data=_to_lava(np.asarray(x[name], float), shape))
    for p in cfg.populations:
        assert p.n_syn == 1 and np.ptp(p.i_decay) == 0 and np.ptp(p.v_decay) == 0
        vth = VTH_MAX if p.model == "li" else int(p.vth[0])
        procs[p.name] = LIF(shape=_lava_shape(p.shape), du=int(p.i_decay[0, 0]) - 1,
                            dv=int(p.v_decay[0]), vth=vth,
                            bias_mant=_to_lava(p.bias_mant, p.shape),
                            bias_exp=_to_lava(p.bias_exp, p.shape))
    for q in cfg.projections:
        src_shape = cfg.node_shape(q.src)
        if q.op == "conv":
            w = np.asarray(q.weight)[:, :, ::-1, ::-1].transpose(0, 3, 2, 1)
            conn = Conv(weight=w, input_shape=_lava_shape(src_shape),
                        stride=q.conv["stride"][::-1], padding=q.conv["padding"][::-1],
                        dilation=q.conv["dilation"][::-1], groups=q.conv["groups"],
                        num_message_bits=q.message_bits)
            procs[q.src].s_out.connect(conn.s_in)
        else:
            w = q.weight if q.op == "dense" else np.diag(q.weight)
            kw = dict(weights=w, num_weight_bits=q.num_weight_bits, weight_exp=q.weight_exp,
                      num_message_bits=q.message_bits)
            conn = (DelayDense(delays=np.broadcast_to(q.delay, w.shape).astype(int).copy(), **kw)
                    if q.max_delay > 0 else Dense(**kw))
            _out_port(procs[q.src], src_shape, True).connect(conn.s_in)
        conn.a_out.connect(procs[q.dst].a_in)
    first = next(iter(cfg.inputs))
    for pop in _one_per_component(cfg, first):  # glue: all-zero Dense, so one run has them all
        glue = Dense(weights=np.zeros((cfg.population(pop).size, cfg.node_size(first)), int))
        _out_port(procs[first], cfg.inputs[first], True).connect(glue.s_in)
        glue.a_out.connect(procs[pop].a_in)
    mons = {}  # a Monitor model has a single probe port
    for p in cfg.populations:
        for var, target in (("u", procs[p.name].u), ("v", procs[p.name].v),
                            ("s", procs[p.name].s_out)):
            mons[p.name, var] = Monitor()
            mons[p.name, var].probe(target, steps)
    anchor = procs[cfg.populations[0].name]
    try:
        anchor.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = {}
        for (pop, var), m in mons.items():
            data = m.get_data()[procs[pop].name]["s_out" if var == "s" else var]
            out.setdefault(pop, {})[var] = _from_lava(data, cfg.population(pop).shape)
        return out
    finally:
        anchor.stop()


def _one_per_component(cfg: LoihiConfig, first: str) -> list:
    """A 1-D population of every connected network not fed by input ``first``."""
    import networkx as nx

    h = nx.Graph()
    h.add_nodes_from(list(cfg.inputs) + [p.name for p in cfg.populations])
    h.add_edges_from((q.src, q.dst) for q in cfg.projections)
    out = []
    for comp in nx.connected_components(h):
        if first not in comp:
            out.append(next(p.name for p in cfg.populations
                            if p.name in comp and len(p.shape) == 1))
    return out


# ----------------------------------------------------------------------------- networks
def _pop(rng, name, shape, extreme=False, li=False) -> Population:
    n = int(np.prod(shape))
    i_dec = int(rng.choice([0, 1, 4096, rng.integers(0, 4097)])) if extreme else int(rng.integers(0, 1500))
    v_dec = int(rng.choice([0, 4096, rng.integers(0, 4097)])) if extreme else int(rng.integers(0, 1500))
    vth = int(rng.choice([0, 1, VTH_MAX, rng.integers(0, 400)])) if extreme else int(rng.integers(20, 300))
    bm = rng.integers(-4096 if extreme else -40, 4096 if extreme else 60, n)
    be = rng.integers(0, 8 if extreme else 3, n)
    return Population(name, tuple(shape), "li" if li else "cuba",
                      np.full((1, n), i_dec, np.int64), np.full(n, v_dec, np.int64),
                      np.full(n, 0 if li else vth, np.int64), bm, be)


def _weights(rng, shape, extreme=False):
    mode = rng.integers(0, 4)
    w = rng.integers(-256, 256, shape)
    if mode == 1:
        w = -np.abs(w)          # all inhibitory (netx's defect zone), includes -256
    elif mode == 2:
        w = np.abs(w) // 2      # excitatory
    elif mode == 3 and extreme:
        w = np.full(shape, int(rng.choice([-256, 255, 0])))
    return w.astype(np.int64)


def _dense(rng, src, dst, n_src, n_dst, extreme=False, delay=False, mbits=0, syn_bits=None):
    w = _weights(rng, (n_dst, n_src), extreme) * (rng.random((n_dst, n_src)) < 0.7)
    dl = rng.integers(0, 6, (n_dst, n_src)) if delay else np.zeros((), np.int64)
    return Projection(src, dst, "dense", w, int(syn_bits or rng.integers(1, 9)),
                      int(rng.integers(-2, 8) if extreme else rng.integers(-3, 3)), 0, dl, mbits)


def graph_network(rng, tag: str) -> LoihiConfig:
    """A random float Graph through the whole target path (rules, quantiser, weight formats):
    one layer all non-positive down to -4.0 (netx's defect), biases, a delayed recurrence."""
    from snnpipe.hwmap.mappers.loihi_map import map_graph
    from snnpipe.pipeline.ir import graph as G

    n_in, n_h, n_o = (int(v) for v in rng.integers(3, 12, 3))
    g = G.new_graph(tag)
    G.add_input(g, f"{tag}in", (n_in,))
    G.add_neuron(g, f"{tag}h", (n_h,), current_decay=rng.uniform(0, 0.5),
                 voltage_decay=rng.uniform(0, 0.5), threshold=rng.uniform(0.5, 3),
                 bias=rng.uniform(-0.1, 0.3, n_h))
    G.add_neuron(g, f"{tag}o", (n_o,), current_decay=1.0, voltage_decay=rng.uniform(0, 0.3),
                 threshold=rng.uniform(0.5, 3), bias=rng.uniform(0.2, 1.0, n_o))
    G.add_dense(g, f"{tag}in", f"{tag}h", rng.normal(0.3, 1.5, (n_h, n_in)))
    w = -np.abs(rng.normal(0, 0.15, (n_o, n_h))) * (rng.random((n_o, n_h)) < 0.8)
    w[0, 0] = -4.0
    G.add_dense(g, f"{tag}h", f"{tag}o", w)
    G.add_dense(g, f"{tag}o", f"{tag}o", rng.normal(0.5, 1, (n_o, n_o)), recurrent=True,
                delay=int(rng.integers(0, 4)))
    G.set_outputs(g, [f"{tag}o"])
    return map_graph(g, input_message_bits=int(rng.choice([0, 8])))


def random_network(rng, kind: str, tag: str) -> LoihiConfig:
    """One small random integer network of ``kind`` (names prefixed by ``tag``)."""
    if kind == "graph":
        return graph_network(rng, tag)
    ext = kind == "extreme"
    i, h, o = f"{tag}in", f"{tag}h", f"{tag}o"
    n_in, n_h, n_o = (int(v) for v in rng.integers(3, 12, 3))
    if kind == "conv":
        c_in, c_h = int(rng.integers(1, 3)), 2 * int(rng.integers(1, 3))
        groups = int(rng.choice([1, 2])) if c_in % 2 == 0 else 1
        conv = {"stride": [int(rng.integers(1, 3))] * 2, "padding": [int(rng.integers(0, 2))] * 2,
                "dilation": [1, int(rng.integers(1, 3))], "groups": groups}
        k = rng.integers(-256, 255, (c_h, c_in // groups, 3, 2)) // 2 * 2
        sh = (c_in, 6, 7)
        ho = (6 + 2 * conv["padding"][0] - 3) // conv["stride"][0] + 1
        wo = (7 + 2 * conv["padding"][1] - conv["dilation"][1] - 1) // conv["stride"][1] + 1
        hp = _pop(rng, h, (c_h, ho, wo))
        hp.vth[:] = rng.integers(50, 400)
        projs = [Projection(i, h, "conv", k, 8, 0, 0, np.zeros((), np.int64), 0, conv),
                 _dense(rng, h, o, hp.size, n_o)]
        return LoihiConfig(tag, 1e-3, {i: sh}, [hp, _pop(rng, o, (n_o,), li=True)], projs, [o])
    pops = [_pop(rng, h, (n_h,), ext), _pop(rng, o, (n_o,), ext, li=(kind == "dense"))]
    projs = [_dense(rng, i, h, n_in, n_h, ext, kind == "delay", mbits=int(rng.choice([0, 8]))),
             _dense(rng, h, o, n_h, n_o, ext, kind == "delay")]
    if kind in ("recurrent", "extreme"):
        projs.append(_dense(rng, h, h, n_h, n_h, ext, delay=kind == "recurrent"))
        projs.append(_dense(rng, o, h, n_o, n_h, ext))
    if kind == "recurrent":
        projs.append(Projection(h, o, "identity", rng.integers(-256, 256, n_o) // 2 * 2, 8, 0, 0,
                                np.zeros((), np.int64), 0) if n_h == n_o else
                     _dense(rng, o, o, n_o, n_o))
    return LoihiConfig(tag, 1e-3, {i: (n_in,)}, pops, projs, [o])


def merged(cfgs: list) -> LoihiConfig:
    """The disjoint union of several configs (one Lava run, one intsim run)."""
    return LoihiConfig("merged", 1e-3, {k: v for c in cfgs for k, v in c.inputs.items()},
                       [p for c in cfgs for p in c.populations],
                       [q for c in cfgs for q in c.projections], [o for c in cfgs for o in c.outputs])


def _inputs(rng, cfg, steps, graded):
    x = {}
    for name, shape in cfg.inputs.items():
        n = int(np.prod(shape))
        rate = rng.uniform(0.05, 0.6)
        x[name] = ((rng.random((n, steps)) < rate) * (rng.integers(1, 4, (n, steps)) if graded else 1))
    return x


def check_equal(cfg: LoihiConfig, x: dict, steps: int) -> None:
    """intsim and Lava agree on s, u, v of every population, every step."""
    ref = run_lava(cfg, x, steps)
    sim = simulate(place(cfg), {k: v[None] for k, v in x.items()}, record=("u", "v"))
    for p in cfg.populations:
        got = {"s": sim.spikes[p.name][0], "u": sim.states[f"{p.name}/u"][0, 0],
               "v": sim.states[f"{p.name}/v"][0]}
        stop = steps
        if p.model == "li":  # Lava stand-in: a LIF with the largest threshold, exact until then
            fired = np.flatnonzero(ref[p.name]["s"].any(axis=0))
            if fired.size:
                stop = int(fired[0])
                assert np.all(got["v"][ref[p.name]["s"][:, stop] != 0, stop] > VTH_MAX << 6)
        for var in ("s", "u", "v"):
            a = got[var][:, :stop].astype(np.int64)
            b = ref[p.name][var][:, :stop].astype(np.int64)
            if not np.array_equal(a, b):
                n, t = np.argwhere(a != b)[0]
                raise AssertionError(f"{p.name}/{var} differs first at neuron {n}, step {t + 1}: "
                                     f"intsim {a[n, t]}, lava {b[n, t]}")


@pytest.mark.parametrize("kind", KINDS)
def test_intsim_equals_lava(kind):
    rng = np.random.default_rng(KINDS.index(kind) + 100)
    nets = [random_network(rng, kind, f"n{j}_") for j in range(3)]
    cfg = merged(nets)
    check_equal(cfg, _inputs(rng, cfg, 40, graded=kind != "conv"), 40)


@pytest.mark.crosscheck
@pytest.mark.skipif(not FULL, reason="full randomised cross-check: runs under `make crosscheck` (SNNPIPE_CROSSCHECK=full); the suite runs a subset")
@pytest.mark.parametrize("kind", KINDS)
def test_intsim_equals_lava_full(kind):
    rng = np.random.default_rng(1000 + KINDS.index(kind))
    for batch in range(10):
        nets = [random_network(rng, kind, f"b{batch}n{j}_") for j in range(5)]
        cfg = merged(nets)
        check_equal(cfg, _inputs(rng, cfg, 60, graded=kind != "conv"), 60)
