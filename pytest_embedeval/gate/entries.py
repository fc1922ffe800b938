"""Typed baseline entries: what a baseline keeps of one measurement, how it is read back, and how it judges.

:data:`ENTRY_TYPES` maps a result's ``KIND`` to its entry type: ``write``
turns a result into the JSON the file keeps, ``read`` validates that JSON
(every problem names the file, variant and entry) and ``judge`` compares a new
result with it.  Every accuracy kind of ``measure.registry.KINDS`` shares
:class:`AccuracyEntry`; latency and memory have their own.

Floats are rounded so that diffs show changes, not noise in the tenth decimal.
An accuracy entry keeps the per-item scores (float32, base64: 8 KB for the
STS-B dev cosines instead of 1,500 diff lines) for the paired bootstrap; a latency entry its raw
samples and its rounds in yardstick units; a memory entry the private peak the
gate compares, beside the whole RSS.  Every entry keeps its environment.
"""

from __future__ import annotations

import base64
import math
import statistics
from dataclasses import dataclass
from typing import Any, ClassVar

from pytest_embedeval.core.environment import changed_versions, machine
from pytest_embedeval.errors import BaselineError
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.gate.stats import (MEMORY_NOISE_MB, drop_fails, drop_resolves, growth_fails, paired_change,
                                         slowdown)
from pytest_embedeval.gate.verdict import FAIL, MORE, NOT_COMPARABLE, PASS, Judgement
from pytest_embedeval.measure.registry import KINDS, kind_of
from pytest_embedeval.measure.yardstick import CALIBRATION


WINDOW_FIELDS = ("model", "environment", "model_ms", "yardstick_ms", "reference_ms")
LOOK_TWO_WINDOWS = 3  # the speed gate's second look pools this many windows of the current run
SAVE_REPLICATES = 3  # a saved baseline keeps this many speed windows (spread in time) and memory probes
# the log-ratio offset between fresh processes that windows of one process cannot show: the standard deviation
# of process means, 5 fresh processes on a quiet 2-core VM (docs/benchmarks.md). torch itself runs up to 10%
# faster or slower from one process to the next there; the model and the yardstick move together, the numpy
# reference does not, so the environment layer carries that noise and resolves only large stack slowdowns.
PROCESS_NOISE = {"model": 0.018, "environment": 0.088}
# the model layer's offset between two hosts of one kind (same CPU model and cores), beyond PROCESS_NOISE: a
# baseline from another host (or one that does not say) is compared with it added (benchmarks/cross_host.py)
HOST_NOISE = 0.045
BUSY_SHARE = 0.25  # other processes took more than this share of the CPUs: too busy to judge the environment
# the model layer's extra spread on such a busy machine: the log standard deviation of an unchanged MiniLM's model
# layer over 26 comparisons at load 12-22 on 2 cores (docs/benchmarks.md), where one of 9 runs failed without it
BUSY_NOISE = 0.114
MIN_FLOOR_MB, FLOOR_RANGES = 8.0, 2.0  # memory noise floor: twice the probes' range, at least 8 MB


