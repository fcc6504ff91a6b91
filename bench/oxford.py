"""Benchmark: the Oxford regression trained on lava-dl's own data, ours against SLAYER itself.

The lava-dl SLAYER Oxford tutorial, twice on the same data and the same hyper-parameters:
the recipe's pair (:func:`snnpipe.models.recipes.oxford.load`: ``input.bs1`` -> ``output.bs1``,
200 neurons x 2000 steps of 1 ms, equal to the tutorial's ``fill_tensor`` rasters), CUBA Dense
200 -> 256 -> 200 (threshold 0.1, current decay 1, voltage decay 0.1, decays learnt),
``SpikeTime(time_constant=2, filter_order=2)`` summed, Adam (lr 0.001, weight decay 1e-5),
batch 1, ``--epochs`` epochs (the tutorial's 2000 by default), on the CPU:

- ``ours``: :func:`snnpipe.models.networks.oxford` in the loihi precision (SLAYER's arithmetic)
  with our :class:`~snnpipe.models.losses.SpikeTime`, :class:`~snnpipe.models.training.Assistant`
  and the recipe's :func:`~snnpipe.models.recipes.oxford.optimizer` (the same Adam; the decays,
  float parameters in ours and 1/4096-unit ones in SLAYER, step at lr/4096 to move as SLAYER's
  do; ``--decay-lr-scale 1`` steps them at the nominal lr, 4096 times faster);
- ``slayer``: ``slayer.block.cuba.Dense`` x 2, ``slayer.loss.SpikeTime`` and
  ``slayer.utils.Assistant`` / ``LearningStats`` as the tutorial writes them.

Both use the recipe's surrogate width (``--tau-grad``, default
:data:`snnpipe.models.recipes.oxford.TAU_GRAD`; ``--tau-grad 1`` is lava-dl 0.6.0's default,
with which both stall near 48-49k after 2000 epochs).

Both start from the same weights (SLAYER's initialisation with ``--seed``, copied into ours;
``--own-init``: each its own), so their first losses agree; after that they part slowly, since
our decay gradients are the true derivatives (SLAYER's are -4096x theirs, DESIGN) and float32
sums differ. Each implementation runs in its own subprocess with ``--threads`` torch, MKL and
numba threads (default 2; our fused kernels keep their serial loops, ``$SNNPIPE_KERNEL_THREADS``
unset: see :mod:`snnpipe.models.kernels.cuba_numba`); the wall time is that of the training loop (imports and set-up
apart, our kernels' first compilation or cache load included). The loss of an epoch is the
training loss of its forward pass, as the tutorial's ``LearningStats`` counts it.

Printed: the loss curve of both (start, every ``--every`` epochs, the last, the minimum and
its epoch), the wall times, the ratio SLAYER / ours, and the tutorial's published figures.

Usage: ``python bench/oxford.py [--epochs 2000] [--every 100] [--seed 0] [--threads 2]
[--only ours|slayer] [--own-init] [--decay-lr-scale S] [--tau-grad W] [--scale-grad S]
[--json]``
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

NEURON_PARAMS = dict(threshold=0.1, current_decay=1, voltage_decay=0.1, requires_grad=True)
LR, WEIGHT_DECAY = 0.001, 1e-5
TIME_CONSTANT, FILTER_ORDER = 2, 2
# lava-dl's tutorial (tutorials/lava/lib/dl/slayer/oxford/train.ipynb), as published
SEED_FIGURES = "loss 389k at the start, 29.6k after 2000 epochs (epoch 1999), minimum 28.2k"


def _threads(n: int) -> None:
    import torch
    torch.set_num_threads(n)


def _slayer_net(tau_grad: float = 1.0, scale_grad: float = 1.0):
    import torch
    from lava.lib.dl import slayer

    params = dict(NEURON_PARAMS, tau_grad=tau_grad, scale_grad=scale_grad)

    class Network(torch.nn.Module):      # the tutorial's
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([
                slayer.block.cuba.Dense(dict(params), 200, 256),
                slayer.block.cuba.Dense(dict(params), 256, 200)])

        def forward(self, spike):
            for block in self.blocks:
                spike = block(spike)
            return spike
    return Network()


def init_worker(seed: int, path: str) -> dict:
    """SLAYER's initial weights with ``seed`` into ``path`` (a torch file of two tensors)."""
    import torch
    torch.manual_seed(seed)
    net = _slayer_net()
    torch.save([b.synapse.weight.detach().reshape(b.synapse.weight.shape[:2]).clone()
                for b in net.blocks], path)
    return {"saved": path}


