"""Pair classification scored as MTEB scores it: every figure against MTEB's own evaluator (mteb from PyPI, run
offline on the same vectors), the gate's vectorised AP against scikit-learn's, bad input by file:line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure import pair_classification as pc

def test_every_figure_equals_mtebs_evaluator_on_msrp(minilm_path: Path, minilm_encode, mteb_reference,
                                                     shared_data) -> None:
    """MSRP validation (500 pairs) with the real MiniLM: all 25 similarity figures and the five max_* to 1e-6."""
    from sentence_transformers import SentenceTransformer

    data = pc.load_pairs(shared_data("pair-classification") / "MSRP", "validation")
    assert (len(data), data.name) == (500, "MSRP")
    ours = pc.evaluate_pairs(minilm_encode, data, model="minilm", device="cpu", batch_size=32)
    theirs = mteb_reference.pair_classification(
        mteb_reference.lookup_model(SentenceTransformer(str(minilm_path), device="cpu"), minilm_encode), data)
    assert set(ours.metrics) <= set(theirs)
    assert len(ours.metrics) == 30
    for name, value in ours.metrics.items():
        assert value == pytest.approx(theirs[name], abs=1e-6), name
    assert ours.max_ap == pytest.approx(theirs["main_score"], abs=1e-6)
    assert 0.5 < ours.max_ap < 1.0
    # the gate's per-pair scores give back max_ap through the vectorised AP
    assert pc.average_precision_rows(ours.labels, ours.scores) == pytest.approx(100 * ours.max_ap, abs=1e-9)


def test_threshold_searches_equal_mtebs_with_ties(mteb_reference) -> None:
    """Best accuracy and F1 as MTEB finds them, on scores with many ties (a threshold never splits a tie)."""
    from mteb.abstasks.pair_classification import AbsTaskPairClassification

    task = object.__new__(AbsTaskPairClassification)
    rng = np.random.default_rng(7)
    for trial in range(20):
        scores = np.round(rng.normal(size=60), 1).tolist()
        labels = rng.integers(0, 2, size=60)
        for higher in (True, False):
            accuracy, _ = task._find_best_acc_and_threshold(scores, labels, higher)
            f1, precision, recall, _ = task._find_best_f1_and_threshold(scores, labels, higher)
            assert pc.best_accuracy(scores, labels.tolist(), higher) == accuracy, trial
            assert pc.best_f1(scores, labels.tolist(), higher) == (f1, precision, recall), trial


def test_vectorised_average_precision_equals_scikit_learn() -> None:
    """The bootstrap's AP (many resamples at once, duplicated pairs tie) is scikit-learn's."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, size=(50, 40))
    labels[:, 0] = 1
    scores = np.round(rng.normal(size=(50, 40)), 1)
    expected = [100 * average_precision_score(y, s) for y, s in zip(labels, scores)]
    assert pc.average_precision_rows(labels, scores) == pytest.approx(expected, abs=1e-9)
    assert pc.average_precision_rows(labels.T, scores.T, axis=0) == pytest.approx(expected, abs=1e-9)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "text", "message"), [
    ("p.tsv", "sentence1\tsentence2\tlabel\na\tb\t1\nc\td\t2\n", r"p\.tsv:3: label '2' is not 0 or 1"),
    ("p.tsv", "sentence1\tsentence2\tlabel\na\tb\t1\nc\td\n", r"p\.tsv:3: expected 3 fields"),
    ("p.csv", "sentence1,sentence2\na,b\n", r"p\.csv:2: missing 'label'"),
    ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "label": 1}\n{"sentence1": "a", "label": 0}\n',
     r"p\.jsonl:2: missing 'sentence2'"),
    ("p.jsonl", '{"sentence1": "a", "sentence2": "b", "label": "yes"}\n', r"p\.jsonl:1: label 'yes' is not 0 or 1"),
    ("p.tsv", "sentence1\tsentence2\tlabel\na\tb\t1\nc\td\t1\n", r"p\.tsv: every pair is labelled 1"),
    ("p.txt", "a b 1\n", r"p\.txt: unknown pair file type"),
])
def test_bad_input_names_file_and_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        pc.load_pairs(write(tmp_path / name, text), "test")


def test_layouts_and_labels(tmp_path: Path) -> None:
    """A folder's <split> file; MTEB's ``labels`` column; labels written 0/1, 0.0/1.0 or true/false in JSON."""
    folder = tmp_path / "dups"
    folder.mkdir()
    write(folder / "test.jsonl", '{"sentence1": "a", "sentence2": "b", "labels": 1}\n'
                                 '{"sentence1": "c", "sentence2": "d", "labels": 0.0}\n'
                                 '{"sentence1": "e", "sentence2": "f", "labels": false}\n')
    data = pc.load_pairs(folder, "test")
    assert (data.name, data.labels, data.split) == ("dups", (1, 0, 0), "test")
    with pytest.raises(DataError, match=r"dups: no file for split 'dev' \(looked for dev\.tsv, dev\.csv, dev\.jsonl\)"):
        pc.load_pairs(folder, "dev")
    with pytest.raises(DataError, match="does not exist"):
        pc.load_pairs(tmp_path / "nowhere", "test")


def test_through_the_plugin_gated_both_ways(pytester: pytest.Pytester, shared_data, gated_both_ways) -> None:
    """As users run it (a task folder of their own, the real MiniLM): a report row and table, a baseline; an
    unchanged rerun changes by exactly zero; a noisy MiniLM under the same name fails the pair gate."""
    import json

    lines = (shared_data("pair-classification") / "MSRP" / "validation.tsv").read_text(encoding="utf-8").splitlines()
    task = pytester.mkdir("tasks") / "Paraphrases"
    task.mkdir()
    (task / "test.tsv").write_text("\n".join(lines[:201]) + "\n", encoding="utf-8")  # header + 200 pairs
    (task / "task.json").write_text('{"kind": "pair_classification"}', encoding="utf-8")
    pytester.makepyfile("""
        def test_pairs(embed_eval, pair_classification_task):
            embed_eval.task(pair_classification_task).assert_max_ap(min=50)
    """)
    saved = gated_both_ways(
        "--embed-tasks=Paraphrases", "--embed-task-path=tasks", save=("--embed-report=report.json",),
        unchanged="*pair_classification:Paraphrases/test:* pass *max AP x100 * +0.00 points*",
        regressed="*pair_classification:Paraphrases/test:*FAIL*max AP x100 * a real drop*")
    record = next(r for r in json.loads((pytester.path / "report.json").read_text())["results"]
                  if r["kind"] == "pair_classification")
    assert record["n_pairs"] == 200 and record["main_score"] == pytest.approx(record["max_ap"])
    saved.stdout.fnmatch_lines(["*pairs * positive * similarity * max AP * max F1 * max accuracy*"])
