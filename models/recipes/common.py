"""What every recipe shares: seeding, the training loop on the Assistant, the files a training
run writes, checkpoints, and running a trained network on each backend.

Tensors are (batch, channels, time). A training run writes into its folder:
``<name>.pt`` (checkpoint: recipe, config, state_dict, metrics), ``<name>.h5`` (the Graph,
:func:`snnpipe.pipeline.formats.hdf5.export`), ``stats.csv`` (loss and accuracy per epoch and phase),
``metrics.csv`` (the recipe's metric per evaluated epoch), ``metrics.json`` (the final
metrics), and PNG plots (``learning.png``, ``metric.png`` and the recipe's own).

Backends (``run_backend``): ``torch`` (the checkpoint's model), and the deployments through
the backend interface (:mod:`snnpipe.pipeline.backends`): ``lava-fixed`` (Lava's CPU simulator
in fixed point), ``intsim`` (the integer simulator of a target, from the network file or a
saved ``config.json``), aligned with the trained model by :func:`run_deployed`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from snnpipe.hwmap.targets.xylo import UNIT, XYLO_AUDIO2, decay_shift
from snnpipe.models.training import Assistant, LearningStats
from snnpipe.pipeline import backends
from snnpipe.pipeline.backends.artifacts import compile as compile_for
from snnpipe.pipeline.backends.artifacts import load as load_compiled
from snnpipe.pipeline.backends.base import Compiled, align
from snnpipe.pipeline.formats.hdf5 import load
from snnpipe.pipeline.ir.errors import FormatError, SnnpipeError

BACKENDS = ("torch", "lava-fixed", "intsim", "xylosim")
PRECISIONS = ("float", "loihi", "xylo")
TEST_SEED_OFFSET = 10_000       # held-out data: seed + TEST_SEED_OFFSET


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch's global generator (weight initialisation) and return a generator for
    shuffling."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class CountDataset(torch.utils.data.Dataset):
    """Samples stored compactly (uint8 event counts) and returned as float32 (channels, time)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x = x.to(torch.uint8) if bool((x == x.round()).all() and x.min() >= 0 and x.max() < 256) else x
        self.y = y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i].float(), self.y[i]


def loader(x, y, batch_size: int, shuffle: bool, generator=None):
    """A DataLoader over inputs x (n, channels, time) and targets y (n, ...)."""
    return torch.utils.data.DataLoader(CountDataset(x, y), batch_size=batch_size, shuffle=shuffle,
                                       generator=generator)


def fit(net, error, train, test, *, epochs: int, lr: float, device: str, classifier=None,
        bounds=None, metric=None, metric_every: int = 1, progress: bool = True,
        clip_grad: float | None = None, reduction: str = "mean", weight_decay: float = 0.0,
        cosine: bool = False):
    """Train ``net`` with Adam for ``epochs`` on the loader ``train``, validating on ``test``.

    ``metric(net) -> dict`` (optional) is evaluated every ``metric_every`` epochs and at the end.
    ``cosine`` anneals the learning rate to zero over the epochs.
    Returns ``(stats, metric_history)`` with ``metric_history`` a list of ``{"epoch", ...}``.
    """
    stats = LearningStats()
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=lr,
                           weight_decay=weight_decay)
    assistant = Assistant(net, error, opt, stats, classifier=classifier, device=device,
                          clip_grad=clip_grad, bounds=bounds, reduction=reduction,
                          progress=progress)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1)) if cosine else None
    history = []
    for epoch in range(epochs):
        assistant.train(train, epoch)
        if sched is not None:
            sched.step()
        if test is not None:
            assistant.valid(test, epoch)
        stats.update()
        if metric is not None and (epoch % metric_every == 0 or epoch == epochs - 1):
            history.append({"epoch": epoch, **metric(net)})
        if progress:
            extra = "" if not history else " | " + ", ".join(
                f"{k} {v:.4g}" for k, v in history[-1].items() if k != "epoch")
            print(f"epoch {epoch}: {stats}{extra}", flush=True)
    return stats, history


