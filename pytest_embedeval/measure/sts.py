"""STS scoring exactly as MTEB does it, and its result object.

MTEB (and sentence-transformers' EmbeddingSimilarityEvaluator) score a pair by
``1 - paired_cosine_distances(e1, e2)`` and report Spearman and Pearson of
those scores against the gold scores, times 100.  We compute the same formula
in float64, but embed each unique sentence once instead of encoding both
columns (STS-B dev: 2,910 unique sentences instead of 3,000).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Sequence

from pytest_embedeval.errors import EmbedEvalError
from pytest_embedeval.measure.data import StsDataset
from pytest_embedeval.models.targets import Targeted

Encoder = Callable[[list[str]], Any]  # sentences -> 2-D float array, one row per sentence


def pair_cosine(e1: Any, e2: Any) -> Any:
    """``1 - paired_cosine_distances``: rows normalised (a zero row stays zero), float64."""
    import numpy as np

    from pytest_embedeval.core.vectors import unit_rows

    return 1.0 - 0.5 * ((unit_rows(e1, np.float64) - unit_rows(e2, np.float64)) ** 2).sum(axis=1)


def average_ranks(values: Any) -> Any:
    """1-based ranks, ties sharing their average rank (scipy.stats.rankdata's default)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def pearson(a: Any, b: Any) -> float:
    import numpy as np

    a = np.asarray(a, dtype=np.float64) - np.mean(a)
    b = np.asarray(b, dtype=np.float64) - np.mean(b)
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def correlations(gold: Sequence[float], predicted: Any) -> tuple[float, float]:
    """Spearman and Pearson times 100, as MTEB reports them (scipy's spearmanr / pearsonr).

    Computed with numpy, not scipy.stats: importing scipy.stats takes half a
    second, a third of a rerun whose embeddings come from the cache.  The
    test suite checks these against scipy.stats to 1e-12.
    """
    return pearson(average_ranks(gold), average_ranks(predicted)) * 100, pearson(gold, predicted) * 100


@dataclass(frozen=True)
class StsResult(Targeted):
    """One STS evaluation of one model on one device and data split."""

    KIND: ClassVar[str] = "sts"
    IDENTITY: ClassVar[tuple[str, ...]] = ("model", "device", "variant", "dataset", "split", "fingerprint",
                                           "batch_size", "prompt")
    JUNIT: ClassVar[tuple[str, ...]] = ("spearman", "pearson")

    model: str
    device: str
    dataset: str
    split: str
    source: str
    fingerprint: str
    n_pairs: int
    n_unique: int
    batch_size: int
    spearman: float
    pearson: float
    encode_seconds: float | None  # None when the embeddings came from the cache
    cosine: tuple[float, ...] = field(repr=False, compare=False)  # per pair, for the bootstrap gate
    gold: tuple[float, ...] = field(repr=False, compare=False)  # the data's gold scores, same order
    variant: str = ""  # "" for fp32 on torch, else "int8", "onnx" ... (variants.py)
    prompt: str | None = None  # the prompt prepended to every sentence (models/prompts.py), None for none
    prompt_name: str | None = None  # the model's prompt key it came from: "STS", "STSBenchmark"
    task: str = ""  # the MTEB task (``STS13``, ``STS17:en-en``) when the data is one, for the mean over tasks

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        del record["cosine"], record["gold"]
        return record

    def entry_key(self) -> str:
        """Its baseline entry: the data (name, split, content) and the batch size."""
        key = f"sts:{self.dataset}/{self.split}:{self.fingerprint}:bs{self.batch_size}"
        if self.prompt:  # a changed prompt is a different measurement; no prompt keeps the old key
            from pytest_embedeval.models.prompts import prompt_digest

            key += f":prompt-{prompt_digest(self.prompt)}"
        return key

    def _describe(self) -> str:
        return (f"model {self.model} on {self.device}, {self.dataset}/{self.split} "
                f"({self.n_pairs} pairs, {self.source})")

    def assert_spearman(self, min: float) -> StsResult:  # noqa: A002 - reads as the user writes it
        __tracebackhide__ = True  # the failure points at the user's line, not ours
        if not self.spearman >= min:
            raise AssertionError(f"Spearman {self.spearman:.2f} is below the minimum {min:.2f} for {self._describe()}")
        return self

    def assert_pearson(self, min: float) -> StsResult:  # noqa: A002
        __tracebackhide__ = True
        if not self.pearson >= min:
            raise AssertionError(f"Pearson {self.pearson:.2f} is below the minimum {min:.2f} for {self._describe()}")
        return self


def evaluate_sts(encode: Encoder, dataset: StsDataset, *, model: str, device: str, batch_size: int) -> StsResult:
    """Embed the unique sentences once, score each pair, correlate with the gold scores."""
    import numpy as np

    unique = list(dict.fromkeys(dataset.sentences1 + dataset.sentences2))
    row = {sentence: i for i, sentence in enumerate(unique)}
    start = time.perf_counter()
    embeddings = np.asarray(encode(unique))
    seconds = time.perf_counter() - start
    if embeddings.ndim != 2 or len(embeddings) != len(unique):
        raise EmbedEvalError(f"model {model} on {device}: encode returned shape {embeddings.shape} "
                             f"for {len(unique)} sentences; expected one row per sentence")
    if not np.isfinite(embeddings).all():
        raise EmbedEvalError(f"model {model} on {device} produced non-finite embeddings (NaN or inf) "
                             f"for {dataset.name}/{dataset.split}; try float32")
    cosine = pair_cosine(embeddings[[row[s] for s in dataset.sentences1]],
                         embeddings[[row[s] for s in dataset.sentences2]])
    spearman, pearson = correlations(dataset.scores, cosine)
    return StsResult(
        model=model, device=device, dataset=dataset.name, split=dataset.split, source=dataset.source,
        fingerprint=dataset.fingerprint, n_pairs=len(dataset), n_unique=len(unique), batch_size=batch_size,
        spearman=spearman, pearson=pearson, encode_seconds=seconds, cosine=tuple(cosine.tolist()),
        gold=dataset.scores, task=dataset.name if dataset.task else "",
    )
