"""What latency and memory results share: each is the cost of one model on one device encoding one workload
(``batch_size`` inputs of ``length``), and its baseline keeps one entry per workload."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

from pytest_embedeval.models.targets import Targeted


class WorkloadResult(Targeted):
    """For the frozen result types of latency and memory: their record and their baseline entry's key."""

    KIND: ClassVar[str]
    batch_size: int
    length: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # each subclass is a dataclass

    def entry_key(self) -> str:
        return f"{self.KIND}:bs{self.batch_size}:{self.length}"
