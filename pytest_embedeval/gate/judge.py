"""Comparing each measurement with its baseline entry, and collecting the baselines to write.

:class:`Gatekeeper` is the gate layer's one entry point: ``check(result,
tolerance)`` gives a :class:`Verdict`; entries to save or update wait in
``pending`` until the controller writes them at the end of the run.  It does
not measure: when the speed gate's first look asks for more windows
(``MORE``), the caller, which can measure, times them and asks again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_embedeval.gate.entries import ENTRY_TYPES, Context
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.gate.store import BaselineStore
from pytest_embedeval.measure.registry import kind_of
from pytest_embedeval.gate.verdict import FAIL, NO_BASELINE, SAVED, UPDATED, Judgement, Verdict, verdict_for


def judge(kind: str, result: Any, entry: dict[str, Any], tolerance: Tolerance, *, where: str,
          environment: dict[str, Any], confidence: float, seed: int, final: bool = True) -> Verdict:
    """The verdict on ``result`` against its baseline ``entry`` (``where`` names it in errors)."""
    typed = ENTRY_TYPES[kind].read(entry, result, where)
    context = Context(where, environment, confidence, seed, final)
    return verdict_for(result, typed.judge(result, tolerance, context))


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

    def check(self, result: Any, tolerance: Tolerance, final: bool = True) -> Verdict:
        """The verdict on ``result``: compared, saved, updated or without a baseline (``final``: see judge)."""
        target, key = result.target, result.entry_key()
        model, variant = target.model, target.variant_key
        entry = self.store.entry(model, variant, key)
        if self.update or (self.save and entry is None):
            written = {**ENTRY_TYPES[result.KIND].write(result), "environment": self.environment}
            self.pending.setdefault(model, {}).setdefault(variant, {})[key] = written
            return verdict_for(result, Judgement(UPDATED if entry is not None else SAVED,
                                                 detail=f"written to {self.store.path(model)}"))
        if entry is None:
            return self._missing(result)
        return judge(result.KIND, result, entry, tolerance, where=f"{self.store.path(model)} [{variant}][{key}]",
                     environment=self.environment, confidence=self.confidence, seed=self.seed, final=final)

    def _missing(self, result: Any) -> Verdict:
        model, variant = result.target.model, result.target.variant_key
        if kind_of(result) is not None:  # an accuracy kind: its keys name the data, then its fingerprint
            prefix = result.entry_key().split(f":{result.fingerprint}")[0] + ":"
            others = [k for k in self.store.keys(model, variant) if k.startswith(prefix)]
            if others:
                return verdict_for(result, Judgement(FAIL, detail=(
                    f"the baseline in {self.store.path(model)} is for other data ({', '.join(others)}); "
                    f"this data's fingerprint is {result.fingerprint}: the data set changed, so review "
                    "it and rewrite the baseline with --embed-baseline-update")))
        return verdict_for(result, Judgement(NO_BASELINE, detail=f"none in {self.store.path(model)}; write one with "
                                                                 "--embed-baseline-save"))

    def merge_pending(self, pending: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Entries an xdist worker collected, to be written by the controller."""
        for model, variants in pending.items():
            for variant, entries in variants.items():
                self.pending.setdefault(model, {}).setdefault(variant, {}).update(entries)

    def write_pending(self) -> list[Path]:
        return [self.store.write(model, updates, replace=self.update) for model, updates in sorted(self.pending.items())]
