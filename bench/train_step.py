"""Time one training step (forward, loss, backward, Adam) of our blocks against the references.

Cases (each implementation runs in its own subprocess, so that imports and peak memory do not
mix; the median of ``--steps`` timed steps after ``--warmup`` untimed ones is taken in each of
``--repeats`` subprocesses per implementation, alternating ours and the reference, and the best
of those medians is reported for both: on the shared 2-core machine the same code ran up to
40 % slower in one process than in the next, for the whole life of the process):

- ``oxford_b1``, ``oxford_b8`` (and ``oxford_b32``, by default only with ``--device cuda``):
  Dense 200-256-200 CUBA, T = 2000 steps, SpikeTime loss, batch 1, 8 (32); ours (loihi
  precision) vs lava-dl's ``slayer.block.cuba.Dense`` blocks with ``slayer.loss.SpikeTime``
  (same neuron_params, no weight norm, no delays; on CUDA SLAYER's CUDA kernels, ours the
  Triton kernels of :mod:`snnpipe.models.kernels.cuba_triton`, or the torch-ops time loop of
  :mod:`snnpipe.models.kernels.cuba_torch` where triton is missing).
- ``synnet_t100``, ``synnet_t1000``: SynNet 16-[24, 24, 24]-8 (time constants per layer
  [2, 4, 8]), batch 8, MSE of the output spikes to a random target; ours vs Rockpool 3.1.0's
  ``SynNet`` with ``LIFTorch``.
- ``wavesense_t100``: WaveSense, dilations [2, 32], 16 input/residual/skip channels, 16 hidden
  neurons, kernel 2, 2 classes, T = 100, batch 4, MSE; ours vs Rockpool's ``WaveSenseNet``.

``ours`` uses the fused kernels (``SNNPIPE_KERNEL=auto``); ``--reference`` adds a column with
our reference Python time loop (``SNNPIPE_KERNEL=reference``). Our SpikeTime (order 1) is
the IIR of :func:`snnpipe.models.kernels.fir.exp_distance`. ``--threads N`` sets torch's, MKL's and
numba's threads in every run (default: the libraries' own; the fused kernels use
``$SNNPIPE_KERNEL_THREADS``).
Rockpool rows are skipped with a message when Rockpool cannot be imported. Peak RSS
(``ru_maxrss`` of the subprocess, MiB, imports included) is reported for every run, and for
the Oxford batch-8 pair also its growth during the timed steps; on CUDA also the peak GPU
memory (``torch.cuda.max_memory_allocated``). ``SNNPIPE_SPIKE_DENSE=off`` in the environment
turns our sparse spike projections off (dense matmuls), for comparisons.

Usage: ``python bench/train_step.py [--cases ...] [--steps 5] [--device cpu|cuda] [--json]``.
``--json`` ends the output with one line of speed-ups (reference time / our time) keyed by case.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

CASES = {  # name: (family, batch, steps T)
    "oxford_b1": ("oxford", 1, 2000),
    "oxford_b8": ("oxford", 8, 2000),
    "oxford_b32": ("oxford", 32, 2000),
    "synnet_t100": ("synnet", 8, 100),
    "synnet_t1000": ("synnet", 8, 1000),
    "wavesense_t100": ("wavesense", 4, 100),
}
REFERENCE = {"oxford": "slayer", "synnet": "rockpool", "wavesense": "rockpool"}
DEFAULT_CASES = {"cpu": ["oxford_b1", "oxford_b8", "synnet_t100", "synnet_t1000", "wavesense_t100"],
                 "cuda": ["oxford_b1", "oxford_b8", "oxford_b32", "synnet_t100", "synnet_t1000",
                          "wavesense_t100"]}


def _spikes(shape, rate, seed, device):
    import torch
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < rate).float().to(device)


def _ours(family, batch, steps, device):
    """(loss closure, parameters) of our implementation."""
    import torch.nn.functional as F
    from snnpipe.models.losses import SpikeTime
    from snnpipe.models.networks import SynNet, WaveSenseNet, oxford

    if family == "oxford":
        net, loss_fn = oxford(200, 256, 200), SpikeTime().to(device)
        x, target = (_spikes((batch, 200, steps), 0.05, seed, device) for seed in (1, 2))
    elif family == "synnet":
        net = SynNet(16, 8, size_hidden_layers=(24, 24, 24), time_constants_per_layer=(2, 4, 8))
        x = _spikes((batch, 16, steps), 0.1, 1, device)
        target = _spikes((batch, 8, steps), 0.1, 2, device)
        loss_fn = F.mse_loss
    else:
        net = WaveSenseNet(dilations=(2, 32), n_classes=2, n_channels_in=16, n_channels_res=16,
                           n_channels_skip=16, n_hidden=16, kernel_size=2)
        x = _spikes((batch, 16, steps), 0.1, 1, device)
        target = _spikes((batch, 2, steps), 0.1, 2, device)
        loss_fn = F.mse_loss
    net = net.to(device)
    return (lambda: loss_fn(net(x), target)), net.parameters()


def _slayer(batch, steps, device):
    """(loss closure, parameters) of the lava-dl SLAYER Oxford network."""
    import torch
    from lava.lib.dl import slayer

    params = dict(threshold=0.1, current_decay=1.0, voltage_decay=0.1, tau_grad=1.0,
                  scale_grad=1.0, requires_grad=True)
    net = torch.nn.Sequential(slayer.block.cuba.Dense(dict(params), 200, 256),
                              slayer.block.cuba.Dense(dict(params), 256, 200)).to(device)
    loss_fn = slayer.loss.SpikeTime().to(device)
    x, target = (_spikes((batch, 200, steps), 0.05, seed, device) for seed in (1, 2))
    return (lambda: loss_fn(net(x), target)), net.parameters()


def _rockpool(family, batch, steps, device):
    """(loss closure, parameters) of Rockpool's network with LIFTorch neurons."""
    import torch
    import torch.nn.functional as F
    warnings.filterwarnings("ignore")
    from rockpool.nn.modules import LIFTorch
    from rockpool.nn.networks import SynNet, WaveSenseNet

    if family == "synnet":
        net = SynNet(n_channels=16, n_classes=8, size_hidden_layers=[24, 24, 24],
                     time_constants_per_layer=[2, 4, 8], neuron_model=LIFTorch)
        n_in, n_out = 16, 8
    else:
        net = WaveSenseNet(dilations=[2, 32], n_classes=2, n_channels_in=16, n_channels_res=16,
                           n_channels_skip=16, n_hidden=16, kernel_size=2, neuron_model=LIFTorch)
        n_in, n_out = 16, 2
    net = net.to(device)
    x = _spikes((batch, steps, n_in), 0.1, 1, device)          # Rockpool: (batch, time, channels)
    target = _spikes((batch, steps, n_out), 0.1, 2, device)

    def loss():
        net.reset_state()
        out, _, _ = net(x)
        return F.mse_loss(out, target)
    return loss, torch.nn.Module.parameters(net)   # Rockpool overrides .parameters()


