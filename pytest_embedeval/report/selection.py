"""A pick under a budget: ``--embed-select="p95_ms<=50,peak_mb<=800"`` names the most accurate target that fits.

Every target of the run (model x device x variant) is checked against every
limit with the figures the run measured for it (latency and memory at the
run's batch size and short inputs, as in the terminal table; the first score
of each accuracy kind); a figure that was not measured misses its limit, saying
so.  Of the targets meeting all limits the one with the highest main score is
the pick (ties: the faster p50): the kind of the first main score the limits
name (``accuracy>=75``), else the first kind the run measured (STS first).  Also the cost and prompt tables, which sit beside it
in the summary.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from pytest_embedeval.core.formatting import figure_or_dash
from pytest_embedeval.measure.registry import KINDS
from pytest_embedeval.report.tables import Table, by_target, who

# metric -> (record kind, field, scale); weight_mb sums the weights by dtype.  Every accuracy kind adds its
# numeric columns under their field names (spearman, ndcg_at_10, accuracy, v_measure ...), in points.
METRICS: dict[str, tuple[str, str, float]] = {
    **{column.field: (kind.name, column.field, column.scale) for kind in KINDS for column in kind.columns
       if column.digits is not None and not column.field.startswith("n_")},
    "p50_ms": ("latency", "p50_ms", 1.0), "p95_ms": ("latency", "p95_ms", 1.0), "p99_ms": ("latency", "p99_ms", 1.0),
    "sentences_per_s": ("latency", "sentences_per_s", 1.0), "tokens_per_s": ("latency", "tokens_per_s", 1.0),
    "usd_per_mtok": ("latency", "usd_per_mtok", 1.0),
    "peak_mb": ("memory", "peak_rss_mb", 1.0), "private_mb": ("memory", "private_mb", 1.0),
    "params": ("memory", "params", 1.0), "weight_mb": ("memory", "weight_mb", 1.0), "disk_mb": ("memory", "disk_mb", 1.0),
}
MAIN_SCORES = {kind.main_score: kind for kind in KINDS}  # the metrics a pick can be ranked by
LIMIT = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


@dataclass(frozen=True)
class Limit:
    metric: str
    op: str  # "<=" or ">="
    value: float

    @property
    def text(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def met(self, measured: float) -> bool:
        return measured <= self.value if self.op == "<=" else measured >= self.value


def parse_limits(raw: str) -> tuple[Limit, ...]:
    """``p95_ms<=50, peak_mb<=800, spearman>=85``; ValueError names an unknown metric and the known ones."""
    limits = []
    for item in (part for part in re.split(r"[,;\n]", raw) if part.strip()):
        match = LIMIT.match(item)
        if not match:
            raise ValueError(f"{item.strip()!r}: write METRIC<=VALUE or METRIC>=VALUE")
        metric, op, number = match.groups()
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"{item.strip()!r}: {number!r} is not a number") from None
        limits.append(Limit(metric, op, value))
    if not limits:
        raise ValueError("expected at least one METRIC<=VALUE or METRIC>=VALUE")
    return tuple(limits)


def figure(metric: str, figures: dict[str, dict[str, Any]]) -> float | None:
    kind, name, scale = METRICS[metric]
    value = figures.get(kind, {}).get(name)
    if isinstance(value, dict):  # weight_mb by dtype
        return sum(value.values()) if value else None
    return None if value is None else value * scale


@dataclass(frozen=True)
class Candidate:
    target: str
    score: float | None  # the main score it is ranked by, in points
    p50_ms: float | None
    misses: tuple[str, ...]  # "p95_ms 61.2 > 50", "peak_mb not measured"

    @property
    def meets(self) -> bool:
        return not self.misses


def ranking_kind(records: list[dict[str, Any]], limits: tuple[Limit, ...]) -> Any:
    """The accuracy kind a pick is ranked by: the first main score the limits name, else the first kind measured."""
    named = [MAIN_SCORES[limit.metric] for limit in limits if limit.metric in MAIN_SCORES]
    measured = [kind for kind in KINDS if any(r["kind"] == kind.name for r in records)]
    return (named or measured or [KINDS[0]])[0]


def select(records: list[dict[str, Any]], batch_size: int, limits: tuple[Limit, ...]) -> dict[str, Any]:
    """The pick and every target's misses, as plain data (it goes into the JSON report as is)."""
    rank = ranking_kind(records, limits)
    candidates, data = [], set()
    for target, latency, memory, accuracy in by_target(records, batch_size):
        figures = {"latency": latency, "memory": memory, **accuracy}
        misses = []
        for limit in limits:
            value = figure(limit.metric, figures)
            if value is None:
                misses.append(f"{limit.metric} not measured")
            elif not limit.met(value):
                misses.append(f"{limit.metric} {value:.4g} {'>' if limit.op == '<=' else '<'} {limit.value:g}")
        scored = accuracy.get(rank.name, {})
        if rank.main(scored) is None:
            misses.append(f"no {rank.title} score to rank by")
        else:
            data.add(scored.get("task") or f"{scored['dataset']}/{scored['split']}")
        candidates.append(Candidate(target, rank.main(scored), latency.get("p50_ms"), tuple(misses)))
    fitting = [c for c in candidates if c.meets]
    pick = max(fitting, key=lambda c: (c.score, -(c.p50_ms or 0.0)), default=None)
    return {"limits": [limit.text for limit in limits], "ranked_by": rank.main_score, "metric": rank.metric,
            "title": rank.title, "data": ", ".join(sorted(data)) or None, "batch_size": batch_size,
            "pick": None if pick is None else pick.target, "pick_score": None if pick is None else pick.score,
            "candidates": [{**asdict(c), "meets": c.meets} for c in candidates]}


