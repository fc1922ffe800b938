"""Keeping timings honest under pytest-xdist: one timing at a time, nothing else while it runs.

Two workers on a 2-core machine that time ``encode`` at once each measure the
other's load.  Workers share one lock file (created by the controller, passed
in ``workerinput``): a latency measurement holds it exclusively, any other
heavy work (STS encodes, the memory probe's child process) holds it shared.  So timings never overlap
each other or an encode on another worker, while STS encodes still run in
parallel.  ``fcntl.flock`` is released by the kernel if a worker dies.
Without xdist, or where fcntl is missing (Windows), the lock does nothing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

WORKERINPUT_KEY = "embedeval_lock"


class MeasurementLock:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    @contextlib.contextmanager
    def _hold(self, exclusive: bool) -> Iterator[None]:
        try:
            import fcntl
        except ImportError:  # Windows: no flock; xdist timings there may overlap
            fcntl = None  # type: ignore[assignment]
        if self.path is None or fcntl is None:
            yield
            return
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def timing(self) -> contextlib.AbstractContextManager[None]:
        """Held while timing: no other worker encodes meanwhile."""
        return self._hold(exclusive=True)

    def encoding(self) -> contextlib.AbstractContextManager[None]:
        """Held while encoding for accuracy: runs beside other encodes, never beside a timing."""
        return self._hold(exclusive=False)
