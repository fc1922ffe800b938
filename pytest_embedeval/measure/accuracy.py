"""What every accuracy kind (a task type: STS, retrieval, classification ...) offers the rest of the package.

A kind is one module in ``measure/``: its data (a :class:`TaskData`), its
evaluation into a frozen result with per-item scores (a :class:`TaskResult`;
:func:`embed_unique` encodes the texts), and one :class:`Kind` object describing it.
:data:`measure.registry.KINDS` lists them; the gate (``entries.AccuracyEntry``),
the reports (tables, selection, trade-off, JUnit, JSON) and the plugin
(``--embed-tasks``, ``embed_eval.task``) iterate that list and never ask which
kind they hold.  How to add one: docs/kinds.md.

Every kind is gated the same way: its baseline keeps the per-item scores
(float32), and the gate bootstraps the change of the main score over the same
items (``gate.stats.paired_change``) with ``Kind.score``.
"""

from __future__ import annotations

import time
from dataclasses import KW_ONLY, asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Sequence, TypeVar

from pytest_embedeval.core.fingerprint import content_fingerprint
from pytest_embedeval.errors import DataError, EmbedEvalError
from pytest_embedeval.models.targets import Targeted

Encoder = Callable[[list[str]], Any]  # texts -> 2-D float array, one row per text
ResultT = TypeVar("ResultT", bound="TaskResult")


@dataclass(frozen=True)
class Column:
    """One column of a kind's table: ``header``, the record field, and how it is shown."""

    header: str
    field: str
    digits: int | None = 2  # None: the value as text
    scale: float = 1.0  # 100: a 0-1 figure shown in points


@dataclass(frozen=True)
class TaskInfo:
    """An MTEB task of a kind: where it lives on the hub (pinned), which split MTEB scores, its parameters."""

    name: str
    hub_id: str
    revision: str
    split: str = "test"
    subsets: tuple[str, ...] = ()  # language subsets; () for a monolingual task
    default_subset: str = ""  # the subset MTEB's English benchmarks use
    params: dict[str, Any] = field(default_factory=dict, compare=False)  # samples_per_label, train split ...

    def subset_of(self, subset: str) -> str:
        """The subset asked for (checked), or the default; ValueError names the known ones."""
        if subset and subset not in self.subsets:
            if not self.subsets:
                raise ValueError(f"{self.name} has no language subsets (write {self.name})")
            raise ValueError(f"{self.name} has no subset {subset!r}; its subsets are {', '.join(self.subsets)}")
        return subset or self.default_subset


@dataclass(frozen=True)
class TaskSpec:
    """A task as written on the command line: its kind, its metadata and its subset."""

    kind: Any  # Kind
    info: TaskInfo
    subset: str = ""

    @property
    def label(self) -> str:
        """The name in test ids, reports and baseline keys: ``Banking77Classification``, ``SIB200...S2S.eng_Latn``."""
        return f"{self.info.name}{self.kind.subset_sep}{self.subset}" if self.subset else self.info.name


@dataclass(frozen=True)
class TaskData:
    """What every kind's data set is: a named split from a source, known by its content (baselines and the
    embedding cache are keyed on ``fingerprint``, so an edited file is never compared with its old scores).

    A kind's data adds its texts, and says what is scored (``content``) and how much it holds (``counts``)."""

    name: str  # the task, or the file's or folder's name
    split: str
    source: str  # absolute path, or hub:<id>

    def content(self) -> Iterable[Iterable[Sequence[object]]]:
        """The groups of records that are scored: what the fingerprint hashes."""
        raise NotImplementedError

    def counts(self) -> str:
        """How much it holds, for its label: ``1500 pairs``."""
        raise NotImplementedError

    @cached_property
    def fingerprint(self) -> str:
        """16 hex digits of the content's hash."""
        return content_fingerprint(*self.content())

    @property
    def label(self) -> str:
        """The data in messages and reports: ``stsb/dev (1500 pairs, /data/sts-dev.csv)``."""
        return f"{self.name}/{self.split} ({self.counts()}, {self.source})"


