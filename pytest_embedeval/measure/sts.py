"""STS scoring exactly as MTEB does it, and its result object.

MTEB (and sentence-transformers' EmbeddingSimilarityEvaluator) score a pair by
``1 - paired_cosine_distances(e1, e2)`` and report Spearman and Pearson of
those scores against the gold scores, times 100.  We compute the same formula
in float64, but embed each unique sentence once instead of encoding both
columns (STS-B dev: 2,910 unique sentences instead of 3,000).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

from pytest_embedeval.measure.accuracy import Column, Encoder, Kind, TaskResult, TaskSpec, embed_unique, per_item
from pytest_embedeval.measure.data import StsDataset
from pytest_embedeval.measure.tasks import STS_TASKS


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


def spearman_rows(gold: Any, predicted: Any, axis: int = -1) -> Any:
    """Spearman x100 along ``axis``, vectorised for the bootstrap's resamples (scipy's rankdata)."""
    import numpy as np
    from scipy.stats import rankdata

    a = rankdata(gold, axis=axis)
    b = rankdata(predicted, axis=axis)
    a = a - a.mean(axis=axis, keepdims=True)
    b = b - b.mean(axis=axis, keepdims=True)
    return 100.0 * (a * b).sum(axis=axis) / np.sqrt((a * a).sum(axis=axis) * (b * b).sum(axis=axis))


@dataclass(frozen=True)
class StsResult(TaskResult):
    """One STS evaluation of one model on one device and data split."""

    KIND: ClassVar[str] = "sts"
    JUNIT: ClassVar[tuple[str, ...]] = ("spearman", "pearson")

    n_pairs: int
    n_unique: int
    spearman: float
    pearson: float
    cosine: tuple[float, ...] = per_item()  # per pair, for the bootstrap gate
    gold: tuple[float, ...] = per_item()  # the data's gold scores, same order
    prompt_name: str | None = None  # the model's prompt key it came from: "STS", "STSBenchmark"

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
    embedded = embed_unique(encode, dataset.sentences1 + dataset.sentences2,
                            f"model {model} on {device}, {dataset.label}")
    cosine = pair_cosine(embedded.of(dataset.sentences1), embedded.of(dataset.sentences2))
    spearman, pearson = correlations(dataset.scores, cosine)
    return StsResult(
        model=model, device=device, dataset=dataset.name, split=dataset.split, source=dataset.source,
        fingerprint=dataset.fingerprint, n_pairs=len(dataset), n_unique=len(embedded.row), batch_size=batch_size,
        spearman=spearman, pearson=pearson, encode_seconds=embedded.seconds, cosine=tuple(cosine.tolist()),
        gold=dataset.scores, task=dataset.name if dataset.task else "",
    )


class StsKind(Kind):
    """STS: the Spearman of the pairs' cosines against the gold scores, resampled over pairs."""

    def shared(self, result: Any) -> tuple[Any, ...]:
        return (result.gold,)

    def score(self, *arrays: Any, axis: int = -1) -> Any:
        gold, cosine = arrays
        import numpy as np

        if np.ndim(cosine) == 1:  # numpy alone: no scipy import when nothing is resampled
            return correlations(gold, cosine)[0]
        return spearman_rows(np.broadcast_to(gold, np.shape(cosine)), cosine, axis)

    def unchanged(self, before: Any, after: Any) -> bool:
        """Spearman sees only the order: the same order (ties included) is the same score on every resample.

        The common case of an unchanged model on another CPU: between an AMD EPYC and an Intel Xeon, 1,183 of
        1,500 STS-B dev cosines differed (by at most 3e-7) and no pair changed rank."""
        import numpy as np

        return bool(np.array_equal(average_ranks(before), average_ranks(after)))

    def load(self, spec: TaskSpec, folder: Path | None) -> StsDataset:
        from pytest_embedeval.measure.tasks import load_task

        return load_task(folder, spec.label)

    def evaluate(self, encode: Encoder, data: Any, *, model: str, device: str, batch_size: int) -> StsResult:
        return evaluate_sts(encode, data, model=model, device=device, batch_size=batch_size)


KIND = StsKind(
    name="sts", result_type=StsResult, title="STS", task_type="STS", metric="Spearman", main_score="spearman", points=1.0,
    per_item="cosine", count="n_pairs", unit="pairs",
    entry_fields=("dataset", "split", "fingerprint", "n_pairs", "batch_size"), rounded=("spearman", "pearson"),
    digits=4, columns=(Column("pairs", "n_pairs", None), Column("spearman", "spearman"), Column("pearson", "pearson")),
    tasks=tuple(STS_TASKS.values()),
    subset_sep=":")
