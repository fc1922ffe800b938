"""Does the speed gate false-alarm against a baseline recorded on another host? Cross-host A/A.

Runs the bundled latency suite for MiniLM (``suites/test_latency.py --embed-models=minilm``), as CI
would, ``--runs`` times in fresh pytest processes against one baseline file (default: the committed
``baselines/minilm.json``, copied to a temporary folder so nothing is rewritten), and prints each
run's outcome, the model layer's ratio per workload and the false-alarm rate with its exact
(Clopper-Pearson) 95% interval.  Its figures are also what ``HOST_NOISE`` in
``pytest_embedeval/gate/entries.py`` comes from: the spread of the model layer's offset when the
baseline's host is not this one.

    python benchmarks/cross_host.py [--runs 10] [--baseline baselines/minilm.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, markdown  # noqa: E402


def clopper_pearson(failed: int, runs: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    interval = binomtest(failed, runs).proportion_ci(confidence_level=0.95, method="exact")
    return interval.low, interval.high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline", type=Path, default=REPO / "baselines" / "minilm.json")
    parser.add_argument("--save", type=Path, help="write the raw figures as JSON here")
    args = parser.parse_args()
    env = {**os.environ, "EMBEDEVAL_STS_PATH": os.environ.get("EMBEDEVAL_STS_PATH")
           or str(REPO.parent / "shared" / "data" / "stsbenchmark")}
    rows, raw, failures = [], [], 0
    with tempfile.TemporaryDirectory() as folder:
        baselines = Path(folder) / "baselines"
        baselines.mkdir()
        shutil.copy(args.baseline, baselines / "minilm.json")
        for run in range(args.runs):
            report = Path(folder) / f"report-{run}.json"
            load = os.getloadavg()[0]
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "pytest", "suites/test_latency.py", "--embed-models=minilm",
                                   f"--embed-baseline-dir={baselines}", f"--embed-report={report}",
                                   "--embed-baseline-missing=fail", "-p", "no:cacheprovider", "-q"],
                                  cwd=REPO, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            verdicts = json.loads(report.read_text())["baseline_verdicts"] if report.exists() else []
            latency = [v for v in verdicts if v["kind"] == "latency"]
            failed = done.returncode != 0
            failures += failed
            ratios = {v["key"]: float(re.search(r"model x([0-9.]+)", v["change"]).group(1)) for v in latency
                      if "model x" in v["change"]}
            hosts = sorted({m.group(1) for v in latency for m in [re.search(r"baseline from ([^;:]+)", v["detail"])]
                            if m})
            raw.append({"run": run, "failed": failed, "seconds": seconds, "load": load, "ratios": ratios,
                        "verdicts": latency})
            rows.append([str(run + 1), "FAIL" if failed else "pass", f"{load:.1f}", f"{seconds:.0f}",
                         *(f"x{ratios[k]:.3f}" if k in ratios else "-" for k in
                           ("latency:bs1:short", "latency:bs8:short", "latency:bs32:short")),
                         "; ".join(hosts) or "-"])
            print(" | ".join(rows[-1]), flush=True)
            if failed:
                print("\n".join(done.stdout.splitlines()[-15:]), flush=True)
    print(markdown(["run", "outcome", "load (1 min)", "s", "model bs1", "model bs8", "model bs32", "verdict says"],
                   rows))
    low, high = clopper_pearson(failures, args.runs)
    print(f"\nfailed runs: {failures}/{args.runs} ({failures / args.runs:.0%}; Clopper-Pearson 95%: "
          f"{low:.1%}-{high:.1%})")
    logs = [math.log(r) for item in raw for r in item["ratios"].values()]
    if len(logs) > 1:
        print(f"model layer, log ratio over all workloads and runs: mean {statistics.fmean(logs):+.4f}, "
              f"sd {statistics.stdev(logs):.4f}, max x{math.exp(max(logs)):.3f}")
    if args.save:
        args.save.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
