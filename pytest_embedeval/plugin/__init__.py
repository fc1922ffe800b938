"""pytest-embedeval's entry point (``pytest11``): options, markers, and the plugin object that does the rest.

Layer 6, the only layer that imports pytest.  This module stays small and
cheap to import: the hooks live on :class:`~pytest_embedeval.plugin.hooks.EmbedEvalPlugin`,
registered here in ``pytest_configure``; the fixtures in
:mod:`pytest_embedeval.plugin.fixtures`; measurement code is imported only when
a run selects models and a test uses an embed fixture.
"""

from __future__ import annotations

import pytest

from pytest_embedeval.plugin import fixtures, options
from pytest_embedeval.plugin.hooks import RUN, EmbedEvalPlugin
from pytest_embedeval.plugin.markers import MARKERS

PLUGIN_NAME = "embedeval-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    settings = options.read_settings(config)
    if bool(settings.candidate) != bool(settings.incumbent):
        raise pytest.UsageError("--embed-candidate and --embed-incumbent go together: give both")
    if settings.incumbent_env and not settings.models:
        raise pytest.UsageError(f"{settings.sources['incumbent_env']}: name the models to compare with "
                                "--embed-models (the stack-upgrade check measures each of them)")
    run = None
    if settings.models or settings.candidate:
        from pytest_embedeval.plugin.build import build_run

        run = build_run(config, settings)
    config.stash[RUN] = run
    config.pluginmanager.register(EmbedEvalPlugin(config, settings, run), PLUGIN_NAME)
    config.pluginmanager.register(fixtures, "embedeval-fixtures")
