"""``<kind>_task`` fixtures (sts_task, classification_task ...), parametrized over the run's --embed-tasks of that
kind; without one, a single skipped case that says which option to set."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_embedeval.measure.registry import KINDS, parse_task

if TYPE_CHECKING:
    from pytest_embedeval.plugin.run import EmbedRun


def parametrize_tasks(metafunc: pytest.Metafunc, run: EmbedRun | None, no_models: str) -> None:
    owners = {}
    for task in (run.settings.tasks or ()) if run is not None else ():
        try:  # checked when the run was built
            owners[task] = parse_task(task, run.settings.task_path).kind
        except ValueError:
            pass
    for kind in KINDS:
        name = f"{kind.name}_task"
        if name not in metafunc.fixturenames or any(name in str(m.args[:1]) for m in metafunc.definition.iter_markers(
                "parametrize")):
            continue
        mine = [task for task, owner in owners.items() if owner is kind]
        if not mine:
            known = ", ".join(task.name for task in kind.tasks[:3]) or "TASK"
            reason = no_models if run is None else (
                f"no {kind.title} task: pass --embed-tasks={known}... (or set embed_tasks in the ini file)")
            mine = [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-task")]
        metafunc.parametrize(name, mine)
