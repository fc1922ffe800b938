"""Prompts as MTEB applies them: which of a model's prompts a task role gets.

A model's prompts (sentence-transformers' ``prompts``, from its
``config_sentence_transformers.json``, or ``--embed-prompts``, which wins as
MTEB's ``model_prompts`` win over the model's own) are looked up in MTEB's
order (``AbsEncoder.get_prompt_name``): ``<task>-<role>``, ``<task>``,
``<task type>-<role>``, ``<task type>``, ``<role>``.  Roles are ``query`` and
``document`` (retrieval); STS has none, so only a task name (``STSBenchmark``)
or the type ``STS`` can give it a prompt: a model with only query/document
prompts, E5 or BGE for example, gets none on STS, as on the MTEB leaderboard.
The prompt is prepended to each text (sentence-transformers' ``prompt=``).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

ROLES = ("query", "document")
# MTEB's task names for the data sets we score (measure/data.py names STS-B "stsb")
TASK_NAMES = {"stsb": "STSBenchmark"}
KEY = re.compile(r"^[A-Za-z0-9][\w.]*(-(query|document))?$")


def check_prompts(prompts: dict[str, Any]) -> dict[str, str]:
    """Keys MTEB accepts (a task name or type, ``query``, ``document``, ``<name|type>-<role>``); text values."""
    for key, value in prompts.items():
        if key in ("passage", "corpus"):
            raise ValueError(f"prompt key {key!r} is not one MTEB uses: write 'document'")
        if not isinstance(key, str) or not KEY.match(key):
            raise ValueError(f"prompt key {key!r} is not a task name or type, 'query', 'document' or "
                             "'<task>-query' / '<task>-document'")
        if not isinstance(value, str):
            raise ValueError(f"prompt {key!r} must be text, not {type(value).__name__}")
    return dict(prompts)


def parse_prompts(raw: str) -> dict[str, str]:
    """A JSON object (``{"query": "query: "}``) or ``KEY=TEXT`` items separated by ``;`` or new lines;
    ``none`` for no prompts at all (the model's own are not used either).  Text is kept as written."""
    text = raw.strip()
    if text.lower() == "none":
        return {}
    if text.startswith("{"):
        try:
            prompts = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON object: {exc}") from None
        if not isinstance(prompts, dict):
            raise ValueError("expected a JSON object of prompts")
        return check_prompts(prompts)
    prompts = {}
    for item in re.split(r";|\n", raw):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item.strip()!r}: write KEY=TEXT (e.g. query=query: ;document=passage: ) or JSON")
        prompts[key.strip()] = value.lstrip("\n")
    if not prompts:
        raise ValueError("expected KEY=TEXT items, a JSON object or 'none'")
    return check_prompts(prompts)


def prompt_name(prompts: dict[str, str], task_name: str | None, task_type: str | None,
                role: str | None) -> str | None:
    """MTEB's ``get_prompt_name``: the key of ``prompts`` this task and role use, or None."""
    if task_name and role and f"{task_name}-{role}" in prompts:
        return f"{task_name}-{role}"
    if task_name and task_name in prompts:
        return task_name
    if task_type and role and f"{task_type}-{role}" in prompts:
        return f"{task_type}-{role}"
    if task_type and task_type in prompts:
        return task_type
    if role and role in prompts:
        return role
    return None


def prompt_for(prompts: dict[str, str], task_name: str | None, task_type: str | None,
               role: str | None) -> tuple[str | None, str | None]:
    """(key, prompt) for a task role; an empty prompt counts as none (it changes no text)."""
    name = prompt_name(prompts, task_name, task_type, role)
    return (name, prompts[name]) if name is not None and prompts[name] else (None, None)


def sts_prompt(prompts: dict[str, str], dataset: str) -> tuple[str | None, str | None]:
    """The prompt both sentences of an STS pair get (MTEB: no role)."""
    return prompt_for(prompts, TASK_NAMES.get(dataset, dataset), "STS", None)


def folder_prompts(folder: Path | None) -> dict[str, str] | None:
    """A sentence-transformers folder's own prompts, read without loading it; None when there is no folder."""
    if folder is None:
        return None
    try:
        config = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    prompts = config.get("prompts") if isinstance(config, dict) else None
    return {k: v for k, v in prompts.items() if isinstance(v, str)} if isinstance(prompts, dict) else {}


def prompt_digest(prompt: str) -> str:
    """Eight hex digits naming a prompt in baseline keys: a changed prompt is a different measurement."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8]