def _loop(step, epochs: int, every: int, name: str) -> dict:
    """Run ``step() -> loss`` ``epochs`` times; losses, epoch times and the wall time."""
    losses, times = [], []
    t_start = time.perf_counter()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)
        if epoch % every == 0 or epoch == epochs - 1:
            print(f"  {name} epoch {epoch}: loss {losses[-1]:.1f} "
                  f"({time.perf_counter() - t_start:.0f} s)", file=sys.stderr, flush=True)
    return {"losses": losses, "wall_s": time.perf_counter() - t_start,
            "median_epoch_s": statistics.median(times), "first_epoch_s": times[0] if times else 0.0}


def ours_worker(epochs: int, every: int, seed: int, init: str | None, surrogate: dict,
                decay_lr_scale: float | None = None) -> dict:
    import torch

    from snnpipe.models.losses import SpikeTime
    from snnpipe.models.recipes import oxford
    from snnpipe.models.training import Assistant, LearningStats

    x, target = oxford.load(2000)
    config = dict(oxford.DEFAULTS, lr=LR, weight_decay=WEIGHT_DECAY, precision="loihi",
                  **surrogate)
    torch.manual_seed(seed)
    net = oxford.build(config)
    if init:
        with torch.no_grad():
            for block, w in zip(net.blocks.values(), torch.load(init, weights_only=True)):
                block.synapse.weight.copy_(w)
    if decay_lr_scale is not None:
        config["decay_lr_scale"] = decay_lr_scale
    error = SpikeTime(time_constant=TIME_CONSTANT, filter_order=FILTER_ORDER)
    opt = oxford.optimizer(net, config)         # the recipe's: decays at SLAYER's rate
    assistant = Assistant(net, error, opt, LearningStats(), device="cpu", progress=False)
    loader = [(x, target)]          # one batch of one sample, as the tutorial's DataLoader
    return _loop(lambda: assistant.train(loader), epochs, every, "ours")


def slayer_worker(epochs: int, every: int, seed: int, init: str | None, surrogate: dict,
                  _=None) -> dict:
    import torch
    from lava.lib.dl import slayer

    from snnpipe.models.recipes import oxford

    x, target = oxford.load(2000)
    torch.manual_seed(seed)
    net = _slayer_net(**surrogate)
    if init:
        with torch.no_grad():
            for block, w in zip(net.blocks, torch.load(init, weights_only=True)):
                block.synapse.weight.copy_(w.reshape(block.synapse.weight.shape))
    error = slayer.loss.SpikeTime(time_constant=TIME_CONSTANT, filter_order=FILTER_ORDER)
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    stats = slayer.utils.LearningStats()
    assistant = slayer.utils.Assistant(net, error, opt, stats)

    def step():
        assistant.train(x, target)
        loss = stats.training.loss          # this epoch's (loss_sum / num_samples)
        stats.update()
        return loss
    return _loop(step, epochs, every, "slayer")


WORKERS = {"ours": ours_worker, "slayer": slayer_worker}


def _spawn(args, *worker) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", *worker,
           "--epochs", str(args.epochs), "--every", str(args.every), "--seed", str(args.seed),
           "--threads", str(args.threads), "--tau-grad", str(args.tau_grad),
           "--scale-grad", str(args.scale_grad)]
    if args.decay_lr_scale is not None:
        cmd += ["--decay-lr-scale", str(args.decay_lr_scale)]
    env = dict(os.environ, **{k: str(args.threads) for k in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")})
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)  # progress: stderr
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(worker)} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _curve(losses: list, every: int) -> list:
    return sorted({0, len(losses) - 1, *range(every, len(losses), every)})


def _row(label: str, runs: dict, pick) -> str:
    return f"{label:<16}" + "".join(f"{pick(r):>14}" for r in runs.values())


