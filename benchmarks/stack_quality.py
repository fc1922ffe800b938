"""Does the side-by-side stack check (--embed-incumbent-env) tell noise from a slower stack? A/A and detection.

Each trial runs the plugin's own check (``gate.stack.evaluate_stack``) on MiniLM: this interpreter as the
candidate, a script that execs it as the incumbent, with ``--processes`` pairs of fresh processes taking turns.  Under
``stack +N%`` the candidate's processes get a ``sitecustomize`` (on ``PYTHONPATH``, which the incumbent's
script clears) that makes every ``torch.nn.Linear`` call do N% more work: a slower torch or BLAS, the
model and everything else that multiplies alike.  Counted: trials whose speed criteria REJECT, with the
exact (Clopper-Pearson) 95% interval, and each trial's cost in seconds.

    python benchmarks/stack_quality.py [--trials 5] [--processes 6] [--conditions 0,10,20,25]
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, markdown, sts_arguments  # noqa: E402
from cross_host import clopper_pearson  # noqa: E402

SLOWER = """import torch
plain, share = torch.nn.Linear.forward, {share!r}

def forward(self, x):  # the output is the plain one; `share` of the rows are multiplied once more
    out = plain(self, x)
    flat = x.reshape(-1, x.shape[-1])
    rows = int(round(share * flat.shape[0])) or 1
    torch.nn.functional.linear(flat[:rows], self.weight, self.bias)
    return out

torch.nn.Linear.forward = forward
"""


def slowed_site(folder: Path, percent: int) -> Path:
    site = folder / f"slower-{percent}"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOWER.format(share=percent / 100))
    return site


def main() -> None:
    parser = sts_arguments(__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--processes", type=int, default=6)
    parser.add_argument("--conditions", default="0,10,20,25", help="stack slowdowns in percent; 0 is A/A")
    args = parser.parse_args()
    from pytest_embedeval.gate.policy import Tolerance
    from pytest_embedeval.gate.stack import evaluate_stack
    from pytest_embedeval.measure.data import load_sts
    from pytest_embedeval.models.targets import EmbedTarget, resolve_model

    target = EmbedTarget(resolve_model("minilm", REPO), "cpu")
    data = load_sts(args.sts_path, "dev")
    tolerance = Tolerance(max_drop=0.5, max_slowdown=0.05, max_memory_growth=0.10)
    rows, summary = [], []
    with tempfile.TemporaryDirectory() as folder:
        incumbent = Path(folder) / "incumbent-python"
        incumbent.write_text(f'#!/bin/sh\nunset PYTHONPATH\nexec {sys.executable} "$@"\n')
        incumbent.chmod(incumbent.stat().st_mode | stat.S_IXUSR)
        for percent in (int(p) for p in args.conditions.split(",")):
            name = "A/A" if percent == 0 else f"stack +{percent}%"
            os.environ.pop("PYTHONPATH", None)
            if percent:
                os.environ["PYTHONPATH"] = str(slowed_site(Path(folder), percent))
            rejected = 0
            for trial in range(args.trials):
                load, start = os.getloadavg()[0], time.perf_counter()
                result = evaluate_stack(target, data, str(incumbent), tolerance, confidence=0.95, seed=0,
                                        batch_size=32, rounds=20, warmup=2, processes=args.processes, timeout_s=1800)
                seconds = time.perf_counter() - start
                speed = [c for c in result.criteria if c.name.startswith("speed")]
                slow = [c for c in speed if not c.ok]
                rejected += bool(slow)
                rows.append([name, str(trial + 1), result.verdict, f"{load:.1f}", f"{seconds:.0f}",
                             *(c.change.split(" ")[0] for c in speed), ", ".join(c.name for c in slow) or "-"])
                print(" | ".join(rows[-1]), flush=True)
            low, high = clopper_pearson(rejected, args.trials)
            summary.append([name, f"{rejected}/{args.trials}", f"{rejected / args.trials:.0%}",
                            f"{low:.0%}-{high:.0%}"])
        os.environ.pop("PYTHONPATH", None)
    print(markdown(["condition", "trial", "verdict", "load (1 min)", "s", "batch 1", "batch 8", "batch 32",
                    "speed REJECT on"], rows))
    print()
    print(markdown(["condition", "speed REJECT", "rate", "95% interval (Clopper-Pearson)"], summary))


if __name__ == "__main__":
    main()
