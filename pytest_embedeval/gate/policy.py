"""Policy: what a model must meet (budgets) and how much change the gates tolerate.

Parsed from the ``embed_budget`` / ``embed_tolerance`` markers' arguments and
the per-model budget options; every bad value raises ValueError naming the
argument, which the plugin turns into a collection or usage error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from pytest_embedeval.measure.latency import LENGTHS


@dataclass(frozen=True)
class Tolerance:
    max_drop: float  # Spearman points
    max_slowdown: float  # fraction of the median latency
    max_memory_growth: float  # fraction

@dataclass(frozen=True)
class Budget:
    p95_ms: float | None = None
    p50_ms: float | None = None
    min_throughput: float | None = None  # sentences per second
    peak_mb: float | None = None  # peak RSS of a process loading the model and encoding
    cuda_peak_mb: float | None = None
    min_spearman: float | None = None
    min_pearson: float | None = None
    batch_size: int | None = None  # the workload; default --embed-batch-size
    length: str = "short"
    split: str | None = None  # STS split for the correlation budgets; default the first configured

    @property
    def wants_latency(self) -> bool:
        return any(v is not None for v in (self.p95_ms, self.p50_ms, self.min_throughput))

    @property
    def wants_memory(self) -> bool:
        return self.peak_mb is not None or self.cuda_peak_mb is not None

    @property
    def wants_sts(self) -> bool:
        return self.min_spearman is not None or self.min_pearson is not None


def positive(value: Any, what: str) -> float:
    """A latency, throughput or memory budget; ``what`` names it in the error (``p95_ms=-1``, ``'-1'``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number")
    return float(value)


def correlation(value: Any, what: str) -> float:
    """A correlation budget, x100 as every figure of the package (``min_spearman=250`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -100 <= value <= 100:
        raise ValueError(f"{what} must be a number in -100..100 (correlations are x100)")
    return float(value)


def parse_budget(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Budget:
    """A Budget from the marker's arguments; ValueError says which argument is wrong."""
    if args:
        raise ValueError(f"takes keyword arguments only, got positional {args!r}")
    known = {f.name for f in fields(Budget)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(f"unknown argument(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name in ("min_spearman", "min_pearson"):
            values[name] = correlation(value, f"{name}={value!r}")
        elif name == "batch_size":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"batch_size={value!r} must be a whole number >= 1")
            values[name] = value
        elif name == "length":
            if value not in LENGTHS:
                raise ValueError(f"length={value!r} must be one of {', '.join(LENGTHS)}")
            values[name] = value
        elif name == "split":
            if not isinstance(value, str) or not value:
                raise ValueError(f"split={value!r} must be a split name")
            values[name] = value
        else:
            values[name] = positive(value, f"{name}={value!r}")
    budget = Budget(**values)
    if not (budget.wants_latency or budget.wants_memory or budget.wants_sts):
        raise ValueError("sets no budget (give p95_ms, p50_ms, min_throughput, peak_mb, cuda_peak_mb, "
                         "min_spearman or min_pearson)")
    return budget


def parse_tolerance(args: tuple[Any, ...], kwargs: dict[str, Any], defaults: Tolerance) -> Tolerance:
    """``embed_tolerance(max_drop=1.0, max_slowdown=0.2, max_memory_growth=0.1)`` for one test's gates."""
    if args:
        raise ValueError(f"takes keyword arguments only, got positional {args!r}")
    known = {f.name for f in fields(Tolerance)}
    unknown = sorted(set(kwargs) - known)
    if unknown or not kwargs:
        raise ValueError(f"unknown argument(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})" if unknown
                         else f"sets no tolerance (give {', '.join(sorted(known))})")
    values = {}
    for name, value in kwargs.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name}={value!r} must be a finite number >= 0 (fractions for slowdown and growth)")
        if name != "max_drop" and value > 10:
            raise ValueError(f"{name}={value!r} is a fraction: 0.15 means 15%")
        values[name] = float(value)
    return Tolerance(**{**{f.name: getattr(defaults, f.name) for f in fields(Tolerance)}, **values})


@dataclass(frozen=True)
class Limits:
    """The budgets the options set for one target (``embed_limits`` fixture); None: no budget."""

    min_spearman: float | None
    max_p95_ms: float | None
    max_peak_mb: float | None


def limits_for(settings: Any, target: Any) -> Limits:
    """``--embed-min-spearman=minilm=85,minilm@int8=84,*=80`` and friends, for ``target``."""
    names = (target.label, target.model.name)
    return Limits(budget_for(settings.min_spearman, *names), budget_for(settings.max_p95_ms, *names),
                  budget_for(settings.max_peak_mb, *names))


def budget_for(budgets: dict[str, float] | None, *names: str) -> float | None:
    """The budget a per-model option gives the first of ``names`` it lists, else ``*``, else None."""
    if not budgets:
        return None
    for name in names:
        if name in budgets:
            return budgets[name]
    return budgets.get("*")
