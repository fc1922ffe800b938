"""How often does the speed gate cry wolf, and how often does it catch a real slowdown?

On this (noisy, shared) machine: MiniLM encodes a batch of short inputs (8 by default),
timed as the plugin times it for the gate (2 warm-up + 20 rounds, each in
alternation with the calibration workload).  Each trial measures a
baseline, an unchanged run (A/A), and runs slowed down by 15% and 30% (busy
work proportional to each call, so the extra cost is CPU time like a real
regression), each timed in two windows of rounds.  Each run is judged against
the baseline of a trial half the benchmark away (minutes apart), so slow drift
of the machine is in the data.  Prints the false-alarm rate and the detection
rates for several tolerances, for one window and for the rule the plugin
applies (an alarm stands only if the second window confirms it).

    python benchmarks/gate_quality.py [--trials 100] [--batch 8]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown  # noqa: E402

from pytest_embedeval.gate.stats import ALPHA, latency_change, speed_fails  # noqa: E402
from pytest_embedeval.measure.latency import LENGTHS, Timing, make_inputs, time_normalised  # noqa: E402
from pytest_embedeval.measure.yardstick import calibration_model, calibration_workload  # noqa: E402
from pytest_embedeval.models.pool import load_target  # noqa: E402
from pytest_embedeval.models.targets import EmbedTarget, resolve_model  # noqa: E402

TOLERANCES = (0.05, 0.08, 0.10, 0.15)
DEFAULT = 0.10
SLOWDOWNS = (1.0, 1.15, 1.30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    model = load_target(EmbedTarget(resolve_model("minilm", Path(".")), "cpu"))
    texts = make_inputs("short", args.batch)

    def slowed(factor: float):
        def run() -> None:
            start = time.perf_counter()
            model.encode(texts, batch_size=args.batch, show_progress_bar=False)
            spent = time.perf_counter() - start
            while time.perf_counter() - start < spent * factor:  # busy, like real extra work
                pass
        return run

    timing = Timing(rounds=20, warmup=2)
    scratch = tempfile.mkdtemp(prefix="embedeval-gate-quality-")
    yardstick = calibration_workload("cpu", calibration_model(Path(scratch) / "calibration"))
    calibration = yardstick(LENGTHS["short"], args.batch)
    baselines, runs = [], {factor: [] for factor in SLOWDOWNS}
    started = time.perf_counter()
    for trial in range(args.trials):
        baselines.append(time_normalised(slowed(1.0), calibration, timing)[0])
        for factor in SLOWDOWNS:  # two windows: the plugin fails a test only if the second confirms the first
            runs[factor].append([time_normalised(slowed(factor), calibration, timing)[0] for _ in range(2)])
        if trial % 10 == 9:
            print(f"{trial + 1} trials, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    shutil.rmtree(scratch, ignore_errors=True)
    n = args.trials
    changes = {factor: [[latency_change(baselines[(i + n // 2) % n], window, confidence=0.95, seed=i)
                         for window in runs[factor][i]] for i in range(n)] for factor in SLOWDOWNS}
    rows = []
    for tolerance in TOLERANCES:
        def rate(factor: float, windows: int) -> str:
            fired = sum(all(speed_fails(c, max_slowdown=tolerance, alpha=ALPHA) for c in pair[:windows])
                        for pair in changes[factor])
            return f"{fired / n:.1%}"

        rows.append([f"{tolerance:.0%}" + (" (default)" if tolerance == DEFAULT else "")]
                    + [f"{rate(factor, 1)} / {rate(factor, 2)}" for factor in SLOWDOWNS])
    ratios = sorted(pair[0].ratio for pair in changes[1.0])
    print(f"\nMiniLM, batch {args.batch} short, 20 rounds per window, {n} trials; Mann-Whitney alpha {ALPHA}; "
          f"A/A median ratio spread {ratios[0]:.3f}..{ratios[-1]:.3f}; each cell: one window / confirmed by a "
          "second window (what the plugin does)\n")
    print(markdown(["max slowdown", "false alarms (A/A)", "detected: 15% slower", "detected: 30% slower"], rows))


if __name__ == "__main__":
    main()
