"""The memory gate on scripted data: the model's private peak against its baseline with a noise floor from
the saved probes, parameters exact, peak RSS only on the same install."""

from __future__ import annotations

from pytest_embedeval.gate.entries import MemoryEntry
from pytest_embedeval.gate.judge import judge
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.gate.verdict import FAIL, PASS
from pytest_embedeval.measure.memory import MemoryResult

TOLERANCE = Tolerance(max_drop=0.5, max_slowdown=0.10, max_memory_growth=0.10)
ENVIRONMENT = {"host": "h1", "cpu": "X", "cpu_count": 2, "torch_threads": 2, "gpu": None, "executable": "/venv/bin/python",
               "versions": {"torch": "2.13.0", "transformers": "5.24.0"}}


def test_memory_gate() -> None:
    from pytest_embedeval.gate.stats import MEMORY_NOISE_MB

    def result(private: float | None, params: int = 22_000_000, peak: float = 600.0) -> MemoryResult:
        return MemoryResult(model="m", device="cpu", batch_size=8, length="short", params=params,
                            weight_mb={"float32": 86.6}, disk_mb=86.7, baseline_rss_mb=500.0, load_peak_mb=530.0,
                            encode_peak_mb=peak, peak_rss_mb=peak, load_increase_mb=30.0, encode_increase_mb=50.0,
                            private_mb=private, cuda_load_peak_mb=None, cuda_encode_peak_mb=None, load_seconds=0.1,
                            method="vmhwm")

    entry = {"model_mb": 100.0, "private_mb": 200.0, "params": 22_000_000, "disk_mb": 86.7,
             "private_probes": [200.0, 200.0, 200.0], "peak_probes": [600.0, 600.0, 600.0]}

    def verdict(current: MemoryResult, baseline: dict = entry) -> object:
        return judge("memory", current, baseline, TOLERANCE, where="w", environment=ENVIRONMENT,
                     confidence=0.95, seed=0)

    assert verdict(result(215.0)).status == PASS  # within 10%
    assert verdict(result(200.0 + MEMORY_NOISE_MB + 1)).status == FAIL  # beyond both 10% and the noise floor
    assert verdict(result(200.0, params=30_000_000)).status == FAIL  # parameters are exact: no floor
    # file-backed pages (libraries, mapped weights) swell the RSS of an identical model: not compared
    same = verdict(result(205.0, peak=740.0))
    assert (same.status, same.metric, same.current) == (PASS, "private MB", 205.0)
    # a small model: +25 MB is x1.66 but within the noise its probes showed (floor: twice their range, 32 MB)
    small = {**entry, "private_mb": 38.0, "private_probes": [30.0, 38.0, 46.0]}
    assert verdict(result(63.0), small).status == PASS
    assert verdict(result(38.0 + 33.0), small).status == FAIL
    # a baseline without private memory (a platform without /proc): the whole RSS, and the verdict says so
    old = {key: value for key, value in entry.items() if key != "private_mb"}
    fallback = verdict(result(205.0, peak=650.0), old)  # model MB 100 -> 150
    assert (fallback.status, fallback.metric) == (FAIL, "model MB") and "whole RSS compared" in fallback.detail


def memory(private: float, peak: float = 600.0, probes: tuple[float, ...] = ()) -> MemoryResult:
    return MemoryResult(model="m", device="cpu", batch_size=32, length="short", params=22_000_000,
                        weight_mb={"float32": 86.6}, disk_mb=86.7, baseline_rss_mb=500.0, load_peak_mb=530.0,
                        encode_peak_mb=peak, peak_rss_mb=peak, load_increase_mb=30.0, encode_increase_mb=50.0,
                        private_mb=private, cuda_load_peak_mb=None, cuda_encode_peak_mb=None, load_seconds=0.1,
                        method="vmhwm", private_probes=probes or (private,), peak_probes=(peak,))


def test_memory_floor_comes_from_the_probes_spread() -> None:
    saved = memory(44.0, probes=(44.0, 45.5, 47.0))
    written = {**MemoryEntry.write(saved), "environment": ENVIRONMENT}
    assert written["private_probes"] == [44.0, 45.5, 47.0]

    def verdict(current: MemoryResult, environment: dict = ENVIRONMENT) -> object:
        return judge("memory", current, written, TOLERANCE, where="w", environment=environment, confidence=0.95,
                     seed=0)

    assert verdict(memory(49.0)).status == PASS  # +3.5 MB: inside the floor (twice the 3 MB range)
    grown = verdict(memory(65.5))  # +20 MB
    assert grown.status == FAIL and "private MB 45.5 -> 65.5 (floor 8)" in grown.detail
    # peak RSS is what a container pays: gated on the same install, never across installs
    assert verdict(memory(45.0, peak=700.0)).status == FAIL
    other = verdict(memory(45.0, peak=700.0), {**ENVIRONMENT, "executable": "/other/bin/python"})
    assert other.status == PASS and "peak RSS not compared" in other.detail
