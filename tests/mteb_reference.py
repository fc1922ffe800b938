"""MTEB's own evaluators, run offline on our data sets: the reference our pair classification and reranking
figures are checked against (mteb from PyPI is a test-only dependency, as pytrec_eval's reference is).

``mteb.evaluate`` runs a local task (our files, in MTEB's own layout) with a sentence-transformers model whose
``encode`` looks the texts up in embeddings computed once, so both sides score the very same vectors and any
difference is in the scoring.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable

import numpy as np

for noisy in ("mteb", "datasets"):  # mteb logs every phase at WARNING
    logging.getLogger(noisy).setLevel(logging.ERROR)


def _metadata(name: str, task_type: str, main_score: str) -> Any:
    from mteb.abstasks.task_metadata import TaskMetadata

    return TaskMetadata(dataset={"path": f"local/{name}", "revision": "0"}, name=name, description="local",
                        type=task_type, category="t2t", eval_splits=["test"], eval_langs=["eng-Latn"],
                        main_score=main_score, reference=None)


def lookup_model(model: Any, encode: Callable[[list[str]], Any]) -> Any:
    """``model`` (a SentenceTransformer) whose ``encode`` returns ``encode``'s vectors, looked up by text."""
    table: dict[str, Any] = {}

    def lookup(*args: Any, **kwargs: Any) -> Any:
        sentences = args[0] if args else kwargs.get("sentences", kwargs.get("inputs"))
        texts = [sentences] if isinstance(sentences, str) else list(sentences)
        missing = [t for t in dict.fromkeys(texts) if t not in table]
        if missing:
            table.update(zip(missing, np.asarray(encode(missing))))
        return np.stack([table[t] for t in texts])

    model.encode = lookup
    return model


def _evaluate(model: Any, task: Any) -> dict[str, float]:
    import mteb

    with warnings.catch_warnings():  # mteb's own deprecations; the suite runs with -W error
        warnings.simplefilter("ignore")
        result = mteb.evaluate(model, [task], cache=None, overwrite_strategy="always", show_progress_bar=False)
    return result.task_results[0].scores["test"][0]


def pair_classification(model: Any, data: Any) -> dict[str, float]:
    """MTEB's PairClassification figures (``max_ap``, ``cosine_f1`` ...) for a PairSet."""
    import datasets
    from mteb.abstasks.pair_classification import AbsTaskPairClassification

    class Local(AbsTaskPairClassification):
        metadata = _metadata("LocalPairs", "PairClassification", "max_ap")

        def load_data(self, **_: Any) -> None:
            self.dataset = {"test": datasets.Dataset.from_dict({
                "sentence1": list(data.sentences1), "sentence2": list(data.sentences2),
                "labels": list(data.labels)})}
            self.data_loaded = True

    return _evaluate(model, Local())


def reranking(model: Any, rows: list[dict[str, Any]]) -> dict[str, float]:
    """MTEB 2.x's Reranking figures (``map_at_1000``, ``mrr_at_10`` ...) for rows in the query/positive/negative
    layout, converted as MTEB converts its old-format reranking tasks."""
    import datasets
    from mteb.abstasks.text.reranking import OLD_FORMAT_RERANKING_TASKS, AbsTaskReranking

    if "LocalReranking" not in OLD_FORMAT_RERANKING_TASKS:
        OLD_FORMAT_RERANKING_TASKS.append("LocalReranking")

    with warnings.catch_warnings():  # AbsTaskReranking warns that it is deprecated when subclassed
        warnings.simplefilter("ignore")

        class Local(AbsTaskReranking):
            metadata = _metadata("LocalReranking", "Reranking", "map_at_1000")

            def load_data(self, **_: Any) -> None:
                self.transform_old_dataset_format({"test": datasets.Dataset.from_list(rows)})

    return _evaluate(model, Local())


def reranking_v1(encode_queries: Callable[[list[str]], Any], encode_docs: Callable[[list[str]], Any],
                 rows: list[dict[str, Any]]) -> dict[str, float]:
    """MTEB 1.x's ``RerankingEvaluator.compute_metrics_batched`` (mteb 1.x, mteb/evaluation/evaluators/
    RerankingEvaluator.py), which mteb 2.x no longer ships: written here from its source, step by step, in
    torch as it is (``cos_sim``, ``torch.amax`` over a query's texts, ``torch.argsort``, scikit-learn's AP)."""
    import torch
    from sklearn.metrics import average_precision_score

    samples = [s for s in rows if len(s["positive"]) > 0 and len(s["negative"]) > 0]
    aps, mrrs = [], []
    for sample in samples:
        texts = sample["query"] if isinstance(sample["query"], list) else [sample["query"]]
        query = torch.as_tensor(np.asarray(encode_queries(texts)))
        docs = torch.as_tensor(np.asarray(encode_docs(list(sample["positive"]) + list(sample["negative"]))))
        is_relevant = [True] * len(sample["positive"]) + [False] * len(sample["negative"])
        a = torch.nn.functional.normalize(query, p=2, dim=1)
        b = torch.nn.functional.normalize(docs, p=2, dim=1)
        sim = torch.mm(a, b.transpose(0, 1))
        if len(sim.shape) > 1:
            sim = torch.amax(sim, dim=0)
        ranking = torch.argsort(-sim)
        mrr = 0.0
        for rank, index in enumerate(ranking[:10]):
            if is_relevant[index]:
                mrr = 1 / (rank + 1)
                break
        aps.append(average_precision_score(is_relevant, sim.cpu().tolist()))
        mrrs.append(mrr)
    return {"map": float(np.mean(aps)), "mrr": float(np.mean(mrrs)), "n": len(samples)}
