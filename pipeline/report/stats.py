"""Statistics of a task metric on a held-out set: intervals, and the paired comparison of a
deployment with the trained model on the same samples.

- :func:`wilson`: the 95 % Wilson score interval of an accuracy (k correct of n);
- :func:`bootstrap`: a percentile bootstrap interval of the mean of per-sample values (a
  regression metric), with a fixed seed so that the same data give the same interval;
- :func:`mcnemar`: the exact McNemar test of paired predictions (a two-sided binomial test
  on the discordant pairs);
- :func:`paired`: how many samples changed their prediction between the trained model and a
  deployment, in which direction, with McNemar's p and the change per class.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import binomtest, norm

LEVEL = 0.95


def wilson(k: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval (lo, hi) of the proportion k / n (0..1); (0, 1) for n = 0."""
    if n == 0:
        return 0.0, 1.0
    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap(values, level: float = LEVEL, n_boot: int = 2000, seed: int = 0,
              statistic=np.mean) -> tuple[float, float]:
    """Percentile bootstrap interval (lo, hi) of ``statistic`` over per-sample ``values``
    (n,) (resampled with replacement ``n_boot`` times, generator seeded with ``seed``)."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, (n_boot, v.size))
    stats = np.apply_along_axis(statistic, 1, v[idx])
    alpha = (1 - level) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def mcnemar(worse: int, better: int) -> float:
    """Exact two-sided McNemar p-value of ``worse`` (right before, wrong after) against
    ``better`` (wrong before, right after) discordant pairs; 1.0 without any."""
    n = worse + better
    if n == 0:
        return 1.0
    return float(binomtest(min(worse, better), n, 0.5).pvalue)


def paired(before, after, labels, n_classes: int | None = None) -> dict:
    """The paired view of two prediction vectors (n,) on the same samples with true
    ``labels`` (n,): ``changed`` (predictions that differ), ``worse`` (right before, wrong
    after), ``better`` (wrong before, right after), ``p_mcnemar`` and ``per_class`` (true
    class -> {"n", "before", "after"} correct counts)."""
    before, after, labels = (np.asarray(a).reshape(-1) for a in (before, after, labels))
    ok_b, ok_a = before == labels, after == labels
    worse, better = int(np.sum(ok_b & ~ok_a)), int(np.sum(~ok_b & ok_a))
    classes = range(int(n_classes if n_classes is not None else labels.max(initial=-1) + 1))
    per_class = {int(c): {"n": int(np.sum(labels == c)), "before": int(np.sum(ok_b & (labels == c))),
                          "after": int(np.sum(ok_a & (labels == c)))} for c in classes}
    return {"n": int(labels.size), "changed": int(np.sum(before != after)), "worse": worse,
            "better": better, "p_mcnemar": mcnemar(worse, better), "per_class": per_class}


# ---- how the figures read -------------------------------------------------------------------

META = ("backend", "target", "n", "ci", "paired", "checked")


def metric_names(entry: dict) -> list:
    """The metric names of an evaluation entry (its numeric fields that are not metadata)."""
    return [k for k, v in entry.items() if k not in META and isinstance(v, (int, float))
            and not isinstance(v, bool)]


def metric_text(entry: dict, name: str) -> str:
    """``75.0 % [72.3, 77.5]`` for an accuracy, ``5.41 [5.08, 5.77]`` otherwise (95 % interval
    where the entry has one)."""
    v, ci = entry[name], entry.get("ci", {}).get(name)
    if name == "accuracy":
        return f"{100 * v:.1f} %" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")
    return f"{v:.4g}" + (f" [{ci[0]:.4g}, {ci[1]:.4g}]" if ci else "")


def change_text(entry: dict) -> str:
    """The paired view in words: ``3 of 1024 predictions changed (2 worse, 1 better; McNemar
    p = 1)``, and the differing output values of spike outputs; "" without a paired view."""
    p = entry.get("paired")
    if not p:
        return ""
    parts = []
    if "changed" in p:
        parts.append(f"{p['changed']} of {p['n']} predictions changed ({p['worse']} worse, "
                     f"{p['better']} better; McNemar p = {p['p_mcnemar']:.3g})")
    if "differing_outputs" in p:
        parts.append(f"{p['differing_outputs']} output values differ")
    return "; ".join(parts)


def check_text(entry: dict) -> str:
    """How a slow reference was checked: ``= intsim/loihi, sample for sample, on 16 of 16
    samples checked`` (its score is the simulator's on the whole set), or the mismatch."""
    c = entry.get("checked")
    if not c:
        return ""
    if c["equal"] == c["samples"]:
        return (f"= {c['against']}, sample for sample, on the {c['samples']} samples checked: "
                f"its score is {c['against']}'s on all {entry['n']}")
    return (f"DIFFERS from {c['against']} on {c['samples'] - c['equal']} of {c['samples']} "
            f"samples: scored on those {c['samples']} only")


def entry_line(key: str, entry: dict) -> str:
    """One line per implementation: metrics with intervals, n, and what changed."""
    metrics = ", ".join(f"{k} {metric_text(entry, k)}" for k in metric_names(entry))
    extra = [t for t in (change_text(entry), check_text(entry)) if t]
    return f"{key}: {metrics} (n = {entry['n']})" + (f"; {'; '.join(extra)}" if extra else "")
