"""What the bundled suite costs, gate included, against a bare encode of the STS-B dev sentences.

The reference is what any evaluation must pay at least: ``model.encode`` of the 2,910 unique STS-B
dev sentences at batch 32, MiniLM already loaded, in this process.  Against it, the whole bundled
suite on MiniLM as CI runs it (``pytest --pyargs pytest_embedeval.suites --embed-models=minilm``):
a fresh pytest process, imports and model load included, embedding cache off, every measurement
compared with baselines saved beforehand by the same suite (the save run is not timed).  The two
alternate, ``--trials`` times each; medians.

    python benchmarks/gate_cost.py [--sts-path ../shared/data/stsbenchmark] [--trials 3]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown, sts_arguments, unique_sentences  # noqa: E402


def suite(folder: Path, sts_path: Path, *extra: str) -> float:
    command = [sys.executable, "-m", "pytest", "--pyargs", "pytest_embedeval.suites", "--embed-models=minilm",
               f"--embed-sts-path={sts_path}", f"--embed-baseline-dir={folder / 'baselines'}", "--embed-cache=off",
               "-p", "no:cacheprovider", "-q", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"suite failed ({done.returncode}):\n{done.stdout[-3000:]}")
    return seconds


def main() -> None:
    parser = sts_arguments(__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    from pytest_embedeval.models.pool import load_target
    from pytest_embedeval.models.targets import EmbedTarget, resolve_model

    _, sentences = unique_sentences(args.sts_path.resolve(), 10_000)
    model = load_target(EmbedTarget(resolve_model("minilm", Path(".")), "cpu"))
    model.encode(sentences[:64], batch_size=32)

    def bare() -> float:
        start = time.perf_counter()
        model.encode(sentences, batch_size=32, show_progress_bar=False)
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        saving = suite(folder, args.sts_path.resolve(), "--embed-baseline-save")
        encodes, suites = [], []
        for _ in range(args.trials):
            encodes.append(bare())
            suites.append(suite(folder, args.sts_path.resolve(), "--embed-baseline-missing=fail"))
    encode_s, suite_s = statistics.median(encodes), statistics.median(suites)
    print(f"{len(sentences)} unique STS-B dev sentences; {args.trials} alternating trials; the save run "
          f"(not in the ratio) took {saving:.1f} s\n")
    print(markdown(["what", "seconds (median)", "all trials", "ratio"], [
        ["bare model.encode, MiniLM loaded", f"{encode_s:.2f}", ", ".join(f"{s:.2f}" for s in encodes), "1.00"],
        ["bundled suite, gate included (fresh pytest)", f"{suite_s:.1f}", ", ".join(f"{s:.1f}" for s in suites),
         f"{suite_s / encode_s:.2f}"]]))


if __name__ == "__main__":
    main()
