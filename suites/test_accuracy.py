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
