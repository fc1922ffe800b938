"""Reranking (order each query's own short candidate list) scored as MTEB scores it, under both conventions.

Data: JSONL, one query a line: ``{"query": ..., "positive": [...], "negative": [...]}``
(MTEB's reranking layout; a query may be a list of texts, as in MindSmallReranking:
a candidate's score is then its best over them), a folder holding
``<split>.jsonl``, or an MTEB task by name from the hub at MTEB 1.x's pinned
revision of that layout (:data:`RERANK_TASKS`).  Both MTEB versions skip a query
without a positive or without a negative; we report how many were skipped.

Similarity: the model's own (cosine for most), in float32, of the query
embedding and each candidate's; each unique text is encoded once, queries with
the query prompt and candidates with the document prompt.

* MTEB 1.x (``RerankingEvaluator``): per query, scikit-learn's average
  precision and MRR@10; main score ``map``, the mean AP.
* MTEB 2.x (``AbsTaskReranking`` -> retrieval over ``top_ranked``): the
  candidates become documents ``apositive_<q>_<i>`` / ``negative_<q>_<i>``
  (MTEB's ids, which decide trec_eval's order among tied scores), scored by
  trec_eval through :func:`ranking.trec_scores` (rounded to 5 decimals as MTEB
  does); main score ``map_at_1000``.

The gate resamples queries: the baseline keeps each query's AP under the
result's convention, and the main score is their mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable

from pytest_embedeval.errors import DataError, EmbedEvalError
from pytest_embedeval.measure.accuracy import (Column, Encoder, Kind, TaskData, TaskInfo, TaskResult, TaskSpec,
                                               embed_unique, per_item, task_folder)

# MTEB's Reranking tasks in the query/positive/negative layout (MTEB 1.x's hub copies): hub id, revision, split
RERANK_TASKS: dict[str, tuple[str, str, str]] = {
    "AskUbuntuDupQuestions": ("mteb/askubuntudupquestions-reranking", "2000358ca161889fa9c082cb41daa8dcfb161a54",
                              "test"),
    "SciDocsRR": ("mteb/scidocs-reranking", "d3c5e1fc0b855ab6097bf1cda04dd73947d7caab", "test"),
    "StackOverflowDupQuestions": ("mteb/stackoverflowdupquestions-reranking",
                                  "e185fbe320c72810689fc5848eb6114e1ef5ec69", "test"),
    "MindSmallReranking": ("mteb/mind_small", "3bdac13927fdc888b903db93b2ffdbd90b295a69", "test"),
}
CONVENTIONS = ("1", "2")  # MTEB 1.x, MTEB 2.x
MRR_AT = 10


@dataclass(frozen=True)
class RerankQuery:
    texts: tuple[str, ...]  # the query (several texts: a candidate scores its best over them)
    positive: tuple[str, ...]
    negative: tuple[str, ...]


@dataclass(frozen=True)
class RerankSet(TaskData):
    """The queries MTEB scores (a positive and a negative each) and how many it skips."""

    queries: tuple[RerankQuery, ...]
    no_positive: int = 0  # skipped: no positive candidate
    no_negative: int = 0  # skipped: a positive but no negative candidate
    convention: str = "2"  # the MTEB version whose MAP is the main score and the gate's ("1" or "2")

    @property
    def skipped(self) -> int:
        return self.no_positive + self.no_negative

    def content(self) -> Iterable[tuple[tuple[str, ...], ...]]:
        """A group per query: its texts, its positives, its negatives."""
        return ((query.texts, query.positive, query.negative) for query in self.queries)

    def counts(self) -> str:
        candidates = sum(len(q.positive) + len(q.negative) for q in self.queries)
        return f"{len(self.queries)} queries, {candidates} candidates, {self.skipped} skipped"


def _texts(record: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = record.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(text, str) for text in value):
        raise DataError(f"{where}: {key!r} must be a list of texts, not {value!r:.80}")
    return tuple(value)


def parse_query(where: str, record: dict[str, Any]) -> RerankQuery:
    """One line of the layout; a line without ``query`` or without any candidate names ``where``."""
    if "query" not in record:
        raise DataError(f"{where}: missing 'query' (a reranking line is "
                        '{"query": ..., "positive": [...], "negative": [...]})')
    texts = _texts(record, "query", where)
    if not texts or not any(text.strip() for text in texts):
        raise DataError(f"{where}: the query is empty")
    if "positive" not in record and "negative" not in record:
        raise DataError(f"{where}: no candidates: give 'positive' and 'negative' lists")
    query = RerankQuery(texts, _texts(record, "positive", where), _texts(record, "negative", where))
    if not query.positive and not query.negative:
        raise DataError(f"{where}: no candidates: 'positive' and 'negative' are both empty")
    return query


def make_rerank_set(name: str, split: str, source: str, queries: list[RerankQuery],
                    convention: str = "2") -> RerankSet:
    """Keep what MTEB scores, count what it skips; an error when nothing is left to score."""
    if convention not in CONVENTIONS:
        raise DataError(f"{source}: reranking convention {convention!r}: use '1' (MTEB 1.x) or '2' (MTEB 2.x)")
    kept = tuple(q for q in queries if q.positive and q.negative)
    no_positive = sum(1 for q in queries if not q.positive)
    data = RerankSet(name, split, source, kept, no_positive, len(queries) - len(kept) - no_positive, convention)
    if not kept:
        raise DataError(f"{source}: no query has both a positive and a negative candidate "
                        f"({data.no_positive} without a positive, {data.no_negative} without a negative); "
                        "MTEB skips such queries, so there is nothing to score")
    return data


def load_rerank_local(path: Path, split: str) -> RerankSet:
    """A ``.jsonl`` file (used for whatever split is asked) or a folder with ``<split>.jsonl``."""
    from pytest_embedeval.measure.data import read_jsonl_records

    if path.is_dir():
        file, name = path / f"{split}.jsonl", path.name
        if not file.is_file():
            have = ", ".join(sorted(p.name for p in path.glob("*.jsonl"))) or "none"
            raise DataError(f"{path}: no {file.name} for split {split!r} (files here: {have})")
    elif path.is_file():
        if path.suffix != ".jsonl":
            raise DataError(f"{path}: a reranking file is JSONL (.jsonl), one query a line")
        file, name = path, path.stem
    else:
        raise DataError(f"reranking data {path} does not exist")
    return make_rerank_set(name, split, str(file), [parse_query(w, r) for w, r in read_jsonl_records(file, "query, positive and negative")])


def load_rerank_hub(task: str) -> RerankSet:
    from pytest_embedeval.core.hub import load_hub_tables

    hub_id, revision, split = RERANK_TASKS[task]
    [table] = load_hub_tables(hub_id, [(None, split)], revision=revision, local="give a local folder",
                              what=f"reranking task {task} ({hub_id!r})")
    queries = [parse_query(f"hub:{hub_id}[{split}] row {i}", row) for i, row in enumerate(table)]
    return make_rerank_set(task, split, f"hub:{hub_id}@{revision[:8]}", queries)


def load_rerank(location: str | Path, split: str = "test") -> RerankSet:
    """An MTEB task name (:data:`RERANK_TASKS`), else a local file or folder."""
    from pytest_embedeval.measure.pair_classification import load_named

    return load_named(location, split, RERANK_TASKS, load_rerank_hub, load_rerank_local)


def similarities(queries: Any, docs: Any, how: str) -> Any:
    """Query x candidate scores in float32 as sentence-transformers' ``similarity`` gives them."""
    import numpy as np

    q, d = np.asarray(queries, dtype=np.float32), np.asarray(docs, dtype=np.float32)
    if how == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        d = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    elif how in ("euclidean", "manhattan"):
        order = 2 if how == "euclidean" else 1
        return -np.linalg.norm(q[:, None, :] - d[None, :, :], ord=order, axis=-1).astype(np.float32)
    elif how != "dot":
        raise EmbedEvalError(f"the model's similarity {how!r} is none of cosine, dot, euclidean, manhattan")
    return q @ d.T


