"""One run's shared state, split by concern: what measurements need, and what becomes of their results.

:class:`Resources` loads each model and data split once and memoises
measurements, so many tests over one model cost one load and one encode.
:class:`Recording` turns each result into a record and, where asked, a
baseline verdict for the running test.  :class:`EmbedRun` holds the two and
the targets of the run; it lives in ``config.stash`` (one per xdist worker).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pytest_embedeval.core.environment import describe
from pytest_embedeval.core.lock import MeasurementLock
from pytest_embedeval.gate.judge import Gatekeeper
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.gate.store import BaselineStore
from pytest_embedeval.gate.entries import LOOK_TWO_WINDOWS, SAVE_REPLICATES
from pytest_embedeval.gate.verdict import MORE, SAVED, UPDATED
from pytest_embedeval.measure.cache import EmbeddingCache
from pytest_embedeval.measure.data import StsDataset, load_sts
from pytest_embedeval.measure.latency import Timing
from pytest_embedeval.models.pool import ModelPool
from pytest_embedeval.models.targets import EmbedTarget, local_folder
from pytest_embedeval.plugin.state import ItemState
from pytest_embedeval.plugin.settings import Settings
from pytest_embedeval.report.records import RunResults


@dataclass
class Resources:
    """What a measurement needs: models, data, the lock, timing settings, the embedding cache, the yardstick."""

    settings: Settings
    pool: ModelPool
    timing: Timing = field(default_factory=Timing)
    benchmark_skip: bool = False  # pytest-benchmark's --benchmark-skip: no latency measurements
    lock: MeasurementLock = field(default_factory=lambda: MeasurementLock(None))
    embeddings: EmbeddingCache | None = None  # STS embeddings across runs (cache.py); None when off
    _datasets: dict[str, StsDataset] = field(default_factory=dict)
    measurements: dict[Any, Any] = field(default_factory=dict)  # memoised results, by what identifies them

    def dataset(self, split: str) -> StsDataset:
        if split not in self._datasets:
            self._datasets[split] = load_sts(self.settings.sts_path, split)
        return self._datasets[split]

    def task_dataset(self, name: str) -> StsDataset:
        """The data of an MTEB STS task (``--embed-sts-tasks``), from --embed-sts-path or the hub."""
        from pytest_embedeval.measure.tasks import load_task

        return self.memoise(("task", name), lambda: load_task(self.settings.sts_path, name))

    def task_data(self, name: str) -> Any:
        """The data of the MTEB task ``name`` (``--embed-tasks``), from --embed-task-path or the hub, loaded once."""
        from pytest_embedeval.errors import DataError
        from pytest_embedeval.measure.registry import parse_task

        try:
            spec = parse_task(name, self.settings.task_path)
        except ValueError as exc:
            raise DataError(str(exc)) from None

        def load() -> Any:
            try:
                return spec.kind.load(spec, self.settings.task_path)
            except OSError as exc:  # unreadable file or folder: name it, no traceback
                raise DataError(f"{exc.filename or self.settings.task_path}: {exc.strerror or exc}") from None

        return spec, self.memoise(("task-data", spec.label), load)

    def retrieval_set(self, location: str | None = None, split: str | None = None) -> Any:
        """A BEIR retrieval set (``--embed-retrieval-path``, or ``location``), loaded once per session."""
        from pytest_embedeval.errors import DataError
        from pytest_embedeval.measure.beir import load_beir

        settings = self.settings
        raw = location or settings.retrieval_path
        if raw is None:
            raise DataError("no retrieval set: pass --embed-retrieval-path=FOLDER (BEIR layout) or hub:ORG/NAME")
        if not raw.startswith("hub:"):
            raw = str((settings.bases.get("retrieval_path", Path.cwd()) / Path(raw).expanduser()).resolve())
        split = split or settings.retrieval_split
        return self.memoise(("beir", raw, split), lambda: load_beir(raw, split))

    def memoise(self, key: Any, measure: Callable[[], Any]) -> Any:
        """The measurement for ``key``, taken once per session by calling ``measure()``."""
        if key not in self.measurements:
            self.measurements[key] = measure()
        return self.measurements[key]

    def model_fingerprint(self, target: EmbedTarget) -> str | None:
        """Content hash of the target's model files (None when they are not local yet)."""
        from pytest_embedeval.core.fingerprint import folder_fingerprint

        folder = local_folder(self.pool.materialise(target).model)
        if folder is None:
            return None
        return self.memoise(("fingerprint", folder), lambda: folder_fingerprint(folder))

    def speed_probe(self, device: str) -> Any:
        """The speed gate's yardstick and reference on ``device`` (yardstick.SpeedProbe), built once."""
        from pytest_embedeval.measure.yardstick import SpeedProbe, calibration_model

        folder = self.pool.build("calibration", calibration_model)
        return self.memoise(("speed-probe", device), lambda: SpeedProbe(device, folder))


