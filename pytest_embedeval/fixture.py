"""``embed_eval``: the object a test uses to measure its model.

It is bound to one target (model on device) and records every measurement for
the report.  Measurements are memoised per session: two tests asking for the
same STS score of the same model share one encode.
"""

from __future__ import annotations

from typing import Any

from pytest_embedeval.data import StsDataset
from pytest_embedeval.models import EmbedTarget, resolve_device
from pytest_embedeval.session import EmbedSession
from pytest_embedeval.sts import StsResult, evaluate_sts


class EmbedEval:
    def __init__(self, session: EmbedSession, target: EmbedTarget, split: str) -> None:
        self.session = session
        self.target = target
        self.split = split

    def __repr__(self) -> str:
        return f"<EmbedEval {self.target.id}>"

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (loaded on first use, once per session)."""
        return self.session.pool.get(self.target)

    @property
    def device(self) -> str:
        return resolve_device(self.target.device)

    def dataset(self, split: str | None = None) -> StsDataset:
        return self.session.dataset(split or self.split)

    def sts(self, split: str | None = None, *, dataset: StsDataset | None = None,
            batch_size: int | None = None) -> StsResult:
        """Spearman/Pearson x100 of cosine similarity against gold scores (MTEB scoring)."""
        data = dataset if dataset is not None else self.dataset(split)
        size = batch_size or self.session.settings.batch_size

        def measure() -> StsResult:
            model = self.model

            def encode(sentences: list[str]) -> Any:
                return model.encode(sentences, batch_size=size, show_progress_bar=False, convert_to_numpy=True)

            return evaluate_sts(encode, data, model=self.target.model.name, device=self.device, batch_size=size)

        key = ("sts", self.target, data.name, data.split, data.source, data.fingerprint, size)
        result = self.session.memoise(key, measure)
        self.session.recorder.add("sts", result.to_dict())
        return result
