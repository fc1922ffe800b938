"""BEIR retrieval sets: strict loading, MTEB's scoring against an independent pytrec_eval computation, the gate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.beir import load_beir
from pytest_embedeval.measure.ranking import evaluate_retrieval, search

DOCS = [("d1", "Cats", "cats purr and sleep"), ("d2", "", "dogs bark loudly"), ("d3", "Fish", "fish swim"),
        ("d4", "", "birds fly south"), ("d5", "", "cats and dogs"), ("d6", "", "the stock market fell"),
        ("d7", "", "shares dropped"), ("d8", "", "a copy of d7"), ("d9", "", "rain falls")]
QUERIES = [("q1", "what do cats do"), ("q2", "loud dogs"), ("q3", "markets"), ("q4", "no judgement for me"),
           ("q5", "only zero grades"), ("q6", "weather")]
QRELS = [("q1", "d1", 2), ("q1", "d5", 1), ("q2", "d2", 1), ("q3", "d6", 1), ("q3", "d7", 2), ("q3", "d8", 1),
         ("q5", "d3", 0), ("q6", "d9", 1), ("q6", "d4", 0)]


def write_beir(folder: Path, docs=DOCS, queries=QUERIES, qrels=QRELS, split: str = "test") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n"
                                                 for i, t, x in docs))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": x}) + "\n" for i, x in queries))
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" +
                                                  "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels))
    return folder


def toy_encode(texts: list[str]) -> np.ndarray:
    """A fixed bag-of-letters embedding: deterministic, with exact ties (d7 and d8 share their letters' counts)."""
    vectors = np.zeros((len(texts), 26), dtype=np.float32)
    for row, text in enumerate(texts):
        for char in text.lower():
            if "a" <= char <= "z":
                vectors[row, ord(char) - 97] += 1
    return vectors


def independent(data, encode) -> dict[str, float]:
    """nDCG@10, recall@10 and MRR (recip_rank, which equals MRR@10 on a corpus under 10 documents) straight from
    pytrec_eval on the full score matrix: no chunks, no top-k, no code of ours."""
    import pytrec_eval

    q, d = encode(list(data.queries)), encode(list(data.docs))
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    run = {qid: {did: float(s) for did, s in zip(data.doc_ids, row)} for qid, row in zip(data.query_ids, q @ d.T)}
    per = pytrec_eval.RelevanceEvaluator(data.qrels, {"ndcg_cut.10", "recall.10", "recip_rank"}).evaluate(run)
    return {name: sum(v[key] for v in per.values()) / len(per)
            for name, key in (("ndcg_at_10", "ndcg_cut_10"), ("recall_at_10", "recall_10"),
                              ("mrr_at_10", "recip_rank"))}


def test_loads_beir_layout_as_mteb_does(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "toy"), "test")
    assert data.query_ids == ("q1", "q2", "q3", "q5", "q6")  # q4 has no qrels: dropped, as MTEB drops it
    assert data.dropped_queries == 1
    assert data.docs[0] == "Cats cats purr and sleep" and data.docs[1] == "dogs bark loudly"  # title + " " + text
    assert data.qrels["q5"] == {"d3": 0}  # all-zero judgements stay (they score 0)


def test_metrics_equal_an_independent_pytrec_eval_computation(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "toy"), "test")
    result = evaluate_retrieval(toy_encode, toy_encode, data, model="toy", device="cpu", batch_size=32,
                                chunk_size=4)  # three corpus chunks
    expected = independent(data, toy_encode)
    for name, value in expected.items():
        assert abs(getattr(result, name) - value) < 1e-4, (name, getattr(result, name), value)
    assert result.n_queries == 5 and len(result.per_query_ndcg) == 5
    assert result.metrics["ndcg_at_10"] == result.ndcg_at_10 and "precision_at_1" in result.metrics


