"""Plots of networks, spikes, training and deployments, written as PNG (and GIF) atomically.

Every function takes plain data (arrays, dicts, CSV paths) and a destination path; none
imports torch. Rasters are (channels, time) integer counts; time axes are in seconds when a
step ``dt`` (s) is given.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from snnpipe.pipeline.ir.atomic import atomic_path
from snnpipe.pipeline.ir.errors import FormatError


def figure(ncols: int = 1, size=(5.0, 3.5), nrows: int = 1):
    """``(plt, fig, axes)`` with the Agg backend; ``axes`` flat, one per panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return plt, fig, axes.ravel()


def save(plt, fig, path) -> Path:
    """Save ``fig`` as PNG at ``path`` (atomically) and close it."""
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)


def rasters(path, named: dict, dt: float = 1e-3, title: str = "", states=None) -> Path:
    """Rasters side by side, one panel per ``label -> (channels, time)`` array: spikes as a dot
    per non-zero count (larger for more events); the labels in ``states`` (e.g. a readout's
    membrane) as an image with a colour bar. ``states`` None: arrays with negative or
    fractional values are states."""
    plt, fig, axes = figure(len(named), size=(4.2, 3.4))
    for ax, (label, r) in zip(axes, named.items()):
        r = np.asarray(r)
        if r.ndim != 2:
            raise FormatError("a raster must be (channels, time)", field=label, found=r.shape)
        is_state = label in states if states is not None else bool((r < 0).any() or (r != np.round(r)).any())
        if is_state:
            im = ax.imshow(r, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                           extent=(0, r.shape[1] * dt, -0.5, r.shape[0] - 0.5))
            fig.colorbar(im, ax=ax)
            label = f"{label} (state)"
        else:
            c, t = np.nonzero(r)
            ax.scatter(t * dt, c, s=1 + 2 * np.minimum(r[c, t], 4), marker="|", lw=0.8, c="k")
        ax.set(xlabel="time (s)", ylabel="channel", title=label, xlim=(0, r.shape[1] * dt),
               ylim=(-0.5, r.shape[0] - 0.5))
    if title:
        fig.suptitle(title)
    return save(plt, fig, path)


