"""The model-upgrade check's speed criterion on an unchanged model: MiniLM against a second MiniLM.

In each of ``--processes`` fresh processes, two instances of MiniLM are timed at batch 32 as
``gate.acceptance.evaluate_upgrade`` times candidate and incumbent (``LOOK_TWO_WINDOWS`` windows of
``WINDOW_ROUNDS`` alternating rounds, the median log ratio per window), three ways:

* ``a/a fixed``: one instance in both turns of a round: what the position in a round alone does;
* ``a/b fixed``: the two instances, candidate always first (the check before 2026-11-29);
* ``a/b rotated``: the two, taking turns at going first (AB BA), as the check times now.

Per way: each process's ratio, their log standard deviation, and how many the check would reject at
the default 5% tolerance (``stats.ratio_slowdown`` with the gate's process noise).

    python benchmarks/acceptance_noise.py [--processes 10]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown  # noqa: E402

WAYS = ("a/a fixed", "a/b fixed", "a/b rotated")


def child() -> None:
    from dataclasses import replace

    from sentence_transformers import SentenceTransformer

    from pytest_embedeval.gate.entries import LOOK_TWO_WINDOWS
    from pytest_embedeval.measure.latency import Timing, make_inputs, time_alternating
    from pytest_embedeval.measure.yardstick import WINDOW_ROUNDS
    from pytest_embedeval.models.aliases import ALIASES

    path = str(ALIASES["minilm"].local_path())
    a, b = SentenceTransformer(path, device="cpu"), SentenceTransformer(path, device="cpu")
    texts = make_inputs("short", 32)
    run = {name: (lambda m=m: m.encode(texts, batch_size=32, show_progress_bar=False)) for name, m in (("a", a), ("b", b))}
    setups = {"a/a fixed": ([run["a"], run["a"]], False), "a/b fixed": ([run["a"], run["b"]], False),
              "a/b rotated": ([run["a"], run["b"]], True)}
    windows: dict[str, list[float]] = {way: [] for way in WAYS}
    for index in range(LOOK_TWO_WINDOWS):  # the three ways take turns window by window: drift hits all
        for way in WAYS:
            runs, rotate = setups[way]
            timing = replace(Timing(), rounds=WINDOW_ROUNDS, warmup=2 if index == 0 else 1)
            first, second = time_alternating(runs, timing, rotate=rotate)
            windows[way].append(statistics.median(math.log(x / y) for x, y in zip(first, second)))
    print(json.dumps(windows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args()
    from pytest_embedeval.gate.entries import PROCESS_NOISE
    from pytest_embedeval.gate.stats import ratio_slowdown
    from pytest_embedeval.gate.verdict import Status

    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import acceptance_noise as b; b.child()"
    found: dict[str, list[float]] = {way: [] for way in WAYS}
    rejected = {way: 0 for way in WAYS}
    for process in range(args.processes):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
        windows = json.loads(out.strip().splitlines()[-1])
        line = []
        for way in WAYS:
            speed = ratio_slowdown(windows[way], tolerance=args.tolerance, process_noise=PROCESS_NOISE["model"])
            found[way].append(statistics.fmean(windows[way]))
            rejected[way] += speed.decision == Status.FAIL
            line.append(f"{way} x{speed.ratio:.3f} [{speed.low:.3f}, {speed.high:.3f}]")
        print(f"process {process + 1}: " + "; ".join(line), flush=True)
    rows = [[way, f"x{math.exp(statistics.fmean(v)):.3f}", f"{statistics.stdev(v):.3f}",
             f"x{math.exp(min(v)):.3f}-x{math.exp(max(v)):.3f}", f"{rejected[way]}/{len(v)}"]
            for way, v in found.items()]
    print(markdown(["way", "mean ratio", "log sd", "range", f"rejected at {args.tolerance:.0%}"], rows))


if __name__ == "__main__":
    main()