@dataclass(frozen=True)
class Embedded:
    """The vectors of distinct texts, and the seconds encoding them took."""

    vectors: Any  # one row per distinct text
    row: dict[str, int]  # text -> its row
    seconds: float

    def of(self, texts: Iterable[str]) -> Any:
        """The vectors of ``texts`` in their order, repeats included."""
        return self.vectors[[self.row[text] for text in texts]]


def embed_unique(encode: Encoder, texts: Iterable[str], what: str) -> Embedded:
    """Encode each distinct text once (STS-B dev: 2,910 sentences instead of 3,000), timed, and check what came
    back, so a broken encoder fails here naming ``what`` (model, device, data), not deep in scoring."""
    import numpy as np

    unique = list(dict.fromkeys(texts))
    start = time.perf_counter()
    vectors = np.asarray(encode(unique))
    seconds = time.perf_counter() - start
    if vectors.ndim != 2 or len(vectors) != len(unique):
        raise EmbedEvalError(f"{what}: encode returned shape {vectors.shape} for {len(unique)} texts; "
                             "expected one row each")
    if not np.isfinite(vectors).all():
        raise EmbedEvalError(f"{what}: the model produced non-finite embeddings (NaN or inf); try float32")
    return Embedded(vectors, {text: i for i, text in enumerate(unique)}, seconds)


def per_item() -> Any:
    """A result field of per-item scores: what the gate resamples, kept out of the result's record and repr."""
    return field(repr=False, compare=False, metadata={"per_item": True})


@dataclass(frozen=True)
class TaskResult(Targeted):
    """What every accuracy result shares: what was scored, where and how, its record and its baseline entry's key.

    A kind's result adds ``KIND``, ``JUNIT`` and its scores (the per-item ones as :func:`per_item` fields); it
    overrides ``IDENTITY`` (the fields that tell two of its records apart in a report) only where its own differ."""

    KIND: ClassVar[str] = ""
    IDENTITY: ClassVar[tuple[str, ...]] = ("model", "device", "variant", "dataset", "split", "fingerprint",
                                           "batch_size", "prompt")
    model: str
    device: str
    dataset: str
    split: str
    source: str
    fingerprint: str
    _: KW_ONLY  # by keyword: so a kind's own fields need no defaults
    batch_size: int
    encode_seconds: float | None  # None when every embedding came from the cache
    variant: str = ""  # "" for fp32 on torch, else "int8", "onnx" ... (variants.py)
    prompt: str | None = None  # prepended to every text (models/prompts.py); to the queries where documents have theirs
    task: str = ""  # the MTEB task (``STS13``, ``STS17:en-en``) when the data is one, for the mean over tasks

    def to_dict(self) -> dict[str, Any]:
        """Its record for reports and baseline entries: every field but the per-item scores (thousands of numbers;
        an entry keeps them packed, as float32)."""
        record = asdict(self)
        for each in fields(self):
            if each.metadata.get("per_item"):
                del record[each.name]
        return record

    def entry_key(self) -> str:
        """Its baseline entry: the data (name, split, content), the batch size and the prompt, if any."""
        key = f"{self.KIND}:{self.dataset}/{self.split}:{self.fingerprint}:bs{self.batch_size}"
        from pytest_embedeval.models.prompts import prompt_digest

        # a changed prompt is a different measurement; no prompt keeps the plain key
        for name, tag in (("prompt", "prompt"), ("document_prompt", "document-prompt")):
            prompt = getattr(self, name, None)
            if prompt:
                key += f":{tag}-{prompt_digest(prompt)}"
        return key

    def at_least(self: ResultT, metric: str, points: float, minimum: float) -> ResultT:
        """The assertion behind ``assert_<score>(min=...)``: points below ``minimum`` fail, naming model and data;
        else the result, so assertions chain."""
        __tracebackhide__ = True  # the failure points at the user's line, not ours
        if not points >= minimum:
            raise AssertionError(f"{metric} {points:.2f} is below the minimum {minimum:.2f} for model {self.model} "
                                 f"on {self.device}, {self.dataset}/{self.split}")
        return self


