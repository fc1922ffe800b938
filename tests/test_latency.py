"""Latency: the round loop, its statistics, and the fixture API through pytest."""

from __future__ import annotations

import gc
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from pytest_embedeval.measure.latency import LENGTHS, Timing, make_inputs, summarise, time_alternating, time_rounds


class FakeClock:
    """A clock that only the fake workload advances: timings become exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_rounds_time_exactly_the_work_and_skip_warmup() -> None:
    clock = FakeClock()
    costs = iter([9.0, 9.0] + [0.010 * (i + 1) for i in range(5)])  # two warm-up calls, then 10..50 ms
    calls: list[str] = []

    def run() -> None:
        clock.now += next(costs)
        calls.append("run")

    samples = time_rounds(run, Timing(rounds=5, warmup=2, timer=clock), sync=lambda: calls.append("sync"))
    assert samples == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])
    # warm-up untimed; each timed round is sync, run, sync: queued GPU work lands inside its round
    assert calls == ["run", "run"] + ["sync", "run", "sync"] * 5
    assert clock.reads == 10


def test_rotated_rounds_take_turns_at_going_first_and_keep_each_workloads_times_apart() -> None:
    clock = FakeClock()
    calls: list[str] = []

    def workload(name: str, cost: float):
        def run() -> None:
            clock.now += cost
            calls.append(name)
        return run

    runs = [workload("a", 0.1), workload("b", 0.2)]
    fixed = time_alternating(runs, Timing(rounds=4, warmup=0, timer=clock))
    assert calls == list("abababab") and fixed == [[pytest.approx(0.1)] * 4, [pytest.approx(0.2)] * 4]
    calls.clear()
    rotated = time_alternating(runs, Timing(rounds=4, warmup=0, timer=clock), rotate=True)
    # AB BA AB BA: each goes first in half the rounds, so a position effect falls on both alike
    assert calls == list("abbaabba") and rotated == [[pytest.approx(0.1)] * 4, [pytest.approx(0.2)] * 4]


def test_gc_is_disabled_only_during_rounds_when_asked() -> None:
    seen: list[bool] = []
    time_rounds(lambda: seen.append(gc.isenabled()), Timing(rounds=3, warmup=1, disable_gc=True))
    assert seen == [True, False, False, False] and gc.isenabled()


def test_summary_statistics_match_numpy_and_statistics() -> None:
    samples = [0.010, 0.012, 0.011, 0.030, 0.013, 0.012, 0.011, 0.050, 0.012, 0.014]
    result = summarise(samples, batch_size=32, model="m", device="cpu", length="short", tokens=None, warmup=0,
                       threads=1)
    ms = [s * 1000 for s in samples]
    assert result.p50_ms == pytest.approx(statistics.median(ms))
    assert result.mean_ms == pytest.approx(statistics.mean(ms))
    assert result.p95_ms == pytest.approx(float(np.percentile(ms, 95)))
    assert result.p99_ms == pytest.approx(float(np.percentile(ms, 99)))
    assert result.stddev_ms == pytest.approx(statistics.stdev(ms))
    assert (result.min_ms, result.max_ms, result.rounds) == (pytest.approx(10.0), pytest.approx(50.0), 10)
    assert result.sentences_per_s == pytest.approx(32 / (statistics.median(ms) / 1000))


@pytest.mark.parametrize("rounds", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 23, 50, 101])
def test_summary_statistics_are_pytest_benchmarks(rounds: int) -> None:
    # pytest-benchmark is no dependency (its plugin taxes every pytest run); the test extra keeps it as the reference
    from pytest_benchmark.stats import Stats

    rng = np.random.default_rng(rounds)
    samples = (rng.lognormal(mean=-4.0, sigma=0.5, size=rounds)).tolist()  # seconds, skewed as latencies are
    result = summarise(samples, batch_size=8, model="m", device="cpu", length="short", tokens=None, warmup=0,
                       threads=1)
    stats = Stats()
    for sample in samples:
        stats.update(sample * 1000.0)
    ours = (result.rounds, result.min_ms, result.max_ms, result.p50_ms, result.mean_ms, result.stddev_ms,
            result.iqr_ms)
    theirs = (stats.rounds, stats.min, stats.max, stats.median, stats.mean, stats.stddev, stats.iqr)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)
    assert list(result.samples_ms) == stats.data


def test_budget_messages_name_measured_budget_and_workload() -> None:
    result = summarise([0.1] * 4, batch_size=8, model="minilm", device="cpu", length="long", tokens=256.0,
                       warmup=1, threads=2)
    assert result.assert_p95(max_ms=101) is result
    with pytest.raises(AssertionError, match=r"p95 latency 100.00 ms is above the budget 50.00 ms for model minilm "
                                             r"on cpu, batch 8 x long inputs, 4 rounds after 1 warm-up"):
        result.assert_p95(max_ms=50)
    with pytest.raises(AssertionError, match=r"throughput 80.00 sentences/s is below the minimum 100.00"):
        result.assert_throughput(min_per_s=100)


def test_inputs_are_deterministic_and_sized() -> None:
    assert make_inputs("short", 4) == make_inputs("short", 4)
    for name, words in LENGTHS.items():
        assert {len(t.split()) for t in make_inputs(name, 3)} == {words}
    assert len(make_inputs(7, 2)[0].split()) == 7
    with pytest.raises(ValueError, match="length 'huge' is not one of short, medium, long"):
        make_inputs("huge", 1)


def test_latency_through_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_latency(embed_eval):
            result = embed_eval.latency(batch_size=4, length="long")
            assert result.rounds == 3 and result.warmup == 1 and result.threads >= 1
            assert result.tokens == embed_eval.model.max_seq_length  # 320 words are truncated, not a crash
            assert result.min_ms <= result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms
            assert len(result.samples_ms) == 3

        def test_sweep(embed_eval):
            results = embed_eval.latency_sweep(batch_sizes=(1, 2), lengths=("short", 5), rounds=2)
            assert [(r.batch_size, r.length) for r in results] == [(1, "short"), (2, "short"), (1, "5"), (2, "5")]
    """)
    result = pytester.runpytest("--embed-models=minilm", "--embed-latency-rounds=3", "--embed-latency-warmup=1",
                                "--embed-report=r.json")
    result.assert_outcomes(passed=2)
    records = [r for r in json.loads((pytester.path / "r.json").read_text())["results"] if r["kind"] == "latency"]
    assert len(records) == 5
    assert all(len(r["samples_ms"]) == r["rounds"] for r in records)
    result.stdout.fnmatch_lines(["model * batch * length * tokens * rounds * p50 ms * p95 ms * p99 ms*"])