def raster_gif(path, raster, *, shape=None, window: int = 5, fps: int = 10, scale: int | None = None) -> Path:
    """Animated GIF of a raster (channels, time).

    ``shape`` None: each frame shows the raster up to the current step (a sweep over time),
    ``window`` steps per frame. ``shape`` (C, H, W) or (H, W) with C * H * W = channels
    (slayer's layout, :mod:`snnpipe.pipeline.formats.events`): each frame is the events of ``window`` steps as
    an image, polarities side by side. ``scale`` enlarges pixels (default: to about 600 x 300).
    """
    from PIL import Image

    r = np.asarray(raster)
    if r.ndim != 2 or 0 in r.shape:
        raise FormatError("a raster must be (channels, time) with at least one of each",
                          field="raster", found=r.shape)
    steps = r.shape[1]
    starts = range(0, max(steps, 1), max(int(window), 1))
    frames = []
    if shape is None:
        on = (r > 0).astype(np.uint8)
        for s in starts:
            img = np.full(r.shape, 255, np.uint8)
            img[:, :s + window][on[:, :s + window] > 0] = 0
            img[:, min(s + window, steps - 1)] = np.where(on[:, min(s + window, steps - 1)] > 0, 0, 200)
            frames.append(img)
    else:
        shape = tuple(int(v) for v in shape)
        c, h, w = (1,) + shape if len(shape) == 2 else shape
        if c * h * w != r.shape[0]:
            raise FormatError("shape does not match the raster's channels", field="shape",
                              expected=r.shape[0], found=shape)
        top = max(int(r.max()), 1)
        for s in starts:
            counts = r[:, s:s + window].sum(axis=1).reshape(c, h, w)
            img = np.concatenate(list(counts), axis=1) if c > 1 else counts[0]
            frames.append((255 - np.minimum(img * 255 // top, 255)).astype(np.uint8))
    h, w = frames[0].shape
    sx, sy = (scale, scale) if scale else (max(1, 600 // w), max(1, 300 // h))
    if not scale and shape is not None:
        sx = sy = min(sx, sy)
    images = [Image.fromarray(f).resize((w * sx, h * sy), Image.NEAREST) for f in frames]
    with atomic_path(path, suffix=".gif") as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=int(1000 / max(fps, 1)), loop=0)
    return Path(path)


def read_stats(path) -> dict:
    """A ``stats.csv`` (``epoch,phase,loss,accuracy``) as ``{phase: {"loss": [...],
    "accuracy": [...]}}``; missing values are NaN."""
    out: dict = {}
    try:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                d = out.setdefault(row["phase"], {"loss": [], "accuracy": []})
                for k in ("loss", "accuracy"):
                    v = row.get(k)
                    d[k].append(float(v) if v not in (None, "", "None") else float("nan"))
    except (KeyError, ValueError) as e:
        raise FormatError(f"not a stats.csv ({e})", file=path) from None
    return out


def training_curves(path, stats: dict, metric_history: list | None = None) -> Path:
    """Loss and accuracy per epoch for each phase (``read_stats`` layout), and the task metric
    per epoch (``[{"epoch", name: value}]``) when given."""
    keys = [k for k in (metric_history[0] if metric_history else {}) if k != "epoch"]
    plt, fig, axes = figure(2 + len(keys), size=(3.8, 3.0))
    for phase, d in stats.items():
        for ax, k in zip(axes, ("loss", "accuracy")):
            y = np.asarray(d[k], float)
            if np.isfinite(y).any():
                ax.plot(np.arange(y.size), y, marker=".", label=phase)
    for ax, k in zip(axes, ("loss", "accuracy")):
        ax.set(xlabel="epoch", ylabel=k)
        if ax.lines:
            ax.legend()
    for ax, k in zip(axes[2:], keys):
        ax.plot([h["epoch"] for h in metric_history], [h[k] for h in metric_history], marker=".",
                color="C2")
        ax.set(xlabel="epoch", ylabel=k, title="test metric")
    return save(plt, fig, path)


def loihi_cores(path, report: dict) -> Path:
    """The core map of a Loihi-style resource report: per core, neuron and synapse-memory
    utilisation, coloured by population, chips separated."""
    cores = report["cores"]
    plt, fig, axes = figure(1, size=(max(5.0, 0.35 * len(cores) + 2), 3.4))
    ax = axes[0]
    pops = list(dict.fromkeys(c["pop"] for c in cores))
    x = np.arange(len(cores))
    colors = [f"C{pops.index(c['pop']) % 10}" for c in cores]
    ax.bar(x - 0.2, [100 * c["neuron_util"] for c in cores], 0.4, color=colors, label="neurons")
    ax.bar(x + 0.2, [100 * c["memory_util"] for c in cores], 0.4, color=colors, alpha=0.45,
           hatch="//", label="synapse memory")
    for i in range(1, len(cores)):
        if cores[i]["chip"] != cores[i - 1]["chip"]:
            ax.axvline(i - 0.5, color="k", ls="--", lw=0.8)
    ax.set(xticks=x, xlabel="core", ylabel="utilisation (%)", ylim=(0, 105),
           title=f"Loihi-style core map: {report['totals']['cores']} cores, "
                 f"{report['totals']['chips']} chip(s)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{i % 10}") for i in range(len(pops))]
    ax.legend(handles, pops, fontsize=7, title="solid: neurons, hatched: memory",
              title_fontsize=7, loc="upper right")
    return save(plt, fig, path)


def xylo_resources(path, report: dict) -> Path:
    """Used / limit of each Xylo resource (input channels, hidden and output neurons, fan-out,
    weight shifts) as horizontal bars."""
    items = [("input channels", report["input_channels"]["used"], report["input_channels"]["limit"]),
             ("hidden neurons", report["hidden_neurons"]["used"], report["hidden_neurons"]["limit"]),
             ("output neurons", report["output_neurons"]["used"], report["output_neurons"]["limit"]),
             ("max fan-out", report["fan_out"]["max"], report["fan_out"]["limit"])]
    plt, fig, axes = figure(1, size=(6.0, 2.6))
    ax = axes[0]
    frac = [100 * u / max(lim, 1) for _, u, lim in items]
    ax.barh(range(len(items)), frac, color=["C3" if f > 100 else "C0" for f in frac])
    for i, (_, u, lim) in enumerate(items):
        ax.text(min(frac[i], 100) + 1, i, f"{u} / {lim}", va="center", fontsize=8)
    ax.set(yticks=range(len(items)), yticklabels=[n for n, _, _ in items], xlim=(0, 130),
           xlabel="% of the limit", title=f"{report['target']}: resources used")
    ax.invert_yaxis()
    return save(plt, fig, path)


def energy(path, estimates: dict) -> Path:
    """Energy per inference (J, log scale) and latency per step (s) of each deployment;
    ``estimates``: label -> ``{"energy_j": float, "latency_step_s": float}``."""
    labels = list(estimates)
    plt, fig, axes = figure(2, size=(3.6, 2.8))
    e = [estimates[k]["energy_j"] for k in labels]
    lat = [estimates[k]["latency_step_s"] for k in labels]
    axes[0].bar(labels, e, color="C1")
    axes[0].set(yscale="log", ylabel="energy per inference (J)", title="energy (estimate)")
    axes[1].bar(labels, [v * 1e6 for v in lat], color="C4")
    axes[1].set(ylabel="latency per step (us)", title="latency (estimate)")
    for ax in axes:
        ax.tick_params(axis="x", labelsize=8)
    return save(plt, fig, path)


def verification(path, reports: dict) -> Path:
    """The verification tables as an image: per target, one row per compared item and one
    column per implementation compared with the reference, the number of differing values in
    a green (0) or red cell. ``reports``: target -> :meth:`snnpipe.pipeline.verify.chain.VerifyReport.to_dict`."""
    rows, cols = [], []
    for target, rep in reports.items():
        for o in rep["implementations"][1:]:
            if o not in cols:
                cols.append(o)
        rows += [(f"{target}: {r['kind'][:3]} {r['node']}.{r['var']}", r["diffs"]) for r in rep["rows"]]
    if not rows:
        raise FormatError("nothing to draw: no verification rows", field="reports")
    plt, fig, (ax,) = figure(1, size=(2.2 + 1.6 * len(cols), 0.6 + 0.28 * len(rows)))
    cells = [[str(d.get(c, "-")) for c in cols] for _, d in rows]
    colours = [["#f2f2f2" if c not in d else "#c8f0c8" if d[c] == 0 else "#f4b6b6" for c in cols]
               for _, d in rows]
    table = ax.table(cellText=cells, cellColours=colours, rowLabels=[n for n, _ in rows],
                     colLabels=[f"vs {c}" for c in cols], loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    ax.axis("off")
    refs = ", ".join(f"{t}: {r['reference']}" for t, r in reports.items())
    ax.set_title(f"differing values against the reference ({refs})", fontsize=9)
    return save(plt, fig, path)
