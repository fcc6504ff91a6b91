"""Intervals and paired tests of a held-out metric, against scipy on known tables."""
import numpy as np
import pytest
from scipy.stats import binomtest

from snnpipe.pipeline.report.stats import bootstrap, mcnemar, paired, wilson


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (74, 100), (761, 1024), (1, 1)])
def test_wilson_interval_equals_scipys(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_of_no_samples_is_the_whole_range():
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("worse,better", [(0, 0), (0, 5), (3, 7), (12, 4), (40, 60)])
def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_pairs(worse, better):
    expected = 1.0 if worse + better == 0 else binomtest(worse, worse + better, 0.5).pvalue
    assert mcnemar(worse, better) == pytest.approx(expected, abs=1e-15)
    assert mcnemar(worse, better) == mcnemar(better, worse)


def test_mcnemar_of_a_known_table():
    # 8 discordant pairs all one way: p = 2 * 0.5^8
    assert mcnemar(8, 0) == pytest.approx(2 * 0.5 ** 8)


def test_paired_counts_changes_by_direction_and_class():
    labels = np.array([0, 0, 1, 1, 2, 2])
    before = np.array([0, 1, 1, 1, 2, 0])
    after = np.array([0, 1, 0, 1, 2, 2])
    p = paired(before, after, labels)
    assert (p["n"], p["changed"], p["worse"], p["better"]) == (6, 2, 1, 1)
    assert p["per_class"] == {0: {"n": 2, "before": 1, "after": 1},
                              1: {"n": 2, "before": 2, "after": 1},
                              2: {"n": 2, "before": 1, "after": 2}}
    assert p["p_mcnemar"] == 1.0


def test_identical_predictions_change_nothing():
    y = np.arange(20) % 4
    p = paired(y, y.copy(), (y + 1) % 4)
    assert p["changed"] == p["worse"] == p["better"] == 0 and p["p_mcnemar"] == 1.0


def test_bootstrap_covers_the_mean_and_repeats_with_the_seed():
    values = np.random.default_rng(1).normal(3.0, 1.0, 400)
    lo, hi = bootstrap(values, seed=7)
    assert lo < values.mean() < hi and hi - lo < 0.3
    assert bootstrap(values, seed=7) == (lo, hi)
    assert bootstrap(values, seed=8) != (lo, hi)
