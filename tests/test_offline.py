"""No network: an unknown hub model or the hub data set fails fast, saying what it needs.

This machine has no route to the Hugging Face hub, which is the situation
tested; on a machine with one, the unknown model still fails fast (the hub
answers 404) while the data set would load, so that case skips.  The failing
step is timed inside the run (the 5 s bar), the whole pytest process outside it
(start-up imports torch and sentence-transformers, ~3-8 s cold).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

TIMED = """
import time

def test_hub(embed_eval):
    start = time.perf_counter()
    try:
        {action}
    finally:
        print(f"FAILED AFTER {{time.perf_counter() - start:.2f}} S")
"""


def _hub_reachable() -> bool:
    from pytest_embedeval.core.hub import _unreachable

    try:
        return _unreachable("sentence-transformers/all-MiniLM-L6-v2", "model") is None
    except Exception:
        return False


@pytest.fixture(scope="module")
def offline() -> None:
    if _hub_reachable():
        pytest.skip("the hub is reachable from here: these tests are about a machine without it")


def run_timed(pytester: pytest.Pytester, action: str, *args: str) -> tuple[pytest.RunResult, float, float]:
    pytester.makepyfile(TIMED.format(action=action))
    start = time.perf_counter()
    result = pytester.runpytest_subprocess(*args, "-s", "-p", "no:cacheprovider")
    whole = time.perf_counter() - start
    line = next(line for line in result.stdout.lines if "FAILED AFTER" in line)
    return result, float(line.split("FAILED AFTER ")[1].split()[0]), whole


@pytest.mark.parametrize("hf_offline", [None, "1"], ids=["HF_HUB_OFFLINE-unset", "HF_HUB_OFFLINE=1"])
def test_unknown_hub_model_fails_fast(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, offline: None,
                                      hf_offline: str | None) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    if hf_offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", hf_offline)
    result, step, whole = run_timed(pytester, "embed_eval.model", "--embed-models=someorg/does-not-exist")
    result.assert_outcomes(failed=1)
    needs = ("HF_HUB_OFFLINE is set: it needs the hub once, or give a local model folder in --embed-models"
             if hf_offline else
             "needs the Hugging Face hub, which cannot be reached (*); give a local model folder in --embed-models")
    result.stdout.fnmatch_lines([f"*model 'someorg/does-not-exist' *{needs}*"])
    assert "Traceback" not in result.stdout.str()
    assert step < 5.0, f"the failing load took {step:.1f} s"
    assert whole < 30.0


@pytest.mark.parametrize("hf_offline", [None, "1"], ids=["HF_HUB_OFFLINE-unset", "HF_HUB_OFFLINE=1"])
def test_hub_data_set_fails_fast_with_advice(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                             offline: None, minilm_path: Path, hf_offline: str | None) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("EMBEDEVAL_STS_PATH", raising=False)
    if hf_offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", hf_offline)
    result, step, whole = run_timed(pytester, "embed_eval.sts()", "--embed-models=minilm")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "HubError: dataset 'sentence-transformers/stsb' "
        + ("is not in the local Hugging Face cache and HF_HUB_OFFLINE is set" if hf_offline else
           "needs the Hugging Face hub, which cannot be reached (*)")
        + "*pass --embed-sts-path=PATH (or set EMBEDEVAL_STS_PATH) to a local copy"])
    assert step < 5.0, f"the failing load took {step:.1f} s"
    assert whole < 30.0
