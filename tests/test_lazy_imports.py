"""The plugin imports nothing heavy unless a test uses an embed fixture.

Runs pytest in a subprocess (an in-process run would share this process's
already-imported modules) and inspects sys.modules at the end of the run.
"""

from __future__ import annotations

import json

import pytest

HEAVY = ("torch", "sentence_transformers", "datasets", "scipy", "numpy", "transformers")

PROBE = f"""
import json, sys
def pytest_unconfigure(config):
    heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
    with open("heavy.json", "w") as handle:
        json.dump(heavy, handle)
"""


def heavy_modules(pytester: pytest.Pytester, *args: str) -> list[str]:
    pytester.makeconftest(PROBE)
    result = pytester.runpytest_subprocess(*args)  # the pytest11 entry point loads the plugin
    assert result.ret == 0, result.stdout.str()
    return json.loads((pytester.path / "heavy.json").read_text())


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
