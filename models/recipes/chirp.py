"""Chirp recipe data: frozen Poisson noise on 200 channels -> a chirp signal (the LIF tutorial).

The target is ``sin(2 pi t (chirp_freq_factor t))`` over ``duration`` seconds, the input a
frozen Bernoulli raster with ``spiking_prob`` per step and channel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ChirpTask:
    """Task parameters: ``dt`` and ``duration`` in seconds."""

    n_inputs: int = 200
    dt: float = 1e-3
    duration: float = 1.0
    chirp_freq_factor: float = 10.0
    spiking_prob: float = 0.01

    @property
    def steps(self) -> int:
        return int(np.round(self.duration / self.dt))

    def target(self) -> torch.Tensor:
        """The chirp, float32 (1, 1, steps)."""
        t = np.linspace(0, (self.steps - 1) * self.dt, self.steps)
        return torch.from_numpy(np.sin(t * 2 * np.pi * (t * self.chirp_freq_factor)).astype(np.float32))[None, None]

    def noise(self, seed: int) -> torch.Tensor:
        """The frozen input raster, float32 (1, n_inputs, steps) of 0/1."""
        rng = np.random.default_rng(seed)
        return torch.from_numpy((rng.random((1, self.n_inputs, self.steps)) < self.spiking_prob).astype(np.float32))


def correlation(output, target) -> float:
    """Pearson correlation between two signals of equal length (flattened)."""
    a, b = np.ravel(np.asarray(output, dtype=np.float64)), np.ravel(np.asarray(target, dtype=np.float64))
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


# ---- the recipe: network, loss, training, evaluation ------------------------------------------

NAME = "chirp"
DEFAULT_EPOCHS = 100
TARGETS = ("loihi", "xylo")
XYLO_LIMITS_ARGS = (200, 1)     # (inputs, outputs) of the Xylo-style target: Audio 2 has 16, 8
DEPLOY = (("intsim", "loihi"), ("intsim", "xylo"))
PLOT = "output"       # evaluation plots: output_<implementation>.png
DEFAULTS = dict(n_hidden=50, tau_mem=0.02, tau_syn=0.02, tau_out=0.02, threshold=1.0, lr=0.003,
                min_tau=0.011, max_tau=0.5, readout_scale=0.1, duration=1.0)


def build(config: dict):
    """The tutorial's network: 200 inputs -> 50 LIF (time constants, thresholds and biases
    trainable) -> exponential-synapse readout (1 channel, time constant ``tau_out``). In the
    ``xylo`` precision the LIF neurons are the chip's hidden neurons (multi-spike,
    subtractive reset)."""
    from snnpipe.models.networks import chirp_net

    net = chirp_net(n_hidden=config["n_hidden"], tau_mem=config["tau_mem"],
                    tau_syn=config["tau_syn"], tau_out=config["tau_out"],
                    threshold=config["threshold"], precision=config["precision"])
    if config["precision"] == "xylo":
        net.blocks["lif"].neuron.spike = "multi"
        net.blocks["lif"].neuron.reset = "subtract"
    return net


def bounds(config: dict):
    """:func:`snnpipe.models.networks.chirp_bounds` on the LIF layer (time constants in [min_tau,
    max_tau] s) and the readout's current; the readout's voltage decay stays 1 (its output is
    the synaptic current)."""
    from snnpipe.models.bounds import Bounds
    from snnpipe.models.networks import chirp_bounds

    rules = chirp_bounds(min_tau=config["min_tau"], max_tau=config["max_tau"]).rules
    out = {f"blocks.lif.{k}": v for k, v in rules.items()}
    out["blocks.readout.*current_decay"] = rules["*current_decay"]
    return Bounds(out)


def train(out_dir, epochs: int | None = None, seed: int = 0, device: str = "cpu",
          precision: str = "float", progress: bool = True, **overrides) -> dict:
    """Fit the readout to the chirp from the frozen noise of seed ``seed`` (one sample per
    epoch, mean squared error, time constants bounded to [min_tau, max_tau] s). The task is
    to memorise one frozen input, so the metric (correlation with the chirp) is measured on
    that input. Writes the run files and ``output.png``; returns the correlation and paths."""
    from snnpipe.models.losses import MembraneMSE
    from snnpipe.models.recipes import common

    config = dict(DEFAULTS, precision=precision, seed=seed, **overrides)
    task = ChirpTask(duration=config["duration"])
    common.seed_everything(seed)
    x, target = task.noise(seed), task.target()
    net = build(config)
    with torch.no_grad():
        net.blocks["readout"].synapse.weight.mul_(config["readout_scale"])
    n_epochs = DEFAULT_EPOCHS if epochs is None else epochs
    stats, history = common.fit(
        net, MembraneMSE(), common.loader(x, target, 1, False), None, epochs=n_epochs,
        lr=config["lr"], device=device, progress=progress,
        bounds=bounds(config),
        metric=lambda n: {"correlation": correlation(common.run_torch(n, x), target)},
        metric_every=max(1, n_epochs // 20))
    net = net.cpu().eval()
    out = common.run_torch(net, x)
    result = {"correlation": correlation(out, target), "mse": float(np.mean((out - target.numpy()) ** 2))}
    paths = common.save_run(out_dir, NAME, net, config, stats, history,
                            common.export_graph(net, config["precision"], (task.n_inputs,)), result)
    common.plot_traces(f"{out_dir}/output.png", {"target": target, "output (torch)": out},
                       task.dt, "chirp regression")
    return {**result, **paths}


def test_set(config: dict, n: int | None = None, seed: int = 0) -> dict:
    """The task's one frozen input of seed ``seed`` (the task is to memorise it; ``n`` is
    unused): ``x`` (1, 200, steps) and the chirp ``target`` (1, 1, steps)."""
    task = ChirpTask(duration=config["duration"])
    return {"x": task.noise(seed), "target": task.target().numpy()}


def score(config: dict, out: np.ndarray, data: dict) -> dict:
    """Correlation of the output (1, 1, steps) with the chirp (scale-free: Xylo outputs are in
    chip units)."""
    return {"metrics": {"correlation": correlation(out, data["target"])}, "predictions": None,
            "labels": None, "values": {}}


def plot(config: dict, out: np.ndarray, data: dict, path, title: str) -> None:
    """The normalised output against the chirp as ``path``."""
    from snnpipe.models.recipes import common

    scale = np.abs(out).max() or 1.0
    common.plot_traces(path, {"target": data["target"], f"output ({title}, normalised)": out / scale},
                       ChirpTask(duration=config["duration"]).dt, "chirp regression")
