"""Writing files so that a reader never sees half of one.

The temp file lives in the target's folder (``os.replace`` is atomic only
within one file system), is flushed and fsynced before the rename, and the
folder is fsynced after it, so a crash leaves the old file or the new one.

A writer killed between creating its temp file and the rename leaves that temp
file behind (``.<name>.<random>.tmp``).  Readers never see it: they open the
target's own name.  The next write of the same target deletes such leftovers
once they are older than :data:`STALE_S` (a younger one may belong to a writer
still at work).
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

STALE_S = 600.0


def dumps(data: Any) -> str:
    """The one JSON style of every file we write: sorted keys, indented, UTF-8, no NaN."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _file_mode(path: Path) -> int:
    """The replaced file's mode, else what a plain open() would give (mkstemp makes 0600)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _file_mode(path)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    _remove_stale_temps(path)


def _remove_stale_temps(path: Path) -> None:
    """Temp files of ``path`` left by killed writers (see the module docstring)."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if time.time() - leftover.stat().st_mtime > STALE_S:
                leftover.unlink()
        except FileNotFoundError:  # another writer removed it first
            pass


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps(data))
