"""Oxford recipe: SLAYER's spike-to-spike regression on lava-dl's own data.

A frozen Poisson-like raster of 200 input neurons is mapped to a target raster of 200 output
neurons that draws the Radcliffe Camera (Oxford) over about 1900 ms. The two event files,
``input.bs1`` and ``output.bs1``, are lava-dl's tutorial data (BSD 3-Clause, Copyright (c) 2021
Intel Corporation; ``data/oxford/NOTICE``), shipped with the package and read with
:func:`snnpipe.pipeline.formats.events.read_bs1`. As in the tutorial there is one input and
one target, and the metric is the SpikeTime loss of that pair.

The rasters are those of the tutorial's ``OxfordDataset`` (``slayer.io.Event.fill_tensor``
into ``(1, 1, 200, 2000)``): input event times rounded to 1 ms bins, target event times
truncated to whole ms first (the tutorial's ``target.t.astype(int)``), at most one spike per
bin (slayer's ``OR`` binning), and the polarity made relative to its smallest value as
slayer's ``Event`` does (both files hold ON events only, ``c = 1``).
"""
from __future__ import annotations

import dataclasses
from importlib import resources

import numpy as np
import torch

from snnpipe.hwmap.targets.loihi import DECAY_UNIT
from snnpipe.pipeline.formats.events import Events, read_bs1, to_raster

N_NEURONS = 200
FILES = {"input": "input.bs1", "target": "output.bs1"}


def data_file(name: str):
    """The shipped file ``name`` (``input.bs1``, ``output.bs1`` or ``NOTICE``) as a
    :class:`importlib.resources.abc.Traversable` (a path in an installed package)."""
    return resources.files("snnpipe.models.recipes").joinpath("data", "oxford", name)


def read_events(which: str) -> Events:
    """The events of the shipped ``input`` or ``target`` file: x = neuron 0..199, t in ms."""
    with resources.as_file(data_file(FILES[which])) as path:
        return read_bs1(path)


def raster(ev: Events, steps: int, truncate: bool = False) -> torch.Tensor:
    """Spikes float32 (1, 200, steps) of 1 ms bins as slayer's ``fill_tensor`` makes them:
    times rounded (``truncate``: floored first), polarity relative to its smallest, one spike
    at most per bin, events from ``steps`` ms on dropped."""
    c = ev.c - ev.c.min() if len(ev) else ev.c
    t = np.floor(ev.t) if truncate else ev.t
    r = to_raster(dataclasses.replace(ev, c=c, t=t), n_x=N_NEURONS, n_c=1, steps=steps)
    return torch.from_numpy(np.minimum(r, 1).astype(np.float32))[None]