def v1_scores(scores: Any, relevant: list[bool]) -> tuple[float, float]:
    """MTEB 1.x for one query: (average precision, MRR@10)."""
    import numpy as np
    from sklearn.metrics import average_precision_score

    ranking = np.argsort(-scores, kind="stable")[:MRR_AT]
    rr = next((1.0 / (rank + 1) for rank, index in enumerate(ranking) if relevant[index]), 0.0)
    return float(average_precision_score(relevant, scores.tolist())), rr


def doc_ids(number: int, query: RerankQuery) -> list[str]:
    """MTEB 2.x's document ids for a query's candidates (``transform_old_dataset_format``)."""
    qid = f"query{number}"
    return ([f"apositive_{qid}_{i:05d}" for i in range(len(query.positive))]
            + [f"negative_{qid}_{i:05d}" for i in range(len(query.negative))])


@dataclass(frozen=True)
class RerankingResult(TaskResult):
    """One reranking evaluation of one model on one device and data set, under one MTEB convention."""

    KIND: ClassVar[str] = "reranking"
    IDENTITY: ClassVar[tuple[str, ...]] = ("model", "device", "variant", "dataset", "split", "fingerprint",
                                           "convention", "batch_size", "prompt", "document_prompt")
    JUNIT: ClassVar[tuple[str, ...]] = ("mean_ap", "map", "mrr_at_10_v1", "map_at_1000", "ndcg_at_10")

    convention: str  # "1" (MTEB 1.x) or "2" (MTEB 2.x): which MAP is the main score and the gate's
    n_queries: int  # scored
    n_skipped: int  # without a positive or without a negative, as MTEB skips them
    n_candidates: int
    mean_ap: float  # MAP under ``convention``, MTEB's main score: map (1.x) or map_at_1000 (2.x), 0-1
    map: float  # MTEB 1.x: mean average precision (scikit-learn), not rounded
    mrr_at_10_v1: float  # MTEB 1.x MRR@10
    map_at_1000: float  # MTEB 2.x: trec_eval, rounded to 5 decimals as MTEB reports it
    ndcg_at_10: float
    metrics: dict[str, float] = field(compare=False)  # every MTEB 2.x figure (ndcg_at_k, map_at_k, mrr_at_k ...)
    per_query_ap: tuple[float, ...] = per_item()  # under ``convention``, for the gate
    document_prompt: str | None = None  # the candidates' prompt

    def entry_key(self) -> str:
        return f"{super().entry_key()}:mteb{self.convention}"

    def assert_map(self, min: float) -> RerankingResult:  # noqa: A002 - reads as the user writes it
        __tracebackhide__ = True
        return self.at_least(f"MAP (MTEB {self.convention}.x)", self.mean_ap * 100, min)


