"""Benchmark: our Xylo integer simulator against xylosim on a full-size network.

Network: 16 inputs, 1000 hidden neurons (15% recurrent density per synapse type), 8 outputs,
10,000 steps, inputs with 5% of (channel, step) pairs carrying 1..3 events; thresholds are
set for moderate activity (a few percent of hidden neurons spiking per step). Measures the
time of one sample on both, and the throughput (samples x steps / s) of a batch of 64: ours
runs the batch at once; xylosim runs samples one after another, so its batch throughput is
measured on ``--ref-samples`` samples. Both results are compared for equality where both ran.
Single-sample times are the faster of two runs; wall and CPU (process) time are both printed,
CPU time being the fairer measure on a shared machine. The benchmark network
exceeds Xylo's fan-out limit (64) on purpose: it is a stress test of the simulators only.

Usage: python bench/intsim_xylo.py [--steps 10000] [--batch 64] [--ref-samples 2] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from snnpipe.hwmap.intsim.xylo import simulate
from snnpipe.hwmap.intsim.xylo_ref import XyloReference
from snnpipe.hwmap.mappers.xylo_config import XyloConfig


def bench_config(rng: np.random.Generator, n_in=16, n_hid=1000, n_out=8, density=0.15) -> XyloConfig:
    """The benchmark network (exceeds Xylo's fan-out limit of 64 on purpose: a stress test)."""
    def sparse(shape, lo, hi, p):
        return rng.integers(lo, hi, shape) * (rng.random(shape) < p)

    return XyloConfig(weights_in=sparse((n_in, n_hid, 2), -30, 60, 0.3),
                      weights_rec=sparse((n_hid, n_hid, 2), -64, 56, density),
                      weights_out=sparse((n_hid, n_out), -60, 60, 0.3),
                      dash_mem=np.full(n_hid, 3), dash_syn=np.full(n_hid, 2),
                      dash_syn_2=np.full(n_hid, 4), dash_mem_out=np.full(n_out, 3),
                      dash_syn_out=np.full(n_out, 2), threshold=np.full(n_hid, 4000),
                      threshold_out=np.full(n_out, 300), weight_shift_in=2, weight_shift_rec=0,
                      weight_shift_out=1)


def bench_inputs(rng, batch, n_in, steps, density=0.05):
    """Integer counts (batch, n_in, steps): 1..3 events with probability ``density``."""
    shape = (batch, n_in, steps)
    return (rng.random(shape) < density) * rng.integers(1, 4, shape)


def _clock() -> np.ndarray:
    """(wall, CPU) seconds: CPU time is the fairer measure on a shared machine."""
    return np.array([time.perf_counter(), time.process_time()])


def xylosim_run(ref: XyloReference, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Output spikes (B, Nout, T) of xylosim and (wall, CPU) seconds spent in reset + evolve
    (with the input's conversion to lists; reading its recorded states, slow, is not timed)."""
    outs, total = [], np.zeros(2)
    for sample in x:
        t0 = _clock()
        ref.layer.reset_all()
        out = ref.layer.evolve(sample.T.tolist())
        total += _clock() - t0
        outs.append(np.array(out, np.int64).T)
    return np.stack(outs), total


def timed(fn):
    """``fn()`` and its (wall, CPU) seconds."""
    t0 = _clock()
    out = fn()
    return out, _clock() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--ref-samples", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    config = bench_config(rng)
    x = bench_inputs(rng, args.batch, config.shape[0], args.steps)
    ref = XyloReference(config)
    n_ref = max(1, min(args.ref_samples, args.batch))
    ref_out, t_ref = xylosim_run(ref, x[:n_ref])
    ref_hidden = np.array(ref.layer.rec_recurrent_spikes).T          # last sample, untimed
    one = x[n_ref - 1:n_ref]
    ours1, t_one = timed(lambda: simulate(config, one))
    # the machine is shared: repeat the single-sample pair once, keep the faster of each
    t_ref_one = np.minimum(t_ref / n_ref, xylosim_run(ref, x[:1])[1])
    t_one = np.minimum(t_one, timed(lambda: simulate(config, one))[1])
    ours, t_batch = timed(lambda: simulate(config, x, hidden=False))
    assert np.array_equal(ours1.spikes[0], ref_hidden), "hidden spikes differ from xylosim"
    assert np.array_equal(ours.spikes_out[:n_ref], ref_out), "outputs differ from xylosim"
    print(f"network 16-1000-8, recurrent density 15%, {args.steps} steps; hidden activity "
          f"{ours1.spikes.mean():.4f} spikes/neuron/step, {ours1.counts['syn_ops'] / args.steps:.0f} "
          f"synaptic ops/step; ordered-path states {ours.ordered_states}; outputs identical")
    for k, what in enumerate(("wall", "CPU")):
        thr_ref = args.steps / t_ref_one[k]
        thr_ours = args.batch * args.steps / t_batch[k]
        print(f"[{what}] one sample: xylosim {t_ref_one[k]:.3f} s, ours {t_one[k]:.3f} s, "
              f"speed-up {t_ref_one[k] / t_one[k]:.2f}x; batch {args.batch}: xylosim {thr_ref:,.0f} "
              f"sample-steps/s (sequential), ours {thr_ours:,.0f} ({t_batch[k]:.1f} s), "
              f"ratio {thr_ours / thr_ref:.1f}x")
    cost = ours1.cost
    print(f"estimate per sample: {cost['energy_J'] * 1e6:.1f} uJ, {cost['power_W'] * 1e6:.0f} uW, "
          f"latency {cost['latency_s_per_step'] * 1e6:.1f} us/step")


if __name__ == "__main__":
    main()
