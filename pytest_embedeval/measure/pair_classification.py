"""Pair classification ("is this the same question?") scored exactly as MTEB scores it.

Data: pairs ``sentence1, sentence2, label`` (label 0 or 1; MTEB's hub column
``labels`` is read too) from a CSV, TSV or JSONL file, a folder holding
``<split>.tsv|csv|jsonl``, or an MTEB task by name from the hub at MTEB's
pinned revision (:data:`PAIR_TASKS`).

Scoring (``AbsTaskPairClassification._compute_metrics``, MTEB 2.x): for each
similarity, cosine, dot product, Euclidean and Manhattan distance and the
model's own, the best-threshold accuracy, the best F1 (with its precision and
recall) and the average precision (scikit-learn's, distances negated); a
threshold never splits tied scores.  The main score ``max_ap`` is the largest
AP over the similarities.  Figures are 0-1, as MTEB reports them.

The gate resamples pairs: the baseline keeps, per pair, the score of the
similarity that gave ``max_ap`` (higher = more alike) and the labels; the
paired bootstrap recomputes that AP on every resample (:func:`average_precision_rows`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable

from pytest_embedeval.errors import DataError, EmbedEvalError
from pytest_embedeval.measure.accuracy import (Column, Encoder, Kind, TaskInfo, TaskResult, TaskSpec,
                                               embed_unique, per_item, task_folder)
from pytest_embedeval.measure.data import SentencePairs, _decode, read_jsonl_records

# MTEB's PairClassification tasks: hub id, pinned revision, split (mteb/tasks/pair_classification/eng)
PAIR_TASKS: dict[str, tuple[str, str, str]] = {
    "SprintDuplicateQuestions": ("mteb/sprintduplicatequestions-pairclassification",
                                 "d66bd1f72af766a5cc4b0ca5e00c162f89e8cc46", "test"),
    "TwitterSemEval2015": ("mteb/twittersemeval2015-pairclassification",
                           "70970daeab8776df92f5ea462b6173c0b46fd2d1", "test"),
    "TwitterURLCorpus": ("mteb/twitterurlcorpus-pairclassification",
                         "8b6510b0b1fa4e4c4f879467980e9be563ec1cdf", "test"),
}
# MTEB's names, in its order; (name, higher score = more alike)
SIMILARITIES = (("similarity", True), ("cosine", True), ("manhattan", False), ("euclidean", False), ("dot", True))
LABEL_COLUMNS = ("label", "labels")


@dataclass(frozen=True)
class PairSet(SentencePairs):
    """Sentence pairs labelled 1 (same meaning, duplicate) or 0."""

    labels: tuple[int, ...]

    @property
    def gold(self) -> tuple[int, ...]:
        return self.labels

    def counts(self) -> str:
        return f"{super().counts()}, {sum(self.labels)} positive"


def _label(value: Any, where: str) -> int:
    """0 or 1, written as a number, a string or a boolean; anything else names ``where``."""
    text = str(value).strip() if not isinstance(value, bool) else str(int(value))
    if isinstance(value, (int, float, str, bool)) and text in ("0", "1", "0.0", "1.0"):
        return int(float(text))
    raise DataError(f"{where}: label {value!r} is not 0 or 1 (pair classification labels are 0 = different, "
                    "1 = same)")


def _pair(where: str, record: dict[str, Any]) -> tuple[str, str, int]:
    for column in ("sentence1", "sentence2"):
        if column not in record:
            raise DataError(f"{where}: missing {column!r} (a pair needs sentence1, sentence2 and label)")
        if not isinstance(record[column], str):
            raise DataError(f"{where}: {column} is not text: {record[column]!r}")
    column = next((c for c in LABEL_COLUMNS if c in record), None)
    if column is None:
        raise DataError(f"{where}: missing 'label' (a pair needs sentence1, sentence2 and label)")
    return record["sentence1"], record["sentence2"], _label(record[column], where)


def _table_records(path: Path, delimiter: str) -> Iterable[tuple[str, dict[str, Any]]]:
    """``(file:line, {column: value})`` for a CSV/TSV with a header (tabs in TSV are never quoting)."""
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise DataError(f"{path}: the file is empty")
        for fields in reader:
            where = f"{path}:{reader.line_num}"
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                raise DataError(f"{where}: expected {len(header)} fields as in the header "
                                f"({', '.join(header)}), found {len(fields)}")
            yield where, dict(zip(header, fields))
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: {exc}") from None


def read_pairs(path: Path) -> list[tuple[str, str, int]]:
    """Every pair of a ``.csv``, ``.tsv`` or ``.jsonl`` file; a bad row raises naming ``file:line``."""
    if path.suffix == ".jsonl":
        records = read_jsonl_records(path, "sentence1, sentence2 and label")
    elif path.suffix in (".csv", ".tsv"):
        records = _table_records(path, "\t" if path.suffix == ".tsv" else ",")
    else:
        raise DataError(f"{path}: unknown pair file type {path.suffix!r}; use .csv, .tsv or .jsonl")
    return [_pair(where, record) for where, record in records]


def make_pair_set(name: str, split: str, source: str, rows: list[tuple[str, str, int]]) -> PairSet:
    if not rows:
        raise DataError(f"{source}: no pairs in split {split!r}")
    s1, s2, labels = zip(*rows)
    if len(set(labels)) < 2:
        raise DataError(f"{source}: every pair is labelled {labels[0]}; average precision needs both 0 and 1")
    return PairSet(name, split, source, s1, s2, labels)


def load_pairs_local(path: Path, split: str) -> PairSet:
    """A file (used for whatever split is asked) or a folder with ``<split>.tsv|csv|jsonl``."""
    if path.is_dir():
        candidates = [path / f"{split}{suffix}" for suffix in (".tsv", ".csv", ".jsonl")]
        file = next((c for c in candidates if c.is_file()), None)
        if file is None:
            raise DataError(f"{path}: no file for split {split!r} (looked for "
                            f"{', '.join(c.name for c in candidates)})")
        name = path.name
    elif path.is_file():
        file, name = path, path.stem
    else:
        raise DataError(f"pair classification data {path} does not exist")
    return make_pair_set(name, split, str(file), read_pairs(file))


def load_pairs_hub(task: str) -> PairSet:
    """An MTEB task from the hub at MTEB's revision; MTEB 1.x stored the split as one row of lists."""
    from pytest_embedeval.core.hub import load_hub_tables

    hub_id, revision, split = PAIR_TASKS[task]
    [table] = load_hub_tables(hub_id, [(None, split)], revision=revision, local="give a local folder",
                              what=f"pair classification task {task} ({hub_id!r})")
    rows_in = list(table)
    if len(rows_in) == 1 and isinstance(rows_in[0].get("sentence1"), list):
        only = rows_in[0]
        rows_in = [dict(zip(("sentence1", "sentence2", "labels"), values))
                   for values in zip(only["sentence1"], only["sentence2"], only["labels"])]
    rows = [_pair(f"hub:{hub_id}[{split}] row {i}", row) for i, row in enumerate(rows_in)]
    return make_pair_set(task, split, f"hub:{hub_id}@{revision[:8]}", rows)


