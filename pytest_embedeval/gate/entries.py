"""Typed baseline entries: what a baseline keeps of one measurement, how it is read back, and how it judges.

One class per measurement kind, registered in :data:`ENTRY_TYPES` by the
result's ``KIND``: ``write`` turns a result into the JSON the file keeps,
``read`` validates that JSON (every problem names the file, variant and entry)
and ``judge`` compares a new result with it.  Adding a kind adds one class here
beside its result type in ``measure``.

Floats are rounded so that diffs show changes, not noise in the tenth decimal.
An STS entry keeps the per-pair cosines (float32, base64: 8 KB for STS-B dev
instead of 1,500 diff lines) for the paired bootstrap; a latency entry its raw
samples and its rounds in yardstick units; a memory entry the private peak the
gate compares, beside the whole RSS.  Every entry keeps its environment.
"""

from __future__ import annotations

import base64
import statistics
from dataclasses import dataclass
from typing import Any, ClassVar

from pytest_embedeval.core.environment import machine
from pytest_embedeval.errors import BaselineError
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.gate.stats import (ALPHA, MEMORY_NOISE_MB, growth_fails, latency_change, mean_change,
                                         spearman_change, speed_fails)
from pytest_embedeval.gate.verdict import FAIL, NOT_COMPARABLE, PASS
from pytest_embedeval.measure.yardstick import CALIBRATION


@dataclass(frozen=True)
class Context:
    """What a judgement needs beside the result and the entry."""

    where: str  # "<file> [variant][key]", for error messages
    machine_now: dict[str, Any]
    confidence: float
    seed: int


def encode_floats(values: Any) -> str:
    import numpy as np

    return base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode("ascii")


def decode_floats(text: Any, count: int, where: str, name: str = "cosine_f32") -> Any:
    import numpy as np

    try:
        values = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4").astype(np.float64)
    except (TypeError, ValueError):
        raise BaselineError(f"{where}: {name} is not base64 float32 data") from None
    if len(values) != count or not np.isfinite(values).all():
        raise BaselineError(f"{where}: {name} holds {len(values)} finite values, expected {count}")
    return values


def number(entry: dict[str, Any], name: str, where: str, kinds: tuple[type, ...] = (int, float)) -> Any:
    value = entry.get(name)
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise BaselineError(f"{where}: '{name}' is missing or not a {' or '.join(k.__name__ for k in kinds)}; "
                            "rewrite the entry with --embed-baseline-update")
    return value


def timings(entry: dict[str, Any], name: str, where: str, required: bool = True) -> list[float] | None:
    values = entry.get(name)
    if values is None and not required:
        return None
    if not isinstance(values, list) or len(values) < 2 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values):
        raise BaselineError(f"{where}: '{name}' must hold at least two positive timings; "
                            "rewrite the entry with --embed-baseline-update")
    return values


def _rounded(record: dict[str, Any], names: tuple[str, ...], digits: int) -> dict[str, Any]:
    return {name: None if record[name] is None else round(record[name], digits) for name in names}


@dataclass(frozen=True)
class StsEntry:
    """The cosines of every pair, for the paired bootstrap of the Spearman change."""

    KIND: ClassVar[str] = "sts"
    cosine: Any  # float64 array decoded from float32

    @staticmethod
    def write(result: Any) -> dict[str, Any]:
        record = result.to_dict()
        return {**{name: record[name] for name in ("dataset", "split", "fingerprint", "n_pairs", "batch_size")},
                **_rounded(record, ("spearman", "pearson"), 4), "cosine_f32": encode_floats(result.cosine)}

    @classmethod
    def read(cls, entry: dict[str, Any], result: Any, where: str) -> StsEntry:
        return cls(decode_floats(number(entry, "cosine_f32", where, (str,)), result.n_pairs, where))

    def judge(self, result: Any, tolerance: Tolerance, context: Context) -> dict[str, Any]:
        confidence, max_drop = context.confidence, tolerance.max_drop
        change = spearman_change(result.gold, self.cosine, result.cosine, confidence=confidence, seed=context.seed)
        failed = change.delta < -max_drop and change.high < 0
        detail = (f"a real drop ({confidence:.0%} interval below zero) beyond the tolerance of {max_drop:g} points"
                  if failed else
                  f"tolerance {max_drop:g} points, {confidence:.0%} paired bootstrap over {result.n_pairs} pairs")
        return dict(status=FAIL if failed else PASS, metric="Spearman", baseline=change.baseline,
                    current=change.current, change=f"{change.delta:+.2f} points [{change.low:+.2f}, {change.high:+.2f}]",
                    detail=detail)


