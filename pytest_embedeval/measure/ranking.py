"""Dense retrieval scored as MTEB scores it: exact top-k search in corpus chunks, then trec_eval.

Search: cosine of normalised float32 embeddings (what ``model.similarity``
gives a sentence-transformers model with cosine similarity), corpus in chunks
of ``chunk_size`` documents and queries in blocks, so memory holds one block
of scores, never the whole query x corpus matrix.  Each query keeps its
``top_k`` (1000) best documents; at equal scores the larger document id stays,
as MTEB's heap of ``(score, id)`` keeps it.

Metrics: pytrec_eval (trec_eval's C code, as MTEB uses it) for nDCG, MAP,
recall and precision at k in 1, 3, 5, 10, 20, 100, 1000, averaged over the
scored queries and rounded to 5 decimals as MTEB does; MRR with MTEB's own
function (relevant = grade > 0; ties broken by (score, doc id) descending, as
trec_eval does; not rounded).  trec_eval keeps scores as C floats, so scores
equal in float32 tie and are ordered by document id descending.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence

from pytest_embedeval.core.vectors import unit_rows
from pytest_embedeval.errors import EmbedEvalError
from pytest_embedeval.measure.accuracy import Column, Encoder, Kind, TaskResult, per_item
from pytest_embedeval.measure.beir import BeirSet

K_VALUES = (1, 3, 5, 10, 20, 100, 1000)
TOP_K = 1000
CHUNK_SIZE = 50000  # corpus documents scored at once (MTEB's corpus_chunk_size)
QUERY_BLOCK = 256  # queries scored at once: a block holds QUERY_BLOCK x (TOP_K + CHUNK_SIZE) scores

Run = dict[str, dict[str, float]]  # query id -> {document id: score}


def search(queries: Any, docs: Any, query_ids: Sequence[str], doc_ids: Sequence[str], *, top_k: int = TOP_K,
           chunk_size: int = CHUNK_SIZE, query_block: int = QUERY_BLOCK) -> Run:
    """Each query's ``top_k`` documents by cosine, best first, scored chunk by chunk (see the module docstring)."""
    import numpy as np

    q, d = unit_rows(queries, np.float32), unit_rows(docs, np.float32)
    order = np.argsort(np.asarray(doc_ids, dtype=object), kind="stable")
    id_rank = np.empty(len(doc_ids), dtype=np.int64)
    id_rank[order] = np.arange(len(doc_ids))  # larger = later in string order
    run: Run = {}
    for start in range(0, len(q), query_block):
        block = q[start:start + query_block]
        best_scores = np.empty((len(block), 0), dtype=np.float32)
        best_docs = np.empty((len(block), 0), dtype=np.int64)
        for low in range(0, len(d), chunk_size):
            scores = block @ d[low:low + chunk_size].T
            docs_here = np.broadcast_to(np.arange(low, low + scores.shape[1]), scores.shape)
            scores = np.concatenate([best_scores, scores], axis=1)
            candidates = np.concatenate([best_docs, docs_here], axis=1)
            keep = min(top_k, scores.shape[1])
            # best score first; at equal scores the larger document id first (both within the kept set and at the cut)
            ranked = np.lexsort((-id_rank[candidates], -scores), axis=-1)[:, :keep]
            best_scores = np.take_along_axis(scores, ranked, axis=1)
            best_docs = np.take_along_axis(candidates, ranked, axis=1)
        for row, qid in enumerate(query_ids[start:start + query_block]):
            run[qid] = {doc_ids[i]: float(s) for i, s in zip(best_docs[row], best_scores[row])}
    return run


def mrr(qrels: dict[str, dict[str, int]], run: Run, k_values: Sequence[int]) -> dict[str, list[float]]:
    """MTEB's MRR@k per query (``retrieval_metrics.mrr``), in ``run`` order."""
    found: dict[str, list[float]] = {f"mrr_at_{k}": [] for k in k_values}
    k_max = max(k_values)
    for qid, scores in run.items():
        top = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)[:k_max]
        relevant = {did for did, grade in qrels.get(qid, {}).items() if grade > 0}
        for k in k_values:
            rank = next((i for i, (did, _) in enumerate(top[:k]) if did in relevant), None)
            found[f"mrr_at_{k}"].append(0.0 if rank is None else 1.0 / (rank + 1))
    return found