def selection_lines(selection: dict[str, Any]) -> list[str]:
    """The pick (or why there is none), then every target that missed a limit and which."""
    limits = ", ".join(selection["limits"])
    where = f"{selection['title']} {selection['metric']} on {selection['data'] or 'no data'}"
    if selection["pick"] is not None:
        lines = [f"embed-select ({limits}): pick {selection['pick']} "
                 f"({selection['metric']} {selection['pick_score']:.2f}, the most accurate of "
                 f"{sum(c['meets'] for c in selection['candidates'])} meeting every limit; {where}; "
                 f"latency and memory at batch {selection['batch_size']}, short inputs)"]
    else:
        lines = [f"embed-select ({limits}): no target meets every limit"]
    lines += [f"  {c['target']}: misses {'; '.join(c['misses'])}" for c in selection["candidates"] if c["misses"]]
    return lines


def cost_table(records: list[dict[str, Any]]) -> Table | None:
    """Throughput and cost of every latency measurement that counted tokens (or was priced)."""
    latency = [r for r in records if r["kind"] == "latency"]
    if not any(r.get("tokens_per_s") is not None or r.get("price_per_hour") is not None for r in latency):
        return None
    rows = [[who(r), str(r["batch_size"]), r["length"], figure_or_dash(r.get("tokens"), 1), figure_or_dash(r["sentences_per_s"], 0),
             figure_or_dash(r.get("tokens_per_s"), 0) if r.get("tokens") is not None else "- (no tokenizer)",
             figure_or_dash(r.get("price_per_hour"), 2), figure_or_dash(r.get("usd_per_mtok"), 4)] for r in latency]
    return Table(["model", "batch", "length", "tokens/text", "sent/s", "tok/s", "USD/h", "USD/Mtok"], rows)


def prompt_table(records: list[dict[str, Any]]) -> Table | None:
    """The prompt each STS evaluation prepended (and the model's key it came from)."""
    rows = [[who(r), f"{r['dataset']}/{r['split']}", r.get("prompt_name") or "-", repr(r["prompt"])]
            for r in records if r.get("prompt")]
    return Table(["model", "data", "prompt key", "prompt"], rows) if rows else None