@dataclass(frozen=True)
class Kind:
    """An accuracy kind, described as data; a kind whose score is not a mean of its items overrides ``score``."""

    name: str  # the result's KIND, the first part of its baseline keys
    result_type: Any  # its frozen result class (a TaskResult)
    title: str  # the heading of its table: "STS", "Classification"
    task_type: str  # MTEB's task type (prompts are looked up by it): "STS", "Classification"
    metric: str  # the main score as shown in verdicts: "Spearman", "accuracy x100"
    main_score: str  # the result field holding MTEB's main score
    points: float  # main score x points = points (the gate's unit): 100 for a 0-1 score, 1 for one already x100
    per_item: str  # the result field with the per-item scores the gate resamples
    count: str  # the result field counting them ("n_pairs")
    unit: str  # what they are ("pairs", "test rows")
    entry_fields: tuple[str, ...]  # result fields a baseline entry keeps as they are
    rounded: tuple[str, ...]  # result fields it keeps rounded to ``digits``
    columns: tuple[Column, ...]  # its table, after the model column
    entry_items: str = ""  # the per-item scores' name in a baseline entry (default: per_item + "_f32")
    digits: int = 5
    tasks: tuple[TaskInfo, ...] = ()  # the MTEB tasks of this kind, by name
    subset_sep: str = "."  # between task and subset in a task's label
    # the prompt roles of its texts, in the order ``evaluate`` takes one encoder each: (None,) for one encoder
    # and the task type's prompt; ("query", "document") where MTEB prompts queries and documents apart
    roles: tuple[str | None, ...] = (None,)

    @property
    def items_name(self) -> str:
        return self.entry_items or f"{self.per_item}_f32"

    def task(self, name: str) -> TaskInfo | None:
        return next((task for task in self.tasks if task.name == name), None)

    def main(self, record: dict[str, Any]) -> float | None:
        """The main score of a record (or a result's ``to_dict()``) in points, None when absent."""
        value = record.get(self.main_score)
        return None if value is None else value * self.points

    def shared(self, result: Any) -> tuple[Any, ...]:
        """Arrays ``score`` needs besides the per-item scores, the same on both sides (STS: the gold scores)."""
        return ()

    def score(self, *arrays: Any, axis: int = -1) -> Any:
        """The main score in points from ``shared`` then the per-item scores, vectorised along ``axis``."""
        import numpy as np

        return 100.0 * np.mean(arrays[-1], axis=axis)

    def unchanged(self, before: Any, after: Any) -> bool:
        """True when the main score cannot differ on any resample: the gate then reports exactly zero."""
        import numpy as np

        return bool(np.array_equal(before, after))

    def load(self, spec: TaskSpec, folder: Path | None) -> Any:
        """The data of a task named on the command line: from ``folder`` (one subfolder per task), else the hub."""
        raise DataError(f"{spec.label}: {self.title} tasks cannot be loaded by name")

    def evaluate(self, encode: Encoder, data: Any, *, model: str, device: str, batch_size: int) -> Any:
        """Embed the data's texts with ``encode`` (one encoder per role of ``roles``) and score them as MTEB
        does: a frozen result."""
        raise NotImplementedError


def task_folder(folder: Path, spec: TaskSpec) -> Path:
    """``FOLDER/<task>[.<subset>]``, or one level down (``FOLDER/mteb-classification/<task>``, so one folder
    can hold every kind's tasks), or a DataError saying what was looked for."""
    if not folder.is_dir():
        raise DataError(f"--embed-task-path {folder} is not a folder (one subfolder per task: "
                        f"{spec.info.name}/{spec.info.split}.csv ...)")
    names = list(dict.fromkeys([spec.label] + ([f"{spec.info.name}.{spec.subset}", f"{spec.info.name}-{spec.subset}"]
                                               if spec.subset else [])))
    for name in names:
        found = [folder / name] + sorted(folder.glob(f"*/{name}"))
        for candidate in found:
            if candidate.is_dir():
                return candidate
    raise DataError(f"{folder}: no folder for task {spec.label} (looked for {', '.join(names)} in it and in its "
                    "subfolders)")