@dataclass
class Recording:
    """Every result becomes a record; a gated one also gets its verdict, which the running test sees."""

    settings: Settings
    rootdir: Path
    results: RunResults = field(default_factory=RunResults)
    _gatekeeper: Gatekeeper | None = None
    _verdicts: dict[Any, Any] = field(default_factory=dict)
    _saved: list[tuple[str, Callable[[int], Any]]] = field(default_factory=list)  # extend() of saved results

    @property
    def default_tolerance(self) -> Tolerance:
        settings = self.settings
        return Tolerance(settings.max_drop, settings.max_slowdown, settings.max_memory_growth)

    @property
    def gatekeeper(self) -> Gatekeeper:
        if self._gatekeeper is None:
            settings = self.settings
            self._gatekeeper = Gatekeeper(
                BaselineStore(settings.baseline_dir or self.rootdir / "baselines"), missing=settings.baseline_missing,
                save=settings.baseline_save, update=settings.baseline_update, confidence=settings.confidence,
                seed=settings.seed, environment=describe(self.rootdir))
        return self._gatekeeper

    @property
    def pending(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Baseline entries waiting to be written (none when nothing was gated)."""
        return self._gatekeeper.pending if self._gatekeeper is not None else {}

    def record(self, result: Any, state: ItemState, gate: bool = True,
               extend: Callable[[int], Any] | None = None) -> None:
        """Report ``result`` and (``gate``) compare it with its baseline; ``state`` is the running test's.

        ``extend(n)`` measures ``n`` more windows or probes of the same workload: the speed gate's
        second look when its first cannot decide, and the spread a saved baseline keeps
        (:meth:`finish_saves`).
        """
        state.records.append(self.results.add(result))
        if not gate:
            return
        tolerance = state.tolerance or self.default_tolerance
        # results are memoised for the whole session, so id() is a stable key
        key = (id(result), tolerance)
        if key not in self._verdicts:
            verdict = self.gatekeeper.check(result, tolerance, final=extend is None)
            if verdict.status == MORE and extend is not None:
                result = extend(LOOK_TWO_WINDOWS - len(result.windows or ()))
                state.records[-1] = self.results.add(result)
                verdict = self.gatekeeper.check(result, tolerance, final=True)
            if verdict.status in (SAVED, UPDATED) and extend is not None:
                self._saved.append((result.KIND, extend))
            self._verdicts[key] = verdict
        verdict = self._verdicts[key]
        self.results.add_verdict(verdict)
        state.verdicts.append(verdict)

    def finish_saves(self) -> None:
        """Baselines being saved get their replicates now, at the end of the run: more speed windows,
        one per workload in turn so they are spread in time, and more memory probes."""
        latest: dict[int, Any] = {}
        for turn in range(SAVE_REPLICATES - 1):
            for index, (kind, extend) in enumerate(self._saved):
                if kind == "latency" or turn == 0:
                    latest[index] = extend(1 if kind == "latency" else SAVE_REPLICATES - 1)
        for result in latest.values():
            self.gatekeeper.check(result, self.default_tolerance)  # rewrites the pending entry
            self.results.add(result)
        self._saved.clear()


@dataclass(frozen=True)
class TestRecorder:
    """What a test's ``embed_eval`` reports to: the run's recording, bound to that test's state."""

    recording: Recording
    state: ItemState
    gate: bool = True  # compare with baselines (the acceptance check compares its two models instead)

    def record(self, result: Any, extend: Callable[[int], Any] | None = None) -> None:
        self.recording.record(result, self.state, self.gate, extend)


@dataclass
class EmbedRun:
    """The targets of the run, what measuring them needs, and what becomes of the results."""

    settings: Settings
    targets: list[EmbedTarget]
    resources: Resources
    recording: Recording
    acceptance_targets: tuple[EmbedTarget, EmbedTarget] | None = None  # candidate, incumbent

    def close(self) -> None:
        self.resources.pool.close()
