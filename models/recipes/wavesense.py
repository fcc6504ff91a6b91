"""WaveSense recipe data: the temporal XOR task exactly as the WaveSense tutorial defines it.

Two stimuli A and B (``T_stim`` steps of event counts 0..``max_num_spikes`` on
``num_channels`` channels; A uses the upper half of the channels, B the lower half) are drawn
once per task from ``pattern_seed``. A sample presents two of them, the second starting at
``T_stim + T_delay - r`` with ``r`` uniform in [-T_randomize, T_randomize); the label is
XOR(first is B, second is B).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# key -> (first stimulus is B, second stimulus is B); label = XOR
KEYS = ((0, 0), (0, 1), (1, 0), (1, 1))


@dataclass(frozen=True)
class TemporalXOR:
    """Task parameters (steps of ``dt`` = 1 ms), as in the tutorial's ``TemporalXOR``."""

    T_total: int = 100
    T_stim: int = 20
    T_delay: int = 30
    T_randomize: int = 20
    max_num_spikes: int = 15
    num_channels: int = 16
    pattern_seed: int = 0

    def stimuli(self) -> np.ndarray:
        """The two stimuli, int64 (2, num_channels, T_stim): A then B."""
        rng = np.random.default_rng(self.pattern_seed)
        stim = rng.integers(0, self.max_num_spikes + 1, size=(2, self.num_channels, self.T_stim))
        half = self.num_channels // 2
        stim[0, :half] = 0
        stim[1, half:] = 0
        return stim

    def sample(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` samples: inputs float32 (n, num_channels, T_total) of counts, labels int64 (n,).

        Keys cycle through the four combinations so every batch of 4 is balanced.
        """
        rng = np.random.default_rng(seed)
        stim = self.stimuli()
        x = np.zeros((n, self.num_channels, self.T_total), dtype=np.float32)
        y = np.zeros(n, dtype=np.int64)
        for i in range(n):
            first, second = KEYS[i % 4]
            t2 = self.T_stim + self.T_delay - int(rng.integers(-self.T_randomize, self.T_randomize))
            x[i, :, :self.T_stim] = stim[first]
            x[i, :, t2:t2 + self.T_stim] = stim[second][:, :max(0, min(self.T_stim, self.T_total - t2))]
            y[i] = first ^ second
        return torch.from_numpy(x), torch.from_numpy(y)


# ---- the recipe: network, loss, training, evaluation ------------------------------------------

NAME = "wavesense"
DEFAULT_EPOCHS = 40
TARGETS = ("xylo",)
DEPLOY = (("intsim", "xylo"), ("lava-fixed", None))
PLOT = "confusion"       # evaluation plots: confusion_<implementation>.png
DEFAULTS = dict(dilations=(2, 32), n_neurons=16, kernel_size=2, tau_mem=0.002, base_tau_syn=0.002,
                tau_lp=0.01, threshold=1.0, spike=None, reset="subtract", n_train=128,
                n_test=256, batch_size=16, lr=5e-3, cosine=True)


def build(config: dict):
    """WaveSense as in the tutorial (dilations 2 and 32, 16 neurons per layer, two synaptic
    currents, low-pass readout), subtractive reset. ``spike`` None: the chip's multi-spike
    neurons in the ``xylo`` precision, else binary spikes (Lava runs binary spikes only)."""
    from snnpipe.models.networks import WaveSenseNet

    n = config["n_neurons"]
    return WaveSenseNet(dilations=tuple(config["dilations"]), n_classes=2, n_channels_in=16,
                        n_channels_res=n, n_channels_skip=n, n_hidden=n,
                        kernel_size=config["kernel_size"], tau_mem=config["tau_mem"],
                        base_tau_syn=config["base_tau_syn"], tau_lp=config["tau_lp"],
                        threshold=config["threshold"],
                        spike=config["spike"] or ("multi" if config["precision"] == "xylo" else "binary"),
                        reset=config["reset"], precision=config["precision"])


def predict(output) -> np.ndarray:
    """The class with the larger output at the last step; output (batch, 2, time)."""
    return np.asarray(output)[..., -1].argmax(1)


def train(out_dir, epochs: int | None = None, seed: int = 0, device: str = "cpu",
          precision: str = "float", progress: bool = True, **overrides) -> dict:
    """Train with cross-entropy on the last step of the low-pass output (the tutorial's loss)
    on ``n_train`` samples of seed ``seed``; test on ``n_test`` samples of seed
    ``seed + 10000``. Writes the run files and ``confusion.png``, ``output.png``. Returns the
    test accuracy (0..1) and the paths."""
    from snnpipe.models.losses import LastStepCrossEntropy
    from snnpipe.models.recipes import common

    config = dict(DEFAULTS, precision=precision, seed=seed, **overrides)
    task = TemporalXOR()
    gen = common.seed_everything(seed)
    x, y = task.sample(config["n_train"], seed)
    xt, yt = task.sample(config["n_test"], seed + common.TEST_SEED_OFFSET)
    net = build(config)

    stats, history = common.fit(
        net, LastStepCrossEntropy(), common.loader(x, y, config["batch_size"], True, gen),
        common.loader(xt, yt, 256, False), epochs=DEFAULT_EPOCHS if epochs is None else epochs,
        lr=config["lr"], device=device, progress=progress, cosine=config["cosine"],
        classifier=lambda o: o[..., -1].argmax(1))
    net = net.cpu().eval()
    out = common.run_torch(net, xt)
    result = {"accuracy": float(np.mean(predict(out) == yt.numpy()))}
    paths = common.save_run(out_dir, NAME, net, config, stats, history, common.export_graph(net, config["precision"]), result)
    common.plot_confusion(f"{out_dir}/confusion.png", yt.numpy(), predict(out), 2,
                          "temporal XOR test set (torch)")
    common.plot_traces(f"{out_dir}/output.png", {f"class {k} (label {int(yt[i])})": out[i, k]
                                                 for i in range(2) for k in range(2)},
                       title="low-pass readout of two test samples")
    return {**result, **paths}


def test_set(config: dict, n: int | None = None, seed: int = 0) -> dict:
    """The held-out set: ``n`` samples (default ``n_test``) of seed ``seed + 10000``: ``x``
    (n, channels, steps) and ``labels`` (n,)."""
    from snnpipe.models.recipes import common

    x, y = TemporalXOR().sample(config["n_test"] if n is None else n,
                                seed + common.TEST_SEED_OFFSET)
    return {"x": x, "labels": y.numpy()}


def test_inputs(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` held-out inputs (n, channels, steps), drawn as :func:`test_set` draws ``n``."""
    return test_set(DEFAULTS, n, seed)["x"]


def score(config: dict, out: np.ndarray, data: dict) -> dict:
    """Accuracy of outputs (n, 2, steps): ``metrics``, ``predictions``, ``labels``."""
    pred = predict(out)
    return {"metrics": {"accuracy": float(np.mean(pred == data["labels"]))},
            "predictions": pred, "labels": data["labels"], "values": {}}


def plot(config: dict, out: np.ndarray, data: dict, path, title: str) -> None:
    """The confusion matrix of outputs (n, 2, steps) as ``path``."""
    from snnpipe.models.recipes import common

    common.plot_confusion(path, data["labels"], predict(out), 2, f"temporal XOR ({title})")