@dataclass(frozen=True)
class Context:
    """What a judgement needs beside the result and the entry."""

    where: str  # "<file> [variant][key]", for error messages
    environment: dict[str, Any]  # this run's (core.environment.describe)
    confidence: float
    seed: int
    final: bool = True  # False: the speed gate may ask for its second look (more windows) instead of passing


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
class AccuracyEntry:
    """Any accuracy kind's entry: its figures, and its per-item scores (float32, base64) for the paired bootstrap.

    What it keeps and how it is scored is the kind's own description (``measure.accuracy.Kind``)."""

    kind: Any  # measure.accuracy.Kind
    items: Any  # float64 array decoded from float32

    @staticmethod
    def write(result: Any) -> dict[str, Any]:
        kind, record = kind_of(result), result.to_dict()
        return {**{name: record[name] for name in kind.entry_fields}, **_rounded(record, kind.rounded, kind.digits),
                kind.items_name: encode_floats(getattr(result, kind.per_item))}

    @classmethod
    def read(cls, entry: dict[str, Any], result: Any, where: str) -> AccuracyEntry:
        kind = kind_of(result)
        text = number(entry, kind.items_name, where, (str,))
        return cls(kind, decode_floats(text, getattr(result, kind.count), where, kind.items_name))

    def judge(self, result: Any, tolerance: Tolerance, context: Context) -> Judgement:
        kind, confidence, max_drop = self.kind, context.confidence, tolerance.max_drop
        change = paired_change(kind, kind.shared(result), self.items, getattr(result, kind.per_item),
                               confidence=confidence, seed=context.seed)
        failed = drop_fails(change, max_drop)  # the one accuracy convention (docs/gates.md)
        detail = (f"a real drop ({confidence:.0%} interval below zero) beyond the tolerance of {max_drop:g} points"
                  if failed else f"tolerance {max_drop:g} points, {confidence:.0%} paired bootstrap over "
                                 f"{getattr(result, kind.count)} {kind.unit}")
        detail += f"; resolves drops >= {drop_resolves(change, max_drop):.2f} points"
        return Judgement(FAIL if failed else PASS, metric=kind.metric, baseline=change.baseline,
                    current=change.current, change=f"{change.delta:+.2f} points [{change.low:+.2f}, {change.high:+.2f}]",
                    detail=detail)


