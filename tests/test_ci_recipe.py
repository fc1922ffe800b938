"""The CI recipe in examples/ is valid and runs exactly what the README documents."""

from __future__ import annotations

import configparser

import yaml

from .conftest import REPO

WORKFLOW = REPO / "examples" / "github-actions.yml"


def _run_lines() -> list[str]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    return [line.strip() for step in steps if "run" in step for line in step["run"].splitlines() if line.strip()]


def test_workflow_is_valid_yaml_with_the_steps_the_recipe_promises() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["gate"]["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert "pull_request" in workflow[True]  # yaml reads the key `on:` as the boolean True
    assert sum(u.startswith("actions/cache@") for u in uses) == 2  # model files and the embedding cache
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    for artifact in ("embedeval-report.json", "embedeval-summary.md", "embedeval-tradeoff/"):
        assert artifact in upload["with"]["path"]


def test_every_workflow_command_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    lines = _run_lines()
    assert lines, "the workflow runs nothing"
    missing = [line for line in lines if line not in readme]
    assert not missing, f"workflow commands absent from README.md: {missing}"


def test_tox_gate_runs_the_workflow_gate_command() -> None:
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(REPO / "tox.ini", encoding="utf-8")
    gate = tox["testenv:gate"]["commands"].replace(" {posargs}", "").strip()
    assert gate in _run_lines()
