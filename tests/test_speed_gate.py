"""The speed gate on scripted data: windows pair the right rounds, ratios point the right way,
the two looks decide as registered, and each layer (model, environment) is told apart."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from pytest_embedeval.gate.entries import LatencyEntry
from pytest_embedeval.gate.judge import judge
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.gate.stats import process_slowdown, ratio_slowdown, slowdown
from pytest_embedeval.gate.verdict import FAIL, MORE, NOT_COMPARABLE, PASS
from pytest_embedeval.measure.latency import Timing, summarise
from pytest_embedeval.measure.yardstick import CALIBRATION, SpeedProbe

TOLERANCE = Tolerance(max_drop=0.5, max_slowdown=0.05, max_memory_growth=0.10)
ENVIRONMENT = {"host": "h1", "cpu": "X", "cpu_count": 2, "torch_threads": 2, "gpu": None, "executable": "/venv/bin/python",
               "versions": {"torch": "2.13.0", "transformers": "5.24.0"}}


class FakeClock:
    """A timer that moves only when a workload runs: each call advances it by a scripted duration."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def workload(self, durations: list[float]):
        calls = iter(durations)

        def run() -> None:
            self.now += next(calls)

        return run


def probe_with(clock: FakeClock, model: list[float], reference: list[float], yardstick: list[float]) -> tuple:
    probe = SpeedProbe.__new__(SpeedProbe)  # no yardstick model: its workloads are scripted
    probe.workloads = lambda texts, batch_size: (clock.workload(yardstick), clock.workload(reference))
    return probe, clock.workload(model)


