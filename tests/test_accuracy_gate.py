"""The accuracy gate on synthetic scores: the paired bootstrap sees no change where there is none, a real
drop beyond the tolerance fails, seeds repeat, and a broken entry is refused."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_embedeval.gate.entries import encode_floats
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.errors import BaselineError
from pytest_embedeval.gate.judge import judge
from pytest_embedeval.gate.stats import spearman_change
from pytest_embedeval.gate.verdict import FAIL, PASS
from pytest_embedeval.measure.sts import StsResult

RNG = np.random.default_rng(7)
GOLD = RNG.uniform(0, 5, 800)
BASE = GOLD / 5 + RNG.normal(0, 0.2, 800)
TOLERANCE = Tolerance(max_drop=0.5, max_slowdown=0.10, max_memory_growth=0.10)
ENVIRONMENT = {"cpu": "X", "cpu_count": 2, "torch_threads": 2, "gpu": None, "versions": {"torch": "2.13.0"}}


def test_identical_scores_show_no_change() -> None:
    change = spearman_change(GOLD, BASE, BASE.copy(), confidence=0.95, seed=0)
    assert (change.delta, change.low, change.high) == (0.0, 0.0, 0.0)


def test_scores_in_the_same_order_show_exactly_no_change() -> None:
    """Another CPU moves cosines in the seventh decimal; while no pair changes rank, Spearman cannot move."""
    order = np.argsort(np.argsort(BASE))
    nudged = BASE + 1e-6 * order / len(order)  # every score moves, strictly increasing with rank
    change = spearman_change(GOLD, BASE, nudged, confidence=0.95, seed=0)
    assert (change.delta, change.low, change.high) == (0.0, 0.0, 0.0)
    swapped = BASE.copy()
    first, second = np.argsort(BASE)[400:402]  # two neighbours in rank trade places: now it can move
    swapped[[first, second]] = swapped[[second, first]]
    moved = spearman_change(GOLD, BASE, swapped, confidence=0.95, seed=0)
    assert moved.delta != 0.0 and moved.low <= moved.delta <= moved.high


def test_bootstrap_is_deterministic_for_a_seed_and_brackets_the_change() -> None:
    worse = BASE + RNG.normal(0, 0.1, 800)
    first = spearman_change(GOLD, BASE, worse, confidence=0.95, seed=3)
    assert first == spearman_change(GOLD, BASE, worse, confidence=0.95, seed=3)
    assert first != spearman_change(GOLD, BASE, worse, confidence=0.95, seed=4)
    assert first.low < first.delta < first.high < 0


def sts_result(cosine: np.ndarray) -> StsResult:
    from pytest_embedeval.measure.sts import correlations

    spearman, pearson = correlations(GOLD, cosine)
    return StsResult(model="m", device="cpu", dataset="d", split="dev", source="s", fingerprint="f", n_pairs=800,
                     n_unique=1600, batch_size=32, spearman=spearman, pearson=pearson, encode_seconds=1.0,
                     cosine=tuple(cosine.tolist()), gold=tuple(GOLD.tolist()))


def judge_sts(current: np.ndarray, tolerance: Tolerance = TOLERANCE) -> object:
    entry = {"cosine_f32": encode_floats(BASE), "spearman": 0.0}
    return judge("sts", sts_result(current), entry, tolerance, where="w", environment=ENVIRONMENT,
                 confidence=0.95, seed=0)


def test_accuracy_gate_fails_a_real_drop_beyond_tolerance_only() -> None:
    assert judge_sts(BASE).status == PASS
    small = judge_sts(BASE + RNG.normal(0, 0.02, 800))
    assert small.status == PASS  # real perhaps, but smaller than half a point
    big = judge_sts(BASE + RNG.normal(0, 0.15, 800))
    assert big.status == FAIL and big.current < big.baseline - 0.5
    assert "points [" in big.change
    assert judge_sts(BASE + RNG.normal(0, 0.15, 800), Tolerance(20.0, 0.1, 0.1)).status == PASS


def test_accuracy_gate_rejects_a_broken_entry() -> None:
    with pytest.raises(BaselineError, match="w: cosine_f32 holds 3 finite values, expected 800"):
        judge("sts", sts_result(BASE), {"cosine_f32": encode_floats([1, 2, 3])}, TOLERANCE, where="w",
              environment=ENVIRONMENT, confidence=0.95, seed=0)
    with pytest.raises(BaselineError, match="w: 'cosine_f32' is missing"):
        judge("sts", sts_result(BASE), {}, TOLERANCE, where="w", environment=ENVIRONMENT, confidence=0.95,
              seed=0)
