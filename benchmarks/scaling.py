"""How latency and memory scale from MiniLM to BERT-large, on this machine, in one run.

For the real all-MiniLM-L6-v2 and randomly initialised models of MiniLM-L6,
BERT-base and BERT-large shape (real cost, meaningless embeddings), prints:
seconds to encode 1,000 STS-B sentences (batch 32), p50/p95 per batch of 32
STS sentences (20 rounds), peak RSS of a fresh process loading the model and
encoding the 1,000 sentences, and each figure as a ratio to the MiniLM-shaped
model.

    python benchmarks/scaling.py [--sts-path ../shared/data/stsbenchmark]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown, sts_arguments, unique_sentences  # noqa: E402

from pytest_embedeval.measure.latency import Timing, measure_latency  # noqa: E402
from pytest_embedeval.measure.memory import disk_mb, measure_memory  # noqa: E402
from pytest_embedeval.models.pool import load_target  # noqa: E402
from pytest_embedeval.models.targets import EmbedTarget, ModelSpec, resolve_model  # noqa: E402
from pytest_embedeval.models.zoo import build_random_model  # noqa: E402

SENTENCES = 1000
BATCH = 32
ROUNDS = 20  # per-batch rounds: with 10, p95 is nearly the maximum and one hiccup moves it


def measure(target: EmbedTarget, sentences: list[str]) -> dict[str, float]:
    import torch

    model = load_target(target)
    model.encode(sentences[:BATCH], batch_size=BATCH, show_progress_bar=False)  # warm-up
    start = time.perf_counter()
    model.encode(sentences, batch_size=BATCH, show_progress_bar=False)
    seconds = time.perf_counter() - start
    latency = measure_latency(model, model_name=target.model.name, device="cpu", batch_size=BATCH, length="sts",
                              timing=Timing(rounds=ROUNDS, warmup=2), sentences=sentences[:BATCH])
    del model
    memory = measure_memory(target, device="cpu", sentences=sentences, batch_size=BATCH, length="sts",
                            trust_remote_code=False, folder=target.model.path)
    return {"params": memory.params / 1e6, "disk": disk_mb(target.model.path) or 0.0, "seconds": seconds,
            "p50": latency.p50_ms, "p95": latency.p95_ms, "peak": memory.peak_rss_mb, "threads": torch.get_num_threads()}


def main() -> None:
    args = sts_arguments(__doc__.splitlines()[0]).parse_args()
    _, sentences = unique_sentences(args.sts_path, SENTENCES)
    with tempfile.TemporaryDirectory(prefix="embedeval-scaling-") as scratch:
        targets = [EmbedTarget(resolve_model("minilm", Path(".")), "cpu")]
        for shape in ("minilm-l6", "bert-base", "bert-large"):
            folder = build_random_model(shape, Path(scratch) / shape)
            targets.append(EmbedTarget(ModelSpec(f"random:{shape}", f"random:{shape}", path=folder), "cpu"))
        figures = {}
        for target in targets:
            figures[target.model.name] = measure(target, sentences)
            print(f"measured {target.model.name}: {figures[target.model.name]}", file=sys.stderr, flush=True)
    reference = figures["random:minilm-l6"]
    rows = []
    for name, f in figures.items():
        rows.append([name, f"{f['params']:.1f}M", f"{f['disk']:.0f}", f"{f['seconds']:.1f}",
                     f"{f['seconds'] / reference['seconds']:.1f}x", f"{f['p50']:.0f}", f"{f['p50'] / reference['p50']:.1f}x",
                     f"{f['p95']:.0f}", f"{f['p95'] / reference['p95']:.1f}x", f"{f['peak']:.0f}",
                     f"{f['peak'] / reference['peak']:.2f}x"])
    print(f"\nCPU threads: {reference['threads']}; {SENTENCES} unique STS-B dev sentences, batch {BATCH}; "
          f"per-batch latency over {ROUNDS} rounds; ratios against random:minilm-l6\n")
    print(markdown(["model", "params", "disk MB", f"encode {SENTENCES} (s)", "ratio", "p50 ms/batch", "ratio",
                    "p95 ms/batch", "ratio", "peak RSS MB", "ratio"], rows))


if __name__ == "__main__":
    main()
