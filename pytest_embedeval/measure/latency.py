"""Latency of ``model.encode``: warm-up, timed rounds, statistics, budgets.

The statistics (min, median, mean, sample stddev, IQR) are pytest-benchmark's
definitions, reproduced here with :mod:`statistics` (its quartiles are its
own: Wikipedia's method 3 for an odd count, method 2 for an even one), so the
figures read as pytest-benchmark's would; p95/p99 come from numpy.  We do not
depend on pytest-benchmark: its pytest plugin costs every pytest run in the
environment ~60 ms, tests or not.  When it is installed, its
``--benchmark-timer``, ``--benchmark-disable-gc`` and ``--benchmark-skip``
are honoured (plugin/build.py).  Its ``benchmark`` fixture would not fit
anyway: it can be used once per test while a sweep needs a dozen
measurements; its calibration repeats sub-millisecond functions many times
per round, which would average away the per-batch p95 we assert on; and its
timed function cannot synchronise CUDA before the clock is read.
"""

from __future__ import annotations

import gc
import random
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Sequence

from pytest_embedeval.measure.workload import WorkloadResult

# words per input for the named lengths; "long" overruns a 256-token model and is truncated
LENGTHS = {"short": 12, "medium": 48, "long": 320}
WORDS = ("the model encodes every sentence into a vector so that similar meaning lands close together "
          "while unrelated text stays far apart teams compare speed memory and accuracy before they ship "
          "small networks answer quickly large ones rank better and the budget decides which one serves").split()


def cost_per_mtok(price_per_hour: float | None, tokens_per_s: float | None) -> float | None:
    """USD to encode a million tokens on a machine costing ``price_per_hour``: encode time x price."""
    if price_per_hour is None or not tokens_per_s:
        return None
    return price_per_hour / 3600.0 / tokens_per_s * 1e6


