"""MiniLM on torch (fp32) against its ONNX Runtime export, on this machine, in one process.

Prints, for each backend: seconds to encode 1,000 unique STS-B dev sentences
(batch 32, median of 3 passes), p50/p95 ms per batch of 32 STS sentences
(rounds of the two backends alternate, so drift hits both alike), export and
load seconds, weights on disk, STS-B dev Spearman, and the largest difference
from the torch embeddings.  The export goes to a fresh temporary folder, so its
time is a cold export.

    python benchmarks/onnx_vs_torch.py [--sts-path ../shared/data/stsbenchmark]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown, sts_arguments, unique_sentences  # noqa: E402

from pytest_embedeval.measure.latency import Timing, summarise, time_alternating  # noqa: E402
from pytest_embedeval.models.targets import resolve_model  # noqa: E402
from pytest_embedeval.measure.sts import evaluate_sts  # noqa: E402

SENTENCES = 1000
BATCH = 32
PASSES = 3


def main() -> None:
    import numpy as np
    import onnxruntime
    import torch
    from sentence_transformers import SentenceTransformer

    from pytest_embedeval.models.onnx import OnnxEncoder, export_onnx

    args = sts_arguments(__doc__.splitlines()[0]).parse_args()
    data, sentences = unique_sentences(args.sts_path, SENTENCES)
    folder = resolve_model("minilm", Path(".")).path
    start = time.perf_counter()
    model = SentenceTransformer(str(folder), device="cpu")
    torch_load = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="embedeval-onnx-bench-") as scratch:
        start = time.perf_counter()
        path = export_onnx(model, Path(scratch))
        export_s = time.perf_counter() - start
        start = time.perf_counter()
        onnx = OnnxEncoder(model, path)
        onnx_load = time.perf_counter() - start
        backends = {"torch": model, "onnxruntime": onnx}

        def encode_all(encoder: object) -> float:
            start = time.perf_counter()
            encoder.encode(sentences, batch_size=BATCH, show_progress_bar=False)  # type: ignore[attr-defined]
            return time.perf_counter() - start

        for encoder in backends.values():  # warm-up: first-call allocations, ORT's arena
            encoder.encode(sentences[:BATCH], batch_size=BATCH, show_progress_bar=False)
        passes: dict[str, list[float]] = {name: [] for name in backends}
        for _ in range(PASSES):
            for name, encoder in backends.items():
                passes[name].append(encode_all(encoder))
        batch = sentences[:BATCH]
        runs = [lambda e=e: e.encode(batch, batch_size=BATCH, show_progress_bar=False) for e in backends.values()]
        samples = time_alternating(runs, Timing(rounds=30, warmup=3))
        latency = {name: summarise(s, batch_size=BATCH, model="minilm", device="cpu", length="sts", tokens=None,
                                   warmup=3, threads=None) for name, s in zip(backends, samples)}
        unique = list(dict.fromkeys(data.sentences1 + data.sentences2))
        embeddings = {name: encoder.encode(unique, batch_size=BATCH, show_progress_bar=False)
                      for name, encoder in backends.items()}
        spearman = {name: evaluate_sts(lambda s, e=embeddings[name]: e, data, model="minilm", device="cpu",
                                       batch_size=BATCH).spearman for name in backends}
        diff = float(np.abs(embeddings["onnxruntime"] - embeddings["torch"]).max())
        sizes = {"torch": (folder / "model.safetensors").stat().st_size / 2**20, "onnxruntime": onnx.onnx_mb}
    loads = {"torch": f"{torch_load:.2f}", "onnxruntime": f"{onnx_load:.2f}"}
    exports = {"torch": "-", "onnxruntime": f"{export_s:.1f}"}
    rows = [[name, f"{statistics.median(passes[name]):.2f}", f"{latency[name].p50_ms:.0f}",
             f"{latency[name].p95_ms:.0f}", exports[name], loads[name], f"{sizes[name]:.1f}",
             f"{spearman[name]:.2f}", "0" if name == "torch" else f"{diff:.1e}"] for name in backends]
    print(f"\ntorch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__} "
          f"({onnx.threads} intra-op threads); {SENTENCES} unique STS-B dev sentences, batch {BATCH}; "
          f"Spearman on all {len(data)} dev pairs\n")
    print(markdown(["backend", f"encode {SENTENCES} (s)", "p50 ms/batch", "p95 ms/batch", "export (s)",
                    "load (s)", "weights MB", "Spearman", "max abs diff"], rows))


if __name__ == "__main__":
    main()
