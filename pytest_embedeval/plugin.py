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
LOCK_FILE = pytest.StashKey["object"]()
WORKER_OUTPUT = "embedeval"
NO_MODELS = ("no embedding model selected: pass --embed-models=ID[,ID...] "
             "or set embed_models in the ini file")
MARKERS = (
    "embed_budget(p95_ms=, p50_ms=, min_throughput=, peak_mb=, cuda_peak_mb=, min_spearman=, min_pearson=, "
    "batch_size=, length=, split=): budgets this test's model must meet, checked after the test body",
    "embed_tolerance(max_drop=, max_slowdown=, max_memory_growth=): this test's baseline-gate tolerances",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    settings = options.read_settings(config)
    config.stash[SETTINGS] = settings
    if bool(settings.candidate) != bool(settings.incumbent):
        raise pytest.UsageError("--embed-candidate and --embed-incumbent go together: give both")
    wanted = settings.models or settings.candidate
    config.stash[SESSION] = _build_session(config, settings) if wanted else None


def _build_session(config: pytest.Config, settings: options.Settings) -> EmbedSession:
    from dataclasses import replace

    from pytest_embedeval.models import EmbedTarget, resolve_model, split_variant, unique_names
    from pytest_embedeval.session import EmbedSession

    def resolve(source: str, option: str) -> Any:
        try:
            return resolve_model(source, settings.bases[option])
        except EmbedEvalError as exc:
            raise pytest.UsageError(f"{settings.sources[option]}: {exc}") from None

    def variant_of(source: str, option: str) -> tuple[str, str, str]:
        try:  # "minilm@int8": one variant of a model
            return split_variant(source)
        except EmbedEvalError as exc:
            raise pytest.UsageError(f"{settings.sources[option]}: {exc}") from None

    # a model named with @variant runs in that variant only; a bare one in every --embed-dtypes x --embed-backends
    entries = [(variant_of(item, "models"), "@" in item) for item in settings.models or ()]
    resolved = [resolve(source, "models") for (source, _, _), _ in entries]
    named = dict(zip(dict.fromkeys(resolved), unique_names(list(dict.fromkeys(resolved)))))
    targets = list(dict.fromkeys(
        EmbedTarget(named[spec], device, dtype, backend)
        for spec, ((_, own_dtype, own_backend), explicit) in zip(resolved, entries) for device in settings.devices
        for backend in ((own_backend,) if explicit else settings.backends)
        for dtype in ((own_dtype,) if explicit else settings.dtypes)))
    embed = EmbedSession(settings, targets, config.rootpath, timing=_timing(config, settings),
                         benchmark_skip=bool(config.getoption("benchmark_skip", False)), lock=_lock(config),
                         embeddings=_embedding_cache(config, settings))
    def acceptance_target(option: str) -> EmbedTarget:
        source, dtype, backend = variant_of(getattr(settings, option), option)  # a variant can be the candidate
        return EmbedTarget(resolve(source, option), settings.devices[0], dtype, backend)

    if settings.candidate and settings.incumbent:
        candidate, incumbent = acceptance_target("candidate"), acceptance_target("incumbent")
        if candidate == incumbent:  # the same model twice: two names, so ids and reports tell them apart
            incumbent = replace(incumbent, model=unique_names([candidate.model, incumbent.model])[1])
        embed.acceptance_targets = (candidate, incumbent)
    return embed


def _embedding_cache(config: pytest.Config, settings: options.Settings) -> Any:
    """Under pytest's cache dir, so ``--cache-clear`` empties it; none without the cacheprovider."""
    cache = getattr(config, "cache", None)
    if not settings.cache or cache is None:
        return None
    from pytest_embedeval.cache import EmbeddingCache

    return EmbeddingCache(cache.mkdir("embedeval-embeddings"))


def _lock(config: pytest.Config) -> Any:
    """The lock xdist workers share (concurrency.py); the controller made it and passed it on."""
    from pathlib import Path

    from pytest_embedeval.concurrency import WORKERINPUT_KEY, MeasurementLock

    path = getattr(config, "workerinput", {}).get(WORKERINPUT_KEY)
    return MeasurementLock(Path(path) if path else None)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: give every worker the same measurement lock file."""
    from pytest_embedeval.concurrency import WORKERINPUT_KEY

    node.workerinput[WORKERINPUT_KEY] = str(_lock_file(node.config))


def _lock_file(config: pytest.Config) -> Any:
    import shutil
    import tempfile
    from pathlib import Path

    if LOCK_FILE not in config.stash:
        folder = Path(tempfile.mkdtemp(prefix="embedeval-lock-"))
        config.stash[LOCK_FILE] = folder / "measurements.lock"
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    return config.stash[LOCK_FILE]


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
    models = ", ".join(t.id for t in session.targets) or "none"
    if session.acceptance_targets:
        candidate, incumbent = session.acceptance_targets
        models += f"; acceptance {candidate.id} vs {incumbent.id}"
    return [f"embedeval: models {models}; STS data {data}"]


def _user_parametrizes(metafunc: pytest.Metafunc, name: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if name in ([n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)):
            return True
    return False


def _check_markers(metafunc: pytest.Metafunc) -> None:
    """A bad embed_budget or embed_tolerance is a collection error naming the test and the argument."""
    from pytest_embedeval.baselines import Tolerance
    from pytest_embedeval.budget import parse_budget, parse_tolerance

    defaults = Tolerance(0.0, 0.0, 0.0)
    parsers = {"embed_budget": parse_budget,
               "embed_tolerance": lambda args, kwargs: parse_tolerance(args, kwargs, defaults)}
    for name, parse in parsers.items():
        marker = metafunc.definition.get_closest_marker(name)
        if marker is None:
            continue
        where = f"{metafunc.definition.nodeid}: @pytest.mark.{name}"
        if "embed_eval" not in metafunc.fixturenames:
            raise pytest.Collector.CollectError(f"{where} needs the embed_eval fixture: add it to the test's arguments")
        try:
            parse(marker.args, marker.kwargs)
        except ValueError as exc:
            raise pytest.Collector.CollectError(f"{where}: {exc}") from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if any(metafunc.definition.get_closest_marker(name) for name in ("embed_budget", "embed_tolerance")):
        _check_markers(metafunc)
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
    from pytest_embedeval.models import device_unavailable, resolve_device
    from pytest_embedeval.variants import unsupported

    reason = device_unavailable(target.device) or unsupported(resolve_device(target.device), target.dtype,
                                                              target.backend)
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
def embed_limits(request: pytest.FixtureRequest, embed_target: EmbedTarget) -> Any:
    """This target's budgets from --embed-min-spearman, --embed-max-p95-ms, --embed-max-peak-mb (or None)."""
    from pytest_embedeval.budget import limits_for

    return limits_for(request.config.stash[SETTINGS], embed_target)


@pytest.fixture
def embed_hybrid(request: pytest.FixtureRequest) -> Any:
    """Retrieve with the run's first model, rerank with its last: ``embed_hybrid(ks=(10, 50))``."""
    from pytest_embedeval.fixture import HybridEval, hybrid_pair
    from pytest_embedeval.models import device_unavailable

    session = _session(request.config)
    if session is None:
        pytest.skip(NO_MODELS)
    pair = hybrid_pair(session)
    if isinstance(pair, str):
        pytest.skip(pair)
    reason = device_unavailable(pair[0].device)
    if reason:
        pytest.skip(reason)
    return HybridEval(session, *pair, session.settings.sts_splits[0])


@pytest.fixture
def embed_model(embed_eval: EmbedEval) -> Any:
    """The loaded SentenceTransformer, shared by every test of the session."""
    return embed_eval.model


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--embed-candidate/--embed-incumbent`` add the one acceptance test."""
    embed = _session(config)
    if embed is None or embed.acceptance_targets is None:
        return
    from pytest_embedeval.acceptance import AcceptanceItem

    candidate, incumbent = embed.acceptance_targets
    name = f"embed-acceptance[{candidate.label}-vs-{incumbent.label}]"
    item = AcceptanceItem.from_parent(session, name=name, embed_session=embed)
    items.append(item)
    # reported like any collected item, so "collected N items" (and xdist's count) includes it
    config.hook.pytest_collectreport(report=pytest.CollectReport(item.nodeid, "passed", None, [item]))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    embed = _session(item.config)
    if embed is None:
        return
    marker = item.get_closest_marker("embed_tolerance")
    tolerance = None
    if marker is not None:
        from pytest_embedeval.budget import parse_tolerance

        tolerance = parse_tolerance(marker.args, marker.kwargs, embed.default_tolerance)
    embed.begin_item(tolerance)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After the test body: its embed_budget, then the baseline gates of what it measured."""
    embed = _session(item.config)
    try:
        result = yield
    finally:
        if embed is not None:
            item.user_properties.extend(embed.conclude_item()[2])
    if embed is None:
        return result
    marker = item.get_closest_marker("embed_budget")
    embed_eval = getattr(item, "funcargs", {}).get("embed_eval")
    failures: list[str] = []
    if marker is not None and embed_eval is not None:
        from pytest_embedeval.budget import check_budget, parse_budget

        missed = check_budget(parse_budget(marker.args, marker.kwargs), embed_eval)
        failures += ["embed_budget missed:", *(f"  {line}" for line in missed)] if missed else []
    gate_failures, skip, _ = embed.conclude_item()
    failures += gate_failures
    if failures:  # the messages say it all; the hook's own traceback would only distract
        pytest.fail("\n".join(failures), pytrace=False)
    if skip:
        pytest.skip(skip)
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
    """xdist controller: take in what a worker measured, compared and wants written."""
    embed = _session(node.config)
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT)
    if embed is not None and output:
        embed.merge_worker_output(output)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Workers hand their results over; only the controller writes files."""
    config = session.config
    embed = _session(config)
    if _is_worker(config):
        if embed is not None:
            config.workeroutput[WORKER_OUTPUT] = embed.worker_output()  # type: ignore[attr-defined]
        return
    settings = config.stash[SETTINGS]
    if embed is None:
        if settings.report is not None:
            from pytest_embedeval.environment import describe
            from pytest_embedeval.report import write_report

            write_report(settings.report, [], describe(config.rootpath))
        return
    errors = embed.write_outputs(settings.report, settings.markdown)
    if errors:
        embed.output_notes[:0] = errors
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    embed = _session(config)
    if embed is not None:
        embed.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    embed = _session(config)
    if embed is None or _is_worker(config):
        return
    lines = embed.summary_lines()
    if lines:
        terminalreporter.write_sep("=", "embedding evaluation")
        for line in lines:
            terminalreporter.write_line(line)
