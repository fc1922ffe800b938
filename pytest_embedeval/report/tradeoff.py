"""The trade-off report: accuracy against latency (and memory) for every model of a run.

``--embed-tradeoff=DIR`` writes ``tradeoff.png`` (accuracy against p50 latency,
marker area proportional to peak RSS, the Pareto front drawn as a step line),
``tradeoff.html`` (the picture embedded, so the page is one self-contained file
a CI artifact can show, and the table) and ``tradeoff.json``.  A target is on
the Pareto front when no other target is at least as accurate and at least as
fast while better on one of the two: those are the only sensible choices, and
the step line shows what each extra point of accuracy costs in latency.  The
accuracy is the main score of the first accuracy kind the run measured (STS
Spearman when it measured STS; registry order).  A run that evaluated retrieve +
rerank (``embed_hybrid``) adds each such comparison below: its cost curve per k
and its verdict, the other trade-off teams make between a small and a large model.
"""

from __future__ import annotations

import base64
import html
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pytest_embedeval.core.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from pytest_embedeval.core.formatting import figure_or_dash
from pytest_embedeval.measure.hybrid import HybridResult
from pytest_embedeval.report.selection import ranking_kind
from pytest_embedeval.report.tables import Table, by_target, hybrid_parts

FILES = ("tradeoff.png", "tradeoff.html", "tradeoff.json")


@dataclass(frozen=True)
class Point:
    target: str  # "minilm cpu int8"
    accuracy: float | None  # the main score in points of ``metric``
    p50_ms: float | None
    p95_ms: float | None
    peak_mb: float | None
    params: int | None
    on_front: bool = False
    tokens_per_s: float | None = None
    usd_per_mtok: float | None = None  # with --embed-price-per-hour

    @property
    def plottable(self) -> bool:
        return self.accuracy is not None and self.p50_ms is not None


def pareto_front(points: list[tuple[float, float]]) -> list[bool]:
    """For (accuracy, latency) pairs: True where no other pair is >= as accurate, <= as slow and better in one."""
    return [not any(a >= acc and l <= lat and (a > acc or l < lat) for a, l in points) for acc, lat in points]


def points_from(records: list[dict[str, Any]], batch_size: int) -> list[Point]:
    rank = ranking_kind(records, ())
    points = [Point(target, rank.main(accuracy.get(rank.name, {})), latency.get("p50_ms"), latency.get("p95_ms"),
                    memory.get("peak_rss_mb"), memory.get("params"), tokens_per_s=latency.get("tokens_per_s"),
                    usd_per_mtok=latency.get("usd_per_mtok"))
              for target, latency, memory, accuracy in by_target(records, batch_size)]
    plottable = [p for p in points if p.plottable]
    front = dict(zip((p.target for p in plottable), pareto_front([(p.accuracy, p.p50_ms) for p in plottable])))
    return [Point(**{**asdict(p), "on_front": front.get(p.target, False)}) for p in points]


