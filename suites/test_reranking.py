"""Reranking a short candidate list as MTEB scores it, for every reranking task of ``--embed-tasks``.

    pytest suites --embed-models=minilm --embed-tasks=AskUbuntuDupQuestions --embed-task-path=FOLDER

Each query's own candidates ranked by similarity to the query (query and document prompts as MTEB applies
them); MAP under MTEB 2.x (trec_eval, MAP@1000) or 1.x (a task's ``"convention": "1"``), with the other
convention's figures beside it; queries without a positive or a negative are skipped and counted.  Compared
with the baseline by a paired bootstrap over queries.  Skips without such a task.
"""

from __future__ import annotations


def test_reranking_map(embed_eval, reranking_task):
    result = embed_eval.task(reranking_task)
    assert result.n_queries > 0
    assert 0.0 <= result.mean_ap <= 1.0