def load_named(location: str | Path, split: str, tasks: dict[str, Any], from_hub: Callable[[str], Any],
               from_path: Callable[[Path, str], Any]) -> Any:
    """An MTEB task of ``tasks`` by name from the hub, else a local file or folder; OS errors name the file."""
    try:
        if isinstance(location, str) and location in tasks:
            return from_hub(location)
        return from_path(Path(location), split)
    except OSError as exc:
        raise DataError(f"{exc.filename or location}: {exc.strerror or exc}") from None


def load_pairs(location: str | Path, split: str = "test") -> PairSet:
    """An MTEB task name (:data:`PAIR_TASKS`), else a local file or folder."""
    return load_named(location, split, PAIR_TASKS, load_pairs_hub, load_pairs_local)


def best_accuracy(scores: Any, labels: Any, higher: bool) -> float:
    """MTEB's ``_find_best_acc_and_threshold``: the best accuracy of a threshold between distinct scores."""
    order = sorted(zip(scores, labels), key=lambda row: row[0], reverse=higher)
    best, positives, remaining_negatives = 0.0, 0, sum(1 for label in labels if label == 0)
    for i in range(len(order) - 1):
        if order[i][1] == 1:
            positives += 1
        else:
            remaining_negatives -= 1
        if order[i][0] != order[i + 1][0]:
            best = max(best, (positives + remaining_negatives) / len(labels))
    return best


