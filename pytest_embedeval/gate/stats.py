"""The statistics behind every gate: is a change real, and is it large?

Both questions matter: significance alone fires on changes too small to
matter; size alone fires on noise.  The design and its measured noise are in
docs/gates.md.
"""

from __future__ import annotations

import math
import statistics
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

from pytest_embedeval.measure.sts import average_ranks, correlations

ALPHA = 0.01  # the speed gate's false-alarm rate, all spent on its second look
MEMORY_NOISE_MB = 32.0  # private-memory growth smaller than this is allocator noise (docs/gates.md)


def _spearman_rows(gold: Any, predicted: Any, axis: int = -1) -> Any:
    """Spearman x100 along ``axis``, vectorised for the bootstrap's resamples."""
    import numpy as np
    from scipy.stats import rankdata

    a = rankdata(gold, axis=axis)
    b = rankdata(predicted, axis=axis)
    a = a - a.mean(axis=axis, keepdims=True)
    b = b - b.mean(axis=axis, keepdims=True)
    return 100.0 * (a * b).sum(axis=axis) / np.sqrt((a * a).sum(axis=axis) * (b * b).sum(axis=axis))


@dataclass(frozen=True)
class AccuracyChange:
    baseline: float  # Spearman x100 of the baseline's cosines
    current: float
    delta: float  # current - baseline, points
    low: float  # confidence interval of delta
    high: float


def spearman_change(gold: Sequence[float], baseline: Sequence[float], current: Sequence[float], *,
                    confidence: float, seed: int, resamples: int = 2000) -> AccuracyChange:
    """Paired bootstrap of the change in Spearman over the same pairs (scipy.stats.bootstrap, BCa)."""
    import numpy as np

    # baselines keep float32 cosines: compare at that precision, so an identical model is identical
    g = np.asarray(gold, dtype=np.float64)
    b, c = (np.asarray(x, dtype=np.float32).astype(np.float64) for x in (baseline, current))
    before, after = correlations(g, b)[0], correlations(g, c)[0]
    # Spearman sees only the order of the scores.  When both order the pairs alike (ties included), every
    # resample gives both the same correlation: the change is exactly zero, with no resampling and no scipy
    # import.  That is the common case of an unchanged model on another CPU: measured between an AMD EPYC
    # and an Intel Xeon, 1,183 of 1,500 STS-B dev cosines differed (by at most 3e-7), no pair changed rank.
    if np.array_equal(average_ranks(b), average_ranks(c)):
        return AccuracyChange(before, after, 0.0, 0.0, 0.0)
    from scipy.stats import bootstrap

    def delta(gs: Any, bs: Any, cs: Any, axis: int = -1) -> Any:
        return _spearman_rows(gs, cs, axis) - _spearman_rows(gs, bs, axis)

    interval = None
    for method in ("BCa", "percentile"):  # BCa is undefined for a near-constant change; fall back
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns when BCa degenerates; we check for NaN instead
            interval = bootstrap((g, b, c), delta, paired=True, vectorized=True, n_resamples=resamples, batch=250,
                                 confidence_level=confidence, method=method,
                                 rng=np.random.default_rng(seed)).confidence_interval
        if np.isfinite([interval.low, interval.high]).all():
            break
    low, high = float(interval.low), float(interval.high)
    return AccuracyChange(before, after, after - before, low, high)


def drop_fails(change: AccuracyChange, max_drop: float) -> bool:
    """The one accuracy convention, for the gate and the acceptance check alike: the burden of proof is on
    the drop.  It fails when it is larger than ``max_drop`` and real (its interval lies below zero)."""
    return change.delta < -max_drop and change.high < 0


def drop_resolves(change: AccuracyChange, max_drop: float) -> float:
    """The smallest drop (points) this comparison could call real: the interval's half-width, at least ``max_drop``."""
    return max(max_drop, (change.high - change.low) / 2)


@dataclass(frozen=True)
class SpeedChange:
    ratio: float  # median(current) / median(baseline), after calibration scaling
    low: float
    high: float
    p_value: float  # one-sided Mann-Whitney: current slower than baseline


