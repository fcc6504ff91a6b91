"""Benchmark: the Loihi-style integer simulator against Lava fixed point on the Oxford network.

Network: Dense 200 -> 256 (CUBA) -> 200 (CUBA), random weights for moderate activity, 2000
steps, Bernoulli input at ~5 % per channel per step. Measures
0. the first call of ``simulate`` on a short input (numba import, and the compilation of
   :mod:`snnpipe.hwmap.intsim.loihi_kernel` or its load from numba's cache), reported apart;
1. one sample: Lava (build, compile, run, read the output spikes back from a RingBuffer sink)
   against ``snnpipe.hwmap.intsim.loihi.simulate`` (warm, median of 3; the numpy path too), and checks
   that the output spikes are equal;
2. intsim throughput at batch 64 (samples per second).

Usage: ``python bench/intsim_loihi.py [--steps 2000] [--batch 64] [--seed 0] [--no-lava]``
"""
from __future__ import annotations

import argparse
import os
import time

# one BLAS thread: on a shared 2-core machine threaded BLAS contends with the other jobs
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import snnpipe.hwmap.intsim.loihi as intsim  # noqa: E402
from snnpipe.hwmap.intsim.loihi import simulate  # noqa: E402
from snnpipe.hwmap.mappers.loihi_map import map_graph, report_text, resource_report  # noqa: E402
from snnpipe.pipeline.ir import graph as G  # noqa: E402


def oxford_graph(seed: int = 0):
    """The float Graph of the benchmark network (weights chosen for moderate activity)."""
    rng = np.random.default_rng(seed)
    g = G.new_graph("oxford-bench")
    G.add_input(g, "in", (200,))
    G.add_neuron(g, "hidden", (256,), current_decay=0.25, voltage_decay=0.1, threshold=1.25)
    G.add_neuron(g, "out", (200,), current_decay=0.25, voltage_decay=0.1, threshold=1.25)
    G.add_dense(g, "in", "hidden", rng.normal(-0.02, 0.3, (256, 200)))
    G.add_dense(g, "hidden", "out", rng.normal(-0.02, 0.15, (200, 256)))
    G.set_outputs(g, ["out"])
    return g


def run_lava(cfg, x: np.ndarray) -> np.ndarray:
    """Lava fixed point on one sample x (200, T); returns the output spikes (200, T)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    steps = x.shape[1]
    prev = Source(data=x.astype(float)).s_out
    lifs = {}
    for q in cfg.projections:
        p = cfg.population(q.dst)
        dense = Dense(weights=q.weight, num_weight_bits=q.num_weight_bits,
                      weight_exp=q.weight_exp, num_message_bits=q.message_bits)
        lif = LIF(shape=(p.size,), du=int(p.i_decay[0, 0]) - 1, dv=int(p.v_decay[0]),
                  vth=int(p.vth[0]), bias_mant=p.bias_mant, bias_exp=p.bias_exp)
        prev.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        prev, lifs[p.name] = lif.s_out, lif
    sink = Sink(shape=(cfg.populations[-1].size,), buffer=steps)
    prev.connect(sink.a_in)
    try:
        sink.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return np.asarray(sink.data.get())
    finally:
        sink.stop()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.05)
    ap.add_argument("--no-lava", action="store_true")
    a = ap.parse_args(argv)
    cfg = map_graph(oxford_graph(a.seed))
    print(report_text(resource_report(cfg)))
    rng = np.random.default_rng(a.seed + 1)
    x = (rng.random((a.batch, 200, a.steps)) < a.rate).astype(np.int64)
    out = {}
    path = "numba" if intsim._kernel(cfg) is not None else "numpy"
    t0 = time.perf_counter()
    simulate(cfg, x[:1, :, :10])                        # warm-up: import, compile or cache load
    out["first_call_s"] = time.perf_counter() - t0
    note = ""
    if path == "numba":
        from snnpipe.hwmap.intsim import loihi_kernel
        hits = sum(loihi_kernel.run.stats.cache_hits.values())
        note = " (loaded from numba's cache)" if hits else " (compiled)"
    print(f"intsim path: {path}; first call (10 steps){note}: {out['first_call_s']:.2f} s")

    def median_single():
        times = []
        for _ in range(3):  # median of three: the machine is shared
            t0 = time.perf_counter()
            res = simulate(cfg, x[:1])
            times.append(time.perf_counter() - t0)
        return float(np.median(times)), res

    out["intsim_1_s"], one = median_single()
    rates = {k: float(v.mean()) for k, v in one.spikes.items()}
    print(f"load average {os.getloadavg()[0]:.1f}; intsim, 1 sample x {a.steps} steps: "
          f"{out['intsim_1_s']:.4f} s (median of 3); spike rates {rates}")
    if path == "numba":
        kernel, intsim.KERNEL = intsim.KERNEL, "numpy"
        try:
            out["intsim_numpy_1_s"], ref = median_single()
        finally:
            intsim.KERNEL = kernel
        same = all(np.array_equal(ref.spikes[k], one.spikes[k]) for k in one.spikes)
        print(f"intsim numpy path, 1 sample: {out['intsim_numpy_1_s']:.3f} s (median of 3); "
              f"spikes equal to the numba path: {same}")
    t0 = time.perf_counter()
    res = simulate(cfg, x)
    out["intsim_batch_s"] = time.perf_counter() - t0
    out["throughput_samples_per_s"] = a.batch / out["intsim_batch_s"]
    print(f"intsim, batch {a.batch}: {out['intsim_batch_s']:.3f} s = "
          f"{out['throughput_samples_per_s']:.1f} samples/s "
          f"({out['throughput_samples_per_s'] * a.steps:.0f} sample-steps/s); "
          f"energy ~{res.energy['mean_energy_j'] * 1e6:.2f} uJ, "
          f"latency ~{res.energy['latency_s'] * 1e3:.2f} ms per inference (estimates)")
    if not a.no_lava:
        t0 = time.perf_counter()
        ref = run_lava(cfg, x[0])
        out["lava_1_s"] = time.perf_counter() - t0
        out["equal"] = bool(np.array_equal(ref.astype(np.int64), one.spikes["out"][0]))
        out["speedup"] = out["lava_1_s"] / out["intsim_1_s"]
        print(f"lava fixed_pt, 1 sample (build+run+read): {out['lava_1_s']:.2f} s; "
              f"speed-up {out['speedup']:.0f}x; output spikes equal: {out['equal']}")
    return out


if __name__ == "__main__":
    main()
