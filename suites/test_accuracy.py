"""STS accuracy of every selected model on every configured split (``--embed-sts-splits=dev,test``).

The scores go to the report and are compared with the baselines; ``--embed-min-spearman``
adds an absolute floor.
"""

from __future__ import annotations


def test_sts_correlation(embed_eval, embed_limits, sts_dataset):
    result = embed_eval.sts()
    assert result.n_pairs == len(sts_dataset)
    if embed_limits.min_spearman is not None:
        result.assert_spearman(min=embed_limits.min_spearman)


def test_sts_task(embed_eval, sts_task):
    """Every STS task of ``--embed-tasks`` (STS13, STS17.en-en ...); skips without one."""
    result = embed_eval.task(sts_task)
    assert result.task == sts_task and -100.0 <= result.spearman <= 100.0
