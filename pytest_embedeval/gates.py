"""Statistics that tell noise from change, and the verdicts they give.

Both gates fail only on a change that is real *and* large: statistically
significant at the chosen confidence, and beyond the tolerance.  Significance
alone fires on changes too small to matter; size alone fires on noise.

Accuracy: a paired bootstrap over the STS pairs of the change in Spearman
(current minus baseline, same pairs, same gold scores).  The gate fails when
the drop exceeds ``max_drop`` and the confidence interval lies wholly below
zero.  (Requiring the whole interval below ``-max_drop`` instead would let a
1-point drop of a noisily perturbed MiniLM pass: its 95% interval is about
+-0.8 points wide.)

Speed: latency runs taken at different times differ as a block (measured
here: the median of 20 rounds moves with a standard deviation of 4-7% between
runs minutes apart, while rounds within a run spread less), so a rank test on
raw samples alone cries wolf about a quarter of the time.  The gate therefore
compares rounds timed in alternation with a fixed yardstick (a random-weight
MiniLM-shaped model encoding a batch of the measured shape), in its units
(``latency.time_normalised``): machine drift cancels (A/A within 5% across processes)
and a baseline from another machine compares as well.  It fails
only when the slowdown is both significant (one-sided Mann-Whitney, ``ALPHA``)
and larger than ``max_slowdown`` (the median ratio); the ratio's bootstrap
confidence interval is reported.  Rounds within one window are not
independent (a window's median drifts by about 3% from the next on a shared
2-core machine, and Mann-Whitney cannot know), so an alarm stands only when a
second window of rounds, timed anew, repeats it (:func:`confirm_alarm`).

Memory: the model's private peak (anonymous memory of load + encode above the
interpreter with the libraries, memory.PrivatePeak), its parameters and its
weights on disk may not grow by more than ``max_growth``.  Parameters and disk
size are exact.  The private peak of the same work moves with the allocator:
up to 30 MB between fresh processes (MiniLM, 32 long inputs), so it must also
grow by more than :data:`MEMORY_NOISE_MB` to fail.  Whole-process RSS is not
compared: it counts file-backed pages as the page cache maps them, 36% more
for the same model in a second install of the same packages.
"""

from __future__ import annotations

import statistics
import warnings
from dataclasses import asdict, dataclass, replace
from typing import Any, Sequence

from pytest_embedeval.errors import BaselineError

PASS, FAIL, NO_BASELINE, NOT_COMPARABLE, SAVED, UPDATED = (
    "pass", "FAIL", "no baseline", "not comparable", "saved", "updated")


@dataclass(frozen=True)
class Verdict:
    """The outcome of comparing one measurement with its baseline."""

    kind: str  # sts, latency, memory
    model: str
    device: str
    key: str  # the baseline entry, e.g. "sts:stsb/dev:eedcd2dd:bs32"
    status: str
    metric: str = ""
    baseline: float | None = None
    current: float | None = None
    change: str = ""  # "-1.02 points [-1.31, -0.74]", "x1.18 [1.15, 1.21]"
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        figures = f"{self.metric} {_fmt(self.baseline)} -> {_fmt(self.current)} ({self.change})" if self.metric else ""
        return " ".join(part for part in (f"{self.model} {self.device} {self.key}: {self.status}.", figures,
                                          self.detail) if part)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


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

    from pytest_embedeval.sts import average_ranks, correlations

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


def confirm_alarm(first: Verdict, second: Verdict) -> Verdict:
    """A speed alarm from one window of rounds stands only if a second window fails too."""
    if second.failed:
        return replace(first, detail=f"{first.detail}; confirmed by a second window of rounds: {second.change}")
    return replace(second, detail=f"{second.detail}; a first window of rounds said {first.change}, which this "
                                  "second window did not confirm: noise")


def growth_fails(baseline: float | None, current: float | None, max_growth: float, floor: float = 0.0) -> bool:
    """Grown beyond ``max_growth`` (a fraction) and by more than ``floor`` (in the figure's unit)."""
    return (baseline is not None and current is not None and current > baseline * (1.0 + max_growth)
            and current - baseline > floor)


MEMORY_NOISE_MB = 32.0  # private-memory growth smaller than this is allocator noise (see the module docstring)


ALPHA = 0.01  # the speed gate's one-sided Mann-Whitney level


def _field(entry: dict[str, Any], name: str, where: str, kinds: tuple[type, ...] = (int, float)) -> Any:
    value = entry.get(name)
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise BaselineError(f"{where}: '{name}' is missing or not a {' or '.join(k.__name__ for k in kinds)}; "
                            "rewrite the entry with --embed-baseline-update")
    return value