@dataclass(frozen=True)
class LatencyEntry:
    """Raw rounds, and rounds in yardstick units (``calibration`` names the yardstick)."""

    KIND: ClassVar[str] = "latency"
    samples_ms: list[float]
    normalised: list[float] | None
    calibration: str | None
    calibration_ms: float | None
    machine: dict[str, Any]

    @staticmethod
    def write(result: Any) -> dict[str, Any]:
        record = result.to_dict()
        return {**{name: record[name] for name in ("batch_size", "length", "rounds", "tokens")},
                **_rounded(record, ("p50_ms", "p95_ms", "calibration_ms"), 4),
                "samples_ms": [round(sample, 4) for sample in record["samples_ms"]],
                "normalised": None if result.normalised is None else [round(x, 5) for x in result.normalised],
                "calibration": CALIBRATION if result.normalised is not None else None}

    @classmethod
    def read(cls, entry: dict[str, Any], result: Any, where: str) -> LatencyEntry:
        return cls(timings(entry, "samples_ms", where) or [], timings(entry, "normalised", where, required=False),
                   entry.get("calibration"), entry.get("calibration_ms"), machine(entry.get("environment") or {}))

    def judge(self, result: Any, tolerance: Tolerance, context: Context) -> dict[str, Any]:
        max_slowdown, now = tolerance.max_slowdown, context.machine_now
        differs = ", ".join(k for k in now if now[k] != self.machine.get(k))
        elsewhere = f"; baseline from another machine ({differs} differ)" if differs else ""
        if self.normalised is not None and result.normalised and self.calibration == CALIBRATION:
            change = latency_change(self.normalised, result.normalised, confidence=context.confidence,
                                    seed=context.seed)
            note = (f"; timed against the calibration workload ({self.calibration_ms or 0:.2f} ms then, "
                    f"{result.calibration_ms:.2f} ms now){elsewhere}")
        elif not differs:
            change = latency_change(self.samples_ms, result.samples_ms, confidence=context.confidence,
                                    seed=context.seed)
            note = "; raw times (the baseline has no calibration)"
        else:
            return dict(status=NOT_COMPARABLE, detail=f"the baseline has no calibration timing{elsewhere}; "
                                                      "rewrite it with --embed-baseline-update on this machine")
        failed = speed_fails(change, max_slowdown=max_slowdown, alpha=ALPHA)
        return dict(status=FAIL if failed else PASS, metric="p50 ms", baseline=statistics.median(self.samples_ms),
                    current=result.p50_ms, change=f"x{change.ratio:.3f} [{change.low:.3f}, {change.high:.3f}]",
                    detail=f"tolerance {max_slowdown:.0%}, Mann-Whitney p={change.p_value:.2g}{note}")