def test_benchmark_skip_skips_latency(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_latency(embed_eval):\n    embed_eval.latency()\n")
    result = pytester.runpytest("--embed-models=minilm", "--benchmark-skip", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*--benchmark-skip: latency is not measured*"])


def test_benchmark_timer_is_honoured(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(fakeclock="""
        ticks = [0]
        def clock():
            ticks[0] += 1
            return ticks[0] * 0.5
    """)
    pytester.makepyfile("""
        def test_latency(embed_eval):
            result = embed_eval.latency(batch_size=1, rounds=4, warmup=0)
            assert result.samples_ms == (500.0,) * 4
    """)
    pytester.syspathinsert()
    result = pytester.runpytest("--embed-models=minilm", "--benchmark-timer=fakeclock.clock")
    result.assert_outcomes(passed=1)


def test_custom_sentences(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("""
        def test_latency(embed_eval):
            sentences = list(embed_eval.dataset().sentences1)
            result = embed_eval.latency(batch_size=4, sentences=sentences, rounds=2)
            assert result.length == "custom" and result.batch_size == 4
    """)
    pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}").assert_outcomes(passed=1)


def test_the_speed_gate_yardstick_encodes_a_batch_of_the_measured_shape() -> None:
    """The yardstick and the reference are shaped like the measured batch: its size and words per input."""
    from pytest_embedeval.measure.latency import measure_latency
    from pytest_embedeval.measure.yardstick import SpeedProbe

    class Model:
        def encode(self, texts, **kwargs):
            shapes.append(("encode", len(texts), len(texts[0].split())))
            return np.zeros((len(texts), 4))

    shapes: list[tuple] = []
    probe = SpeedProbe.__new__(SpeedProbe)
    probe.yardstick = Model()
    timing = Timing(rounds=3, warmup=0)
    result = measure_latency(Model(), model_name="m", device="cpu", batch_size=5, length="long", timing=timing,
                             probe=probe)
    assert result.windows is not None and len(result.windows) == 1
    assert set(shapes) == {("encode", 5, LENGTHS["long"])}  # the model and the yardstick alike
    shapes.clear()
    measure_latency(Model(), model_name="m", device="cpu", batch_size=2, length="short", timing=timing,
                    sentences=["one two three", "four five six seven eight"], probe=probe)
    assert ("encode", 2, 4) in shapes  # custom sentences: the yardstick takes their mean word count
