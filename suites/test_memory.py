"""Memory of every selected model: parameters, weights, disk, peak RSS of load + encode.

``--embed-max-peak-mb`` budgets the process peak.
"""

from __future__ import annotations


def test_memory_budget(embed_eval, embed_limits):
    result = embed_eval.memory()
    # params is None for an encoder that exposes no torch modules (module:factory): nothing to count, not zero
    assert result.params is None or result.params > 0, result.params
    assert result.peak_rss_mb >= result.baseline_rss_mb
    if embed_limits.max_peak_mb is not None:
        result.assert_peak(max_mb=embed_limits.max_peak_mb)