@dataclass(frozen=True)
class LatencyEntry:
    """Raw rounds (for the record) and the gate's windows against the yardstick and the reference."""

    KIND: ClassVar[str] = "latency"
    samples_ms: list[float]
    windows: list[dict[str, float]]
    environment: dict[str, Any]

    @staticmethod
    def write(result: Any) -> dict[str, Any]:
        record = result.to_dict()
        return {**{name: record[name] for name in ("batch_size", "length", "rounds", "tokens")},
                **_rounded(record, ("p50_ms", "p95_ms"), 4),
                "samples_ms": [round(sample, 4) for sample in record["samples_ms"]],
                "windows": list(result.windows or ()), "calibration": CALIBRATION if result.windows else None}

    @classmethod
    def read(cls, entry: dict[str, Any], result: Any, where: str) -> LatencyEntry:
        samples = timings(entry, "samples_ms", where) or []
        windows = entry.get("windows")
        if entry.get("calibration") != CALIBRATION or not windows:
            return cls(samples, [], entry.get("environment") or {})
        if not isinstance(windows, list) or not all(
                isinstance(w, dict) and all(isinstance(w.get(k), (int, float)) and not isinstance(w.get(k), bool)
                                            and math.isfinite(w[k]) for k in WINDOW_FIELDS) for w in windows):
            raise BaselineError(f"{where}: 'windows' must be a list of windows with finite "
                                f"{', '.join(WINDOW_FIELDS)}; rewrite the entry with --embed-baseline-update")
        return cls(samples, windows, entry.get("environment") or {})

    def judge(self, result: Any, tolerance: Tolerance, context: Context) -> Judgement:
        max_slowdown, now_env = tolerance.max_slowdown, context.environment
        changed = changed_versions(self.environment, now_env)
        versions = f"; versions changed since the baseline: {', '.join(changed)}" if changed else ""
        if not self.windows or not result.windows:
            return Judgement(NOT_COMPARABLE, detail=f"the baseline has no windows against the current yardstick "
                                                      f"({CALIBRATION}); rewrite it with --embed-baseline-update{versions}")
        final = context.final or len(result.windows) >= LOOK_TWO_WINDOWS
        here = (self.environment.get("host") is not None and self.environment.get("host") == now_env.get("host")
                and machine(self.environment) == machine(now_env))
        busy = self._busy(result)
        layers = {"model": slowdown([w["model"] for w in self.windows], [w["model"] for w in result.windows],
                                    tolerance=max_slowdown, process_noise=PROCESS_NOISE["model"], final=final,
                                    offset_noise=math.hypot(0.0 if here else HOST_NOISE, BUSY_NOISE if busy else 0.0))}
        skipped = self._environment_skipped(now_env, here, busy)
        if skipped is None:
            layers["environment"] = slowdown([w["environment"] for w in self.windows],
                                             [w["environment"] for w in result.windows], tolerance=max_slowdown,
                                             process_noise=PROCESS_NOISE["environment"], final=final)
        decisions = {layer.decision for layer in layers.values()}
        status = FAIL if FAIL in decisions else (MORE if MORE in decisions else PASS)
        failed = [name for name, layer in layers.items() if layer.decision == FAIL]
        why = ""
        if "model" in failed:
            why += f"the model slowed (x{layers['model'].ratio:.3f} against the yardstick); "
        if "environment" in failed:
            why += (f"the environment slowed ({', '.join(changed) or 'no version changed'}; "
                    f"yardstick x{layers['environment'].ratio:.3f} against the reference); ")
        resolves = ", ".join(f"{name} >= {layer.resolves:.1%}" for name, layer in layers.items())
        note = "" if skipped is None else f"; environment not judged: {skipped}"
        note += f"; model layer widened: {busy}" if busy else ""
        return Judgement(status, metric="p50 ms", baseline=statistics.median(self.samples_ms),
                    current=result.p50_ms,
                    change=" ".join(f"{name} x{layer.ratio:.3f} [{layer.low:.3f}, {layer.high:.3f}]"
                                    for name, layer in layers.items()),
                    detail=(f"{why}baseline from {'this' if here else 'another'} host: tolerance {max_slowdown:.0%}, "
                            f"resolves {resolves}; {len(self.windows)} baseline "
                            f"and {len(result.windows)} current windows{note}{versions}"))

    def _busy(self, result: Any) -> str | None:
        """Whether other processes took more than ``BUSY_SHARE`` of the CPUs, now or at save time, and how much."""
        for when, windows in (("now", result.windows), ("when the baseline was saved", self.windows)):
            shares = [w["others"] for w in windows if w.get("others") is not None]
            if shares and statistics.median(shares) > BUSY_SHARE:
                return f"other processes used {statistics.median(shares):.0%} of the CPUs {when}"
        return None

    def _environment_skipped(self, now_env: dict[str, Any], here: bool, busy: str | None) -> str | None:
        """Why the environment layer cannot be judged here (another host, a busy machine), or None."""
        then_kind, now_kind = machine(self.environment), machine(now_env)
        differs = [name for name in now_kind if now_kind[name] != then_kind.get(name)]
        if differs:
            return f"baseline from another machine ({', '.join(differs)} differ)"
        if not here:  # yardstick / reference differs by 10-40% between hosts of one kind (docs/gates.md)
            return "baseline from another host (--embed-incumbent-env compares two stacks side by side)"
        if busy:
            return f"{busy}: torch's threads and the reference's slow differently on a busy machine"
        return None


