"""Every table the plugin shows: the terminal summary, Markdown, the acceptance and hybrid tables.

All rendering lives here, so the measure and gate layers return data and a
table's columns are decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_embedeval.core.formatting import figure_or_dash
from pytest_embedeval.measure.accuracy import Column, Kind
from pytest_embedeval.measure.registry import KINDS, kind_of
from pytest_embedeval.models.targets import TargetKey


def who(record: dict[str, Any]) -> str:
    """``minilm cpu`` or ``minilm cpu int8``: the model, device and variant a row is about."""
    return TargetKey.of(record).text


@dataclass(frozen=True)
class Table:
    """Rows of cells, rendered for the terminal or as Markdown."""

    headers: list[str]
    rows: list[list[str]]

    def text(self) -> list[str]:
        """Left-aligned first column, right-aligned numbers, two spaces between columns."""
        widths = [max(len(str(cell)) for cell in column) for column in zip(self.headers, *self.rows)]

        def line(cells: list[str]) -> str:
            first, *rest = cells
            return "  ".join([str(first).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(rest, widths[1:])])

        return [line(self.headers), "  ".join("-" * w for w in widths)] + [line(row) for row in self.rows]

    def markdown(self) -> list[str]:
        return ["| " + " | ".join(self.headers) + " |", "|" + "---|" * len(self.headers)] + [
            "| " + " | ".join(str(cell) for cell in row) + " |" for row in self.rows]


def _first(records: list[dict[str, Any]], kind: str, target: str, prefer: dict[str, Any]) -> dict[str, Any]:
    """The record of ``kind`` for ``target`` (see :func:`who`), preferring one matching ``prefer``."""
    mine = [r for r in records if r["kind"] == kind and who(r) == target]
    preferred = [r for r in mine if all(r.get(k) == v for k, v in prefer.items())]
    return (preferred or mine or [{}])[0]


def by_target(records: list[dict[str, Any]], batch_size: int) -> list[tuple[str, dict, dict, dict]]:
    """(target, latency, memory, accuracy) per model x device x variant: the run's batch size and short inputs
    preferred, ``{}`` where a kind was not measured; ``accuracy`` maps each accuracy kind measured to its
    first record."""
    prefer = {"batch_size": batch_size, "length": "short"}
    rows = []
    for target in sorted({who(r) for r in records}):
        accuracy = {kind.name: _first(records, kind.name, target, {}) for kind in KINDS}
        rows.append((target, _first(records, "latency", target, prefer), _first(records, "memory", target, prefer),
                     {name: record for name, record in accuracy.items() if record}))
    return rows


def main_column(kind: Kind) -> Column:
    """The column of a kind's main score (its header names the score in the target table)."""
    return next(c for c in kind.columns if c.field == kind.main_score)


def cell(column: Column, record: dict[str, Any]) -> str:
    value = record.get(column.field)
    if value is None or column.digits is None:
        return "-" if value is None else str(value)
    return figure_or_dash(value * column.scale, column.digits)


def target_table(records: list[dict[str, Any]], batch_size: int) -> Table | None:
    """One row per model x device x variant: size, memory, latency and each accuracy kind's main score."""
    measured = [kind for kind in KINDS if any(r["kind"] == kind.name for r in records)]
    rows = []
    for target, latency, memory, accuracy in by_target(records, batch_size):
        params, weights = memory.get("params"), memory.get("weight_mb")
        rows.append([
            target, "-" if params is None else f"{params / 1e6:.1f}M",
            "-" if not weights else f"{sum(weights.values()):.1f}", figure_or_dash(memory.get("disk_mb"), 1),
            figure_or_dash(memory.get("peak_rss_mb"), 0), figure_or_dash(memory.get("private_mb"), 0),
            str(latency.get("batch_size", "-")),
            figure_or_dash(latency.get("p50_ms"), 1), figure_or_dash(latency.get("p95_ms"), 1),
            figure_or_dash(latency.get("sentences_per_s"), 0),
            *(cell(main_column(kind), accuracy.get(kind.name, {})) for kind in measured),
        ])
    if not rows:
        return None
    return Table(["model", "params", "weights MB", "disk MB", "peak MB", "private MB", "batch", "p50 ms", "p95 ms",
                  "sent/s", *(main_column(kind).header for kind in measured)], rows)


def latency_table(records: list[dict[str, Any]]) -> Table | None:
    """Every latency measurement: the sweep, one row per batch size x length."""
    rows = [[who(r), str(r["batch_size"]), r["length"], figure_or_dash(r["tokens"], 0),
             str(r["rounds"]), figure_or_dash(r["p50_ms"], 1), figure_or_dash(r["p95_ms"], 1), figure_or_dash(r["p99_ms"], 1),
             figure_or_dash(r["iqr_ms"], 1), figure_or_dash(r["sentences_per_s"], 0)]
            for r in records if r["kind"] == "latency"]
    if len(rows) < 2:
        return None
    return Table(["model", "batch", "length", "tokens", "rounds", "p50 ms", "p95 ms", "p99 ms", "IQR ms", "sent/s"],
                 rows)


