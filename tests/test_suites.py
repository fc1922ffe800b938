"""The bundled suites as users run them: budgets from options, invariants that catch real bugs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import REPO

SUITES = REPO / "suites"

# a model wrapper with a classic bug: each row is nudged by its position in the batch
ORDER_DEPENDENT = """
import numpy as np
import pytest

class PositionLeak:
    def __init__(self, model):
        self.model = model
        self.max_seq_length = model.max_seq_length
        self.tokenizer = model.tokenizer

    def __iter__(self):
        return iter(self.model)

    def encode(self, sentences, **kwargs):
        vectors = self.model.encode(sentences, **kwargs)
        return vectors + 0.05 * np.arange(len(vectors))[:, None]

@pytest.fixture
def embed_model(embed_eval):
    return PositionLeak(embed_eval.model)
"""


def copy_suite(pytester: pytest.Pytester, name: str) -> None:
    shutil.copy(SUITES / name, pytester.path / name)


def test_invariants_pass_on_minilm_and_catch_a_batch_order_bug(pytester: pytest.Pytester) -> None:
    copy_suite(pytester, "test_invariants.py")
    healthy = pytester.runpytest("--embed-models=minilm", "-p", "no:cacheprovider")
    healthy.assert_outcomes(passed=7)
    pytester.makeconftest(ORDER_DEPENDENT)
    buggy = pytester.runpytest("--embed-models=minilm", "-p", "no:cacheprovider", "-rf")
    # position-dependent rows also leave the unit sphere and break the long-input pair
    buggy.assert_outcomes(passed=2, failed=5)
    buggy.stdout.fnmatch_lines([
        "FAILED test_invariants.py::test_batch_size_does_not_change_embeddings?minilm-cpu?*",
        "FAILED test_invariants.py::test_batch_order_does_not_change_embeddings?minilm-cpu?*",
        "FAILED test_invariants.py::test_duplicates_get_identical_rows?minilm-cpu?*",
        "FAILED test_invariants.py::test_normalised_models_return_unit_vectors?minilm-cpu?*",
    ])
    for message in ("alone vs in one batch: embeddings differ by", "batch order [", "duplicates in one batch"):
        assert message in buggy.stdout.str()


# what an environment without hypothesis looks like to the suite: the import fails as a missing module does
NO_HYPOTHESIS = """
import sys

class NoHypothesis:
    def find_spec(self, name, path=None, target=None):
        if name == "hypothesis" or name.startswith("hypothesis."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

assert "hypothesis" not in sys.modules
sys.meta_path.insert(0, NoHypothesis())
"""


def test_invariants_suite_without_hypothesis_skips_with_the_install_command(pytester: pytest.Pytester) -> None:
    # hypothesis is the invariants extra, not a dependency; without it the suite says how to get it
    copy_suite(pytester, "test_invariants.py")
    pytester.makeconftest(NO_HYPOTHESIS)
    # a subprocess, as this process has hypothesis imported; without hypothesis there is no hypothesis plugin either
    result = pytester.runpytest_subprocess("--embed-models=minilm", "-p", "no:hypothesispytest", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([
        'SKIPPED [[]1[]] test_invariants.py:*: the invariants suite needs hypothesis: '
        'pip install "pytest-embedeval[[]invariants[]]"',
    ])


def test_accuracy_suite_budget_per_model(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    copy_suite(pytester, "test_accuracy.py")
    args = ("--embed-models=minilm", f"--embed-sts-path={tiny_csv}")
    # test_sts_task skips: no STS task in --embed-tasks
    pytester.runpytest(*args, "--embed-min-spearman=minilm=50,*=99").assert_outcomes(passed=1, skipped=1)
    failing = pytester.runpytest(*args, "--embed-min-spearman=99.5")
    failing.assert_outcomes(failed=1, skipped=1)
    failing.stdout.fnmatch_lines(["E *AssertionError: Spearman * is below the minimum 99.50 for model minilm on cpu*"])


def test_memory_and_latency_suites_hold_their_budgets(pytester: pytest.Pytester) -> None:
    copy_suite(pytester, "test_memory.py")
    copy_suite(pytester, "test_latency.py")
    args = ("--embed-models=minilm", "--embed-latency-rounds=3", "--embed-batch-size=4", "-k", "budget")
    pytester.runpytest(*args, "--embed-max-peak-mb=100000", "--embed-max-p95-ms=100000").assert_outcomes(passed=2)
    tight = pytester.runpytest(*args, "--embed-max-peak-mb=10", "--embed-max-p95-ms=0.01")
    tight.assert_outcomes(failed=2)
    tight.stdout.fnmatch_lines(["*peak RSS * MB is above the budget 10.0 MB for model minilm on cpu*"])
    tight.stdout.fnmatch_lines(["*p95 latency * ms is above the budget 0.01 ms for model minilm on cpu*"])


def test_suites_without_models_skip_with_the_reason(pytester: pytest.Pytester) -> None:
    for name in ("test_accuracy.py", "test_latency.py", "test_memory.py", "test_invariants.py"):
        copy_suite(pytester, name)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=12)
    result.stdout.fnmatch_lines(["*no embedding model selected: pass --embed-models=ID*"])


def test_retrieval_suite_prints_the_hybrid_table_and_reports_it(pytester: pytest.Pytester, stsb_dir: Path,
                                                                 minilm_path: Path) -> None:
    import json

    copy_suite(pytester, "test_retrieval.py")
    alone = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={stsb_dir}", "-rs")
    alone.assert_outcomes(skipped=2)  # the BEIR quality test too: no retrieval set was given
    alone.stdout.fnmatch_lines(["*retrieve + rerank needs two models*"])
    # the same weights under a second name: the wiring is what is tested, so the hybrid must equal either model
    result = pytester.runpytest(f"--embed-models=minilm,{minilm_path}", f"--embed-sts-path={stsb_dir}",
                                "--embed-report=report.json", "--embed-tradeoff=tradeoff")
    result.assert_outcomes(passed=1, skipped=2)  # the hybrid; the BEIR quality test (per model) skips: no set
    result.stdout.fnmatch_lines([
        f"retrieve + rerank: minilm retrieves, {minilm_path.name} reranks, on cpu (262 queries, 1467 documents*",
        "hybrid k=100 *",
        "hybrid k=* reaches 100.0% of the large model's nDCG@10 *",  # which k is cheapest is a timing
    ])
    hybrid = json.loads((pytester.path / "report.json").read_text())["hybrid"][0]
    assert [row["mode"] for row in hybrid["rows"]] == ["small", "large"] + [f"hybrid k={k}" for k in (10, 20, 50, 100)]
    # the trade-off report shows the same comparison, with the verdict the terminal printed
    (shown,) = json.loads((pytester.path / "tradeoff" / "tradeoff.json").read_text())["hybrids"]
    assert shown["rows"] == hybrid["rows"] and shown["verdict"] in result.stdout.str()
