"""Every NIR 1.0 node imports (pipeline/formats/nir_*.py), and ``exact`` NIR equals NIR's ODEs
stepped with zero-order hold, projections acting within the step (a reference written here in
numpy). Broken files: test_nir_errors.py."""
import nir
import numpy as np
import pytest
import torch

import snnpipe
from snnpipe.pipeline.formats.nir import import_nir

DT = 1e-3
T = 30


def rng(seed=0):
    return np.random.default_rng(seed)


def spikes(seed, shape, p=0.4):
    return (rng(seed).random(tuple(shape) + (T,)) < p).astype(np.int64)


def run(g, info, x, node, field="spikes"):
    """Our float emission of ``node`` aligned to the framework's step (offset removed)."""
    k = info.offsets.get(node, 0)
    x = np.concatenate([x, np.zeros(x.shape[:-1] + (k,), np.int64)], -1)
    x = x.reshape((x.shape[0],) + g.nodes[g.graph["inputs"][0]]["shape"] + (x.shape[-1],))
    return snnpipe.simulate(g, x, "torch-float", record=True).pops[node][field][..., k:k + T]


def reference_cuba(x, w, b, tau_syn, tau_mem, r, v_leak, w_in, th):
    """NIR CubaLIF (exact, ZOH) driven by Affine(w, b) of x (B, C, T), within the step."""
    es, em = np.exp(-DT / tau_syn), np.exp(-DT / tau_mem)
    i = v = np.zeros((x.shape[0], w.shape[0]))
    out = []
    for t in range(x.shape[-1]):
        i = es * i + (1 - es) * w_in * (x[..., t] @ w.T + b)
        v = em * v + (1 - em) * (v_leak + r * i)
        s = v > th
        v = np.where(s, 0.0, v)
        out.append(s)
    return np.stack(out, -1).astype(np.int64)


def test_exact_nir_is_the_zero_order_hold_of_its_odes_with_biases_and_leaks():
    w, b = rng(1).normal(size=(6, 4)) * 2, rng(2).normal(size=6) * 0.5
    p = dict(tau_syn=np.full(6, 5e-3), tau_mem=np.linspace(8e-3, 20e-3, 6), r=np.full(6, 3.0),
             v_leak=np.full(6, 0.2), w_in=np.full(6, 2.0), v_threshold=np.full(6, 0.4))
    ng = nir.NIRGraph.from_list(nir.Input(input_type=np.array([4])), nir.Affine(w, b),
                                nir.CubaLIF(**p), nir.Output(output_type=np.array([6])))
    g, info = import_nir(ng, dt=DT)
    assert (info.producer, info.offsets, info.bias) == ("exact", {"cubalif": 1}, "bias")
    x = spikes(3, (2, 4))
    want = reference_cuba(x, w, b, p["tau_syn"], p["tau_mem"], p["r"], p["v_leak"], p["w_in"],
                          p["v_threshold"])
    assert want.sum() > 10 and np.array_equal(run(g, info, x, "cubalif"), want)


def test_threshold_fires_within_the_step_where_its_input_exceeds_it():
    w = rng(4).normal(size=(5, 3))
    ng = nir.NIRGraph.from_list(nir.Input(input_type=np.array([3])), nir.Linear(w),
                                nir.Threshold(threshold=np.full(5, 0.3)),
                                nir.Output(output_type=np.array([5])))
    g, info = import_nir(ng, dt=DT)
    x = spikes(5, (2, 3))
    want = (np.einsum("oc,bct->bot", w, x) > 0.3).astype(np.int64)
    assert np.array_equal(run(g, info, x, "threshold"), want)


