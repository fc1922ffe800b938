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

    def evaluate(self) -> Any:
        """The AcceptanceResult of candidate against incumbent model."""
        from pytest_embedeval.gate.acceptance import evaluate_upgrade
        from pytest_embedeval.plugin.evaluation import EmbedEval

        run = self.embed_run
        settings, state = run.settings, ItemState()
        recorder = TestRecorder(run.recording, state, gate=False)  # acceptance compares the two, not baselines
        evals = [EmbedEval(run.resources, target, settings.sts_splits[0], recorder) for target in run.acceptance_targets]
        return evaluate_upgrade(*evals, run.recording.default_tolerance, confidence=settings.confidence,
                                seed=settings.seed, timing=run.resources.timing, batch_size=settings.batch_size,
                                tasks=settings.tasks or ())

    @property
    def device(self) -> str:
        return self.embed_run.acceptance_targets[0].device

    def runtest(self) -> None:
        from pytest_embedeval.models.targets import device_unavailable
        from pytest_embedeval.report.tables import acceptance_table

        reason = device_unavailable(self.device)
        if reason:
            pytest.skip(reason)
        result = self.evaluate().to_dict()  # the verdict travels as data; tables render it
        self.embed_run.recording.results.acceptance.append(result)
        if not result["accepted"]:
            raise AcceptanceRejected("\n".join(acceptance_table(result)))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, AcceptanceRejected):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, self.name


class StackAcceptanceItem(AcceptanceItem):
    """One test per model that ``--embed-incumbent-env`` adds: this stack against the one before an upgrade."""

    def __init__(self, *, target: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    @property
    def device(self) -> str:
        return self.target.device

    def evaluate(self) -> Any:
        from pytest_embedeval.gate.stack import evaluate_stack

        run = self.embed_run
        settings, timing = run.settings, run.resources.timing
        return evaluate_stack(self.target, run.resources.dataset(settings.sts_splits[0]), settings.incumbent_env,
                              run.recording.default_tolerance, confidence=settings.confidence, seed=settings.seed,
                              batch_size=settings.batch_size, rounds=timing.rounds, warmup=timing.warmup,
                              processes=settings.incumbent_processes, timeout_s=settings.incumbent_timeout,
                              trust_remote_code=settings.trust_remote_code)
