"""STS accuracy of every selected model on every configured split.

Run: ``pytest suites --embed-models=minilm --embed-sts-path=PATH``.
"""

from __future__ import annotations


def test_sts_correlation(embed_eval, sts_dataset):
    result = embed_eval.sts()
    assert result.n_pairs == len(sts_dataset)
    assert -100.0 <= result.spearman <= 100.0
