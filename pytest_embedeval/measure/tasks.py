"""MTEB's STS tasks by name: where each lives on the hub, which split MTEB scores, and loading it.

The metadata is MTEB's own (``mteb/tasks/sts/``; identical in 1.39.7 and
2.x): data set id, pinned revision, the evaluated split (``test`` for all
ten), the language subsets of the multilingual tasks and the gold range.
A task is named as MTEB names it, a subset after a colon: ``STS13``,
``STS17:en-en``, ``STS22:en``.  A multilingual task named without a subset
means its English one, as MTEB's English benchmarks select it.

Locally, ``--embed-sts-path`` is a folder with one file per task, named by
the task (``STS13.csv``, ``STS16.jsonl``, ``STS17.en-en.tsv``), in any of the
formats :mod:`measure.data` reads; STSBenchmark also accepts the original
``sts-test.csv``.  From the hub the task is read through ``datasets`` at its
pinned revision; a multilingual task's rows are selected by their ``lang``
column, as MTEB's ``fast_load`` does.

Scoring needs nothing task-specific: MTEB normalises gold scores linearly
with the task's min and max, which changes neither Spearman nor Pearson.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pytest_embedeval.errors import DataError
from pytest_embedeval.measure.accuracy import TaskInfo
from pytest_embedeval.measure.data import StsDataset, _dataset, _row, read_file

SUFFIXES = (".csv", ".tsv", ".jsonl")
STS17_SUBSETS = ("ko-ko", "ar-ar", "en-ar", "en-de", "en-en", "en-tr", "es-en", "es-es", "fr-en", "it-en", "nl-en")
STS22_SUBSETS = ("en", "de", "es", "pl", "tr", "ar", "ru", "zh", "fr", "de-en", "es-en", "it", "pl-en", "zh-en",
                 "es-it", "de-fr", "de-pl", "fr-pl")


STS_TASKS: dict[str, TaskInfo] = {task.name: task for task in (
    TaskInfo("STSBenchmark", "mteb/stsbenchmark-sts", "b0fddb56ed78048fa8b90373c8a3cfc37b684831"),
    TaskInfo("STS12", "mteb/sts12-sts", "a0d554a64d88156834ff5ae9920b964011b16384"),
    TaskInfo("STS13", "mteb/sts13-sts", "7e90230a92c190f1bf69ae9002b8cea547a64cca"),
    TaskInfo("STS14", "mteb/sts14-sts", "6031580fec1f6af667f0bd2da0a551cf4f0b2375"),
    TaskInfo("STS15", "mteb/sts15-sts", "ae752c7c21bf194d8b67fd573edf7ae58183cbe3"),
    TaskInfo("STS16", "mteb/sts16-sts", "4d8694f8f0e0100860b497b999b3dbed754a0513"),
    TaskInfo("SICK-R", "mteb/sickr-sts", "20a6d6f312dd54037fe07a32d58e5e168867909d"),
    TaskInfo("BIOSSES", "mteb/biosses-sts", "d3fb88f8f02e40887cd149695127462bbcf29b4a"),
    TaskInfo("STS17", "mteb/sts17-crosslingual-sts", "faeb762787bd10488a50c8b5be4a3b82e411949c",
             subsets=STS17_SUBSETS, default_subset="en-en"),
    TaskInfo("STS22", "mteb/sts22-crosslingual-sts", "de9d86b3b84231dc21f76c7b7af1f28e2f57f6e3",
             subsets=STS22_SUBSETS, default_subset="en", params={"min_score": 1.0, "max_score": 4.0}),
)}


@dataclass(frozen=True)
class TaskSpec:
    """A task and (for a multilingual one) its subset, as written on the command line."""

    task: TaskInfo
    subset: str = ""

    @property
    def label(self) -> str:
        """The data set name in test ids, reports and baseline keys: ``STS13``, ``STS17:en-en``."""
        return f"{self.task.name}:{self.subset}" if self.subset else self.task.name


def known_names() -> str:
    return ", ".join(STS_TASKS)


def parse_task(text: str) -> TaskSpec:
    """``STS13`` or ``STS17:en-en``; ValueError naming the known tasks (or subsets) otherwise."""
    text = text.strip()
    name, _, subset = text.partition(":") if ":" in text else text.partition(".")  # STS17:en-en or STS17.en-en
    task = STS_TASKS.get(name)
    if task is None:
        raise ValueError(f"unknown STS task {name!r}; MTEB's STS tasks are {known_names()}")
    return TaskSpec(task, task.subset_of(subset))


def task_file(folder: Path, spec: TaskSpec) -> Path:
    """The task's file in a local folder (``STS13.csv``, or ``STS13/test.csv`` as --embed-task-path lays tasks
    out), also one level down (``mteb-sts/STS13.csv``); else a DataError naming every name looked for."""
    stems = [f"{spec.task.name}.{spec.subset}", f"{spec.task.name}-{spec.subset}"] if spec.subset else [
        spec.task.name]
    names = [f"{stem}{suffix}" for stem in stems for suffix in SUFFIXES]
    names += [f"{stem}/{spec.task.split}{suffix}" for stem in stems for suffix in SUFFIXES]
    if spec.task.name == "STSBenchmark":
        names.append("sts-test.csv")
    for base in [folder] + sorted(path for path in folder.iterdir() if path.is_dir()):
        for name in names:
            if (base / name).is_file():
                return base / name
    raise DataError(f"{folder}: no file for STS task {spec.label} (looked for {', '.join(names)}, "
                    "in it and in its subfolders)")


def load_task_local(folder: Path, spec: TaskSpec) -> StsDataset:
    if not folder.is_dir():
        raise DataError(f"{folder} must be a folder holding one file per STS task (STS13.csv ...) or one "
                        "subfolder per task (STS13/test.csv ...)")
    file = task_file(folder, spec)
    return replace(_dataset(spec.label, spec.task.split, str(file), read_file(file)), task=True)


def load_task_hub(spec: TaskSpec) -> StsDataset:
    """The task's evaluated split from the hub at MTEB's pinned revision (fails fast when offline)."""
    from pytest_embedeval.core.hub import load_hub_tables

    task = spec.task
    [table] = load_hub_tables(task.hub_id, [(None, task.split)], revision=task.revision,
                              what=f"STS task {spec.label} ({task.hub_id!r} at revision {task.revision[:10]})",
                              local=f"pass --embed-sts-path=FOLDER holding {task.name}.csv")
    where = f"hub:{task.hub_id}@{task.revision[:10]}[{task.split}]"
    rows = [_row(f"{where} row {i}", r["sentence1"], r["sentence2"], r["score"])
            for i, r in enumerate(table) if not spec.subset or r.get("lang") == spec.subset]
    return replace(_dataset(spec.label, task.split, f"hub:{task.hub_id}", rows), task=True)


def load_task(path: Path | None, name: str) -> StsDataset:
    """The data of the task written ``name``: from the folder ``path``, else the hub."""
    try:
        spec = parse_task(name)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    try:
        return load_task_local(path, spec) if path is not None else load_task_hub(spec)
    except OSError as exc:
        raise DataError(f"{exc.filename or path}: {exc.strerror or exc}") from None
