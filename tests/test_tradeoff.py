"""The trade-off report: the Pareto front, the self-contained page, and the files a run writes."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from pytest_embedeval.report.tradeoff import draw_figure, pareto_front, points_from, render_html, write_tradeoff

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def records(*rows: tuple[str, float | None, float | None, float | None]) -> list[dict]:
    out = []
    for model, spearman, p50, peak in rows:
        who = {"model": model, "device": "cpu", "variant": ""}
        if spearman is not None:
            out.append({"kind": "sts", **who, "spearman": spearman})
        if p50 is not None:
            out.append({"kind": "latency", **who, "batch_size": 32, "length": "short", "p50_ms": p50,
                        "p95_ms": p50 * 1.2})
        if peak is not None:
            out.append({"kind": "memory", **who, "batch_size": 32, "length": "short", "peak_rss_mb": peak,
                        "params": 1000})
    return out


def test_pareto_front_keeps_what_nothing_beats_on_both_axes() -> None:
    # (accuracy, latency): c is slower and less accurate than b; d ties b exactly, so neither beats the other
    points = [(80.0, 10.0), (86.0, 50.0), (85.0, 60.0), (86.0, 50.0), (88.0, 500.0)]
    assert pareto_front(points) == [True, True, False, True, True]


def test_equal_accuracy_and_slower_is_dominated() -> None:
    assert pareto_front([(86.0, 20.0), (86.0, 70.0)]) == [True, False]
    assert pareto_front([(86.0, 20.0)]) == [True]
    assert pareto_front([]) == []


def test_targets_missing_a_figure_stay_in_the_table_but_not_on_the_front() -> None:
    points = points_from(records(("fast", 80.0, 10.0, 500.0), ("unscored", None, 5.0, None),
                                 ("untimed", 90.0, None, 900.0)), 32)
    by_name = {p.target: p for p in points}
    assert by_name["fast cpu"].on_front and by_name["fast cpu"].plottable
    assert not by_name["unscored cpu"].plottable and not by_name["unscored cpu"].on_front
    page = render_html(points, PNG_MAGIC)
    assert "Not in the plot (no accuracy score or no latency measured): unscored cpu, untimed cpu" in page


def test_figure_labels_axes_one_point_per_model_and_plain_ticks() -> None:
    # this machine's variants run: a log axis over 25-363 ms, where matplotlib also labels minor ticks
    # ("3x10^1 4x10^1 ..." overprinted) unless told not to
    points = points_from(records(("minilm", 86.72, 53.9, 611.0), ("bf16", 86.71, 25.3, 663.0),
                                 ("int8", 86.16, 32.8, 733.0), ("onnx", 86.72, 63.6, 723.0),
                                 ("mpnet", 88.11, 363.3, 909.0)), 32)
    figure = draw_figure(points, 32)
    figure.canvas.draw()
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    assert axes.get_xlabel() == "p50 latency per batch of 32 (ms, lower is better)"
    assert axes.get_ylabel() == "STS Spearman x100 (higher is better)"
    assert sum(len(collection.get_offsets()) for collection in axes.collections) == 5
    assert [label.get_text() for label in axes.texts] == [
        "bf16 cpu\n663 MB peak", "int8 cpu\n733 MB peak", "minilm cpu\n611 MB peak", "onnx cpu\n723 MB peak",
        "mpnet cpu\n909 MB peak"]
    assert [line.get_xdata().tolist() for line in axes.lines] == [[25.3, 53.9, 363.3]]  # the front: bf16, fp32, mpnet
    low, high = axes.get_xlim()
    shown = [tick for tick in axes.xaxis.get_ticklabels(minor=True) if low <= tick.get_position()[0] <= high]
    assert all(tick.get_text() == "" for tick in shown)
    major = [tick.get_text() for tick in axes.xaxis.get_ticklabels() if low <= tick.get_position()[0] <= high]
    assert major and all(text.strip("$").replace("\\mathdefault{", "").rstrip("}").isdigit() for text in major), major


def test_page_is_self_contained(tmp_path: Path) -> None:
    write_tradeoff(tmp_path, records(("a", 80.0, 10.0, 500.0), ("b", 86.0, 70.0, 600.0)), 32)
    page = (tmp_path / "tradeoff.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert (tmp_path / "tradeoff.png").read_bytes().startswith(PNG_MAGIC)
    table = json.loads((tmp_path / "tradeoff.json").read_text(encoding="utf-8"))
    assert [(p["target"], p["on_front"]) for p in table["points"]] == [("a cpu", True), ("b cpu", True)]


def test_a_run_with_retrieve_and_rerank_shows_its_cost_curve_and_verdict(tmp_path: Path) -> None:
    metrics = {"recall_at_1": 0.5, "recall_at_10": 0.8, "mrr_at_10": 0.6}
    rows = [{"mode": "small", **metrics, "ndcg_at_10": 0.645, "index_s": 350.0, "query_ms": 20.0, "query_p95_ms": 25.0},
            {"mode": "large", **metrics, "ndcg_at_10": 0.656, "index_s": 4000.0, "query_ms": 90.0, "query_p95_ms": 99.0},
            {"mode": "hybrid k=20", **metrics, "ndcg_at_10": 0.652, "index_s": 350.0, "query_ms": 900.0,
             "query_p95_ms": 990.0}]
    hybrid = {"small": "minilm", "large": "mpnet", "device": "cpu", "n_queries": 300, "n_corpus": 5183,
              "timed_queries": 10, "rows": rows, "cross": ""}
    write_tradeoff(tmp_path, records(("a", 80.0, 10.0, 500.0)), 32, [hybrid])
    page = (tmp_path / "tradeoff.html").read_text(encoding="utf-8")
    assert "minilm retrieves, mpnet reranks" in page and "<td>hybrid k=20</td>" in page and "<td>0.652</td>" in page
    # 3,650 s of indexing saved, 0.81 s more per query: the verdict says when the hybrid stops paying
    verdict = "hybrid k=20 reaches 99.4% of the large model's nDCG@10 with 0.09x its index time and 10.00x its " \
              "time per query: cheaper in total up to 4,506 queries per index build"
    assert f"<b>{html.escape(verdict)}</b>" in page
    (written,) = json.loads((tmp_path / "tradeoff.json").read_text(encoding="utf-8"))["hybrids"]
    assert written["verdict"] == verdict and written["rows"] == rows
    write_tradeoff(tmp_path, records(("a", 80.0, 10.0, 500.0)), 32)
    assert "rerank" not in (tmp_path / "tradeoff.html").read_text(encoding="utf-8")


def test_no_plottable_point_still_writes_every_file(tmp_path: Path) -> None:
    write_tradeoff(tmp_path, records(("a", None, 10.0, 500.0)), 32)
    assert (tmp_path / "tradeoff.png").read_bytes().startswith(PNG_MAGIC)
    assert "Not in the plot" in (tmp_path / "tradeoff.html").read_text(encoding="utf-8")


def test_run_writes_the_tradeoff_of_every_model(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("""
        def test_measure(embed_eval):
            embed_eval.sts()
            embed_eval.latency(rounds=3)
    """)
    result = pytester.runpytest("--embed-models=minilm,random:minilm-l6", f"--embed-sts-path={tiny_csv}",
                                "--embed-tradeoff=out", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    out = pytester.path / "out"
    result.stdout.fnmatch_lines([f"embedeval trade-off: {out / 'tradeoff.png'} (and tradeoff.html, tradeoff.json)"])
    assert (out / "tradeoff.png").read_bytes().startswith(PNG_MAGIC)
    table = json.loads((out / "tradeoff.json").read_text(encoding="utf-8"))
    assert sorted(p["target"] for p in table["points"]) == ["minilm cpu", "random-minilm-l6 cpu"]
    assert all(p["accuracy"] is not None and p["p50_ms"] > 0 for p in table["points"])
    assert any(p["on_front"] for p in table["points"])