def worker(case: str, impl: str, steps: int, warmup: int, device: str) -> dict:
    """Run one (case, implementation) in this process; returns times (s) and peak RSS (MiB)."""
    import torch
    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    family, batch, n_t = CASES[case]
    if impl in ("ours", "ours_reference"):
        os.environ["SNNPIPE_KERNEL"] = "auto" if impl == "ours" else "reference"
        loss_fn, params = _ours(family, batch, n_t, device)
    elif impl == "slayer":
        loss_fn, params = _slayer(batch, n_t, device)
    else:
        loss_fn, params = _rockpool(family, batch, n_t, device)
    opt = torch.optim.Adam(params, lr=1e-3)
    rss_setup = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    for i in range(warmup + steps):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = torch.cuda.max_memory_allocated() / 2 ** 20 if device == "cuda" else None
    return dict(median=statistics.median(times), times=times, rss_mib=rss,
                rss_setup_mib=rss_setup, gpu_mib=gpu, loss=float(loss))


def _spawn(case, impl, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", case, impl, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--device", args.device]
    if impl != "ours":          # the slow references: fewer timed and warm-up steps
        cmd[cmd.index("--steps") + 1] = str(args.ref_steps)
        cmd[cmd.index("--warmup") + 1] = str(args.ref_warmup)
    env = dict(os.environ)
    if args.threads:
        env.update({k: str(args.threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                  "NUMBA_NUM_THREADS")})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return dict(error=(proc.stderr.strip().splitlines() or ["failed"])[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _best(case, ours_impl, ref_impl, args):
    """``--repeats`` runs of each implementation, alternating; for each, the run with the
    lowest median (with its own peak RSS), or the first error."""
    runs = {ours_impl: [], ref_impl: []}
    for _ in range(max(args.repeats, 1)):
        for impl in runs:
            runs[impl].append(_spawn(case, impl, args))
    best = []
    for impl, results in runs.items():
        errors = [r for r in results if "error" in r]
        if errors:
            best.append(errors[0])
            continue
        b = dict(min(results, key=lambda r: r["median"]))
        b["medians"] = [r["median"] for r in results]
        best.append(b)
    return best


def _rockpool_importable() -> str | None:
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c",
                           "import rockpool.nn.networks, rockpool.nn.modules"],
                          capture_output=True, text=True)
    return None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["?"])[-1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", nargs="+", choices=list(CASES),
                    help="default: all but oxford_b32 on the CPU, all on CUDA")
    ap.add_argument("--steps", type=int, default=20, help="timed steps of ours (median)")
    ap.add_argument("--ref-steps", type=int, default=3, help="timed steps of the references")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps of ours first")
    ap.add_argument("--ref-warmup", type=int, default=2, help="untimed steps of the references")
    ap.add_argument("--repeats", type=int, default=3,
                    help="subprocesses per implementation and case (the best median counts)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch, MKL and numba threads of every run (0: their defaults)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--reference", action="store_true",
                    help="also time our reference time loop (SNNPIPE_KERNEL=reference)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "IMPL"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker, args.steps, args.warmup, args.device)))
        return 0
    args.cases = args.cases or DEFAULT_CASES[args.device]
    no_rockpool = _rockpool_importable()
    speedups, rss, gpu = {}, None, []
    print(f"{'case':<15} {'ours ms':>9} {'ref impl':>9} {'ref ms':>10} {'speed-up':>9}"
          f" {'ours MiB':>9} {'ref MiB':>8}" + ("  our-ref-loop ms" if args.reference else ""),
          flush=True)
    for case in args.cases:
        family = CASES[case][0]
        ref = REFERENCE[family]
        if ref == "rockpool" and no_rockpool:
            print(f"{case:<15} skipped: Rockpool cannot be imported ({no_rockpool})", flush=True)
            continue
        ours, theirs = _best(case, "ours", ref, args)
        extra = _spawn(case, "ours_reference", args) if args.reference else None
        if "error" in ours or "error" in theirs:
            print(f"{case:<15} failed: {ours.get('error') or theirs.get('error')}", flush=True)
            continue
        speedups[case] = theirs["median"] / ours["median"]
        line = (f"{case:<15} {1e3 * ours['median']:9.1f} {ref:>9} {1e3 * theirs['median']:10.1f}"
                f" {speedups[case]:8.1f}x {ours['rss_mib']:9.0f} {theirs['rss_mib']:8.0f}")
        if extra is not None:
            line += f"  {1e3 * extra.get('median', float('nan')):14.1f}"
        print(line, flush=True)
        if ours.get("gpu_mib") is not None:
            gpu.append(f"peak GPU memory, {case}: ours {ours['gpu_mib']:.0f} MiB, "
                       f"{ref} {theirs['gpu_mib']:.0f} MiB")
        if case == "oxford_b8":
            rss = (f"peak RSS, Oxford batch 8: ours {ours['rss_mib']:.0f} MiB "
                   f"(+{ours['rss_mib'] - ours['rss_setup_mib']:.0f} during the steps), "
                   f"SLAYER {theirs['rss_mib']:.0f} MiB "
                   f"(+{theirs['rss_mib'] - theirs['rss_setup_mib']:.0f})")
    if rss:
        print(rss)
    for line in gpu:
        print(line)
    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in speedups.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