def trec_scores(qrels: dict[str, dict[str, int]], run: Run,
                k_values: Sequence[int] = K_VALUES) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """MTEB's averages (``ndcg_at_10`` ...) and pytrec_eval's per-query figures."""
    import pytrec_eval

    ks = ",".join(str(k) for k in k_values)
    measures = {f"map_cut.{ks}", f"ndcg_cut.{ks}", f"recall.{ks}", f"P.{ks}"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    if not per_query:
        raise EmbedEvalError("no query of the run has relevance judgements")
    names = {"ndcg_cut": "ndcg_at", "map_cut": "map_at", "recall": "recall_at", "P": "precision_at"}
    means = {f"{ours}_{k}": round(sum(q[f"{theirs}_{k}"] for q in per_query.values()) / len(per_query), 5)
             for theirs, ours in names.items() for k in k_values}
    for name, values in mrr(qrels, run, k_values).items():
        means[name] = sum(values) / len(values)
    return means, per_query


@dataclass(frozen=True)
class RetrievalResult(TaskResult):
    """One retrieval evaluation of one model on one device and BEIR split."""

    KIND: ClassVar[str] = "retrieval"
    IDENTITY: ClassVar[tuple[str, ...]] = ("model", "device", "variant", "dataset", "split", "fingerprint",
                                           "batch_size", "prompt", "document_prompt")
    JUNIT: ClassVar[tuple[str, ...]] = ("ndcg_at_10", "recall_at_10", "mrr_at_10")

    n_queries: int
    n_corpus: int
    ndcg_at_10: float  # MTEB's main score, 0-1
    recall_at_10: float
    mrr_at_10: float
    map_at_100: float
    metrics: dict[str, float] = field(compare=False)  # every MTEB figure: ndcg_at_k, map_at_k, recall_at_k ...
    query_ids: tuple[str, ...] = per_item()
    per_query_ndcg: tuple[float, ...] = per_item()  # nDCG@10 per query, for the gate
    document_prompt: str | None = None  # the prompt prepended to every document

    def assert_ndcg(self, min: float) -> RetrievalResult:  # noqa: A002 - reads as the user writes it
        __tracebackhide__ = True
        if not self.ndcg_at_10 >= min:
            raise AssertionError(f"nDCG@10 {self.ndcg_at_10:.4f} is below the minimum {min:.4f} for model "
                                 f"{self.model} on {self.device}, {self.dataset}/{self.split} "
                                 f"({self.n_queries} queries, {self.n_corpus} documents)")
        return self


def evaluate_retrieval(encode_queries: Callable[[list[str]], Any], encode_docs: Callable[[list[str]], Any],
                       data: BeirSet, *, model: str, device: str, batch_size: int,
                       chunk_size: int = CHUNK_SIZE) -> RetrievalResult:
    """Encode the corpus and the queries, search, score with trec_eval as MTEB does."""
    import numpy as np

    start = time.perf_counter()
    docs = np.asarray(encode_docs(list(data.docs)))
    queries = np.asarray(encode_queries(list(data.queries)))
    seconds = time.perf_counter() - start
    for what, vectors, count in (("documents", docs, len(data.docs)), ("queries", queries, len(data.queries))):
        if vectors.ndim != 2 or len(vectors) != count:
            raise EmbedEvalError(f"model {model} on {device}: encode returned shape {vectors.shape} for "
                                 f"{count} {what}; expected one row each")
        if not np.isfinite(vectors).all():
            raise EmbedEvalError(f"model {model} on {device} produced non-finite embeddings for {what} of "
                                 f"{data.name}/{data.split}")
    run = search(queries, docs, data.query_ids, data.doc_ids, chunk_size=chunk_size)
    means, per_query = trec_scores(data.qrels, run)
    return RetrievalResult(
        model=model, device=device, dataset=data.name, split=data.split, source=data.source,
        fingerprint=data.fingerprint, n_queries=len(data.queries), n_corpus=len(data.docs), batch_size=batch_size,
        ndcg_at_10=means["ndcg_at_10"], recall_at_10=means["recall_at_10"], mrr_at_10=means["mrr_at_10"],
        map_at_100=means["map_at_100"], metrics=means, encode_seconds=seconds, query_ids=data.query_ids,
        per_query_ndcg=tuple(per_query[q]["ndcg_cut_10"] for q in data.query_ids))


class RetrievalKind(Kind):
    """BEIR retrieval: nDCG@10 per query, resampled over queries (the mean is MTEB's main score)."""

    def evaluate(self, encode_queries: Encoder, encode_docs: Encoder, data: Any, *,  # type: ignore[override]
                 model: str, device: str, batch_size: int) -> RetrievalResult:
        return evaluate_retrieval(encode_queries, encode_docs, data, model=model, device=device,
                                  batch_size=batch_size)


KIND = RetrievalKind(
    name="retrieval", result_type=RetrievalResult, title="Retrieval (BEIR)", task_type="Retrieval", metric="nDCG@10 x100", main_score="ndcg_at_10",
    points=100.0, per_item="per_query_ndcg", entry_items="ndcg_f32", count="n_queries", unit="queries",
    roles=("query", "document"),
    entry_fields=("dataset", "split", "fingerprint", "n_queries", "n_corpus", "batch_size"),
    rounded=("ndcg_at_10", "recall_at_10", "mrr_at_10", "map_at_100"),
    columns=(Column("queries", "n_queries", None), Column("documents", "n_corpus", None),
             Column("nDCG@10", "ndcg_at_10", 2, 100.0), Column("recall@10", "recall_at_10", 2, 100.0),
             Column("MRR@10", "mrr_at_10", 2, 100.0)))
