"""SIGKILL a process while it saves baselines: every file is old-complete or new-complete, never corrupt."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_embedeval.core import atomic

# the child saves versions 1, 2, 3 ... of one baseline file through the plugin's own store, as fast as it can
SAVER = """
import sys
from pathlib import Path
from pytest_embedeval.gate.store import BaselineStore

sys.path.insert(0, {tests!r})
from test_kill import version

store = BaselineStore(Path(sys.argv[1]))
start = int(sys.argv[2])
print("ready", flush=True)
for number in range(start, start + 1000000):
    store.write("minilm", version(number), replace=True)
    if number == start:
        print("saved", flush=True)
"""


def version(number: int) -> dict:
    """Baseline entries of ``number``: ~1 MB, so a kill often lands mid-write."""
    return {"cpu": {f"latency:bs{i}:short": {"version": number, "samples_ms": [number + i / 7] * 200}
                    for i in range(400)}}


def is_complete(path: Path) -> int:
    """The version the file holds, after checking it is that version in full."""
    data = json.loads(path.read_text(encoding="utf-8"))
    number = data["entries"]["cpu"]["latency:bs0:short"]["version"]
    assert data["entries"] == version(number)
    return number


def kill_loop(folder: Path, kills: int, seed: int = 0) -> tuple[int, int]:
    """``kills`` saver processes each SIGKILLed after a random time; (kills, corrupt files seen)."""
    rng = random.Random(seed)
    script = SAVER.format(tests=str(Path(__file__).parent))
    path, corrupt, next_version = folder / "minilm.json", 0, 1
    for _ in range(kills):
        child = subprocess.Popen([sys.executable, "-c", script, str(folder), str(next_version)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        # one save completes before the kill timer starts, however busy the machine: on a loaded 2-core
        # runner a fixed window could end before the first write did, and the loop then tested nothing
        assert child.stdout.readline().strip() == "saved"
        time.sleep(rng.uniform(0.0, 0.08))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        if path.exists():
            try:
                next_version = is_complete(path) + 1
            except (ValueError, KeyError, AssertionError):
                corrupt += 1
    return kills, corrupt


def test_sigkill_during_saves_never_leaves_a_corrupt_baseline(tmp_path: Path) -> None:
    kills, corrupt = kill_loop(tmp_path, 100)
    assert corrupt == 0
    path = tmp_path / "minilm.json"
    assert is_complete(path) > 1  # the saves did happen between the kills
    # leftovers of killed writers are hidden temp files; the next write clears those no writer can still own
    leftovers = list(tmp_path.glob(".minilm.json.*.tmp"))
    assert {p.name for p in tmp_path.iterdir()} - {p.name for p in leftovers} == {"minilm.json"}
    for leftover in leftovers:
        os.utime(leftover, (time.time() - atomic.STALE_S - 1,) * 2)
    atomic.write_json_atomic(tmp_path / "other.json", {})  # another target: its temps only
    assert all(p.exists() for p in leftovers)
    atomic.write_json_atomic(path, {"schema": 1, "entries": {}})
    assert not list(tmp_path.glob(".minilm.json.*.tmp"))


def test_a_young_temp_file_is_left_to_its_writer(tmp_path: Path) -> None:
    young = tmp_path / ".minilm.json.abc.tmp"
    young.write_text("being written")
    atomic.write_json_atomic(tmp_path / "minilm.json", {})
    assert young.exists()


@pytest.mark.parametrize("payload", [{"a": float("nan")}, {"a": object()}])
def test_a_write_that_fails_leaves_the_old_file(tmp_path: Path, payload: dict) -> None:
    path = tmp_path / "minilm.json"
    atomic.write_json_atomic(path, {"old": True})
    with pytest.raises((ValueError, TypeError)):
        atomic.write_json_atomic(path, payload)
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["minilm.json"]
