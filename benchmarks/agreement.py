"""Do the plugin's numbers agree with independent measurements of the same work?

1. Latency: the plugin's p50 for MiniLM encoding a batch of 32 against the
   median of the same ``encode`` call timed with ``time.perf_counter`` outside
   the plugin, in the same process.  Each trial runs them in ABBA order
   (plugin, outside, outside, plugin) and compares the means, so a machine
   drifting during the trial weighs on both sides alike.
2. Memory: the plugin's peak RSS for load + encode against ``/usr/bin/time -v``
   (maximum resident set size) of a child process doing the same work.

    python benchmarks/agreement.py
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown  # noqa: E402

from pytest_embedeval.latency import Timing, make_inputs, measure_latency  # noqa: E402
from pytest_embedeval.memory import measure_memory  # noqa: E402
from pytest_embedeval.models import EmbedTarget, load_target, resolve_model  # noqa: E402

BATCH = 32
ROUNDS = 30
TRIALS = 3


def outside_plugin(model: object, texts: list[str]) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        model.encode(texts, batch_size=BATCH, show_progress_bar=False, convert_to_numpy=True)  # type: ignore[attr-defined]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def time_v_peak_mb(path: Path, texts: list[str]) -> float:
    work = (f"from sentence_transformers import SentenceTransformer\n"
            f"m = SentenceTransformer({str(path)!r}, device='cpu')\n"
            f"m.encode({texts!r}, batch_size={BATCH}, show_progress_bar=False)\n")
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", work], capture_output=True, text=True, check=True)
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024


def main() -> None:
    target = EmbedTarget(resolve_model("minilm", Path(".")), "cpu")
    model = load_target(target)
    texts = make_inputs("short", BATCH)
    rows = []

    def plugin_p50() -> float:
        return measure_latency(model, model_name="minilm", device="cpu", batch_size=BATCH, length="short",
                               timing=Timing(rounds=ROUNDS, warmup=2)).p50_ms

    for trial in range(1, TRIALS + 1):
        plugin_first = plugin_p50()
        outside = (outside_plugin(model, texts) + outside_plugin(model, texts)) / 2
        plugin = (plugin_first + plugin_p50()) / 2
        rows.append([f"latency p50, trial {trial}", f"{plugin:.1f} ms", f"{outside:.1f} ms", f"{plugin / outside:.3f}"])
    for trial in range(1, TRIALS + 1):
        plugin = measure_memory(target, device="cpu", sentences=texts, batch_size=BATCH, length="short",
                                trust_remote_code=False, folder=target.model.path).peak_rss_mb
        outside = time_v_peak_mb(target.model.path, texts)
        rows.append([f"peak RSS, trial {trial}", f"{plugin:.0f} MB", f"{outside:.0f} MB", f"{plugin / outside:.3f}"])
    print(f"\nall-MiniLM-L6-v2, CPU, batch {BATCH} short inputs; latency over {ROUNDS} rounds\n")
    print(markdown(["figure", "plugin", "independent (perf_counter / time -v)", "ratio"], rows))


if __name__ == "__main__":
    main()
