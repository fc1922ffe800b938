"""Per-process state of a run: settings, targets, loaded models, data, records.

One :class:`EmbedSession` lives in ``config.stash`` for the whole run (one per
xdist worker).  It loads each model and data split at most once and memoises
measurements, so many tests over the same model cost one load and one encode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_embedeval.data import StsDataset, load_sts
from pytest_embedeval.models import EmbedTarget, ModelPool, load_sentence_transformer
from pytest_embedeval.options import Settings
from pytest_embedeval.report import Recorder


@dataclass
class EmbedSession:
    settings: Settings
    targets: list[EmbedTarget]
    rootdir: Path
    recorder: Recorder = field(default_factory=Recorder)
    pool: ModelPool = field(init=False)
    datasets: dict[str, StsDataset] = field(default_factory=dict)
    measurements: dict[Any, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        trust = self.settings.trust_remote_code
        self.pool = ModelPool(lambda target: load_sentence_transformer(target, trust))

    def dataset(self, split: str) -> StsDataset:
        if split not in self.datasets:
            self.datasets[split] = load_sts(self.settings.sts_path, split)
        return self.datasets[split]

    def memoise(self, key: Any, measure: Any) -> Any:
        """The measurement for ``key``, taken once per session by calling ``measure()``."""
        if key not in self.measurements:
            self.measurements[key] = measure()
        return self.measurements[key]
