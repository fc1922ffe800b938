"""Latency of every selected model: a sweep over batch sizes of short inputs, each gated on speed.

``--embed-max-p95-ms`` budgets the default workload (``--embed-batch-size`` short inputs).  Long
inputs cost ten times as much per round and are left to your own tests
(``embed_eval.latency_sweep(lengths=("short", "long"))``): a gate on every pull request must be cheap.
"""

from __future__ import annotations

BATCH_SIZES = (1, 8, 32)
LENGTHS = ("short",)


def test_latency_budget(embed_eval, embed_limits):
    result = embed_eval.latency()
    assert result.p50_ms <= result.p95_ms <= result.max_ms
    if embed_limits.max_p95_ms is not None:
        result.assert_p95(max_ms=embed_limits.max_p95_ms)


def test_latency_sweep(embed_eval):
    results = embed_eval.latency_sweep(batch_sizes=BATCH_SIZES, lengths=LENGTHS)
    assert [(r.batch_size, r.length) for r in results] == [(b, n) for n in LENGTHS for b in BATCH_SIZES]
    for result in results:  # long inputs are truncated at the model's limit, not a crash
        assert result.tokens is None or result.tokens <= embed_eval.model.max_seq_length