def judge(kind: str, result: Any, entry: dict[str, Any], tolerance: Any, *, key: str, variant: str, where: str,
          machine_now: dict[str, Any], confidence: float, seed: int) -> Verdict:
    """The verdict on ``result`` against its baseline ``entry`` (``where`` names it in errors)."""
    if kind == "sts":
        fields = _judge_sts(result, entry, tolerance.max_drop, where, confidence, seed)
    elif kind == "latency":
        fields = _judge_latency(result, entry, tolerance.max_slowdown, where, machine_now, confidence, seed)
    else:
        fields = _judge_memory(result, entry, tolerance.max_memory_growth, where)
    return Verdict(kind, result.model, variant, key, **fields)


def _judge_sts(result: Any, entry: dict[str, Any], max_drop: float, where: str, confidence: float,
               seed: int) -> dict[str, Any]:
    from pytest_embedeval.baselines import decode_floats

    baseline = decode_floats(_field(entry, "cosine_f32", where, (str,)), result.n_pairs, where)
    change = spearman_change(result.gold, baseline, result.cosine, confidence=confidence, seed=seed)
    failed = change.delta < -max_drop and change.high < 0
    detail = (f"a real drop ({confidence:.0%} interval below zero) beyond the tolerance of {max_drop:g} points"
              if failed else
              f"tolerance {max_drop:g} points, {confidence:.0%} paired bootstrap over {result.n_pairs} pairs")
    return dict(status=FAIL if failed else PASS, metric="Spearman", baseline=change.baseline, current=change.current,
                change=f"{change.delta:+.2f} points [{change.low:+.2f}, {change.high:+.2f}]", detail=detail)


def _samples(entry: dict[str, Any], name: str, where: str) -> list[float] | None:
    values = entry.get(name)
    if values is None and name == "normalised":
        return None
    if not isinstance(values, list) or len(values) < 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values):
        raise BaselineError(f"{where}: '{name}' must hold at least two positive timings; "
                            "rewrite the entry with --embed-baseline-update")
    return values


def _judge_latency(result: Any, entry: dict[str, Any], max_slowdown: float, where: str,
                   machine_now: dict[str, Any], confidence: float, seed: int) -> dict[str, Any]:
    from pytest_embedeval.environment import machine

    raw = _samples(entry, "samples_ms", where)
    normalised = _samples(entry, "normalised", where)
    machine_then = machine(entry.get("environment") or {})
    differs = ", ".join(k for k in machine_now if machine_now[k] != machine_then.get(k))
    elsewhere = f"; baseline from another machine ({differs} differ)" if differs else ""
    from pytest_embedeval.latency import CALIBRATION

    if normalised is not None and result.normalised and entry.get("calibration") == CALIBRATION:
        change = latency_change(normalised, result.normalised, confidence=confidence, seed=seed)
        note = (f"; timed against the calibration workload ({entry.get('calibration_ms', 0):.2f} ms then, "
                f"{result.calibration_ms:.2f} ms now){elsewhere}")
    elif not differs:
        change = latency_change(raw, result.samples_ms, confidence=confidence, seed=seed)
        note = "; raw times (the baseline has no calibration)"
    else:
        return dict(status=NOT_COMPARABLE, detail=f"the baseline has no calibration timing{elsewhere}; "
                                                  "rewrite it with --embed-baseline-update on this machine")
    failed = speed_fails(change, max_slowdown=max_slowdown, alpha=ALPHA)
    return dict(status=FAIL if failed else PASS, metric="p50 ms", baseline=statistics.median(raw),
                current=result.p50_ms, change=f"x{change.ratio:.3f} [{change.low:.3f}, {change.high:.3f}]",
                detail=f"tolerance {max_slowdown:.0%}, Mann-Whitney p={change.p_value:.2g}{note}")


def _judge_memory(result: Any, entry: dict[str, Any], max_growth: float, where: str) -> dict[str, Any]:
    if entry.get("private_mb") is not None and result.private_mb is not None:
        memory, now_mb, then_mb, note = "private MB", result.private_mb, _field(entry, "private_mb", where), ""
    else:  # a baseline from before private memory, or a platform without /proc: the whole RSS it is
        memory, now_mb, then_mb = "model MB", result.peak_rss_mb - result.baseline_rss_mb, _field(entry, "model_mb", where)
        note = "; whole RSS compared, which counts file-backed pages too (--embed-baseline-update records private MB)"
    now = {memory: now_mb, "params": result.params, "disk MB": result.disk_mb}
    then = {memory: then_mb, "params": _field(entry, "params", where), "disk MB": entry.get("disk_mb")}
    floor = {memory: MEMORY_NOISE_MB}
    grown = [f"{name} {then[name]:,.1f} -> {now[name]:,.1f}" for name in now
             if growth_fails(then[name], now[name], max_growth, floor.get(name, 0.0))]
    detail = ("grew beyond the tolerance: " + "; ".join(grown)) if grown else (
        f"tolerance {max_growth:.0%} (and {MEMORY_NOISE_MB:g} MB for {memory})")
    return dict(status=FAIL if grown else PASS, metric=memory, baseline=then[memory], current=now[memory],
                change=f"x{now[memory] / then[memory]:.3f}" if then[memory] else "", detail=detail + note)
