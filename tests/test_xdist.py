"""pytest-xdist: workers measure, the controller writes once; timings never overlap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("xdist")

# every timed latency round window, per worker, so the outer test can check overlaps
WINDOW_LOG = """
import json, os, time
import pytest
import pytest_embedeval.measure.latency as latency

@pytest.fixture(autouse=True)
def _log_timing_windows(monkeypatch):
    original = latency.time_rounds

    def logged(run, timing, sync=None):
        start = time.time()
        try:
            return original(run, timing, sync)
        finally:
            with open(f"windows-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.jsonl", "a") as handle:
                handle.write(json.dumps([start, time.time()]) + "\\n")

    monkeypatch.setattr(latency, "time_rounds", logged)
"""

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


def test_two_workers(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makeconftest(WINDOW_LOG)
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess(
        "-n", "2", "--embed-models=minilm,random:minilm-l6", f"--embed-sts-path={tiny_csv}",
        "--embed-latency-rounds=5", "--embed-report=r.json", "--embed-baseline-save", "-p", "no:randomly")
    result.assert_outcomes(passed=20)
    result.stdout.fnmatch_lines(["*embedeval baseline written: *minilm.json",
                                 "*embedeval baseline written: *random-minilm-l6.json"])

    report = json.loads((pytester.path / "r.json").read_text())
    kinds = sorted((r["kind"], r["model"], r.get("batch_size")) for r in report["results"])
    assert kinds == sorted([("latency", m, b) for m in ("minilm", "random-minilm-l6") for b in (1, 2, 3, 4)]
                           + [("memory", m, 2) for m in ("minilm", "random-minilm-l6")]
                           + [("sts", m, 32) for m in ("minilm", "random-minilm-l6")])
    assert len(report["baseline_verdicts"]) == 12 and {v["status"] for v in report["baseline_verdicts"]} == {"saved"}

    for model in ("minilm", "random-minilm-l6"):
        entries = json.loads((pytester.path / "baselines" / f"{model}.json").read_text())["entries"]["cpu"]
        assert len(entries) == 6, sorted(entries)

    logs = sorted(pytester.path.glob("windows-gw*.jsonl"))
    assert len(logs) == 2, "both workers timed something"
    windows = sorted(tuple(json.loads(line)) for log in logs for line in log.read_text().splitlines())
    assert len(windows) == 8
    for (_, end), (start, _) in zip(windows, windows[1:]):
        assert end <= start, "two timings overlapped"

    # a second run compares against what the controller wrote, on both workers
    again = pytester.runpytest_subprocess("-n", "2", "--embed-models=minilm,random:minilm-l6",
                                          f"--embed-sts-path={tiny_csv}", "--embed-latency-rounds=5",
                                          "--embed-baseline-missing=fail", "--embed-max-slowdown=300%")
    again.assert_outcomes(passed=20)