def test_each_model_round_is_paired_with_the_yardstick_and_reference_rounds_of_its_turn() -> None:
    """Durations grow round by round; only rounds of the same turn keep the ratios exactly 2 and 4."""
    clock, rounds = FakeClock(), 10
    scale = [1.0 + 0.5 * i for i in range(rounds + 1)]  # one warm-up round, then ten timed
    probe, model = probe_with(clock, [4.0 * s for s in scale], [0.5 * s for s in scale], [2.0 * s for s in scale])
    (window,) = probe.windows(model, ["a b c"], 1, 1, timing=Timing(rounds=5, warmup=1, timer=clock))
    assert window.model == pytest.approx(math.log(2.0))  # model / yardstick
    assert window.environment == pytest.approx(math.log(4.0))  # yardstick / reference
    assert window.model_ms == pytest.approx(4000.0 * scale[1 + rounds // 2 - 1] + 1000.0, rel=0.2)


def test_a_slower_model_raises_the_model_ratio_and_a_slower_stack_the_environment_ratio() -> None:
    def window(model: float, yardstick: float, reference: float) -> tuple[float, float]:
        clock = FakeClock()
        probe, run = probe_with(clock, [model] * 20, [reference] * 20, [yardstick] * 20)
        (found,) = probe.windows(run, ["a"], 1, 1, timing=Timing(rounds=5, warmup=1, timer=clock))
        return found.model, found.environment

    base = window(0.050, 0.050, 0.010)
    slower_model = window(0.060, 0.050, 0.010)
    slower_stack = window(0.060, 0.060, 0.010)  # torch slows both the model and the yardstick
    assert slower_model[0] > base[0] and slower_model[1] == pytest.approx(base[1])
    assert slower_stack[0] == pytest.approx(base[0]) and slower_stack[1] > base[1]


def windows(model: float, environment: float, count: int = 3, spread: float = 0.004,
            reference_ms: float = 10.0, others: float | None = 0.02) -> list[dict[str, float]]:
    return [{"model": math.log(model) + spread * (i - (count - 1) / 2),
             "environment": math.log(environment) - spread * (i - (count - 1) / 2),
             "model_ms": 50.0 * model, "yardstick_ms": 50.0, "reference_ms": reference_ms, "others": others}
            for i in range(count)]


def test_two_looks_decide_as_registered() -> None:
    base = [0.0, 0.01, -0.01]
    assert slowdown(base, [0.0], tolerance=0.05, process_noise=0.01, final=False).decision == PASS
    # the first look never fails: one window, however slow, only asks for the second look
    assert slowdown(base, [0.30], tolerance=0.05, process_noise=0.01, final=False).decision == MORE
    # 4.5% slower: above half the tolerance, not significant on one window: look again
    assert slowdown(base, [0.045], tolerance=0.05, process_noise=0.01, final=False).decision == MORE
    assert slowdown(base, [0.045, 0.044, 0.046], tolerance=0.05, process_noise=0.01, final=True).decision == PASS
    assert slowdown(base, [0.12, 0.11, 0.12], tolerance=0.05, process_noise=0.01, final=True).decision == FAIL
    faster = slowdown(base, [-0.3], tolerance=0.05, process_noise=0.01, final=True)
    assert faster.decision == PASS and faster.ratio < 1
    # what a comparison resolves grows with the noise, and never undercuts the tolerance
    noisy = slowdown(base, [0.0], tolerance=0.01, process_noise=0.05, final=True)
    quiet = slowdown(base, [0.0], tolerance=0.01, process_noise=0.01, final=True)
    assert noisy.resolves > quiet.resolves > 0.01
    assert slowdown(base, [0.0], tolerance=0.5, process_noise=0.01, final=True).resolves == 0.5


def latency(window_list: list[dict[str, float]] | None) -> object:
    result = summarise([0.05, 0.051, 0.049], batch_size=8, model="m", device="cpu", length="short", tokens=15.0,
                       warmup=2, threads=2)
    return replace(result, windows=None if window_list is None else tuple(window_list))


def entry(window_list: list[dict[str, float]], environment: dict = ENVIRONMENT) -> dict:
    return {"samples_ms": [50.0, 51.0, 49.0], "windows": window_list, "calibration": CALIBRATION,
            "environment": environment}


def check(current: list[dict[str, float]], baseline: list[dict[str, float]], environment: dict = ENVIRONMENT,
          final: bool = True) -> object:
    return judge("latency", latency(current), entry(baseline), TOLERANCE, where="w", environment=environment,
                 confidence=0.95, seed=0, final=final)


def test_an_unchanged_rerun_passes_and_says_what_it_resolves() -> None:
    verdict = check(windows(1.0, 2.0, 1), windows(1.0, 2.0), final=False)
    assert verdict.status == PASS
    assert "resolves model >= " in verdict.detail and "environment >= " in verdict.detail
    assert verdict.change.startswith("model x1.000") and "environment x1.000" in verdict.change


def test_a_slower_model_fails_on_the_model_layer() -> None:
    assert check(windows(1.2, 2.0, 1), windows(1.0, 2.0), final=False).status == MORE
    verdict = check(windows(1.2, 2.0, 3), windows(1.0, 2.0), final=False)
    assert verdict.status == FAIL and verdict.detail.startswith("the model slowed (x1.2")


def test_a_slower_stack_fails_on_the_environment_layer_and_names_the_versions() -> None:
    upgraded = {**ENVIRONMENT, "versions": {"torch": "2.14.1", "transformers": "5.24.0"}}
    verdict = check(windows(1.0, 2.0 * 1.5, 3), windows(1.0, 2.0), environment=upgraded)
    assert verdict.status == FAIL
    assert verdict.detail.startswith("the environment slowed (torch 2.13.0 -> 2.14.1; yardstick x1.500")
    assert "versions changed since the baseline: torch 2.13.0 -> 2.14.1" in verdict.detail


def test_the_environment_is_judged_only_on_the_same_kind_of_machine_and_not_when_busy() -> None:
    elsewhere = check(windows(1.0, 2.0 * 1.5, 3), windows(1.0, 2.0), environment={**ENVIRONMENT, "cpu": "Y"})
    assert elsewhere.status == PASS and "environment not judged: baseline from another machine (cpu differ)" in (
        elsewhere.detail)
    busy = check(windows(1.0, 2.0 * 1.5, 3, others=0.6), windows(1.0, 2.0))
    assert busy.status == PASS and "other processes used 60% of the CPUs now" in busy.detail
    busy_then = check(windows(1.0, 2.0 * 1.5, 3), windows(1.0, 2.0, others=0.9))
    assert "other processes used 90% of the CPUs when the baseline was saved" in busy_then.detail
    unknown = check(windows(1.0, 2.0 * 1.5, 3, others=None), windows(1.0, 2.0, others=None))
    assert unknown.status == FAIL  # no /proc/stat to tell: judged


def test_a_baseline_from_another_host_widens_the_model_layer_and_leaves_the_environment_unjudged() -> None:
    """Hosts of one kind run the model a few percent apart against the yardstick (benchmarks/cross_host.py):
    8% slower fails against this host's baseline but not against another host's; 20% fails against either."""
    offset = windows(1.08, 2.0 * 1.5, 3)
    here = check(offset, windows(1.0, 2.0))
    assert here.status == FAIL and "baseline from this host" in here.detail
    for baseline_host in ({**ENVIRONMENT, "host": "h2"}, {k: v for k, v in ENVIRONMENT.items() if k != "host"}):
        verdict = judge("latency", latency(offset), entry(windows(1.0, 2.0), baseline_host), TOLERANCE, where="w",
                        environment=ENVIRONMENT, confidence=0.95, seed=0)
        assert verdict.status == PASS and "baseline from another host: tolerance 5%, resolves model >= 1" in (
            verdict.detail)
        assert "environment not judged: baseline from another host" in verdict.detail
        slower = judge("latency", latency(windows(1.2, 2.0, 3)), entry(windows(1.0, 2.0), baseline_host), TOLERANCE,
                       where="w", environment=ENVIRONMENT, confidence=0.95, seed=0)
        assert slower.status == FAIL and slower.detail.startswith("the model slowed (x1.2")


def test_a_busy_machine_widens_the_model_layer_and_says_so() -> None:
    """Under heavy load an unchanged MiniLM read the model layer x1.257 [1.072, 1.473] at batch 1 against another
    host's baseline (docs/benchmarks.md): that passes on a busy machine, and a model twice as slow still fails."""
    other_host = {k: v for k, v in ENVIRONMENT.items() if k != "host"}
    for others, status in ((0.02, FAIL), (0.6, PASS)):
        verdict = judge("latency", latency(windows(1.257, 2.0, 3, others=others)), entry(windows(1.0, 2.0), other_host),
                        TOLERANCE, where="w", environment=ENVIRONMENT, confidence=0.95, seed=0)
        assert verdict.status == status
    assert "model layer widened: other processes used 60% of the CPUs now" in verdict.detail
    busy_then = check(windows(1.257, 2.0, 3), windows(1.0, 2.0, others=0.9))
    assert busy_then.status == PASS and "model layer widened: other processes used 90% of the CPUs when" in (
        busy_then.detail)
    twice = check(windows(2.0, 2.0, 3, others=0.6), windows(1.0, 2.0))
    assert twice.status == FAIL and twice.detail.startswith("the model slowed (x2.000")


def test_an_ambiguous_first_look_asks_for_more_windows() -> None:
    assert check(windows(1.045, 2.0, 1), windows(1.0, 2.0), final=False).status == MORE
    assert check(windows(1.045, 2.0, 1), windows(1.0, 2.0), final=True).status == PASS


def test_a_baseline_without_windows_is_not_comparable() -> None:
    verdict = judge("latency", latency(windows(1.0, 2.0, 1)), {"samples_ms": [50.0, 51.0], "calibration": "v2"},
                    TOLERANCE, where="w", environment=ENVIRONMENT, confidence=0.95, seed=0)
    assert verdict.status == NOT_COMPARABLE and "--embed-baseline-update" in verdict.detail


def test_machine_load_is_the_cpu_time_of_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """Busy CPU seconds of the whole machine minus this process's own, over the wall time of all CPUs."""
    import os

    from pytest_embedeval.measure.yardstick import MachineLoad

    real = MachineLoad()  # on Linux, the real /proc/stat gives a share between 0 and all of the machine
    assert real.others() is None  # too short a span to tell from clock ticks
    real.start = real.start and (real.start[0], real.start[1], real.start[2] - 1.0)
    share = real.others()
    assert share is None or 0.0 <= share <= 1.0
    samples = iter([(100.0, 10.0, 1000.0), (103.0, 11.0, 1002.0)])  # (machine busy s, own CPU s, wall s)
    monkeypatch.setattr(MachineLoad, "_sample", staticmethod(lambda: next(samples)))
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert MachineLoad().others() == pytest.approx((3.0 - 1.0) / (2.0 * 2))


def test_latency_entry_keeps_its_windows() -> None:
    written = LatencyEntry.write(latency(windows(1.0, 2.0)))
    assert written["calibration"] == CALIBRATION and len(written["windows"]) == 3


def log_windows(center: float, n: int = 3, spread: float = 0.01, seed: int = 0) -> list[float]:
    """Windows of log(model / yardstick), as the gate keeps them (yardstick.Window.model)."""
    return list(np.log(center) + np.random.default_rng(seed).normal(0, spread, n))


def test_speed_gate_needs_significance_and_size() -> None:
    """The gate's own test (stats.slowdown, second look): a change fails only when large and real."""
    base = log_windows(1.0)

    def decide(current: list[float], noise: float = 0.018) -> str:
        return slowdown(base, current, tolerance=0.05, process_noise=noise, final=True).decision

    assert decide(log_windows(1.0, seed=1)) == PASS
    slower = slowdown(base, log_windows(1.3, seed=2), tolerance=0.05, process_noise=0.018, final=True)
    assert slower.decision == FAIL and slower.low < slower.ratio < slower.high
    assert decide(log_windows(1.04, spread=0.0001, seed=3), noise=0.0) == PASS  # real, but within tolerance
    assert decide(log_windows(1.08, seed=4), noise=0.1) == PASS  # beyond tolerance, but within process noise
    assert decide(log_windows(1.08, seed=4)) == FAIL


def test_upgrade_speed_tests_use_windows_and_process_noise() -> None:
    """--embed-candidate: windows of one process plus the gate's process noise; --embed-incumbent-env:
    pairs of fresh processes (one of each stack) taking turns, their spread measured (one-sample t)."""
    assert ratio_slowdown(log_windows(1.0), tolerance=0.05, process_noise=0.018).decision == PASS
    assert ratio_slowdown(log_windows(1.25), tolerance=0.05, process_noise=0.018).decision == FAIL
    # beyond a 2% tolerance, but not beyond the process noise (2.33 x 2.0%): one process cannot tell
    assert ratio_slowdown(log_windows(1.035), tolerance=0.02, process_noise=0.018).decision == PASS
    assert ratio_slowdown(log_windows(1.035), tolerance=0.02, process_noise=0.0).decision == FAIL
    assert process_slowdown(log_windows(1.0, n=4, spread=0.03, seed=6), tolerance=0.05).decision == PASS
    slower = process_slowdown(log_windows(1.25, n=4, spread=0.03, seed=6), tolerance=0.05)
    assert slower.decision == FAIL and slower.ratio == pytest.approx(1.25, rel=0.06)
    noisy = process_slowdown(log_windows(1.12, n=4, spread=0.15, seed=6), tolerance=0.05)
    assert noisy.decision == PASS and noisy.resolves > 0.12