def export_graph(net, precision: str, *args):
    """``net.to_graph(*args)``; in the ``xylo`` precision, with the decays the precision
    computes (``2^-dash``, :func:`snnpipe.hwmap.targets.xylo.decay_shift`) and every weight into
    a neuron multiplied by ``1 - current_decay`` of the current it feeds.

    Why: the xylo precision adds the input before the current decays, ``u = (u + W s)(1 - d)``
    (as the chip does), while the Graph's float semantics are ``u = u (1 - d) + W' s`` and the
    Xylo mapper divides ``W'`` by ``1 - 2^-dash`` to reproduce them. The float-equivalent
    weight is ``W' = W (1 - d)``; :func:`snnpipe.models.block.base.weight_array` exports ``W``.
    With the effective decays the mapper finds the same shifts and divides by the same
    ``1 - 2^-dash``: the chip gets the trained integers back.
    """
    g = net.to_graph(*args)
    if precision != "xylo":
        return g
    for _, node in g.nodes(data=True):
        if node.get("kind") == "neuron":
            for key in ("current_decay", "voltage_decay"):
                old = node[key]
                new = np.exp2(-decay_shift(old).astype(np.float64))
                node[key] = np.asarray(new).reshape(np.shape(old)) \
                    if isinstance(old, np.ndarray) else float(new)
    for _, dst, data in g.edges(data=True):
        node = g.nodes[dst]
        if node.get("kind") != "neuron":
            continue
        cd = np.asarray(node["current_decay"], np.float64)
        cd = cd.reshape(int(node.get("n_syn", 1)), -1)[int(data.get("syn", 0))]
        keep = 1.0 - cd
        w = np.asarray(data["weight"], np.float64)
        if data["op"] == "dense":
            data["weight"] = w * keep.reshape(-1, 1)
        elif data["op"] == "identity":
            data["weight"] = np.asarray(w * (keep if keep.size > 1 else keep.reshape(())))
    return g


