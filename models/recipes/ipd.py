"""IPD recipe data: sound localisation by interaural phase difference, as the tutorial generates it.

Two ears with ``anf_per_ear`` auditory-nerve fibres each; fibre k of both ears has a phase delay
``linspace(0, pi/2, anf_per_ear)[k]``, ear 1 additionally the IPD. Each fibre fires Poisson
spikes at ``rate_max * dt * (0.5 * (1 + sin(theta)))**envelope_power`` with
``theta = 2 pi (f t + offset) + delays``; one random phase offset per call, as in the tutorial.
IPDs are uniform in (-pi/2, pi/2) and discretised into ``num_classes`` (12: 15 degree) classes.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class IPDTask:
    """Stimulus parameters; ``dt`` and ``duration`` in seconds, rates in Hz."""

    dt: float = 1e-3
    duration: float = 0.1
    anf_per_ear: int = 100
    envelope_power: float = 2.0
    rate_max: float = 600.0
    f: float = 20.0
    num_classes: int = 12

    @property
    def steps(self) -> int:
        return int(np.round(self.duration / self.dt))

    @property
    def n_inputs(self) -> int:
        return 2 * self.anf_per_ear

    def spikes(self, ipd: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Spike rasters float32 (n, 2 * anf_per_ear, steps) for IPDs in radians (n,)."""
        t = np.arange(self.steps) * self.dt
        phi = 2 * np.pi * (self.f * t + rng.random())
        delays = np.linspace(0, np.pi / 2, self.anf_per_ear)
        theta = np.concatenate([
            np.broadcast_to(phi[None, None, :] + delays[None, :, None], (len(ipd), self.anf_per_ear, self.steps)),
            phi[None, None, :] + delays[None, :, None] + ipd[:, None, None]], axis=1)
        p = self.rate_max * self.dt * (0.5 * (1 + np.sin(theta))) ** self.envelope_power
        return (rng.random(theta.shape) < p).astype(np.float32)

    def discretise(self, ipd):
        """Class index of each IPD (radians): floor((ipd + pi/2) * num_classes / pi)."""
        return np.clip(((np.asarray(ipd) + np.pi / 2) * self.num_classes / np.pi).astype(np.int64),
                       0, self.num_classes - 1)

    def continuise(self, index):
        """Midpoint IPD (radians) of each class index."""
        return (np.asarray(index) + 0.5) / self.num_classes * np.pi - np.pi / 2

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``n`` samples: spikes (n, 200, steps) float32, class labels int64 (n,), IPDs float64 (n,)."""
        rng = np.random.default_rng(seed)
        ipd = rng.random(n) * np.pi - np.pi / 2
        x = self.spikes(ipd, rng)
        return torch.from_numpy(x), torch.from_numpy(self.discretise(ipd)), torch.from_numpy(ipd)


def mean_abs_error_deg(task: IPDTask, predicted_class, true_ipd) -> float:
    """Mean absolute error in degrees between class midpoints and the true IPDs."""
    return float(np.mean(np.abs(task.continuise(np.asarray(predicted_class)) - np.asarray(true_ipd))) * 180 / np.pi)


# ---- the recipe: network, loss, training, evaluation ------------------------------------------

NAME = "ipd"
DEFAULT_EPOCHS = 10
TARGETS = ("loihi", "xylo")
XYLO_LIMITS_ARGS = (200, 12)    # (inputs, outputs) of the Xylo-style target: Audio 2 has 16, 8
DEPLOY = (("lava-fixed", None), ("intsim", "loihi"), ("intsim", "xylo"))
PLOT = "confusion"       # evaluation plots: confusion_<implementation>.png
DEFAULTS = dict(n_hidden=100, tau=0.02, beta=5.0, n_train=4096, n_test=1024, batch_size=64,
                lr=0.01, cosine=True, init_bound=12 ** -0.5, xylo_current_decay=0.5,
                xylo_readout_decay=0.25)


class MeanCrossEntropy(torch.nn.Module):
    """Cross-entropy of the time-averaged output as logits (the tutorial's loss).

    output (batch, classes, time) float units; label (batch,) int64.
    """

    def forward(self, output: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(output.mean(-1), label)


def predict(output) -> np.ndarray:
    """Class with the largest time-averaged output; output (batch, classes, time)."""
    return np.asarray(output).mean(-1).argmax(1)


def build(config: dict):
    """The network of ``config`` (see :data:`DEFAULTS`, plus ``precision``, ``spiking``).

    In the ``xylo`` precision the currents decay by ``xylo_current_decay`` (Xylo's dash 0
    would clear a current before it reaches the membrane), the readout's membrane by
    ``xylo_readout_decay`` (a shorter memory keeps it below 16 bits, where the chip's output
    neuron would reset), and the hidden neurons are the chip's (multi-spike, subtractive
    reset)."""
    from snnpipe.models.networks import ipd_net

    net = ipd_net(n_hidden=config["n_hidden"], tau=config["tau"], beta=config["beta"],
                  spiking=config.get("spiking", True), precision=config["precision"])
    if config["precision"] == "xylo":
        for block in net.blocks.values():
            block.neuron.current_decay.data.fill_(config["xylo_current_decay"])
        net.blocks["readout"].neuron.voltage_decay.data.fill_(config["xylo_readout_decay"])
        if "hidden" in net.blocks:       # the chip's hidden neurons: multi-spike, subtractive
            net.blocks["hidden"].neuron.spike = "multi"
            net.blocks["hidden"].neuron.reset = "subtract"
    return net


@functools.lru_cache(maxsize=4)
def dataset(task: IPDTask, n: int, seed: int, chunk: int = 64):
    """``n`` samples drawn ``chunk`` at a time, each chunk with its own phase offset (the
    generator draws one offset per call; a network trained on one offset does not generalise
    to others). Chunk seeds derive from ``seed``. Returns spikes (n, 200, steps) float32,
    labels (n,) int64 and IPDs (n,) radians. Remembered (the demo trains twice on the same
    data): the tensors are shared, never modify them."""
    seeds = np.random.SeedSequence(seed).generate_state((n + chunk - 1) // chunk)
    parts = [task.sample(min(chunk, n - i * chunk), int(s)) for i, s in enumerate(seeds)]
    return tuple(torch.cat(p) for p in zip(*parts))


def metrics(task: IPDTask, output, label, ipd) -> dict:
    """Accuracy (0..1) and mean absolute error (degrees) of outputs (batch, classes, time)."""
    pred = predict(output)
    return {"accuracy": float(np.mean(pred == np.asarray(label))),
            "mae_deg": mean_abs_error_deg(task, pred, np.asarray(ipd))}


def train(out_dir, epochs: int | None = None, seed: int = 0, device: str = "cpu",
          precision: str = "float", progress: bool = True, **overrides) -> dict:
    """Train on ``n_train`` samples of seed ``seed``; test on ``n_test`` samples of seed
    ``seed + 10000`` (:func:`dataset`). Writes the run files (:mod:`snnpipe.models.recipes.common`) and
    ``confusion.png``. Returns the test metrics (accuracy 0..1, mae_deg) and the paths."""
    from snnpipe.models.recipes import common

    config = dict(DEFAULTS, precision=precision, seed=seed, **overrides)
    task = IPDTask()
    gen = common.seed_everything(seed)
    x, y, _ = dataset(task, config["n_train"], seed)
    xt, yt, ipdt = dataset(task, config["n_test"], seed + common.TEST_SEED_OFFSET)
    net = build(config)
    for block in net.blocks.values():
        torch.nn.init.uniform_(block.synapse.weight, -config["init_bound"], config["init_bound"])
    train_loader = common.loader(x, y, config["batch_size"], True, gen)
    test_loader = common.loader(xt, yt, 256, False)
    stats, history = common.fit(
        net, MeanCrossEntropy(), train_loader, test_loader, epochs=DEFAULT_EPOCHS if epochs is None else epochs,
        lr=config["lr"], device=device, classifier=lambda o: torch.from_numpy(predict(o.cpu())).to(o.device),
        progress=progress, cosine=config["cosine"],
        metric=lambda n: metrics(task, common.run_torch(n, xt), yt, ipdt))
    net = net.cpu().eval()
    out = common.run_torch(net, xt)
    result = metrics(task, out, yt, ipdt)
    paths = common.save_run(out_dir, NAME, net, config, stats, history,
                            common.export_graph(net, config["precision"], (task.n_inputs,)), result)
    common.plot_confusion(f"{out_dir}/confusion.png", yt.numpy(), predict(out), task.num_classes,
                          "IPD test set (torch)")
    return {**result, **paths}


def test_set(config: dict, n: int | None = None, seed: int = 0) -> dict:
    """The held-out set: ``n`` samples (default ``n_test``) of seed ``seed + 10000``: ``x``
    (n, 200, steps) float32, ``labels`` (n,) classes, ``ipd`` (n,) radians."""
    from snnpipe.models.recipes import common

    x, y, ipd = dataset(IPDTask(), config["n_test"] if n is None else n,
                        seed + common.TEST_SEED_OFFSET)
    return {"x": x, "labels": y.numpy(), "ipd": ipd.numpy()}


def test_inputs(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` held-out inputs (n, 200, steps), drawn as :func:`test_set` draws ``n`` samples."""
    return test_set(DEFAULTS, n, seed)["x"]


def score(config: dict, out: np.ndarray, data: dict) -> dict:
    """Accuracy and angle error of outputs (n, classes, steps): ``metrics``, the per-sample
    ``predictions`` and ``labels``, and per-sample ``values`` (the angle error, degrees)."""
    task = IPDTask()
    pred = predict(out)
    err = np.abs(task.continuise(pred) - data["ipd"]) * 180 / np.pi
    return {"metrics": {"accuracy": float(np.mean(pred == data["labels"])),
                        "mae_deg": float(np.mean(err))},
            "predictions": pred, "labels": data["labels"], "values": {"mae_deg": err}}


def plot(config: dict, out: np.ndarray, data: dict, path, title: str) -> None:
    """The confusion matrix of outputs (n, classes, steps) as ``path``."""
    from snnpipe.models.recipes import common

    common.plot_confusion(path, data["labels"], predict(out), IPDTask().num_classes,
                          f"IPD ({title})")
