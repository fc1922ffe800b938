"""The fixtures users write tests with: ``embed_target``, ``embed_device``, ``sts_dataset``, ``embed_eval``,
``embed_limits``, ``embed_hybrid``, ``embed_model``, ``retrieval_set``.

Registered in every run: they read the run from ``config.stash`` and skip, with
the reason, when no model is selected or a device is missing.  This module is
imported by every pytest run, so anything beyond pytest is imported on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_embedeval.measure.data import StsDataset
    from pytest_embedeval.models.targets import EmbedTarget
    from pytest_embedeval.plugin.evaluation import EmbedEval
    from pytest_embedeval.plugin.run import EmbedRun

RUN = pytest.StashKey["EmbedRun"]()  # set in pytest_configure when the run measures or reports

NO_MODELS = ("no embedding model selected: pass --embed-models=ID[,ID...] "
             "or set embed_models in the ini file")


def _run(request: pytest.FixtureRequest) -> EmbedRun:
    run = request.config.stash.get(RUN, None)
    if run is None or not (run.targets or run.acceptance_targets):  # none, or a report of nothing
        pytest.skip(NO_MODELS)
    return run


@pytest.fixture
def embed_target(request: pytest.FixtureRequest) -> EmbedTarget:
    """The (model, device) this test runs for; skips when none is selected or present."""
    target = getattr(request, "param", None)
    if target is None:
        pytest.skip(NO_MODELS)
    from pytest_embedeval.models.targets import device_unavailable, resolve_device
    from pytest_embedeval.models.variants import unsupported

    reason = device_unavailable(target.device) or unsupported(resolve_device(target.device), target.dtype,
                                                              target.backend)
    if reason:
        pytest.skip(reason)
    return target


@pytest.fixture
def embed_device(embed_target: EmbedTarget) -> str:
    """The torch device string of this test's target (``auto`` resolved)."""
    from pytest_embedeval.models.targets import resolve_device

    return resolve_device(embed_target.device)


@pytest.fixture
def sts_dataset(request: pytest.FixtureRequest) -> StsDataset:
    """STS pairs with gold scores for one of the configured splits."""
    run = _run(request)
    tasks = run.settings.sts_tasks
    if tasks:  # --embed-sts-tasks: parametrized over MTEB tasks by name
        return run.resources.task_dataset(getattr(request, "param", tasks[0]))
    return run.resources.dataset(getattr(request, "param", run.settings.sts_splits[0]))


@pytest.fixture
def embed_eval(request: pytest.FixtureRequest, embed_target: EmbedTarget) -> EmbedEval:
    """Measurements of this test's model: ``embed_eval.sts().assert_spearman(min=85)``."""
    from pytest_embedeval.plugin.evaluation import EmbedEval
    from pytest_embedeval.plugin.run import TestRecorder
    from pytest_embedeval.plugin.state import ITEM_STATE, ItemState

    run = _run(request)
    if "sts_dataset" in request.fixturenames:
        split = request.getfixturevalue("sts_dataset").split
    else:
        split = run.settings.sts_splits[0]
    state = request.node.stash.setdefault(ITEM_STATE, ItemState())
    evaluation = EmbedEval(run.resources, embed_target, split, TestRecorder(run.recording, state))
    if run.settings.sts_tasks:  # sts() scores this test's task (or the first), not an STS-B split
        evaluation.data = (request.getfixturevalue("sts_dataset") if "sts_dataset" in request.fixturenames
                           else run.resources.task_dataset(run.settings.sts_tasks[0]))
    return evaluation


@pytest.fixture
def embed_limits(request: pytest.FixtureRequest, embed_target: EmbedTarget) -> Any:
    """This target's budgets from --embed-min-spearman, --embed-max-p95-ms, --embed-max-peak-mb (or None)."""
    from pytest_embedeval.gate.policy import limits_for

    return limits_for(_run(request).settings, embed_target)


@pytest.fixture
def embed_hybrid(request: pytest.FixtureRequest) -> Any:
    """Retrieve with the run's first model, rerank with its last: ``embed_hybrid(ks=(10, 50))``."""
    from pytest_embedeval.models.targets import device_unavailable
    from pytest_embedeval.plugin.evaluation import HybridEval, hybrid_pair

    run = _run(request)
    pair = hybrid_pair(run.targets)
    if isinstance(pair, str):
        pytest.skip(pair)
    reason = device_unavailable(pair[0].device)
    if reason:
        pytest.skip(reason)
    return HybridEval(run.resources, *pair, run.settings.sts_splits[0], run.recording.results)


@pytest.fixture
def retrieval_set(request: pytest.FixtureRequest) -> Any:
    """The BEIR retrieval set of --embed-retrieval-path (loaded once); skips, with the reason, when none is set."""
    run = _run(request)
    if run.settings.retrieval_path is None:
        pytest.skip("no retrieval set: pass --embed-retrieval-path=FOLDER (BEIR layout: corpus.jsonl, "
                    "queries.jsonl, qrels/test.tsv) or hub:ORG/NAME")
    return run.resources.retrieval_set()


@pytest.fixture
def embed_model(embed_eval: EmbedEval) -> Any:
    """The loaded SentenceTransformer, shared by every test of the session."""
    return embed_eval.model


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``<kind>_task`` (sts_task, classification_task ...): the --embed-tasks of that kind, or one skip with the
    reason (here, not on the plugin object, which exists only when a run does)."""
    if any(name.endswith("_task") for name in metafunc.fixturenames):
        from pytest_embedeval.plugin.tasks import parametrize_tasks

        parametrize_tasks(metafunc, metafunc.config.stash.get(RUN, None), NO_MODELS)
