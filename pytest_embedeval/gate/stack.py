"""Stack-upgrade acceptance: this environment against the one before an upgrade, side by side, one verdict.

``--embed-incumbent-env=PYTHON`` measures each model of the run in fresh processes of this interpreter
(the candidate stack) and of ``PYTHON`` (the incumbent), interleaved (measure/stack.py), and accepts
the upgrade only if

* accuracy has not dropped: the Spearman change over the same STS pairs by the one convention
  (``stats.drop_fails``), and no embedding moved by more than :data:`MAX_EMBEDDING_DIFF` (the bar
  vLLM's CI holds models to);
* no workload slowed: per batch size, each pair of processes (one of each stack, taking turns round
  by round) gives the median log ratio of its rounds, and the pairs are the replicates, so the process
  noise is measured, not assumed (``stats.process_slowdown``);
* the private peak of load + encode did not grow beyond the tolerance and the probes' noise floor;

and lists every package version that differs.  Unlike the environment layer of the speed gate
against a stored baseline (coarse, abstaining on another host), this compares on one host, now.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from pytest_embedeval.gate.acceptance import AcceptanceResult, Criterion
from pytest_embedeval.gate.entries import noise_floor
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.gate.stats import drop_fails, growth_fails, process_slowdown, spearman_change
from pytest_embedeval.gate.verdict import Status
from pytest_embedeval.measure.latency import make_inputs
from pytest_embedeval.measure.stack import inspect, run_probes

WORKLOADS = (1, 8, 32)  # batch sizes of short inputs, as the bundled latency suite sweeps them
MAX_EMBEDDING_DIFF = 1e-4


def evaluate_stack(target: Any, dataset: Any, python: str, tolerance: Tolerance, *, confidence: float, seed: int,
                   batch_size: int, rounds: int, warmup: int, processes: int, timeout_s: float,
                   trust_remote_code: bool = False) -> AcceptanceResult:
    """Measure ``target`` under this interpreter and under ``python``; judge this stack against that one."""
    names = (f"this environment ({sys.executable})", f"--embed-incumbent-env={python}")
    envs = [inspect(sys.executable, names[0], timeout_s), inspect(python, names[1], timeout_s)]
    pairs = list(zip(dataset.sentences1, dataset.sentences2))
    unique = list(dict.fromkeys(s for pair in pairs for s in pair))
    request = {"target": target.to_dict(), "device": target.device, "batch_size": batch_size,
               "sentences": make_inputs("short", batch_size), "trust_remote_code": trust_remote_code,
               "sys_path": [], "workloads": list(WORKLOADS), "rounds": rounds, "warmup": warmup,
               "sts_sentences": unique}
    with tempfile.TemporaryDirectory(prefix="embedeval-stack-") as folder:
        new, old = run_probes((sys.executable, python), names, request, processes, timeout_s, Path(folder))
        embeddings = [_load(Path(folder) / f"embeddings-{side}.npy") for side in (0, 1)]
    criteria = _accuracy(dataset, unique, pairs, embeddings, tolerance, confidence, seed)
    criteria += _speed(old, new, tolerance)
    criteria += _memory(old, new, tolerance, same_install=envs[0]["executable"] == envs[1]["executable"])
    return AcceptanceResult(names[0], names[1], target.device, tuple(criteria), kind=f"stack-upgrade ({target.label})",
                            notes=tuple(version_lines(envs[1]["packages"], envs[0]["packages"])))


def _load(path: Path) -> Any:
    import numpy as np

    return np.load(path)


def _accuracy(dataset: Any, unique: list[str], pairs: list[tuple[str, str]], embeddings: list[Any],
              tolerance: Tolerance, confidence: float, seed: int) -> list[Criterion]:
    import numpy as np

    index = {sentence: i for i, sentence in enumerate(unique)}
    first, second = ([index[pair[k]] for pair in pairs] for k in (0, 1))

    def cosines(vectors: Any) -> Any:
        a, b = vectors[first].astype(np.float64), vectors[second].astype(np.float64)
        return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))

    new, old = embeddings
    change = spearman_change(dataset.scores, cosines(old), cosines(new), confidence=confidence, seed=seed)
    largest = float(np.abs(new - old).max()) if new.shape == old.shape else float("inf")
    return [Criterion("Spearman", f"{change.baseline:.2f}", f"{change.current:.2f}",
                      f"{change.delta:+.2f} points [{change.low:+.2f}, {change.high:+.2f}]",
                      f"drop <= {tolerance.max_drop:g} or not real ({confidence:.0%})",
                      not drop_fails(change, tolerance.max_drop)),
            Criterion("largest embedding difference", "-", "-", f"{largest:.1e}", f"<= {MAX_EMBEDDING_DIFF:.0e}",
                      largest <= MAX_EMBEDDING_DIFF)]


def _speed(old: list[dict[str, Any]], new: list[dict[str, Any]], tolerance: Tolerance) -> list[Criterion]:
    import math

    criteria = []
    for batch in WORKLOADS:
        before, after = ([probe["log_seconds"][str(batch)] for probe in side] for side in (old, new))
        pairs = [statistics.median(math.log(n / o) for n, o in zip(mine["rounds"][str(batch)],
                                                                   theirs["rounds"][str(batch)]))
                 for mine, theirs in zip(new, old)]
        change = process_slowdown(pairs, tolerance=tolerance.max_slowdown)
        criteria.append(Criterion(
            f"speed, batch {batch} (p50 ms)", f"{math.exp(statistics.fmean(before)) * 1e3:.1f}",
            f"{math.exp(statistics.fmean(after)) * 1e3:.1f}", f"x{change.ratio:.3f} [{change.low:.3f}, {change.high:.3f}]",
            f"<= x{1 + tolerance.max_slowdown:.2f} (resolves {change.resolves:.1%}, {len(pairs)} pairs of processes "
            "taking turns)", change.decision != Status.FAIL))
    return criteria


def _memory(old: list[dict[str, Any]], new: list[dict[str, Any]], tolerance: Tolerance,
            same_install: bool) -> list[Criterion]:
    criteria = []
    for name, field in (("private MB", "private_mb"), ("peak RSS MB", "peak_rss_mb")):
        before = [probe["memory"][field] for probe in old if probe["memory"][field] is not None]
        after = [probe["memory"][field] for probe in new if probe["memory"][field] is not None]
        if not before or not after:
            continue
        then, now = statistics.median(before), statistics.median(after)
        floor = max(noise_floor(before), noise_floor(after))  # each side's own spread: not the change itself
        judged = field == "private_mb" or same_install  # RSS counts file pages, which differ between installs
        limit = (f"<= x{1 + tolerance.max_memory_growth:.2f} and +{floor:.0f} MB" if judged else
                 "not judged: two installs map their files differently")
        criteria.append(Criterion(name, f"{then:.0f}", f"{now:.0f}", f"x{now / then:.3f}", limit,
                                  not (judged and growth_fails(then, now, tolerance.max_memory_growth, floor))))
    return criteria


def version_lines(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Every distribution whose version differs, incumbent -> this environment."""
    changed = [f"  {name} {before.get(name, '(absent)')} -> {after.get(name, '(absent)')}"
               for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
    return ["versions that differ (incumbent -> this environment):", *changed] if changed else [
        "versions that differ: none"]