def test_chunked_search_equals_the_whole_matrix_and_breaks_ties_by_id() -> None:
    rng = np.random.default_rng(0)
    queries, docs = rng.normal(size=(7, 8)), rng.normal(size=(53, 8))
    docs[10] = docs[11] = docs[40]  # an exact three-way tie
    doc_ids = [f"doc{i:02d}" for i in range(53)]
    query_ids = [f"q{i}" for i in range(7)]
    whole = search(queries, docs, query_ids, doc_ids, top_k=20, chunk_size=1000)
    chunked = search(queries, docs, query_ids, doc_ids, top_k=20, chunk_size=5, query_block=3)
    # BLAS may round a product differently by block shape (last bit of float32): same documents, same order
    assert {q: list(r) for q, r in whole.items()} == {q: list(r) for q, r in chunked.items()}
    assert all(abs(whole[q][d] - chunked[q][d]) < 1e-6 for q in whole for d in whole[q])
    tied = search(docs[[10]], docs, ["q"], doc_ids, top_k=2, chunk_size=7)["q"]
    assert list(tied) == ["doc40", "doc11"]  # equal scores: the larger id first and kept at the cut, as MTEB's heap


@pytest.mark.parametrize("mutate, message", [
    (lambda d, q, r: (d, q, r + [("q1", "d99", 1)]), r"qrels/test.tsv:11: corpus id 'd99' is not in the corpus"),
    (lambda d, q, r: (d, q, r + [("q9", "d1", 1)]), r"qrels/test.tsv:11: query id 'q9' is not in the queries"),
    (lambda d, q, r: (d + [("d2", "", "again")], q, r), r"corpus.jsonl:10: duplicate document id 'd2' \(first at "
                                                        r".*corpus.jsonl:2\)"),
    (lambda d, q, r: (d, q + [("q1", "again")], r), r"queries.jsonl:7: duplicate query id 'q1'"),
    (lambda d, q, r: (d, q + [("q7", "   ")], r), r"queries.jsonl:7: query 'q7' is empty"),
    (lambda d, q, r: (d, q, r + [("q1", "d1", 1)]), r"qrels/test.tsv:11: query 'q1' and document 'd1' are judged "
                                                    r"twice"),
    (lambda d, q, r: (d, q, r + [("q1", "d2", "high")]), r"qrels/test.tsv:11: score 'high' is not a whole number"),
])
def test_bad_input_names_file_and_line(tmp_path: Path, mutate, message: str) -> None:
    docs, queries, qrels = mutate(list(DOCS), list(QUERIES), list(QRELS))
    folder = write_beir(tmp_path / "bad", docs, queries, qrels)
    with pytest.raises(DataError, match=message):
        load_beir(folder, "test")


