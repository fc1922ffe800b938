"""STS data sets: sentence pairs with gold scores, from the hub or local files.

Local formats:

* a folder of the original STS-B files (``sts-train.csv``, ``sts-dev.csv``,
  ``sts-test.csv``): tab-separated, no header, first seven fields are genre,
  file, year, id, score, sentence1, sentence2; some lines carry extra fields
  and stray quote characters, so lines are split on tabs with no quoting;
* CSV, TSV or JSONL files with ``sentence1``, ``sentence2`` and ``score``
  columns (a folder may hold them as ``dev.csv``, ``test.jsonl`` ...).

Every row is checked; a bad one raises :class:`DataError` naming ``file:line``.
Nothing is dropped silently.  The csv module is used for CSV/TSV; the STS-B
format is split by hand because its quote characters are text, not quoting.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.accuracy import TaskData

HUB_DATASET = "sentence-transformers/stsb"
HUB_SPLITS = {"dev": "validation", "validation": "validation", "train": "train", "test": "test"}
STSB_FIELDS = ("genre", "file", "year", "id", "score", "sentence1", "sentence2")
COLUMNS = ("sentence1", "sentence2", "score")
SCORE_RANGE = (0.0, 5.0)  # the STS scale; 0-1 normalised copies fit inside it
MIN_PAIRS = 3  # fewer pairs leave a correlation undefined or meaningless


@dataclass(frozen=True)
class SentencePairs(TaskData):
    """Sentence pairs, each with its gold judgement: what STS and pair classification score."""

    sentences1: tuple[str, ...]
    sentences2: tuple[str, ...]

    @property
    def gold(self) -> tuple[float, ...]:
        """One judgement a pair (a score, a label), in the pairs' order."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.sentences1)

    def content(self) -> tuple[Iterable[tuple[str, str, float]]]:
        return (zip(self.sentences1, self.sentences2, self.gold),)

    def counts(self) -> str:
        return f"{len(self)} pairs"


@dataclass(frozen=True)
class StsDataset(SentencePairs):
    """Sentence pairs with gold similarity scores, as loaded (scale untouched); ``name`` is "stsb" or the
    file's stem."""

    scores: tuple[float, ...]
    task: bool = False  # an MTEB task by name (tasks.py): ``name`` is the task, ``split`` its real split

    @property
    def gold(self) -> tuple[float, ...]:
        return self.scores


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                        "save the file as UTF-8") from None


def _lines(text: str) -> list[str]:
    """Lines split at newlines only: ``str.splitlines`` also splits at U+2028, U+0085 and
    other separators, which may stand inside a sentence or a JSON string."""
    return [line.removesuffix("\r") for line in text.split("\n")]


def _row(where: str, s1: object, s2: object, score: object) -> tuple[str, str, float]:
    for column, text in (("sentence1", s1), ("sentence2", s2)):
        if not isinstance(text, str):
            raise DataError(f"{where}: {column} is not text: {text!r}")
        if not text.strip():
            raise DataError(f"{where}: {column} is empty")
    if isinstance(score, bool) or not isinstance(score, (str, int, float)):
        raise DataError(f"{where}: score is not a number: {score!r}")
    try:
        value = float(score)
    except OverflowError:  # an integer too large for a float
        raise DataError(f"{where}: score {str(score)[:20]}... is outside the STS scale") from None
    except ValueError:
        hint = " (a repeated header line?)" if str(score).strip().lower() == "score" else ""
        raise DataError(f"{where}: score {score!r} is not a number{hint}") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: score {score!r} is not a finite number")
    low, high = SCORE_RANGE
    if not low <= value <= high:
        raise DataError(f"{where}: score {value:g} is outside the STS scale {low:g}-{high:g}")
    return str(s1), str(s2), value