@dataclass(frozen=True)
class MemoryEntry:
    """Private peak and peak RSS of repeated probes (their spread is the noise floor), parameters, disk size."""

    KIND: ClassVar[str] = "memory"
    private: list[float] | None  # private MB of each probe at save time
    model_mb: float | None  # without private memory (no /proc): the whole RSS above the interpreter
    peak: list[float] | None  # peak RSS MB of each probe
    params: int | None
    disk_mb: float | None
    environment: dict[str, Any]

    @staticmethod
    def write(result: Any) -> dict[str, Any]:
        record = result.to_dict()
        return {**{name: record[name] for name in ("batch_size", "length", "params")},
                **_rounded(record, ("peak_rss_mb", "baseline_rss_mb", "disk_mb", "private_mb"), 2),
                "model_mb": round(record["peak_rss_mb"] - record["baseline_rss_mb"], 2),
                "private_probes": [round(x, 2) for x in result.private_probes],
                "peak_probes": [round(x, 2) for x in result.peak_probes]}

    @classmethod
    def read(cls, entry: dict[str, Any], result: Any, where: str) -> MemoryEntry:
        # params is null for an encoder without torch modules (models/custom.py)
        params = None if entry.get("params") is None and result.params is None else number(entry, "params", where)
        environment = entry.get("environment") or {}
        if entry.get("private_mb") is not None and result.private_mb is not None:
            number(entry, "private_mb", where)
            return cls(_probes(entry, "private_probes", where), None, _probes(entry, "peak_probes", where), params,
                       entry.get("disk_mb"), environment)
        return cls(None, number(entry, "model_mb", where), None, params, entry.get("disk_mb"), environment)

    def judge(self, result: Any, tolerance: Tolerance, context: Context) -> Judgement:
        growth = tolerance.max_memory_growth
        if self.private is not None:
            memory, now_mb, then_mb = "private MB", result.private_mb, statistics.median(self.private)
            floor, note = noise_floor(self.private), ""
        else:  # a platform without /proc: the whole RSS it is
            memory, now_mb, then_mb = "model MB", result.peak_rss_mb - result.baseline_rss_mb, self.model_mb
            floor = MEMORY_NOISE_MB
            note = "; whole RSS compared, which counts file-backed pages too (--embed-baseline-update records private MB)"
        now = {memory: now_mb, "params": result.params, "disk MB": result.disk_mb}
        then = {memory: then_mb, "params": self.params, "disk MB": self.disk_mb}
        floors = {memory: floor}
        same = same_install(self.environment, context.environment)
        if self.peak and same:  # what a container limit pays; file-backed pages compare only within one install
            now["peak RSS MB"], then["peak RSS MB"] = result.peak_rss_mb, statistics.median(self.peak)
            floors["peak RSS MB"] = noise_floor(self.peak)
        elif self.peak:
            note += "; peak RSS not compared: another machine, install or library versions"
        grown = [f"{name} {then[name]:,.1f} -> {now[name]:,.1f} (floor {floors.get(name, 0.0):g})" for name in now
                 if growth_fails(then[name], now[name], growth, floors.get(name, 0.0))]
        floor_text = ", ".join(f"{name} {value:.1f} MB" for name, value in floors.items())
        detail = ("grew beyond the tolerance: " + "; ".join(grown)) if grown else (
            f"tolerance {growth:.0%}, noise floors {floor_text}")
        return Judgement(FAIL if grown else PASS, metric=memory, baseline=then[memory], current=now[memory],
                    change=f"x{now[memory] / then[memory]:.3f}" if then[memory] else "", detail=detail + note)


def _probes(entry: dict[str, Any], name: str, where: str) -> list[float]:
    values = entry.get(name)
    if not isinstance(values, list) or not values or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise BaselineError(f"{where}: '{name}' must hold the probes' MB; rewrite the entry with --embed-baseline-update")
    return values


def noise_floor(probes: list[float]) -> float:
    """Growth below this is the probes' own noise: twice their range at save time, at least MIN_FLOOR_MB."""
    return max(MIN_FLOOR_MB, FLOOR_RANGES * (max(probes) - min(probes)))


def same_install(then: dict[str, Any], now: dict[str, Any]) -> bool:
    """One machine kind, one Python executable, the same library versions: RSS then compares."""
    return (machine(then) == machine(now) and then.get("executable") == now.get("executable")
            and (then.get("versions") or {}) == (now.get("versions") or {}))


ENTRY_TYPES: dict[str, Any] = {**{kind.name: AccuracyEntry for kind in KINDS}, LatencyEntry.KIND: LatencyEntry,
                               MemoryEntry.KIND: MemoryEntry}
