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
from typing import Any, Callable

from pytest_embedeval.baselines import BaselineStore, Gatekeeper, Tolerance
from pytest_embedeval.cache import EmbeddingCache
from pytest_embedeval.concurrency import MeasurementLock
from pytest_embedeval.data import StsDataset, load_sts
from pytest_embedeval.gates import NO_BASELINE, Verdict
from pytest_embedeval.latency import Timing
from pytest_embedeval.models import EmbedTarget, ModelPool, load_target
from pytest_embedeval.options import Settings
from pytest_embedeval.report import Recorder


# the figures each kind of measurement gives JUnit (record_property) per test
PROPERTIES = {"sts": ("spearman", "pearson"), "latency": ("p50_ms", "p95_ms", "sentences_per_s"),
              "memory": ("peak_rss_mb", "params")}


def _write_markdown(path: Path, text: str, append: bool) -> None:
    """$GITHUB_STEP_SUMMARY is appended to (other steps write there too); our own file is replaced atomically."""
    if append:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    else:
        from pytest_embedeval.atomic import write_text_atomic

        write_text_atomic(path, text)


@dataclass
class EmbedSession:
    settings: Settings
    targets: list[EmbedTarget]
    rootdir: Path
    timing: Timing = field(default_factory=Timing)
    benchmark_skip: bool = False  # pytest-benchmark's --benchmark-skip: no latency measurements
    lock: MeasurementLock = field(default_factory=lambda: MeasurementLock(None))
    embeddings: EmbeddingCache | None = None  # STS embeddings across runs (cache.py); None when off
    recorder: Recorder = field(default_factory=Recorder)
    pool: ModelPool = field(init=False)
    datasets: dict[str, StsDataset] = field(default_factory=dict)
    measurements: dict[Any, Any] = field(default_factory=dict)
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # latest verdict per measurement
    item_verdicts: list[Verdict] = field(default_factory=list)  # those of the running test
    item_records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tolerance: Tolerance | None = None  # the running test's embed_tolerance, else the options'
    acceptance_targets: tuple[EmbedTarget, EmbedTarget] | None = None  # candidate, incumbent
    acceptance: Any = None  # the AcceptanceResult, once measured
    acceptance_lines: list[str] = field(default_factory=list)  # its table, as a worker sent it
    output_notes: list[str] = field(default_factory=list)  # "report written to ..." lines
    hybrids: dict[Any, dict[str, Any]] = field(default_factory=dict)  # retrieve + rerank results, as dicts
    _zoo_dir: Path | None = None
    _gatekeeper: Gatekeeper | None = None

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

    @property
    def default_tolerance(self) -> Tolerance:
        settings = self.settings
        return Tolerance(settings.max_drop, settings.max_slowdown, settings.max_memory_growth)

    @property
    def gatekeeper(self) -> Gatekeeper:
        if self._gatekeeper is None:
            from pytest_embedeval.environment import describe

            settings = self.settings
            self._gatekeeper = Gatekeeper(
                BaselineStore(settings.baseline_dir or self.rootdir / "baselines"), missing=settings.baseline_missing,
                save=settings.baseline_save, update=settings.baseline_update, confidence=settings.confidence,
                seed=settings.seed, environment=describe(self.rootdir))
        return self._gatekeeper

    def record(self, kind: str, result: Any, gate: bool = True, confirm: Callable[[], Any] | None = None) -> None:
        """Report a measurement and (``gate``) compare it with its baseline; the running test sees the verdict.

        ``confirm`` measures again: a failed verdict stands only if the new measurement fails too.
        """
        record = result.to_dict()
        self.recorder.add(kind, record)
        self.item_records.append((kind, record))
        if not gate:
            return
        tolerance = self.tolerance or self.default_tolerance
        # results live in self.measurements for the whole session, so id() is a stable key
        verdict = self.memoise(("verdict", kind, id(result), tolerance),
                               lambda: self.gatekeeper.check(kind, result, tolerance, confirm))
        self.verdicts[f"{verdict.model}|{verdict.device}|{verdict.key}"] = verdict
        self.item_verdicts.append(verdict)

    def begin_item(self, tolerance: Tolerance | None) -> None:
        self.item_verdicts, self.item_records, self.tolerance = [], [], tolerance

    def conclude_item(self) -> tuple[list[str], str | None, list[tuple[str, Any]]]:
        """The running test's failures, skip reason and JUnit properties from its measurements."""
        failures = [f"baseline gate: {v.line()}" for v in self.item_verdicts if v.failed]
        missing = [v for v in self.item_verdicts if v.status == NO_BASELINE]
        policy = self.settings.baseline_missing
        if missing and policy == "fail":
            failures += [f"baseline gate: {v.line()} (--embed-baseline-missing=fail)" for v in missing]
        skip = "; ".join(v.line() for v in missing) if missing and policy == "skip" else None
        properties: list[tuple[str, Any]] = []
        from pytest_embedeval.baselines import variant_key

        for kind, record in self.item_records:
            prefix = f"embedeval.{record['model']}.{variant_key(record)}"
            for name in PROPERTIES[kind]:
                properties.append((f"{prefix}.{kind}.{name}", record[name]))
        for verdict in self.item_verdicts:
            properties.append((f"embedeval.{verdict.model}.{verdict.device}.{verdict.key}",
                               f"{verdict.status} {verdict.change}".strip()))
        return failures, skip, properties

    def worker_output(self) -> dict[str, Any]:
        """What an xdist worker sends to the controller: plain data only."""
        pending = self._gatekeeper.pending if self._gatekeeper is not None else {}
        return {"records": self.recorder.records, "verdicts": [v.to_dict() for v in self.verdicts.values()],
                "pending": pending, "acceptance": None if self.acceptance is None else self.acceptance.table(),
                "hybrids": list(self.hybrids.values())}

    def merge_worker_output(self, output: dict[str, Any]) -> None:
        self.recorder.extend(output.get("records") or [])
        for verdict in output.get("verdicts") or []:
            self.verdicts[f"{verdict['model']}|{verdict['device']}|{verdict['key']}"] = Verdict(**verdict)
        for model, variants in (output.get("pending") or {}).items():
            for variant, entries in variants.items():
                self.gatekeeper.pending.setdefault(model, {}).setdefault(variant, {}).update(entries)
        if output.get("acceptance"):
            self.acceptance_lines = output["acceptance"]
        for hybrid in output.get("hybrids") or []:
            self.hybrids[(hybrid["small"], hybrid["large"], len(self.hybrids))] = hybrid

    @property
    def hybrid_tables(self) -> list[str]:
        from pytest_embedeval.retrieval import HybridResult

        lines: list[str] = []
        for record in self.hybrids.values():
            lines += ["", *HybridResult.from_dict(record).table()]
        return lines

    @property
    def acceptance_table(self) -> list[str]:
        return self.acceptance.table() if self.acceptance is not None else self.acceptance_lines

    def write_outputs(self, report: Path | None, markdown: Path | None) -> list[str]:
        """Baselines, JSON report, Markdown summary (controller only); the errors, if any."""
        import os

        from pytest_embedeval.environment import describe
        from pytest_embedeval.errors import EmbedEvalError
        from pytest_embedeval.report import markdown_summary, write_report

        errors, notes = [], []
        if self._gatekeeper is not None and self._gatekeeper.pending:
            try:
                notes += [f"embedeval baseline written: {path}" for path in self._gatekeeper.write_pending()]
            except EmbedEvalError as exc:
                errors.append(f"embedeval: baselines not written: {exc}")
        verdicts = [v.to_dict() for v in self.verdicts.values()]
        if report is not None:
            write_report(report, self.recorder.records, describe(self.rootdir), verdicts=verdicts,
                         acceptance=self.acceptance_table, retrieval=list(self.hybrids.values()))
            notes.append(f"embedeval report: {report}")
        targets = [markdown] if markdown is not None else []
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            targets.append(Path(os.environ["GITHUB_STEP_SUMMARY"]))
        if targets:
            extra = ["", "```", *self.acceptance_table, "```"] if self.acceptance_table else []
            if self.hybrids:
                extra += ["", "```", *self.hybrid_tables[1:], "```"]
            text = markdown_summary(self.recorder.records, verdicts, self.settings.batch_size, extra)
            for path in targets:
                _write_markdown(path, text, append=path != markdown)
                notes.append(f"embedeval markdown: {path}")
        if self.settings.tradeoff is not None and self.recorder.records:
            from pytest_embedeval.tradeoff import write_tradeoff

            picture = write_tradeoff(self.settings.tradeoff, self.recorder.records, self.settings.batch_size)
            notes.append(f"embedeval trade-off: {picture} (and tradeoff.html, tradeoff.json)")
        self.output_notes = notes
        return errors

    def summary_lines(self) -> list[str]:
        from pytest_embedeval.report import latency_table, sts_table, target_table, verdict_table

        records = self.recorder.records
        tables = [target_table(records, self.settings.batch_size), latency_table(records), sts_table(records),
                  verdict_table([v.to_dict() for v in self.verdicts.values()])]
        lines: list[str] = []
        for table in tables:
            if table is not None:
                lines += ["", *table.text()]
        if self.acceptance_table:
            lines += ["", *self.acceptance_table]
        return lines + self.hybrid_tables + self.output_notes

    def model_fingerprint(self, target: EmbedTarget) -> str | None:
        """Content hash of the target's model files (None when they are not local yet)."""
        from pytest_embedeval.cache import folder_fingerprint
        from pytest_embedeval.models import local_folder

        folder = local_folder(self.materialise(target).model)
        if folder is None:
            return None
        return self.memoise(("fingerprint", folder), lambda: folder_fingerprint(folder))

    def calibration_workload(self, device: str) -> Any:
        """The speed gate's yardstick on ``device`` (latency.calibration_workload), built once."""
        from pytest_embedeval.latency import calibration_model, calibration_workload

        folder = self.memoise(("calibration-model",), lambda: calibration_model(self.zoo_dir / "calibration"))
        return self.memoise(("calibration", device), lambda: calibration_workload(device, folder))

    @property
    def zoo_dir(self) -> Path:
        """A temporary folder for models this session builds, removed at its end."""
        if self._zoo_dir is None:
            self._zoo_dir = Path(tempfile.mkdtemp(prefix="embedeval-zoo-"))
        return self._zoo_dir

    def materialise(self, target: EmbedTarget) -> EmbedTarget:
        """The target with a folder to load from: random-weight models are built on first use."""
        spec = target.model
        if spec.zoo is None or spec.path is not None:
            return target

        def build() -> Path:
            from pytest_embedeval.zoo import build_random_model

            return build_random_model(spec.zoo, self.zoo_dir / spec.zoo)

        folder = self.memoise(("zoo", spec.zoo), build)
        return replace(target, model=replace(spec, path=folder))

    def close(self) -> None:
        if self._zoo_dir is not None:
            shutil.rmtree(self._zoo_dir, ignore_errors=True)