def save_run(out_dir, name: str, net, config: dict, stats, history, graph, metrics: dict) -> dict:
    """Write checkpoint, HDF5, stats CSV, metric CSV/JSON and the learning plots.

    Returns ``{"checkpoint", "hdf5", "stats", "metrics"}`` paths (str).
    """
    from snnpipe.pipeline.formats.hdf5 import export
    from snnpipe.pipeline.ir.atomic import atomic_path, write_text_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt, h5 = out / f"{name}.pt", out / f"{name}.h5"
    with atomic_path(ckpt, suffix=".pt") as tmp:
        torch.save({"recipe": name, "config": config, "metrics": metrics,
                    "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}}, tmp)
    export(graph, h5)
    stats.save_csv(out / "stats.csv")
    stats.plot(out / "learning.png")
    keys = [k for k in (history[0] if history else {}) if k != "epoch"]
    rows = ["epoch," + ",".join(keys)] + [
        f"{h['epoch']}," + ",".join(repr(float(h[k])) for k in keys) for h in history]
    write_text_atomic(out / "metrics.csv", "\n".join(rows) + "\n")
    write_text_atomic(out / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    if history:
        plot_metric(out / "metric.png", history)
    return {"checkpoint": str(ckpt), "hdf5": str(h5), "stats": str(out / "stats.csv"),
            "metrics": str(out / "metrics.json")}


def _figure(ncols: int = 1, size=(5, 3.5)):
    from snnpipe.pipeline.report.plots import figure

    return figure(ncols, size)


def _save(plt, fig, path) -> None:
    from snnpipe.pipeline.report.plots import save

    save(plt, fig, path)


def plot_metric(path, history) -> None:
    """Each metric of ``history`` against epoch, one panel each."""
    keys = [k for k in history[0] if k != "epoch"]
    plt, fig, axes = _figure(len(keys))
    for ax, k in zip(axes, keys):
        ax.plot([h["epoch"] for h in history], [h[k] for h in history], marker=".")
        ax.set(xlabel="epoch", ylabel=k)
    _save(plt, fig, path)


def plot_confusion(path, true, pred, n_classes: int, title: str = "") -> np.ndarray:
    """Confusion matrix (true rows, predicted columns, counts) as PNG; returns the matrix."""
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (np.asarray(true), np.asarray(pred)), 1)
    plt, fig, (ax,) = _figure(size=(4.5, 4))
    im = ax.imshow(cm, cmap="Blues", origin="lower")
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    fig.colorbar(im, ax=ax)
    _save(plt, fig, path)
    return cm


def plot_traces(path, traces: dict, dt: float = 1e-3, title: str = "") -> None:
    """Overlay 1-D signals (time,) sharing an axis in seconds; ``traces`` label -> array."""
    plt, fig, (ax,) = _figure(size=(8, 3))
    for label, y in traces.items():
        y = np.ravel(np.asarray(y))
        ax.plot(np.arange(y.size) * dt, y, label=label, lw=1)
    ax.set(xlabel="time (s)", title=title)
    ax.legend()
    _save(plt, fig, path)


def plot_rasters(path, rasters: dict, dt: float = 1e-3) -> None:
    """Spike rasters (channels, time) side by side; ``rasters`` label -> array."""
    from snnpipe.pipeline.report.plots import rasters as plot

    plot(path, rasters, dt)


# ---- checkpoints and backends ----------------------------------------------------------------

def resolve(path, name: str) -> dict:
    """The files of a run from a run folder, a checkpoint, an HDF5 file or a target config:
    ``{"checkpoint": Path | None, "hdf5": Path | None, "config": Path | None}``."""
    p = Path(path)
    if p.is_dir():
        if (p / "config.json").exists() and not (p / f"{name}.h5").exists():
            return {"checkpoint": None, "hdf5": None, "config": p / "config.json"}
        p = p / f"{name}.h5"
    if not p.exists():
        raise FormatError("no such file", where=str(p), expected="a run folder, .pt, .h5 or config.json")
    if p.suffix == ".json":
        return {"checkpoint": None, "hdf5": None, "config": p}
    ckpt, h5 = p.with_suffix(".pt"), p.with_suffix(".h5")
    return {"checkpoint": ckpt if ckpt.exists() else None, "hdf5": h5 if h5.exists() else None,
            "config": None}


def read_checkpoint(path) -> dict:
    """The checkpoint at ``path`` as :func:`save_run` writes it (``recipe``, ``config``,
    ``metrics``, ``state_dict``), read with ``torch.load(weights_only=True)``: tensors and plain
    data only, so that opening a run someone else trained never runs code from the file.

    Raises:
        FormatError: naming the file (and the field) when it is not such a checkpoint, for
            example a pickle that would import or call anything (refused, not executed).
    """
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:         # UnpicklingError for code, others for broken files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FormatError("not a checkpoint of tensors and plain data (a file that would run "
                          f"code when loaded is refused): {first[:200]}", file=path) from None
    if not isinstance(data, dict):
        raise FormatError("a checkpoint is a dict", file=path, found=type(data).__name__)
    for key, kind in (("config", dict), ("state_dict", dict)):
        if not isinstance(data.get(key), kind):
            raise FormatError("missing or malformed checkpoint entry", file=path, field=key,
                              expected=kind.__name__, found=type(data.get(key)).__name__)
    bad = [k for k, v in data["state_dict"].items() if not torch.is_tensor(v)]
    if bad:
        raise FormatError("state_dict entries must be tensors", file=path,
                          field=f"state_dict[{bad[0]!r}]")
    return data


def run_config(path, name: str, defaults: dict) -> dict:
    """The config saved with the run at ``path`` (``defaults`` when there is no checkpoint)."""
    ckpt = resolve(path, name)["checkpoint"]
    if ckpt is None:
        return dict(defaults)
    return dict(defaults, **read_checkpoint(ckpt)["config"])


def load_checkpoint(path, build):
    """``(net, config)`` from a checkpoint written by :func:`save_run` (read by
    :func:`read_checkpoint`); ``build(config) -> net``."""
    data = read_checkpoint(path)
    net = build(data["config"])
    net.load_state_dict(data["state_dict"])
    return net.eval(), data["config"]


def run_torch(net, x: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """The network's output (batch, out, time) as float64, without gradients, computed on
    the device of the network's parameters."""
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            outs.append(net(x[i:i + batch_size].float().to(device)).double().cpu().numpy())
    net.train(was_training)
    return np.concatenate(outs)


READOUT_OFFSET = -1   # a trained block's v is not delayed: it comes one step before the graph's


def run_deployed(network, x: np.ndarray, backend: str, options: dict | None = None,
                 state: str = "auto") -> np.ndarray:
    """The first output (batch, out, time) float64 of ``network`` (a Graph, or a
    :class:`~snnpipe.pipeline.backends.base.Compiled` configuration) on ``backend`` (a name of
    :data:`snnpipe.pipeline.backends.BACKENDS`, or ``intsim`` for a configuration), aligned
    with the trained torch model (:func:`snnpipe.pipeline.backends.base.align`): spikes as the
    graph's torch model, a ``v`` (an ``li`` readout's, or an output neuron's) one step
    earlier: a block delays its spikes by one step, not its v. ``state``: ``auto`` (a
    readout's v, else spike counts), ``spikes`` or ``v`` (the output neurons' v, e.g. Xylo's
    ``Vmem_out``); v is in float units where the backend has a fixed unit (Loihi: v / 4096),
    else in chip units. ``options``: the mapper's keyword arguments."""
    c = network if isinstance(network, Compiled) else compile_for(network, "graph")
    out = c.outputs[0]
    readout = _readout(c, out)
    want_v = state == "v" or (state == "auto" and readout)
    ref = READOUT_OFFSET if want_v else 0        # a block delays its spikes, not its v
    b = backends.resolve(backend, c)
    steps = x.shape[-1]
    lag = max(0, b.t_offset - ref)
    x = np.concatenate([np.asarray(x), np.zeros(x.shape[:-1] + (lag,), x.dtype)], -1)
    run = backends.run(c, b.name, x.astype(np.int64), record=want_v and not readout,
                       **(options or {}))
    pop = out if c.graph is not None else "output"
    y = run.pops[pop]["v"] if want_v and not readout else run.output
    y = align(np.asarray(y, np.float64), run.t_offset, ref)[..., :steps]
    return y / run.output_unit if want_v and run.output_unit else y


def _readout(c: Compiled, out: str) -> bool:
    """Whether the output ``out`` of ``c`` is a leaky readout (its output is v)."""
    if c.graph is not None:
        return c.graph.nodes[out].get("model") == "li"
    if c.target == "xylo":
        return c.artifact.readout
    return c.artifact.population(out).model == "li"


def wide_xylo(n_in: int, n_out: int):
    """Xylo Audio 2's limits widened to ``n_in`` input channels and ``n_out`` outputs (the
    recipes whose tutorials use 200 inputs or 12 classes; Xylo Audio 2 has 16 and 8)."""
    from dataclasses import replace

    return replace(XYLO_AUDIO2, name=f"xylo-audio2-wide-{n_in}in-{n_out}out",
                   n_in=max(n_in, XYLO_AUDIO2.n_in), n_out=max(n_out, XYLO_AUDIO2.n_out))


XYLO_TRAINED = {"scale": UNIT}
"""The ``quantize_and_map`` options of a network trained in the ``xylo`` precision: the chip
computes at that precision's scale (``UNIT`` state units per float unit) for hidden and output
neurons alike, so that it rounds and saturates where training did. (Recipe graphs of that
precision already carry float-equivalent weights, :func:`export_graph`: they are mapped
without ``decay_after_input``.)"""


def run_backend(path, name: str, build, x: torch.Tensor, backend: str, target: str,
                state: str = "auto", xylo_limits=None) -> np.ndarray:
    """Run input x (batch, channels, time) through the run at ``path`` on ``backend``.

    ``build(config) -> net`` rebuilds the torch model (``torch``: the checkpoint's model);
    ``lava-fixed`` runs the network file on Lava; ``intsim`` the integer simulator of
    ``target`` (``loihi`` | ``xylo``; a ``config.json`` path decides it by itself);
    ``xylosim`` SynSense's Xylo simulator. ``state``
    as :func:`run_deployed`; ``xylo_limits`` the Xylo variant the recipe deploys on; a
    network trained in the ``xylo`` precision is mapped at that precision's scale
    (:data:`XYLO_TRAINED`). Returns the first output (batch, out, time) float64.
    """
    if backend not in BACKENDS:
        raise SnnpipeError("unknown backend", field="backend", expected=BACKENDS, found=backend)
    files = resolve(path, name)
    if backend == "torch":
        if files["checkpoint"] is None:
            raise FormatError("the torch backend needs the checkpoint (.pt) next to the file",
                              where=str(path), field="checkpoint", expected=f"{name}.pt", found=None)
        net, _ = load_checkpoint(files["checkpoint"], build)
        return run_torch(net, x)
    if files["config"] is not None:
        if backend not in ("intsim", "xylosim"):
            raise FormatError("a target config runs only on the integer simulators", where=str(path),
                              field="backend", expected="intsim | xylosim", found=backend)
        c = load_compiled(files["config"])
        if c.target == "xylo" and xylo_limits is not None:
            c.options.setdefault("limits", xylo_limits)
        return run_deployed(c, x.numpy(), backend, state=state)
    if target not in ("loihi", "xylo"):
        raise SnnpipeError("unknown target", field="target", expected=("loihi", "xylo"), found=target)
    graph = load(files["hdf5"])
    options = {}
    target = "xylo" if backend == "xylosim" else target
    if backend != "lava-fixed" and target == "xylo":
        options["limits"] = xylo_limits or XYLO_AUDIO2
        if run_config(path, name, {"precision": "float"})["precision"] == "xylo":
            options.update(XYLO_TRAINED)
    name_of = backend if backend in ("lava-fixed", "xylosim") else f"intsim-{target}"
    return run_deployed(graph, x.numpy(), name_of, options, state)
