"""The speed gate's two references, timed in alternation with the measured model, window by window.

- The **yardstick**: a random-weight MiniLM-L6-shaped model (built offline, with a tokenizer of
  our own words) encoding a batch shaped like the measured one, through the same torch,
  transformers and sentence-transformers stack.  ``model / yardstick`` cancels machine speed, load
  and drift, so it compares across machines and noisy minutes: the *model* layer.
- The **reference**: float32 matrix products in numpy's own BLAS, no torch, on as many threads as
  torch uses, sized like the batch.  ``yardstick / reference`` moves when the stack under the model
  slows (a torch, transformers or tokenizers upgrade, a thread setting) and not when the model
  does: the *environment* layer, which the yardstick ratio alone cannot see.

A window is :data:`WINDOW_ROUNDS` rounds of ``[model, reference, yardstick]``; it keeps the median
of each round's log ratio.  The window, not the round, is the unit the gate replicates: rounds
within a window share the minute's conditions, windows do not (docs/gates.md).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

from pytest_embedeval.measure.latency import WORDS, Timing, make_inputs, time_alternating
from pytest_embedeval.models.zoo import build_random_model

CALIBRATION = "random-minilm-l6 and a numpy reference, the measured batch shape, v3"  # baselines name it
WINDOW_ROUNDS = 10
HIDDEN, INTERMEDIATE = 384, 1536  # the reference's matrices: one MiniLM feed-forward block


@dataclass(frozen=True)
class Window:
    """One window of alternating rounds: medians of the two log ratios and of each workload's time."""

    model: float  # median over the rounds of log(model / yardstick)
    environment: float  # median over the rounds of log(yardstick / reference)
    model_ms: float
    yardstick_ms: float
    reference_ms: float
    others: float | None = None  # share of the machine's CPU time other processes took meanwhile (MachineLoad)

    def to_dict(self) -> dict[str, float]:
        return {name: None if value is None else round(value, 6) for name, value in asdict(self).items()}


class MachineLoad:
    """How much of the machine other processes used while a window ran: ``/proc/stat`` minus our own CPU.

    torch's OpenMP threads wait for each other at every barrier, so on an oversubscribed machine
    the yardstick slows far more than the numpy reference (x2.4 in one A/A run beside two test
    suites): the environment layer can only be judged on a machine the run has to itself, and this
    tells whether it had.  None where ``/proc/stat`` is missing.
    """

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                fields = [int(value) for value in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # all but idle and iowait
        own = os.times()
        return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system, time.monotonic()

    # /proc/stat and os.times count in clock ticks (10 ms): over a shorter span one tick reads as a
    # busy machine (a share of 147 was seen over microseconds), so below this there is nothing to tell
    SHORTEST_S = 0.25

    def others(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None or end[2] - self.start[2] < self.SHORTEST_S:
            return None
        busy, own, wall = (after - before for after, before in zip(end, self.start))
        return min(1.0, max(0.0, (busy - own) / (wall * (os.cpu_count() or 1))))


def calibration_model(folder: Path) -> Path:
    """Build the yardstick: a random-weight MiniLM-L6-shaped model with a tokenizer of our own words."""
    return build_random_model("minilm-l6", folder, seed=0, vocabulary=WORDS)


def reference_workload(words: int, batch_size: int, threads: int) -> Callable[[], Any]:
    """Two feed-forward blocks of float32 products in numpy, about one per token of the batch.

    Each of ``threads`` Python threads multiplies its share with numpy's BLAS held to one thread
    (threadpoolctl): a multi-threaded OpenBLAS call leaves its workers spinning after it returns,
    which would slow whatever round comes next, while one-threaded calls on ``threads`` threads load
    the cores as torch does and leave nothing behind.
    """
    import numpy as np
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import ThreadpoolController

    rows = min(max(batch_size * (round(1.3 * words) + 2), 16), 4096)
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((max(rows // threads, 1), HIDDEN), dtype=np.float32) for _ in range(threads)]
    up = rng.standard_normal((HIDDEN, INTERMEDIATE), dtype=np.float32) / math.sqrt(HIDDEN)
    down = rng.standard_normal((INTERMEDIATE, HIDDEN), dtype=np.float32) / math.sqrt(INTERMEDIATE)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="embedeval-reference")
    limiter = ThreadpoolController()

    def block(x: Any) -> Any:
        for _ in range(2):
            x = np.maximum(x @ up, 0.0) @ down
        return x

    def run() -> None:
        with limiter.limit(limits=1, user_api="blas"):
            list(pool.map(block, blocks))

    return run


class SpeedProbe:
    """The yardstick model on one device, and the windows that time a model against it and the reference."""

    def __init__(self, device: str, folder: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self.device = device
        self.yardstick = SentenceTransformer(str(folder), device=device)

    def workloads(self, texts: list[str], batch_size: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """The yardstick and the reference for a batch shaped like ``texts``."""
        import torch

        words = round(sum(len(text.split()) for text in texts) / len(texts)) or 1
        shaped = make_inputs(words, batch_size, seed=1)
        yardstick = self.yardstick

        def encode_yardstick() -> Any:
            return yardstick.encode(shaped, batch_size=batch_size, show_progress_bar=False)

        return encode_yardstick, reference_workload(words, batch_size, torch.get_num_threads())

    def windows(self, run: Callable[[], Any], texts: list[str], batch_size: int, count: int, *,
                timing: Timing, sync: Callable[[], None] | None = None, warm: bool = True) -> list[Window]:
        """``count`` windows of [model, reference, yardstick] rounds (warmed up once, unless ``warm`` is False)."""
        yardstick, reference = self.workloads(texts, batch_size)
        found = []
        for index in range(count):
            window_timing = replace(timing, rounds=WINDOW_ROUNDS, warmup=timing.warmup if index == 0 and warm else 1)
            load = MachineLoad()
            model_s, reference_s, yardstick_s = time_alternating([run, reference, yardstick], window_timing, sync)
            found.append(Window(
                model=statistics.median(math.log(m / y) for m, y in zip(model_s, yardstick_s)),
                environment=statistics.median(math.log(y / r) for y, r in zip(yardstick_s, reference_s)),
                model_ms=statistics.median(model_s) * 1e3, yardstick_ms=statistics.median(yardstick_s) * 1e3,
                reference_ms=statistics.median(reference_s) * 1e3, others=load.others()))
        return found
