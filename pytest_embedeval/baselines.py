"""Reviewed baselines: one JSON file per model under ``baselines/``, and the comparison with them.

One file per model because that is how changes arrive: upgrading a model
touches one file, its diff reads as that model's new figures, and two pull
requests changing two models do not conflict.  Inside, entries are keyed by
variant (the device) and by measurement::

    {"schema": 1, "model": "minilm",
     "entries": {"cpu": {"sts:stsb/dev:eedcd2dd2821f58d:bs32": {...},
                         "latency:bs32:short": {...}, "memory:bs32:short": {...}}}}

An STS entry keeps the per-pair cosine scores (float32, base64: 8 KB for
STS-B dev instead of 1,500 diff lines) for the paired bootstrap; a latency
entry keeps its raw samples and the calibration time; a memory entry the
private peak the gate compares, beside the whole RSS; every entry keeps the
environment it was measured in.  Floats are rounded so that diffs show
changes, not noise in the tenth decimal.  Files are written atomically and
never over a file that could not be read.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pytest_embedeval.atomic import write_json_atomic
from pytest_embedeval.environment import machine
from pytest_embedeval.errors import BaselineError
from pytest_embedeval.gates import FAIL, NO_BASELINE, SAVED, UPDATED, Verdict, confirm_alarm, judge
from pytest_embedeval.latency import CALIBRATION

SCHEMA = 1


@dataclass(frozen=True)
class Tolerance:
    max_drop: float  # Spearman points
    max_slowdown: float  # fraction of the median latency
    max_memory_growth: float  # fraction


def entry_key(kind: str, record: dict[str, Any]) -> str:
    if kind == "sts":
        return f"sts:{record['dataset']}/{record['split']}:{record['fingerprint']}:bs{record['batch_size']}"
    return f"{kind}:bs{record['batch_size']}:{record['length']}"


def variant_key(record: dict[str, Any]) -> str:
    """The device, with the precision/backend variant when not the default: "cpu", "cpu-int8"."""
    return "-".join(part for part in (str(record["device"]), record.get("variant")) if part)


def encode_floats(values: Any) -> str:
    import numpy as np

    return base64.b64encode(np.asarray(values, dtype="<f4").tobytes()).decode("ascii")


def decode_floats(text: Any, count: int, where: str) -> Any:
    import numpy as np

    try:
        values = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4").astype(np.float64)
    except (TypeError, ValueError):
        raise BaselineError(f"{where}: cosine_f32 is not base64 float32 data") from None
    if len(values) != count or not np.isfinite(values).all():
        raise BaselineError(f"{where}: cosine_f32 holds {len(values)} finite values, expected {count}")
    return values


def make_entry(kind: str, result: Any, environment: dict[str, Any]) -> dict[str, Any]:
    """The JSON a baseline keeps of one measurement."""
    record = result.to_dict()
    entry: dict[str, Any] = {"environment": environment}
    if kind == "sts":
        entry.update({name: record[name] for name in ("dataset", "split", "fingerprint", "n_pairs", "batch_size")})
        entry.update(spearman=round(record["spearman"], 4), pearson=round(record["pearson"], 4),
                     cosine_f32=encode_floats(result.cosine))
    elif kind == "latency":
        entry.update({name: record[name] for name in ("batch_size", "length", "rounds", "tokens")})
        entry.update({name: round(record[name], 4) for name in ("p50_ms", "p95_ms")})
        entry["samples_ms"] = [round(sample, 4) for sample in record["samples_ms"]]
        entry["calibration_ms"] = None if record["calibration_ms"] is None else round(record["calibration_ms"], 4)
        entry["normalised"] = None if result.normalised is None else [round(x, 5) for x in result.normalised]
        entry["calibration"] = CALIBRATION if result.normalised is not None else None
    else:
        entry.update({name: record[name] for name in ("batch_size", "length", "params")})
        entry.update({name: None if record[name] is None else round(record[name], 2)
                      for name in ("peak_rss_mb", "baseline_rss_mb", "disk_mb", "private_mb")})
        entry["model_mb"] = round(record["peak_rss_mb"] - record["baseline_rss_mb"], 2)
    return entry


class BaselineStore:
    """Reads and writes ``<folder>/<model>.json``; every problem names the file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, dict[str, Any] | None] = {}

    def path(self, model: str) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9._-]", "_", model) + ".json")

    def read(self, model: str) -> dict[str, Any] | None:
        """The file's content, validated; None when there is no file."""
        path = self.path(model)
        if not path.exists():
            return None
        # never "--embed-baseline-update": a file that cannot be read is never written over
        advice = "restore it from version control, or delete it and record it again with --embed-baseline-save"
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BaselineError(f"{path}: not UTF-8 (byte {exc.start}); {advice}") from None
        except OSError as exc:
            raise BaselineError(f"{path}: cannot be read ({exc.strerror}); {advice}") from None
        if not text.strip():
            raise BaselineError(f"{path}: the file is empty; {advice}")
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}), "
                                f"perhaps truncated; {advice}") from None
        except ValueError as exc:  # NaN / Infinity, which we never write
            raise BaselineError(f"{path}: {exc}; {advice}") from None
        except RecursionError:
            raise BaselineError(f"{path}: JSON nested too deeply to be a baseline; {advice}") from None
        return validate(data, path, advice)

    def load(self, model: str) -> dict[str, Any] | None:
        if model not in self._files:
            self._files[model] = self.read(model)
        return self._files[model]

    def entry(self, model: str, variant: str, key: str) -> dict[str, Any] | None:
        data = self.load(model)
        return None if data is None else data["entries"].get(variant, {}).get(key)

    def keys(self, model: str, variant: str) -> list[str]:
        data = self.load(model)
        return [] if data is None else sorted(data["entries"].get(variant, {}))

    def write(self, model: str, updates: dict[str, dict[str, Any]], *, replace: bool) -> Path:
        """Merge ``updates`` (variant -> key -> entry) into the model's file, atomically.

        The file is read again first: a file that cannot be read raises and is
        left as it is, never overwritten.
        """
        data = self.read(model) or {"schema": SCHEMA, "model": model, "entries": {}}
        for variant, entries in updates.items():
            known = data["entries"].setdefault(variant, {})
            for key, entry in entries.items():
                if replace or key not in known:
                    known[key] = entry
        path = self.path(model)
        write_json_atomic(path, data)
        self._files[model] = data
        return path


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a baseline can hold")


