"""False alarms of the speed gate between fresh processes, on the latency suite's own workloads.

``gate_quality.py`` pairs runs inside one process.  A CI run compares a fresh
process with a baseline recorded by another, so this benchmark starts
``--processes`` fresh processes; each loads MiniLM and the yardstick and times,
for every workload of ``suites/test_latency.py`` (batch 1, 8, 32 x short, long),
two windows of rounds in alternation with the yardstick, as the plugin does for
the gate.  Then every process judges every other (first window against the
baseline's first window; both directions, since the test is one-sided), with
and without the confirmation the plugin applies: a second window of rounds
must fail too.  Nothing is slowed down here: every alarm is a false one.

    python benchmarks/gate_across_processes.py [--processes 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown  # noqa: E402

from pytest_embedeval.gate.stats import ALPHA, latency_change, speed_fails  # noqa: E402

BATCH_SIZES = (1, 8, 32)
LENGTHS = ("short", "long")
WINDOWS = 2
CHILD = """
import json, sys, tempfile
from pathlib import Path
from pytest_embedeval.measure.latency import Timing, make_inputs, time_normalised, yardstick_words
from pytest_embedeval.measure.yardstick import calibration_model, calibration_workload
from pytest_embedeval.models.pool import load_target
from pytest_embedeval.models.targets import EmbedTarget, resolve_model

model = load_target(EmbedTarget(resolve_model("minilm", Path(".")), "cpu"))
out = {}
with tempfile.TemporaryDirectory() as folder:
    yardstick = calibration_workload("cpu", calibration_model(Path(folder) / "calibration"))
    for length in %(lengths)r:
        for batch in %(batch_sizes)r:
            texts = make_inputs(length, batch)
            run = lambda: model.encode(texts, batch_size=batch, show_progress_bar=False, convert_to_numpy=True)
            out[f"bs{batch}:{length}"] = [time_normalised(run, yardstick(yardstick_words(texts), batch), Timing())[0]
                                          for _ in range(%(windows)d)]
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=10)
    parser.add_argument("--max-slowdown", type=float, default=0.10)
    args = parser.parse_args()
    child = CHILD % {"lengths": LENGTHS, "batch_sizes": BATCH_SIZES, "windows": WINDOWS}
    runs, started = [], time.perf_counter()
    for number in range(args.processes):
        done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{number + 1} processes, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    rows, totals = [], [0, 0, 0]
    for workload in runs[0]:
        alarms = confirmed = comparisons = 0
        ratios = []
        for base, now in itertools.permutations(runs, 2):
            first, second = (latency_change(base[workload][0], window, confidence=0.95, seed=0)
                             for window in now[workload])
            ratios.append(first.ratio)
            comparisons += 1
            if speed_fails(first, max_slowdown=args.max_slowdown, alpha=ALPHA):
                alarms += 1
                confirmed += speed_fails(second, max_slowdown=args.max_slowdown, alpha=ALPHA)
        totals = [totals[0] + comparisons, totals[1] + alarms, totals[2] + confirmed]
        rows.append([workload, str(comparisons), f"{min(ratios):.3f}-{max(ratios):.3f}",
                     f"{alarms / comparisons:.1%} ({alarms})", f"{confirmed / comparisons:.1%} ({confirmed})"])
    n, alarms, confirmed = totals
    rows.append(["all", str(n), "", f"{alarms / n:.1%} ({alarms})", f"{confirmed / n:.1%} ({confirmed})"])
    print(f"\nMiniLM, {args.processes} fresh processes, every ordered pair; tolerance {args.max_slowdown:.0%}, "
          f"Mann-Whitney alpha {ALPHA}; ratio = median of the first windows, in yardstick units\n")
    print(markdown(["workload", "comparisons", "A/A ratio range", "false alarms, one window",
                    "false alarms, confirmed by a second window"], rows))


if __name__ == "__main__":
    main()
