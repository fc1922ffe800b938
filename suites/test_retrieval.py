"""Retrieve with a small model, rerank with a large one (``--embed-models=SMALL,...,LARGE``).

The first selected model retrieves, the last reranks; the run prints one
table: recall@1/10, MRR@10, nDCG@10, index time and time per query for each
model alone and for the hybrid at k = 10, 20, 50, 100, and the cheapest
hybrid that reaches 99% of the large model's nDCG@10.  With one model it skips.
With ``--embed-retrieval-path`` each model is also scored on that BEIR set, and the
hybrid runs there instead of on a set built from STS pairs.
"""

from __future__ import annotations


def test_retrieval_quality(embed_eval, retrieval_set):
    """nDCG@10 and friends on the BEIR set of --embed-retrieval-path, gated against the baseline (skips without one)."""
    result = embed_eval.retrieval()
    assert result.n_queries == len(retrieval_set.queries)
    # a random ranking finds 10 / N of a query's relevant documents in its top 10; an encoder that does not
    # find five times that (broken weights, a wrong pooling, a tokenizer mismatch) is not retrieving at all
    chance = 10 / result.n_corpus
    assert result.recall_at_10 >= min(1.0, 5 * chance), (
        f"recall@10 {result.recall_at_10:.4f} is near chance ({chance:.4f}) on {result.n_corpus} documents")


def test_retrieve_then_rerank(embed_hybrid):
    result = embed_hybrid(ks=(10, 20, 50, 100), timed_queries=20)
    for row in result.rows:
        for metric in ("recall_at_1", "recall_at_10", "mrr_at_10", "ndcg_at_10"):
            assert 0.0 <= row[metric] <= 1.0, (row["mode"], metric, row[metric])
    # reranking the small model's top 100 must not lose what the small model found in its top 10
    assert result.row("hybrid k=100")["recall_at_10"] >= result.row("small")["recall_at_10"] - 0.02
