"""Reviewed baselines on disk: one JSON file per model under ``baselines/``; files only, no judging.

One file per model because that is how changes arrive: upgrading a model
touches one file, its diff reads as that model's new figures, and two pull
requests changing two models do not conflict.  Inside, entries are keyed by
variant (the device, with the precision/backend) and by measurement::

    {"schema": 1, "model": "minilm",
     "entries": {"cpu": {"sts:stsb/dev:eedcd2dd2821f58d:bs32": {...},
                         "latency:bs32:short": {...}, "memory:bs32:short": {...}}}}

What an entry holds is ``entries.py``'s business.  Files are written
atomically and never over a file that could not be read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pytest_embedeval.core.atomic import write_json_atomic
from pytest_embedeval.errors import BaselineError

SCHEMA = 1


class BaselineStore:
    """Reads and writes ``<folder>/<model>.json``; every problem names the file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, dict[str, Any] | None] = {}

    def path(self, model: str) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9._-]", "_", model) + ".json")

    def read(self, model: str) -> dict[str, Any] | None:
        """The file's content, validated; None when there is no file."""
        path = self.path(model)
        if not path.exists():
            return None
        # never "--embed-baseline-update": a file that cannot be read is never written over
        advice = "restore it from version control, or delete it and record it again with --embed-baseline-save"
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BaselineError(f"{path}: not UTF-8 (byte {exc.start}); {advice}") from None
        except OSError as exc:
            raise BaselineError(f"{path}: cannot be read ({exc.strerror}); {advice}") from None
        if not text.strip():
            raise BaselineError(f"{path}: the file is empty; {advice}")
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}), "
                                f"perhaps truncated; {advice}") from None
        except ValueError as exc:  # NaN / Infinity, which we never write
            raise BaselineError(f"{path}: {exc}; {advice}") from None
        except RecursionError:
            raise BaselineError(f"{path}: JSON nested too deeply to be a baseline; {advice}") from None
        return validate(data, path, advice)

    def load(self, model: str) -> dict[str, Any] | None:
        if model not in self._files:
            self._files[model] = self.read(model)
        return self._files[model]

    def entry(self, model: str, variant: str, key: str) -> dict[str, Any] | None:
        data = self.load(model)
        return None if data is None else data["entries"].get(variant, {}).get(key)

    def keys(self, model: str, variant: str) -> list[str]:
        data = self.load(model)
        return [] if data is None else sorted(data["entries"].get(variant, {}))

    def write(self, model: str, updates: dict[str, dict[str, Any]], *, replace: bool) -> Path:
        """Merge ``updates`` (variant -> key -> entry) into the model's file, atomically.

        The file is read again first: a file that cannot be read raises and is
        left as it is, never overwritten.
        """
        data = self.read(model) or {"schema": SCHEMA, "model": model, "entries": {}}
        for variant, entries in updates.items():
            known = data["entries"].setdefault(variant, {})
            for key, entry in entries.items():
                if replace or key not in known:
                    known[key] = entry
        path = self.path(model)
        write_json_atomic(path, data)
        self._files[model] = data
        return path


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a baseline can hold")


def validate(data: Any, path: Path, advice: str) -> dict[str, Any]:
    if not isinstance(data, dict) or not isinstance(data.get("schema"), int):
        raise BaselineError(f"{path}: not a pytest-embedeval baseline (no schema number); {advice}")
    if data["schema"] > SCHEMA:
        raise BaselineError(f"{path}: baseline schema {data['schema']} is newer than this plugin reads "
                            f"({SCHEMA}); upgrade pytest-embedeval")
    if data["schema"] < SCHEMA:
        raise BaselineError(f"{path}: baseline schema {data['schema']} is older than this plugin reads "
                            f"({SCHEMA}); delete it and record it again with --embed-baseline-save")
    entries = data.get("entries")
    if not isinstance(entries, dict) or not all(
            isinstance(variant, dict) and all(isinstance(entry, dict) for entry in variant.values())
            for variant in entries.values()):
        raise BaselineError(f"{path}: 'entries' must map variant -> measurement -> entry; {advice}")
    return data