def make_inputs(length: str | int, count: int, seed: int = 0) -> list[str]:
    """``count`` deterministic texts of a named length (short/medium/long) or word count."""
    words = LENGTHS.get(length, length) if isinstance(length, str) else length
    if not isinstance(words, int) or words < 1:
        raise ValueError(f"length {length!r} is not one of {', '.join(LENGTHS)} or a positive word count")
    rng = random.Random(f"{seed}-{words}")
    return [" ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "." for _ in range(count)]


@dataclass(frozen=True)
class LatencyResult(WorkloadResult):
    """Per-batch encode latency of one model on one device for one workload."""

    KIND: ClassVar[str] = "latency"
    IDENTITY: ClassVar[tuple[str, ...]] = ("model", "device", "variant", "batch_size", "length", "rounds")
    JUNIT: ClassVar[tuple[str, ...]] = ("p50_ms", "p95_ms", "sentences_per_s", "tokens_per_s", "usd_per_mtok")

    model: str
    device: str
    batch_size: int
    length: str
    tokens: float | None  # mean tokens per input after truncation, when the tokenizer is known
    rounds: int
    warmup: int
    threads: int | None
    min_ms: float
    p50_ms: float
    mean_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    stddev_ms: float
    iqr_ms: float
    sentences_per_s: float
    samples_ms: tuple[float, ...] = field(repr=False, compare=False)
    # for the speed gate: windows of rounds alternating with the yardstick and the reference (yardstick.Window)
    windows: tuple[dict[str, float], ...] | None = field(default=None, repr=False, compare=False)
    variant: str = ""  # "" for fp32 on torch, else "int8", "onnx" ... (variants.py)
    # tokens/s at the median round (sentences/s x mean tokens); None without a tokenizer
    tokens_per_s: float | None = None
    price_per_hour: float | None = None  # --embed-price-per-hour, USD
    usd_per_mtok: float | None = None  # encode cost of a million tokens at that price (cost_per_mtok)

    def priced(self, price_per_hour: float | None) -> LatencyResult:
        """This result with its cost per million tokens at ``price_per_hour`` (None: no price given)."""
        return replace(self, price_per_hour=price_per_hour, usd_per_mtok=cost_per_mtok(price_per_hour,
                                                                                       self.tokens_per_s))

    def describe(self) -> str:
        return (f"model {self.model} on {self.device}, batch {self.batch_size} x {self.length} inputs, "
                f"{self.rounds} rounds after {self.warmup} warm-up")

    def _check(self, name: str, measured: float, budget: float, unit: str, below: bool = True) -> LatencyResult:
        __tracebackhide__ = True
        if (measured > budget) if below else (measured < budget):
            word = "above the budget" if below else "below the minimum"
            raise AssertionError(f"{name} {measured:.2f} {unit} is {word} {budget:.2f} {unit} for {self.describe()}")
        return self

    def assert_p95(self, max_ms: float) -> LatencyResult:
        __tracebackhide__ = True
        return self._check("p95 latency", self.p95_ms, max_ms, "ms")

    def assert_p50(self, max_ms: float) -> LatencyResult:
        __tracebackhide__ = True
        return self._check("p50 latency", self.p50_ms, max_ms, "ms")

    def assert_throughput(self, min_per_s: float) -> LatencyResult:
        __tracebackhide__ = True
        return self._check("throughput", self.sentences_per_s, min_per_s, "sentences/s", below=False)


@dataclass(frozen=True)
class Timing:
    """How to time: the timer and GC switch (pytest-benchmark's options when it is installed), round counts."""

    rounds: int = 20
    warmup: int = 2
    timer: Callable[[], float] = time.perf_counter
    disable_gc: bool = False


def time_rounds(run: Callable[[], Any], timing: Timing, sync: Callable[[], None] | None = None) -> list[float]:
    """Seconds per call of ``run`` over ``timing.rounds`` rounds, after warm-up.

    ``sync`` (``torch.cuda.synchronize`` on CUDA) runs before each clock read so
    that queued GPU work is inside the round it belongs to.
    """
    return time_alternating([run], timing, sync)[0]


def turn_order(rounds: int, workloads: int, rotate: bool) -> list[list[int]]:
    """Each round's order of the workloads: the same every round, or (``rotate``) starting with the next one
    each round, AB BA for two, so that an effect of going first falls on all alike (and a linear drift cancels)."""
    return [[(first + turn) % workloads for turn in range(workloads)]
            for first in ((index % workloads if rotate else 0) for index in range(rounds))]


def time_alternating(runs: Sequence[Callable[[], Any]], timing: Timing,
                     sync: Callable[[], None] | None = None, rotate: bool = False) -> list[list[float]]:
    """Like :func:`time_rounds` for several workloads, one round of each in turn.

    Interleaving puts every workload under the same machine conditions, so a
    comparison between them is not skewed by drift (other tenants, clocks).
    ``rotate`` starts each round with the next workload (AB BA for two), so an
    effect of going first or second falls on all alike: a direct comparison of
    two models wants that (benchmarks/acceptance_noise.py measures it); the
    speed gate compares with a baseline timed in the same fixed order instead.
    """
    sync = sync or (lambda: None)
    for _ in range(timing.warmup):
        for run in runs:
            run()
    gc_was_enabled = gc.isenabled()
    if timing.disable_gc:
        gc.disable()
    samples: list[list[float]] = [[] for _ in runs]
    try:
        for order in turn_order(timing.rounds, len(runs), rotate):
            for which in order:
                sync()
                start = timing.timer()
                runs[which]()
                sync()
                samples[which].append(timing.timer() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def quartiles(data: Sequence[float]) -> tuple[float, float]:
    """Q1 and Q3 as pytest-benchmark computes them (``pytest_benchmark.stats.Stats.q1/q3``).

    One value: itself.  An odd count: Wikipedia's method 3 (weighted between
    neighbours).  An even count: method 2 (the medians of the lower and upper halves).
    """
    import statistics  # here, not at the top: the plugin's import is paid by every pytest run in the environment

    ordered = sorted(data)
    count = len(ordered)
    if count == 1:
        return ordered[0], ordered[0]
    if count % 2:
        n, r = divmod(count, 4)
        if r == 1:
            return (0.25 * ordered[n - 1] + 0.75 * ordered[n],
                    0.75 * ordered[3 * n] + 0.25 * ordered[3 * n + 1])
        return (0.75 * ordered[n] + 0.25 * ordered[n + 1],
                0.25 * ordered[3 * n + 1] + 0.75 * ordered[3 * n + 2])
    return statistics.median(ordered[:count // 2]), statistics.median(ordered[count // 2:])


def summarise(samples_s: list[float], *, batch_size: int, **context: Any) -> LatencyResult:
    """Statistics of the per-round samples, in milliseconds (pytest-benchmark's definitions)."""
    import statistics

    import numpy as np

    data = [sample * 1000.0 for sample in samples_s]
    if not data:
        raise ValueError("no latency rounds to summarise")
    q1, q3 = quartiles(data)
    median = statistics.median(data)
    p95, p99 = np.percentile(data, [95, 99]).tolist()
    return LatencyResult(
        batch_size=batch_size, rounds=len(data), min_ms=min(data), p50_ms=median, mean_ms=statistics.mean(data),
        p95_ms=p95, p99_ms=p99, max_ms=max(data), stddev_ms=statistics.stdev(data) if len(data) > 1 else 0.0,
        iqr_ms=q3 - q1, sentences_per_s=batch_size * 1000.0 / median, samples_ms=tuple(data), **context,
    )


def mean_tokens(model: Any, texts: list[str]) -> float | None:
    """Mean tokens per input as the model sees them (truncated at its max length)."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        return None
    limit = getattr(model, "max_seq_length", None)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=limit is not None, max_length=limit)["input_ids"]]
    return sum(lengths) / len(lengths)


def measure_latency(model: Any, *, model_name: str, device: str, batch_size: int, length: str | int,
                    timing: Timing, sentences: list[str] | None = None, probe: Any = None,
                    windows: int = 1) -> LatencyResult:
    """Time ``model.encode`` on one batch of ``batch_size`` inputs, back to back (the reported figures);
    given the speed gate's ``probe`` (yardstick.SpeedProbe), also ``windows`` windows against it."""
    import torch

    run, texts = encode_call(model, batch_size, length, sentences)
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    samples = time_rounds(run, timing, sync)
    label = "custom" if sentences is not None else str(length)
    found = None
    if probe is not None:
        found = tuple(w.to_dict() for w in probe.windows(run, texts, batch_size, windows, timing=timing, sync=sync))
    tokens = mean_tokens(model, texts)
    result = summarise(samples, batch_size=batch_size, model=model_name, device=device, length=label,
                       tokens=tokens, warmup=timing.warmup, threads=torch.get_num_threads(), windows=found)
    return replace(result, tokens_per_s=None if tokens is None else result.sentences_per_s * tokens)


def encode_call(model: Any, batch_size: int, length: str | int,
                sentences: Sequence[str] | None = None) -> tuple[Callable[[], Any], list[str]]:
    """The timed call (one ``encode`` of one batch) and its inputs."""
    texts = list(sentences)[:batch_size] if sentences is not None else make_inputs(length, batch_size)
    if len(texts) < batch_size:
        texts = (texts * (batch_size // max(len(texts), 1) + 1))[:batch_size]

    def run() -> Any:
        return model.encode(texts, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)

    return run, texts


def more_windows(result: LatencyResult, model: Any, probe: Any, count: int, timing: Timing,
                 sentences: Sequence[str] | None = None) -> LatencyResult:
    """``result`` with ``count`` more gate windows of the same workload, timed now."""
    import torch

    length = result.length if sentences is None else "custom"
    run, texts = encode_call(model, result.batch_size, length, sentences)
    sync = torch.cuda.synchronize if result.device.startswith("cuda") else None
    found = probe.windows(run, texts, result.batch_size, count, timing=timing, sync=sync, warm=False)
    return replace(result, windows=(*(result.windows or ()), *(w.to_dict() for w in found)))
