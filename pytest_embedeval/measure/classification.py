"""Classification scored as MTEB scores it (mteb 1.12.75, the version behind the published figures).

Per task, ``n_experiments`` (10) times: shuffle the list of training row
indices in place with numpy's legacy generator freshly seeded with 42 (MTEB
seeds the global generator when the task is made and again whenever an
evaluator is made, that is after every draw; the list carries over from one
experiment to the next), keep in that order the first ``samples_per_label``
rows of each label, fit ``LogisticRegression(random_state=42, max_iter=100)``
on their embeddings and predict every test row.  Main score: the mean accuracy
of the experiments; F1 (macro) beside it.  Each text is embedded once.

The gate's per-item score is each test row's share of experiments that got it
right: its mean is the main score exactly, and a paired bootstrap over test rows
tells a real drop from a lucky draw.  scikit-learn is imported only here, when
a classification task is scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.accuracy import (Column, Encoder, Kind, TaskInfo, TaskResult, TaskSpec, embed_unique,
                                               per_item, task_folder)
from pytest_embedeval.measure.labelled import Labelled, fingerprint, read_hub, read_labelled, split_file

SEED = 42  # MTEB's seed for the shuffles and the logistic regression
DEFAULTS = {"samples_per_label": 8, "n_experiments": 10, "train_split": "train"}


@dataclass(frozen=True)
class ClassificationSet:
    """The training and test split of one task, checked (labels seen in training, enough rows per label)."""

    name: str
    split: str
    source: str
    train: Labelled = field(repr=False)
    test: Labelled = field(repr=False)
    samples_per_label: int = 8
    n_experiments: int = 10

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint(self.train, self.test) + f"-s{self.samples_per_label}x{self.n_experiments}"


def check(name: str, split: str, source: str, train: Labelled, test: Labelled, params: dict[str, Any]) -> ClassificationSet:
    """The bad inputs a logistic regression would fail on late, or score silently wrong, named by ``file:line``."""
    samples, experiments = int(params["samples_per_label"]), int(params["n_experiments"])
    counts: dict[str, int] = {}
    for label in train.labels:
        counts[label] = counts.get(label, 0) + 1
    if len(counts) < 2:
        raise DataError(f"{train.path}: every training row has the label {train.labels[0]!r}; classification "
                        "needs at least two classes")
    short = sorted(label for label, count in counts.items() if count < samples)
    if short:
        raise DataError(f"{train.path}: label {short[0]!r} has {counts[short[0]]} training row(s), fewer than "
                        f"samples_per_label={samples}" + (f" ({len(short)} labels do)" if len(short) > 1 else "")
                        + "; lower samples_per_label or add rows")
    for where, label in zip(test.where, test.labels):
        if label not in counts:
            raise DataError(f"{where}: test label {label!r} never occurs in the training split ({train.path})")
    return ClassificationSet(name, split, source, train, test, samples, experiments)


def draws(labels: tuple[str, ...], samples_per_label: int, n_experiments: int) -> list[list[int]]:
    """The training rows of each experiment, drawn exactly as MTEB 1.12.75 draws them (module docstring)."""
    import numpy as np

    order = np.arange(len(labels))
    chosen = []
    for _ in range(n_experiments):
        np.random.RandomState(SEED).shuffle(order)  # = np.random.seed(42); np.random.shuffle(order)
        taken: dict[str, int] = {}
        rows = []
        for i in order.tolist():
            if taken.get(labels[i], 0) < samples_per_label:
                rows.append(i)
                taken[labels[i]] = taken.get(labels[i], 0) + 1
        chosen.append(rows)
    return chosen


@dataclass(frozen=True)
class ClassificationResult(TaskResult):
    """One classification task scored for one model on one device."""

    KIND: ClassVar[str] = "classification"
    JUNIT: ClassVar[tuple[str, ...]] = ("accuracy", "f1")

    n_test: int
    n_train: int  # distinct training rows embedded over all experiments
    n_labels: int
    samples_per_label: int
    n_experiments: int
    accuracy: float  # MTEB's main score: the mean over experiments, 0-1
    f1: float  # macro F1, mean over experiments
    accuracies: tuple[float, ...]  # each experiment's accuracy
    correct: tuple[float, ...] = per_item()  # per test row: share of experiments right

    def assert_accuracy(self, min: float) -> ClassificationResult:  # noqa: A002 - reads as the user writes it
        __tracebackhide__ = True
        return self.at_least("accuracy", self.accuracy * 100, min)


def evaluate_classification(encode: Encoder, data: ClassificationSet, *, model: str, device: str,
                            batch_size: int) -> ClassificationResult:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    chosen = draws(data.train.labels, data.samples_per_label, data.n_experiments)
    used = sorted({i for rows in chosen for i in rows})
    texts = [data.train.texts[i] for i in used] + list(data.test.texts)
    embedded = embed_unique(encode, texts, f"model {model} on {device}, {data.name}")
    test_x = embedded.of(data.test.texts)
    gold = np.asarray(data.test.labels, dtype=object)
    correct = np.zeros(len(gold))
    accuracies, f1s = [], []
    for rows in chosen:
        classifier = LogisticRegression(random_state=SEED, max_iter=100)
        classifier.fit(embedded.of(data.train.texts[i] for i in rows), [data.train.labels[i] for i in rows])
        predicted = classifier.predict(test_x)
        hits = predicted == gold
        correct += hits
        accuracies.append(float(hits.mean()))
        f1s.append(float(f1_score(gold, predicted, average="macro")))
    return ClassificationResult(
        model=model, device=device, dataset=data.name, split=data.split, source=data.source,
        fingerprint=data.fingerprint, n_test=len(gold), n_train=len(used), n_labels=len(set(data.train.labels)),
        samples_per_label=data.samples_per_label, n_experiments=data.n_experiments, batch_size=batch_size,
        accuracy=float(np.mean(accuracies)), f1=float(np.mean(f1s)), accuracies=tuple(accuracies),
        encode_seconds=embedded.seconds, correct=tuple((correct / len(chosen)).tolist()))


class ClassificationKind(Kind):
    """Classification: each test row's share of right predictions, resampled over test rows."""

    def load(self, spec: TaskSpec, folder: Path | None) -> ClassificationSet:
        info, params = spec.info, {**DEFAULTS, **spec.info.params}
        train_split = params["train_split"]
        if folder is None:
            train = read_hub(info.hub_id, info.revision, spec.subset, train_split)
            test = read_hub(info.hub_id, info.revision, spec.subset, info.split, subsample=params.get("subsample", 0),
                            seed=SEED)
            source = f"hub:{info.hub_id}"
        else:
            here = task_folder(folder, spec)
            columns = {"text": params.get("text_column"), "label": params.get("label_column")}
            train = read_labelled(split_file(here, train_split), **columns)
            test = read_labelled(split_file(here, info.split), **columns)
            source = str(here)
        return check(spec.label, info.split, source, train, test, params)

    def evaluate(self, encode: Encoder, data: Any, *, model: str, device: str,
                 batch_size: int) -> ClassificationResult:
        return evaluate_classification(encode, data, model=model, device=device, batch_size=batch_size)


