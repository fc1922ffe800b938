"""Does the speed gate tell noise from change? False alarms and detection between fresh processes.

A CI run compares a fresh process with a baseline another process recorded, so every trial here is
a fresh process (``--processes`` of them, one after another, so they fall in different minutes).
Each loads MiniLM and the gate's yardstick and reference, and for each workload of the bundled
latency suite (batch 1, 8, 32 of short inputs) times three gate windows under five conditions:

- ``A/A``: nothing changed;
- ``stack +10%`` / ``stack +20%``: every ``torch.nn.Linear`` call of the process does extra work
  (the model's *and* the yardstick's), sized so that the model's encode slows by that much: what a
  slower torch, transformers or BLAS does;
- ``model +10%`` / ``model +20%``: the same extra work in the measured model's Linear layers only.

Process *i* is then judged against process *i-1*'s A/A windows (its baseline, three windows as a
save keeps) by the plugin's own verdict code (``gate.judge.judge``), with the two looks the plugin
takes: the first window, then all three when the first cannot decide.  Every A/A failure is a false
alarm; every injected one that passes is a miss.  Rates come with their exact (Clopper-Pearson)
95% interval.  The ``effective`` column is the model's own raw slowdown measured in the process.

    python benchmarks/gate_quality.py [--processes 11] [--pause 0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown  # noqa: E402

BATCH_SIZES = (1, 8, 32)
CONDITIONS = ("A/A", "stack +10%", "stack +20%", "model +10%", "model +20%")
CHILD = """
import json, math, statistics, sys, tempfile, time
from pathlib import Path
import torch
from pytest_embedeval.measure.latency import Timing, encode_call
from pytest_embedeval.measure.yardstick import SpeedProbe, calibration_model
from pytest_embedeval.models.pool import load_target
from pytest_embedeval.models.targets import EmbedTarget, resolve_model

model = load_target(EmbedTarget(resolve_model("minilm", Path(".")), "cpu"))
plain = torch.nn.Linear.forward
extra = {"stack": 0.0, "model": 0.0}
mine = {id(m) for m in model.modules() if isinstance(m, torch.nn.Linear)}

def forward(self, x):
    out = plain(self, x)
    share = extra["stack"] + (extra["model"] if id(self) in mine else 0.0)
    if share > 0:
        flat = x.reshape(-1, x.shape[-1])
        whole, part = divmod(share * flat.shape[0], flat.shape[0])
        for _ in range(int(whole)):
            torch.nn.functional.linear(flat, self.weight, self.bias)
        if int(part):
            torch.nn.functional.linear(flat[: int(part)], self.weight, self.bias)
    return out

torch.nn.Linear.forward = forward

def median_ms(run, rounds=15):
    run(); samples = []
    for _ in range(rounds):
        start = time.perf_counter(); run(); samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3

out = {}
with tempfile.TemporaryDirectory() as folder:
    probe = SpeedProbe("cpu", calibration_model(Path(folder) / "yardstick"))
    for batch in %(batches)r:
        run, texts = encode_call(model, batch, "short")
        base = median_ms(run)
        extra["model"] = 1.0
        linear_share = median_ms(run) / base - 1.0  # what doubling every Linear costs this workload
        extra["model"] = 0.0
        found = {}
        for condition in %(conditions)r:
            layer, _, size = condition.partition(" +")
            target = float(size.rstrip("%%")) / 100 if size else 0.0
            if layer in extra:
                extra[layer] = target / linear_share
            windows = probe.windows(run, texts, batch, 3, timing=Timing(rounds=10, warmup=2))
            found[condition] = {"windows": [w.to_dict() for w in windows],
                                "effective": statistics.median(w.model_ms for w in windows)}
            extra["stack"] = extra["model"] = 0.0
        plain_ms = found["A/A"]["effective"]
        for condition in found:
            found[condition]["effective"] = found[condition]["effective"] / plain_ms - 1.0
        out[f"bs{batch}"] = found
print(json.dumps(out))
"""


def clopper_pearson(failures: int, trials: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    interval = binomtest(failures, trials).proportion_ci(confidence_level=0.95, method="exact")
    return interval.low, interval.high


def judged(baseline: list[dict], windows: list[dict], environment: dict) -> str:
    """The plugin's verdict with its two looks: one window, then three if the first cannot decide."""
    from dataclasses import replace

    from pytest_embedeval.gate.judge import judge
    from pytest_embedeval.gate.policy import Tolerance
    from pytest_embedeval.gate.verdict import MORE
    from pytest_embedeval.measure.latency import summarise
    from pytest_embedeval.measure.yardstick import CALIBRATION

    result = summarise([0.05, 0.05], batch_size=1, model="minilm", device="cpu", length="short", tokens=None,
                       warmup=2, threads=2)
    entry = {"samples_ms": [50.0, 50.0], "windows": baseline, "calibration": CALIBRATION, "environment": environment}
    tolerance = Tolerance(0.5, 0.05, 0.10)
    verdict = judge("latency", replace(result, windows=tuple(windows[:1])), entry, tolerance, where="benchmark",
                    environment=environment, confidence=0.95, seed=0, final=False)
    if verdict.status == MORE:
        verdict = judge("latency", replace(result, windows=tuple(windows)), entry, tolerance, where="benchmark",
                        environment=environment, confidence=0.95, seed=0, final=True)
    return verdict.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=11, help="fresh processes (trials = processes - 1)")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between processes")
    parser.add_argument("--save", type=Path, help="also write every process's windows to this JSON file")
    args = parser.parse_args()
    from pytest_embedeval.core.environment import describe

    environment = describe(Path("."))
    script = CHILD % {"batches": BATCH_SIZES, "conditions": CONDITIONS}
    runs, started = [], time.strftime("%H:%M")
    for index in range(args.processes):
        if index and args.pause:
            time.sleep(args.pause)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"process {index + 1}/{args.processes} done at {time.strftime('%H:%M:%S')}", file=sys.stderr)
    if args.save:
        args.save.write_text(json.dumps(runs))
    rows, totals = [], {}
    for condition in CONDITIONS:
        for batch in BATCH_SIZES:
            key = f"bs{batch}"
            statuses = [judged(before[key]["A/A"]["windows"], after[key][condition]["windows"], environment)
                        for before, after in zip(runs, runs[1:])]
            failures = statuses.count("FAIL")
            effective = sorted(run[key][condition]["effective"] for run in runs[1:])
            low, high = clopper_pearson(failures, len(statuses))
            rows.append([condition, f"batch {batch}", f"{effective[len(effective) // 2]:+.1%}",
                         f"{failures}/{len(statuses)}", f"{failures / len(statuses):.0%}", f"{low:.0%}-{high:.0%}"])
            totals.setdefault(condition, [0, 0])
            totals[condition][0] += failures
            totals[condition][1] += len(statuses)
    for condition, (failures, trials) in totals.items():
        low, high = clopper_pearson(failures, trials)
        rows.append([f"**{condition}**", "all", "", f"{failures}/{trials}", f"{failures / trials:.1%}",
                     f"{low:.1%}-{high:.1%}"])
    print(f"{args.processes} fresh processes from {started} to {time.strftime('%H:%M')}, "
          "each judged against the one before it (tolerance 5%)\n")
    print(markdown(["condition", "workload", "effective slowdown (median)", "gate failed", "rate",
                    "95% interval (Clopper-Pearson)"], rows))


if __name__ == "__main__":
    main()
