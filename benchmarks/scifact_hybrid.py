"""Retrieve with MiniLM, rerank with mpnet, on SciFact: a set where the larger model is better.

    python scripts/fetch_mpnet.py --dest DIR && EMBEDEVAL_MPNET_PATH=DIR \\
        python benchmarks/scifact_hybrid.py --cache /tmp/scifact-embeddings [--beir ../shared/data/beir-scifact]

Quality: each model's corpus and query embeddings (cosine), the hybrid reranks the
small model's top k by the large model's cosine; nDCG@10, recall and MRR by
trec_eval with SciFact's qrels (``measure/hybrid.py``'s ``beir_metrics``, the
figures MTEB reports).  Cost: ``index s`` is the time to encode the whole corpus
with the model that indexes it (MiniLM for MiniLM alone and every hybrid),
measured chunk by chunk and kept in ``--cache`` with the embeddings, so an
interrupted run resumes and a rerun re-times only the per-query work; ``ms/query``
is the real work of one query in each mode (the hybrid encodes the query with
both models and its k candidates with the large one), timed on ``--timed``
queries.  The verdict is the plugin's own (``HybridResult.verdict``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO  # noqa: E402

KS = (10, 20, 50, 100)
CHUNK = 256  # documents encoded (and saved) at a time: an interrupted run loses at most one chunk


def encode_corpus(model, name: str, docs: list[str], cache: Path, batch_size: int):
    """The corpus embeddings of ``name``, encoded chunk by chunk into ``cache`` (resumed when there)."""
    import numpy as np

    cache.mkdir(parents=True, exist_ok=True)
    timing = cache / f"{name}.json"
    state = json.loads(timing.read_text()) if timing.is_file() else {"seconds": 0.0, "done": 0}
    parts = sorted(cache.glob(f"{name}.part*.npy"))
    for start in range(state["done"], len(docs), CHUNK):
        begin = time.perf_counter()
        vectors = model.encode(docs[start:start + CHUNK], batch_size=batch_size, show_progress_bar=False,
                               convert_to_numpy=True, normalize_embeddings=True)
        state["seconds"] += time.perf_counter() - begin
        np.save(cache / f"{name}.part{start:06d}.npy", vectors)
        state["done"] = min(start + CHUNK, len(docs))
        timing.write_text(json.dumps(state))
        print(f"  {name}: {state['done']}/{len(docs)} documents, {state['seconds']:.0f} s", flush=True)
    parts = sorted(cache.glob(f"{name}.part*.npy"))
    return np.concatenate([np.load(p) for p in parts]), state["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", type=Path, default=REPO.parent / "shared" / "data" / "beir-scifact")
    parser.add_argument("--cache", type=Path, required=True, help="embeddings and index times, resumable")
    parser.add_argument("--small", default="minilm")
    parser.add_argument("--large", default="mpnet")
    parser.add_argument("--timed", type=int, default=10, help="queries timed per mode")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import numpy as np

    from pytest_embedeval.measure.beir import load_beir
    from pytest_embedeval.measure.hybrid import HybridResult, _encode, _top, beir_metrics, hybrid_set_from_beir
    from pytest_embedeval.models.aliases import ALIASES
    from pytest_embedeval.report.tables import hybrid_table
    from sentence_transformers import SentenceTransformer

    data = load_beir(args.beir, "test")
    hybrid_set, metrics = hybrid_set_from_beir(data), beir_metrics(data)
    print(f"{data.label}; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    models, docs, index_s, queries = {}, {}, {}, {}
    for role, name in (("small", args.small), ("large", args.large)):
        path = ALIASES[name].local_path() if name in ALIASES else None
        models[role] = SentenceTransformer(str(path or name), device="cpu")
        docs[role], index_s[role] = encode_corpus(models[role], Path(name).name, list(hybrid_set.corpus),
                                                  args.cache, args.batch_size)
        queries[role] = _encode(models[role], hybrid_set.queries, args.batch_size)
    scores = {role: queries[role] @ docs[role].T for role in models}

    def rerank(q: int, k: int):
        candidates = _top(scores["small"][q], k)
        return candidates[np.argsort(-scores["large"][q][candidates], kind="stable")]

    def timed(run) -> tuple[float, float]:
        run(hybrid_set.queries[0])  # warm-up
        samples = []
        for text in hybrid_set.queries[1:args.timed + 1]:
            begin = time.perf_counter()
            run(text)
            samples.append((time.perf_counter() - begin) * 1000.0)
        return float(np.mean(samples)), float(np.percentile(samples, 95))

    def alone(role: str):
        return lambda text: _top(docs[role] @ _encode(models[role], [text], args.batch_size)[0], 10)

    def hybrid(k: int):
        def run(text: str):
            candidates = _top(docs["small"] @ _encode(models["small"], [text], args.batch_size)[0], k)
            vectors = _encode(models["large"], [text, *(hybrid_set.corpus[i] for i in candidates)], args.batch_size)
            return candidates[np.argsort(-(vectors[1:] @ vectors[0]), kind="stable")]
        return run

    everyone = range(len(hybrid_set.queries))
    modes = [("small", [_top(scores["small"][q], 10) for q in everyone], index_s["small"], alone("small")),
             ("large", [_top(scores["large"][q], 10) for q in everyone], index_s["large"], alone("large"))]
    modes += [(f"hybrid k={k}", [rerank(q, k) for q in everyone], index_s["small"], hybrid(k)) for k in KS]
    rows = []
    for mode, rankings, seconds, run in modes:
        mean_ms, p95_ms = timed(run)
        rows.append({"mode": mode, **metrics(rankings), "index_s": seconds, "query_ms": mean_ms, "query_p95_ms": p95_ms})
        print(f"  {mode}: nDCG@10 {rows[-1]['ndcg_at_10']:.4f}, {mean_ms:.0f} ms/query", flush=True)
    result = HybridResult(args.small, args.large, "cpu", len(hybrid_set.queries), len(hybrid_set.corpus),
                          args.timed, tuple(rows))
    print("\n".join(hybrid_table(result)))
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    (args.cache / "hybrid.json").write_text(json.dumps(result.to_dict(), indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