def _task(name: str, hub_id: str, revision: str, subsets: tuple[str, ...] = (), default: str = "",
          **params: Any) -> TaskInfo:
    return TaskInfo(name, hub_id, revision, "test", subsets, default, params)


# MTEB's metadata (mteb/tasks/Classification/eng/*.py): data set, pinned revision, parameters; the test split.
TASKS = (
    _task("Banking77Classification", "mteb/banking77", "0fd18e25b25c072e09e0d92ab615fda904d66300"),
    _task("EmotionClassification", "mteb/emotion", "4f58c6b202a23cf9a4da393831edf4f9183cad37",
          samples_per_label=16),
    _task("AmazonCounterfactualClassification", "mteb/amazon_counterfactual",
          "e8379541af4e31359cca9fbcf4b00f2671dba205", ("en", "en-ext", "de", "ja"), "en", samples_per_label=32),
    _task("TweetSentimentExtractionClassification", "mteb/tweet_sentiment_extraction",
          "d604517c81ca91fe16a244d1248fc021f9ecee7a", samples_per_label=32),
    _task("ImdbClassification", "mteb/imdb", "3d86128a09e091d6018b6d26cad27f2739fc2db7"),
    _task("ToxicConversationsClassification", "mteb/toxic_conversations_50k",
          "edfaf9da55d3dd50d43143d90c1ac476895ae6de", samples_per_label=16, subsample=2048),
)

KIND = ClassificationKind(
    name="classification", result_type=ClassificationResult, title="Classification", task_type="Classification",
    metric="accuracy x100", main_score="accuracy", points=100.0, per_item="correct", count="n_test",
    unit="test rows", entry_fields=("dataset", "split", "fingerprint", "n_test", "samples_per_label",
                                    "n_experiments", "batch_size"),
    rounded=("accuracy", "f1"),
    columns=(Column("test rows", "n_test", None), Column("labels", "n_labels", None),
             Column("per label", "samples_per_label", None), Column("accuracy", "accuracy", 2, 100.0),
             Column("F1", "f1", 2, 100.0)),
    tasks=TASKS)
