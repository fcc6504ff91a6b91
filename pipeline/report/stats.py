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