def report(runs: dict, args) -> dict:
    """Print the curves, minima, wall times and the ratio; return them."""
    names = list(runs)
    n = min(len(r["losses"]) for r in runs.values())
    print(f"{'epoch':<16}" + "".join(f"{k:>14}" for k in names))
    for e in _curve(list(range(n)), args.every):
        print(_row(str(e), runs, lambda r: f"{r['losses'][e]:.1f}"))
    mins = {k: min(range(n), key=r["losses"].__getitem__) for k, r in runs.items()}
    print(_row("minimum", runs, lambda r: f"{min(r['losses'][:n]):.1f}"))
    print(f"{'  at epoch':<16}" + "".join(f"{mins[k]:>14}" for k in names))
    print(_row("last", runs, lambda r: f"{r['losses'][n - 1]:.1f}"))
    print(_row("wall s", runs, lambda r: f"{r['wall_s']:.1f}"))
    print(_row("median epoch ms", runs, lambda r: f"{1e3 * r['median_epoch_s']:.1f}"))
    print(_row("first epoch ms", runs, lambda r: f"{1e3 * r['first_epoch_s']:.1f}"))
    out = {k: {"start": r["losses"][0], "last": r["losses"][n - 1],
               "min": min(r["losses"][:n]), "min_epoch": mins[k], "wall_s": r["wall_s"]}
           for k, r in runs.items()}
    if {"ours", "slayer"} <= set(runs):
        out["ratio"] = runs["slayer"]["wall_s"] / runs["ours"]["wall_s"]
        out["ratio_median_epoch"] = runs["slayer"]["median_epoch_s"] / runs["ours"]["median_epoch_s"]
        print(f"wall time SLAYER / ours: {out['ratio']:.1f}x "
              f"(median epoch: {out['ratio_median_epoch']:.1f}x)")
    print(f"lava-dl tutorial (published): {SEED_FIGURES}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--every", type=int, default=100, help="print the loss every N epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch, MKL and numba threads")
    ap.add_argument("--only", choices=list(WORKERS), help="run one implementation")
    ap.add_argument("--own-init", action="store_true",
                    help="each implementation initialises its own weights (default: SLAYER's)")
    ap.add_argument("--decay-lr-scale", type=float,
                    help="ours: the decays' learning rate over lr (default: the recipe's 1/4096, "
                         "SLAYER's effective rate; 1: the nominal lr)")
    ap.add_argument("--tau-grad", type=float, help="both: the surrogate's width, SLAYER's tau_grad "
                    "(default: the recipe's, oxford.TAU_GRAD; 1 is lava-dl's default)")
    ap.add_argument("--scale-grad", type=float, default=1.0, help="both: SLAYER's scale_grad")
    ap.add_argument("--json", action="store_true", help="end with one line of the figures")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.tau_grad is None:
        from snnpipe.models.recipes.oxford import TAU_GRAD
        args.tau_grad = TAU_GRAD
    surrogate = {"tau_grad": args.tau_grad, "scale_grad": args.scale_grad}
    if args.worker:
        _threads(args.threads)
        kind, *rest = args.worker
        if kind == "init":
            result = init_worker(args.seed, rest[0])
        else:
            result = WORKERS[kind](args.epochs, args.every, args.seed, rest[0] if rest else None,
                                   surrogate, args.decay_lr_scale)
        print(json.dumps(result))
        return 0
    names = [args.only] if args.only else list(WORKERS)
    print(f"Oxford 200-256-200 on lava-dl's input.bs1 -> output.bs1 (2000 steps), "
          f"SpikeTime({TIME_CONSTANT}, order {FILTER_ORDER}), Adam lr {LR} wd {WEIGHT_DECAY}, "
          f"{args.epochs} epochs, CPU, {args.threads} threads, seed {args.seed}, "
          f"{'own' if args.own_init else 'SLAYER'} initial weights, our decays at lr x "
          f"{'1/4096' if args.decay_lr_scale is None else args.decay_lr_scale}, "
          f"surrogate tau_grad {args.tau_grad} scale_grad {args.scale_grad}; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        init = [] if args.own_init else [os.path.join(tmp, "init.pt")]
        if init:
            _spawn(args, "init", *init)
        runs = {name: _spawn(args, name, *init) for name in names}
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    figures = report(runs, args)
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
