"""What a run writes and prints: the JSON report, the Markdown summary, JUnit properties, the terminal summary.

Everything here renders :class:`RunResults`; files are written atomically,
except ``$GITHUB_STEP_SUMMARY``, which other steps append to as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_embedeval.core.atomic import write_json_atomic, write_text_atomic
from pytest_embedeval.gate.verdict import FAIL, PASS, UNCOMPARED, Verdict
from pytest_embedeval.measure import RESULT_TYPES
from pytest_embedeval.models.targets import TargetKey
from pytest_embedeval.measure.hybrid import HybridResult
from pytest_embedeval.report.records import RunResults
from pytest_embedeval.report.selection import cost_table, prompt_table
from pytest_embedeval.report.tables import (acceptance_table, hybrid_table, kind_tables, latency_table, target_table,
                                            task_mean_table, task_means, verdict_table)

REPORT_SCHEMA = "pytest-embedeval/report/1"


def write_report(path: Path, results: RunResults, environment: dict[str, Any],
                 extra: dict[str, Any] | None = None) -> None:
    """``extra``: further top-level sections (``selection``, the --embed-select pick)."""
    write_json_atomic(path, {"schema": REPORT_SCHEMA, "environment": environment, "results": results.records,
                             "baseline_verdicts": [v.to_dict() for v in results.verdicts],
                             "acceptance": list(results.acceptance), "hybrid": results.hybrids,
                             "task_means": task_means(results.records), "model_loads": results.loads,
                             **(extra or {})})


def junit_properties(records: list[dict[str, Any]], verdicts: list[Verdict]) -> list[tuple[str, Any]]:
    """The figures (each kind's ``JUNIT`` fields) and verdicts of one test, as ``record_property`` pairs."""
    properties: list[tuple[str, Any]] = []
    for record in records:
        kind = record["kind"]
        prefix = f"embedeval.{record['model']}.{TargetKey.of(record).variant_key}.{kind}"
        properties += [(f"{prefix}.{name}", record[name]) for name in RESULT_TYPES[kind].JUNIT]
    for verdict in verdicts:
        properties.append((f"embedeval.{verdict.model}.{verdict.device}.{verdict.key}",
                           f"{verdict.status} {verdict.change}".strip()))
    return properties


def hybrid_lines(results: RunResults) -> list[str]:
    lines: list[str] = []
    for record in results.hybrids:
        lines += ["", *hybrid_table(HybridResult.from_dict(record))]
    return lines


def acceptance_lines(results: RunResults) -> list[str]:
    """Every acceptance item's verdict table, a blank line between them."""
    lines: list[str] = []
    for result in results.acceptance:
        lines += [*([""] if lines else []), *acceptance_table(result)]
    return lines


def markdown_title(results: RunResults) -> str:
    """"no regressions" only when everything measured was compared and passed, nothing else failed."""
    verdicts = results.verdicts
    if any(v.failed for v in verdicts) or results.rejected or results.budget_misses:
        return "regressions found"
    if any(v.status in UNCOMPARED for v in verdicts):
        return "not everything was compared"
    if not any(v.status == PASS for v in verdicts) and not results.acceptance:
        return "nothing was compared"
    return "no regressions"


def markdown_summary(results: RunResults, batch_size: int) -> str:
    """The run as Markdown, for $GITHUB_STEP_SUMMARY or a pull-request comment."""
    records, verdicts = results.records, [v.to_dict() for v in results.verdicts]
    out = [f"## pytest-embedeval: {markdown_title(results)}", ""]
    for heading, table in (("Models", target_table(records, batch_size)), *kind_tables(records),
                           ("Mean over MTEB tasks", task_mean_table(records)),
                           ("Prompts", prompt_table(records)), ("Throughput and cost", cost_table(records)),
                           ("Baseline comparison", verdict_table(verdicts))):
        if table is not None:
            out += [f"### {heading}", "", *table.markdown(), ""]
    for verdict in verdicts:
        if verdict["status"] == FAIL or verdict["status"] in UNCOMPARED:
            out.append(f"- **{verdict['model']} {verdict['device']} {verdict['key']}**: {verdict['status']}: "
                       f"{verdict['detail']}")
    out += [f"- **budget missed**: {line}" for line in results.budget_misses]
    if results.rejected:
        out.append("- **acceptance: REJECT** (model or stack upgrade; table below)")
    if results.acceptance:
        out += ["", "```", *acceptance_lines(results), "```"]
    hybrids = hybrid_lines(results)
    if hybrids:
        out += ["", "```", *hybrids[1:], "```"]
    return "\n".join(out).rstrip() + "\n"


def write_markdown(path: Path, text: str, append: bool) -> None:
    """$GITHUB_STEP_SUMMARY is appended to (other steps write there too); our own file is replaced atomically."""
    if append:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    else:
        write_text_atomic(path, text)


def summary_lines(results: RunResults, batch_size: int) -> list[str]:
    """The terminal summary: targets side by side, the latency sweep, STS, verdicts, acceptance, hybrids."""
    records = results.records
    tables = [target_table(records, batch_size), latency_table(records), *(t for _, t in kind_tables(records)),
              task_mean_table(records), prompt_table(records), cost_table(records),
              verdict_table([v.to_dict() for v in results.verdicts])]
    lines: list[str] = []
    for table in tables:
        if table is not None:
            lines += ["", *table.text()]
    if results.acceptance:
        lines += ["", *acceptance_lines(results)]
    if results.loads:
        lines += ["", "model loads: " + "; ".join(
            f"{target} {sum(workers.values())} ({', '.join(f'{w} {n}' for w, n in sorted(workers.items()))})"
            for target, workers in sorted(results.loads.items()))]
    return lines + hybrid_lines(results)
