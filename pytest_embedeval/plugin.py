"""pytest-embedeval's hooks and fixtures: options in, measurements out.

This module stays thin and cheap to import: it wires options to fixtures and
fixtures to the measurement modules, which are imported only when a run
selects models.  No measurement logic lives here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_embedeval import options
from pytest_embedeval.errors import EmbedEvalError

if TYPE_CHECKING:
    from pytest_embedeval.data import StsDataset
    from pytest_embedeval.fixture import EmbedEval
    from pytest_embedeval.models import EmbedTarget
    from pytest_embedeval.session import EmbedSession

SETTINGS = pytest.StashKey["options.Settings"]()
SESSION = pytest.StashKey["EmbedSession | None"]()
WORKER_RECORDS = "embedeval_records"
NO_MODELS = ("no embedding model selected: pass --embed-models=ID[,ID...] "
             "or set embed_models in the ini file")
BUDGET_MARKER = ("embed_budget(p95_ms=, p50_ms=, min_throughput=, peak_mb=, cuda_peak_mb=, min_spearman=, "
                 "min_pearson=, batch_size=, length=, split=): budgets this test's model must meet, "
                 "checked after the test body")


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", BUDGET_MARKER)
    settings = options.read_settings(config)
    config.stash[SETTINGS] = settings
    config.stash[SESSION] = _build_session(config, settings) if settings.models else None


def _build_session(config: pytest.Config, settings: options.Settings) -> EmbedSession:
    from pytest_embedeval.models import EmbedTarget, resolve_model, unique_names
    from pytest_embedeval.session import EmbedSession

    specs = []
    for source in settings.models or ():
        try:
            specs.append(resolve_model(source, settings.bases["models"]))
        except EmbedEvalError as exc:
            raise pytest.UsageError(f"{settings.sources['models']}: {exc}") from None
    targets = [EmbedTarget(spec, device) for spec in unique_names(specs) for device in settings.devices]
    return EmbedSession(settings, targets, config.rootpath, timing=_timing(config, settings),
                        benchmark_skip=bool(config.getoption("benchmark_skip", False)))


def _timing(config: pytest.Config, settings: options.Settings) -> Any:
    """Round counts are ours; the timer and GC switch are pytest-benchmark's options."""
    from pytest_embedeval.latency import Timing

    timing = Timing(rounds=settings.latency_rounds, warmup=settings.latency_warmup,
                    disable_gc=bool(config.getoption("benchmark_disable_gc", False)))
    timer_name = config.getoption("benchmark_timer", None)
    if timer_name:
        from pytest_benchmark.utils import load_timer

        timing = Timing(timing.rounds, timing.warmup, load_timer(str(timer_name)).target, timing.disable_gc)
    return timing


