"""The one list of accuracy kinds: the plugin, the gate and the reports iterate it.

Adding a kind adds its module and one line here (docs/kinds.md).  Latency and
memory are measurements of cost, not task types: they keep their own result
and entry types (``measure.RESULT_TYPES``, ``gate.entries.ENTRY_TYPES``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_embedeval.measure import classification, clustering, pair_classification, ranking, reranking, sts
from pytest_embedeval.measure.accuracy import Kind, TaskInfo, TaskSpec

KINDS: tuple[Kind, ...] = (
    sts.KIND,
    ranking.KIND,
    classification.KIND,
    clustering.KIND,
    pair_classification.KIND,
    reranking.KIND,
)
BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}


def kind_of(record: dict[str, Any] | Any) -> Kind | None:
    """The accuracy kind of a record (``{"kind": ...}``) or a result; None for latency and memory."""
    name = record.get("kind") if isinstance(record, dict) else getattr(record, "KIND", None)
    return BY_NAME.get(name)


def known_tasks() -> str:
    return ", ".join(task.name for kind in KINDS for task in kind.tasks)


def parse_task(text: str, folder: Path | None = None) -> TaskSpec:
    """``Banking77Classification``, ``SIB200ClusteringS2S.eng_Latn``, ``STS17:en-en``: the kind that owns it;
    else a task of the user's own: ``folder/<name>/task.json`` names its kind and parameters.

    ValueError names the known tasks (or the task's subsets)."""
    text = text.strip()
    for kind in KINDS:
        for sep in (":", "."):
            name, _, subset = text.partition(sep)
            info = kind.task(name)
            if info is not None and (sep in text or not subset):
                return TaskSpec(kind, info, info.subset_of(subset))
    if folder is not None and (folder / text / "task.json").is_file():
        return own_task(folder / text / "task.json", text)
    where = f" and {folder} has no {text}/task.json" if folder is not None else ""
    raise ValueError(f"unknown MTEB task {text!r}{where}; known: {known_tasks()}")


def task_names(names: tuple[str, ...], sts_only: bool = False) -> tuple[str, ...]:
    """``--embed-tasks``: MTEB's written as their labels (``STS17.en-en`` -> ``STS17:en-en``); other names may be
    the user's task folders, checked against --embed-task-path when the run is built.  ``sts_only``
    (``--embed-sts-tasks``): every name must be an MTEB STS task (ValueError names the known ones)."""
    if sts_only:
        from pytest_embedeval.measure.tasks import parse_task as parse_sts

        return tuple(name for name in names if parse_sts(name))
    return tuple(dict.fromkeys(label_of(name) for name in names))


def label_of(name: str) -> str:
    """An MTEB task's label (``STS17.en-en`` -> ``STS17:en-en``); any other name as it is."""
    try:
        return parse_task(name).label
    except ValueError:
        return name


def own_task(path: Path, name: str) -> TaskSpec:
    """A user's task folder: ``task.json`` is ``{"kind": "classification", "samples_per_label": 16, ...}``
    (any of the kind's parameters; ``split``: the evaluated split, default test)."""
    import json

    try:
        params = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON object ({exc})") from None
    if not isinstance(params, dict) or params.get("kind") not in BY_NAME:
        raise ValueError(f"{path}: 'kind' must be one of {', '.join(BY_NAME)}")
    kind = BY_NAME[params.pop("kind")]
    split = params.pop("split", "test")
    return TaskSpec(kind, TaskInfo(name, "", "", str(split), params=params))
