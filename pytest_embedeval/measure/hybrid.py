"""Retrieve with a small model, rerank with a large one: is the hybrid worth it?

The retrieval set comes from STS data: every sentence1 whose pair is scored
>= 4 of 5 (0.8 on a 0-1 scale) is a query, its highly-scored sentence2s are its
relevant documents, and the corpus is every unique sentence2.  Metrics are the
usual binary-relevance ones: recall@1, recall@10, MRR@10, nDCG@10.

Modes: the small model alone, the large model alone, and for each k the small
model's top k reranked by the large model's cosine.  Quality is computed for
every query from embeddings encoded once per model.  Cost is measured
separately, on ``timed_queries`` queries doing the real work of each mode:

- index: encoding the corpus (small alone and hybrid: the small model only;
  large alone: the large model), once, in seconds;
- per query: encode the query and rank the corpus; the hybrid also encodes the
  query and its k candidates with the large model, because the point of the
  hybrid is not indexing the corpus with the large model.

So the table shows both sides of the trade: the large model's per-query cost
is low once it has indexed everything, the hybrid's index cost is the small
model's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.data import StsDataset

KS = (10, 20, 50, 100)
CUTOFF = 10  # the @10 of MRR and nDCG
METRICS = ("recall_at_1", "recall_at_10", "mrr_at_10", "ndcg_at_10")  # named as MTEB and RetrievalResult name them


@dataclass(frozen=True)
class HybridSet:
    queries: tuple[str, ...]
    corpus: tuple[str, ...]
    relevant: tuple[frozenset[int], ...]  # corpus indices relevant to each query


def hybrid_set_from_sts(dataset: StsDataset, threshold: float | None = None) -> HybridSet:
    """Queries, corpus and relevance from an STS data set (see the module docstring)."""
    if threshold is None:
        threshold = 0.8 if max(dataset.scores, default=0.0) <= 1.0 else 4.0
    corpus = tuple(dict.fromkeys(dataset.sentences2))
    position = {sentence: index for index, sentence in enumerate(corpus)}
    relevant: dict[str, set[int]] = {}
    for s1, s2, score in zip(dataset.sentences1, dataset.sentences2, dataset.scores):
        if score >= threshold:
            relevant.setdefault(s1, set()).add(position[s2])
    if not relevant:
        raise DataError(f"{dataset.label}: no pair scores >= {threshold:g}, so there are no queries to retrieve for")
    return HybridSet(tuple(relevant), corpus, tuple(frozenset(docs) for docs in relevant.values()))


def hybrid_set_from_beir(data: Any) -> HybridSet:
    """A BEIR set (beir.py) as queries, corpus and the documents judged relevant (grade > 0) to each query."""
    position = {doc_id: i for i, doc_id in enumerate(data.doc_ids)}
    relevant = tuple(frozenset(position[d] for d, grade in data.qrels[q].items() if grade > 0) for q in data.query_ids)
    return HybridSet(data.queries, data.docs, relevant)


def beir_metrics(data: Any) -> Any:
    """Rankings -> the hybrid table's figures, computed by trec_eval with the set's graded qrels (ranking.py)."""
    from pytest_embedeval.measure.ranking import trec_scores

    def metrics(rankings: Sequence[Sequence[int]]) -> dict[str, float]:
        run = {qid: {data.doc_ids[doc]: float(len(ranking) - rank) for rank, doc in enumerate(ranking)}
               for qid, ranking in zip(data.query_ids, rankings)}
        means, _ = trec_scores(data.qrels, run, (1, 10))
        return {name: means[name] for name in METRICS}

    return metrics


def ranking_metrics(rankings: Sequence[Sequence[int]], relevant: Sequence[frozenset[int]]) -> dict[str, float]:
    """Mean recall@1, recall@10, MRR@10 and nDCG@10 (binary relevance) over the queries."""
    totals = dict.fromkeys(METRICS, 0.0)
    for ranking, docs in zip(rankings, relevant):
        top = list(ranking[:CUTOFF])
        hits = [rank for rank, doc in enumerate(top) if doc in docs]
        totals["recall_at_1"] += len(set(top[:1]) & docs) / len(docs)
        totals["recall_at_10"] += len(set(top) & docs) / len(docs)
        totals["mrr_at_10"] += 1.0 / (hits[0] + 1) if hits else 0.0
        ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(docs), CUTOFF)))
        totals["ndcg_at_10"] += sum(1.0 / math.log2(rank + 2) for rank in hits) / ideal
    return {name: total / len(relevant) for name, total in totals.items()}


class Row(dict):  # type: ignore[type-arg]
    """One mode's figures; a figure it has not (``recall@10``, say) names those it has (``recall_at_10`` ...)."""

    def __missing__(self, key: Any) -> Any:
        raise KeyError(f"{key!r} is not a figure of the hybrid table; a row has {', '.join(self)}")


