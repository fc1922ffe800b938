"""The option values of a run that uses the plugin, parsed and checked: :class:`Settings`.

Imported only when a run sets an option (:func:`~pytest_embedeval.plugin.options.given`): a pytest run that
does not use the plugin never loads the parsers or builds this 41-field class.  A bad value raises
:class:`pytest.UsageError` naming the flag, ini file or variable it came from.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Callable, NamedTuple

import pytest

from pytest_embedeval.plugin.options import OPTIONS, raw_value

DEVICE_PATTERN = re.compile(r"^(cpu|mps|auto|cuda(:\d+)?)$")
SPLIT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_list(raw: str) -> tuple[str, ...]:
    """Split on commas, spaces and newlines (the ini may hold one item per line)."""
    items = tuple(item for item in re.split(r"[,\s]+", raw) if item)
    if not items:
        raise ValueError("expected at least one value")
    return items


def checked_list(why_not: Callable[[str], str | None]) -> Callable[[str], tuple[str, ...]]:
    """A parser of comma lists whose every item passes ``why_not`` (None, else the reason) and none repeats."""

    def parse(raw: str) -> tuple[str, ...]:
        values = parse_list(raw)
        for value in values:
            reason = why_not(value)
            if reason:
                raise ValueError(reason)
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"{', '.join(map(repr, repeated))} listed twice")
        return values

    return parse


def choices_list(*allowed: str) -> Callable[[str], tuple[str, ...]]:
    return checked_list(lambda value: None if value in allowed else
                        f"unknown value {value!r} (choose from {', '.join(allowed)})")


parse_devices = checked_list(lambda device: None if DEVICE_PATTERN.match(device) else
                             f"unknown device {device!r} (choose from cpu, cuda, cuda:N, mps, auto)")
parse_splits = checked_list(lambda split: None if SPLIT_PATTERN.match(split) else
                            f"bad split name {split!r} (letters, digits, '_', '-', '.')")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return value

    return parse


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{raw!r} is not a boolean (true/false)")


def parse_text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("expected a value")
    return raw.strip()


def _number(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number") from None


# The parsers below import the layer that owns the check only when the option is given.

def positive_number(raw: str) -> float:
    from pytest_embedeval.gate.policy import positive

    return positive(_number(raw), repr(raw))


def per_model(parse: Callable[[str], float]) -> Callable[[str], dict[str, float]]:
    """``85`` for every model, or ``minilm=85, mpnet=88`` (``*=80`` for the rest)."""

    def parse_map(raw: str) -> dict[str, float]:
        items = parse_list(raw)
        if len(items) == 1 and "=" not in items[0]:
            return {"*": parse(items[0])}
        budgets = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise ValueError(f"{item!r}: write MODEL=VALUE (or one VALUE for every model)")
            budgets[name] = parse(value)
        return budgets

    return parse_map


def spearman_points(raw: str) -> float:
    from pytest_embedeval.gate.policy import correlation

    return correlation(_number(raw), repr(raw))


def _prompts(raw: str) -> dict[str, str]:
    from pytest_embedeval.models.prompts import parse_prompts

    return parse_prompts(raw)


def _limits(raw: str) -> tuple[Any, ...]:
    from pytest_embedeval.report.selection import parse_limits

    return parse_limits(raw)


def fraction(raw: str) -> float:
    """``15%`` or ``0.15``; a bare number above 1 is ambiguous and refused."""
    text = raw.strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{raw!r} is not a percentage (write 15% or 0.15)") from None
    if math.isfinite(value) and not text.endswith("%") and 1 < value <= 1000:
        raise ValueError(f"{raw!r} is ambiguous: write {text}% or {value / 100:g}")
    if not math.isfinite(value) or not 0 <= value <= 10:
        raise ValueError(f"{raw!r} is outside 0%..1000%")
    return value


def non_negative(raw: str) -> float:
    value = _number(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{raw!r} must be a finite number >= 0")
    return value


def confidence_level(raw: str) -> float:
    value = fraction(raw)
    if not 0.5 <= value < 1:
        raise ValueError(f"{raw!r} must lie in 50%..99.9% (e.g. 95% or 0.95)")
    return value


def choice(*values: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.strip() not in values:
            raise ValueError(f"{raw!r} is not one of {', '.join(values)}")
        return raw.strip()

    return parse


def task_list(sts_only: bool) -> Callable[[str], tuple[str, ...]]:
    def parse(raw: str) -> tuple[str, ...]:  # --embed-tasks (any kind) or --embed-sts-tasks; the registry on use
        from pytest_embedeval.measure.registry import task_names
        return task_names(checked_list(lambda name: None)(raw), sts_only)
    return parse


def _one_split(raw: str) -> str:
    splits = parse_splits(raw)
    if len(splits) > 1:
        raise ValueError("one split only")
    return splits[0]


class Settings(NamedTuple):
    """Resolved option values, built once per session by :func:`read_settings`; each field's default is its
    option's."""

    # where each value came from, for error messages: {"models": "--embed-models=...", ...}
    sources: dict[str, str]
    # the folder relative paths in each value are taken from (invocation dir or rootdir)
    bases: dict[str, Path]
    models: tuple[str, ...] | None = None
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("fp32",)
    backends: tuple[str, ...] = ("torch",)
    sts_path: Path | None = None
    sts_splits: tuple[str, ...] = ("dev",)
    batch_size: int = 32
    report: Path | None = None
    latency_rounds: int = 20
    latency_warmup: int = 2
    max_p95_ms: dict[str, float] | None = None
    max_peak_mb: dict[str, float] | None = None
    min_spearman: dict[str, float] | None = None
    baseline_dir: Path | None = None
    baseline_save: bool = False
    baseline_update: bool = False
    baseline_missing: str = "report"
    max_drop: float = 0.5
    max_slowdown: float = 0.05
    max_memory_growth: float = 0.10
    confidence: float = 0.95
    seed: int = 0
    candidate: str | None = None
    incumbent: str | None = None
    markdown: Path | None = None
    tradeoff: Path | None = None
    cache: bool = True
    trust_remote_code: bool = False
    prompts: dict[str, str] | None = None
    price_per_hour: float | None = None
    select: tuple[Any, ...] | None = None  # report.selection.Limit
    sts_tasks: tuple[str, ...] | None = None
    retrieval_path: str | None = None  # a folder (relative to bases["retrieval_path"]) or hub:ID
    retrieval_split: str = "test"
    incumbent_env: str | None = None  # an interpreter: a path (absolute by now) or a name on PATH
    incumbent_processes: int = 5
    incumbent_timeout: float = 600.0
    tasks: tuple[str, ...] | None = None  # MTEB task labels (--embed-tasks)
    task_path: Path | None = None