def validate(data: Any, path: Path, advice: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("schema"), int):
        raise BaselineError(f"{path}: not a pytest-embedeval baseline (no schema number); {advice}")
    if data["schema"] > SCHEMA:
        raise BaselineError(f"{path}: baseline schema {data['schema']} is newer than this plugin reads "
                            f"({SCHEMA}); upgrade pytest-embedeval")
    if data["schema"] < SCHEMA:
        raise BaselineError(f"{path}: baseline schema {data['schema']} is older than this plugin reads "
                            f"({SCHEMA}); delete it and record it again with --embed-baseline-save")
    entries = data.get("entries")
    if not isinstance(entries, dict) or not all(
            isinstance(variant, dict) and all(isinstance(entry, dict) for entry in variant.values())
            for variant in entries.values()):
        raise BaselineError(f"{path}: 'entries' must map variant -> measurement -> entry; {advice}")
    return data


@dataclass
class Gatekeeper:
    """Compares each measurement with its baseline, and collects what to write."""

    store: BaselineStore
    missing: str  # report, skip or fail
    save: bool
    update: bool
    confidence: float
    seed: int
    environment: dict[str, Any]
    pending: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def wants(self, kind: str, record: dict[str, Any]) -> bool:
        """Whether a measurement will be compared or saved (the speed gate times extra rounds for it)."""
        if self.save or self.update:
            return True
        return self.store.entry(record["model"], variant_key(record), entry_key(kind, record)) is not None

    def check(self, kind: str, result: Any, tolerance: Tolerance, confirm: Callable[[], Any] | None = None) -> Verdict:
        """The verdict on ``result``; a failed one is judged again on ``confirm()`` (a fresh measurement)."""
        record = result.to_dict()
        model, variant, key = record["model"], variant_key(record), entry_key(kind, record)
        entry = self.store.entry(model, variant, key)
        where = f"{self.store.path(model)} [{variant}][{key}]"
        if self.update or (self.save and entry is None):
            self.pending.setdefault(model, {}).setdefault(variant, {})[key] = make_entry(kind, result, self.environment)
            status = UPDATED if entry is not None else SAVED
            return Verdict(kind, model, variant, key, status, detail=f"written to {self.store.path(model)}")
        if entry is None:
            return self._missing(kind, record, model, variant, key)
        def verdict_on(measured: Any) -> Verdict:
            return judge(kind, measured, entry, tolerance, key=key, variant=variant, where=where,
                         machine_now=machine(self.environment), confidence=self.confidence, seed=self.seed)

        verdict = verdict_on(result)
        return confirm_alarm(verdict, verdict_on(confirm())) if verdict.failed and confirm is not None else verdict

    def _missing(self, kind: str, record: dict[str, Any], model: str, variant: str, key: str) -> Verdict:
        if kind == "sts":
            prefix = f"sts:{record['dataset']}/{record['split']}:"
            others = [k for k in self.store.keys(model, variant) if k.startswith(prefix)]
            if others:
                return Verdict(kind, model, variant, key, FAIL, detail=(
                    f"the baseline in {self.store.path(model)} is for other data ({', '.join(others)}); "
                    f"this data's fingerprint is {record['fingerprint']}: the data set changed, so review "
                    "it and rewrite the baseline with --embed-baseline-update"))
        return Verdict(kind, model, variant, key, NO_BASELINE,
                       detail=f"none in {self.store.path(model)}; write one with --embed-baseline-save")

    def write_pending(self) -> list[Path]:
        return [self.store.write(model, updates, replace=self.update) for model, updates in sorted(self.pending.items())]
