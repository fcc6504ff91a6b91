"""SynNet recipe data: tone-sequence "keywords" through a 16-channel band-pass front end.

Each sample is three tones of ``tone_steps`` steps (with jittered onsets, frequencies and
loudness, and background noise). The class is the order of the tones (low/mid/high), so it can
only be told at the end: the network must remember the first tone, which SynNet's pyramid of
synaptic time constants provides. The front end, as Xylo Audio's: 16 band-pass channels with
log-spaced centre frequencies (Gaussian tuning in log frequency), rectified, and encoded as
event counts per step by an integrate-and-fire encoder (at most 15 events per step).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# class -> tone order (0 low, 1 mid, 2 high)
KEYWORDS = ((0, 1, 2), (2, 1, 0), (0, 2, 0), (2, 0, 2))
BAND_HZ = (300.0, 1000.0, 3000.0)


@dataclass(frozen=True)
class ToneKeywords:
    """Task parameters; one step is ``dt`` seconds."""

    n_channels: int = 16
    steps: int = 200
    dt: float = 1e-3
    tone_steps: int = 40
    gap_steps: int = 15
    f_min: float = 100.0
    f_max: float = 8000.0
    bandwidth_oct: float = 0.5
    noise: float = 0.1
    encoder_threshold: float = 1.0

    @property
    def n_classes(self) -> int:
        return len(KEYWORDS)

    def centres(self) -> np.ndarray:
        """Centre frequencies (Hz) of the 16 channels, log-spaced."""
        return np.geomspace(self.f_min, self.f_max, self.n_channels)

    def band_energy(self, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Rectified filterbank output (n, n_channels, steps) for each label's tone sequence."""
        n = len(labels)
        freq = np.zeros((n, self.steps))
        amp = np.zeros((n, self.steps))
        for i, label in enumerate(labels):
            t = int(rng.integers(0, self.gap_steps))
            for tone in KEYWORDS[label]:
                f = BAND_HZ[tone] * 2 ** rng.normal(0, 0.15)
                freq[i, t:t + self.tone_steps] = f
                amp[i, t:t + self.tone_steps] = rng.uniform(0.6, 1.0)
                t += self.tone_steps + int(rng.integers(5, self.gap_steps))
        octaves = np.log2(np.maximum(freq, 1.0)[:, None, :] / self.centres()[None, :, None])
        tuning = np.exp(-0.5 * (octaves / self.bandwidth_oct) ** 2) * amp[:, None, :]
        return np.maximum(tuning + self.noise * rng.random((n, self.n_channels, self.steps)), 0.0)

    def encode(self, energy: np.ndarray) -> np.ndarray:
        """Integrate-and-fire encoding: events per step (0..15), subtracting the threshold per event."""
        acc = np.zeros(energy.shape[:2])
        out = np.zeros(energy.shape, dtype=np.float32)
        for t in range(energy.shape[2]):
            acc += energy[:, :, t]
            k = np.minimum(np.floor(acc / self.encoder_threshold), 15)
            out[:, :, t] = k
            acc -= k * self.encoder_threshold
        return out

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` samples: event counts float32 (n, n_channels, steps), labels int64 (n,) balanced."""
        rng = np.random.default_rng(seed)
        labels = np.arange(n) % self.n_classes
        x = self.encode(self.band_energy(labels, rng))
        return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


# ---- the recipe: network, loss, training, evaluation ------------------------------------------

NAME = "synnet"
DEFAULT_EPOCHS = 15
TARGETS = ("xylo",)
DEPLOY = (("intsim", "xylo"),)
PLOT = "confusion"       # evaluation plots: confusion_<implementation>.png
XYLO_STATE = "v"        # the output neurons' Vmem_out is the readout on Xylo (they also spike)
DEFAULTS = dict(size_hidden_layers=(60,), time_constants_per_layer=(10,),
                tau_syn_base=0.002, tau_mem=0.002, tau_syn_out=0.002, threshold=1.0,
                threshold_out=100.0, p_dropout=0.0, n_train=1024, n_test=512, batch_size=32,
                lr=1e-2, cosine=True, readout="mean")


def build(config: dict):
    """SynNet with Rockpool's default layout (one hidden layer of 60 neurons with 10 synaptic
    time constants 2 ms .. 1 s, Xylo-quantised; the tutorial's three layers of 24 with 2, 4
    and 8 are ``size_hidden_layers=(24, 24, 24), time_constants_per_layer=(2, 4, 8)``) and the
    output layer's membrane as output; ``threshold_out`` is high enough that it does not
    spike."""
    from snnpipe.models.networks import SynNet

    return SynNet(n_channels=16, n_classes=len(KEYWORDS),
                  size_hidden_layers=tuple(config["size_hidden_layers"]),
                  time_constants_per_layer=tuple(config["time_constants_per_layer"]),
                  tau_syn_base=config["tau_syn_base"], tau_mem=config["tau_mem"],
                  tau_syn_out=config["tau_syn_out"], threshold=config["threshold"],
                  threshold_out=config["threshold_out"], p_dropout=config["p_dropout"],
                  output="vmem", precision=config["precision"])


def _pool(output, readout: str):
    """Output (batch, classes, time) pooled over time: ``max`` or ``mean``."""
    return output.amax(-1) if readout == "max" else output.mean(-1)


class PooledCrossEntropy(torch.nn.Module):
    """Cross-entropy of the output pooled over time (``readout``: max or mean); label (batch,)."""

    def __init__(self, readout: str = "max"):
        super().__init__()
        self.readout = readout

    def forward(self, output: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(_pool(output, self.readout), label)


def predict(output, readout: str = "max") -> np.ndarray:
    """The class with the highest pooled output; output (batch, classes, time)."""
    return _pool(torch.as_tensor(np.asarray(output)), readout).argmax(1).numpy()


def train(out_dir, epochs: int | None = None, seed: int = 0, device: str = "cpu",
          precision: str = "float", progress: bool = True, **overrides) -> dict:
    """Train with cross-entropy on the output membrane pooled over time (``readout``) on
    ``n_train`` keywords of seed ``seed``; test on ``n_test`` of seed ``seed + 10000``. Writes
    the run files and ``confusion.png``. Returns the test accuracy (0..1) and the paths."""
    from snnpipe.models.recipes import common

    config = dict(DEFAULTS, precision=precision, seed=seed, **overrides)
    task = ToneKeywords()
    gen = common.seed_everything(seed)
    x, y = task.sample(config["n_train"], seed)
    xt, yt = task.sample(config["n_test"], seed + common.TEST_SEED_OFFSET)
    net = build(config)
    stats, history = common.fit(
        net, PooledCrossEntropy(config["readout"]), common.loader(x, y, config["batch_size"], True, gen),
        common.loader(xt, yt, 256, False), epochs=DEFAULT_EPOCHS if epochs is None else epochs,
        lr=config["lr"], device=device, progress=progress, cosine=config["cosine"],
        classifier=lambda o: _pool(o, config["readout"]).argmax(1))
    net = net.cpu().eval()
    out = common.run_torch(net, xt)
    result = {"accuracy": float(np.mean(predict(out, config["readout"]) == yt.numpy()))}
    paths = common.save_run(out_dir, NAME, net, config, stats, history,
                            common.export_graph(net, config["precision"], (task.n_channels,)), result)
    common.plot_confusion(f"{out_dir}/confusion.png", yt.numpy(), predict(out, config["readout"]), task.n_classes,
                          "tone keywords test set (torch)")
    return {**result, **paths}


def test_set(config: dict, n: int | None = None, seed: int = 0) -> dict:
    """The held-out set: ``n`` keywords (default ``n_test``) of seed ``seed + 10000``: ``x``
    (n, 16, steps) event counts and ``labels`` (n,)."""
    from snnpipe.models.recipes import common

    x, y = ToneKeywords().sample(config["n_test"] if n is None else n,
                                 seed + common.TEST_SEED_OFFSET)
    return {"x": x, "labels": y.numpy()}


def test_inputs(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` held-out inputs (n, 16, steps), drawn as :func:`test_set` draws ``n``."""
    return test_set(DEFAULTS, n, seed)["x"]


def score(config: dict, out: np.ndarray, data: dict) -> dict:
    """Accuracy of outputs (n, classes, steps) pooled by the run's ``readout``."""
    pred = predict(out, config["readout"])
    return {"metrics": {"accuracy": float(np.mean(pred == data["labels"]))},
            "predictions": pred, "labels": data["labels"], "values": {}}


def plot(config: dict, out: np.ndarray, data: dict, path, title: str) -> None:
    """The confusion matrix of outputs (n, classes, steps) as ``path``."""
    from snnpipe.models.recipes import common

    common.plot_confusion(path, data["labels"], predict(out, config["readout"]),
                          ToneKeywords().n_classes, f"tone keywords ({title})")
