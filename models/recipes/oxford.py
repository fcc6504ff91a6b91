"""Oxford recipe data: spike-to-spike regression from Poisson input to a raster that draws a picture.

The original ``.bs1`` files are not available, so the target is generated: a text rendered with
matplotlib into a (n_neurons x steps) bitmap, and a spike wherever the bitmap is lit on a sparse
diagonal grid (each neuron fires at most every ``spacing`` steps). The input is a frozen Poisson
raster. As in the SLAYER tutorial the task is one input -> one target.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def render_text(text: str, height: int, width: int) -> np.ndarray:
    """A bool bitmap (height, width) of ``text`` in a bold sans-serif font, stretched to the width."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    natural = int(height * 0.75 * max(len(text), 1))
    fig = Figure(figsize=(natural / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=height * 0.55, weight="bold",
             family="DejaVu Sans")
    canvas.draw()
    img = np.asarray(canvas.buffer_rgba())[:height, :natural, 0] < 128
    lit = np.nonzero(img.any(axis=0))[0]
    img = img[:, lit.min():lit.max() + 1] if lit.size else img
    margin = width // 20
    cols = np.clip(((np.arange(width - 2 * margin) + 0.5) * img.shape[1] / (width - 2 * margin)).astype(int), 0, img.shape[1] - 1)
    out = np.zeros((height, width), dtype=bool)
    out[:, margin:width - margin] = img[:, cols]
    return out


@dataclass(frozen=True)
class OxfordTask:
    """200 input and output neurons over ``steps`` steps of 1 ms."""

    n_neurons: int = 200
    steps: int = 2000
    text: str = "SNN"
    spacing: int = 8
    input_rate: float = 0.05

    def target(self) -> torch.Tensor:
        """Target spikes float32 (1, n_neurons, steps): the text, top row = neuron n_neurons - 1."""
        bitmap = render_text(self.text, self.n_neurons, self.steps)[::-1]
        n, t = np.meshgrid(np.arange(self.n_neurons), np.arange(self.steps), indexing="ij")
        grid = (t + 3 * n) % self.spacing == 0
        return torch.from_numpy((bitmap & grid).astype(np.float32))[None]

    def input(self, seed: int = 0) -> torch.Tensor:
        """Frozen Poisson input float32 (1, n_neurons, steps) with ``input_rate`` per step."""
        rng = np.random.default_rng(seed)
        return torch.from_numpy((rng.random((1, self.n_neurons, self.steps)) < self.input_rate).astype(np.float32))


# ---- the recipe: network, loss, training, evaluation ------------------------------------------

NAME = "oxford"
DEFAULT_EPOCHS = 100
DEFAULT_PRECISION = "loihi"       # SLAYER's arithmetic: Lava and the Loihi-style chip reproduce it
TARGETS = ("loihi",)
DEPLOY = (("lava-fixed", None), ("intsim", "loihi"))
PLOT = "raster"       # evaluation plots: raster_<implementation>.png
DEFAULTS = dict(steps=2000, lr=0.001, weight_decay=1e-5, time_constant=2.0, filter_order=2)


def build(config: dict):
    """SLAYER's Oxford network: CUBA Dense 200 -> 256 -> 200 (threshold 0.1, no current
    memory, voltage decay 0.1) in ``config["precision"]``."""
    from snnpipe.models.networks import oxford

    return oxford(precision=config["precision"])


def _loss(config):
    from snnpipe.models.losses import SpikeTime

    return SpikeTime(time_constant=config["time_constant"], filter_order=config["filter_order"])


def spike_time_loss(config, output, target) -> float:
    """The training loss (SpikeTime, summed) of outputs (1, 200, steps) against the target."""
    with torch.no_grad():
        return float(_loss(config)(torch.as_tensor(output, dtype=torch.float32), target))


def train(out_dir, epochs: int | None = None, seed: int = 0, device: str = "cpu",
          precision: str | None = None, progress: bool = True, **overrides) -> dict:
    """Train the spike-to-spike regression (one frozen input of seed ``seed`` -> the text
    raster, SpikeTime loss, Adam as the tutorial). The task is to reproduce one target from one
    input, so the metric is measured on that pair: the loss of the trained network and of the
    untrained one (same seed). Writes the run files and ``raster.png``."""
    from snnpipe.models.recipes import common

    config = dict(DEFAULTS, precision=precision or DEFAULT_PRECISION, seed=seed, **overrides)
    task = OxfordTask(steps=config["steps"])
    common.seed_everything(seed)
    x, target = task.input(seed), task.target()
    net = build(config)
    untrained = spike_time_loss(config, common.run_torch(net, x), target)
    stats, history = common.fit(
        net, _loss(config), common.loader(x, target, 1, False), None,
        epochs=DEFAULT_EPOCHS if epochs is None else epochs, lr=config["lr"],
        weight_decay=config["weight_decay"], device=device, progress=progress, reduction="sum")
    net = net.cpu().eval()
    out = common.run_torch(net, x)
    loss = spike_time_loss(config, out, target)
    result = {"loss": loss, "untrained_loss": untrained, "loss_ratio": loss / untrained,
              "output_spikes": int(out.sum()), "target_spikes": int(target.sum())}
    paths = common.save_run(out_dir, NAME, net, config, stats, history,
                            common.export_graph(net, config["precision"], (task.n_neurons,)), result)
    common.plot_rasters(f"{out_dir}/raster.png", {"target": target[0], "output (torch)": out[0]})
    return {**result, **paths}


def test_set(config: dict, n: int | None = None, seed: int = 0) -> dict:
    """The task's one frozen input of seed ``seed`` (``n`` is unused): ``x`` (1, 200, steps)
    and the ``target`` raster (1, 200, steps)."""
    task = OxfordTask(steps=config["steps"])
    return {"x": task.input(seed), "target": task.target()}


def score(config: dict, out: np.ndarray, data: dict) -> dict:
    """The SpikeTime loss of the output spikes (1, 200, steps) and their count."""
    return {"metrics": {"loss": spike_time_loss(config, out, data["target"]),
                        "output_spikes": int(np.sum(out))},
            "predictions": None, "labels": None, "values": {}}


def plot(config: dict, out: np.ndarray, data: dict, path, title: str) -> None:
    """The output raster beside the target as ``path``."""
    from snnpipe.models.recipes import common

    common.plot_rasters(path, {"target": data["target"][0], title: out[0]})