def draw_figure(points: list[Point], batch_size: int, accuracy: str = "STS Spearman x100") -> Any:
    """The picture, drawn with matplotlib's object API (no pyplot, so no global backend state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [p for p in points if p.plottable]
    figure = Figure(figsize=(8, 5.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    largest = max((p.peak_mb or 0 for p in shown), default=0) or 1
    for on_front, colour, label in ((True, "tab:red", "Pareto front"), (False, "tab:gray", "dominated")):
        group = [p for p in shown if p.on_front == on_front]
        if group:
            axes.scatter([p.p50_ms for p in group], [p.accuracy for p in group], label=label, color=colour,
                         alpha=0.6, edgecolors="black", zorder=3,
                         s=[40 + 900 * (p.peak_mb or 0) / largest for p in group])
    front = sorted((p for p in shown if p.on_front), key=lambda p: p.p50_ms)
    if len(front) > 1:
        axes.step([p.p50_ms for p in front], [p.accuracy for p in front], where="post", color="tab:red",
                  linewidth=1.2, zorder=2)
    # neighbours in latency take turns above and below their marker, so labels do not overlap
    for index, point in enumerate(sorted(shown, key=lambda p: p.p50_ms)):
        memory = "" if point.peak_mb is None else f"\n{point.peak_mb:.0f} MB peak"
        axes.annotate(f"{point.target}{memory}", (point.p50_ms, point.accuracy), textcoords="offset points",
                      xytext=(10, 8) if index % 2 == 0 else (10, -26), fontsize=8)
    latencies = [p.p50_ms for p in shown]
    if latencies and max(latencies) / min(latencies) > 8:
        from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

        axes.set_xscale("log")
        axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(ScalarFormatter())
        axes.xaxis.set_minor_formatter(NullFormatter())  # over a short span matplotlib labels minor ticks too
    axes.margins(0.25, 0.2)
    axes.set_xlabel(f"p50 latency per batch of {batch_size} (ms, lower is better)")
    axes.set_ylabel(f"{accuracy} (higher is better)")
    axes.set_title("Accuracy vs latency (marker area: peak RSS)" if shown else "no model has both figures")
    axes.grid(True, alpha=0.3)
    if shown:
        axes.legend(loc="lower right", fontsize=8, markerscale=0.5)
    figure.tight_layout()
    return figure


def render_png(points: list[Point], batch_size: int, accuracy: str = "STS Spearman x100") -> bytes:
    import io

    buffer = io.BytesIO()
    draw_figure(points, batch_size, accuracy).savefig(buffer, format="png")
    return buffer.getvalue()


def table_rows(points: list[Point]) -> list[list[str]]:
    return [[p.target, figure_or_dash(p.accuracy, 2), figure_or_dash(p.p50_ms, 1), figure_or_dash(p.p95_ms, 1), figure_or_dash(p.peak_mb, 0),
             "-" if p.params is None else f"{p.params / 1e6:.1f}M", figure_or_dash(p.tokens_per_s, 0), figure_or_dash(p.usd_per_mtok, 4),
             "yes" if p.on_front else ("no" if p.plottable else "not plotted")] for p in points]


HEADERS = ["model", "accuracy", "p50 ms", "p95 ms", "peak MB", "params", "tok/s", "USD/Mtok", "Pareto front"]


def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def hybrid_html(hybrids: list[dict[str, Any]]) -> str:
    sections = []
    for record in hybrids:
        header, table, verdict = hybrid_parts(HybridResult.from_dict(record))
        sections.append(f"<p>{html.escape(header)}</p>{html_table(table)}<p><b>{html.escape(verdict)}</b></p>")
    return "<h2>Retrieve with the small model, rerank with the large</h2>" + "".join(sections) if sections else ""


def render_html(points: list[Point], png: bytes, hybrids: list[dict[str, Any]] = ()) -> str:
    missing = [p.target for p in points if not p.plottable]
    note = (f"<p>Not in the plot (no accuracy score or no latency measured): {html.escape(', '.join(missing))}</p>"
            if missing else "")
    image = base64.b64encode(png).decode("ascii")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>pytest-embedeval trade-off</title>"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}</style>"
            "</head><body><h1>Accuracy vs latency vs memory</h1>"
            f"<img alt=\"trade-off plot\" src=\"data:image/png;base64,{image}\">"
            f"{html_table(Table(HEADERS, table_rows(points)))}{note}{hybrid_html(list(hybrids))}</body></html>\n")


def write_tradeoff(folder: Path, records: list[dict[str, Any]], batch_size: int,
                   hybrids: list[dict[str, Any]] = ()) -> Path:
    """PNG, HTML and JSON into ``folder``; returns the PNG's path."""
    points = points_from(records, batch_size)
    folder.mkdir(parents=True, exist_ok=True)
    rank = ranking_kind(records, ())
    accuracy = f"{rank.title} {rank.metric}" + ("" if "x100" in rank.metric else " x100")  # every main score in points
    png = render_png(points, batch_size, accuracy)
    png_path = folder / FILES[0]
    write_bytes_atomic(png_path, png)
    write_text_atomic(folder / FILES[1], render_html(points, png, hybrids))
    write_json_atomic(folder / FILES[2], {"batch_size": batch_size, "headers": HEADERS, "accuracy": accuracy,
                                          "points": [asdict(p) for p in points],
                                          "hybrids": [{**h, "verdict": HybridResult.from_dict(h).verdict()}
                                                      for h in hybrids]})
    return png_path
