"""SIGKILL baseline saves at random moments and count corrupt files (there should be none).

    python benchmarks/kill_loop.py [--kills 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_kill import kill_loop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        kills, corrupt = kill_loop(Path(folder), args.kills, args.seed)
        leftovers = len(list(Path(folder).glob(".*.tmp")))
    print(f"{kills} kills, {corrupt} corrupt ({leftovers} temp files of killed writers left for the next "
          f"write to clear; {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
