"""STS scoring: MTEB's formula, the real MiniLM figure, the assertion helper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_embedeval.measure.data import StsDataset
from pytest_embedeval.measure.sts import evaluate_sts, pair_cosine

from .conftest import TINY_PAIRS


def test_pair_cosine_matches_sklearn_paired_cosine_distances() -> None:
    from sklearn.metrics.pairwise import paired_cosine_distances

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 16)).astype(np.float32), rng.normal(size=(50, 16)).astype(np.float32)
    a[3] = 0.0  # a zero row: both formulas give 0.5
    expected = 1 - paired_cosine_distances(a, b)
    np.testing.assert_allclose(pair_cosine(a, b), expected, atol=1e-6)
    assert pair_cosine(a, b)[3] == 0.5


def tiny_dataset() -> StsDataset:
    s1, s2, scores = zip(*TINY_PAIRS)
    return StsDataset("tiny", "dev", "memory", s1, s2, tuple(float(s) for s in scores))


def test_unique_sentences_are_encoded_once() -> None:
    data = tiny_dataset()
    data = StsDataset("d", "dev", "m", data.sentences1 + data.sentences1[:2], data.sentences2 + data.sentences1[:2],
                      data.scores + (5.0, 5.0))
    seen: list[list[str]] = []

    def encode(sentences: list[str]) -> np.ndarray:
        seen.append(sentences)
        return np.array([[len(s), s.count("a") + 1.0] for s in sentences])

    result = evaluate_sts(encode, data, model="fake", device="cpu", batch_size=2)
    assert len(seen) == 1 and len(seen[0]) == len(set(seen[0])) == 12
    assert (result.n_pairs, result.n_unique) == (8, 12)
    assert result.cosine[-1] == pytest.approx(1.0)


def test_assert_spearman_message_names_everything() -> None:
    rng = np.random.default_rng(1)
    result = evaluate_sts(lambda s: rng.normal(size=(len(s), 8)), tiny_dataset(), model="noise", device="cpu",
                          batch_size=32)
    assert result.assert_spearman(min=-100.0) is result
    with pytest.raises(AssertionError, match=r"Spearman -?\d+\.\d\d is below the minimum 99.00 for model noise on cpu, "
                                             r"tiny/dev \(6 pairs, memory\)"):
        result.assert_spearman(min=99.0)
    with pytest.raises(AssertionError, match="Pearson"):
        result.assert_pearson(min=99.0)


def test_non_finite_embeddings_are_an_error() -> None:
    from pytest_embedeval.errors import EmbedEvalError

    with pytest.raises(EmbedEvalError, match="non-finite embeddings"):
        evaluate_sts(lambda s: np.full((len(s), 4), np.nan), tiny_dataset(), model="m", device="cpu", batch_size=1)


def test_minilm_on_stsb_dev_matches_mteb_and_sentence_transformers(pytester: pytest.Pytester, stsb_dir: Path) -> None:
    """The plugin's figure equals EmbeddingSimilarityEvaluator's, run in the same test."""
    pytester.makepyfile("""
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the import path moved in sentence-transformers 6
            from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator

        def test_figures(embed_eval, sts_dataset):
            ours = embed_eval.sts()
            reference = EmbeddingSimilarityEvaluator(
                list(sts_dataset.sentences1), list(sts_dataset.sentences2), list(sts_dataset.scores), name="dev"
            )(embed_eval.model)
            assert abs(ours.spearman - 100 * reference["dev_spearman_cosine"]) < 0.01
            assert abs(ours.pearson - 100 * reference["dev_pearson_cosine"]) < 0.01
            assert round(ours.spearman, 2) == 86.72 and round(ours.pearson, 2) == 86.96
            assert (ours.n_pairs, ours.n_unique) == (1500, 2910)
    """)
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={stsb_dir}", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_figures?minilm-cpu-dev? PASSED*", "minilm cpu  stsb/dev   1500     86.72    86.96*"])


def test_sts_is_measured_once_per_session(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.parametrize("n", range(3))
        def test_sts(embed_eval, n):
            embed_eval.sts().assert_spearman(min=50)
        def test_once(embed_eval):
            assert len([k for k in embed_eval.resources.measurements if k[0] == "sts"]) == 1
    """)
    pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}").assert_outcomes(passed=4)


def test_failing_threshold_through_pytest(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    pytester.makepyfile("""
        def test_sts(embed_eval):
            embed_eval.sts().assert_spearman(min=100.0)
    """)
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E *AssertionError: Spearman * is below the minimum 100.00 for model minilm on cpu, "
                                 f"pairs/dev (6 pairs, {tiny_csv})"])
    assert "sts.py" not in result.stdout.str()  # the traceback stops at the user's line


def test_sts_splits_parametrize_sts_dataset(pytester: pytest.Pytester, tmp_path: Path) -> None:
    for split in ("dev", "test"):
        (pytester.path / f"{split}.jsonl").write_text("".join(
            f'{{"sentence1": "{a}", "sentence2": "{b}", "score": {s}}}\n' for a, b, s in TINY_PAIRS))
    pytester.makepyfile("""
        def test_split(embed_eval, sts_dataset):
            assert embed_eval.sts().split == sts_dataset.split
    """)
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={pytester.path}",
                                "--embed-sts-splits=dev,test", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*minilm-cpu-dev*PASSED*", "*minilm-cpu-test*PASSED*"])


def test_correlations_equal_scipy_with_ties() -> None:
    from scipy.stats import pearsonr, rankdata, spearmanr

    from pytest_embedeval.measure.sts import average_ranks, correlations

    rng = np.random.default_rng(5)
    gold = rng.integers(0, 6, 500).astype(float)  # many ties, like STS gold scores
    predicted = np.round(rng.normal(size=500), 2)  # ties here too
    np.testing.assert_array_equal(average_ranks(predicted), rankdata(predicted))
    spearman, pearson = correlations(gold, predicted)
    assert spearman == pytest.approx(100 * spearmanr(gold, predicted).statistic, abs=1e-10)
    assert pearson == pytest.approx(100 * pearsonr(gold, predicted).statistic, abs=1e-10)


SLOW_LOAD = """
import time
import pytest
import pytest_embedeval.models.pool as pool_module

@pytest.fixture(autouse=True)
def _slow_load(monkeypatch):
    load = pool_module.load_target

    def slow(*args, **kwargs):
        time.sleep(2.0)
        return load(*args, **kwargs)

    monkeypatch.setattr(pool_module, "load_target", slow)
"""


def test_encode_seconds_leave_the_model_load_out(pytester: pytest.Pytester, tiny_csv: Path) -> None:
    """The first sts() loads the model (imports, weights, an ONNX export): that is not encoding."""
    pytester.makeconftest(SLOW_LOAD)
    pytester.makepyfile("""
        def test_sts(embed_eval):
            result = embed_eval.sts()
            assert embed_eval.resources.pool.load_seconds["minilm-cpu"] >= 2.0
            assert 0 < result.encode_seconds < 1.0, result.encode_seconds
    """)
    result = pytester.runpytest("--embed-models=minilm", f"--embed-sts-path={tiny_csv}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
