"""Topic clustering as MTEB scores it, for every clustering task of ``--embed-tasks``.

    pytest suites --embed-models=minilm --embed-tasks=SIB200ClusteringS2S.eng_Latn --embed-task-path=FOLDER

MiniBatchKMeans over 10 seeded bootstrap draws, V-measure against the gold topics; compared with the
baseline by a paired bootstrap over the draws.  Skips without such a task.
"""

from __future__ import annotations


def test_clustering_v_measure(embed_eval, clustering_task):
    result = embed_eval.task(clustering_task)
    assert len(result.v_measures) == result.n_draws
    assert 0.0 <= result.v_measure <= 1.0
