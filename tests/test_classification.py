"""Classification as MTEB scores it: MTEB's published MiniLM figures on Banking77, the gate both ways, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sklearn.linear_model  # noqa: F401 - in pytester's snapshot (see conftest), as torch is

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure import classification
from pytest_embedeval.measure.accuracy import TaskInfo, TaskSpec

# embeddings-benchmark/results, mteb 1.12.75, all-MiniLM-L6-v2, Banking77Classification test (the data README)
MTEB_MINILM = 80.04
MTEB_EXPERIMENTS = [79.81, 80.16, 81.30, 80.55, 79.19, 80.49, 79.09, 78.90, 80.91, 80.03]
TEST = """
def test_bank(embed_eval, classification_task):
    embed_eval.task(classification_task)
"""


def test_banking77_gives_mteb_figures_and_the_gate_holds_both_ways(
        pytester: pytest.Pytester, task_root: Path, gated_both_ways) -> None:
    """One run as users run it: MTEB's 80.04 and its ten experiments, an unchanged rerun changes by exactly
    zero, a noisy MiniLM under the same name fails the classification gate."""
    pytester.makepyfile(TEST)
    saved = gated_both_ways(
        "--embed-tasks=Banking77Classification", f"--embed-task-path={task_root}", noise=0.3,
        save=("--embed-report=report.json", "--embed-markdown=summary.md"),
        unchanged="*classification:Banking77Classification/test:* pass *accuracy x100 * 80.04 *+0.00 points ?+0.00, +0.00?*",
        regressed="*baseline gate: minilm cpu classification:Banking77Classification/test:*: FAIL. "
                  "accuracy x100 80.04 -> * a real drop*")
    record = next(r for r in json.loads((pytester.path / "report.json").read_text())["results"]
                  if r["kind"] == "classification")
    assert round(record["accuracy"] * 100, 2) == MTEB_MINILM
    assert [round(a * 100, 2) for a in record["accuracies"]] == MTEB_EXPERIMENTS
    assert record["task"] == "Banking77Classification" and record["main_score"] == pytest.approx(record["accuracy"])
    saved.stdout.fnmatch_lines(["model * data * test rows * labels * per label * accuracy * F1 * encode s",
                                "minilm cpu * Banking77Classification/test * 3080 * 77 * 8 * 80.04 *"])
    assert "### Classification" in (pytester.path / "summary.md").read_text()


def task(**params: object) -> TaskSpec:
    return TaskSpec(classification.KIND, TaskInfo("Mine", "", "", params={"samples_per_label": 2, **params}))


def write(folder: Path, train: str, test: str, suffix: str = ".csv") -> Path:
    (folder / "Mine").mkdir(parents=True, exist_ok=True)
    (folder / "Mine" / f"train{suffix}").write_text(train, encoding="utf-8")
    (folder / "Mine" / f"test{suffix}").write_text(test, encoding="utf-8")
    return folder


TRAIN = "text,label\na,x\nb,x\nc,y\nd,y\n"


@pytest.mark.parametrize(("train", "test", "message"), [
    ("text,intent\na,x\n", "text,label\na,x\n", r"train.csv:1: no label column \(label or category\); found text, intent"),
    ("text,label\na,x\nb,x\nc,x\n", "text,label\na,x\n", r"train.csv: every training row has the label 'x'"),
    (TRAIN, "text,label\na,x\nq,z\n", r"test.csv:3: test label 'z' never occurs in the training split"),
    ("text,label\na,x\nb,x\nc,y\n", "text,label\na,x\n", r"train.csv: label 'y' has 1 training row\(s\), fewer than "
                                                         r"samples_per_label=2"),
    (TRAIN, "text,label\na,x,extra\n", r"test.csv:2: expected 2 fields as in the header, found 3"),
])
def test_bad_folders_name_file_and_line(tmp_path: Path, train: str, test: str, message: str) -> None:
    folder = write(tmp_path, train, test)
    with pytest.raises(DataError, match=message):
        classification.KIND.load(task(), folder)


def test_jsonl_missing_text_fails_and_an_empty_text_is_legal(tmp_path: Path) -> None:
    rows = [{"text": "a", "label": 1}, {"text": "", "label": 1}, {"sentence": "c", "category": 2},
            {"text": "d", "label": 2}]
    train = "".join(json.dumps(r) + "\n" for r in rows)
    data = classification.KIND.load(task(), write(tmp_path, train, json.dumps({"text": "a", "label": 2}) + "\n",
                                                  ".jsonl"))
    assert data.train.texts == ("a", "", "c", "d") and data.train.labels == ("1", "1", "2", "2")
    write(tmp_path, train, json.dumps({"label": 1}) + "\n", ".jsonl")
    with pytest.raises(DataError, match=r"test.jsonl:1: no text column \(text or sentence\); found label"):
        classification.KIND.load(task(), tmp_path)


def test_draws_follow_mteb_sampling() -> None:
    """MTEB 1.12.75's undersampling: a fresh seed-42 shuffle of the carried-over index list, first rows per label."""
    import numpy as np

    labels = tuple("abc"[i % 3] for i in range(30))
    order = np.arange(30)
    expected = []
    for _ in range(3):
        np.random.seed(42)
        np.random.shuffle(order)
        taken: dict[str, int] = {}
        rows = []
        for i in order:
            if taken.get(labels[i], 0) < 2:
                rows.append(int(i))
                taken[labels[i]] = taken.get(labels[i], 0) + 1
        expected.append(rows)
    assert classification.draws(labels, 2, 3) == expected
    assert expected[0] != expected[1]  # the list carries over: each experiment draws other rows