def kind_table(kind: Kind, records: list[dict[str, Any]]) -> Table | None:
    """Every measurement of one accuracy kind: the data, the kind's own columns, the encode time."""
    rows = [[who(r), f"{r['dataset']}/{r['split']}", *(cell(c, r) for c in kind.columns),
             "cache" if r["encode_seconds"] is None else figure_or_dash(r["encode_seconds"], 1)]
            for r in records if r["kind"] == kind.name]
    if not rows:
        return None
    return Table(["model", "data", *(c.header for c in kind.columns), "encode s"], rows)


def kind_tables(records: list[dict[str, Any]]) -> list[tuple[str, Table]]:
    """(title, table) of every accuracy kind the run measured, in the registry's order."""
    tables = [(kind.title, kind_table(kind, records)) for kind in KINDS]
    return [(title, table) for title, table in tables if table is not None]


def task_means(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target's mean main score (points) over the MTEB tasks it was scored on, as MTEB averages them."""
    scored: dict[str, dict[str, float]] = {}
    for record in records:
        kind = kind_of(record)
        if kind is not None and record.get("task"):
            scored.setdefault(who(record), {})[record["task"]] = kind.main(record)
    return [{"target": target, "tasks": sorted(tasks), "n_tasks": len(tasks),
             "mean_main_score": sum(tasks.values()) / len(tasks)} for target, tasks in sorted(scored.items())]


def task_mean_table(records: list[dict[str, Any]]) -> Table | None:
    rows = [[mean["target"], str(mean["n_tasks"]), ", ".join(mean["tasks"]), figure_or_dash(mean["mean_main_score"])]
            for mean in task_means(records)]
    if not rows:
        return None
    return Table(["model", "tasks", "MTEB tasks", "mean main score"], rows)


def verdict_table(verdicts: list[dict[str, Any]]) -> Table | None:
    """One row per baseline comparison: what changed, by how much, with its interval."""
    rows = [[f"{v['model']} {v['device']}", v["key"], v["status"], v["metric"],
             figure_or_dash(v["baseline"]), figure_or_dash(v["current"]), v["change"] or "-"] for v in verdicts]
    if not rows:
        return None
    return Table(["model", "measurement", "verdict", "metric", "baseline", "now", "change [interval]"], rows)


def acceptance_table(result: dict[str, Any]) -> list[str]:
    """An acceptance verdict (``AcceptanceResult.to_dict()``): one row per criterion, the verdict, its reasons."""
    criteria = result["criteria"]
    rows = [[c["name"], c["incumbent"], c["candidate"], c["change"], c["limit"], "ok" if c["ok"] else "FAIL"]
            for c in criteria]
    table = Table(["criterion", "incumbent", "candidate", "change [interval]", "limit", "result"], rows)
    lines = [f"{result['kind']} acceptance: candidate {result['candidate']} vs incumbent {result['incumbent']} "
             f"on {result['device']}", *table.text(), *result["notes"]]
    reasons = [f"{c['name']} {c['change']} is outside the limit {c['limit']}" for c in criteria if not c["ok"]]
    lines.append(f"verdict: {result['verdict']}" + "".join(f"\n  - {reason}" for reason in reasons))
    return lines


def hybrid_parts(result: Any) -> tuple[str, Table, str]:
    """Retrieve + rerank: what was compared, quality and cost per mode, and the verdict (the cheapest hybrid
    near the large model), for the terminal and the trade-off page alike."""
    rows = [[row["mode"], f"{row['recall_at_1']:.3f}", f"{row['recall_at_10']:.3f}", f"{row['mrr_at_10']:.3f}",
             f"{row['ndcg_at_10']:.3f}", f"{row['index_s']:.1f}", f"{row['query_ms']:.1f}",
             f"{row['query_p95_ms']:.1f}"] for row in result.rows]
    crossing = f" (cross k=: the cross-encoder {result.cross})" if result.cross else ""
    header = (f"retrieve + rerank: {result.small} retrieves, {result.large} reranks{crossing}, on {result.device} "
              f"({result.n_queries} queries, {result.n_corpus} documents; cost timed on {result.timed_queries} "
              "queries)")
    table = Table(["mode", "R@1", "R@10", "MRR@10", "nDCG@10", "index s", "ms/query", "p95 ms/query"], rows)
    return header, table, result.verdict()


def hybrid_table(result: Any) -> list[str]:
    header, table, verdict = hybrid_parts(result)
    return [header, *table.text(), verdict]