def load(steps: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
    """The tutorial's pair ``(x, target)``, each float32 spikes (1, 200, steps), over the first
    ``steps`` ms (default 2000, the tutorial's)."""
    return raster(read_events("input"), steps), raster(read_events("target"), steps, truncate=True)


# ---- the recipe: network, loss, training, evaluation ------------------------------------------

NAME = "oxford"
DEFAULT_EPOCHS = 100
DEFAULT_PRECISION = "loihi"       # SLAYER's arithmetic: Lava and the Loihi-style chip reproduce it
TARGETS = ("loihi",)
DEPLOY = (("lava-fixed", None), ("intsim", "loihi"))
PLOT = "raster"       # evaluation plots: raster_<implementation>.png
# The surrogate's width (SLAYER's ``tau_grad``) of this recipe: 0.005, where lava-dl 0.6.0's
# default is 1. Why: with 1 (an exponential 100 thresholds wide: SLAYER's TAU_RHO_MULT = 100)
# training on this pair stalls, 48.1k after 2000 epochs in ours and 49.3k in SLAYER itself from
# the same weights (bench/oxford.py), while the tutorial's published run reached 29.6k; lava-dl
# keeps narrower multipliers (10, 1) commented out beside the current one. Final loss after 2000
# epochs (seed 0) by tau_grad: 1: 48.3k, 0.1: 42.6k, 0.03: 39.5k, 0.01: 35.5k, 0.007: 34.1k,
# 0.005: 31.9k (seeds 1, 2: 31.6k, 31.2k), 0.004: 31.5k, 0.003: 33.5k, 0.002: 45.8k, 0.001:
# 60.3k (stalls). With 0.005, 3000 epochs reach the published range (seed 0: 28.8k; seed 1:
# 29.0k, min 28.0k) and 4000 end at 27.3k (min 26.4k); SLAYER with the same width follows the
# same curve (bench/oxford.py).
TAU_GRAD = 0.005
DEFAULTS = dict(steps=2000, lr=0.001, weight_decay=1e-5, time_constant=2.0, filter_order=2,
                decay_lr_scale=1 / DECAY_UNIT, tau_grad=TAU_GRAD, scale_grad=1.0)


def build(config: dict):
    """SLAYER's Oxford network: CUBA Dense 200 -> 256 -> 200 (threshold 0.1, no current
    memory, voltage decay 0.1) in ``config["precision"]``, with SLAYER's surrogate of width
    ``config["tau_grad"]`` and height ``config["scale_grad"]`` (:data:`TAU_GRAD`)."""
    from snnpipe.models.networks import oxford
    from snnpipe.models.networks.oxford import NEURON_PARAMS

    params = dict(NEURON_PARAMS, tau_grad=config.get("tau_grad", NEURON_PARAMS["tau_grad"]),
                  scale_grad=config.get("scale_grad", NEURON_PARAMS["scale_grad"]))
    return oxford(neuron_params=params, precision=config["precision"])


def spike_time(config: dict):
    """The training loss, the tutorial's ``SpikeTime(time_constant=2, filter_order=2)`` summed
    over neurons and steps (``config``'s ``time_constant`` and ``filter_order``)."""
    from snnpipe.models.losses import SpikeTime

    return SpikeTime(time_constant=config["time_constant"], filter_order=config["filter_order"])


def spike_time_loss(config, output, target) -> float:
    """The training loss (SpikeTime, summed) of outputs (1, 200, steps) against the target."""
    with torch.no_grad():
        return float(spike_time(config)(torch.as_tensor(output, dtype=torch.float32), target))


def optimizer(net, config: dict) -> torch.optim.Adam:
    """The tutorial's Adam (``lr``, ``weight_decay``), with the decays stepped as SLAYER steps
    them: at ``lr * decay_lr_scale`` (default 1/4096).

    Why: SLAYER keeps each decay as a parameter in 1/4096 units (its ``p_scale``), and Adam's
    step is about ``lr`` in the parameter's own units whatever the gradient's scale, so SLAYER
    moves a decay by about lr/4096 per step; ours are float parameters (0..1) and would move
    4096 times faster at the same ``lr``. They did: on this task the loss then stalled at
    72-75k from epoch 200 on while SLAYER's kept falling (57k at epoch 500; bench/oxford.py
    with ``--decay-lr-scale 1``)."""
    decays = [p for n, p in net.named_parameters() if p.requires_grad and n.endswith("_decay")]
    others = [p for n, p in net.named_parameters() if p.requires_grad and not n.endswith("_decay")]
    return torch.optim.Adam([{"params": others},
                             {"params": decays, "lr": config["lr"] * config["decay_lr_scale"]}],
                            lr=config["lr"], weight_decay=config["weight_decay"])


def fit(net, config: dict, x: torch.Tensor, target: torch.Tensor, epochs: int,
        device: str = "cpu", progress: bool = True):
    """Train ``net`` on the one pair ``x`` -> ``target`` (1, 200, steps) for ``epochs`` epochs
    of one step (batch 1, SpikeTime summed, :func:`optimizer`), as the tutorial's loop with
    its ``Assistant``; returns the :class:`~snnpipe.models.training.LearningStats`."""
    from snnpipe.models.recipes import common
    from snnpipe.models.training import Assistant, LearningStats

    stats = LearningStats()
    assistant = Assistant(net, spike_time(config), optimizer(net, config), stats, device=device,
                          reduction="sum", progress=progress)
    train_loader = common.loader(x, target, 1, False)
    for epoch in range(epochs):
        assistant.train(train_loader, epoch)
        stats.update()
        if progress:
            print(f"epoch {epoch}: {stats}", flush=True)
    return stats


def train(out_dir, epochs: int | None = None, seed: int = 0, device: str = "cpu",
          precision: str | None = None, progress: bool = True, **overrides) -> dict:
    """Train the spike-to-spike regression on the shipped pair (:func:`load`, the first
    ``steps`` ms), SpikeTime loss and Adam as the tutorial (:func:`fit`); ``seed`` draws the
    initial weights. The task is to reproduce one target from one input, so the metric is
    measured on that pair: the loss of the trained network and of the untrained one. Writes
    the run files and ``raster.png``."""
    from snnpipe.models.recipes import common

    config = dict(DEFAULTS, precision=precision or DEFAULT_PRECISION, seed=seed, **overrides)
    x, target = load(config["steps"])
    common.seed_everything(seed)
    net = build(config)
    untrained = spike_time_loss(config, common.run_torch(net, x), target)
    stats = fit(net, config, x, target, DEFAULT_EPOCHS if epochs is None else epochs, device,
                progress)
    net = net.cpu().eval()
    out = common.run_torch(net, x)
    loss = spike_time_loss(config, out, target)
    result = {"loss": loss, "untrained_loss": untrained, "loss_ratio": loss / untrained,
              "output_spikes": int(out.sum()), "target_spikes": int(target.sum())}
    paths = common.save_run(out_dir, NAME, net, config, stats, [],
                            common.export_graph(net, config["precision"], (N_NEURONS,)), result)
    common.plot_rasters(f"{out_dir}/raster.png", {"target": target[0], "output (torch)": out[0]})
    return {**result, **paths}


def test_set(config: dict, n: int | None = None, seed: int = 0) -> dict:
    """The one shipped pair over ``config["steps"]`` ms (``n`` and ``seed`` are unused): ``x``
    (1, 200, steps) and the ``target`` raster (1, 200, steps)."""
    x, target = load(config["steps"])
    return {"x": x, "target": target}


def score(config: dict, out: np.ndarray, data: dict) -> dict:
    """The SpikeTime loss of the output spikes (1, 200, steps) and their count."""
    return {"metrics": {"loss": spike_time_loss(config, out, data["target"]),
                        "output_spikes": int(np.sum(out))},
            "predictions": None, "labels": None, "values": {}}


def plot(config: dict, out: np.ndarray, data: dict, path, title: str) -> None:
    """The output raster beside the target as ``path``."""
    from snnpipe.models.recipes import common

    common.plot_rasters(path, {"target": data["target"][0], title: out[0]})
