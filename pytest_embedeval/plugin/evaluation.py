"""``embed_eval`` and ``embed_hybrid``: the objects a test uses to measure its models.

``EmbedEval`` is bound to one target (model on device) and gets what it needs
(:class:`Resources`) and where its results go (a :class:`TestRecorder`), as
pytest-benchmark's fixture gets ``add_stats``.  Measurements are memoised per
session: two tests asking for the same STS score, latency or memory figure of
the same model share one run.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Sequence

import pytest

from pytest_embedeval.measure.cache import encoder_identity
from pytest_embedeval.measure.data import StsDataset
from pytest_embedeval.measure.latency import LatencyResult, make_inputs, measure_latency, more_windows
from pytest_embedeval.measure.memory import MemoryResult, measure_memory
from pytest_embedeval.measure.sts import StsResult, evaluate_sts
from pytest_embedeval.models.prompts import folder_prompts, prompt_for, sts_prompt
from pytest_embedeval.models.targets import EmbedTarget, local_folder, resolve_device
from pytest_embedeval.plugin.run import Resources, TestRecorder


class EmbedEval:
    def __init__(self, resources: Resources, target: EmbedTarget, split: str, recorder: TestRecorder) -> None:
        self.resources = resources
        self.target = target
        self.split = split
        self.recorder = recorder
        self.data: StsDataset | None = None  # an MTEB task's data (--embed-sts-tasks): what sts() scores

    def __repr__(self) -> str:
        return f"<EmbedEval {self.target.id}>"

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (loaded on first use, once per session)."""
        return self.resources.pool.get(self.target)

    @property
    def device(self) -> str:
        return resolve_device(self.target.device)

    def dataset(self, split: str | None = None) -> StsDataset:
        if split is None and self.data is not None:
            return self.data
        return self.resources.dataset(split or self.split)

    def sts(self, split: str | None = None, *, dataset: StsDataset | None = None,
            batch_size: int | None = None) -> StsResult:
        """Spearman/Pearson x100 of cosine similarity against gold scores (MTEB scoring)."""
        data = dataset if dataset is not None else self.dataset(split)
        size = batch_size or self.resources.settings.batch_size
        prompt_key, prompt = sts_prompt(self.prompts(), data.name)  # as MTEB: a key for STS, or none

        def measure() -> StsResult:
            encode_seconds: list[float] = []
            encode = self.encoder(size, encode_seconds, prompt)
            with self.resources.lock.encoding():
                result = evaluate_sts(encode, data, model=self.target.model.name, device=self.device,
                                      batch_size=size)
            # None: the embeddings came from the cache, the model never encoded
            return replace(result, variant=self.target.variant, prompt=prompt, prompt_name=prompt_key,
                           encode_seconds=sum(encode_seconds) if encode_seconds else None)

        key = ("sts", self.target, data.name, data.split, data.source, data.fingerprint, size, prompt)
        result = self.resources.memoise(key, measure)
        self.recorder.record(result)
        return result

    def prompts(self) -> dict[str, str]:
        """The prompts in effect: --embed-prompts, else the model's own (read from its folder when it has
        one, so an embedding-cache hit still needs no load)."""
        if self.resources.settings.prompts is not None:
            return self.resources.settings.prompts
        spec = self.target.model
        own = folder_prompts(local_folder(spec)) if spec.factory is None else None
        return own if own is not None else dict(getattr(self.model, "prompts", None) or {})

    def encoder(self, size: int, seconds: list[float], prompt: str | None = None) -> Any:
        """``model.encode`` at batch ``size`` (with ``prompt`` prepended, when given) through the embedding
        cache; the time spent encoding goes to ``seconds`` (none on a cache hit)."""
        extra = {"prompt": prompt} if prompt else {}  # no prompt: the call (and the ONNX backend) as before

        def encode(sentences: list[str]) -> Any:
            model = self.model  # loaded on a cache miss only, and before the clock starts: loading
            start = time.perf_counter()  # (imports, weights, an ONNX export) is not encoding
            vectors = model.encode(sentences, batch_size=size, show_progress_bar=False, convert_to_numpy=True,
                                   **extra)
            seconds.append(time.perf_counter() - start)
            return vectors

        cache = self.resources.embeddings
        fingerprint = self.resources.model_fingerprint(self.target) if cache is not None else None
        if cache is not None and fingerprint is not None:
            variant = self.target.variant + (f"\0prompt:{prompt}" if prompt else "")
            return cache.encoder(encoder_identity(fingerprint, self.device, size, variant), encode)
        return encode

    def retrieval(self, path: str | None = None, *, split: str | None = None,
                  batch_size: int | None = None) -> Any:
        """nDCG@10, recall@k, MRR@10, MAP@100 on a BEIR set (``--embed-retrieval-path``), scored as MTEB does.

        The corpus is encoded once per session (and cached across runs like STS); the result is compared
        with its baseline by a paired bootstrap over queries.
        """
        from pytest_embedeval.measure.ranking import KIND

        data = self.resources.retrieval_set(path, split)
        return self._score(KIND, data, data.name, batch_size)

    def task(self, name: str, *, batch_size: int | None = None) -> Any:
        """The MTEB task ``name`` (``Banking77Classification``, ``SIB200ClusteringS2S.eng_Latn``, ``STS13`` ...)
        scored as MTEB scores its kind; compared with its baseline like every accuracy measurement."""
        spec, data = self.resources.task_data(name)
        return self._score(spec.kind, data, spec.info.name, batch_size, task=spec.label)

    def _score(self, kind: Any, data: Any, task_name: str, batch_size: int | None, task: str = "") -> Any:
        """``kind.evaluate`` with one encoder per prompt role (MTEB's prompts: ``query``/``document`` where the
        kind has roles), through the embedding cache; memoised per session and recorded for the gate."""
        size = batch_size or self.resources.settings.batch_size
        prompts = [prompt_for(self.prompts(), task_name, kind.task_type, role)[1] for role in kind.roles]

        def measure() -> Any:
            seconds: list[float] = []
            encoders = [self.encoder(size, seconds, prompt) for prompt in prompts]
            with self.resources.lock.encoding():
                result = kind.evaluate(*encoders, data, model=self.target.model.name, device=self.device,
                                       batch_size=size)
            roles = {"prompt": prompts[0], **({"document_prompt": prompts[1]} if len(prompts) > 1 else {})}
            return replace(result, variant=self.target.variant, task=task, **roles,
                           encode_seconds=sum(seconds) if seconds else None)

        key = (kind.name, self.target, task or data.source, data.split, data.fingerprint, size, tuple(prompts))
        result = self.resources.memoise(key, measure)
        self.recorder.record(result)
        return result

    def latency(self, batch_size: int | None = None, length: str | int = "short", *,
                sentences: Sequence[str] | None = None, rounds: int | None = None,
                warmup: int | None = None) -> LatencyResult:
        """Per-batch ``encode`` latency: p50/p95/p99, mean, IQR, sentences/s.

        ``length`` is short (12 words), medium (48), long (320, beyond most
        models' max length, so truncated) or a word count; ``sentences`` times
        your own inputs instead.
        """
        if self.resources.benchmark_skip:
            pytest.skip("--benchmark-skip: latency is not measured")
        size = batch_size or self.resources.settings.batch_size
        settings = self.resources.settings
        timing = replace(self.resources.timing, rounds=rounds or settings.latency_rounds,
                         warmup=settings.latency_warmup if warmup is None else warmup)
        texts = list(sentences) if sentences is not None else None

        gated = self.recorder.gate  # the speed gate's windows: timed whenever a baseline may judge or keep them
        memo = ("latency", self.target, size, length, tuple(texts or ()), timing.rounds, timing.warmup, gated)

        def measure() -> LatencyResult:
            model = self.model  # loaded before taking the lock: loading is not timed
            probe = self.resources.speed_probe(self.device) if gated else None
            with self.resources.lock.timing():
                result = measure_latency(model, model_name=self.target.model.name, device=self.device,
                                         batch_size=size, length=length, timing=timing, sentences=texts, probe=probe)
            return replace(result, variant=self.target.variant).priced(settings.price_per_hour)

        def extend(count: int) -> LatencyResult:
            """``count`` more gate windows, timed now (the gate's second look, a saved baseline's spread)."""
            probe = self.resources.speed_probe(self.device)
            with self.resources.lock.timing():
                grown = more_windows(self.resources.measurements[memo], self.model, probe, count, timing, texts)
            self.resources.measurements[memo] = grown
            return grown

        self.resources.memoise(memo, measure)
        self.recorder.record(self.resources.measurements[memo], extend=extend if gated else None)
        return self.resources.measurements[memo]

    def latency_sweep(self, batch_sizes: Sequence[int] = (1, 8, 32), lengths: Sequence[str | int] = ("short",),
                      **options: Any) -> list[LatencyResult]:
        """:meth:`latency` for every batch size x input length, in one call."""
        return [self.latency(size, length, **options) for length in lengths for size in batch_sizes]

    def memory(self, batch_size: int | None = None, length: str | int = "short", *,
               sentences: Sequence[str] | None = None) -> MemoryResult:
        """Parameters, weight bytes, disk size, peak RSS and CUDA peak of load + encode.

        Measured in a fresh child process, so the figures are the model's alone.
        """
        size = batch_size or self.resources.settings.batch_size
        texts = list(sentences) if sentences is not None else make_inputs(length, size)
        label = "custom" if sentences is not None else str(length)

        def measure(probes: int = 1) -> MemoryResult:
            target = self.resources.pool.materialise(self.target)
            # peak RSS is per process, but the child's CPU work must not land inside another worker's timing
            with self.resources.lock.encoding():
                return measure_memory(replace(target, device=self.device), device=self.device, sentences=texts,
                                      batch_size=size, length=label,
                                      trust_remote_code=self.resources.settings.trust_remote_code,
                                      folder=local_folder(target.model), probes=probes)

        memo = ("memory", self.target, size, label, tuple(texts))

        def extend(count: int) -> MemoryResult:
            """``count`` more probes, for the noise floor a saved baseline keeps."""
            more = measure(count)
            grown = replace(self.resources.measurements[memo],
                            private_probes=self.resources.measurements[memo].private_probes + more.private_probes,
                            peak_probes=self.resources.measurements[memo].peak_probes + more.peak_probes)
            self.resources.measurements[memo] = grown
            return grown

        self.resources.memoise(memo, measure)
        self.recorder.record(self.resources.measurements[memo], extend=extend)
        return self.resources.measurements[memo]