PARSERS: dict[str, Callable[[str], Any]] = {
    "models": parse_list,
    "devices": parse_devices,
    "dtypes": choices_list("fp32", "fp16", "bf16", "int8"),
    "backends": choices_list("torch", "onnx"),
    "sts_path": parse_text,
    "sts_splits": parse_splits,
    "batch_size": bounded_int(1, 65536),
    "report": parse_text,
    "latency_rounds": bounded_int(2, 100000),
    "latency_warmup": bounded_int(0, 1000),
    "max_p95_ms": per_model(positive_number),
    "max_peak_mb": per_model(positive_number),
    "min_spearman": per_model(spearman_points),
    "baseline_dir": parse_text,
    "baseline_save": parse_bool,
    "baseline_update": parse_bool,
    "baseline_missing": choice("report", "skip", "fail"),
    "max_drop": non_negative,
    "max_slowdown": fraction,
    "max_memory_growth": fraction,
    "confidence": confidence_level,
    "seed": bounded_int(0, 2**32 - 1),
    "candidate": parse_text,
    "incumbent": parse_text,
    "markdown": parse_text,
    "tradeoff": parse_text,
    "cache": parse_bool,
    "trust_remote_code": parse_bool,
    "prompts": _prompts,
    "price_per_hour": positive_number,
    "select": _limits,
    "sts_tasks": task_list(sts_only=True),
    "retrieval_path": parse_text,
    "retrieval_split": _one_split,
    "incumbent_env": parse_text,
    "incumbent_processes": bounded_int(2, 1000),
    "incumbent_timeout": positive_number,
    "tasks": task_list(False),
    "task_path": parse_text,
}
"""Each option's parser: the raw text to its value, or ValueError saying what is wrong."""


def read_settings(config: pytest.Config) -> Settings:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    bases: dict[str, Path] = {}
    for option in OPTIONS:
        found = raw_value(config, option)
        if found is None:
            values[option.name] = Settings._field_defaults[option.name]
            continue
        raw, where, base = found
        try:
            value = PARSERS[option.name](raw)
        except ValueError as exc:
            raise pytest.UsageError(f"{where}: {exc}") from None
        if option.path:
            value = (base / Path(value).expanduser()).resolve()
        values[option.name] = value
        sources[option.name] = where
        bases[option.name] = base
    python = values["incumbent_env"]
    if python is not None and ("/" in python or os.sep in python):  # a path, relative to where it was given
        values["incumbent_env"] = os.path.abspath(bases["incumbent_env"] / Path(python).expanduser())
    return Settings(**values, sources=sources, bases=bases)
