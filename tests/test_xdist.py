"""pytest-xdist: workers measure, the controller writes once; timings never overlap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("xdist")

TESTS = """
import pytest

@pytest.mark.parametrize("batch", [1, 2, 3, 4])
def test_latency(embed_eval, batch):
    embed_eval.latency(batch_size=batch)

@pytest.mark.parametrize("n", range(4))
def test_sts(embed_eval, n):
    embed_eval.sts()

def test_memory(embed_eval):
    embed_eval.memory(batch_size=2)

def test_loaded_once_per_worker(embed_eval):
    embed_eval.model
    assert all(count == 1 for count in embed_eval.resources.pool.loads.values())
"""


def test_two_workers(pytester: pytest.Pytester, tiny_csv: Path, measurement_log: Any) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--embed-models=minilm,random:minilm-l6", f"--embed-sts-path={tiny_csv}",
        "--embed-latency-rounds=5", "--embed-report=r.json", "--embed-baseline-save", "-p", "no:randomly")
    result.assert_outcomes(passed=20)
    result.stdout.fnmatch_lines(["model loads: minilm-cpu 1 (gw* 1); random-minilm-l6-cpu 1 (gw* 1)"])
    result.stdout.fnmatch_lines(["*embedeval baseline written: *minilm.json",
                                 "*embedeval baseline written: *random-minilm-l6.json"])

    report = json.loads((pytester.path / "r.json").read_text())
    kinds = sorted((r["kind"], r["model"], r.get("batch_size")) for r in report["results"])
    assert kinds == sorted([("latency", m, b) for m in ("minilm", "random-minilm-l6") for b in (1, 2, 3, 4)]
                           + [("memory", m, 2) for m in ("minilm", "random-minilm-l6")]
                           + [("sts", m, 32) for m in ("minilm", "random-minilm-l6")])
    assert len(report["baseline_verdicts"]) == 12 and {v["status"] for v in report["baseline_verdicts"]} == {"saved"}
    # --dist loadgroup by default: every test of a model on one worker, so each model loaded once in the run
    loads = report["model_loads"]
    assert sorted(loads) == ["minilm-cpu", "random-minilm-l6-cpu"]
    assert all(list(workers.values()) == [1] for workers in loads.values()), loads

    for model in ("minilm", "random-minilm-l6"):
        entries = json.loads((pytester.path / "baselines" / f"{model}.json").read_text())["entries"]["cpu"]
        assert len(entries) == 6, sorted(entries)

    windows = measurement_log.windows()
    counts = {kind: sum(1 for w in windows if w[1] == kind) for kind in ("timing", "memory", "encode")}
    # 8 latency tests: rounds + one gate window each, then a saved baseline's replicate windows; memory
    # probes: the first and the saved baseline's more; one STS encode per model
    assert counts["timing"] > 16 and counts["memory"] >= 4 and counts["encode"] == 2, counts
    measurement_log.assert_no_timing_overlaps()

    # a second run compares against what the controller wrote, on both workers
    again = pytester.runpytest_subprocess("-n", "2", "--embed-models=minilm,random:minilm-l6",
                                          f"--embed-sts-path={tiny_csv}", "--embed-latency-rounds=5",
                                          "--embed-baseline-missing=fail", "--embed-max-slowdown=300%")
    again.assert_outcomes(passed=20)
    measurement_log.assert_no_timing_overlaps()


def test_the_user_may_choose_another_distribution(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    """A mode other than xdist's default is kept: under --dist each, every worker runs (and loads) the model."""
    pytester.makepyfile("""
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_model(embed_model, n):
            assert embed_model is not None
    """)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "each", "--embed-models=random:minilm-l6",
                                           f"--embed-sts-path={tiny_csv}", "--embed-report=r.json")
    result.assert_outcomes(passed=12)
    loads = json.loads((pytester.path / "r.json").read_text())["model_loads"]
    assert loads == {"random-minilm-l6-cpu": {"gw0": 1, "gw1": 1}}
