"""What a run measured and decided, as plain data that travels from xdist workers to the controller.

Results arrive as dicts (``result.to_dict()`` plus its ``kind``), so the same
records go into the JSON report, the tables and the worker message.  Recording
the same measurement twice keeps the last one: a record is identified by its
kind and its result type's ``IDENTITY`` fields; a verdict by its model,
variant section and baseline entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypedDict

from pytest_embedeval.gate.verdict import Status, Verdict
from pytest_embedeval.measure import RESULT_TYPES
from pytest_embedeval.measure.registry import kind_of


class ResultsMessage(TypedDict):
    """The run results of one xdist worker, as JSON-safe data (``config.workeroutput``)."""

    records: list[dict[str, Any]]
    verdicts: list[dict[str, Any]]
    hybrids: list[dict[str, Any]]
    acceptance: list[dict[str, Any]]
    budget_misses: list[str]
    loads: dict[str, dict[str, int]]


def record_key(record: dict[str, Any]) -> str:
    kind = record["kind"]
    return json.dumps([kind] + [record.get(name) for name in RESULT_TYPES[kind].IDENTITY])


@dataclass
class RunResults:
    """Every measurement, verdict, retrieve + rerank result and acceptance table of a run."""

    _records: dict[str, dict[str, Any]] = field(default_factory=dict)
    _verdicts: dict[tuple[str, str, str], Verdict] = field(default_factory=dict)
    _hybrids: dict[str, dict[str, Any]] = field(default_factory=dict)
    acceptance: list[dict[str, Any]] = field(default_factory=list)  # each acceptance item's AcceptanceResult.to_dict()
    budget_misses: list[str] = field(default_factory=list)  # "<test id>: <budget missed>", from embed_budget
    loads: dict[str, dict[str, int]] = field(default_factory=dict)  # target id -> worker -> model loads

    def add_loads(self, worker: str, loads: dict[str, int]) -> None:
        """How often each target's model was loaded on ``worker`` ("main" without xdist)."""
        for target, count in loads.items():
            self.loads.setdefault(target, {})[worker] = self.loads.get(target, {}).get(worker, 0) + count

    def add(self, result: Any) -> dict[str, Any]:
        """Record a result; returns its record."""
        record = {"kind": result.KIND, **result.to_dict()}
        kind = kind_of(result)
        if kind is not None:  # MTEB's main score as MTEB reports it: a 0-1 figure
            record["main_score"] = kind.main(record) / 100.0
        self._records[record_key(record)] = record
        return record

    def add_verdict(self, verdict: Verdict) -> None:
        self._verdicts[verdict.identity] = verdict

    def add_hybrid(self, hybrid: dict[str, Any]) -> None:
        self._hybrids[json.dumps([hybrid["small"], hybrid["large"], hybrid["device"], hybrid["n_queries"],
                                  [row["mode"] for row in hybrid["rows"]]])] = hybrid

    @property
    def records(self) -> list[dict[str, Any]]:
        return [self._records[key] for key in sorted(self._records)]

    @property
    def verdicts(self) -> list[Verdict]:
        return list(self._verdicts.values())

    @property
    def hybrids(self) -> list[dict[str, Any]]:
        return list(self._hybrids.values())

    def message(self) -> ResultsMessage:
        return {"records": self.records, "verdicts": [v.to_dict() for v in self.verdicts], "hybrids": self.hybrids,
                "acceptance": list(self.acceptance), "budget_misses": list(self.budget_misses),
                "loads": self.loads}

    def merge(self, message: ResultsMessage) -> None:
        for record in message.get("records") or []:
            self._records[record_key(record)] = record
        for verdict in message.get("verdicts") or []:
            self.add_verdict(Verdict(**{**verdict, "status": Status(verdict["status"])}))
        for hybrid in message.get("hybrids") or []:
            self.add_hybrid(hybrid)
        self.acceptance += message.get("acceptance") or []
        self.budget_misses += message.get("budget_misses") or []
        for target, workers in (message.get("loads") or {}).items():
            for worker, count in workers.items():
                self.add_loads(worker, {target: count})

    @property
    def rejected(self) -> bool:
        """The acceptance check said REJECT."""
        return any(not result["accepted"] for result in self.acceptance)
