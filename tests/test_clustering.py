"""Clustering as MTEB scores it: SIB200 eng_Latn near MTEB's published MiniLM figure, seeded, gated, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sklearn.cluster  # noqa: F401 - in pytester's snapshot (see conftest), as torch is

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure import clustering
from pytest_embedeval.measure.accuracy import TaskInfo, TaskSpec

MTEB_MINILM = 39.76  # embeddings-benchmark/results, mteb 1.12.75 (the data README); its k-means rounds are not seeded
TEST = """
def test_topics(embed_eval, clustering_task):
    embed_eval.task(clustering_task)
"""


def test_sib200_within_two_points_of_mteb_and_an_unchanged_rerun_changes_by_zero(
        pytester: pytest.Pytester, task_root: Path) -> None:
    pytester.makepyfile(TEST)
    args = ("--embed-models=minilm", "--embed-tasks=SIB200ClusteringS2S.eng_Latn", f"--embed-task-path={task_root}")
    saved = pytester.runpytest(*args, "--embed-baseline-save", "--embed-report=report.json")
    saved.assert_outcomes(passed=1)
    record = next(r for r in json.loads((pytester.path / "report.json").read_text())["results"]
                  if r["kind"] == "clustering")
    assert abs(record["v_measure"] * 100 - MTEB_MINILM) <= 2.0, record["v_measures"]
    assert (record["n_documents"], record["n_labels"], record["n_draws"]) == (1004, 7, 10)
    assert record["task"] == "SIB200ClusteringS2S.eng_Latn"
    again = pytester.runpytest(*args, "--embed-baseline-missing=fail")
    again.assert_outcomes(passed=1)
    again.stdout.fnmatch_lines(["*clustering:SIB200ClusteringS2S.eng_Latn/test:* pass *V-measure x100 *"
                                "+0.00 points ?+0.00, +0.00?*"])


def test_one_topic_only_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Mine").mkdir()
    (tmp_path / "Mine" / "test.tsv").write_text("text\tlabel\na\tx\nb\tx\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test.tsv: every document has the label 'x'"):
        clustering.KIND.load(TaskSpec(clustering.KIND, TaskInfo("Mine", "", "")), tmp_path)


def test_draws_are_seeded_and_scores_are_v_measures() -> None:
    """Two evaluations of the same embeddings agree exactly; well-separated topics score near 1."""
    import numpy as np

    from pytest_embedeval.measure.labelled import Labelled

    rng = np.random.default_rng(0)
    texts = tuple(f"t{i}" for i in range(60))
    labels = tuple("abc"[i % 3] for i in range(60))
    centres = {"a": np.array([10.0, 0.0]), "b": np.array([0.0, 10.0]), "c": np.array([-10.0, -10.0])}
    vectors = {t: centres[label] + rng.normal(0, 0.1, 2) for t, label in zip(texts, labels)}
    data = clustering.ClusteringSet(Labelled(Path("toy"), texts, labels, texts),
                                    {**clustering.DEFAULTS, "max_documents_per_cluster": 200}, "toy")

    def evaluate() -> clustering.ClusteringResult:
        return clustering.evaluate_clustering(lambda xs: np.array([vectors[x] for x in xs]), data, model="m",
                                              device="cpu", batch_size=8)

    first, second = evaluate(), evaluate()
    assert first.v_measures == second.v_measures and len(first.v_measures) == 10
    assert first.v_measure > 0.99
