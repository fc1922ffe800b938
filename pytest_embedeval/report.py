"""Collecting measurements during a run and reporting them at its end.

Results arrive as plain dicts (``result.to_dict()`` plus a ``kind``), so the
same records travel from xdist workers to the controller, into the JSON report
and into the terminal table.  Recording the same measurement twice keeps the
last one: a record is identified by its kind and the fields in ``IDENTITY``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from pytest_embedeval.atomic import write_json_atomic

REPORT_SCHEMA = "pytest-embedeval/report/1"
IDENTITY: dict[str, tuple[str, ...]] = {
    "sts": ("model", "device", "dataset", "split", "fingerprint", "batch_size"),
}


def record_key(record: dict[str, Any]) -> str:
    kind = record["kind"]
    return json.dumps([kind] + [record.get(name) for name in IDENTITY[kind]])


class Recorder:
    """The measurements of one process, keyed so that a re-measurement replaces."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}

    def add(self, kind: str, fields: dict[str, Any]) -> None:
        record = {"kind": kind, **fields}
        self._records[record_key(record)] = record

    def extend(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self._records[record_key(record)] = record

    @property
    def records(self) -> list[dict[str, Any]]:
        return [self._records[key] for key in sorted(self._records)]


def write_report(path: Path, records: list[dict[str, Any]], environment: dict[str, Any]) -> None:
    write_json_atomic(path, {"schema": REPORT_SCHEMA, "environment": environment, "results": records})


def format_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned first column, right-aligned numbers, two spaces between columns."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join([str(first).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(rest, widths[1:])])

    return [line(headers), "  ".join("-" * w for w in widths)] + [line(row) for row in rows]


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def sts_table(records: list[dict[str, Any]]) -> list[str]:
    rows = [[f"{r['model']} {r['device']}", f"{r['dataset']}/{r['split']}", str(r["n_pairs"]),
             _number(r["spearman"]), _number(r["pearson"]), _number(r["encode_seconds"], 1)]
            for r in records if r["kind"] == "sts"]
    if not rows:
        return []
    return format_table(["model", "data", "pairs", "spearman", "pearson", "encode s"], rows)
