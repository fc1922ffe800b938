"""pytest-xdist: workers measure, the controller writes.

Every worker sends its results and the baselines it would write in one typed
message (``config.workeroutput``, read in ``pytest_testnodedown``); only the
controller writes files.  Workers share one lock file (``core.lock``) that the
controller creates and passes on in ``workerinput``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, TypedDict

import pytest

from pytest_embedeval.core.lock import WORKERINPUT_KEY, MeasurementLock
from pytest_embedeval.report.records import ResultsMessage

OUTPUT_KEY = "embedeval"
_LOCK_FILE = pytest.StashKey[Path]()


class WorkerMessage(TypedDict):
    """What one worker hands the controller: its run results and the baseline entries to write."""

    results: ResultsMessage
    pending: dict[str, dict[str, dict[str, Any]]]  # model -> variant -> entry key -> entry


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_lock(config: pytest.Config) -> MeasurementLock:
    """The lock the controller made and passed on; no lock without xdist."""
    path = getattr(config, "workerinput", {}).get(WORKERINPUT_KEY)
    return MeasurementLock(Path(path) if path else None)


def lock_file(config: pytest.Config) -> Path:
    """The controller's lock file, in a folder removed when the run ends."""
    if _LOCK_FILE not in config.stash:
        folder = Path(tempfile.mkdtemp(prefix="embedeval-lock-"))
        config.stash[_LOCK_FILE] = folder / "measurements.lock"
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    return config.stash[_LOCK_FILE]


def send(config: pytest.Config, message: WorkerMessage) -> None:
    config.workeroutput[OUTPUT_KEY] = message  # type: ignore[attr-defined]


def received(node: Any) -> WorkerMessage | None:
    return getattr(node, "workeroutput", {}).get(OUTPUT_KEY)