def latency_change(baseline: Sequence[float], current: Sequence[float], *, confidence: float, seed: int,
                   resamples: int = 2000) -> SpeedChange:
    """Median ratio with a bootstrap interval, and the one-sided Mann-Whitney p-value."""
    import numpy as np
    from scipy.stats import bootstrap, mannwhitneyu

    base = np.asarray(baseline, dtype=np.float64)
    now = np.asarray(current, dtype=np.float64)

    def ratio(c: Any, b: Any, axis: int = -1) -> Any:
        return np.median(c, axis=axis) / np.median(b, axis=axis)

    interval = bootstrap((now, base), ratio, vectorized=True, n_resamples=resamples, confidence_level=confidence,
                         method="percentile", rng=np.random.default_rng(seed)).confidence_interval
    p_value = float(mannwhitneyu(now, base, alternative="greater").pvalue)
    return SpeedChange(float(ratio(now, base)), float(interval.low), float(interval.high), p_value)


def speed_fails(change: SpeedChange, *, max_slowdown: float, alpha: float) -> bool:
    return change.p_value < alpha and change.ratio > 1.0 + max_slowdown


def growth_fails(baseline: float | None, current: float | None, max_growth: float, floor: float = 0.0) -> bool:
    """Grown beyond ``max_growth`` (a fraction) and by more than ``floor`` (in the figure's unit)."""
    return (baseline is not None and current is not None and current > baseline * (1.0 + max_growth)
            and current - baseline > floor)


@dataclass(frozen=True)
class Slowdown:
    """The speed gate on one layer: log-ratio windows now against the baseline's windows."""

    ratio: float  # exp(mean now - mean then): x1.10 is 10% slower
    low: float  # the confidence interval of the ratio
    high: float
    resolves: float  # the smallest slowdown this comparison could call real (a fraction: 0.07)
    decision: str  # "fail", "pass" or "more" (take the second look)


def slowdown(baseline: Sequence[float], current: Sequence[float], *, tolerance: float, process_noise: float,
             final: bool, alpha: float = ALPHA, confidence: float = 0.95) -> Slowdown:
    """A two-look sequential test of a slowdown, in log units, registered before any data (docs/gates.md).

    The unit is the window (yardstick.Window), not the round.  The standard error adds the
    windows' own spread (pooled over baseline and current) to ``process_noise``, the offset one
    fresh process has against another, which windows of one process cannot show.  The first look
    (one window, not ``final``) can only pass, when the estimate is below half the tolerance, or ask
    for ``more`` windows; the second look (``final``) decides on all windows pooled: it fails when
    the slowdown is larger than ``tolerance`` and significant at ``alpha``.  No look but the last
    can fail, so the false-alarm rate is ``alpha``'s, and one noisy window cannot fail a test alone.
    """
    from scipy.stats import norm

    then, now = list(baseline), list(current)
    mean_then, mean_now = statistics.fmean(then), statistics.fmean(now)
    squares = sum((x - mean_then) ** 2 for x in then) + sum((x - mean_now) ** 2 for x in now)
    freedom = len(then) + len(now) - 2
    spread = math.sqrt(squares / freedom) if freedom > 0 else 0.0
    error = math.sqrt(spread ** 2 * (1 / len(then) + 1 / len(now)) + 2 * process_noise ** 2)
    shift, limit = mean_now - mean_then, math.log1p(tolerance)
    z_fail = float(norm.ppf(1 - alpha))
    z_interval = float(norm.ppf(0.5 + confidence / 2))
    if not final:
        decision = "pass" if shift < limit / 2 else "more"
    else:
        decision = "fail" if shift > limit and shift > z_fail * error else "pass"
    return Slowdown(math.exp(shift), math.exp(shift - z_interval * error), math.exp(shift + z_interval * error),
                    max(math.expm1(z_fail * error), tolerance), decision)


def mean_change(baseline: Sequence[float], current: Sequence[float], *, confidence: float, seed: int,
                resamples: int = 2000) -> AccuracyChange:
    """Paired bootstrap of the change in a per-query mean (nDCG@10 x100) over the same queries (BCa, seeded)."""
    import numpy as np

    # baselines keep float32 figures: compare at that precision, so an unchanged model is unchanged
    b, c = (100.0 * np.asarray(x, dtype=np.float32).astype(np.float64) for x in (baseline, current))
    before, after = float(b.mean()), float(c.mean())
    if np.array_equal(b, c):
        return AccuracyChange(before, after, 0.0, 0.0, 0.0)
    from scipy.stats import bootstrap

    interval = None
    for method in ("BCa", "percentile"):  # BCa is undefined for a near-constant change; fall back
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interval = bootstrap((c - b,), np.mean, vectorized=True, n_resamples=resamples, batch=250,
                                 confidence_level=confidence, method=method,
                                 rng=np.random.default_rng(seed)).confidence_interval
        if np.isfinite([interval.low, interval.high]).all():
            break
    return AccuracyChange(before, after, after - before, float(interval.low), float(interval.high))
