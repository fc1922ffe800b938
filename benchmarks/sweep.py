"""A model x task sweep on one worker against two (pytest-xdist), on this machine, alternating.

Two models (the real all-MiniLM-L6-v2 and a random-weight MiniLM-L6 shape) over four tasks: MTEB's
STS13 and STS16 (scored as MTEB scores them), encode latency at batch 32, and memory (a fresh
process per probe).  One worker runs with torch's default threads; under ``-n 2`` each worker gets
half the cores (the plugin sets OMP_NUM_THREADS per worker; see docs/scale-out.md).  Prints the wall
time of each run, the ratio, and whether every accuracy figure of the two runs is equal.

    python benchmarks/sweep.py [--mteb-sts-path ../shared/data/mteb-sts] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, markdown  # noqa: E402

SWEEP = """
def test_sts(embed_eval, sts_dataset):
    embed_eval.sts()

def test_latency(embed_eval):
    embed_eval.latency(batch_size=32)

def test_memory(embed_eval):
    embed_eval.memory(batch_size=32)
"""
MODELS = "minilm,random:minilm-l6"
TASKS = "STS13,STS16"


def run(folder: Path, data: Path, workers: int, report: Path) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               f"--embed-models={MODELS}", f"--embed-sts-path={data}", f"--embed-sts-tasks={TASKS}",
               f"--embed-baseline-dir={folder / 'baselines'}", f"--embed-report={report}", "test_sweep.py"]
    if workers > 1:
        command += ["-n", str(workers)]
    environment = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"sweep with {workers} worker(s) failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def accuracy(report: Path) -> list[tuple]:
    records = json.loads(report.read_text())["results"]
    return sorted((r["model"], r["dataset"], r["spearman"], r["pearson"]) for r in records if r["kind"] == "sts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mteb-sts-path", type=Path, default=REPO.parent / "shared" / "data" / "mteb-sts")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    figures: dict[int, list[tuple]] = {}
    loads: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="embedeval-sweep-") as scratch:
        folder = Path(scratch)
        (folder / "test_sweep.py").write_text(SWEEP)
        for repeat in range(args.repeats):
            for workers in ((1, 2) if repeat % 2 == 0 else (2, 1)):  # alternating: drift hits both
                report = folder / f"report-{workers}-{repeat}.json"
                times[workers].append(run(folder, args.mteb_sts_path.resolve(), workers, report))
                found = accuracy(report)
                assert figures.setdefault(workers, found) == found, "a rerun changed an accuracy figure"
                loads[workers] = json.loads(report.read_text())["model_loads"]
                print(f"{workers} worker(s), run {repeat + 1}: {times[workers][-1]:.1f} s", file=sys.stderr, flush=True)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"\n{os.cpu_count()} cores; 2 models ({MODELS}) x 4 tasks ({TASKS}, latency at batch 32, memory); "
          f"median of {args.repeats} runs each, alternating; load average before: {os.getloadavg()[0]:.1f}\n")
    print(markdown(["workers", "wall s (runs)", "ratio to one worker", "model loads"],
                   [["1", f"{one:.1f} ({', '.join(f'{t:.0f}' for t in times[1])})", "1.00", json.dumps(loads[1])],
                    ["2 (-n 2, threads split)", f"{two:.1f} ({', '.join(f'{t:.0f}' for t in times[2])})",
                     f"{two / one:.2f}", json.dumps(loads[2])]]))
    equal = figures[1] == figures[2]
    print(f"\naccuracy figures equal between the runs: {equal} ({len(figures[1])} STS scores)")
    for model, dataset, spearman, pearson in figures[1]:
        print(f"  {model} {dataset}: spearman {spearman} pearson {pearson}")
    if not equal:
        raise SystemExit(f"figures differ: {figures}")


if __name__ == "__main__":
    main()
