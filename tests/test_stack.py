"""Stack-upgrade acceptance (--embed-incumbent-env): two environments side by side, one verdict, and a clear
error for every environment that cannot take part."""

from __future__ import annotations

import fnmatch
import json
import stat
import sys
from pathlib import Path

import pytest

from pytest_embedeval.errors import EmbedEvalError
from pytest_embedeval.gate.stack import version_lines
from pytest_embedeval.measure.latency import turn_order
from pytest_embedeval.measure.stack import CHILD, inspect, run_probes


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_probes_alternate_abba_so_a_steady_drift_hits_both_sides_alike() -> None:
    assert turn_order(2, 2, rotate=True) == [[0, 1], [1, 0]]
    order = [side for pair in turn_order(6, 2, rotate=True) for side in pair]
    assert order.count(0) == order.count(1) == 6
    assert sum(i for i, side in enumerate(order) if side) == sum(i for i, side in enumerate(order) if not side)


def test_every_differing_version_is_listed_incumbent_first() -> None:
    lines = version_lines({"torch": "2.13.0", "numpy": "2.4.6", "old": "1"}, {"torch": "2.14.1", "numpy": "2.4.6"})
    assert lines == ["versions that differ (incumbent -> this environment):", "  old 1 -> (absent)",
                     "  torch 2.13.0 -> 2.14.1"]
    assert version_lines({"a": "1"}, {"a": "1"}) == ["versions that differ: none"]


def test_this_interpreter_is_inspected() -> None:
    found = inspect(sys.executable, "this", 120)
    assert found["missing"] == [] and found["packages"]["torch"].startswith("2.")


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nope", "*env: *nope is not an interpreter that can be run (No such file or directory)"),
    (lambda d: d, "*env: * is not an interpreter that can be run (Permission denied)"),
    (lambda d: script(d, "shell", "echo hello"), "*env: failed (exit 0); is *shell a Python interpreter*hello*"),
    (lambda d: script(d, "crash", "exit 7"), "*env: failed (exit 7)*"),
    (lambda d: script(d, "old", "echo '{\"python\": \"3.8.18\", \"missing\": []}'"),
     "*env: *old runs Python 3.8.18, this run Python 3.*: compare stacks on one Python version*"),
    (lambda d: script(d, "bare", f"exec {sys.executable} -S \"$@\""),  # -S: no site-packages, no torch
     "*env: *bare has no torch, sentence_transformers, numpy; install them there*"),
    (lambda d: script(d, "hang", "sleep 60"), "*env: ran past the time limit of 3 s (--embed-incumbent-timeout)*"),
])
def test_an_environment_that_cannot_take_part_is_named_with_the_reason(tmp_path: Path, make, message) -> None:
    with pytest.raises(EmbedEvalError) as failure:
        inspect(str(make(tmp_path)), "env", 3)
    assert fnmatch.fnmatch(str(failure.value), message), str(failure.value)


def test_a_probe_that_crashes_or_hangs_names_its_environment_and_probe(tmp_path: Path) -> None:
    # answers the inspection as a real interpreter would, then fails the probe itself
    crash = script(tmp_path, "crash", f'case "$2" in *"child()"*) kill -9 $$;; esac; exec {sys.executable} "$@"')
    hang = script(tmp_path, "hang", f'case "$2" in *"child()"*) sleep 60;; esac; exec {sys.executable} "$@"')
    request = {"sts_sentences": None}
    with pytest.raises(EmbedEvalError, match=r"this: probe 1 of 2: failed \(killed by signal 9\)"):
        run_probes((str(crash), str(crash)), ("this", "--embed-incumbent-env=X"), request, 2, 60, tmp_path)
    with pytest.raises(EmbedEvalError, match=r"this: probe 1 of 2: ran past the time limit of 2 s"):
        run_probes((str(hang), str(hang)), ("this", "--embed-incumbent-env=X"), request, 2, 2, tmp_path)
    assert "child()" in CHILD


def test_incumbent_env_needs_models(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(f"--embed-incumbent-env={sys.executable}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--embed-incumbent-env=*: name the models to compare with --embed-models*"])


@pytest.fixture
def sts_pairs(pytester: pytest.Pytester, stsb_dir: Path) -> Path:
    """60 STS-B dev pairs: the side-by-side check's cost is its probes, not the set."""
    rows = [line.split("\t") for line in (stsb_dir / "sts-dev.csv").read_text(encoding="utf-8").splitlines()[:60]]
    path = pytester.path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"sentence1": r[5], "sentence2": r[6].strip(), "score": float(r[4])}) + "\n"
                            for r in rows), encoding="utf-8")
    return path


def test_same_environment_on_both_sides_is_accepted_from_an_empty_folder(pytester: pytest.Pytester,
                                                                         sts_pairs: Path) -> None:
    incumbent = script(pytester.path, "incumbent-python", f'exec {sys.executable} "$@"')
    # speed is asserted with a wide tolerance: two processes a side on a shared machine decide nothing
    # about 5% (that is benchmarks/stack_quality.py's job); a test may not depend on spare CPU
    result = pytester.runpytest("--embed-models=minilm", f"--embed-incumbent-env={incumbent}",
                                "--embed-incumbent-processes=2", "--embed-latency-rounds=3",
                                "--embed-max-slowdown=300%", f"--embed-sts-path={sts_pairs}", "--embed-report=r.json")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "stack-upgrade (minilm) acceptance: candidate this environment (*) vs incumbent --embed-incumbent-env=*",
        "Spearman * +0.00 points ?+0.00, +0.00? * ok",
        "largest embedding difference * ok",
        "speed, batch 1 (p50 ms) * (resolves *, 2 pairs of processes taking turns) * ok",
        "speed, batch 32 (p50 ms) * ok",
        "private MB * ok",
        "versions that differ: none",
        "verdict: ACCEPT",
    ])
    (verdict,) = json.loads((pytester.path / "r.json").read_text())["acceptance"]  # the typed verdict, as data
    assert verdict["accepted"] is True and verdict["kind"].startswith("stack-upgrade")


def test_a_stack_that_changes_the_embeddings_is_rejected_naming_accuracy(pytester: pytest.Pytester,
                                                                         sts_pairs: Path) -> None:
    """The incumbent's torch adds noise to every Linear output (a sitecustomize there only): REJECT."""
    site = pytester.mkdir("noisy-site")
    (site / "sitecustomize.py").write_text(
        "import torch\nplain = torch.nn.Linear.forward\n"
        "def forward(self, x):\n    out = plain(self, x)\n"
        "    return out + 0.05 * torch.randn(out.shape, generator=torch.Generator().manual_seed(0))\n"
        "torch.nn.Linear.forward = forward\n")
    incumbent = script(pytester.path, "incumbent-python", f'PYTHONPATH={site} exec {sys.executable} "$@"')
    result = pytester.runpytest("--embed-models=minilm", f"--embed-incumbent-env={incumbent}",
                                "--embed-incumbent-processes=2", "--embed-latency-rounds=3",
                                "--embed-max-slowdown=300%", f"--embed-sts-path={sts_pairs}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["largest embedding difference * FAIL", "verdict: REJECT",
                                 "  - largest embedding difference * is outside the limit <= 1e-04"])
