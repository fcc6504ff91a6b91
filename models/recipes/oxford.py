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
