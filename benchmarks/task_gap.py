"""The seed's claim that the large model's advantage "narrows in simpler tasks (e.g. clustering broad topics)".

Runs the bundled STS, classification and clustering suites on MiniLM and a larger model in one pytest run
(STS-B dev, Banking77Classification, SIB200ClusteringS2S.eng_Latn, scored as MTEB scores them) and prints,
from the plugin's own JSON report, each model's main score per task and the gap in points and per cent.

    python benchmarks/task_gap.py [--large mpnet] [--sts-path ../shared/data/stsbenchmark]
                                  [--task-path ../shared/data]

``mpnet`` needs ``python scripts/fetch_mpnet.py`` first (or the hub).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, markdown, sts_arguments  # noqa: E402

TASKS = "Banking77Classification,SIB200ClusteringS2S.eng_Latn"
SUITES = ["suites/test_accuracy.py::test_sts_correlation", "suites/test_classification.py",
          "suites/test_clustering.py"]


def main() -> None:
    parser = sts_arguments(__doc__.splitlines()[0])
    parser.add_argument("--small", default="minilm")
    parser.add_argument("--large", default="mpnet")
    parser.add_argument("--task-path", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pytest", *SUITES, f"--embed-models={args.small},{args.large}",
                   f"--embed-sts-path={args.sts_path.resolve()}", f"--embed-tasks={TASKS}",
                   f"--embed-task-path={args.task_path.resolve()}", "--embed-cache=off", f"--embed-report={report}",
                   "-p", "no:cacheprovider", "-q"]
        print("$", " ".join(command[2:]), flush=True)
        run = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if not report.is_file() or run.returncode != 0:
            sys.exit(run.stdout + run.stderr)
        records = json.loads(report.read_text(encoding="utf-8"))["results"]
    scores: dict[str, dict[str, float]] = {}
    for record in records:
        if "main_score" in record:
            scores.setdefault(f"{record['dataset']}/{record['split']}", {})[record["model"]] = record["main_score"] * 100
    small, large = args.small, next(iter({r["model"] for r in records} - {args.small}))
    rows = [[task, f"{by[small]:.2f}", f"{by[large]:.2f}", f"{by[large] - by[small]:+.2f}",
             f"{(by[large] / by[small] - 1) * 100:+.1f}%"] for task, by in sorted(scores.items())]
    print(markdown(["task (main score x100)", small, large, "gap (points)", "gap (%)"], rows))


if __name__ == "__main__":
    main()
