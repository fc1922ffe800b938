"""Pair classification (MSRP) and reranking (TrecQA) figures of one or more models, as the plugin scores them.

    python benchmarks/pairs_reranking.py [--models minilm,mpnet] [--split test] [--data ../shared/data]

Prints, per model: MSRP max AP / max F1 / max accuracy (MTEB's PairClassification scoring) and TrecQA MAP
under MTEB 2.x (MAP@1000, trec_eval) and 1.x (sklearn AP, MRR@10), with how many questions MTEB skips.
The same figures as ``embed_eval.task(...)`` gives for these folders; tests/test_pair_classification.py and
tests/test_reranking.py check the scoring against MTEB's own evaluators.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, markdown  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="minilm")
    parser.add_argument("--split", default="test")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import numpy as np
    from sentence_transformers import SentenceTransformer

    from pytest_embedeval.measure.pair_classification import evaluate_pairs, load_pairs
    from pytest_embedeval.measure.reranking import evaluate_reranking, load_rerank
    from pytest_embedeval.models.aliases import ALIASES

    pairs = load_pairs(args.data / "pair-classification" / "MSRP", args.split)
    rerank = load_rerank(args.data / "reranking" / "TrecQA", args.split)
    print(f"{pairs.label}\n{rerank.label} ({rerank.no_positive} without a positive, {rerank.no_negative} "
          "without a negative)")
    rows = []
    for name in args.models.split(","):
        path = ALIASES[name].local_path() if name in ALIASES else None
        model = SentenceTransformer(str(path or name), device="cpu")

        def encode(texts: list[str]) -> np.ndarray:
            return model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False)

        p = evaluate_pairs(encode, pairs, model=name, device="cpu", batch_size=args.batch_size)
        r = evaluate_reranking(encode, encode, rerank, model=name, device="cpu", batch_size=args.batch_size)
        rows.append([name, f"{100 * p.max_ap:.2f}", p.best, f"{100 * p.max_f1:.2f}", f"{100 * p.max_accuracy:.2f}",
                     f"{100 * r.map_at_1000:.2f}", f"{100 * r.map:.2f}", f"{100 * r.mrr_at_10_v1:.2f}",
                     f"{100 * r.ndcg_at_10:.2f}"])
        print(f"  {name}: max_ap {p.max_ap!r}, MAP 2.x {r.map_at_1000!r}, MAP 1.x {r.map!r}", flush=True)
    print(markdown(["model", "MSRP max AP", "best similarity", "max F1", "max accuracy", "TrecQA MAP@1000 (2.x)",
                    "MAP (1.x)", "MRR@10 (1.x)", "nDCG@10 (2.x)"], rows))


if __name__ == "__main__":
    main()
