"""Per-test state, kept in ``item.stash``: what the test measured and the verdicts it got."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported where used: the fixtures import this module in every run, embeddings or not
    from pytest_embedeval.gate.policy import Tolerance
    from pytest_embedeval.gate.verdict import Verdict


@dataclass
class ItemState:
    """What one test measured and the verdicts it got; its embed_tolerance, if any."""

    tolerance: Tolerance | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)

    def outcome(self, missing_policy: str) -> tuple[list[str], str | None]:
        """The test's gate failures and, under ``--embed-baseline-missing=skip``, its skip reason.

        A measurement that was not compared (no baseline, or one it cannot be compared with) follows the
        missing-baseline policy: under ``fail`` nothing passes unseen."""
        from pytest_embedeval.gate.verdict import UNCOMPARED

        failures = [f"baseline gate: {v.line()}" for v in self.verdicts if v.failed]
        missing = [v for v in self.verdicts if v.status in UNCOMPARED]
        if missing and missing_policy == "fail":
            failures += [f"baseline gate: {v.line()} (--embed-baseline-missing=fail)" for v in missing]
        skip = "; ".join(v.line() for v in missing) if missing and missing_policy == "skip" else None
        return failures, skip

    def properties(self) -> list[tuple[str, Any]]:
        from pytest_embedeval.report.outputs import junit_properties

        return junit_properties(self.records, self.verdicts)


ITEM_STATE = pytest.StashKey[ItemState]()
