"""Reranking scored as MTEB scores it under both conventions: MTEB 2.x's own evaluator (mteb from PyPI, offline, on
the same vectors) and MTEB 1.x's RerankingEvaluator (written in tests/mteb_reference.py from its source, as mteb
2.x no longer ships it); queries MTEB skips are counted; bad input names file:line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure import reranking as rr


def test_both_conventions_equal_mteb_on_trecqa(minilm_path: Path, minilm_encode, mteb_reference,
                                               shared_data) -> None:
    """TrecQA validation with the real MiniLM: MTEB 2.x's figures (trec_eval, rounded as MTEB rounds them) exactly,
    MTEB 1.x's MAP and MRR@10 to 1e-6; 16 of 81 questions skipped as both versions skip them."""
    from sentence_transformers import SentenceTransformer

    path = shared_data("reranking") / "TrecQA" / "validation.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    data = rr.load_rerank(path.parent, "validation")
    assert (len(data.queries), data.no_positive, data.no_negative) == (65, 3, 13)
    v2 = rr.evaluate_reranking(minilm_encode, minilm_encode, data, model="minilm", device="cpu", batch_size=32)
    v1 = rr.evaluate_reranking(minilm_encode, minilm_encode, data, model="minilm", device="cpu", batch_size=32,
                               convention="1")
    theirs = mteb_reference.reranking(
        mteb_reference.lookup_model(SentenceTransformer(str(minilm_path), device="cpu"), minilm_encode), rows)
    for name, value in v2.metrics.items():
        assert value == pytest.approx(theirs[name], abs=1e-6), name
    assert v2.mean_ap == v2.map_at_1000 == pytest.approx(theirs["main_score"], abs=1e-12)
    old = mteb_reference.reranking_v1(minilm_encode, minilm_encode, rows)
    assert old["n"] == v1.n_queries == 65 and v1.n_skipped == 16
    assert v1.mean_ap == v1.map == pytest.approx(old["map"], abs=1e-6)
    assert v1.mrr_at_10_v1 == pytest.approx(old["mrr"], abs=1e-6)
    # the gate's per-query APs give back each convention's main score
    assert np.mean(v1.per_query_ap) == pytest.approx(v1.mean_ap, abs=1e-12)
    assert round(float(np.mean(v2.per_query_ap)), 5) == v2.mean_ap
    assert 0.5 < v1.mean_ap < 1.0


def test_several_query_texts_score_a_candidate_by_its_best(minilm_encode, mteb_reference) -> None:
    """MindSmallReranking's layout (a list of texts a query): MTEB 1.x's ``torch.amax`` over them."""
    rows = [{"query": ["stocks fell sharply", "a storm hit the coast"],
             "positive": ["hurricane damage in Florida", "markets tumble"],
             "negative": ["a recipe for pancakes", "football results", "new phone released"]},
            {"query": "how to bake bread", "positive": ["bread recipe with yeast"],
             "negative": ["car repair manual", "bakery opening hours"]}]
    data = rr.make_rerank_set("toy", "test", "toy", [rr.parse_query(f"toy:{i}", r) for i, r in enumerate(rows)])
    ours = rr.evaluate_reranking(minilm_encode, minilm_encode, data, model="minilm", device="cpu", batch_size=32,
                                 convention="1")
    old = mteb_reference.reranking_v1(minilm_encode, minilm_encode, rows)
    assert ours.map == pytest.approx(old["map"], abs=1e-6) and ours.mrr_at_10_v1 == pytest.approx(old["mrr"])


