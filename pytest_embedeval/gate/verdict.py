"""A verdict: the outcome of comparing one measurement with its baseline, as plain data."""

from __future__ import annotations

from dataclasses import KW_ONLY, asdict, dataclass
from enum import StrEnum
from typing import Any

from pytest_embedeval.core.formatting import figure_or_dash
from pytest_embedeval.models.targets import TargetKey

class Status(StrEnum):
    """One vocabulary for every outcome: a verdict's status and the speed test's decision.

    A ``StrEnum`` so that reports, JUnit properties and JSON keep the plain words they always showed."""

    PASS = "pass"
    FAIL = "FAIL"
    MORE = "more windows"  # the speed gate's first look could not decide: the caller times more windows, asks again
    NO_BASELINE = "no baseline"
    NOT_COMPARABLE = "not comparable"
    SAVED = "saved"
    UPDATED = "updated"


PASS, FAIL, MORE, NO_BASELINE, NOT_COMPARABLE, SAVED, UPDATED = Status
UNCOMPARED = (NO_BASELINE, NOT_COMPARABLE)  # measured, but not judged against a baseline


@dataclass(frozen=True)
class Judgement:
    """What a baseline entry concludes about a measurement; the verdict adds whose measurement it was."""

    status: Status
    metric: str = ""
    baseline: float | None = None
    current: float | None = None
    change: str = ""  # "-1.02 points [-1.31, -0.74]", "x1.18 [1.15, 1.21]"
    detail: str = ""


@dataclass(frozen=True)
class Verdict(Judgement):
    """The outcome of comparing one measurement with its baseline: the judgement, and whose measurement it was."""

    _: KW_ONLY  # by keyword: the judgement's fields with defaults come first
    kind: str  # sts, latency, memory
    model: str
    device: str  # the baseline file's variant section: "cpu", "cpu-int8"
    key: str  # the baseline entry, e.g. "sts:stsb/dev:eedcd2dd:bs32"

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    @property
    def identity(self) -> tuple[str, str, str]:
        """One verdict per (model, variant section, entry): a re-measurement replaces it."""
        return self.model, self.device, self.key

    def to_dict(self) -> dict[str, Any]:
        """Plain data: execnet sends xdist workers' verdicts to the controller and serialises no enum."""
        return {**asdict(self), "status": str(self.status)}

    def line(self) -> str:
        figures = f"{self.metric} {figure_or_dash(self.baseline)} -> {figure_or_dash(self.current)} ({self.change})" if self.metric else ""
        return " ".join(part for part in (f"{self.model} {self.device} {self.key}: {self.status}.", figures,
                                          self.detail) if part)


def verdict_for(result: Any, judgement: Judgement) -> Verdict:
    target: TargetKey = result.target
    return Verdict(**asdict(judgement), kind=result.KIND, model=target.model, device=target.variant_key,
                   key=result.entry_key())
