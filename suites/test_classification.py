"""Intent and topic classification as MTEB scores it, for every classification task of ``--embed-tasks``.

    pytest suites --embed-models=minilm --embed-tasks=Banking77Classification --embed-task-path=FOLDER

Logistic regression on a few embedded training rows per label, 10 seeded experiments, accuracy on the
test split; compared with the baseline by a paired bootstrap over test rows.  Skips without such a task.
"""

from __future__ import annotations


def test_classification_accuracy(embed_eval, classification_task):
    result = embed_eval.task(classification_task)
    assert len(result.accuracies) == result.n_experiments
    assert 0.0 <= result.accuracy <= 1.0
