"""The embed_budget marker: generous budgets pass, impossible ones fail readably, typos fail collection."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_embedeval.gate.policy import Budget, parse_budget


def test_parse_budget() -> None:
    assert parse_budget((), {"p95_ms": 50, "min_spearman": 80, "batch_size": 8}) == Budget(
        p95_ms=50.0, min_spearman=80.0, batch_size=8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p95": 5}, "unknown argument(s) p95"),
        ({"p95_ms": -1}, "p95_ms=-1 must be a positive finite number"),
        ({"p95_ms": float("inf")}, "p95_ms=inf must be a positive finite number"),
        ({"peak_mb": True}, "peak_mb=True must be a positive finite number"),
        ({"min_spearman": 870}, "min_spearman=870 must be a number in -100..100"),
        ({"p95_ms": 1, "batch_size": 0}, "batch_size=0 must be a whole number >= 1"),
        ({"p95_ms": 1, "length": "huge"}, "length='huge' must be one of short, medium, long"),
        ({"batch_size": 8}, "sets no budget"),
    ],
)
def test_bad_budgets(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_budget((), kwargs)
    assert message in str(raised.value)


def test_bad_marker_is_a_collection_error_naming_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.embed_budget(p95_ms=-5)
        def test_negative(embed_eval): pass

        @pytest.mark.embed_budget(p95_ms=5)
        def test_no_fixture(): pass
    """)
    result = pytester.runpytest("--embed-models=minilm")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([
        "*test_bad_marker_is_a_collection_error_naming_the_test.py::test_negative: @pytest.mark.embed_budget: "
        "p95_ms=-5 must be a positive finite number",
    ])
    assert "Traceback" not in result.stdout.str()


def test_marker_without_fixture_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.embed_budget(p95_ms=5)
        def test_no_fixture(): pass
    """)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*::test_no_fixture: @pytest.mark.embed_budget needs the embed_eval fixture*"])


BUDGET_TESTS = """
import pytest

@pytest.mark.embed_budget(p95_ms=60000, peak_mb=100000, min_spearman=-100, batch_size=2)
def test_generous(embed_eval):
    pass

@pytest.mark.embed_budget(p95_ms=0.001, peak_mb=1, min_spearman=100, batch_size=2)
def test_impossible(embed_eval):
    pass
"""


def test_generous_budget_passes_impossible_one_fails_readably(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile(BUDGET_TESTS)
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}", "--embed-latency-rounds=3",
                                "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    # the figures the marker alone measured reach JUnit: they are recorded after the budget is checked
    import xml.etree.ElementTree as ElementTree

    cases = {case.get("name"): case for case in ElementTree.parse(pytester.path / "junit.xml").iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["test_generous[minilm-cpu]"].iter("property")}
    for name in ("sts.spearman", "latency.p95_ms", "memory.peak_rss_mb"):
        assert float(properties[f"embedeval.minilm.cpu.{name}"]) != 0, (name, properties)
    result.stdout.fnmatch_lines([
        "embed_budget missed:",
        "  Spearman * is below the minimum 100.00 for model minilm on cpu, pairs/dev (6 pairs, *pairs.csv)",
        "  p95 latency * ms is above the budget 0.00 ms for model minilm on cpu, batch 2 x short inputs, "
        "3 rounds after 2 warm-up",
        "  peak RSS * MB is above the budget 1.0 MB for model minilm on cpu, load + encode of batch 2 x short "
        "inputs (at least 3 batches) in a child process",
    ])
    assert "plugin.py" not in result.stdout.str()


def test_failing_test_body_skips_the_budget(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.embed_budget(p95_ms=0.001)
        def test_broken(embed_eval):
            assert False, "body failed first"
    """)
    result = pytester.runpytest("--embed-models=minilm")
    result.assert_outcomes(failed=1)
    assert "embed_budget missed" not in result.stdout.str()
