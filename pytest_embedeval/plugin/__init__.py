"""pytest-embedeval's entry point (``pytest11``): options, markers, and the plugin object when a run needs it.

Layer 6, the only layer that imports pytest.  Every pytest run in an
environment with the package installed imports this module, embeddings or not,
so it imports pytest and the option table only.  The fixtures and the marker
checks are always registered (they are cheap, and an embed test without models
must skip, saying why); the plugin object whose methods are the hooks
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


def pytest_configure(config: pytest.Config) -> None:
    from pytest_embedeval.plugin import fixtures, markers

    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    settings = options.read_settings(config)
    if bool(settings.candidate) != bool(settings.incumbent):
        raise pytest.UsageError("--embed-candidate and --embed-incumbent go together: give both")
    if settings.incumbent_env and not settings.models:
        raise pytest.UsageError(f"{settings.sources['incumbent_env']}: name the models to compare with "
                                "--embed-models (the stack-upgrade check measures each of them)")
    config.pluginmanager.register(fixtures, "embedeval-fixtures")
    config.pluginmanager.register(markers, "embedeval-markers")
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
