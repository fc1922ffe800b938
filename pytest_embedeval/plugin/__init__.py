"""pytest-embedeval's entry point (``pytest11``): options, markers, and the plugin object when a run needs it.

Layer 6, the only layer that imports pytest.  Every pytest run in an
environment with the package installed imports this module, embeddings or not,
so it imports pytest and the option table only, and the settings are parsed
only when the run sets an option.  The marker checks (here) and the fixtures
are always registered (they are cheap, and an embed test without models must
skip, saying why); the plugin object whose methods are the hooks
(:class:`~pytest_embedeval.plugin.hooks.EmbedEvalPlugin`) is registered only
when the run measures or reports something, as junitxml registers its object
only for ``--junitxml``.
"""

from __future__ import annotations

import pytest

from pytest_embedeval.plugin import options

PLUGIN_NAME = "embedeval-session"
MARKERS = (
    "embed_budget(p95_ms=, p50_ms=, min_throughput=, peak_mb=, cuda_peak_mb=, min_spearman=, min_pearson=, "
    "batch_size=, length=, split=): budgets this test's model must meet, checked after the test body",
    "embed_tolerance(max_drop=, max_slowdown=, max_memory_growth=): this test's baseline-gate tolerances",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A bad embed_budget or embed_tolerance is a collection error in every run, models selected or not, not
    only in the runs that measure."""
    if metafunc.definition.get_closest_marker("embed_budget") or metafunc.definition.get_closest_marker(
            "embed_tolerance"):
        from pytest_embedeval.plugin.budget import check_markers

        check_markers(metafunc)


def pytest_configure(config: pytest.Config) -> None:
    from pytest_embedeval.plugin import fixtures

    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    config.pluginmanager.register(fixtures, "embedeval-fixtures")
    if not options.given(config):  # a run that does not use the plugin: nothing more to check or build
        return
    from pytest_embedeval.plugin.settings import read_settings

    settings = read_settings(config)
    if bool(settings.candidate) != bool(settings.incumbent):
        raise pytest.UsageError("--embed-candidate and --embed-incumbent go together: give both")
    if settings.incumbent_env and not settings.models:
        raise pytest.UsageError(f"{settings.sources['incumbent_env']}: name the models to compare with "
                                "--embed-models (the stack-upgrade check measures each of them)")
    if settings.models or settings.candidate or settings.report is not None:
        from pytest_embedeval.plugin import xdist
        from pytest_embedeval.plugin.build import build_run
        from pytest_embedeval.plugin.hooks import EmbedEvalPlugin

        settings = xdist.prepare(config, settings)  # before anything imports torch: a worker's threads and GPU
        run = build_run(config, settings)
        config.stash[fixtures.RUN] = run
        config.pluginmanager.register(EmbedEvalPlugin(config, run), PLUGIN_NAME)
        if xdist.distributed(config) or xdist.is_worker(config):
            config.pluginmanager.register(xdist.XdistPlugin(config, run), "embedeval-xdist")