@dataclass(frozen=True)
class MemoryEntry:
    """The private peak (else the whole RSS above the baseline), parameters and disk size."""

    KIND: ClassVar[str] = "memory"
    private_mb: float | None
    model_mb: float | None
    params: int
    disk_mb: float | None

    @staticmethod
    def write(result: Any) -> dict[str, Any]:
        record = result.to_dict()
        return {**{name: record[name] for name in ("batch_size", "length", "params")},
                **_rounded(record, ("peak_rss_mb", "baseline_rss_mb", "disk_mb", "private_mb"), 2),
                "model_mb": round(record["peak_rss_mb"] - record["baseline_rss_mb"], 2)}

    @classmethod
    def read(cls, entry: dict[str, Any], result: Any, where: str) -> MemoryEntry:
        if entry.get("private_mb") is not None and result.private_mb is not None:
            private, model = number(entry, "private_mb", where), None
        else:
            private, model = None, number(entry, "model_mb", where)
        return cls(private, model, number(entry, "params", where), entry.get("disk_mb"))

    def judge(self, result: Any, tolerance: Tolerance, context: Context) -> dict[str, Any]:
        max_growth = tolerance.max_memory_growth
        if self.model_mb is None:
            memory, now_mb, then_mb, note = "private MB", result.private_mb, self.private_mb, ""
        else:  # a baseline from before private memory, or a platform without /proc: the whole RSS it is
            memory, now_mb, then_mb = "model MB", result.peak_rss_mb - result.baseline_rss_mb, self.model_mb
            note = "; whole RSS compared, which counts file-backed pages too (--embed-baseline-update records private MB)"
        now = {memory: now_mb, "params": result.params, "disk MB": result.disk_mb}
        then = {memory: then_mb, "params": self.params, "disk MB": self.disk_mb}
        floor = {memory: MEMORY_NOISE_MB}
        grown = [f"{name} {then[name]:,.1f} -> {now[name]:,.1f}" for name in now
                 if growth_fails(then[name], now[name], max_growth, floor.get(name, 0.0))]
        detail = ("grew beyond the tolerance: " + "; ".join(grown)) if grown else (
            f"tolerance {max_growth:.0%} (and {MEMORY_NOISE_MB:g} MB for {memory})")
        return dict(status=FAIL if grown else PASS, metric=memory, baseline=then[memory], current=now[memory],
                    change=f"x{now[memory] / then[memory]:.3f}" if then[memory] else "", detail=detail + note)


@dataclass(frozen=True)
class RetrievalEntry:
    """nDCG@10 of every query (float32, base64), for the paired bootstrap over queries."""

    KIND: ClassVar[str] = "retrieval"
    per_query: Any  # float64 array decoded from float32

    @staticmethod
    def write(result: Any) -> dict[str, Any]:
        record = result.to_dict()
        return {**{name: record[name] for name in ("dataset", "split", "fingerprint", "n_queries", "n_corpus",
                                                    "batch_size")},
                **_rounded(record, ("ndcg_at_10", "recall_at_10", "mrr_at_10", "map_at_100"), 5),
                "ndcg_f32": encode_floats(result.per_query_ndcg)}

    @classmethod
    def read(cls, entry: dict[str, Any], result: Any, where: str) -> RetrievalEntry:
        text = number(entry, "ndcg_f32", where, (str,))
        return cls(decode_floats(text, result.n_queries, where, "ndcg_f32"))

    def judge(self, result: Any, tolerance: Tolerance, context: Context) -> dict[str, Any]:
        confidence, max_drop = context.confidence, tolerance.max_drop
        change = mean_change(self.per_query, result.per_query_ndcg, confidence=confidence, seed=context.seed)
        failed = change.delta < -max_drop and change.high < 0
        detail = (f"a real drop ({confidence:.0%} interval below zero) beyond the tolerance of {max_drop:g} points"
                  if failed else
                  f"tolerance {max_drop:g} points, {confidence:.0%} paired bootstrap over {result.n_queries} queries")
        return dict(status=FAIL if failed else PASS, metric="nDCG@10 x100", baseline=change.baseline,
                    current=change.current, change=f"{change.delta:+.2f} points [{change.low:+.2f}, {change.high:+.2f}]",
                    detail=detail)


ENTRY_TYPES: dict[str, Any] = {cls.KIND: cls for cls in (StsEntry, LatencyEntry, MemoryEntry, RetrievalEntry)}