def best_f1(scores: Any, labels: Any, higher: bool) -> tuple[float, float, float]:
    """MTEB's ``_find_best_f1_and_threshold``: (F1, precision, recall) of the best threshold."""
    order = sorted(zip(scores, labels), key=lambda row: row[0], reverse=higher)
    best = (0.0, 0.0, 0.0)
    correct, duplicates = 0, sum(labels)
    for i, (score, label) in enumerate(order[:-1]):
        correct += label == 1
        if score == order[i + 1][0] or correct == 0:
            continue
        precision, recall = correct / (i + 1), correct / duplicates
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best[0]:
            best = (f1, precision, recall)
    return best


def pair_scores(e1: Any, e2: Any, own: str = "cosine") -> dict[str, Any]:
    """Each similarity of the pairs, as MTEB computes it (scikit-learn's paired distances; the model's own
    similarity by its sentence-transformers name: cosine, dot, euclidean, manhattan)."""
    import numpy as np
    from sklearn.metrics.pairwise import (paired_cosine_distances, paired_euclidean_distances,
                                          paired_manhattan_distances)

    found = {"cosine": 1 - paired_cosine_distances(e1, e2), "manhattan": paired_manhattan_distances(e1, e2),
             "euclidean": paired_euclidean_distances(e1, e2), "dot": np.einsum("ij,ij->i", e1, e2)}
    if own not in found:
        raise EmbedEvalError(f"the model's similarity {own!r} is none of cosine, dot, euclidean, manhattan")
    # sentence-transformers' own euclidean / manhattan similarity is the negated distance
    found["similarity"] = found[own] if own in ("cosine", "dot") else -found[own]
    return found


def pair_metrics(scores: dict[str, Any], labels: Any) -> dict[str, float]:
    """Every MTEB figure (``cosine_ap``, ``max_ap`` ...) from :func:`pair_scores`."""
    import numpy as np
    from sklearn.metrics import average_precision_score

    labels = np.asarray(labels, dtype=np.int64)
    figures: dict[str, float] = {}
    for name, higher in SIMILARITIES:
        values = np.asarray(scores[name]).tolist()
        f1, precision, recall = best_f1(values, labels.tolist(), higher)
        sign = 1 if higher else -1
        figures.update({f"{name}_accuracy": float(best_accuracy(values, labels.tolist(), higher)),
                        f"{name}_f1": float(f1), f"{name}_precision": float(precision),
                        f"{name}_recall": float(recall),
                        f"{name}_ap": float(average_precision_score(labels, np.asarray(values) * sign))})
    for metric in ("accuracy", "f1", "precision", "recall", "ap"):
        figures[f"max_{metric}"] = max(figures[f"{name}_{metric}"] for name, _ in SIMILARITIES)
    return figures


def average_precision_rows(labels: Any, scores: Any, axis: int = -1) -> Any:
    """scikit-learn's average precision x100 along ``axis`` (higher score = positive), vectorised for the
    gate's bootstrap: tied scores count as one threshold, as ``average_precision_score`` counts them."""
    import numpy as np

    y = np.moveaxis(np.asarray(labels, dtype=np.float64), axis, -1)
    s = np.moveaxis(np.asarray(scores, dtype=np.float64), axis, -1)
    y, s = np.broadcast_arrays(y, s)
    order = np.argsort(-s, axis=-1, kind="stable")
    s, y = np.take_along_axis(s, order, -1), np.take_along_axis(y, order, -1)
    hits = np.cumsum(y, axis=-1)
    n = s.shape[-1]
    ends = np.concatenate([s[..., 1:] != s[..., :-1], np.ones(s.shape[:-1] + (1,), dtype=bool)], axis=-1)
    last = np.where(ends, np.arange(n), n)
    group_end = np.flip(np.minimum.accumulate(np.flip(last, -1), axis=-1), -1)  # last index of each tie group
    precision = np.take_along_axis(hits, group_end, -1) / (group_end + 1)
    return 100.0 * (y * precision).sum(axis=-1) / np.maximum(hits[..., -1], 1)


