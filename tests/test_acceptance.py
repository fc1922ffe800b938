"""Model-upgrade acceptance: one run, one verdict, the exit status follows it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest


def test_minilm_against_itself_is_accepted(pytester: pytest.Pytester, stsb_dir: Path) -> None:
    # a fresh process, as a user runs it (see test_any_encoder_e2e.py on timing in this session's process)
    result = pytester.runpytest_subprocess("--embed-candidate=minilm", "--embed-incumbent=minilm",
                                           f"--embed-sts-path={stsb_dir}", "--embed-latency-rounds=10")
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "model-upgrade acceptance: candidate minilm vs incumbent minilm-2 on cpu",
        "Spearman * 86.72 * 86.72 * +0.00 points ?+0.00, +0.00? * drop <= 0.5 or not real (95%) * ok",
        "p50 ms (batch 32) * x* <= x1.05 * ok",
        "weights MB * 86.7 * 86.7 * x1.000 * ok", "peak RSS MB * ok",
        "verdict: ACCEPT",
    ])


def test_degraded_candidate_is_rejected_with_reasons(pytester: pytest.Pytester, stsb_dir: Path,
                                                     perturbed_minilm: Callable[[float], Path]) -> None:
    noisy = perturbed_minilm(0.3)
    result = pytester.runpytest(f"--embed-candidate={noisy}", "--embed-incumbent=minilm",
                                f"--embed-sts-path={stsb_dir}", "--embed-latency-rounds=10")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # about -2.7 points (84.04 here on two CPUs); the last digit may move with a CPU's float kernels
    result.stdout.fnmatch_lines([
        "Spearman * 86.72 * 84.0? * -2.6? points ?*? * FAIL",
        "verdict: REJECT",
        "  - Spearman -2.6? points ?*? is outside the limit drop <= 0.5 or not real (95%)",
        f"FAILED ::embed-acceptance?{noisy.name}-vs-minilm?*",
    ])


def test_candidate_needs_incumbent(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--embed-candidate=minilm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--embed-candidate and --embed-incumbent go together*"])


def test_bad_candidate_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--embed-candidate=./nope", "--embed-incumbent=minilm")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--embed-candidate=./nope: model './nope': folder * does not exist*"])
