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

from pytest_embedeval.gate.verdict import Status


ALPHA = 0.01  # the speed gate's false-alarm rate, all spent on its second look
MEMORY_NOISE_MB = 32.0  # private-memory growth smaller than this is allocator noise (docs/gates.md)


@dataclass(frozen=True)
class AccuracyChange:
    baseline: float  # the main score in points (Spearman x100, accuracy x100 ...) of the baseline's items
    current: float
    delta: float  # current - baseline, points
    low: float  # confidence interval of delta
    high: float


def paired_change(kind: Any, shared: tuple[Any, ...], baseline: Sequence[float], current: Sequence[float], *,
                  confidence: float, seed: int, resamples: int = 2000) -> AccuracyChange:
    """Paired bootstrap (scipy.stats.bootstrap, BCa, seeded) of the change in an accuracy kind's main score over
    the same items: ``kind.score(*shared, items)`` in points; ``kind.unchanged`` short-cuts to exactly zero."""
    import numpy as np

    # baselines keep float32 per-item scores: compare at that precision, so an unchanged model is unchanged
    b, c = (np.asarray(x, dtype=np.float32).astype(np.float64) for x in (baseline, current))
    common = tuple(np.asarray(x, dtype=np.float64) for x in shared)
    before, after = float(kind.score(*common, b)), float(kind.score(*common, c))
    if kind.unchanged(b, c):  # no resampling, no scipy import
        return AccuracyChange(before, after, 0.0, 0.0, 0.0)

    def delta(*arrays: Any, axis: int = -1) -> Any:
        *fixed, bs, cs = arrays
        return kind.score(*fixed, cs, axis=axis) - kind.score(*fixed, bs, axis=axis)

    low, high = _bootstrap_interval((*common, b, c), delta, paired=True, confidence=confidence, seed=seed,
                                    resamples=resamples)
    return AccuracyChange(before, after, after - before, low, high)


def _bootstrap_interval(data: tuple[Any, ...], statistic: Any, *, paired: bool, confidence: float, seed: int,
                        resamples: int) -> tuple[float, float]:
    """scipy's seeded, vectorised bootstrap interval: BCa, or percentile where BCa is undefined (a
    near-constant change makes BCa's acceleration NaN)."""
    import numpy as np
    from scipy.stats import bootstrap

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns when BCa degenerates; we check for NaN instead
            interval = bootstrap(data, statistic, paired=paired, vectorized=True, n_resamples=resamples, batch=250,
                                 confidence_level=confidence, method=method,
                                 rng=np.random.default_rng(seed)).confidence_interval
        if np.isfinite([interval.low, interval.high]).all():
            break
    return float(interval.low), float(interval.high)


def spearman_change(gold: Sequence[float], baseline: Sequence[float], current: Sequence[float], *,
                    confidence: float, seed: int, resamples: int = 2000) -> AccuracyChange:
    """The change in STS Spearman over the same pairs."""
    from pytest_embedeval.measure.sts import KIND

    return paired_change(KIND, (gold,), baseline, current, confidence=confidence, seed=seed, resamples=resamples)


def drop_fails(change: AccuracyChange, max_drop: float) -> bool:
    """The one accuracy convention, for the gate and the acceptance check alike: the burden of proof is on
    the drop.  It fails when it is larger than ``max_drop`` and real (its interval lies below zero)."""
    return change.delta < -max_drop and change.high < 0


def drop_resolves(change: AccuracyChange, max_drop: float) -> float:
    """The smallest drop (points) this comparison could call real: the interval's half-width, at least ``max_drop``."""
    return max(max_drop, (change.high - change.low) / 2)


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
    decision: Status  # PASS, FAIL or MORE (take the second look)


def slowdown(baseline: Sequence[float], current: Sequence[float], *, tolerance: float, process_noise: float,
             final: bool, offset_noise: float = 0.0, alpha: float = ALPHA, confidence: float = 0.95) -> Slowdown:
    """A two-look sequential test of a slowdown, in log units, registered before any data (docs/gates.md).

    The unit is the window (yardstick.Window), not the round.  The standard error adds the
    windows' own spread (pooled over baseline and current) to ``process_noise``, the offset one
    fresh process has against another, which windows of one process cannot show.  The first look
    (one window, not ``final``) can only pass, when the estimate is below half the tolerance, or ask
    for ``more`` windows; the second look (``final``) decides on all windows pooled: it fails when
    the slowdown is larger than ``tolerance`` and significant at ``alpha``.  No look but the last
    can fail, so the false-alarm rate is ``alpha``'s, and one noisy window cannot fail a test alone.
    ``offset_noise`` is what neither shows, added once: the offset of one host against another of the
    same kind when the baseline came from another host, and the extra spread of a busy machine.
    """
    then, now = list(baseline), list(current)
    mean_then, mean_now = statistics.fmean(then), statistics.fmean(now)
    squares = sum((x - mean_then) ** 2 for x in then) + sum((x - mean_now) ** 2 for x in now)
    freedom = len(then) + len(now) - 2
    spread = math.sqrt(squares / freedom) if freedom > 0 else 0.0
    error = math.sqrt(spread ** 2 * (1 / len(then) + 1 / len(now)) + 2 * process_noise ** 2 + offset_noise ** 2)
    return _decide(mean_now - mean_then, error, tolerance, final, alpha, confidence)


def ratio_slowdown(windows: Sequence[float], *, tolerance: float, process_noise: float, alpha: float = ALPHA,
                   confidence: float = 0.95) -> Slowdown:
    """The model-upgrade check's speed test: windows of log(candidate / incumbent) timed in one process.

    The gate's design with one process instead of two: the windows' own standard error plus
    ``process_noise`` once (the offset a ratio of two models has from one fresh process to the
    next); it fails when the slowdown is larger than ``tolerance`` and significant at ``alpha``.
    """
    values = list(windows)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    error = math.sqrt(spread ** 2 / len(values) + process_noise ** 2)
    return _decide(statistics.fmean(values), error, tolerance, True, alpha, confidence)


def process_slowdown(pairs: Sequence[float], *, tolerance: float, alpha: float = ALPHA,
                     confidence: float = 0.95) -> Slowdown:
    """Two stacks side by side: one log ratio (new / old) per pair of fresh processes that took turns.

    Each pair is a replicate, so the process noise is not assumed but measured: a one-sample Student's
    t over the pairs (few pairs, so t and not the normal quantile).  It fails when the slowdown is
    larger than ``tolerance`` and significant at ``alpha``.
    """
    values = list(pairs)
    error = statistics.stdev(values) / math.sqrt(len(values))
    return _decide(statistics.fmean(values), error, tolerance, True, alpha, confidence, len(values) - 1)


def _decide(shift: float, error: float, tolerance: float, final: bool, alpha: float, confidence: float,
            freedom: int | None = None) -> Slowdown:
    """The registered decision on a log-ratio ``shift`` with standard ``error`` (see :func:`slowdown`);
    Student's t quantiles with ``freedom`` degrees of freedom, else the normal's."""
    from scipy.stats import norm, t

    quantile = norm.ppf if freedom is None else (lambda q: t.ppf(q, freedom))
    limit = math.log1p(tolerance)
    z_fail, z_interval = float(quantile(1 - alpha)), float(quantile(0.5 + confidence / 2))
    if not final:
        decision = Status.PASS if shift < limit / 2 else Status.MORE
    else:
        decision = Status.FAIL if shift > limit and shift > z_fail * error else Status.PASS
    return Slowdown(math.exp(shift), math.exp(shift - z_interval * error), math.exp(shift + z_interval * error),
                    max(math.expm1(z_fail * error), tolerance), decision)