def evaluate_reranking(encode_queries: Callable[[list[str]], Any], encode_docs: Callable[[list[str]], Any],
                       data: RerankSet, *, model: str, device: str, batch_size: int, convention: str | None = None,
                       similarity: str = "cosine") -> RerankingResult:
    """Score every query's candidates under both MTEB conventions; ``convention`` (default: the data's) picks
    the main score."""
    import numpy as np

    from pytest_embedeval.measure.ranking import trec_scores

    convention = convention or data.convention
    if convention not in CONVENTIONS:
        raise EmbedEvalError(f"reranking convention {convention!r}: use '1' (MTEB 1.x) or '2' (MTEB 2.x)")
    what = f"model {model} on {device}, {data.label}"
    query_vectors = embed_unique(encode_queries, [t for q in data.queries for t in q.texts], f"{what}, queries")
    doc_vectors = embed_unique(encode_docs, [t for q in data.queries for t in q.positive + q.negative],
                               f"{what}, candidates")
    v1_ap, v1_rr, run, qrels = [], [], {}, {}
    for number, query in enumerate(data.queries):
        candidates = query.positive + query.negative
        relevant = [True] * len(query.positive) + [False] * len(query.negative)
        scores = similarities(query_vectors.of(query.texts), doc_vectors.of(candidates), similarity).max(axis=0)
        ap, rr = v1_scores(scores, relevant)
        v1_ap.append(ap)
        v1_rr.append(rr)
        ids = doc_ids(number, query)
        run[f"query{number}"] = dict(zip(ids, scores.tolist()))
        qrels[f"query{number}"] = dict(zip(ids, map(int, relevant)))
    means, per_query = trec_scores(qrels, run)
    v2_ap = [per_query[f"query{n}"]["map_cut_1000"] for n in range(len(data.queries))]
    v1_map = float(np.mean(v1_ap))
    return RerankingResult(
        model=model, device=device, dataset=data.name, split=data.split, source=data.source,
        fingerprint=data.fingerprint, convention=convention, n_queries=len(data.queries), n_skipped=data.skipped,
        n_candidates=sum(len(q.positive) + len(q.negative) for q in data.queries), batch_size=batch_size,
        mean_ap=v1_map if convention == "1" else means["map_at_1000"], map=v1_map,
        mrr_at_10_v1=float(np.mean(v1_rr)), map_at_1000=means["map_at_1000"], ndcg_at_10=means["ndcg_at_10"],
        metrics=means, encode_seconds=query_vectors.seconds + doc_vectors.seconds,
        per_query_ap=tuple(v1_ap if convention == "1" else v2_ap))