@dataclass(frozen=True)
class PairClassificationResult(TaskResult):
    """One pair-classification evaluation of one model on one device and data set."""

    KIND: ClassVar[str] = "pair_classification"
    JUNIT: ClassVar[tuple[str, ...]] = ("max_ap", "max_f1", "max_accuracy")

    n_pairs: int
    n_positive: int
    labels: tuple[int, ...] = per_item()  # the data's, per pair
    max_ap: float  # MTEB's main score, 0-1
    max_f1: float
    max_accuracy: float
    metrics: dict[str, float] = field(compare=False)  # every MTEB figure: cosine_ap, manhattan_f1 ...
    best: str  # the similarity that gave max_ap: its per-pair scores are what the gate resamples
    scores: tuple[float, ...] = per_item()  # per pair, similarity ``best``, higher = alike

    def assert_max_ap(self, min: float) -> PairClassificationResult:  # noqa: A002 - reads as the user writes it
        __tracebackhide__ = True
        return self.at_least("max AP", self.max_ap * 100, min)


def evaluate_pairs(encode: Callable[[list[str]], Any], data: PairSet, *, model: str, device: str,
                   batch_size: int, similarity: str = "cosine") -> PairClassificationResult:
    """Embed each unique sentence once, then score every similarity as MTEB does."""
    import numpy as np

    embedded = embed_unique(encode, data.sentences1 + data.sentences2, f"model {model} on {device}, {data.label}")
    scores = pair_scores(embedded.of(data.sentences1), embedded.of(data.sentences2), similarity)
    figures = pair_metrics(scores, data.labels)
    best = max((name for name, _ in SIMILARITIES), key=lambda name: figures[f"{name}_ap"])
    oriented = np.asarray(scores[best], dtype=np.float64) * (1 if dict(SIMILARITIES)[best] else -1)
    return PairClassificationResult(
        model=model, device=device, dataset=data.name, split=data.split, source=data.source,
        fingerprint=data.fingerprint, n_pairs=len(data), n_positive=sum(data.labels), batch_size=batch_size,
        max_ap=figures["max_ap"], max_f1=figures["max_f1"], max_accuracy=figures["max_accuracy"], best=best,
        metrics=figures, encode_seconds=embedded.seconds, labels=data.labels, scores=tuple(oriented.tolist()))


class PairClassificationKind(Kind):
    """Pair classification: the AP of the similarity that gave ``max_ap``, recomputed on every resample of pairs."""

    def shared(self, result: Any) -> tuple[Any, ...]:
        return (result.labels,)

    def score(self, *arrays: Any, axis: int = -1) -> Any:
        labels, scores = arrays
        return average_precision_rows(labels, scores, axis)

    def load(self, spec: TaskSpec, folder: Path | None) -> PairSet:
        if folder is None:
            return load_pairs_hub(spec.info.name)
        return replace(load_pairs_local(task_folder(folder, spec), spec.info.split), name=spec.info.name)

    def evaluate(self, encode: Encoder, data: Any, *, model: str, device: str,
                 batch_size: int) -> PairClassificationResult:
        return evaluate_pairs(encode, data, model=model, device=device, batch_size=batch_size)


KIND = PairClassificationKind(
    name="pair_classification", result_type=PairClassificationResult, title="Pair classification",
    task_type="PairClassification", metric="max AP x100", main_score="max_ap", points=100.0, per_item="scores",
    count="n_pairs", unit="pairs", entry_fields=("dataset", "split", "fingerprint", "n_pairs", "best", "batch_size"),
    rounded=("max_ap", "max_f1", "max_accuracy"),
    columns=(Column("pairs", "n_pairs", None), Column("positive", "n_positive", None), Column("similarity", "best", None),
             Column("max AP", "max_ap", 2, 100.0), Column("max F1", "max_f1", 2, 100.0),
             Column("max accuracy", "max_accuracy", 2, 100.0)),
    tasks=tuple(TaskInfo(name, hub_id, revision, split) for name, (hub_id, revision, split) in PAIR_TASKS.items()))
