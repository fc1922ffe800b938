"""Duplicate detection ("is this the same question?") as MTEB scores it, for every pair-classification task of
``--embed-tasks``.

    pytest suites --embed-models=minilm --embed-tasks=SprintDuplicateQuestions --embed-task-path=FOLDER

For cosine, dot product, Euclidean, Manhattan and the model's own similarity: the best-threshold accuracy, the
best F1 and the average precision; the main score is the largest AP (``max_ap``), compared with the baseline by
a paired bootstrap over pairs.  Skips without such a task.
"""

from __future__ import annotations


def test_pair_classification_max_ap(embed_eval, pair_classification_task):
    result = embed_eval.task(pair_classification_task)
    assert result.max_ap == max(result.metrics[f"{name}_ap"] for name in ("similarity", "cosine", "dot",
                                                                            "euclidean", "manhattan"))
    assert 0.0 <= result.max_ap <= 1.0