def test_if_and_i_integrate_dt_r_times_their_input():
    w = rng(6).normal(size=(4, 3))
    ng = nir.NIRGraph.from_list(nir.Input(input_type=np.array([3])), nir.Linear(w),
                                nir.IF(r=np.full(4, 200.0), v_threshold=np.full(4, 0.5)),
                                nir.Linear(np.eye(4)), nir.I(r=np.full(4, 100.0)),
                                nir.Output(output_type=np.array([4])))
    g, info = import_nir(ng, dt=DT)
    assert float(g.nodes["if"]["voltage_decay"]) == 0 and g.nodes["i"]["model"] == "li"
    x = spikes(7, (1, 3))
    v, s, want_v = np.zeros(4), [], np.zeros(4)
    for t in range(T):
        v = v + DT * 200 * (w @ x[0, :, t])
        s.append(v > 0.5)
        v = np.where(s[-1], 0, v)
        want_v = want_v + DT * 100 * s[-1]
    assert np.array_equal(run(g, info, x, "if")[0], np.stack(s, -1))
    assert np.allclose(run(g, info, x, "i", "v")[0, :, -1], want_v)


def conv_net(*projections, shape=(2, 8, 8)):
    """Input -> projections -> LIF, with the LIF's shape taken from the chain."""
    out = tuple(nir_out(projections, shape))
    lif = nir.LIF(tau=np.full(out, 0.01), r=np.full(out, 1.0), v_leak=np.zeros(out),
                  v_threshold=np.full(out, 0.05))
    return nir.NIRGraph.from_list(nir.Input(input_type=np.array(shape)), *projections, lif,
                                  nir.Output(output_type=np.array(out)), type_check=False)


def nir_out(projections, shape):
    from snnpipe.pipeline.formats.nir_chain import run as chain_run

    x = torch.zeros((1,) + shape, dtype=torch.float64)
    return chain_run([(str(i), p) for i, p in enumerate(projections)], x).shape[1:]


POOL = dict(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))


def conv(seed, shape, stride=1, padding=1, dilation=1, groups=1, cls=nir.Conv2d):
    return cls(None, rng(seed).normal(size=shape), stride, padding, dilation, groups,
               np.zeros(shape[0]))


@pytest.mark.parametrize("projections, shape, op", [
    ([conv(8, (4, 1, 3, 3), 2, 1, 1, 2)], (2, 8, 8), "conv"),
    ([nir.SumPool2d(**POOL)], (2, 8, 8), "conv"),
    ([nir.AvgPool2d(**POOL)], (2, 8, 8), "conv"),
    ([nir.SumPool2d(**POOL), conv(9, (4, 2, 3, 3), dilation=2, padding=2)], (2, 8, 8), "conv"),
    ([conv(10, (4, 2, 3, 3), padding=0), nir.SumPool2d(**POOL)], (2, 8, 8), "dense"),
    ([conv(11, (3, 2, 5), 2, 1, 1, 1, nir.Conv1d)], (2, 16), "dense"),
    ([nir.Scale(np.array([0.5, 2.0])[:, None, None] * np.ones((2, 8, 8)))], (2, 8, 8),
     "identity"),
    ([nir.Flatten(start_dim=0, end_dim=-1, input_type=None), nir.Linear(rng(12).normal(
        size=(5, 128)))], (2, 8, 8), "dense"),
])
def test_projection_chains_become_one_edge_that_computes_the_chain(projections, shape, op):
    from snnpipe.pipeline.formats.nir_chain import run as chain_run

    g, info = import_nir(conv_net(*projections, shape=shape), dt=DT)
    (e,) = [d for u, v, d in g.edges(data=True) if u == "input"]
    assert e["op"] == op
    n = int(np.prod(shape))
    x = spikes(12, (2, n), 0.3)
    xt = torch.as_tensor(x, dtype=torch.float64).permute(0, 2, 1).reshape((-1,) + shape)
    proj = [(str(i), p) for i, p in enumerate(projections)]
    drive = chain_run(proj, xt).reshape(2, T, -1).permute(0, 2, 1).numpy()
    v, vs, e1 = np.zeros(drive.shape[:2]), [], np.exp(-0.1)
    for t in range(T):
        v = e1 * v + (1 - e1) * drive[..., t]
        v = np.where(v > 0.05, 0.0, v)
        vs.append(v.copy())                     # our runs record v after the reset
    assert np.allclose(run(g, info, x, "lif", "v"), np.stack(vs, -1), atol=1e-12)
