"""The plugin imports nothing heavy unless a test uses an embed fixture, and almost nothing of its own
unless the run selects models: every pytest run in an environment with the package installed pays for
what its entry point imports (benchmarks/import_tax.py measures it; docs/benchmarks.md#what-an-unused-install-costs).

Runs pytest in a subprocess (an in-process run would share this process's
already-imported modules) and inspects sys.modules at the end of the run.
"""

from __future__ import annotations

import json

import pytest

HEAVY = ("torch", "sentence_transformers", "datasets", "scipy", "numpy", "transformers", "sklearn")

# what a run that sets no option may import of the package: the entry point, its option table, the
# fixtures (which skip, saying why); not the settings, no layer below the plugin
UNUSED_RUN_MODULES = {"pytest_embedeval", "pytest_embedeval.errors", "pytest_embedeval.plugin",
                      "pytest_embedeval.plugin.options", "pytest_embedeval.plugin.fixtures"}

PROBE = f"""
import json, sys
def pytest_unconfigure(config):
    heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
    ours = sorted(name for name in sys.modules if name.split(".")[0] == "pytest_embedeval")
    plugins = sorted(type(p).__name__ for p in config.pluginmanager.get_plugins())
    with open("heavy.json", "w") as handle:
        json.dump({{"heavy": heavy, "ours": ours, "plugins": plugins}}, handle)
"""


def probe(pytester: pytest.Pytester, *args: str) -> dict[str, list[str]]:
    pytester.makeconftest(PROBE)
    result = pytester.runpytest_subprocess(*args)  # the pytest11 entry point loads the plugin
    assert result.ret == 0, result.stdout.str()
    return json.loads((pytester.path / "heavy.json").read_text())


def heavy_modules(pytester: pytest.Pytester, *args: str) -> list[str]:
    return probe(pytester, *args)["heavy"]


def test_an_unused_plugin_imports_only_its_entry_point_and_registers_no_plugin_object(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    seen = probe(pytester)
    assert set(seen["ours"]) <= UNUSED_RUN_MODULES, sorted(set(seen["ours"]) - UNUSED_RUN_MODULES)
    assert "EmbedEvalPlugin" not in seen["plugins"]
    selected = probe(pytester, "--embed-models=minilm")  # the probe itself: a run that measures registers it
    assert "EmbedEvalPlugin" in selected["plugins"]
    assert set(selected["ours"]) > UNUSED_RUN_MODULES


def test_plain_run_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    assert heavy_modules(pytester) == []


def test_selected_models_and_report_without_embed_fixtures_import_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    assert heavy_modules(pytester, "--embed-models=minilm,mpnet", "--embed-report=r.json") == []


def test_skipped_embed_fixture_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_embed(embed_model): pass")
    assert heavy_modules(pytester) == []


def test_cpu_device_fixture_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_embed(embed_device): assert embed_device == 'cpu'")
    assert heavy_modules(pytester, "--embed-models=minilm") == []


def test_the_probe_sees_heavy_imports_when_a_model_is_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_embed(embed_model): pass")
    assert {"torch", "sentence_transformers"} <= set(heavy_modules(pytester, "--embed-models=minilm"))
