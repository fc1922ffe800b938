"""Model-upgrade acceptance: candidate against incumbent in one run, one verdict.

``--embed-candidate=ID --embed-incumbent=ID`` adds one test item that measures
both models on the same data and machine and accepts the candidate only if

* accuracy has not dropped, on every task of ``--embed-tasks`` (else on STS):
  by the same convention as the baseline gate (``stats.drop_fails``), a drop
  of the main score (paired bootstrap over the same items) fails only when it is larger than ``max_drop`` and real.  The
  burden of proof is on the drop, in both places, so an unchanged model never
  fails on a small data set's wide interval; the table shows the interval, so
  a reviewer sees how little a small set can tell (docs/gates.md);
* it is not slower beyond ``max_slowdown``: both are timed in alternating
  rounds, each round's first turn taken by each in turn (AB BA), so drift and
  the position in a round hit both alike, in windows as the speed gate times them, and
  judged with the gate's process noise (``stats.ratio_slowdown``);
* its weights in memory and the peak RSS of a process loading it and
  encoding grow by at most ``max_memory_growth`` (dynamic int8 quantization
  shrinks the first and, done at load time, grows the second).

The plugin's acceptance item fails (and the exit status with it) on REJECT, listing the reasons.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, replace
from typing import Any

from pytest_embedeval.gate.entries import LOOK_TWO_WINDOWS, PROCESS_NOISE
from pytest_embedeval.gate.policy import Tolerance
from pytest_embedeval.gate.stats import drop_fails, growth_fails, paired_change, ratio_slowdown
from pytest_embedeval.gate.verdict import Status
from pytest_embedeval.measure.registry import kind_of
from pytest_embedeval.measure.latency import make_inputs, time_alternating
from pytest_embedeval.measure.yardstick import WINDOW_ROUNDS


@dataclass(frozen=True)
class Criterion:
    name: str
    incumbent: str
    candidate: str
    change: str
    limit: str
    ok: bool


@dataclass(frozen=True)
class AcceptanceResult:
    candidate: str
    incumbent: str
    device: str
    criteria: tuple[Criterion, ...]
    kind: str = "model-upgrade"  # or "stack-upgrade" (gate/stack.py)
    notes: tuple[str, ...] = ()  # lines shown under the table: the versions that differ

    @property
    def accepted(self) -> bool:
        return all(c.ok for c in self.criteria)

    @property
    def verdict(self) -> str:
        return "ACCEPT" if self.accepted else "REJECT"

    def reasons(self) -> list[str]:
        return [f"{c.name} {c.change} is outside the limit {c.limit}" for c in self.criteria if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict, "accepted": self.accepted}


def _ratio_criterion(name: str, before: float | None, after: float | None, max_growth: float,
                     fmt: str = "{:.1f}") -> Criterion:
    change = f"x{after / before:.3f}" if before and after is not None else "-"
    return Criterion(name, "-" if before is None else fmt.format(before), "-" if after is None else fmt.format(after),
                     change, f"<= x{1 + max_growth:.2f}", not growth_fails(before, after, max_growth))


def evaluate_upgrade(candidate: Any, incumbent: Any, tolerance: Tolerance, *, confidence: float, seed: int, timing: Any,
                     batch_size: int, tasks: tuple[str, ...] = ()) -> AcceptanceResult:
    """Measure both ``EmbedEval`` objects and judge the candidate (on ``tasks``, MTEB task names, else on STS)."""
    import torch

    criteria = []
    for name in tasks or (None,):  # the MTEB tasks of --embed-tasks, else STS
        new, old = (candidate.sts(), incumbent.sts()) if name is None else (candidate.task(name), incumbent.task(name))
        kind = kind_of(new)
        change = paired_change(kind, kind.shared(new), getattr(old, kind.per_item), getattr(new, kind.per_item),
                               confidence=confidence, seed=seed)
        criteria.append(Criterion(kind.metric if name is None else f"{name} {kind.metric}", f"{change.baseline:.2f}",
                                  f"{change.current:.2f}",
                                  f"{change.delta:+.2f} points [{change.low:+.2f}, {change.high:+.2f}]",
                                  f"drop <= {tolerance.max_drop:g} or not real ({confidence:.0%})",
                                  not drop_fails(change, tolerance.max_drop)))

    texts = make_inputs("short", batch_size)
    models = [candidate.model, incumbent.model]
    runs = [lambda m=m: m.encode(texts, batch_size=batch_size, show_progress_bar=False) for m in models]
    sync = torch.cuda.synchronize if candidate.device.startswith("cuda") else None
    windows, new_s, old_s = [], [], []
    for index in range(LOOK_TWO_WINDOWS):  # windows of alternating rounds, as the speed gate's (docs/gates.md)
        window_timing = replace(timing, rounds=WINDOW_ROUNDS, warmup=timing.warmup if index == 0 else 1)
        new_w, old_w = time_alternating(runs, window_timing, sync, rotate=True)
        windows.append(statistics.median(math.log(n / o) for n, o in zip(new_w, old_w)))
        new_s, old_s = new_s + new_w, old_s + old_w
    speed = ratio_slowdown(windows, tolerance=tolerance.max_slowdown, process_noise=PROCESS_NOISE["model"])
    criteria.append(Criterion(f"p50 ms (batch {batch_size})", f"{statistics.median(old_s) * 1000:.1f}",
                              f"{statistics.median(new_s) * 1000:.1f}",
                              f"x{speed.ratio:.3f} [{speed.low:.3f}, {speed.high:.3f}]",
                              f"<= x{1 + tolerance.max_slowdown:.2f} (resolves {speed.resolves:.1%})",
                              speed.decision != Status.FAIL))

    new_m, old_m = candidate.memory(batch_size), incumbent.memory(batch_size)
    growth = tolerance.max_memory_growth
    criteria += [  # weights: what the model holds; peak RSS: what a container limit sees (load + encode)
        _ratio_criterion("weights MB", sum(old_m.weight_mb.values()), sum(new_m.weight_mb.values()), growth),
        _ratio_criterion("peak RSS MB", old_m.peak_rss_mb, new_m.peak_rss_mb, growth, "{:.0f}"),
    ]
    return AcceptanceResult(candidate.target.label, incumbent.target.label, candidate.device, tuple(criteria))
