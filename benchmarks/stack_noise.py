"""Why the side-by-side stack check times in turns: the host's drift, and the spread of A/A pairs.

1. Drift: one process times MiniLM at batch 8 in ``--blocks`` blocks of 20 rounds, 1 s apart, and
   prints the block medians and their log standard deviation (what probes timed at different
   moments inherit).
2. Pairs: ``--pairs`` A/A pairs of fresh processes of this interpreter taking turns (the plugin's own
   ``measure.stack.run_probes``), and per batch size the pair log ratios and their standard
   deviation (what the check's one-sample t works with).

    python benchmarks/stack_noise.py [--blocks 10] [--pairs 4] [--rounds 20]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO  # noqa: E402


def drift(blocks: int) -> None:
    from sentence_transformers import SentenceTransformer

    from pytest_embedeval.measure.latency import make_inputs
    from pytest_embedeval.models.aliases import ALIASES

    model = SentenceTransformer(str(ALIASES["minilm"].local_path()), device="cpu")
    texts = make_inputs("short", 8)
    for _ in range(5):
        model.encode(texts, batch_size=8, show_progress_bar=False)
    medians = []
    for _ in range(blocks):
        samples = []
        for _ in range(20):
            start = time.perf_counter()
            model.encode(texts, batch_size=8, show_progress_bar=False)
            samples.append(time.perf_counter() - start)
        medians.append(statistics.median(samples) * 1e3)
        time.sleep(1)
    print(f"drift, batch 8, medians of 20 rounds 1 s apart (ms): {' '.join(f'{m:.1f}' for m in medians)}; "
          f"log sd {statistics.stdev(math.log(m) for m in medians):.3f}")


def pairs(count: int, rounds: int) -> None:
    from pytest_embedeval.measure.latency import make_inputs
    from pytest_embedeval.measure.stack import run_probes
    from pytest_embedeval.models.targets import EmbedTarget, resolve_model

    target = EmbedTarget(resolve_model("minilm", REPO), "cpu")
    request = {"target": target.to_dict(), "device": "cpu", "batch_size": 32, "sentences": make_inputs("short", 32),
               "trust_remote_code": False, "sys_path": [], "workloads": [1, 8, 32], "rounds": rounds, "warmup": 2,
               "sts_sentences": None}
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        new, old = run_probes((sys.executable, sys.executable), ("A", "A'"), request, count, 1800, Path(folder))
        seconds = time.perf_counter() - start
    print(f"{count} A/A pairs taking turns, {rounds} rounds, {seconds:.0f} s, load {os.getloadavg()[0]:.1f}")
    for batch in ("1", "8", "32"):
        logs = [statistics.median(math.log(a / b) for a, b in zip(x["rounds"][batch], y["rounds"][batch]))
                for x, y in zip(new, old)]
        print(f"  batch {batch}: pair log ratios {' '.join(f'{v:+.3f}' for v in logs)}; sd {statistics.stdev(logs):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    drift(args.blocks)
    pairs(args.pairs, args.rounds)


if __name__ == "__main__":
    main()
