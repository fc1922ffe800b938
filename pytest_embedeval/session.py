"""Per-process state of a run: settings, targets, loaded models, data, records.

One :class:`EmbedSession` lives in ``config.stash`` for the whole run (one per
xdist worker).  It loads each model and data split at most once, builds each
random-weight model once, and memoises measurements, so many tests over the
same model cost one load and one encode.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pytest_embedeval.data import StsDataset, load_sts
from pytest_embedeval.latency import Timing
from pytest_embedeval.models import EmbedTarget, ModelPool, load_target
from pytest_embedeval.options import Settings
from pytest_embedeval.report import Recorder


@dataclass
class EmbedSession:
    settings: Settings
    targets: list[EmbedTarget]
    rootdir: Path
    timing: Timing = field(default_factory=Timing)
    benchmark_skip: bool = False  # pytest-benchmark's --benchmark-skip: no latency measurements
    recorder: Recorder = field(default_factory=Recorder)
    pool: ModelPool = field(init=False)
    datasets: dict[str, StsDataset] = field(default_factory=dict)
    measurements: dict[Any, Any] = field(default_factory=dict)
    _zoo_dir: Path | None = None

    def __post_init__(self) -> None:
        trust = self.settings.trust_remote_code
        self.pool = ModelPool(lambda target: load_target(self.materialise(target), trust))

    def dataset(self, split: str) -> StsDataset:
        if split not in self.datasets:
            self.datasets[split] = load_sts(self.settings.sts_path, split)
        return self.datasets[split]

    def memoise(self, key: Any, measure: Any) -> Any:
        """The measurement for ``key``, taken once per session by calling ``measure()``."""
        if key not in self.measurements:
            self.measurements[key] = measure()
        return self.measurements[key]

    def materialise(self, target: EmbedTarget) -> EmbedTarget:
        """The target with a folder to load from: random-weight models are built on first use."""
        spec = target.model
        if spec.zoo is None or spec.path is not None:
            return target

        def build() -> Path:
            from pytest_embedeval.zoo import build_random_model

            if self._zoo_dir is None:
                self._zoo_dir = Path(tempfile.mkdtemp(prefix="embedeval-zoo-"))
            return build_random_model(spec.zoo, self._zoo_dir / spec.zoo)

        folder = self.memoise(("zoo", spec.zoo), build)
        return replace(target, model=replace(spec, path=folder))

    def close(self) -> None:
        if self._zoo_dir is not None:
            shutil.rmtree(self._zoo_dir, ignore_errors=True)