@dataclass(frozen=True)
class HybridResult:
    small: str
    large: str
    device: str
    n_queries: int
    n_corpus: int
    timed_queries: int
    rows: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # one per mode
    cross: str = ""  # the cross-encoder of the "cross k=" rows, if any

    def row(self, mode: str) -> Row:
        return Row(next(row for row in self.rows if row["mode"] == mode))

    def best_hybrid(self, share: float = 0.99) -> dict[str, Any] | None:
        """The cheapest hybrid that reaches ``share`` of the large model's nDCG@10, if any."""
        target = share * self.row("large")["ndcg_at_10"]
        reaching = [row for row in self.rows
                    if row["mode"].startswith(("hybrid", "cross")) and row["ndcg_at_10"] >= target]
        return min(reaching, key=lambda row: row["query_ms"]) if reaching else None

    def break_even(self, row: dict[str, Any]) -> str:
        """When ``row`` costs less in total than the large model alone: one index build, then queries."""
        large = self.row("large")
        saved_s = large["index_s"] - row["index_s"]
        extra_s = (row["query_ms"] - large["query_ms"]) / 1000.0
        if saved_s > 0 and extra_s <= 0:
            return "cheaper in total at any number of queries"
        if saved_s > 0:
            return f"cheaper in total up to {saved_s / extra_s:,.0f} queries per index build"
        if extra_s < 0:
            return f"cheaper in total beyond {saved_s / extra_s:,.0f} queries per index build"
        return "never cheaper in total"

    def verdict(self) -> str:
        large, best = self.row("large"), self.best_hybrid()
        if best is None:
            return "no hybrid reaches 99% of the large model's nDCG@10"
        return (f"{best['mode']} reaches {100 * best['ndcg_at_10'] / large['ndcg_at_10']:.1f}% of the large model's "
                f"nDCG@10 with {best['index_s'] / large['index_s']:.2f}x its index time and "
                f"{best['query_ms'] / large['query_ms']:.2f}x its time per query: {self.break_even(best)}")

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> HybridResult:
        return cls(**{**record, "rows": tuple(record["rows"])})

    def to_dict(self) -> dict[str, Any]:
        return {"small": self.small, "large": self.large, "device": self.device, "n_queries": self.n_queries,
                "n_corpus": self.n_corpus, "timed_queries": self.timed_queries, "rows": [dict(r) for r in self.rows],
                "cross": self.cross}


def _encode(model: Any, sentences: Sequence[str], batch_size: int) -> Any:
    return model.encode(list(sentences), batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True,
                        normalize_embeddings=True)


def _top(scores: Any, k: int) -> Any:
    """Indices of the k best scores, best first (argpartition: no full sort of the corpus)."""
    import numpy as np

    k = min(k, scores.shape[-1])
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


def evaluate_hybrid(small: Any, large: Any, data: HybridSet, *, small_name: str, large_name: str,
                    device: str = "cpu", ks: Sequence[int] = KS, batch_size: int = 32,
                    timed_queries: int = 20, metrics: Any = None, cross: Any = None,
                    cross_name: str = "") -> HybridResult:
    """Quality and cost of small alone, large alone and small-top-k reranked by large (and by ``cross``,
    a sentence-transformers ``CrossEncoder``: rows ``cross k=K``).  ``metrics`` maps rankings to the
    figures (default: binary relevance, :func:`ranking_metrics`)."""
    import numpy as np

    def timed(encode_corpus: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        vectors = encode_corpus()
        return vectors, time.perf_counter() - start

    small_docs, small_index_s = timed(lambda: _encode(small, data.corpus, batch_size))
    large_docs, large_index_s = timed(lambda: _encode(large, data.corpus, batch_size))
    small_scores = _encode(small, data.queries, batch_size) @ small_docs.T
    large_scores = _encode(large, data.queries, batch_size) @ large_docs.T

    def rerank(query: int, k: int) -> Any:
        candidates = _top(small_scores[query], k)
        return candidates[np.argsort(-large_scores[query][candidates], kind="stable")]

    # the work one query costs in each mode, as a deployment would do it
    def small_query(text: str) -> Any:
        return _top(small_docs @ _encode(small, [text], batch_size)[0], CUTOFF)

    def large_query(text: str) -> Any:
        return _top(large_docs @ _encode(large, [text], batch_size)[0], CUTOFF)

    def hybrid_query(text: str, k: int) -> Any:
        candidates = _top(small_docs @ _encode(small, [text], batch_size)[0], k)
        vectors = _encode(large, [text, *(data.corpus[i] for i in candidates)], batch_size)
        return candidates[np.argsort(-(vectors[1:] @ vectors[0]), kind="stable")]

    def per_query_ms(run: Any) -> tuple[float, float]:
        run(data.queries[0])  # warm-up
        samples = []
        for text in data.queries[:timed_queries]:
            start = time.perf_counter()
            run(text)
            samples.append((time.perf_counter() - start) * 1000.0)
        return float(np.mean(samples)), float(np.percentile(samples, 95))

    def row(mode: str, rankings: Any, index_s: float, run: Any) -> dict[str, Any]:
        mean_ms, p95_ms = per_query_ms(run)
        quality = metrics(rankings) if metrics is not None else ranking_metrics(rankings, data.relevant)
        return {"mode": mode, **quality, "index_s": index_s,
                "query_ms": mean_ms, "query_p95_ms": p95_ms}

    queries = range(len(data.queries))
    rows = [row("small", [_top(small_scores[q], CUTOFF) for q in queries], small_index_s, small_query),
            row("large", [_top(large_scores[q], CUTOFF) for q in queries], large_index_s, large_query)]
    for k in ks:
        rows.append(row(f"hybrid k={k}", [rerank(q, k) for q in queries], small_index_s,
                        lambda text, k=k: hybrid_query(text, k)))
    if cross is not None:
        def cross_rerank(text: str, candidates: Any) -> Any:
            scores = cross.predict([(text, data.corpus[i]) for i in candidates], batch_size=batch_size,
                                   show_progress_bar=False)
            return candidates[np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")]

        def cross_query(text: str, k: int) -> Any:
            return cross_rerank(text, _top(small_docs @ _encode(small, [text], batch_size)[0], k))

        for k in ks:
            rows.append(row(f"cross k={k}", [cross_rerank(data.queries[q], _top(small_scores[q], k)) for q in queries],
                            small_index_s, lambda text, k=k: cross_query(text, k)))
    return HybridResult(small_name, large_name, device, len(data.queries), len(data.corpus),
                        min(timed_queries, len(data.queries)), tuple(rows), cross_name)
