"""Do the plugin's numbers agree with independent measurements of the same work?

1. Latency: the plugin's p50 for MiniLM encoding a batch of 32 against the
   median of the same ``encode`` call timed with ``time.perf_counter`` outside
   the plugin, in the same process.  Each trial runs them in ABBA order
   (plugin, outside, outside, plugin) and compares the means, so a machine
   drifting during the trial weighs on both sides alike.
2. Memory: the plugin's peak RSS for load + encode (3 batches) against
   ``/usr/bin/time -v`` (maximum resident set size) of a child process doing
   the same work.
3. STS encode time: the ``encode_seconds`` a pytest run reports for MiniLM on
   the STS-B dev split (cache off) against a fresh process that loads MiniLM
   and times its first ``encode`` of the same unique sentences with
   ``time.perf_counter``, in ABBA order as above.

    python benchmarks/agreement.py [--sts-path ../shared/data/stsbenchmark]
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown, sts_arguments  # noqa: E402

from pytest_embedeval.measure.latency import Timing, make_inputs, measure_latency  # noqa: E402
from pytest_embedeval.measure.memory import encode_calls, measure_memory  # noqa: E402
from pytest_embedeval.models.pool import load_target  # noqa: E402
from pytest_embedeval.models.targets import EmbedTarget, resolve_model  # noqa: E402

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
            f"for _ in range({encode_calls(len(texts), BATCH)}):\n"
            f"    m.encode({texts!r}, batch_size={BATCH}, show_progress_bar=False)\n")
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", work], capture_output=True, text=True, check=True)
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024


def plugin_encode_seconds(sts_path: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="embedeval-agreement-") as folder:
        (Path(folder) / "test_sts.py").write_text("def test_sts(embed_eval):\n    embed_eval.sts()\n")
        report = Path(folder) / "report.json"
        subprocess.run([sys.executable, "-m", "pytest", folder, "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
                        "--rootdir", folder, "--embed-models=minilm", f"--embed-sts-path={sts_path}",
                        "--embed-cache=off", f"--embed-report={report}"], check=True, capture_output=True)
        (record,) = [r for r in json.loads(report.read_text())["results"] if r["kind"] == "sts"]
        return record["encode_seconds"]


def perf_counter_encode_seconds(path: Path, sts_path: Path) -> float:
    work = (f"import time\nfrom pathlib import Path\nfrom sentence_transformers import SentenceTransformer\n"
            f"from pytest_embedeval.measure.data import load_sts\n"
            f"data = load_sts(Path({str(sts_path)!r}), 'dev')\n"
            f"unique = list(dict.fromkeys(data.sentences1 + data.sentences2))\n"
            f"m = SentenceTransformer({str(path)!r}, device='cpu')\n"
            f"start = time.perf_counter()\n"
            f"m.encode(unique, batch_size={BATCH}, show_progress_bar=False)\n"
            f"print(time.perf_counter() - start)\n")
    done = subprocess.run([sys.executable, "-c", work], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    sts_path = sts_arguments(__doc__.splitlines()[0]).parse_args().sts_path.resolve()
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
    for trial in range(1, TRIALS + 1):  # ABBA again: the first encode of a fresh process varies more
        plugin_first = plugin_encode_seconds(sts_path)
        outside = sum(perf_counter_encode_seconds(target.model.path, sts_path) for _ in range(2)) / 2
        plugin = (plugin_first + plugin_encode_seconds(sts_path)) / 2
        rows.append([f"STS-B dev encode, trial {trial}", f"{plugin:.2f} s", f"{outside:.2f} s",
                     f"{plugin / outside:.3f}"])
    print(f"\nall-MiniLM-L6-v2, CPU, batch {BATCH}: latency of short inputs over {ROUNDS} rounds; "
          "STS encode of the 2,910 unique STS-B dev sentences, each the first encode of a fresh process\n")
    print(markdown(["figure", "plugin", "independent (perf_counter / time -v)", "ratio"], rows))


if __name__ == "__main__":
    main()
