"""Training loop helpers: :class:`Assistant` (train / valid / test over a DataLoader) and
:class:`LearningStats` (loss and accuracy per epoch, best tracking, CSV, PNG plot)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

PHASES = ("train", "valid", "test")


@dataclass
class _Running:
    loss_sum: float = 0.0
    samples: int = 0
    correct: int = 0
    counted: bool = False


@dataclass
class LearningStats:
    """Loss and accuracy of each phase, one entry per epoch.

    ``history[phase]`` is a list of ``{"loss": float, "accuracy": float | nan}``; ``best``
    holds the best loss (lowest) and accuracy (highest) per phase with their epochs.
    """

    history: dict = field(default_factory=lambda: {p: [] for p in PHASES})
    best: dict = field(default_factory=dict)
    _running: dict = field(default_factory=lambda: {p: _Running() for p in PHASES})

    def add(self, phase: str, loss_sum: float, samples: int, correct: int | None = None) -> None:
        """Accumulate a batch: summed loss over its ``samples``, and its correct predictions."""
        r = self._running[phase]
        r.loss_sum += float(loss_sum)
        r.samples += int(samples)
        if correct is not None:
            r.correct += int(correct)
            r.counted = True

    def current(self, phase: str) -> dict:
        """Running mean loss and accuracy of the epoch in progress."""
        r = self._running[phase]
        loss = r.loss_sum / r.samples if r.samples else math.nan
        acc = r.correct / r.samples if (r.samples and r.counted) else math.nan
        return {"loss": loss, "accuracy": acc}

    def update(self) -> None:
        """Close the epoch: store each phase that saw data and track the best values."""
        for phase in PHASES:
            if not self._running[phase].samples:
                continue
            entry = self.current(phase)
            self.history[phase].append(entry)
            epoch = len(self.history[phase]) - 1
            best = self.best.setdefault(phase, {"loss": math.inf, "loss_epoch": None,
                                                "accuracy": -math.inf, "accuracy_epoch": None})
            if entry["loss"] < best["loss"]:
                best.update(loss=entry["loss"], loss_epoch=epoch)
            if not math.isnan(entry["accuracy"]) and entry["accuracy"] > best["accuracy"]:
                best.update(accuracy=entry["accuracy"], accuracy_epoch=epoch)
            self._running[phase] = _Running()

    def is_best(self, phase: str = "valid", metric: str = "loss") -> bool:
        """True when the last closed epoch of ``phase`` holds the best ``metric``."""
        hist = self.history.get(phase) or []
        return bool(hist) and self.best[phase][f"{metric}_epoch"] == len(hist) - 1

    def __str__(self) -> str:
        parts = []
        for phase in PHASES:
            if self.history[phase]:
                e = self.history[phase][-1]
                s = f"{phase} loss {e['loss']:.5g}"
                if not math.isnan(e["accuracy"]):
                    s += f" acc {e['accuracy']:.4f}"
                parts.append(s)
        return " | ".join(parts)

    def save_csv(self, path) -> None:
        """Write ``epoch,phase,loss,accuracy`` rows (atomically)."""
        from snnpipe.pipeline.ir.atomic import write_text_atomic

        rows = ["epoch,phase,loss,accuracy"]
        for phase in PHASES:
            for i, e in enumerate(self.history[phase]):
                rows.append(f"{i},{phase},{e['loss']!r},{e['accuracy']!r}")
        write_text_atomic(path, "\n".join(rows) + "\n")

    def plot(self, path) -> None:
        """Loss (and accuracy when measured) against epoch, saved as PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from snnpipe.pipeline.ir.atomic import atomic_path

        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        for phase in PHASES:
            hist = self.history[phase]
            if hist:
                axes[0].plot([e["loss"] for e in hist], label=phase)
                axes[1].plot([e["accuracy"] for e in hist], label=phase)
        axes[0].set(xlabel="epoch", ylabel="loss", yscale="log")
        axes[1].set(xlabel="epoch", ylabel="accuracy")
        for ax in axes:
            ax.legend()
        fig.tight_layout()
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=100, format="png")
        plt.close(fig)


class Assistant:
    """Runs a network over DataLoaders of ``(input, target)`` batches.

    Args:
        net: the module; moved to ``device`` (default: cuda when available, else cpu).
        error: ``loss(output, target)`` with sum or mean reduction (``reduction`` says which).
        optimizer: a torch optimizer over ``net``'s parameters.
        stats: a :class:`LearningStats` to fill (optional).
        classifier: ``output -> predicted labels`` to count accuracy (optional).
        clip_grad: max gradient norm (optional).
        bounds: a :class:`snnpipe.models.bounds.Bounds` clamped after each step (optional).
        progress: show tqdm bars (on a terminal only: tqdm's own rule; a log gets the one line
            per epoch that the training loop prints).
    """

    def __init__(self, net, error, optimizer, stats: LearningStats | None = None,
                 classifier=None, device=None, clip_grad: float | None = None, bounds=None,
                 reduction: str = "sum", progress: bool = True):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = net.to(self.device)
        self.error, self.optimizer, self.stats = error, optimizer, stats
        self.classifier, self.clip_grad, self.bounds = classifier, clip_grad, bounds
        self.reduction, self.progress = reduction, progress

    def _batch(self, phase: str, x, target):
        x, target = x.to(self.device), target.to(self.device)
        out = self.net(x)
        loss = self.error(out, target)
        if phase == "train":
            self.optimizer.zero_grad()
            loss.backward()
            if self.clip_grad is not None:
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip_grad)
            self.optimizer.step()
            if self.bounds is not None:
                self.bounds.clamp_(self.net)
        n = x.shape[0]
        correct = None
        if self.classifier is not None:
            correct = int((self.classifier(out.detach()) == target).sum())
        if self.stats is not None:
            total = loss.item() * (n if self.reduction == "mean" else 1)
            self.stats.add(phase, total, n, correct)
        return loss.item()

    def _run(self, phase: str, loader, epoch=None) -> float:
        self.net.train(phase == "train")
        losses = []
        bar = tqdm(loader, desc=f"{phase} {'' if epoch is None else epoch}".strip(),
                   disable=None if self.progress else True, leave=False)
        with torch.set_grad_enabled(phase == "train"):
            for x, target in bar:
                losses.append(self._batch(phase, x, target))
                if self.stats is not None:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in self.stats.current(phase).items()})
        return sum(losses) / max(len(losses), 1)

    def train(self, loader, epoch=None) -> float:
        """One epoch of training; returns the mean batch loss."""
        return self._run("train", loader, epoch)

    def valid(self, loader, epoch=None) -> float:
        """Evaluate without gradients (dropout off); returns the mean batch loss."""
        return self._run("valid", loader, epoch)

    def test(self, loader, epoch=None) -> float:
        """As :meth:`valid`, counted under ``test``."""
        return self._run("test", loader, epoch)