class RerankingKind(Kind):
    """Reranking: each query's AP under the result's convention, resampled over queries (MAP is their mean)."""

    def load(self, spec: TaskSpec, folder: Path | None) -> RerankSet:
        data = (load_rerank_hub(spec.info.name) if folder is None
                else replace(load_rerank_local(task_folder(folder, spec), spec.info.split), name=spec.info.name))
        convention = str(spec.info.params.get("convention", data.convention))
        if convention not in CONVENTIONS:
            raise DataError(f"{spec.label}: reranking convention {convention!r}: use '1' (MTEB 1.x) or '2' (MTEB 2.x)")
        return replace(data, convention=convention)

    def evaluate(self, encode_queries: Encoder, encode_docs: Encoder, data: Any, *, model: str,  # type: ignore[override]
                 device: str, batch_size: int) -> RerankingResult:
        return evaluate_reranking(encode_queries, encode_docs, data, model=model, device=device,
                                  batch_size=batch_size, convention=data.convention)


KIND = RerankingKind(
    name="reranking", result_type=RerankingResult, title="Reranking", task_type="Reranking",
    metric="MAP x100", main_score="mean_ap", points=100.0, per_item="per_query_ap", entry_items="ap_f32",
    count="n_queries", unit="queries", roles=("query", "document"),
    entry_fields=("dataset", "split", "fingerprint", "convention", "n_queries", "n_skipped", "batch_size"),
    rounded=("mean_ap", "map", "mrr_at_10_v1", "map_at_1000", "ndcg_at_10"),
    columns=(Column("queries", "n_queries", None), Column("skipped", "n_skipped", None),
             Column("MTEB", "convention", None), Column("MAP", "mean_ap", 2, 100.0),
             Column("MAP 1.x", "map", 2, 100.0), Column("MRR@10 1.x", "mrr_at_10_v1", 2, 100.0),
             Column("MAP@1000 2.x", "map_at_1000", 2, 100.0), Column("nDCG@10 2.x", "ndcg_at_10", 2, 100.0)),
    tasks=tuple(TaskInfo(name, hub_id, revision, split) for name, (hub_id, revision, split) in RERANK_TASKS.items()))
