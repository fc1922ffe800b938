"""The test item ``--embed-candidate`` / ``--embed-incumbent`` add: one run, one verdict."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_embedeval.plugin.run import TestRecorder
from pytest_embedeval.plugin.state import ItemState


class AcceptanceRejected(Exception):
    """A REJECT verdict: the message is the verdict table."""


class AcceptanceItem(pytest.Item):
    """The one test a ``--embed-candidate`` / ``--embed-incumbent`` run adds."""

    def __init__(self, *, embed_run: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed_run = embed_run

    def runtest(self) -> None:
        from pytest_embedeval.gate.acceptance import evaluate_upgrade
        from pytest_embedeval.models.targets import device_unavailable
        from pytest_embedeval.plugin.evaluation import EmbedEval
        from pytest_embedeval.report.tables import acceptance_table

        run = self.embed_run
        candidate, incumbent = run.acceptance_targets
        reason = device_unavailable(candidate.device)
        if reason:
            pytest.skip(reason)
        settings, state = run.settings, ItemState()
        recorder = TestRecorder(run.recording, state, gate=False)  # acceptance compares the two, not baselines
        evals = [EmbedEval(run.resources, target, settings.sts_splits[0], recorder) for target in (candidate, incumbent)]
        result = evaluate_upgrade(*evals, run.recording.default_tolerance, confidence=settings.confidence,
                                  seed=settings.seed, timing=run.resources.timing, batch_size=settings.batch_size)
        run.recording.results.acceptance = acceptance_table(result)
        if not result.accepted:
            raise AcceptanceRejected("\n".join(run.recording.results.acceptance))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, AcceptanceRejected):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name