def hybrid_pair(targets: list[EmbedTarget]) -> tuple[EmbedTarget, EmbedTarget] | str:
    """The run's first and last model (fp32, torch, first device) as retriever and reranker, or why not."""
    plain = [t for t in targets if not t.variant and t.device == targets[0].device]
    names = list(dict.fromkeys(t.model.name for t in plain))
    if len(names) < 2:
        return ("retrieve + rerank needs two models: pass --embed-models=SMALL,...,LARGE "
                "(the first retrieves, the last reranks)")
    first = next(t for t in plain if t.model.name == names[0])
    last = next(t for t in plain if t.model.name == names[-1])
    return first, last


class HybridEval:
    """``embed_hybrid``: retrieve with the run's first model, rerank with its last (see measure/hybrid.py)."""

    def __init__(self, resources: Resources, small: EmbedTarget, large: EmbedTarget, split: str,
                 results: Any) -> None:
        self.resources, self.small, self.large, self.split = resources, small, large, split
        self.results = results  # the run's RunResults: the hybrid table goes into the report

    def __call__(self, ks: Sequence[int] = (10, 20, 50, 100), timed_queries: int = 20,
                 split: str | None = None, cross: str | None = None) -> Any:
        """On the BEIR set of --embed-retrieval-path when one is given (trec_eval metrics), else on STS pairs;
        ``cross`` (a CrossEncoder's folder or hub id) adds its rerank of the small model's top k."""
        from pytest_embedeval.measure.hybrid import (beir_metrics, evaluate_hybrid, hybrid_set_from_beir,
                                                     hybrid_set_from_sts)

        if self.resources.settings.retrieval_path is not None:
            data = self.resources.retrieval_set()
            hybrid_set, metrics = hybrid_set_from_beir(data), beir_metrics(data)
        else:
            data = self.resources.dataset(split or self.split)
            hybrid_set, metrics = hybrid_set_from_sts(data), None
        small, large = self.resources.pool.get(self.small), self.resources.pool.get(self.large)
        device = resolve_device(self.small.device)

        def measure() -> Any:
            reranker = None
            if cross is not None:
                from sentence_transformers import CrossEncoder

                reranker = CrossEncoder(cross, device=device)
            with self.resources.lock.timing():  # per-query latency is a timing
                return evaluate_hybrid(small, large, hybrid_set, small_name=self.small.model.name,
                                       large_name=self.large.model.name, device=device,
                                       ks=tuple(ks), batch_size=self.resources.settings.batch_size,
                                       timed_queries=timed_queries, metrics=metrics, cross=reranker,
                                       cross_name=cross or "")

        key = ("hybrid", self.small, self.large, data.fingerprint, tuple(ks), timed_queries, cross)
        result = self.resources.memoise(key, measure)
        self.results.add_hybrid(result.to_dict())
        return result
