"""Texts with labels, one split a file: what classification and clustering tasks read.

A split file is CSV, TSV (both with a header, standard quoting) or JSONL (one
object a line).  The text column is ``text`` or ``sentence``, the label column
``label`` or ``category``: found without configuration, or named by the task's
parameters.  Every problem raises :class:`DataError` naming ``file:line``; an
empty text is legal (MTEB keeps one in TweetSentimentExtraction's training split).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.data import _decode

TEXT_COLUMNS = ("text", "sentence")
LABEL_COLUMNS = ("label", "category")
SUFFIXES = (".csv", ".tsv", ".jsonl")


@dataclass(frozen=True)
class Labelled:
    """One split: texts, their labels (as text), and where each row came from."""

    path: Path
    texts: tuple[str, ...]
    labels: tuple[str, ...]
    where: tuple[str, ...]  # "file:line" of each row

    def __len__(self) -> int:
        return len(self.texts)


def split_file(folder: Path, split: str) -> Path:
    """``<folder>/<split>.csv|.tsv|.jsonl``, or a DataError listing what was looked for."""
    candidates = [folder / f"{split}{suffix}" for suffix in SUFFIXES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: no file for split {split!r} (looked for {', '.join(c.name for c in candidates)})")


def _column(names: list[str], wanted: str | None, defaults: tuple[str, ...], what: str, where: str) -> str:
    options = (wanted,) if wanted else defaults
    found = next((name for name in options if name in names), None)
    if found is None:
        raise DataError(f"{where}: no {what} column ({' or '.join(options)}); found {', '.join(names) or 'nothing'}")
    return found


def _label(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise DataError(f"{where}: the label is missing, empty or not text or a whole number: {value!r}")
    return str(value).strip()


def _text(value: Any, where: str, column: str) -> str:
    if value is None:
        raise DataError(f"{where}: '{column}' is missing")
    if not isinstance(value, str):
        raise DataError(f"{where}: '{column}' is not text: {value!r}")
    return value


def read_table(path: Path, delimiter: str, text: str | None, label: str | None) -> Labelled:
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[str, str, str]] = []
    try:
        header = [name.strip() for name in next(reader, [])]
        if not header:
            raise DataError(f"{path}: the file is empty")
        text_at = header.index(_column(header, text, TEXT_COLUMNS, "text", f"{path}:1"))
        label_at = header.index(_column(header, label, LABEL_COLUMNS, "label", f"{path}:1"))
        for fields in reader:
            where = f"{path}:{reader.line_num}"
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                raise DataError(f"{where}: expected {len(header)} fields as in the header, found {len(fields)}")
            rows.append((where, fields[text_at], _label(fields[label_at], where)))
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: {exc}") from None
    return _labelled(path, rows)


def read_jsonl(path: Path, text: str | None, label: str | None) -> Labelled:
    from pytest_embedeval.measure.data import read_jsonl_records

    rows: list[tuple[str, str, str]] = []
    for where, record in read_jsonl_records(path, "a text and a label"):
        text_name = _column(list(record), text, TEXT_COLUMNS, "text", where)
        label_name = _column(list(record), label, LABEL_COLUMNS, "label", where)
        rows.append((where, _text(record[text_name], where, text_name), _label(record[label_name], where)))
    return _labelled(path, rows)


def _labelled(path: Path, rows: list[tuple[str, str, str]]) -> Labelled:
    if not rows:
        raise DataError(f"{path}: no rows")
    where, texts, labels = zip(*rows)
    return Labelled(path, texts, labels, where)


def read_labelled(path: Path, text: str | None = None, label: str | None = None) -> Labelled:
    """A split file by its suffix; ``text`` / ``label`` name the columns when they are not the usual ones."""
    try:
        if path.suffix == ".jsonl":
            return read_jsonl(path, text, label)
        if path.suffix in (".csv", ".tsv"):
            return read_table(path, "," if path.suffix == ".csv" else "\t", text, label)
    except OSError as exc:
        raise DataError(f"{exc.filename or path}: {exc.strerror or exc}") from None
    raise DataError(f"{path}: unknown data file type {path.suffix!r}; use .csv, .tsv or .jsonl")


def fingerprint(*splits: Labelled) -> str:
    """Content hash of the splits' texts and labels: baselines and caches are keyed on it."""
    import hashlib

    digest = hashlib.sha256()
    for split in splits:
        for text, label in zip(split.texts, split.labels):
            digest.update(f"{text}\x1f{label}\x1e".encode())
        digest.update(b"\x1d")
    return digest.hexdigest()[:16]


def read_hub(hub_id: str, revision: str, subset: str, *splits: str, subsample: int = 0, seed: int = 42,
             label: str = "label") -> Labelled:
    """Splits of an MTEB data set at its pinned revision, one after the other; fails fast when offline.

    Rows are ``text`` and ``label`` (or ``label``'s name), or MTEB's old clustering layout, rows of lists
    ``sentences`` and ``labels``, flattened without repeats (MTEB's ``convert_to_fast``).  ``subsample``: MTEB's
    ``stratified_subsampling`` to so many rows (datasets' own stratified split with MTEB's seed)."""
    from huggingface_hub import is_offline_mode

    from pytest_embedeval.core.hub import cache_only

    if cache_only(hub_id, "dataset") and not is_offline_mode():
        raise DataError(f"data set {hub_id!r} needs the Hugging Face hub, which cannot be reached; set "
                        "HF_HUB_OFFLINE=1 to use the cached copy, or pass --embed-task-path=FOLDER")
    import datasets

    rows: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for split in splits:
        where = f"hub:{hub_id}@{revision[:10]}[{split}]"
        try:
            table = datasets.load_dataset(hub_id, subset or None, revision=revision, split=split)
            if subsample and len(table) > subsample:
                if not isinstance(table.features[label], datasets.ClassLabel):
                    table = table.class_encode_column(label)
                table = table.train_test_split(test_size=subsample, seed=seed, stratify_by_column=label)["test"]
        except Exception as exc:  # datasets raises many types for missing splits, files and caches
            raise DataError(f"{hub_id!r} at revision {revision[:10]} split {split!r} could not be loaded: "
                            f"{type(exc).__name__}: {exc}") from exc
        for i, record in enumerate(table):
            here = f"{where} row {i}"
            if "sentences" in record:  # a cluster: lists of sentences and labels
                for text, value in zip(record["sentences"], record["labels"]):
                    if text not in seen:
                        seen.add(text)
                        rows.append((here, _text(text, here, "sentences"), _label(value, here)))
            else:
                rows.append((here, _text(record.get("text"), here, "text"), _label(record.get(label), here)))
    return _labelled(Path(f"hub:{hub_id}"), rows)
