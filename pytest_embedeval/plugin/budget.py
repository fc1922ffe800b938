"""The ``embed_budget`` and ``embed_tolerance`` markers: checked at collection, applied after the test body.

``@pytest.mark.embed_budget(p95_ms=50, peak_mb=900, min_spearman=85)`` runs
the measurements after the test body and fails the test with every budget it
missed.  Arguments are checked at collection (by the entry point's
``pytest_generate_tests``, in every run), so a typo is a collection error
naming the test, not a surprise after an hour of measuring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_embedeval.gate.policy import Budget, Tolerance


def check_markers(metafunc: pytest.Metafunc) -> None:
    """A bad embed_budget or embed_tolerance is a collection error naming the test and the argument."""
    from pytest_embedeval.gate.policy import Tolerance, parse_budget, parse_tolerance

    defaults = Tolerance(0.0, 0.0, 0.0)
    parsers = {"embed_budget": parse_budget,
               "embed_tolerance": lambda args, kwargs: parse_tolerance(args, kwargs, defaults)}
    for name, parse in parsers.items():
        marker = metafunc.definition.get_closest_marker(name)
        if marker is None:
            continue
        where = f"{metafunc.definition.nodeid}: @pytest.mark.{name}"
        if "embed_eval" not in metafunc.fixturenames:
            raise pytest.Collector.CollectError(f"{where} needs the embed_eval fixture: add it to the test's arguments")
        try:
            parse(marker.args, marker.kwargs)
        except ValueError as exc:
            raise pytest.Collector.CollectError(f"{where}: {exc}") from None


def tolerance_of(item: pytest.Item, defaults: Tolerance) -> Tolerance | None:
    """The test's embed_tolerance (checked at collection), over the options' defaults; None without one."""
    from pytest_embedeval.gate.policy import parse_tolerance

    marker = item.get_closest_marker("embed_tolerance")
    return None if marker is None else parse_tolerance(marker.args, marker.kwargs, defaults)


def budget_failures(item: pytest.Item) -> list[str]:
    """Measure what the test's embed_budget needs; every budget missed, as report lines."""
    from pytest_embedeval.gate.policy import parse_budget

    marker = item.get_closest_marker("embed_budget")
    embed_eval = getattr(item, "funcargs", {}).get("embed_eval")
    if marker is None or embed_eval is None:
        return []
    missed = check_budget(parse_budget(marker.args, marker.kwargs), embed_eval)
    return ["embed_budget missed:", *(f"  {line}" for line in missed)] if missed else []


def check_budget(budget: Budget, embed_eval: Any) -> list[str]:
    """Measure what the budget needs; the message of every budget missed."""
    failures: list[str] = []

    def attempt(check: Any, *args: Any) -> None:
        try:
            check(*args)
        except AssertionError as exc:
            failures.append(str(exc))

    if budget.wants_sts:
        sts = embed_eval.sts(budget.split)
        if budget.min_spearman is not None:
            attempt(sts.assert_spearman, budget.min_spearman)
        if budget.min_pearson is not None:
            attempt(sts.assert_pearson, budget.min_pearson)
    if budget.wants_latency:
        latency = embed_eval.latency(budget.batch_size, budget.length)
        for value, check in ((budget.p95_ms, latency.assert_p95), (budget.p50_ms, latency.assert_p50),
                             (budget.min_throughput, latency.assert_throughput)):
            if value is not None:
                attempt(check, value)
    if budget.wants_memory:
        memory = embed_eval.memory(budget.batch_size, budget.length)
        if budget.peak_mb is not None:
            attempt(memory.assert_peak, budget.peak_mb)
        if budget.cuda_peak_mb is not None:
            attempt(memory.assert_cuda_peak, budget.cuda_peak_mb)
    return failures