def test_skipped_queries_are_counted(tmp_path: Path) -> None:
    lines = [{"query": "q1", "positive": ["a"], "negative": ["b"]}, {"query": "q2", "positive": [], "negative": ["b"]},
             {"query": "q3", "positive": ["a", "c"], "negative": []}, {"query": "q4", "positive": ["a"], "negative": []}]
    file = tmp_path / "test.jsonl"
    file.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    data = rr.load_rerank(tmp_path, "test")
    assert (len(data.queries), data.no_positive, data.no_negative, data.skipped) == (1, 1, 2, 3)
    assert "3 skipped" in data.label
    file.write_text("\n".join(json.dumps(line) for line in lines[1:]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no query has both a positive and a negative candidate \(1 without a "
                                        r"positive, 2 without a negative\)"):
        rr.load_rerank(file, "test")


@pytest.mark.parametrize(("line", "message"), [
    ('{"positive": ["a"], "negative": ["b"]}', r"r\.jsonl:2: missing 'query'"),
    ('{"query": "q"}', r"r\.jsonl:2: no candidates"),
    ('{"query": "q", "positive": [], "negative": []}', r"r\.jsonl:2: no candidates: 'positive' and 'negative' are "
                                                       r"both empty"),
    ('{"query": "q", "positive": [1], "negative": ["b"]}', r"r\.jsonl:2: 'positive' must be a list of texts"),
    ('{"query": " ", "positive": ["a"], "negative": ["b"]}', r"r\.jsonl:2: the query is empty"),
    ('{"query": "q", "positive": ["a"], "negative": ["b"]', r"r\.jsonl:2: not valid JSON"),
])
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    file = tmp_path / "r.jsonl"
    file.write_text('{"query": "ok", "positive": ["a"], "negative": ["b"]}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message):
        rr.load_rerank(file, "test")


def test_unknown_convention_and_missing_split(tmp_path: Path) -> None:
    from pytest_embedeval.errors import EmbedEvalError

    (tmp_path / "test.jsonl").write_text('{"query": "q", "positive": ["a"], "negative": ["b"]}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"no dev\.jsonl for split 'dev' \(files here: test\.jsonl\)"):
        rr.load_rerank(tmp_path, "dev")
    data = rr.load_rerank(tmp_path, "test")
    with pytest.raises(EmbedEvalError, match="reranking convention '3'"):
        rr.evaluate_reranking(lambda t: np.ones((len(t), 2)), lambda t: np.ones((len(t), 2)), data, model="m",
                              device="cpu", batch_size=1, convention="3")


def test_through_the_plugin_gated_both_ways(pytester: pytest.Pytester, shared_data, gated_both_ways) -> None:
    """As users run it (a task folder of their own, MTEB 1.x's convention, the real MiniLM): skipped queries
    in the report; an unchanged rerun changes by exactly zero; a noisy MiniLM fails the reranking gate."""
    lines = (shared_data("reranking") / "TrecQA" / "validation.jsonl").read_text(encoding="utf-8").splitlines()
    task = pytester.mkdir("tasks") / "Answers"
    task.mkdir()
    (task / "test.jsonl").write_text("\n".join(lines[:40]) + "\n", encoding="utf-8")
    (task / "task.json").write_text('{"kind": "reranking", "convention": "1"}', encoding="utf-8")
    pytester.makepyfile("""
        def test_rerank(embed_eval, reranking_task):
            result = embed_eval.task(reranking_task).assert_map(min=30)
            assert result.convention == "1" and result.n_skipped > 0
    """)
    saved = gated_both_ways(
        "--embed-tasks=Answers", "--embed-task-path=tasks", save=("--embed-report=report.json",),
        unchanged="*reranking:Answers/test:*:mteb1* pass *MAP x100 * +0.00 points*",
        regressed="*reranking:Answers/test:*FAIL*MAP x100 * a real drop*")
    record = next(r for r in json.loads((pytester.path / "report.json").read_text())["results"]
                  if r["kind"] == "reranking")
    assert record["mean_ap"] == record["map"] and record["main_score"] == pytest.approx(record["map"])
    saved.stdout.fnmatch_lines(["*queries * skipped * MTEB * MAP * MAP 1.x * MRR@10 1.x * MAP@1000 2.x*"])


def test_query_and_document_prompts_as_mteb_applies_them(pytester: pytest.Pytester, minilm_encode) -> None:  # noqa: F811
    """--embed-prompts' ``query`` reaches the queries and ``document`` the candidates (reranking) and the
    documents (retrieval), both kept in the record; the figures equal encoding the prefixed texts."""
    rows = [{"query": "how do I reset my password", "positive": ["Password reset: open settings, then account"],
             "negative": ["Our office hours are nine to five", "Reset the router by holding the button"]},
            {"query": "is the shop open on sunday", "positive": ["We open every day, Sundays included"],
             "negative": ["Passwords must have eight characters", "Shipping takes three days"]}]
    task = pytester.mkdir("tasks") / "Support"
    task.mkdir()
    (task / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (task / "task.json").write_text('{"kind": "reranking"}', encoding="utf-8")
    beir = pytester.mkdir("beir")
    (beir / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": f"d{i}", "title": "", "text": t}) for i, t in
                                                 enumerate(rows[0]["positive"] + rows[0]["negative"])) + "\n")
    (beir / "queries.jsonl").write_text(json.dumps({"_id": "q0", "text": rows[0]["query"]}) + "\n")
    (beir / "qrels").mkdir()
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\n")
    pytester.makepyfile("""
        def test_rerank(embed_eval, reranking_task):
            embed_eval.task(reranking_task)

        def test_retrieval(embed_eval):
            embed_eval.retrieval()
    """)
    result = pytester.runpytest("--embed-models=minilm", "--embed-tasks=Support", "--embed-task-path=tasks",
                                f"--embed-retrieval-path={beir}", "--embed-prompts=query=Q: ;document=D: ",
                                "--embed-report=report.json", "--embed-cache=off")
    result.assert_outcomes(passed=2)
    records = {r["kind"]: r for r in json.loads((pytester.path / "report.json").read_text())["results"]}
    for kind in ("reranking", "retrieval"):
        assert (records[kind]["prompt"], records[kind]["document_prompt"]) == ("Q: ", "D: "), kind
    data = rr.make_rerank_set("Support", "test", "x", [rr.parse_query("x", r) for r in rows])
    expected = rr.evaluate_reranking(lambda t: minilm_encode([f"Q: {s}" for s in t]),
                                     lambda t: minilm_encode([f"D: {s}" for s in t]), data, model="m",
                                     device="cpu", batch_size=32)
    assert records["reranking"]["ndcg_at_10"] == pytest.approx(expected.ndcg_at_10, abs=1e-6)
    assert records["reranking"]["map"] == pytest.approx(expected.map, abs=1e-6)
