"""pytest-xdist: workers measure, the controller writes once; timings never overlap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("xdist")

# Every measurement window, per host: timed rounds and the gate's windows (all through time_alternating),
# memory probes and STS encodes, so the outer test can check that no timing overlapped anything on its host.
# Patched wherever a module of the package bound the function by name (yardstick, evaluation).
MEASUREMENT_LOG = """
import json, os, sys, time
import pytest
import pytest_embedeval.measure.latency as latency
import pytest_embedeval.measure.memory as memory
import pytest_embedeval.measure.sts as sts
import pytest_embedeval.measure.yardstick
import pytest_embedeval.plugin.evaluation

WRAPPED = {"time_alternating": (latency.time_alternating, "timing"),
           "measure_memory": (memory.measure_memory, "memory"), "evaluate_sts": (sts.evaluate_sts, "encode")}
HOST = os.environ.get("EMBEDEVAL_TEST_HOST", "localhost")


def logged(original, kind):
    def measure(*args, **kwargs):
        start = time.time()
        try:
            return original(*args, **kwargs)
        finally:
            path = os.path.join(os.environ["EMBEDEVAL_TEST_LOG"], f"{HOST}-{os.getpid()}.jsonl")
            with open(path, "a") as handle:
                handle.write(json.dumps([HOST, kind, start, time.time()]) + "\\n")
    return measure


@pytest.fixture(autouse=True)
def _log_measurements(monkeypatch):
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("pytest_embedeval")]:
        for name, (original, kind) in WRAPPED.items():
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, logged(original, kind))
"""


def measurement_windows(folder: Path) -> list[tuple[str, str, float, float]]:
    return [tuple(json.loads(line)) for log in sorted(folder.glob("*.jsonl")) for line in log.read_text().splitlines()]


def assert_no_timing_overlaps(windows: list[tuple[str, str, float, float]]) -> None:
    """On one host, a timing never overlaps another measurement (encodes and memory probes may overlap
    each other: they hold the lock shared, as a peak is per process and an encode's figure is not a time)."""
    for index, (host, kind, start, end) in enumerate(windows):
        for other_host, other_kind, other_start, other_end in windows[index + 1:]:
            if host == other_host and "timing" in (kind, other_kind):
                assert end <= other_start or other_end <= start, \
                    f"on {host}, {kind} [{start}, {end}] overlapped {other_kind} [{other_start}, {other_end}]"


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


def test_two_workers(pytester: pytest.Pytester, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(MEASUREMENT_LOG)
    pytester.makepyfile(TESTS)
    log = pytester.mkdir("log")
    monkeypatch.setenv("EMBEDEVAL_TEST_LOG", str(log))
    result = pytester.runpytest_subprocess(
        "-n", "2", "--embed-models=minilm,random:minilm-l6", f"--embed-sts-path={tiny_csv}",
        "--embed-latency-rounds=5", "--embed-report=r.json", "--embed-baseline-save", "-p", "no:randomly")
    result.assert_outcomes(passed=20)
    result.stdout.fnmatch_lines(["*embedeval baseline written: *minilm.json",
                                 "*embedeval baseline written: *random-minilm-l6.json",
                                 "model loads: minilm-cpu 1 (gw* 1); random-minilm-l6-cpu 1 (gw* 1)"])

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

    windows = measurement_windows(log)
    counts = {kind: sum(1 for w in windows if w[1] == kind) for kind in ("timing", "memory", "encode")}
    # 8 latency tests: rounds + one gate window each, then a saved baseline's replicate windows; memory
    # probes: the first and the saved baseline's more; one STS encode per model
    assert counts["timing"] > 16 and counts["memory"] >= 4 and counts["encode"] == 2, counts
    assert_no_timing_overlaps(windows)

    # a second run compares against what the controller wrote, on both workers
    again = pytester.runpytest_subprocess("-n", "2", "--embed-models=minilm,random:minilm-l6",
                                          f"--embed-sts-path={tiny_csv}", "--embed-latency-rounds=5",
                                          "--embed-baseline-missing=fail", "--embed-max-slowdown=300%")
    again.assert_outcomes(passed=20)
    assert_no_timing_overlaps(measurement_windows(log))


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