def test_mteb_task_names_with_their_parameters() -> None:
    from pytest_embedeval.measure.registry import parse_task

    spec = parse_task("AmazonCounterfactualClassification")
    assert (spec.label, spec.info.params["samples_per_label"]) == ("AmazonCounterfactualClassification.en", 32)
    assert parse_task("EmotionClassification").info.params == {"samples_per_label": 16}
    with pytest.raises(ValueError, match="has no subset 'xx'"):
        parse_task("AmazonCounterfactualClassification.xx")


def test_own_task_folder_end_to_end_and_unknown_names(pytester: pytest.Pytester) -> None:
    """A user's folder with task.json: parametrized, scored, tabled, reported; a typo is a usage error."""
    folder = pytester.mkdir("tasks") / "Intents"
    folder.mkdir()
    (folder / "task.json").write_text('{"kind": "classification", "samples_per_label": 2, "label_column": "intent"}')
    rows = [("I lost my card", "card"), ("my card is gone", "card"), ("where is my card", "card"),
            ("top up my account", "topup"), ("add money please", "topup"), ("how do I top up", "topup")]
    (folder / "train.csv").write_text("text,intent\n" + "".join(f"{t},{i}\n" for t, i in rows))
    (folder / "test.csv").write_text("text,intent\ncard missing,card\nput money in,topup\n")
    pytester.makepyfile(TEST)
    result = pytester.runpytest("--embed-models=minilm", "--embed-tasks=Intents", "--embed-task-path=tasks",
                                "--embed-report=report.json", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_bank?*Intents*? PASSED*", "minilm cpu * Intents/test * 2 * 2 * 2 *"])
    report = json.loads((pytester.path / "report.json").read_text())
    record = next(r for r in report["results"] if r["kind"] == "classification")
    assert record["n_experiments"] == 10 and record["task"] == "Intents" and 0 <= record["main_score"] <= 1
    assert report["task_means"][0]["tasks"] == ["Intents"]
    typo = pytester.runpytest("--embed-models=minilm", "--embed-tasks=Bankin77Classification",
                              "--embed-task-path=tasks")
    typo.stderr.fnmatch_lines(["*--embed-tasks=Bankin77Classification: unknown MTEB task 'Bankin77Classification' "
                               "and * has no Bankin77Classification/task.json; known: STSBenchmark, *"])