def _session(config: pytest.Config) -> EmbedSession | None:
    return config.stash.get(SESSION, None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    session = _session(config)
    if session is None:
        return []
    data = session.settings.sts_path or "hub:sentence-transformers/stsb"
    return [f"embedeval: models {', '.join(t.id for t in session.targets)}; STS data {data}"]


def _user_parametrizes(metafunc: pytest.Metafunc, name: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if name in ([n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)):
            return True
    return False


def _check_budget_marker(metafunc: pytest.Metafunc) -> None:
    """A bad embed_budget is a collection error naming the test and the argument."""
    marker = metafunc.definition.get_closest_marker("embed_budget")
    if marker is None:
        return
    from pytest_embedeval.budget import parse_budget

    where = f"{metafunc.definition.nodeid}: @pytest.mark.embed_budget"
    if "embed_eval" not in metafunc.fixturenames:
        raise pytest.Collector.CollectError(f"{where} needs the embed_eval fixture: add it to the test's arguments")
    try:
        parse_budget(marker.args, marker.kwargs)
    except ValueError as exc:
        raise pytest.Collector.CollectError(f"{where}: {exc}") from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    _check_budget_marker(metafunc)
    session = _session(metafunc.config)
    if session is None:
        return
    if "embed_target" in metafunc.fixturenames and not _user_parametrizes(metafunc, "embed_target"):
        metafunc.parametrize("embed_target", session.targets, ids=[t.id for t in session.targets], indirect=True)
    if "sts_dataset" in metafunc.fixturenames and not _user_parametrizes(metafunc, "sts_dataset"):
        splits = session.settings.sts_splits
        metafunc.parametrize("sts_dataset", splits, ids=list(splits), indirect=True)


@pytest.fixture
def embed_target(request: pytest.FixtureRequest) -> EmbedTarget:
    """The (model, device) this test runs for; skips when none is selected or present."""
    target = getattr(request, "param", None)
    if target is None:
        pytest.skip(NO_MODELS)
    from pytest_embedeval.models import device_unavailable

    reason = device_unavailable(target.device)
    if reason:
        pytest.skip(reason)
    return target


@pytest.fixture
def embed_device(embed_target: EmbedTarget) -> str:
    """The torch device string of this test's target (``auto`` resolved)."""
    from pytest_embedeval.models import resolve_device

    return resolve_device(embed_target.device)


@pytest.fixture
def sts_dataset(request: pytest.FixtureRequest) -> StsDataset:
    """STS pairs with gold scores for one of the configured splits."""
    session = _session(request.config)
    if session is None:
        pytest.skip(NO_MODELS)
    return session.dataset(getattr(request, "param", session.settings.sts_splits[0]))


@pytest.fixture
def embed_eval(request: pytest.FixtureRequest, embed_target: EmbedTarget) -> EmbedEval:
    """Measurements of this test's model: ``embed_eval.sts().assert_spearman(min=85)``."""
    from pytest_embedeval.fixture import EmbedEval

    session = _session(request.config)
    assert session is not None  # embed_target skipped otherwise
    if "sts_dataset" in request.fixturenames:
        split = request.getfixturevalue("sts_dataset").split
    else:
        split = session.settings.sts_splits[0]
    return EmbedEval(session, embed_target, split)


@pytest.fixture
def embed_model(embed_eval: EmbedEval) -> Any:
    """The loaded SentenceTransformer, shared by every test of the session."""
    return embed_eval.model


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After a passing test body, measure and check its embed_budget."""
    result = yield
    marker = item.get_closest_marker("embed_budget")
    embed_eval = getattr(item, "funcargs", {}).get("embed_eval")
    if marker is not None and embed_eval is not None:
        from pytest_embedeval.budget import check_budget, parse_budget

        failures = check_budget(parse_budget(marker.args, marker.kwargs), embed_eval)
        if failures:  # the message says it all; the hook's own traceback would only distract
            pytest.fail("embed_budget missed:\n" + "\n".join(f"  {line}" for line in failures), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Show an EmbedEvalError as its message alone: it names the file, option or model."""
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, EmbedEvalError):
        report.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"
    return report


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect the records a worker measured."""
    session = _session(node.config)
    records = getattr(node, "workeroutput", {}).get(WORKER_RECORDS)
    if session is not None and records:
        session.recorder.extend(records)


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    embed = _session(config)
    if _is_worker(config):
        if embed is not None:
            config.workeroutput[WORKER_RECORDS] = embed.recorder.records  # type: ignore[attr-defined]
        return
    report_path = config.stash[SETTINGS].report
    if report_path is not None:
        from pytest_embedeval.environment import describe
        from pytest_embedeval.report import write_report

        records = embed.recorder.records if embed is not None else []
        write_report(report_path, records, describe(config.rootpath))


def pytest_unconfigure(config: pytest.Config) -> None:
    embed = _session(config)
    if embed is not None:
        embed.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    embed = _session(config)
    if embed is None or _is_worker(config) or not embed.recorder.records:
        return
    from pytest_embedeval.report import latency_table, sts_table, target_table

    records = embed.recorder.records
    tables = [target_table(records, embed.settings.batch_size), latency_table(records), sts_table(records)]
    tables = [table for table in tables if table]
    if tables:
        terminalreporter.write_sep("=", "embedding evaluation")
    for table in tables:
        terminalreporter.write_line("")
        for line in table:
            terminalreporter.write_line(line)
    report_path = config.stash[SETTINGS].report
    if report_path is not None:
        terminalreporter.write_line(f"embedeval report: {report_path}")