def read_stsb(path: Path) -> list[tuple[str, str, float]]:
    """The original STS-B layout: split on tabs, no quoting, first seven fields."""
    rows = []
    for number, line in enumerate(_lines(_decode(path)), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < len(STSB_FIELDS):
            raise DataError(f"{path}:{number}: expected at least 7 tab-separated fields "
                            f"({', '.join(STSB_FIELDS)}), found {len(fields)}")
        rows.append(_row(f"{path}:{number}", fields[5], fields[6], fields[4]))
    return rows


def read_table(path: Path, delimiter: str) -> list[tuple[str, str, float]]:
    """CSV or TSV with a header naming sentence1, sentence2 and score."""
    reader = csv.reader(io.StringIO(_decode(path), newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: the file is empty")
        header = [name.strip() for name in header]
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise DataError(f"{path}:1: missing column(s) {', '.join(missing)}; "
                            f"the header has {', '.join(header) or 'nothing'}")
        index = [header.index(name) for name in COLUMNS]
        rows = []
        for fields in reader:
            where = f"{path}:{reader.line_num}"
            if not any(field.strip() for field in fields):
                continue
            if [field.strip() for field in fields] == header:
                raise DataError(f"{where}: the header line is repeated")
            if len(fields) != len(header):
                raise DataError(f"{where}: expected {len(header)} fields as in the header, found {len(fields)}")
            rows.append(_row(where, *(fields[i] for i in index)))
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: {exc}") from None
    return rows


def read_jsonl_records(path: Path, keys: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file:line, object)`` for every non-blank line; a line that is not a JSON object (with ``keys``,
    named in the error) raises naming ``file:line``."""
    for number, line in enumerate(_lines(_decode(path)), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: not valid JSON ({exc.msg})") from None
        except (ValueError, RecursionError) as exc:  # an integer of 4,300+ digits; nesting beyond the stack
            raise DataError(f"{where}: not usable JSON ({type(exc).__name__})") from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object with {keys}")
        yield where, record


def read_jsonl(path: Path) -> list[tuple[str, str, float]]:
    """One JSON object per line with sentence1, sentence2 and score."""
    rows = []
    for where, record in read_jsonl_records(path, ", ".join(COLUMNS)):
        missing = [name for name in COLUMNS if name not in record]
        if missing:
            raise DataError(f"{where}: missing key(s) {', '.join(missing)}")
        rows.append(_row(where, *(record[name] for name in COLUMNS)))
    return rows


def read_file(path: Path) -> list[tuple[str, str, float]]:
    """Pick the reader by name: sts-*.csv is STS-B, else by suffix."""
    if path.name.startswith("sts-") and path.suffix == ".csv":
        return read_stsb(path)
    readers = {".csv": lambda p: read_table(p, ","), ".tsv": lambda p: read_table(p, "\t"), ".jsonl": read_jsonl}
    if path.suffix not in readers:
        raise DataError(f"{path}: unknown data file type {path.suffix!r}; use .csv, .tsv or .jsonl")
    return readers[path.suffix](path)


def _split_file(folder: Path, split: str) -> Path:
    candidates = [folder / f"sts-{split}.csv"] + [folder / f"{split}{suffix}" for suffix in (".csv", ".tsv", ".jsonl")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: no file for split {split!r} (looked for "
                    f"{', '.join(c.name for c in candidates)})")


def _dataset(name: str, split: str, source: str, rows: list[tuple[str, str, float]]) -> StsDataset:
    if len(rows) < MIN_PAIRS:
        raise DataError(f"{source}: {len(rows)} pair(s) in split {split!r}; a correlation needs at least {MIN_PAIRS}")
    s1, s2, scores = zip(*rows)
    if len(set(scores)) == 1:
        raise DataError(f"{source}: every gold score is {scores[0]:g}; a correlation is undefined")
    return StsDataset(name, split, source, s1, s2, scores)


def load_local(path: Path, split: str) -> StsDataset:
    """A folder (one file per split) or a single file used for whatever split is asked."""
    if path.is_dir():
        file = _split_file(path, split)
        name = "stsb" if file.name.startswith("sts-") else path.name
    elif path.is_file():
        file, name = path, path.stem
    else:
        raise DataError(f"STS data path {path} does not exist")
    return _dataset(name, split, str(file), read_file(file))


def load_hub(split: str, hub_id: str = HUB_DATASET) -> StsDataset:
    """STS-B from the hub through ``datasets`` (scores there are scaled to 0-1)."""
    from pytest_embedeval.core.hub import load_hub_tables

    hub_split = HUB_SPLITS.get(split, split)
    [table] = load_hub_tables(hub_id, [(None, hub_split)], what=f"data set {hub_id!r}", local="pass --embed-sts-path")
    rows = [_row(f"hub:{hub_id}[{hub_split}] row {i}", r["sentence1"], r["sentence2"], r["score"])
            for i, r in enumerate(table)]
    return _dataset("stsb", split, f"hub:{hub_id}", rows)


def load_sts(path: Path | None, split: str) -> StsDataset:
    """The STS data for ``split``: local when a path is configured, else the hub."""
    try:
        return load_local(path, split) if path is not None else load_hub(split)
    except OSError as exc:  # unreadable file or folder: name it, no traceback
        raise DataError(f"{exc.filename or path}: {exc.strerror or exc}") from None