def test_malformed_lines_and_missing_files(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "bad")
    with (folder / "corpus.jsonl").open("a") as handle:
        handle.write('{"_id": "d10", "text": "unterminated\n')
    with pytest.raises(DataError, match=r"corpus.jsonl:10: not valid JSON"):
        load_beir(folder, "test")
    folder = write_beir(tmp_path / "bad2")
    with (folder / "qrels" / "test.tsv").open("a") as handle:
        handle.write("q1 d2 1\n")
    with pytest.raises(DataError, match=r"qrels/test.tsv:11: expected 3 tab-separated fields"):
        load_beir(folder, "test")
    with pytest.raises(DataError, match=r"missing qrels/dev.tsv \(BEIR layout; qrels splits here: test.tsv\)"):
        load_beir(folder, "dev")
    (folder / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    with pytest.raises(DataError, match=r"qrels/test.tsv:1: expected the header"):
        load_beir(folder, "test")


def test_retrieval_gate_paired_bootstrap_over_queries(tmp_path: Path) -> None:
    from dataclasses import replace

    from pytest_embedeval.gate.entries import ENTRY_TYPES, Context
    from pytest_embedeval.gate.policy import Tolerance
    from pytest_embedeval.gate.verdict import FAIL, PASS

    data = load_beir(write_beir(tmp_path / "toy"), "test")
    result = evaluate_retrieval(toy_encode, toy_encode, data, model="toy", device="cpu", batch_size=32)
    entry_type = ENTRY_TYPES["retrieval"]
    written = json.loads(json.dumps(entry_type.write(result)))
    entry = entry_type.read(written, result, "b.json [fp32][key]")
    context = Context("b.json", {}, 0.95, 0)
    same = entry.judge(result, Tolerance(0.5, 0.1, 0.1), context)
    assert same.status == PASS and same.change.startswith("+0.00 points")
    many = replace(result, n_queries=200, per_query_ndcg=tuple([0.9] * 200))
    base = entry_type.read(entry_type.write(many), many, "b.json")
    worse = replace(many, per_query_ndcg=tuple([0.9] * 100 + [0.5] * 100))
    verdict = base.judge(worse, Tolerance(0.5, 0.1, 0.1), context)
    assert verdict.status == FAIL and verdict.metric == "nDCG@10 x100", verdict
    with pytest.raises(Exception, match="ndcg_f32 holds 5 finite values, expected 200"):
        entry_type.read(written, many, "b.json")


def test_retrieval_through_the_plugin(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """embed_eval.retrieval() with the real MiniLM: a report row, a baseline entry, then an identical rerun passes;
    the bundled suite's test skips with the reason when no set is given."""
    folder = write_beir(tmp_path / "toy")
    pytester.makepyfile("""
        def test_retrieval(embed_eval, retrieval_set):
            result = embed_eval.retrieval()
            assert result.n_queries == 5 and result.dataset == "toy" and result.split == "test"
            result.assert_ndcg(min=0.1)
    """)
    args = ("--embed-models=minilm", f"--embed-retrieval-path={folder}", "-p", "no:cacheprovider")
    first = pytester.runpytest(*args, "--embed-baseline-save", "--embed-report=r.json")
    first.assert_outcomes(passed=1)
    record = next(r for r in json.loads((pytester.path / "r.json").read_text())["results"] if r["kind"] == "retrieval")
    assert 0.1 <= record["ndcg_at_10"] <= 1.0
    second = pytester.runpytest(*args, "--embed-baseline-missing=fail", "-rA")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["*retrieval:toy/test:*pass*nDCG@10 x100*+0.00 points*"])
    pytester.makepyfile(test_suite="from pytest_embedeval.suites.test_retrieval import test_retrieval_quality\n")
    skipped = pytester.runpytest("--embed-models=minilm", "-rs", "test_suite.py", "-p", "no:cacheprovider")
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*no retrieval set: pass --embed-retrieval-path=FOLDER*"])


CONSTANT_ENCODER = """
import numpy as np


class Constant:
    \"\"\"Every text the same vector: every score ties, and ties fall back to document ids.\"\"\"

    def encode(self, texts, batch_size=32):
        return np.ones((len(texts), 8), dtype=np.float32)


def make():
    return Constant()
"""


def test_the_bundled_retrieval_suite_fails_an_encoder_that_retrieves_at_chance(pytester: pytest.Pytester,
                                                                                tmp_path: Path) -> None:
    """200 documents, 10 queries each with one relevant document, which MiniLM finds by its words."""
    topics = ["cats", "dogs", "rain", "stocks", "fish", "trains", "piano", "coffee", "tennis", "volcanoes"]
    docs = [(f"d{i}", "", f"note {i} about nothing in particular") for i in range(190)]
    docs += [(f"a{i}", "", f"an article all about {topic}") for i, topic in enumerate(topics)]  # ids below d*
    queries = [(f"q{i}", f"tell me about {topic}") for i, topic in enumerate(topics)]
    folder = write_beir(tmp_path / "wide", docs, queries, [(f"q{i}", f"a{i}", 1) for i in range(len(topics))])
    pytester.makepyfile(constant_enc=CONSTANT_ENCODER,
                        test_suite="from pytest_embedeval.suites.test_retrieval import test_retrieval_quality\n")
    args = (f"--embed-retrieval-path={folder}", "-p", "no:cacheprovider", "test_suite.py")
    pytester.runpytest("--embed-models=minilm", *args).assert_outcomes(passed=1)
    at_chance = pytester.runpytest("--embed-models=constant_enc:make", *args)
    at_chance.assert_outcomes(failed=1)
    at_chance.stdout.fnmatch_lines(["*recall@10 0.0000 is near chance (0.0500) on 200 documents*"])


def test_hub_set_fails_fast_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """hub:ORG/NAME goes through datasets; offline and not cached, it says so at once (no hub here)."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(Exception, match=r"dataset 'mteb/scifact' is not in the local Hugging Face cache"):
        load_beir("hub:mteb/scifact", "test")
