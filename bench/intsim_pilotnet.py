"""Benchmark: lava-dl's own PilotNet SNN and SDNN files on the Loihi-style integer simulator
against lava-dl's netx on Lava fixed point (the implementation that defines the files), in one
run.

Networks: ``gts/pilotnet_lif/network.net`` from lava-dl 0.6.0's netx tests (LOIHI neurons,
input 3x66x200 with a neuron, 5 conv layers, flatten, 3 dense, one output: 158,509 neurons) and
``gts/pilotnet_sdnn/network.net`` (sigma-delta: a Delta input over 3x33x100, 4 conv layers,
flatten, 3 dense, a Sigma output), read with ``snnpipe.load``. Input: Bernoulli spikes at
``--rate`` per channel per step (SNN); graded values in {-1, 0, 1}, each held for a few steps
(SDNN). Measures, per network,

1. the Loihi compile (mapping onto cores), reported apart;
2. one sample: netx (build, compile, run, read every layer back) against
   ``snnpipe.simulate(..., "intsim-loihi")`` (median of 3), and checks that the output layer's
   spikes are equal (``--all-states``: every layer's spikes, u and v);
3. intsim throughput at ``--batch`` (samples per second, sample-steps per second).

Usage: ``python bench/intsim_pilotnet.py [--network snn|sdnn] [--steps 16] [--batch 64]
[--rate 0.05] [--seed 0]``
(part of ``python bench/intsim.py``; needs lava-dl with its test files).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import snnpipe  # noqa: E402


FILES = {"snn": "pilotnet_lif", "sdnn": "pilotnet_sdnn"}


def pilotnet_file(network: str = "snn") -> Path:
    """lava-dl's PilotNet SNN or SDNN file (installed with lava-dl, beside ``lava``)."""
    spec = importlib.util.find_spec("lava.lib.dl.netx")
    if spec is None or spec.origin is None:
        raise SystemExit("lava-dl is not installed: this benchmark runs its own PilotNet file")
    path = (Path(spec.origin).parents[4] / "tests" / "lava" / "lib" / "dl" / "netx" / "gts"
            / FILES[network] / "network.net")
    if not path.is_file():
        raise SystemExit(f"lava-dl's netx test files are not installed ({path} is missing)")
    return path


def _timed(fn, repeat: int = 1):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rate", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--all-states", action="store_true")
    ap.add_argument("--network", choices=tuple(FILES))
    a = ap.parse_args(argv)
    return {net: one(net, a) for net in ([a.network] if a.network else FILES)}


def _input(g, network: str, a) -> np.ndarray:
    size = int(np.prod(g.nodes[g.graph["inputs"][0]]["shape"]))
    rng = np.random.default_rng(a.seed)
    if network == "snn":
        return (rng.random((a.batch, size, a.steps)) < a.rate).astype(np.int64)
    x = rng.integers(-1, 2, (a.batch, size, a.steps))
    hold = rng.random(x.shape) < 0.6
    for t in range(1, a.steps):
        x[..., t] = np.where(hold[..., t], x[..., t - 1], x[..., t])
    return x


def one(network: str, a) -> dict:
    """The figures of one network (``snn`` or ``sdnn``)."""
    g = snnpipe.load(pilotnet_file(network))
    n = sum(int(np.prod(d["shape"])) for _, d in g.nodes(data=True) if d["kind"] == "neuron")
    out: dict = {"neurons": n}
    out["compile_s"], chip = _timed(lambda: snnpipe.compile(g, "loihi"))
    print(f"PilotNet {network.upper()}: {n} neurons; loihi compile {out['compile_s']:.1f} s "
          f"({len(chip.artifact.cores) if hasattr(chip.artifact, 'cores') else '?'} cores)")
    x = _input(g, network, a)
    rec = a.all_states
    snnpipe.simulate(chip, x[:1, :, :2], "intsim-loihi")                     # warm-up
    out["intsim_1_s"], ours = _timed(lambda: snnpipe.simulate(chip, x[:1], "intsim-loihi",
                                                              record=rec), repeat=3)
    out["netx_1_s"], ref = _timed(lambda: snnpipe.simulate(g, x[:1], "netx", record=rec))
    if rec:
        out["equal"] = all(np.array_equal(arr, ours.pops[node][var])
                           for node, d in ref.pops.items() for var, arr in d.items())
    else:
        out["equal"] = bool(np.array_equal(ref.output, ours.output))
    out["speedup"] = out["netx_1_s"] / out["intsim_1_s"]
    what = "every layer's spikes, u and v" if rec else "output spikes"
    print(f"load average {os.getloadavg()[0]:.1f}; 1 sample x {a.steps} steps: netx "
          f"{out['netx_1_s']:.2f} s (build + run + read), intsim {out['intsim_1_s']:.3f} s "
          f"(median of 3): speed-up {out['speedup']:.0f}x; {what} equal: {out['equal']}")
    out["intsim_batch_s"], _ = _timed(lambda: snnpipe.simulate(chip, x, "intsim-loihi"))
    out["throughput_samples_per_s"] = a.batch / out["intsim_batch_s"]
    print(f"intsim, batch {a.batch}: {out['intsim_batch_s']:.2f} s = "
          f"{out['throughput_samples_per_s']:.1f} samples/s "
          f"({out['throughput_samples_per_s'] * a.steps:.0f} sample-steps/s); netx runs one "
          f"sample at a time: {1 / out['netx_1_s']:.2f} samples/s, "
          f"ratio {out['throughput_samples_per_s'] * out['netx_1_s']:.0f}x")
    return out


if __name__ == "__main__":
    main()
